import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `base: './'` makes every asset URL relative, so the built site works from any sub-path
// (e.g. https://user.github.io/repo/). The training Web Worker is an ES module worker.
export default defineConfig({
  base: './',
  plugins: [react()],
  worker: { format: 'es' },
  // recharts is most of the ~600 kB page bundle (~180 kB gzipped); one chunk is fine for one page.
  build: { outDir: 'dist', target: 'es2022', chunkSizeWarningLimit: 800 },
});
