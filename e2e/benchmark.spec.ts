// The benchmark panel: runs the kernel benchmark (FP32 matmuls, INT8 and INT4 integer products on every
// path the adapter offers) in its own Web Worker on the browser's WebGPU (SwiftShader here, a CPU
// implementation: the numbers mean nothing, the checks and the drawing do), checks every row, draws the
// checked ones, and can be cancelled. Kept short: the smallest size only.
import { expect, type Page, test } from '@playwright/test';
import { collectCspViolations, collectPageErrors, openReady, SCREENSHOT_DIR } from './helpers';

const BENCH_WORKER = /\/assets\/bench-worker-[^/]*\.js$/;

async function openPanel(page: Page): Promise<void> {
  const button = page.getByTestId('benchmark-panel').getByRole('button', { name: /Benchmark your GPU/ });
  await expect(button).toHaveAttribute('aria-expanded', 'false');
  await button.click();
  await expect(button).toHaveAttribute('aria-expanded', 'true');
}

/** Only the smallest size (the default is 1024). */
async function chooseSmallest(page: Page): Promise<void> {
  await expect(page.getByTestId('bench-size-1024')).toBeChecked();
  await page.getByTestId('bench-size-1024').uncheck();
  await page.getByTestId('bench-size-256').check();
}

function benchWorkers(page: Page): string[] {
  return page
    .workers()
    .map((w) => w.url())
    .filter((u) => BENCH_WORKER.test(u));
}

test('the benchmark runs FP32, INT8 and INT4 matmuls, checks every row and draws them as bars', async ({ page }) => {
  test.setTimeout(420_000);
  const errors = collectPageErrors(page);
  const violations = collectCspViolations(page);
  await openReady(page);
  // Nothing runs until asked: no benchmark worker before Run.
  await openPanel(page);
  expect(benchWorkers(page)).toEqual([]);
  await expect(page.getByTestId('bench-status')).toHaveText('Not run yet.');
  await expect(page.getByTestId('bench-explain')).toContainText('TOP/s');
  await expect(page.getByTestId('bench-explain')).toContainText('Unsafe WebGPU');
  await chooseSmallest(page);
  await page.getByTestId('bench-run').click();
  await expect(page.getByTestId('bench-cancel')).toBeEnabled();
  // The adapter (describeGpu) and the integer paths it offers.
  const adapter = page.getByTestId('bench-adapter');
  await expect(adapter).toContainText('features:', { timeout: 60_000 });
  await expect(adapter).toContainText('plain integer');
  await expect(page.getByTestId('bench-progress')).toBeVisible();
  await expect(page.getByTestId('bench-status')).toContainText(/Kernel \d+ of \d+/);
  const status = page.getByTestId('bench-status');
  await expect(status).toHaveAttribute('data-phase', 'done', { timeout: 360_000 });
  await expect(status).toContainText('passed their correctness check');

  // Every row checked: 3 FP32 layouts and INT8 + INT4 on each integer path.
  const rows = page.getByTestId('bench-row');
  const paths = (await adapter.textContent())!.match(/integer paths: ([^·]*)/)![1].split(',').map((p) => p.trim());
  await expect(rows).toHaveCount(3 + 2 * paths.length);
  await expect(page.locator('[data-testid="bench-row"][data-checked="failed"]')).toHaveCount(0);
  await expect(page.getByTestId('bench-row-error')).toHaveCount(0);
  for (const text of await page.getByTestId('bench-check').allTextContents()) expect(text).toMatch(/^✓ passed: \d+ entries vs (float64|exact integer sums)/);
  const table = page.getByTestId('bench-table');
  await expect(table).toContainText('256³');
  await expect(table).toContainText('f32 tiles');
  // Each row names the fastest of its path's kernels (built-in and generated tilings) and how many were timed.
  const kernels = await page.getByTestId('bench-kernel').allTextContents();
  expect(kernels).toHaveLength(3 + 2 * paths.length);
  for (const k of kernels) expect(k).toMatch(/fastest of \d+: (built-in kernel|\d+×\d+ tile)/);
  for (const p of paths) await expect(table).toContainText(p);

  // The chart: one bar per checked row, grouped at 256³, the path of each bar in the legend.
  const chart = page.getByTestId('bench-chart');
  const n = 3 + 2 * paths.length;
  await expect(chart).toHaveAttribute('data-bars', String(n));
  await expect(chart).toHaveAttribute('data-series', String(n));
  await expect(chart.locator('.recharts-bar-rectangle')).toHaveCount(n);
  await expect(chart.locator('.recharts-legend-wrapper')).toContainText('FP32 forward Y = X·Wᵀ (f32 tiles)');
  await expect(chart.locator('.recharts-legend-wrapper')).toContainText('INT4 · plain integer');
  // Legend in the chart's order: FP32 layouts, then INT8 and INT4 by path (not alphabetical).
  const legend = await chart.locator('.recharts-legend-item-text').allTextContents();
  expect(legend.slice(0, 3)).toEqual(['FP32 forward Y = X·Wᵀ (f32 tiles)', 'FP32 ∇X = ∇Y·W (f32 tiles)', 'FP32 ∇W = ∇Yᵀ·X (f32 tiles)']);
  expect(legend.slice(3)).toEqual([...paths.map((p) => `INT8 · ${p}`), ...paths.map((p) => `INT4 · ${p}`)]);
  await expect(chart.locator('.recharts-cartesian-axis-tick-value').first()).toBeVisible();
  await expect(page.getByTestId('bench-ratios')).toContainText('At 256³: INT8');

  // The worker is gone once the run is done.
  await expect.poll(() => benchWorkers(page)).toEqual([]);
  await page.getByTestId('benchmark-panel').scrollIntoViewIfNeeded();
  await page.mouse.move(0, 0); // no tooltip over the bars in the screenshot
  await page.getByTestId('benchmark-panel').screenshot({ path: `${SCREENSHOT_DIR}/benchmark-panel.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(violations).toEqual([]);
});

test('Cancel stops the benchmark worker and keeps the page usable', async ({ page }) => {
  test.setTimeout(180_000);
  const errors = collectPageErrors(page);
  await openReady(page);
  await openPanel(page);
  await chooseSmallest(page);
  await page.getByTestId('bench-run').click();
  await expect(page.getByTestId('bench-status')).toContainText(/Kernel 1 of \d+/, { timeout: 60_000 });
  expect(benchWorkers(page)).toHaveLength(1);
  await page.getByTestId('bench-cancel').click();
  const status = page.getByTestId('bench-status');
  await expect(status).toHaveAttribute('data-phase', 'cancelled');
  await expect(status).toContainText(/Cancelled after \d+ of \d+ kernels/);
  await expect(page.getByTestId('bench-progress')).toHaveCount(0);
  await expect(page.getByTestId('bench-cancel')).toBeDisabled();
  await expect(page.getByTestId('bench-run')).toBeEnabled();
  await expect(page.getByTestId('bench-size-256')).toBeEnabled();
  await expect.poll(() => benchWorkers(page)).toEqual([]);
  // Nothing arrives from the terminated worker.
  const rowsAtCancel = await page.getByTestId('bench-row').count();
  const statusAtCancel = await status.textContent();
  await page.waitForTimeout(2_000);
  await expect(status).toHaveAttribute('data-phase', 'cancelled');
  await expect(status).toHaveText(statusAtCancel!);
  await expect(page.getByTestId('bench-row')).toHaveCount(rowsAtCancel);
  // The training page is unaffected.
  await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled();
  expect(errors.map((e) => e.message)).toEqual([]);
});

// The training worker keeps its GPU; only the benchmark worker's script is served with navigator.gpu
// removed (an init script does not reach a worker).
test('without WebGPU in the benchmark worker, the panel says so instead of crashing', async ({ page }) => {
  const errors = collectPageErrors(page);
  const hideGpu = `Object.defineProperty(Object.getPrototypeOf(navigator), 'gpu', { get: () => undefined, configurable: true });\n`;
  let patched = false;
  await page.route(BENCH_WORKER, async (route) => {
    const response = await route.fetch();
    patched = true;
    await route.fulfill({ response, body: hideGpu + (await response.text()) });
  });
  await openReady(page);
  await openPanel(page);
  await chooseSmallest(page);
  await page.getByTestId('bench-run').click();
  const error = page.getByTestId('bench-error');
  await expect(error).toBeVisible({ timeout: 30_000 });
  await expect(error).toHaveAttribute('data-kind', 'unavailable');
  await expect(error).toContainText('WebGPU is not available in this browser');
  await expect(page.getByTestId('bench-status')).toHaveAttribute('data-phase', 'error');
  await expect(page.getByTestId('bench-run')).toBeEnabled();
  await expect(page.getByTestId('bench-chart')).toHaveCount(0);
  expect(patched).toBe(true);
  await expect.poll(() => benchWorkers(page)).toEqual([]);
  expect(errors.map((e) => e.message)).toEqual([]);
});
