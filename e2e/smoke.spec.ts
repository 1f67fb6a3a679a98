import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS_WITHOUT_WEBGPU, CHROMIUM_PATH } from './chromium';
import { collectCspViolations, collectPageErrors, SCREENSHOT_DIR } from './helpers';

// The same browser launched without --enable-unsafe-webgpu: no adapter (or no navigator.gpu at all).
test('without WebGPU, the page says which browsers work instead of going blank', async ({ playwright, baseURL }) => {
  const browser = await playwright.chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS_WITHOUT_WEBGPU });
  try {
    const page = await browser.newPage({ baseURL });
    const errors = collectPageErrors(page);
    const cspViolations = collectCspViolations(page);
    await page.goto('./');
    const notice = page.getByTestId('gpu-unavailable');
    await expect(notice).toBeVisible({ timeout: 30_000 });
    await expect(notice).toContainText(/WebGPU (is not available|found no GPU adapter)/);
    await expect(notice).toContainText('--enable-unsafe-webgpu');
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Start' })).toHaveCount(0);
    // The teaching demo needs no GPU and stays.
    await expect(page.getByTestId('hadamard-demo')).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOT_DIR}/no-webgpu.png`, fullPage: true });
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(cspViolations).toEqual([]);
  } finally {
    await browser.close();
  }
});

// A browser with no WebGPU at all: navigator.gpu is undefined, in the page and in the training worker
// (an init script does not reach a worker, so the worker's script is served with a prelude).
test('without navigator.gpu, the page says so and does not crash', async ({ page }) => {
  const errors = collectPageErrors(page);
  const hideGpu = `Object.defineProperty(Object.getPrototypeOf(navigator), 'gpu', { get: () => undefined, configurable: true });\n`;
  await page.addInitScript(hideGpu);
  let workerPatched = false;
  await page.route(/\/assets\/worker-[^/]*\.js$/, async (route) => {
    const response = await route.fetch();
    workerPatched = true;
    await route.fulfill({ response, body: hideGpu + (await response.text()) });
  });
  await page.goto('./');
  const notice = page.getByTestId('gpu-unavailable');
  await expect(notice).toBeVisible({ timeout: 30_000 });
  await expect(notice).toContainText('WebGPU is not available in this browser');
  expect(workerPatched).toBe(true);
  expect(await page.evaluate(() => navigator.gpu)).toBeUndefined();
  expect(errors.map((e) => e.message)).toEqual([]);
});
