import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/chromium';

// Runs against the BUILT site (`npm run test:e2e` = `vite build && playwright test`), served by
// `vite preview` on 127.0.0.1: navigator.gpu exists only in a secure context (http://127.0.0.1 counts).
// Chromium is Debian's /usr/bin/chromium (Playwright cannot download its own here); with
// --enable-unsafe-webgpu it runs WebGPU on its bundled SwiftShader (CPU, slow). See docs/webgpu-headless.md.

// E2E_PORT / E2E_DIST let several checkouts' builds be tested side by side (each its own port and
// build folder, e.g. `npx vite build --outDir /tmp/a-dist && E2E_PORT=4174 E2E_DIST=/tmp/a-dist npx playwright test e2e/x.spec.ts`).
const PORT = Number(process.env.E2E_PORT ?? 4173);
const DIST = process.env.E2E_DIST;

export default defineConfig({
  testDir: 'e2e',
  // Not the default test-results/: Playwright empties its output folder, and the screenshots the specs
  // save under test-results/screenshots should survive for a look by eye.
  outputDir: process.env.E2E_ARTIFACTS ?? 'test-results/artifacts',
  // SwiftShader is slow and the machine may have two cores: one test at a time.
  workers: 1,
  fullyParallel: false,
  timeout: 150_000,
  expect: { timeout: 10_000 },
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}/`,
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
    },
    trace: 'retain-on-failure',
    // The built site registers a service worker (offline cache); it would serve requests that page.route
    // means to intercept. Only the offline test allows it.
    serviceWorkers: 'block',
    viewport: { width: 1280, height: 720 },
  },
  webServer: {
    command: `npx vite preview --port ${PORT} --strictPort --host 127.0.0.1${DIST ? ` --outDir ${DIST}` : ''}`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
