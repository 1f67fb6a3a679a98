import { expect, test } from '@playwright/test';
import { collectCspViolations, collectPageErrors, lossPoints, openReady, QUICK, SCREENSHOT_DIR, waitForPhase } from './helpers';

test('a tiny run trains: loss points appear and grow, then a validation loss and the kernel path', async ({ page }) => {
  test.setTimeout(240_000);
  const errors = collectPageErrors(page);
  const cspViolations = collectCspViolations(page);
  await openReady(page, `?${QUICK}&precision=int4&steps=4&measure=1`);
  await expect(page.getByTestId('adapter')).toContainText(/swiftshader|\S/i);

  // Keyboard only: focus Start and press Enter.
  const start = page.getByRole('button', { name: 'Start' });
  await start.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('phase')).toHaveText(/Building|Training/);

  const clicked = Date.now();
  await expect.poll(() => lossPoints(page), { timeout: 150_000, intervals: [500] }).toBeGreaterThanOrEqual(1);
  const first = await lossPoints(page);
  console.log(`${first} loss points ${((Date.now() - clicked) / 1000).toFixed(1)} s after Start`);
  const firstLoss = Number(await page.getByTestId('loss-points').getAttribute('data-first-loss'));
  // An untrained model predicts ~uniformly over the 54 characters of the names corpus: ln(54) ≈ 3.99.
  expect(firstLoss).toBeGreaterThan(3);
  expect(firstLoss).toBeLessThan(5);
  await expect(page.getByTestId('kernel-path')).not.toBeEmpty();
  await expect.poll(() => lossPoints(page), { timeout: 60_000, intervals: [500] }).toBeGreaterThan(first);

  await waitForPhase(page, 'Done');
  expect(await lossPoints(page)).toBe(4);
  await expect(page.getByTestId('loss-chart').locator('path.recharts-line-curve')).toHaveCount(1);
  // Log scale: the same points, drawn at other heights.
  const curve = () => page.getByTestId('loss-chart').locator('path.recharts-line-curve').getAttribute('d');
  const linearCurve = await curve();
  await page.getByTestId('log-scale').check();
  await expect.poll(curve).not.toEqual(linearCurve);
  await expect(page.getByTestId('loss-chart').locator('path.recharts-line-curve')).toHaveCount(1);
  await page.getByTestId('log-scale').uncheck();
  // The final validation loss is drawn (a diamond) and listed.
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('run-row')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('run-row').locator('td').nth(4)).toHaveText(/^\d\.\d{4}$/);
  await expect(page.getByTestId('error')).toHaveCount(0);

  // Per-layer measurements (measure=1: a snapshot every step): the gradient row-norm histogram with its
  // top-1%/top-10% shares, channel maxima before and after the Hadamard transform, LSQ and LSS over steps.
  const measurements = page.getByTestId('measurements');
  await expect(measurements.getByTestId('measure-step')).toHaveText('4');
  await expect(measurements.getByTestId('grad-histogram').locator('.recharts-bar-rectangle').first()).toBeVisible();
  const top1 = Number((await measurements.getByTestId('top1').textContent())?.replace('%', ''));
  const top10 = Number((await measurements.getByTestId('top10').textContent())?.replace('%', ''));
  // The top 10% of rows carry at least as much as the top 1%, and at least 10% of the total.
  expect(top1).toBeGreaterThan(0);
  expect(top10).toBeGreaterThanOrEqual(top1);
  expect(top10).toBeGreaterThanOrEqual(10);
  await expect(measurements.getByTestId('outlier-chart').locator('path.recharts-line-curve')).toHaveCount(2);
  await expect(measurements.getByTestId('outliers-x')).toHaveText(/^\d/);
  await expect(measurements.getByTestId('error-x')).toHaveText(/^\d/);
  // INT4 learns LSQ step sizes and samples rows: both history charts have lines.
  await expect(measurements.getByTestId('quantizer-history').locator('path.recharts-line-curve')).toHaveCount(7);
  // Other layers and earlier snapshots can be chosen.
  const layers = await measurements.getByTestId('measure-layer').locator('option').allTextContents();
  expect(layers.length).toBeGreaterThan(4);
  await measurements.getByTestId('measure-layer').selectOption(layers[layers.length - 1]);
  await expect(measurements.getByTestId('grad-histogram')).toBeVisible();
  await measurements.getByRole('slider').focus();
  await page.keyboard.press('Home');
  await expect(measurements.getByTestId('measure-step')).toHaveText('1');
  await page.screenshot({ path: `${SCREENSHOT_DIR}/trained.png`, fullPage: true });
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(cspViolations).toEqual([]);
});

test('a synthetic task: generated samples are checked against their own prompts', async ({ page }) => {
  test.setTimeout(240_000);
  const errors = collectPageErrors(page);
  await openReady(page, '?preset=tiny&batch=4&eval=0&dataset=sort&precision=fp32&steps=2&samples=3&measure=0');
  await page.getByRole('button', { name: 'Start' }).click();
  await waitForPhase(page, 'Done', 200_000);
  const samples = page.getByTestId('samples').locator('li');
  await expect(samples).toHaveCount(3);
  // Each sample carries a verdict, and the summary counts them.
  for (const li of await samples.all()) await expect(li).toContainText(/correct|wrong|malformed/);
  await expect(page.getByTestId('task-score')).toContainText(/\d of 3 generated problems are solved correctly/);
  await page.getByTestId('samples-panel').screenshot({ path: `${SCREENSHOT_DIR}/samples.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
});
