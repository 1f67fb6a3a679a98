import { defineConfig } from 'vitest/config';
export default defineConfig({
  test: { include: ['bench-tmp/**/*.test.ts'], environment: 'node', pool: 'forks', testTimeout: 600_000 },
});
