import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { collectPageErrors, lossPoints, openReady, QUICK, SCREENSHOT_DIR, waitForPhase } from './helpers';

test('a run exports as one file and imports back (after Reset, and after a reload); bad files get a clear message', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?${QUICK}&precision=fp32&steps=6&measure=0&checkpoint=3`);
  await page.getByRole('button', { name: 'Start' }).click();
  await waitForPhase(page, 'Done', 240_000);
  const label = (await page.getByTestId('run-row').getByRole('button', { name: /Show details of/ }).textContent())!;

  const [runDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-run').click()]);
  expect(runDownload.suggestedFilename()).toMatch(/\.run\.safetensors$/);
  const runFile = readFileSync((await runDownload.path())!);
  const [weightsDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-weights').click()]);
  const weights = readFileSync((await weightsDownload.path())!);

  // Reset clears the runs; the panel still offers the import.
  await page.getByRole('button', { name: 'Reset' }).click();
  await expect(page.getByTestId('run-row')).toHaveCount(0);
  await page.getByTestId('run-file').setInputFiles({ name: 'mine.run.safetensors', mimeType: 'application/octet-stream', buffer: runFile });
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  const row = page.getByTestId('run-row');
  await expect(row).toHaveAttribute('data-status', 'done');
  await expect(row).toContainText(`${label} (imported)`);
  await expect(page.getByTestId('error')).toContainText('Imported');
  // Its metrics draw again, and its weights are there to download.
  expect(await lossPoints(page)).toBe(6);
  const [again] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-weights').click()]);
  expect(readFileSync((await again.path())!).equals(weights)).toBe(true);

  // It was saved like any run: a reload keeps it.
  await page.reload();
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('run-row')).toContainText('(imported)');

  // Files that are not run files say what they are.
  const input = page.getByTestId('run-file');
  const message = page.getByTestId('run-file-error');
  await input.setInputFiles({ name: 'metrics.csv', mimeType: 'text/csv', buffer: Buffer.from('step,loss\n1,4\n') });
  await expect(message).toContainText('metrics.csv is not a run file');
  await input.setInputFiles({ name: 'weights.safetensors', mimeType: 'application/octet-stream', buffer: weights });
  await expect(message).toContainText('weights.safetensors is a model checkpoint, not a run file: load it under "Load a checkpoint"');
  await input.setInputFiles({ name: 'cut.run.safetensors', mimeType: 'application/octet-stream', buffer: runFile.subarray(0, runFile.length - 100) });
  await expect(message).toContainText('cut.run.safetensors');
  await input.setInputFiles({ name: 'empty.run.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) });
  await expect(message).toContainText('is empty (0 bytes)');
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('an encoder classifier\'s run file brings back its architecture, context and accuracies', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  await openReady(page, '?preset=tiny&batch=4&eval=0&arch=encoder&dataset=majority&context=20&precision=fp32&steps=4&measure=0&checkpoint=2&samples=2&sampleEvery=2&attention=0');
  await page.getByRole('button', { name: 'Start' }).click();
  await waitForPhase(page, 'Done', 240_000);
  const accuracy = await page.getByTestId('classification-accuracy').getAttribute('data-value');
  await expect(page.getByTestId('evaluation-history')).toContainText('step 2: accuracy');
  const label = (await page.getByTestId('run-row').getByRole('button', { name: /Show details of/ }).textContent())!;
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-run').click()]);
  const runFile = readFileSync((await download.path())!);

  // Back on a page set to the GPT: the run comes back as the classifier it was.
  await openReady(page, '?preset=tiny');
  await page.getByRole('button', { name: 'Reset' }).click();
  await expect(page.getByTestId('run-row')).toHaveCount(0);
  await page.getByTestId('run-file').setInputFiles({ name: 'encoder.run.safetensors', mimeType: 'application/octet-stream', buffer: runFile });
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('run-row')).toContainText(`${label} (imported)`);
  await expect(page.getByTestId('classification-accuracy')).toHaveAttribute('data-value', accuracy!);
  await expect(page.getByTestId('evaluation-history')).toContainText('step 2: accuracy');
  // Its config as the JSON export of the imported run has it.
  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
  const config = JSON.parse(readFileSync((await json.path())!, 'utf8')).runs[0].config;
  expect(config).toMatchObject({ architecture: 'encoder', dataset: 'majority', contextLength: 20, attentionEvery: 0, sampleEvery: 2 });
  await page.getByTestId('samples-panel').screenshot({ path: `${SCREENSHOT_DIR}/run-file-encoder-imported.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
});
