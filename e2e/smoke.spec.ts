import { expect, type Page, test } from '@playwright/test';
import { CHROMIUM_ARGS_WITHOUT_WEBGPU, CHROMIUM_PATH } from './chromium';

/** Collects uncaught page errors (main thread) so a test can assert there were none. */
function collectPageErrors(page: Page): Error[] {
  const errors: Error[] = [];
  page.on('pageerror', (e) => errors.push(e));
  return errors;
}

async function lossPoints(page: Page): Promise<number> {
  return Number(await page.getByTestId('loss-points').textContent());
}

test('trains the tiny model and the loss chart grows', async ({ page }) => {
  test.setTimeout(170_000);
  const errors = collectPageErrors(page);
  await page.goto('./');
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  // The worker reports the adapter before training starts.
  await expect(page.getByTestId('status')).toContainText(/GPU: .*swiftshader|GPU: \S+/i, { timeout: 30_000 });

  await page.getByTestId('preset').selectOption('tiny');
  await page.getByRole('button', { name: 'Train' }).click();
  await expect(page.getByTestId('phase')).toHaveText(/Building|Training/);

  // The first records arrive after the first readback window (pipelines compile first; SwiftShader is slow).
  const clicked = Date.now();
  await expect.poll(() => lossPoints(page), { timeout: 110_000, intervals: [500] }).toBeGreaterThanOrEqual(2);
  const first = await lossPoints(page);
  console.log(`${first} loss points ${((Date.now() - clicked) / 1000).toFixed(1)} s after Train`);
  const firstLoss = Number(await page.getByTestId('loss-points').getAttribute('data-first-loss'));
  expect(Number.isFinite(firstLoss)).toBe(true);
  // An untrained model predicts ~uniformly over the 54 characters of the names corpus: ln(54) ≈ 3.99.
  expect(firstLoss).toBeGreaterThan(3);
  expect(firstLoss).toBeLessThan(5);
  await expect(page.getByTestId('loss-chart').locator('svg path.recharts-line-curve')).toBeVisible();

  // The chart keeps growing.
  await expect.poll(() => lossPoints(page), { timeout: 60_000, intervals: [500] }).toBeGreaterThan(first);
  console.log(`${await lossPoints(page)} loss points ${((Date.now() - clicked) / 1000).toFixed(1)} s after Train`);

  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.getByTestId('phase')).toHaveText('Stopped', { timeout: 30_000 });
  await expect(page.getByTestId('error')).toHaveCount(0);
  await page.screenshot({ path: process.env.SCREENSHOT_PATH ?? 'test-results/training.png', fullPage: true });
  expect(errors.map((e) => e.message)).toEqual([]);
});

// The same browser launched without --enable-unsafe-webgpu: no adapter (or no navigator.gpu at all).
test('without WebGPU, the page says which browsers work instead of going blank', async ({ playwright, baseURL }) => {
  const browser = await playwright.chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS_WITHOUT_WEBGPU });
  try {
    const page = await browser.newPage({ baseURL });
    const errors = collectPageErrors(page);
    await page.goto('./');
    const notice = page.getByTestId('gpu-unavailable');
    await expect(notice).toBeVisible({ timeout: 30_000 });
    await expect(notice).toContainText(/WebGPU (is not available|found no GPU adapter)/);
    await expect(notice).toContainText('--enable-unsafe-webgpu');
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Train' })).toHaveCount(0);
    await page.screenshot({ path: 'test-results/no-webgpu.png', fullPage: true });
    expect(errors.map((e) => e.message)).toEqual([]);
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
