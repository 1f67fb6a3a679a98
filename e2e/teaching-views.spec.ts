// The three teaching views that need no GPU: the sinusoidal positional encodings, every matmul of a
// training step as an einsum, and one matmul sharded over a 2×4 device mesh. Each opens from its
// collapsed heading and follows the page's config or its own controls.
import { expect, type Page, test } from '@playwright/test';
import { DEFAULT_CONFIG, type PageConfig } from '../src/app/config';
import { pageStepShape, planShardedMatmul, STRATEGIES, stepFlops, stepShapeFor } from '../src/app/teaching-scale';
import { collectPageErrors, openReady, SCREENSHOT_DIR } from './helpers';

async function open(page: Page, name: RegExp, testId: string): Promise<void> {
  const button = page.getByTestId(testId).getByRole('button', { name });
  await expect(button).toHaveAttribute('aria-expanded', 'false');
  // Keyboard: the disclosure is a button in the heading.
  await button.focus();
  await page.keyboard.press('Enter');
  await expect(button).toHaveAttribute('aria-expanded', 'true');
}

/** Console reports of Content-Security-Policy violations (index.html allows only the site's own files;
 *  the views must not need inline styles or scripts). */
function cspViolations(page: Page): string[] {
  const out: string[] = [];
  page.on('console', (m) => {
    if (m.text().includes('Content Security Policy')) out.push(m.text());
  });
  return out;
}

/** RGB of the canvas pixel at (x, y). */
async function pixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.getByTestId('pe-heatmap').locator('canvas').evaluate((c: HTMLCanvasElement, [px, py]) => Array.from(c.getContext('2d')!.getImageData(px, py, 1, 1).data.slice(0, 3)), [x, y]);
}

test('the positional-encoding heatmap follows the context length and the model', async ({ page }) => {
  const errors = collectPageErrors(page);
  const violations = cspViolations(page);
  await openReady(page, '?preset=tiny');
  await expect(page.getByTestId('pe-heatmap')).toHaveCount(0);
  await open(page, /Positional encodings/, 'positional-view');
  const heatmap = page.getByTestId('pe-heatmap');
  await expect(heatmap).toHaveAttribute('data-rows', '16');
  await expect(heatmap).toHaveAttribute('data-cols', '48');
  const canvas = heatmap.locator('canvas');
  const cw = Number(await canvas.getAttribute('width')) / 48, ch = Number(await canvas.getAttribute('height')) / 16;
  // Position 1 (second row, away from the outlined row): column 0 is sin(1) > 0 (red), column 1 cos(1) > 0,
  // and at position 4 column 0 is sin(4) < 0 (blue).
  const red = await pixel(page, Math.floor(cw / 2), Math.floor(ch * 1.5));
  expect(red[0]).toBeGreaterThan(red[2]);
  const blue = await pixel(page, Math.floor(cw / 2), Math.floor(ch * 4.5));
  expect(blue[2]).toBeGreaterThan(blue[0]);
  // PE(t)·PE(t+k) from two starting positions: the same curve.
  expect(Number(await page.getByTestId('pe-dot-chart').getAttribute('data-max-diff'))).toBeLessThan(1e-9);
  await expect(page.getByTestId('pe-dot-chart').locator('path.recharts-line-curve')).toHaveCount(2);
  await heatmap.scrollIntoViewIfNeeded();
  await page.getByTestId('positional-view').screenshot({ path: `${SCREENSHOT_DIR}/teaching-positional.png` });

  // The cells read out from the keyboard: position 1, column 1 is cos(1).
  await canvas.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('pe-readout')).toHaveText(`position 1, column 1 (cos, pair 0): ${Math.cos(1).toFixed(3)}`);

  // The view's own context control.
  await page.getByTestId('pe-context').selectOption('64');
  await expect(heatmap).toHaveAttribute('data-rows', '64');
  await expect(canvas).toHaveAttribute('aria-label', /64 positions/);
  const height64 = Number(await canvas.getAttribute('height'));
  expect(height64).toBeGreaterThan(16 * ch - 1);
  // The slider for the second start position works from the keyboard.
  const slider = page.getByTestId('pe-t');
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByLabel(/Second start position t: 6/)).toBeVisible();

  // The page's model: small has context 32 and d_model 128.
  await page.getByTestId('preset').selectOption('small');
  await expect(heatmap).toHaveAttribute('data-rows', '32');
  await expect(heatmap).toHaveAttribute('data-cols', '128');
  expect(Number(await page.getByTestId('pe-dot-chart').getAttribute('data-max-diff'))).toBeLessThan(1e-9);
  await page.getByTestId('positional-view').screenshot({ path: `${SCREENSHOT_DIR}/teaching-positional-small.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(violations).toEqual([]);
});

test('the einsum table lists every matmul with its FLOPs and follows the preset', async ({ page }) => {
  const errors = collectPageErrors(page);
  const violations = cspViolations(page);
  await openReady(page, '?preset=tiny');
  await open(page, /Matmuls as einsums/, 'matmul-view');
  const table = page.getByTestId('einsum-table');
  await expect(table).toContainText('btd,dk->btk');
  await expect(table).toContainText('bhte,bhse->bhts');
  await expect(table).toContainText('btd,dv->btv');
  // 7 forward products, 14 backward, 2 group headings.
  await expect(table.locator('tbody tr')).toHaveCount(23);
  const tiny = stepFlops(stepShapeFor('tiny', 32, 54));
  await expect(page.getByTestId('flops-total')).toHaveAttribute('data-value', String(tiny.total));
  await expect(page.getByTestId('flops-forward')).toHaveAttribute('data-value', String(tiny.forward));
  await expect(page.getByTestId('flops-backward')).toHaveAttribute('data-value', String(2 * tiny.forward));
  await expect(page.getByTestId('flops-6n')).toHaveAttribute('data-value', String(tiny.sixN));
  await expect(page.getByTestId('matmul-shape')).toContainText('2 layers, d_model 48');
  await page.getByTestId('matmul-view').screenshot({ path: `${SCREENSHOT_DIR}/teaching-einsums.png` });

  // The page's preset and batch change the counts.
  await page.getByTestId('preset').selectOption('small');
  const small = stepFlops(stepShapeFor('small', 32, 54));
  await expect(page.getByTestId('flops-total')).toHaveAttribute('data-value', String(small.total));
  await expect(page.getByTestId('matmul-shape')).toContainText('4 layers, d_model 128');
  expect(small.total).toBeGreaterThan(tiny.total);
  await page.getByText('Optimizer and logging').click();
  await page.getByTestId('batch').fill('8');
  await expect(page.getByTestId('flops-total')).toHaveAttribute('data-value', String(stepFlops(stepShapeFor('small', 8, 54)).total));
  // The view's own choice of model, and hiding the backward rows.
  await page.getByTestId('matmul-model').selectOption('medium');
  await expect(page.getByTestId('flops-total')).toHaveAttribute('data-value', String(stepFlops(stepShapeFor('medium', 8, 54)).total));
  await page.getByLabel('list the backward products').uncheck();
  await expect(table.locator('tbody tr')).toHaveCount(8);
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(violations).toEqual([]);
});

/** The FLOPs the page's config counts, computed here in Node from the same functions. */
function pageFlops(c: PageConfig) {
  const r = pageStepShape(c);
  if (!('shape' in r)) throw new Error(r.problem);
  return { shape: r.shape, flops: stepFlops(r.shape) };
}

test('with the encoder-decoder chosen the einsum table lists its encoder, masked self-attention and cross-attention', async ({ page }) => {
  const errors = collectPageErrors(page);
  const violations = cspViolations(page);
  await openReady(page, '?arch=encoder-decoder&dataset=reverse&preset=tiny');
  await open(page, /Matmuls as einsums/, 'matmul-view');
  const table = page.getByTestId('einsum-table');
  await expect(table).toHaveAttribute('data-architecture', 'encoder-decoder');
  const { shape, flops } = pageFlops({ ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'reverse' });
  // The reverse task's sources are up to 8 characters: S = 8 with no source length set; T the preset's 16.
  expect([shape.source, shape.context]).toEqual([8, 16]);
  await expect(page.getByTestId('matmul-shape')).toContainText('source S 8, target context T 16');
  // Cross-attention: 5 forward products and 10 backward ones; queries from the decoder, keys and values
  // from the encoder output, so the scores are B·h·T·S = 32×4×16×8 (head width 12).
  const cross = table.locator('tr[data-attention="cross"]');
  await expect(cross).toHaveCount(15);
  const scores = cross.filter({ hasText: 'cross-attention scores Q·Kᵀ' });
  await expect(scores).toContainText('bhte,bhse->bhts');
  await expect(scores).toContainText('32×4×16×12 · 32×4×8×12 → 32×4×16×8');
  await expect(cross.filter({ hasText: 'cross-attention K,V projection (encoder output)' })).toContainText('32×8×48 · 48×96 → 32×8×96');
  await expect(table.locator('tr[data-pass="forward"][data-stack="encoder"]')).toHaveCount(6);
  await expect(table).toContainText('decoder self-attention scores Q·Kᵀ');
  await expect(page.getByTestId('flops-total')).toHaveAttribute('data-value', String(flops.total));
  await expect(page.getByTestId('flops-attention')).toHaveAttribute('data-value', String(flops.attention));
  await table.scrollIntoViewIfNeeded();
  await page.getByTestId('matmul-view').screenshot({ path: `${SCREENSHOT_DIR}/teaching-einsums-encdec.png` });
  // The cross-attention rows at the page's size.
  await scores.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOT_DIR}/teaching-einsums-encdec-cross.png` });

  // The config's source length and context change the counts.
  await page.getByTestId('source-length').fill('12');
  await page.getByTestId('context').fill('20');
  await expect(scores).toContainText('32×4×20×12 · 32×4×12×12 → 32×4×20×12');
  await expect(page.getByTestId('flops-total')).toHaveAttribute('data-value', String(pageFlops({ ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'reverse', sourceLength: 12, contextLength: 20 }).flops.total));

  // The classifier: its encoder's blocks and the classifier head, no cross-attention.
  await page.getByTestId('architecture').selectOption('encoder');
  await expect(table).toHaveAttribute('data-architecture', 'encoder');
  await expect(table.locator('tr[data-attention="cross"]')).toHaveCount(0);
  await expect(table.locator('tr[data-stack="head"][data-pass="forward"]')).toContainText('btd,dc->btc');
  await page.getByTestId('matmul-view').screenshot({ path: `${SCREENSHOT_DIR}/teaching-einsums-encoder.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(violations).toEqual([]);
});

test('the positional-encoding heatmap follows the config\'s context length', async ({ page }) => {
  const errors = collectPageErrors(page);
  await openReady(page, '?preset=tiny&context=24');
  await open(page, /Positional encodings/, 'positional-view');
  const heatmap = page.getByTestId('pe-heatmap');
  await expect(heatmap).toHaveAttribute('data-rows', '24');
  await expect(page.getByTestId('pe-context')).toHaveValue('24');
  await expect(page.getByTestId('pe-learned-note')).toContainText('table of 24 × 48');
  // Changing the context in the config follows; clearing it goes back to the preset's 16.
  await page.getByTestId('context').fill('40');
  await expect(heatmap).toHaveAttribute('data-rows', '40');
  await page.getByTestId('context').fill('');
  await expect(heatmap).toHaveAttribute('data-rows', '16');
  // The encoder-decoder's encoder has a table of its own, over the task's 8 source positions.
  await page.getByTestId('architecture').selectOption('encoder-decoder');
  await expect(page.getByTestId('pe-learned-note')).toContainText("the encoder's own table of 8 × 48");
  await page.getByTestId('positional-view').screenshot({ path: `${SCREENSHOT_DIR}/teaching-positional-encdec.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('the mesh view shows what each device holds and gathers, and the bytes follow the sharding', async ({ page }) => {
  const errors = collectPageErrors(page);
  const violations = cspViolations(page);
  await openReady(page);
  await open(page, /Sharding one matmul/, 'mesh-view');
  const total = page.getByTestId('mesh-bytes-total');
  const dims = { M: 2048, K: 1024, N: 4096 };
  const expected = (name: keyof typeof STRATEGIES, reduce: 'all-reduce' | 'reduce-scatter' = 'all-reduce') => String(planShardedMatmul({ ...STRATEGIES[name].sharding, reduce }, dims).bytes.total);
  // Data + model parallel: nothing to move.
  await expect(page.getByTestId('mesh-strategy')).toHaveValue('data-model');
  await expect(total).toHaveAttribute('data-value', '0');
  await expect(page.getByTestId('mesh-device-0').locator('rect')).not.toHaveCount(0);
  await expect(page.getByRole('list', { name: /8 devices/ }).getByRole('listitem')).toHaveCount(8);
  await page.getByTestId('mesh-view').screenshot({ path: `${SCREENSHOT_DIR}/teaching-mesh-data-model.png` });

  // Fully sharded storage: gathers of A over model and B over data.
  await page.getByTestId('mesh-strategy').selectOption('fully-sharded');
  await expect(total).toHaveAttribute('data-value', expected('fully-sharded'));
  expect(Number(await total.getAttribute('data-value'))).toBeGreaterThan(0);
  await expect(page.getByTestId('mesh-bytes-a')).toHaveAttribute('data-value', String(0.75 * 1024 * 1024 * 4));
  await expect(page.getByTestId('mesh-device-5')).toHaveAttribute('aria-label', /data 1, model 1; receives/);
  await page.getByTestId('mesh-view').screenshot({ path: `${SCREENSHOT_DIR}/teaching-mesh-fully-sharded.png` });

  // K split by model: partial sums; a reduce-scatter moves half what an all-reduce does.
  await page.getByTestId('mesh-strategy').selectOption('k-sharded');
  await expect(total).toHaveAttribute('data-value', expected('k-sharded'));
  const reduce = page.getByTestId('mesh-reduce');
  await expect(reduce).toBeEnabled();
  await reduce.selectOption('reduce-scatter');
  await expect(total).toHaveAttribute('data-value', expected('k-sharded', 'reduce-scatter'));
  await page.getByTestId('mesh-view').screenshot({ path: `${SCREENSHOT_DIR}/teaching-mesh-k-sharded.png` });

  // Replicated: no bytes, but 8× the work.
  await page.getByTestId('mesh-strategy').selectOption('replicated');
  await expect(total).toHaveAttribute('data-value', '0');
  await expect(page.getByTestId('mesh-bytes')).toContainText('8 × 2·M·N·K');
  await expect(reduce).toBeDisabled();

  // A custom layout from the per-axis selects, with the keyboard; the sizes scale the bytes.
  const bCols = page.getByTestId('mesh-b-cols');
  await page.getByTestId('mesh-a-cols').selectOption('model');
  await expect(page.getByTestId('mesh-strategy')).toHaveValue('custom');
  const before = Number(await total.getAttribute('data-value'));
  expect(before).toBeGreaterThan(0);
  await page.getByTestId('mesh-m').selectOption('4096');
  await expect(total).toHaveAttribute('data-value', String(2 * before));
  await bCols.focus();
  await page.keyboard.press('ArrowDown');
  await expect(bCols).not.toHaveValue('none');

  // The view at the page's size, scrolled into view.
  await page.getByTestId('mesh-strategy').selectOption('fully-sharded');
  await page.getByTestId('mesh-device-0').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOT_DIR}/teaching-mesh-viewport.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(violations).toEqual([]);
});

test('?hide= takes a teaching view out of the page', async ({ page }) => {
  await openReady(page, '?hide=mesh,positions');
  await expect(page.getByTestId('matmul-view')).toBeVisible();
  await expect(page.getByTestId('mesh-view')).toHaveCount(0);
  await expect(page.getByTestId('positional-view')).toHaveCount(0);
  await openReady(page, '?hide=teaching');
  await expect(page.getByRole('button', { name: 'Start' })).toBeVisible();
  await expect(page.getByTestId('matmul-view')).toHaveCount(0);
});
