// The attention-map view and the page's other architectures: a tiny GPT run shows its masked
// self-attention (the upper triangle hatched, n(n−1)/2 cells per head), layer and head pickers and
// another example; an encoder-decoder run shows encoder, masked decoder and cross-attention maps and
// its decoded examples with the exact match; an encoder run shows its accuracy next to the majority
// baseline. Each run trains a handful of steps: SwiftShader is slow.
import { readFileSync } from 'node:fs';
import { expect, type Locator, type Page, test } from '@playwright/test';
import { collectCspViolations, collectPageErrors, openReady, QUICK, SCREENSHOT_DIR, waitForPhase } from './helpers';

async function start(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page.getByTestId('phase')).toHaveText(/Building|Training|Starting/);
}

/** Every masked cell of a heatmap sits above the diagonal: its tooltip names query q and key k, k > q. */
async function expectMaskAboveDiagonal(heatmap: Locator): Promise<number> {
  const tips = await heatmap.locator('rect[data-masked="true"] title').allTextContents();
  for (const tip of tips) {
    const m = /^query (\d+) .* key (\d+) /.exec(tip);
    expect(m, tip).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(Number(m![1]));
    expect(tip).toContain('masked');
  }
  return tips.length;
}

/** An unmasked map: its only masked cells are the padding column (the key padding mask), one per query,
 *  each with probability 0; returns whether the map has that column. */
async function expectOnlyPaddingMasked(heatmap: Locator): Promise<boolean> {
  const rows = Number(await heatmap.getAttribute('data-rows'));
  const cols = Number(await heatmap.getAttribute('data-cols'));
  const masked = Number(await heatmap.getAttribute('data-masked-cells'));
  expect([0, rows]).toContain(masked);
  const tips = await heatmap.locator('rect[data-masked="true"] title').allTextContents();
  expect(tips).toHaveLength(masked);
  for (const tip of tips) expect(tip).toMatch(new RegExp(`padding positions: masked \\(probability 0\\.000`));
  expect(cols).toBeGreaterThan(0);
  return masked > 0;
}

test('a GPT run shows live masked self-attention per layer and head, and another example after the run', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  const csp = collectCspViolations(page);
  await openReady(page, `?${QUICK}&steps=3&attention=1&measure=0&checkpoint=0`);
  const view = page.getByTestId('attention-view');
  await expect(view).toContainText('Train a run');
  // Every step the view shows maps of, in the order shown.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { attentionSteps: string[] }).attentionSteps = seen;
    new MutationObserver(() => {
      const step = document.querySelector('[data-testid="attention-step"]')?.getAttribute('data-step');
      if (step && seen[seen.length - 1] !== step) seen.push(step);
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-step'] });
  });
  await start(page);
  await expect(view.getByTestId('attention-step')).toBeVisible({ timeout: 150_000 });
  await waitForPhase(page, 'Done');
  await expect(view.getByTestId('attention-step')).toHaveAttribute('data-step', '3');
  // Live: maps of earlier steps were shown while the run trained (attention=1: after every step), the
  // last ones at the end.
  const seen = await page.evaluate(() => (window as unknown as { attentionSteps: string[] }).attentionSteps);
  expect(seen[seen.length - 1]).toBe('3');
  expect(Number(seen[0])).toBeLessThan(3);
  expect(seen.map(Number)).toEqual([...seen.map(Number)].sort((a, b) => a - b));

  const heatmap = view.getByTestId('attention-heatmap');
  await expect(heatmap).toHaveCount(1);
  await expect(heatmap).toHaveAttribute('data-causal', 'true');
  await expect(heatmap).toHaveAttribute('data-layer', '0');
  await expect(heatmap).toHaveAttribute('data-head', '0');
  const n = Number(await heatmap.getAttribute('data-rows'));
  // The default example is a validation name after the start token: a few tokens, square map.
  expect(n).toBeGreaterThanOrEqual(4);
  await expect(heatmap).toHaveAttribute('data-cols', String(n));
  await expect(heatmap).toHaveAttribute('data-masked-cells', String((n * (n - 1)) / 2));
  expect(await expectMaskAboveDiagonal(heatmap)).toBe((n * (n - 1)) / 2);
  // Token labels on both axes: the start token first.
  await expect(heatmap.locator('text.heatmap-label').first()).toHaveText('⏎');
  await expect(view.getByTestId('mask-legend')).toContainText('masked: a key after the query');
  await view.scrollIntoViewIfNeeded();
  await view.screenshot({ path: `${SCREENSHOT_DIR}/attention-decoder.png` });

  // Another head and layer of the same snapshot.
  await view.getByTestId('attention-head').selectOption('1');
  await expect(heatmap).toHaveAttribute('data-head', '1');
  await view.getByTestId('attention-layer').selectOption('1');
  await expect(heatmap).toHaveAttribute('data-layer', '1');
  await expect(heatmap).toHaveAttribute('data-masked-cells', String((n * (n - 1)) / 2));
  // All four heads side by side, each masked the same way.
  await view.getByTestId('attention-head').selectOption('all');
  await expect(view.getByTestId('attention-heatmap')).toHaveCount(4);
  for (const h of await view.getByTestId('attention-heatmap').all()) await expect(h).toHaveAttribute('data-masked-cells', String((n * (n - 1)) / 2));
  await view.screenshot({ path: `${SCREENSHOT_DIR}/attention-decoder-all-heads.png` });

  // Another example, from the model the worker keeps after the run: "emma" is 5 tokens with the start token.
  await view.getByTestId('attention-head').selectOption('0');
  await view.getByTestId('attention-example').fill('emma');
  await view.getByTestId('attention-show').click();
  await expect(heatmap).toHaveAttribute('data-rows', '5', { timeout: 30_000 });
  await expect(heatmap).toHaveAttribute('data-masked-cells', '10');
  await expect(view.getByTestId('attention-caption')).toContainText('(yours)');
  // A character outside the vocabulary is refused with what to type instead.
  await view.getByTestId('attention-example').fill('Zoë');
  await view.getByTestId('attention-show').click();
  await expect(view.getByTestId('attention-error')).toContainText('not in the vocabulary of names');
  await expect(heatmap).toHaveAttribute('data-rows', '5');
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(csp).toEqual([]);
});

test('an encoder-decoder run shows encoder, masked decoder and cross-attention, and its decoded examples with the exact match', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?arch=encoder-decoder&dataset=numbers&preset=tiny&batch=4&eval=0&samples=3&steps=3&attention=0&measure=0&checkpoint=0`);
  await expect(page.getByTestId('architecture')).toHaveValue('encoder-decoder');
  // numbers spells three digits out (up to 17 characters and the end token): the tiny model's context of 16
  // is too short, and the page says so before any GPU work.
  const problems = page.getByTestId('config-problems');
  await expect(problems).toContainText('the decoder context must be at least 18');
  await expect(problems).toContainText('set Context to 18 or more');
  await page.getByTestId('dataset').selectOption('reverse');
  await expect(problems).toHaveCount(0);
  // A source length below the task's longest source (8 letters).
  await page.getByTestId('source-length').fill('5');
  await expect(problems).toContainText('the source length must be at least 8');
  await page.getByTestId('source-length').fill('');
  await expect(problems).toHaveCount(0);
  await expect(page).toHaveURL(/arch=encoder-decoder&dataset=reverse/);

  await start(page);
  await waitForPhase(page, 'Done', 240_000);
  const view = page.getByTestId('attention-view');
  await expect(view.getByTestId('attention-step')).toHaveAttribute('data-step', '3');
  const kind = view.getByTestId('attention-kind');
  const heatmap = view.getByTestId('attention-heatmap');
  // Encoder self-attention first: no causal mask; a padding column, masked, when the source is shorter than 8.
  await expect(heatmap).toHaveAttribute('data-kind', 'encoder');
  await expectOnlyPaddingMasked(heatmap);
  await kind.selectOption('self');
  await expect(heatmap).toHaveAttribute('data-kind', 'self');
  await expect(heatmap).toHaveAttribute('data-causal', 'true');
  const t = Number(await heatmap.getAttribute('data-rows'));
  await expect(heatmap).toHaveAttribute('data-masked-cells', String((t * (t - 1)) / 2));
  await expectMaskAboveDiagonal(heatmap);
  await kind.selectOption('cross');
  await expect(heatmap).toHaveAttribute('data-kind', 'cross');
  const crossPadded = await expectOnlyPaddingMasked(heatmap);
  // Decoder queries (start token + target) over the source's keys: the default example is a validation
  // pair read with its correct target, so the rows are one more than the source's letters.
  const caption = await view.getByTestId('attention-caption').locator('code').textContent();
  const [source, target] = (caption ?? '').split(' → ');
  expect(target).toBe([...source].reverse().join(''));
  await expect(heatmap).toHaveAttribute('data-rows', String(target.length + 1));
  await expect(heatmap).toHaveAttribute('data-cols', String(source.length < 8 ? source.length + 1 : 8));
  expect(crossPadded).toBe(source.length < 8);
  await expect(view.getByTestId('mask-legend')).toContainText(crossPadded ? 'padding masked' : 'No mask');
  await view.scrollIntoViewIfNeeded();
  await view.screenshot({ path: `${SCREENSHOT_DIR}/attention-cross.png` });

  // The results: exact match of greedy translations, and three decoded examples checked here too.
  const samples = page.getByTestId('samples-panel');
  await expect(samples).toContainText('Translations: greedy decoding');
  const exact = Number(await samples.getByTestId('exact-match').getAttribute('data-value'));
  expect(exact).toBeGreaterThanOrEqual(0);
  expect(exact).toBeLessThanOrEqual(1);
  await expect(samples.getByTestId('exact-match')).toHaveText(`${(exact * 100).toFixed(1)}%`);
  const rows = samples.getByTestId('decoded-examples').locator('tbody tr');
  await expect(rows).toHaveCount(3);
  for (const row of await rows.all()) {
    const [src, out, expected] = await row.locator('td code').allTextContents();
    expect(expected).toBe([...src].reverse().join(''));
    await expect(row).toHaveAttribute('data-correct', String(out === expected));
  }
  await samples.scrollIntoViewIfNeeded();
  await samples.screenshot({ path: `${SCREENSHOT_DIR}/attention-encdec-results.png` });
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await expect(page.getByTestId('run-row')).toContainText('reverse (enc-dec)');
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('an encoder classifier run shows its accuracy against the majority baseline and unmasked self-attention', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?${QUICK}&steps=3&attention=0&measure=0&checkpoint=0`);
  await page.getByTestId('architecture').selectOption('encoder');
  await expect(page.getByTestId('dataset')).toHaveValue('majority');
  await expect(page).toHaveURL(/arch=encoder&dataset=majority/);
  await start(page);
  await waitForPhase(page, 'Done', 240_000);
  const samples = page.getByTestId('samples-panel');
  await expect(samples).toContainText('Classification accuracy');
  const accuracy = Number(await samples.getByTestId('classification-accuracy').getAttribute('data-value'));
  const baseline = Number(await samples.getByTestId('majority-baseline').getAttribute('data-value'));
  // Three classes, never a tie: the most frequent one holds more than a third of the examples.
  expect(baseline).toBeGreaterThan(1 / 3);
  expect(baseline).toBeLessThan(1);
  expect(accuracy).toBeGreaterThanOrEqual(0);
  expect(accuracy).toBeLessThanOrEqual(1);
  await expect(samples.getByTestId('baseline-margin')).toHaveText(/points (better|worse)|no better/);
  await samples.scrollIntoViewIfNeeded();
  await samples.screenshot({ path: `${SCREENSHOT_DIR}/attention-encoder-results.png` });

  const view = page.getByTestId('attention-view');
  const heatmap = view.getByTestId('attention-heatmap');
  await expect(heatmap).toHaveAttribute('data-causal', 'false');
  await expectOnlyPaddingMasked(heatmap);
  await expect(heatmap.locator('text.heatmap-label').first()).toHaveText('CLS');
  await view.scrollIntoViewIfNeeded();
  await view.screenshot({ path: `${SCREENSHOT_DIR}/attention-encoder.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('a comparison of an encoder classifier in two precisions, kept after reload, and its checkpoint evaluated as an encoder', async ({ page }) => {
  test.setTimeout(420_000);
  const errors = collectPageErrors(page);
  await openReady(page, `?arch=encoder&dataset=majority&${QUICK}&steps=2&attention=0&measure=0&compare=fp32,int4`);
  await page.getByRole('button', { name: 'Run comparison (2 runs)' }).click();
  const table = page.getByTestId('comparison-table');
  await expect(table.locator('tbody tr')).toHaveCount(2, { timeout: 60_000 });
  await expect(table.getByTestId('val-loss').nth(1)).toHaveText(/^\d\.\d{4}$/, { timeout: 300_000 });
  await expect(page.getByRole('button', { name: 'Start' })).toBeEnabled({ timeout: 30_000 });
  await expect(table.locator('tbody tr').nth(1)).toContainText('precision: fp32 → int4');
  await expect(page.getByTestId('run-row').nth(0)).toContainText('majority (encoder)');
  const accuracy = await page.getByTestId('classification-accuracy').textContent();

  // Reload: both runs and the newest one's accuracy come back from IndexedDB.
  await page.reload();
  await expect(page.getByTestId('run-row')).toHaveCount(2, { timeout: 30_000 });
  await expect(page.getByTestId('classification-accuracy')).toHaveText(accuracy ?? 'missing');
  // The maps are of the model in the worker, which a reload does not keep.
  await expect(page.getByTestId('attention-waiting')).toContainText('No attention maps for this run');

  // The FP32 run's weights, uploaded while the page is set to the GPT: the checkpoint's architecture wins.
  const fp32ValLoss = await table.getByTestId('val-loss').nth(0).textContent();
  const [weights] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-weights').nth(0).click()]);
  await page.getByTestId('architecture').selectOption('decoder');
  await page.getByTestId('checkpoint-file').setInputFiles({ name: 'enc.safetensors', mimeType: 'application/octet-stream', buffer: readFileSync(await weights.path()) });
  await expect(page.getByTestId('upload-summary')).toContainText('on majority in fp32');
  await page.getByTestId('precision').selectOption('fp32');
  await page.getByRole('button', { name: 'Evaluate' }).click();
  await expect(page.getByTestId('run-row')).toHaveCount(3);
  await expect(page.getByTestId('run-row').nth(2)).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  await expect(page.getByTestId('run-row').nth(2).locator('td').nth(4)).toHaveText(fp32ValLoss ?? 'missing');
  await expect(page.getByTestId('samples-panel')).toContainText('Classification accuracy');
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('a paused run shows the attention maps of a new example at once, and resumes with it', async ({ page }) => {
  test.setTimeout(300_000);
  const errors = collectPageErrors(page);
  // attention=1000: maps after the first step, then only for a chosen example.
  await openReady(page, `?${QUICK}&precision=fp32&steps=60&attention=1000&measure=0&checkpoint=0`);
  await start(page);
  const view = page.getByTestId('attention-view');
  await expect(view.getByTestId('attention-step')).toHaveAttribute('data-step', '1', { timeout: 150_000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await waitForPhase(page, 'Paused', 60_000);
  const pausedAt = await page.getByTestId('step').textContent();
  await view.getByTestId('attention-example').fill('bob');
  await view.getByTestId('attention-show').click();
  const heatmap = view.getByTestId('attention-heatmap');
  // Start token and three letters, taken of the paused model: the step it stopped at, no step more.
  await expect(heatmap).toHaveAttribute('data-rows', '4', { timeout: 30_000 });
  await expect(heatmap).toHaveAttribute('data-masked-cells', '6');
  await expect(view.getByTestId('attention-step')).toHaveAttribute('data-step', pausedAt ?? 'missing');
  await expect(page.getByTestId('step')).toHaveText(pausedAt ?? 'missing');
  await page.getByRole('button', { name: 'Resume' }).click();
  await waitForPhase(page, 'Training', 30_000);
  await page.getByRole('button', { name: 'Stop' }).click();
  await waitForPhase(page, 'Stopped', 60_000);
  expect(errors.map((e) => e.message)).toEqual([]);
});
