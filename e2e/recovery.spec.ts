import { expect, type Page, test } from '@playwright/test';
import { collectPageErrors, lossPoints, openReady, QUICK, SCREENSHOT_DIR, waitForPhase } from './helpers';

// Both tests use the page's test hooks (?testHooks=1, store.ts TestHooks): losing the GPU device and an
// absurd learning rate are things a user cannot ask the page for.

type HookRun = { id: string; status: string; steps: number[]; losses: number[]; events: { kind: string; step: number; text: string; lr?: number }[]; halt: unknown; checkpointStep: number | null };

async function runs(page: Page): Promise<HookRun[]> {
  return page.evaluate(() => window.__playgroundTest!.runs() as HookRun[]);
}

test('a lost GPU device mid-run: the run resumes from its last checkpoint on a new device and finishes, its metrics continuing from there', async ({ page }) => {
  test.setTimeout(400_000);
  const errors = collectPageErrors(page);
  const every = 6;
  await openReady(page, `?${QUICK}&precision=fp32&steps=24&measure=0&checkpoint=${every}&testHooks=1`);
  await page.getByRole('button', { name: 'Start' }).click();
  // A checkpoint has reached the page and the run is a few steps past it.
  await expect.poll(async () => {
    const [r] = await runs(page);
    return r.checkpointStep !== null && r.steps.length >= r.checkpointStep + 3;
  }, { timeout: 240_000, intervals: [500] }).toBe(true);
  const [before] = await runs(page);
  await page.evaluate(() => window.__playgroundTest!.loseDevice());

  // The run says what happened and where it went on from, and finishes.
  const notice = page.getByTestId('error');
  await expect(notice).toContainText('The GPU device was lost at step', { timeout: 120_000 });
  await expect(notice).toContainText('resumed on a new device from the checkpoint at step');
  await page.screenshot({ path: `${SCREENSHOT_DIR}/device-lost-resumed.png` });
  await waitForPhase(page, 'Done', 240_000);
  const [after] = await runs(page);
  expect(after.events).toHaveLength(1);
  const event = after.events[0];
  expect(event.kind).toBe('device-lost');
  const lostAt = Number(/lost at step (\d+)/.exec(event.text)![1]);
  // It resumed from a checkpoint at least as new as the one the page had seen, and lost (took again)
  // no more than one checkpoint interval of steps, plus the few in flight when the loss was noticed.
  expect(event.step % every).toBe(0);
  expect(event.step).toBeGreaterThanOrEqual(before.checkpointStep!);
  expect(lostAt - event.step).toBeLessThanOrEqual(every + 3);
  // The history continues from the checkpoint: every step once, and the steps taken before the loss
  // have the same losses as when they were taken again (same batches, same state).
  expect(after.steps).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  for (let i = 0; i < before.steps.length; i++) expect(after.losses[before.steps[i] - 1]).toBe(before.losses[i]);
  expect(after.losses.every((l) => Number.isFinite(l))).toBe(true);
  await expect(page.getByTestId('run-row')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('run-event')).toContainText('The GPU device was lost');
  expect(await lossPoints(page)).toBe(24);
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('a NaN pauses the run with where it happened; resuming with a lower learning rate trains on to the end', async ({ page }) => {
  test.setTimeout(400_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?${QUICK}&precision=fp32&steps=10&measure=0&checkpoint=4&testHooks=1`);
  // The engine accepts any finite rate; 1e30 blows the parameters up after the first step.
  await page.evaluate(() => window.__playgroundTest!.start({ lr: 1e30 }));
  const halt = page.getByTestId('numerics-halt');
  await expect(halt).toBeVisible({ timeout: 240_000 });
  await expect(page.getByTestId('phase')).toHaveText('Paused');
  const step = Number(await page.getByTestId('halt-step').textContent());
  expect(step).toBeGreaterThanOrEqual(1);
  expect(step).toBeLessThanOrEqual(4);
  // The layer and the tensors: the first non-finite activation and the gradients that hold NaN/∞.
  await expect(page.getByTestId('halt-activation')).toHaveText(/^(transformer|lm_head|embedding|logits)/);
  await expect(page.getByTestId('halt-gradients')).not.toHaveText('none');
  // Paused, not failed: the history stays, and the run is not an error.
  expect(await lossPoints(page)).toBeGreaterThanOrEqual(step - 1);
  await expect(page.getByTestId('run-row')).toHaveAttribute('data-status', 'paused');
  await expect(page.getByRole('button', { name: 'Roll back to last checkpoint' })).toBeEnabled();
  await page.screenshot({ path: `${SCREENSHOT_DIR}/numerics-halt.png` });

  await page.getByTestId('halt-lr').fill('0.003');
  await page.getByRole('button', { name: 'Resume with lower learning rate', exact: true }).click();
  await expect(halt).toBeHidden({ timeout: 60_000 });
  await expect(page.getByTestId('error')).toContainText(`Training hit a NaN at step ${step}; it went on from the start`);
  await expect(page.getByTestId('error')).toContainText('learning rate 3.00e-3 (was 1.00e+30)');
  await waitForPhase(page, 'Done', 300_000);
  const [run] = await runs(page);
  expect(run.steps).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  expect(run.losses.every((l) => Number.isFinite(l))).toBe(true);
  expect(run.events).toEqual([expect.objectContaining({ kind: 'lower-lr', step: 0, lr: 0.003 })]);
  await expect(page.getByTestId('run-row')).toHaveAttribute('data-status', 'done');
  expect(errors.map((e) => e.message)).toEqual([]);
});
