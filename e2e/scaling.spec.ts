// The scaling sweep: a ladder of widths trained one after the other in the sweep's own Web Worker
// (SwiftShader here: three tiny rungs of a few steps), the final losses on log-log axes against training
// FLOPs with the fitted power law and its exponent, the table of rungs; bad ladders refused before any
// training; and loss-spike marks on the main loss chart.
import { expect, type Page, test } from '@playwright/test';
import { collectCspViolations, collectPageErrors, openReady, QUICK, SCREENSHOT_DIR } from './helpers';

const SWEEP_WORKER = /\/assets\/sweep-worker-[^/]*\.js$/;

function sweepWorkers(page: Page): string[] {
  return page
    .workers()
    .map((w) => w.url())
    .filter((u) => SWEEP_WORKER.test(u));
}

async function openPanel(page: Page): Promise<void> {
  const button = page.getByTestId('sweep-panel').getByRole('button', { name: /Scaling sweep/ });
  await expect(button).toHaveAttribute('aria-expanded', 'false');
  await button.click();
  await expect(button).toHaveAttribute('aria-expanded', 'true');
}

async function setField(page: Page, testId: string, value: string): Promise<void> {
  await page.getByTestId(testId).fill(value);
}

/** The names corpus' vocabulary, and the training FLOPs of a rung of width d (2 layers, d_ff 4d, context
 *  16, untied head) written out from the model's matmuls — Kaplan et al.'s 6 FLOPs per weight per token
 *  plus attention's QKᵀ and P·V — independently of the page's code. */
const VOCAB = 54;
function rungFlops(d: number, steps: number, batch: number): number {
  const L = 2, T = 16;
  const perToken = 6 * (L * (4 * d * d + 2 * d * (4 * d)) + VOCAB * d) + 12 * L * T * d;
  return perToken * steps * batch * T;
}

/** Least-squares slope of ln y on ln x. */
function logLogSlope(xs: number[], ys: number[]): number {
  const lx = xs.map(Math.log), ly = ys.map(Math.log);
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length, my = ly.reduce((a, b) => a + b, 0) / ly.length;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < lx.length; i++) (sxy += (lx[i] - mx) * (ly[i] - my)), (sxx += (lx[i] - mx) ** 2);
  return sxy / sxx;
}

test('a tiny sweep trains its rungs in a worker and fits a power law on log-log axes', async ({ page }) => {
  test.setTimeout(540_000);
  const errors = collectPageErrors(page);
  const violations = collectCspViolations(page);
  await openReady(page);
  await openPanel(page);
  // Nothing runs until asked; the default ladder is planned in the table (five widths, ~30× parameters).
  expect(sweepWorkers(page)).toEqual([]);
  await expect(page.getByTestId('sweep-status')).toHaveText('Not run yet.');
  await expect(page.getByTestId('sweep-rung')).toHaveCount(5);
  await expect(page.getByTestId('sweep-explain')).toContainText('power law');
  await expect(page.getByTestId('sweep-explain')).toContainText('first principles');

  const widths = [8, 16, 32], steps = 3, batch = 4;
  await setField(page, 'sweep-widths', widths.join(', '));
  await setField(page, 'sweep-steps', String(steps));
  await setField(page, 'sweep-batch', String(batch));
  await expect(page.getByTestId('sweep-problems')).toHaveCount(0);
  await expect(page.getByTestId('sweep-rung')).toHaveCount(3);
  await page.getByTestId('sweep-start').click();
  await expect(page.getByTestId('sweep-stop')).toBeEnabled();
  await expect(page.getByTestId('sweep-adapter')).toBeVisible({ timeout: 120_000 });
  expect(sweepWorkers(page)).toHaveLength(1);
  const status = page.getByTestId('sweep-status');
  await expect(status).toContainText(/Rung \d of 3/);
  await expect(status).toHaveAttribute('data-phase', 'done', { timeout: 480_000 });
  await expect(status).toContainText('3 of 3 rungs trained');
  // The worker is gone once the sweep is done.
  await expect.poll(() => sweepWorkers(page)).toEqual([]);

  // The table: every rung done, its parameters growing with the width, FLOPs as the model's count.
  const rows = page.getByTestId('sweep-rung');
  await expect(rows).toHaveCount(3);
  for (const row of await rows.all()) await expect(row).toHaveAttribute('data-status', 'done');
  const valLosses = (await page.getByTestId('sweep-val-loss').allTextContents()).map(Number);
  expect(valLosses).toHaveLength(3);
  for (const v of valLosses) {
    expect(v).toBeGreaterThan(1);
    expect(v).toBeLessThan(5);
  }
  const flopsText = await page.getByTestId('sweep-flops').allTextContents();
  const flops = widths.map((d) => rungFlops(d, steps, batch));
  flopsText.forEach((t, i) => expect(t).toMatch(new RegExp(`×10${'⁰¹²³⁴⁵⁶⁷⁸⁹'.split('')[Math.floor(Math.log10(flops[i]))]}$`)));
  await expect(page.getByTestId('sweep-table')).toContainText('2 layers, 4 heads, d_ff 128');

  // The log-log chart: three final points, the dashed fit line, each rung's curve.
  const chart = page.getByTestId('sweep-chart');
  await expect(chart).toHaveAttribute('data-x-scale', 'log');
  await expect(chart).toHaveAttribute('data-finals', '3');
  await expect(chart.locator('.recharts-scatter-symbol')).toHaveCount(3);
  await expect(chart.locator('path.recharts-line-curve')).toHaveCount(3 + 1);
  await expect(chart.locator('path.recharts-line-curve[stroke-dasharray="6 4"]')).toHaveCount(1);
  await expect(chart.locator('.recharts-legend-wrapper')).toContainText('power-law fit');
  await expect(chart.locator('.recharts-legend-wrapper')).toContainText('d_model 32 (train)');
  // Ticks at powers of ten.
  await expect(chart.locator('.recharts-cartesian-axis-tick-value', { hasText: /^10[⁰¹²³⁴⁵⁶⁷⁸⁹]+$/ })).toHaveCount(2);

  // The exponent, written out, matches a least-squares fit of the table's numbers done here.
  const fit = page.getByTestId('sweep-fit');
  await expect(fit).toHaveAttribute('data-state', 'fitted');
  await expect(fit).toContainText('through 3 rungs');
  await expect(fit).toContainText('r²');
  const exponent = Number(await fit.getAttribute('data-exponent'));
  expect(Math.abs(exponent - logLogSlope(flops, valLosses))).toBeLessThan(2e-4);
  const shown = (await page.getByTestId('sweep-exponent').textContent())!.replace('−', '-');
  expect(Number(shown)).toBeCloseTo(exponent, 2);
  await expect(page.getByTestId('sweep-spikes')).toContainText(/loss spike|no loss spikes/);

  await page.getByTestId('sweep-panel').scrollIntoViewIfNeeded();
  await page.mouse.move(0, 0);
  await page.getByTestId('sweep-panel').screenshot({ path: `${SCREENSHOT_DIR}/scaling-sweep.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(violations).toEqual([]);
});

test('a bad ladder is refused with a message before any training', async ({ page }) => {
  test.setTimeout(240_000);
  const errors = collectPageErrors(page);
  await openReady(page);
  await openPanel(page);
  const problems = page.getByTestId('sweep-problems');

  // Widths the 4 heads do not divide: said at once, and Start starts nothing.
  await setField(page, 'sweep-widths', '16, 18, 30');
  await expect(problems).toContainText('widths 18, 30 are not divisible by the 4 heads');
  await expect(page.getByTestId('sweep-widths')).toHaveAttribute('aria-invalid', 'false');
  await page.getByTestId('sweep-start').click();
  await expect(problems).toContainText('The sweep cannot start');
  await expect(page.getByTestId('sweep-status')).toHaveText('Not run yet.');
  expect(sweepWorkers(page)).toEqual([]);

  // Not a number, or a single width.
  await setField(page, 'sweep-widths', '16, abc');
  await expect(problems).toContainText('width "abc" is not a whole number ≥ 1');
  await expect(page.getByTestId('sweep-widths')).toHaveAttribute('aria-invalid', 'true');
  await setField(page, 'sweep-widths', '32');
  await expect(problems).toContainText('a power law needs at least 2 widths (got 1)');
  await setField(page, 'sweep-widths', '');
  await expect(problems).toContainText('enter the widths');
  await page.getByTestId('sweep-start').click();
  expect(sweepWorkers(page)).toEqual([]);
  await page.getByTestId('sweep-panel').screenshot({ path: `${SCREENSHOT_DIR}/scaling-bad-input.png` });

  // Over the adapter's buffer limits (d_model 8192: 1.6G parameters, 6.4 GB in one buffer): the worker
  // checks the ladder against its device before any rung trains, and refuses it, naming the rung.
  await setField(page, 'sweep-widths', '16, 8192');
  await setField(page, 'sweep-steps', '2');
  await expect(problems).toHaveCount(0);
  await page.getByTestId('sweep-start').click();
  const error = page.getByTestId('sweep-error');
  await expect(error).toBeVisible({ timeout: 120_000 });
  await expect(error).toHaveAttribute('data-kind', 'limits');
  await expect(error).toContainText('The ladder does not fit this GPU.');
  await expect(error).toContainText('rung d=8192 (d_model 8192');
  await expect(error).toContainText('per buffer');
  await expect(page.getByTestId('sweep-status')).toHaveAttribute('data-phase', 'error');
  for (const row of await page.getByTestId('sweep-rung').all()) await expect(row).toHaveAttribute('data-status', 'waiting');
  await expect(page.getByTestId('sweep-chart')).toHaveAttribute('data-finals', '0');
  await expect.poll(() => sweepWorkers(page)).toEqual([]);
  await page.getByTestId('sweep-panel').screenshot({ path: `${SCREENSHOT_DIR}/scaling-over-limits.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('a loss spike is marked on the loss chart, and the sweep waits for the main run', async ({ page }) => {
  test.setTimeout(400_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?${QUICK}&precision=fp32&steps=10&measure=0&checkpoint=4&testHooks=1`);
  await expect(page.getByTestId('loss-spikes')).toHaveCount(0);
  // A learning rate of 1e30 (past the page's range, through the test hook) blows the parameters up after
  // the first step: the loss goes NaN, which spikes.ts counts as a spike whatever the trend, once.
  await page.evaluate(() => window.__playgroundTest!.start({ lr: 1e30 }));
  await expect(page.getByTestId('numerics-halt')).toBeVisible({ timeout: 240_000 });
  const spikes = page.getByTestId('loss-spikes');
  await expect(spikes).toHaveAttribute('data-count', '1');
  await expect(spikes).toContainText('1 loss spike marked');
  const step = Number(await page.getByTestId('halt-step').textContent());
  await expect(page.getByTestId('loss-spike-list')).toContainText(`spike at step ${step}: loss NaN`);
  const mark = page.getByTestId('loss-chart').getByTestId('loss-spike-mark');
  await expect(mark).toHaveCount(1);
  await expect(mark).toHaveAttribute('data-step', String(step));
  await expect(mark.locator('title')).toContainText(`spike at step ${step}`);
  await page.mouse.move(0, 0);
  await page.getByTestId('loss-chart').locator('..').screenshot({ path: `${SCREENSHOT_DIR}/scaling-loss-spike.png` });

  // One GPU job at a time: while the main run holds the GPU, the sweep cannot start.
  await openPanel(page);
  await expect(page.getByTestId('sweep-start')).toBeDisabled();
  await expect(page.getByTestId('sweep-main-busy')).toContainText('The main run is training');
  expect(errors.map((e) => e.message)).toEqual([]);
});
