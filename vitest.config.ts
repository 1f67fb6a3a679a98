import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    // Dawn (the `webgpu` addon) runs in child processes rather than worker threads.
    pool: 'forks',
    // CPU Vulkan is slow and CI has two cores: generous per-test time, at most two files at once.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});
