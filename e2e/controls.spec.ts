// The page without training: the URL carries the config, teacher mode hides controls, invalid configs
// and unusable uploads show messages, and every control has a name.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { modelConfigFromPreset } from '../src/engine/config';
import { namesDataset } from '../src/engine/data/corpus';
import { encodeSafetensors } from '../src/engine/train/checkpoint';
import { checkpointTensorShapes } from '../src/engine/train/run-checkpoint';
import { collectPageErrors, openReady, SCREENSHOT_DIR } from './helpers';

test('a URL reproduces the config, and editing the config updates the URL', async ({ page }) => {
  const errors = collectPageErrors(page);
  await openReady(page, '?dataset=sort&preset=small&precision=int4-lsq-luq&steps=123&seed=42&lr=0.004&batch=8&bits=3&backward=minmax&hadamard=16');
  await expect(page.getByTestId('dataset')).toHaveValue('sort');
  await expect(page.getByTestId('preset')).toHaveValue('small');
  await expect(page.getByTestId('precision')).toHaveValue('int4-lsq-luq');
  await expect(page.getByTestId('steps')).toHaveValue('123');
  await expect(page.getByTestId('seed')).toHaveValue('42');
  await expect(page.getByTestId('lr')).toHaveValue('0.004');
  await expect(page.getByTestId('batch')).toHaveValue('8');
  await expect(page.getByTestId('bits')).toHaveValue('3');
  await expect(page.getByTestId('backward-quantizer')).toHaveValue('minmax');
  await expect(page.getByTestId('forward-quantizer')).toHaveValue('');
  await expect(page.getByTestId('hadamard-block')).toHaveValue('16');
  await expect(page.getByTestId('url-problems')).toHaveCount(0);

  // Editing writes the URL; loading that URL in a fresh page gives the same controls.
  await page.getByTestId('precision').selectOption('fp16');
  await page.getByRole('button', { name: "Use the precision's own quantizers" }).click();
  await page.getByTestId('steps').fill('77');
  await expect(page).toHaveURL(/precision=fp16/);
  await expect(page).toHaveURL(/steps=77/);
  expect(page.url()).not.toMatch(/bits=|backward=/);
  const url = page.url();
  const other = await page.context().newPage();
  await other.goto(url);
  await expect(other.getByTestId('precision')).toHaveValue('fp16');
  await expect(other.getByTestId('steps')).toHaveValue('77');
  await expect(other.getByTestId('dataset')).toHaveValue('sort');
  await expect(other.getByTestId('seed')).toHaveValue('42');

  // An unusable parameter is reported and replaced by the default.
  await page.goto('./?precision=int3&steps=abc');
  await expect(page.getByTestId('url-problems')).toContainText('precision=int3');
  await expect(page.getByTestId('url-problems')).toContainText('steps=abc');
  await expect(page.getByTestId('precision')).toHaveValue('int4');
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('teacher mode: ?hide= takes the named controls out of the page', async ({ page }) => {
  await openReady(page, '?hide=precision,advanced,compare');
  await expect(page.getByTestId('dataset')).toBeVisible();
  await expect(page.getByTestId('steps')).toBeVisible();
  await expect(page.getByTestId('precision')).toHaveCount(0);
  await expect(page.getByTestId('advanced')).toHaveCount(0);
  await expect(page.getByTestId('forward-quantizer')).toHaveCount(0);
  await expect(page.getByTestId('comparison')).toHaveCount(0);
  // The hidden list stays in the URL when other fields change, so the focused demo can be shared.
  await page.getByTestId('steps').fill('50');
  await expect(page).toHaveURL(/hide=precision,advanced,compare/);
  await page.screenshot({ path: `${SCREENSHOT_DIR}/teacher-mode.png` });
  // Without hide=, the same controls are there.
  await page.goto('./');
  await expect(page.getByTestId('precision')).toBeVisible();
  await expect(page.getByTestId('comparison')).toBeVisible();
});

test('a config the engine rejects shows why and cannot start', async ({ page }) => {
  const errors = collectPageErrors(page);
  await openReady(page, '?precision=fp32&forward=hq');
  await expect(page.getByTestId('config-problems')).toContainText('apply to the quantized precisions');
  await expect(page.getByRole('button', { name: 'Start' })).toBeDisabled();
  // Fixing it re-enables Start.
  await page.getByRole('button', { name: "Use the precision's own quantizers" }).click();
  await expect(page.getByTestId('config-problems')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled();
  // A typed value out of range is marked and blocks Start too.
  await page.getByTestId('steps').fill('0');
  await expect(page.getByTestId('steps')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByRole('button', { name: 'Start' })).toBeDisabled();
  await page.getByTestId('steps').fill('5');
  await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled();
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('unusable uploads show a message and leave the page working', async ({ page }) => {
  const errors = collectPageErrors(page);
  await openReady(page);
  const input = page.getByTestId('checkpoint-file');
  const message = page.getByTestId('upload-error');

  await input.setInputFiles({ name: 'empty.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) });
  await expect(message).toContainText('empty.safetensors is empty');

  const noise = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919 + 13) % 256));
  await input.setInputFiles({ name: 'noise.bin', mimeType: 'application/octet-stream', buffer: noise });
  await expect(message).toContainText('noise.bin');
  await expect(message).toContainText(/not a safetensors file|unreadable header|truncated/);

  await input.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just some text, not weights\n') });
  await expect(message).toContainText('notes.txt');

  // Too large: a sparse file in a fresh temporary folder (Playwright passes buffers only up to 50 MB).
  const dir = mkdtempSync(join(tmpdir(), 'playground-upload-'));
  try {
    const huge = join(dir, 'huge.safetensors');
    writeFileSync(huge, '');
    truncateSync(huge, 64 * 2 ** 20 + 1);
    await input.setInputFiles(huge);
    await expect(message).toContainText('over the 64 MiB (67,108,864 bytes) the page loads');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await page.getByTestId('import').screenshot({ path: `${SCREENSHOT_DIR}/bad-upload.png` });

  // The page still works: no summary to start from, the config still edits, Start is enabled.
  await expect(page.getByTestId('upload-summary')).toHaveCount(0);
  await page.getByTestId('steps').fill('9');
  await expect(page).toHaveURL(/steps=9/);
  await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled();
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('every control has an accessible name and the page fits 1280×720 without sideways scrolling', async ({ page }) => {
  await openReady(page);
  // Open the collapsed sections so their controls are checked too.
  for (const summary of await page.locator('details > summary').all()) await summary.click();
  const unnamed = await page.locator('input, select, button, textarea').evaluateAll((els) =>
    els
      .filter((el) => {
        const e = el as HTMLInputElement;
        const byLabel = e.labels && e.labels.length > 0 && [...e.labels].some((l) => l.textContent?.trim());
        const byAria = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
        const byText = el.tagName === 'BUTTON' && el.textContent?.trim();
        return !(byLabel || byAria || byText);
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
  expect(unnamed).toEqual([]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  // Keyboard, from a fresh load: Tab reaches the skip link first and, later, the Start button.
  await page.reload();
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 30_000 });
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to the charts' })).toBeFocused();
  let reachedStart = false;
  for (let i = 0; i < 60 && !reachedStart; i++) {
    await page.keyboard.press('Tab');
    reachedStart = await page.getByRole('button', { name: 'Start' }).evaluate((b) => b === document.activeElement);
  }
  expect(reachedStart).toBe(true);
  await page.screenshot({ path: `${SCREENSHOT_DIR}/ready-1280x720.png` });
});

test("a config error found in the worker (a checkpoint's model too narrow for the Hadamard block) is a message, not a crash", async ({ page }) => {
  test.setTimeout(120_000);
  const errors = collectPageErrors(page);
  // A well-formed checkpoint of a model with d_model 16, on the names corpus's characters. The page's
  // own check passes (it knows only the preset); the worker's validateRunConfig sees the checkpoint's model.
  const names = namesDataset(readFileSync(resolve(import.meta.dirname, '..', 'public/datasets/names.txt'), 'utf8'));
  const model = { ...modelConfigFromPreset('tiny', names.tokenizer.vocabSize), dModel: 16, nHead: 4, dFF: 64 };
  const bytes = encodeSafetensors({
    // Every tensor its config needs, in the right shape: the file is consistent, only too narrow.
    tensors: [...checkpointTensorShapes(model)].map(([name, shape]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) })),
    metadata: { format: 'pt', model_config: JSON.stringify(model), tokenizer: JSON.stringify(names.tokenizer.toJSON()), dataset: 'names', step: '5' },
  });
  await openReady(page, '?precision=int4&hadamard=32&batch=4');
  await page.getByTestId('checkpoint-file').setInputFiles({ name: 'narrow.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
  await expect(page.getByTestId('upload-summary')).toContainText('d_model 16');
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(page.getByTestId('error')).toContainText('Configuration error: hadamard-block 32 is larger than d_model 16', { timeout: 60_000 });
  await expect(page.getByTestId('run-row')).toHaveAttribute('data-status', 'error');
  // The page goes on: Start is available again.
  await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled();
  await page.screenshot({ path: `${SCREENSHOT_DIR}/worker-config-error.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
});
