import { expect, test } from '@playwright/test';
import { collectPageErrors, lossPoints, openReady, QUICK, SCREENSHOT_DIR, waitForPhase } from './helpers';

test('pause stops the steps, resume continues them, stop ends the run', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?${QUICK}&precision=fp32&steps=40&measure=0`);
  await page.getByRole('button', { name: 'Start' }).click();
  await expect.poll(() => lossPoints(page), { timeout: 150_000, intervals: [500] }).toBeGreaterThanOrEqual(2);

  await page.getByRole('button', { name: 'Pause' }).click();
  await waitForPhase(page, 'Paused', 60_000);
  await expect(page.getByRole('button', { name: 'Resume' })).toBeVisible();
  const atPause = await lossPoints(page);
  // Several step-times pass (a step takes ~0.5–2 s here) without a new step.
  await page.waitForTimeout(5_000);
  expect(await lossPoints(page)).toBe(atPause);
  await expect(page.getByTestId('step')).toHaveText(String(atPause));
  await page.screenshot({ path: `${SCREENSHOT_DIR}/paused.png` });

  await page.getByRole('button', { name: 'Resume' }).click();
  await waitForPhase(page, 'Training', 30_000);
  await expect.poll(() => lossPoints(page), { timeout: 60_000, intervals: [500] }).toBeGreaterThan(atPause);

  await page.getByRole('button', { name: 'Stop' }).click();
  await waitForPhase(page, 'Stopped', 60_000);
  const stoppedAt = await lossPoints(page);
  expect(stoppedAt).toBeLessThan(40);
  await expect(page.getByTestId('run-row')).toHaveAttribute('data-status', 'stopped');
  await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled();

  // Reset clears the runs from the page and from storage: a reload shows none.
  await page.getByRole('button', { name: 'Reset' }).click();
  await expect(page.getByTestId('run-row')).toHaveCount(0);
  await expect(page.getByTestId('loss-points')).toHaveText('0');
  await page.reload();
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('run-row')).toHaveCount(0);
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('a reload during a run keeps the steps it had finished, as a stopped run', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?${QUICK}&precision=fp32&steps=300&measure=0`);
  await page.getByRole('button', { name: 'Start' }).click();
  await expect.poll(() => lossPoints(page), { timeout: 150_000, intervals: [500] }).toBeGreaterThanOrEqual(3);
  // In-progress runs are saved every 2 s: wait for one save after these steps.
  await page.waitForTimeout(3_000);
  const before = await lossPoints(page);
  await page.reload();
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('run-row')).toHaveAttribute('data-status', 'stopped');
  // At most the last save's few steps are lost.
  await expect.poll(() => lossPoints(page), { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
  expect(await lossPoints(page)).toBeLessThanOrEqual(before + 5);
  await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled();
  expect(errors.map((e) => e.message)).toEqual([]);
});
