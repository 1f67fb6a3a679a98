// A two-precision comparison end to end: both curves and the summary table, the CSV export against the
// chart, reload keeping the finished runs, and a downloaded checkpoint evaluated again.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { parseCsv } from '../src/app/export';
import { collectPageErrors, curvePointCounts, openReady, QUICK, SCREENSHOT_DIR } from './helpers';

const STEPS = 3;

test('compare FP32 and INT4: two curves, a summary table, CSV that matches, runs kept after reload, checkpoint round trip', async ({ page }) => {
  test.setTimeout(540_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?${QUICK}&steps=${STEPS}&measure=0&compare=fp32,int4`);
  await page.getByRole('button', { name: 'Run comparison (2 runs)' }).click();

  const table = page.getByTestId('comparison-table');
  await expect(table.locator('tbody tr')).toHaveCount(2, { timeout: 60_000 });
  // Both runs finish, one after the other, each with a final validation loss.
  await expect(table.getByTestId('val-loss').nth(0)).toHaveText(/^\d\.\d{4}$/, { timeout: 240_000 });
  await expect(table.getByTestId('val-loss').nth(1)).toHaveText(/^\d\.\d{4}$/, { timeout: 240_000 });
  await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled({ timeout: 30_000 });
  await expect(table.locator('tbody tr').nth(0)).toHaveAttribute('data-precision', 'fp32');
  await expect(table.locator('tbody tr').nth(0)).toContainText('+0.00%');
  await expect(table.locator('tbody tr').nth(1)).toContainText(/[+-]\d+\.\d\d%/);
  await expect(table.locator('tbody tr').nth(1)).toContainText('precision: fp32 → int4');
  await expect(table.locator('tbody tr').nth(1)).toContainText(/\d+\.\d MiB/);
  expect(await curvePointCounts(page)).toEqual([STEPS, STEPS]);
  await page.screenshot({ path: `${SCREENSHOT_DIR}/comparison.png`, fullPage: true });

  // CSV of every run: one row per drawn point, the same losses the chart and the table show.
  const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-all-csv').click()]);
  const rows = parseCsv(readFileSync(await csvDownload.path(), 'utf8'));
  const header = rows[0];
  const body = rows.slice(1);
  const col = (name: string) => header.indexOf(name);
  const runIds = [...new Set(body.map((r) => r[col('run')]))];
  expect(runIds).toHaveLength(2);
  const perRun = runIds.map((id) => body.filter((r) => r[col('run')] === id));
  expect(perRun.map((r) => r.length)).toEqual(await curvePointCounts(page));
  for (const [i, runRows] of perRun.entries()) {
    expect(runRows.map((r) => Number(r[col('step')]))).toEqual([1, 2, 3]);
    for (const r of runRows) expect(Number.isFinite(Number(r[col('loss')])) && r[col('loss')] !== '').toBe(true);
    // The validation loss of the last step is the table's.
    expect(Number(runRows[STEPS - 1][col('val_loss')]).toFixed(4)).toBe(await table.getByTestId('val-loss').nth(i).textContent());
  }
  // The newest run is the one the loss heading describes.
  const shown = page.getByTestId('loss-points');
  expect(Number(perRun[1][0][col('loss')])).toBe(Number(await shown.getAttribute('data-first-loss')));
  expect(Number(perRun[1][STEPS - 1][col('loss')])).toBe(Number(await shown.getAttribute('data-last-loss')));
  const fp32ValLoss = await table.getByTestId('val-loss').nth(0).textContent();

  // Reload: the finished runs come back from IndexedDB, with their curves and the table.
  await page.reload();
  await expect(page.getByTestId('run-row')).toHaveCount(2, { timeout: 30_000 });
  await expect(page.getByTestId('run-row').nth(0)).toHaveAttribute('data-status', 'done');
  expect(await curvePointCounts(page)).toEqual([STEPS, STEPS]);
  await expect(page.getByTestId('comparison-table').getByTestId('val-loss').nth(0)).toHaveText(fp32ValLoss ?? 'missing');
  await page.screenshot({ path: `${SCREENSHOT_DIR}/after-reload.png`, fullPage: true });

  // The FP32 run's weights as safetensors, loaded back and evaluated in FP32: the same validation loss.
  const [weights] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-weights').nth(0).click()]);
  expect(weights.suggestedFilename()).toMatch(/^fp32.*\.safetensors$/);
  await page.getByTestId('checkpoint-file').setInputFiles({ name: 'fp32.safetensors', mimeType: 'application/octet-stream', buffer: readFileSync(await weights.path()) });
  await expect(page.getByTestId('upload-summary')).toContainText(`trained ${STEPS} steps on names in fp32`);
  await page.getByTestId('precision').selectOption('fp32');
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(page.getByTestId('run-row')).toHaveCount(3);
  await expect(page.getByTestId('run-row').nth(2)).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  await expect(page.getByTestId('run-row').nth(2).locator('td').nth(4)).toHaveText(fp32ValLoss ?? 'missing');
  expect(errors.map((e) => e.message)).toEqual([]);
});
