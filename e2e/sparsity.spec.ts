// The 2:4 sparsity lab: a tiny lab (dense + one-shot, a few steps each of the tiny model: SwiftShader is
// slow) trains in its own Web Worker on the browser's WebGPU and shows the overlaid loss curves with the
// prune point, the per-layer share of zeros with the 50% line, the mask of a chosen weight matrix on a
// zoomable canvas (checked pixel by pixel against the pattern it claims), and the summary; a read-back
// can be asked during a run, and Cancel ends the worker; a phase schedule that does not fit the steps
// shows the engine's message and starts nothing.
import { expect, type Page, test } from '@playwright/test';
import { collectCspViolations, collectPageErrors, openReady, QUICK, SCREENSHOT_DIR, waitForPhase } from './helpers';

const SPARSITY_WORKER = /\/assets\/sparsity-worker-[^/]*\.js$/;

async function openLab(page: Page): Promise<void> {
  const button = page.getByTestId('sparsity-lab').getByRole('button', { name: /2:4 sparsity lab/ });
  await expect(button).toHaveAttribute('aria-expanded', 'false');
  await button.click();
  await expect(button).toHaveAttribute('aria-expanded', 'true');
}

function labWorkers(page: Page): string[] {
  return page
    .workers()
    .map((w) => w.url())
    .filter((u) => SPARSITY_WORKER.test(u));
}

/** Only the given recipes checked. */
async function chooseRecipes(page: Page, keep: string[]): Promise<void> {
  for (const r of ['dense', 'oneshot', 'progressive', 'sparse-qat']) {
    const box = page.getByTestId(`sparsity-recipe-${r}`);
    if (keep.includes(r)) await box.check();
    else await box.uncheck();
  }
}

async function setSteps(page: Page, steps: number, batch: number): Promise<void> {
  await page.getByTestId('sparsity-steps').fill(String(steps));
  await page.getByTestId('sparsity-batch').fill(String(batch));
}

/** Per cell of the mask canvas, whether its centre pixel has the pruned colour (#eceff3). */
async function prunedCells(page: Page): Promise<{ pruned: number; cells: number; groupsWith2: number }> {
  return page.getByTestId('mask-canvas').evaluate((c: HTMLCanvasElement) => {
    const zoom = Number(c.dataset.zoom);
    const rows = Number(c.dataset.rows);
    const cols = Number(c.dataset.cols);
    const img = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const isPruned = (r: number, k: number) => {
      const x = Math.floor(k * zoom + zoom / 2);
      const y = Math.floor(r * zoom + zoom / 2);
      const i = (y * c.width + x) * 4;
      return img[i] === 0xec && img[i + 1] === 0xef && img[i + 2] === 0xf3;
    };
    let pruned = 0;
    let groupsWith2 = 0;
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < cols; g += 4) {
        let z = 0;
        for (let k = g; k < g + 4; k++) if (isPruned(r, k)) z++;
        pruned += z;
        if (z === 2) groupsWith2++;
      }
    }
    return { pruned, cells: rows * cols, groupsWith2 };
  });
}

test('a tiny lab: dense vs one-shot curves with the prune point, per-layer bars, a zoomable mask and the summary', async ({ page }) => {
  test.setTimeout(480_000);
  const errors = collectPageErrors(page);
  const violations = collectCspViolations(page);
  await openReady(page);
  await openLab(page);
  // Nothing runs until asked.
  expect(labWorkers(page)).toEqual([]);
  await expect(page.getByTestId('sparsity-status')).toHaveText('Not run yet.');
  await chooseRecipes(page, ['dense', 'oneshot']);
  await setSteps(page, 6, 4);
  await expect(page.getByTestId('sparsity-phases-oneshot-preview')).toHaveText('dense 3 steps → 2:4 (50% sparse) 3 steps');
  await expect(page.getByTestId('sparsity-phases-progressive')).toBeDisabled();
  await expect(page.getByTestId('sparsity-problems')).toHaveCount(0);
  await page.getByTestId('sparsity-run').click();
  await expect(page.getByTestId('sparsity-cancel')).toBeEnabled();
  const plan = page.getByTestId('sparsity-plan');
  await expect(plan).toContainText('2 layers, d_model 48');
  await expect(plan).toContainText('One-shot (fp32: dense 3 steps → 2:4 (50% sparse) 3 steps)');
  await expect(page.getByTestId('sparsity-adapter')).toContainText('GPU:', { timeout: 60_000 });
  const status = page.getByTestId('sparsity-status');
  await expect(status).toContainText(/Recipe \d of 2/, { timeout: 120_000 });
  await expect(status).toHaveAttribute('data-phase', 'done', { timeout: 420_000 });
  await expect(status).toContainText('2 recipes trained and evaluated');
  await expect.poll(() => labWorkers(page)).toEqual([]);

  // Curves: two lines, the prune point after step 3.
  const curves = page.getByTestId('sparsity-curves');
  await expect(curves).toHaveAttribute('data-lines', '2');
  await expect(curves).toHaveAttribute('data-markers', '1');
  await expect(curves.locator('path.recharts-line-curve')).toHaveCount(2);
  await expect(curves.locator('.recharts-reference-line')).toHaveCount(1);
  await expect(curves).toContainText('prune 1');
  await expect(page.getByTestId('sparsity-markers')).toHaveText('after step 3: one-shot → 2:4');
  await expect(curves.locator('.recharts-legend-wrapper')).toContainText('Dense');
  await expect(curves.locator('.recharts-legend-wrapper')).toContainText('One-shot');
  await expect(curves).toHaveAttribute('aria-label', /after step 3/);

  // Per-layer bars: 8 sparse matrices (2 layers × 4) for each recipe; one-shot's at 50%, dense's at 0.
  const layers = page.getByTestId('sparsity-layers');
  await expect(layers).toHaveAttribute('data-bars', '16');
  expect(await layers.locator('.recharts-bar-rectangle path').count()).toBeGreaterThanOrEqual(8);
  await expect(layers).toContainText('2:4 = 50%');
  await expect(layers).toHaveAttribute('aria-label', /h0 attn\.c_attn Dense 0\.0%, One-shot 50\.0%/);
  await expect(layers).toHaveAttribute('aria-label', /h1 mlp\.c_proj Dense 0\.0%, One-shot 50\.0%/);

  // The mask: one-shot's first matrix (h0 attn.c_attn, 144 outputs × 48 inputs), read back at the end.
  await expect(page.getByTestId('mask-recipe')).toHaveValue('oneshot');
  await expect(page.getByTestId('mask-caption')).toContainText('One-shot after step 6 (2:4 (50% sparse), the end of the recipe)');
  const canvas = page.getByTestId('mask-canvas');
  await expect(canvas).toHaveAttribute('data-rows', '144');
  await expect(canvas).toHaveAttribute('data-cols', '48');
  await expect(page.getByTestId('mask-stats')).toContainText('3456 of 6912 weights pruned (50.0%)');
  await expect(page.getByTestId('mask-stats')).toContainText('0 / 0 / 1728 / 0 / 0 of 1728');
  // The canvas draws what the statistics say: exactly 2 pruned cells in every group of 4.
  expect(await prunedCells(page)).toEqual({ pruned: 3456, cells: 6912, groupsWith2: 1728 });
  // Zoom: in (the canvas grows, groups outlined), out again.
  const zoom0 = Number(await canvas.getAttribute('data-zoom'));
  await page.getByTestId('mask-zoom-in').click();
  const zoom1 = Number(await canvas.getAttribute('data-zoom'));
  expect(zoom1).toBeGreaterThan(zoom0);
  await expect(canvas).toHaveAttribute('data-outlined', 'true');
  expect(await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([48 * zoom1, 144 * zoom1]);
  await expect(page.getByTestId('mask-zoom')).toHaveText(`${zoom1} px per weight`);
  for (let i = 0; i < 12 && (await canvas.getAttribute('data-zoom')) !== '1'; i++) await page.getByTestId('mask-zoom-out').click();
  await expect(canvas).toHaveAttribute('data-zoom', '1');
  await expect(canvas).toHaveAttribute('data-outlined', 'false');
  await page.getByTestId('mask-zoom-in').click();
  await page.getByTestId('mask-zoom-in').click();
  await page.getByTestId('mask-zoom-in').click();
  await page.getByTestId('mask-zoom-in').click();
  await page.getByTestId('mask-zoom-in').click();
  await expect(canvas).toHaveAttribute('data-zoom', '8');
  // The weight under the pointer.
  await canvas.hover({ position: { x: 8 * 5 + 4, y: 8 * 2 + 4 } });
  await expect(page.getByTestId('mask-readout')).toContainText(/^output 2, input 5 \(group 1, position 1\): w = (0 \(pruned\)|-?[\d.e-]+ \(kept\)); this group has 2 zeros$/);
  // Zoomed in far: the outlined groups of 4, 2 kept (blue) and 2 pruned (grey) in each.
  for (let i = 0; i < 3; i++) await page.getByTestId('mask-zoom-in').click();
  await expect(canvas).toHaveAttribute('data-zoom', '24');
  expect(await prunedCells(page)).toEqual({ pruned: 3456, cells: 6912, groupsWith2: 1728 });
  await page.mouse.move(0, 0);
  await page.getByTestId('sparsity-mask-view').screenshot({ path: `${SCREENSHOT_DIR}/sparsity-mask-zoomed.png` });
  // Another layer: mlp.c_proj reduces over d_ff = 192 inputs.
  await page.getByTestId('mask-layer').selectOption({ label: 'h1 mlp.c_proj (48×192)' });
  await expect(canvas).toHaveAttribute('data-cols', '192');
  await page.getByTestId('mask-zoom-out').click();
  await expect(page.getByTestId('mask-stats')).toContainText('0 / 0 / 2304 / 0 / 0 of 2304');
  expect(await prunedCells(page)).toEqual({ pruned: 4608, cells: 9216, groupsWith2: 2304 });
  // Dense's matrix keeps every weight.
  await page.getByTestId('mask-recipe').selectOption('dense');
  await expect(page.getByTestId('mask-stats')).toContainText(/^0 of \d+ weights pruned/);

  // Summary: dense and one-shot, the gap to dense, 2:4 kept, the compressed forward.
  const rows = page.getByTestId('sparsity-summary-row');
  await expect(rows).toHaveCount(2);
  const oneshot = page.locator('[data-testid="sparsity-summary-row"][data-recipe="oneshot"]');
  await expect(oneshot.locator('td').nth(1)).toHaveText(/^[+−]\d+\.\d\d%$/);
  await expect(oneshot.locator('td').nth(2)).toHaveText(/^[✓✗] ≤ 2%$/);
  await expect(oneshot.locator('td').nth(3)).toHaveText('50.0%');
  await expect(oneshot.locator('td').nth(4)).toHaveText('0');
  await expect(oneshot).toContainText('compressed 2:4');
  await expect(page.locator('[data-testid="sparsity-summary-row"][data-recipe="dense"] td').nth(3)).toHaveText('0.0%');

  await page.getByTestId('mask-recipe').selectOption('oneshot');
  await page.getByTestId('mask-layer').selectOption({ label: 'h0 attn.c_attn (144×48)' });
  await page.getByTestId('sparsity-lab').scrollIntoViewIfNeeded();
  await page.mouse.move(0, 0);
  await page.getByTestId('sparsity-lab').screenshot({ path: `${SCREENSHOT_DIR}/sparsity-lab.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(violations).toEqual([]);
});

test('a phase schedule that does not fit the steps shows the engine\'s message and starts nothing', async ({ page }) => {
  const errors = collectPageErrors(page);
  await openReady(page);
  await openLab(page);
  await page.getByTestId('sparsity-steps').fill('10');
  await page.getByTestId('sparsity-phases-progressive').fill('5, 5, 5');
  const problems = page.getByTestId('sparsity-problems');
  await expect(problems).toBeVisible();
  await expect(problems).toContainText('Progressive, Sparse-QAT + distillation: sparsity-phases 5,5,5 do not fit the budget of 10 steps: as step counts they sum to 15, not 10; as fractions they must sum to 1');
  await expect(page.getByTestId('sparsity-phases-progressive')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId('sparsity-phases-progressive-preview')).toContainText('do not fit the budget of 10 steps');
  await expect(page.getByTestId('sparsity-run')).toBeDisabled();
  await page.getByTestId('sparsity-run').click({ force: true });
  await expect(page.getByTestId('sparsity-status')).toHaveText('Not run yet.');
  expect(labWorkers(page)).toEqual([]);
  // A schedule that fits clears it.
  await page.getByTestId('sparsity-phases-progressive').fill('4, 3, 3');
  await expect(problems).toHaveCount(0);
  await expect(page.getByTestId('sparsity-phases-progressive-preview')).toHaveText('dense 4 steps → 25% sparse (1 of 4) 3 steps → 2:4 (50% sparse) 3 steps');
  await expect(page.getByTestId('sparsity-run')).toBeEnabled();
  await page.getByTestId('sparsity-lab').screenshot({ path: `${SCREENSHOT_DIR}/sparsity-lab-bad-phases.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('the running recipe\'s weights can be read back on request, and Cancel ends the worker', async ({ page }) => {
  test.setTimeout(240_000);
  const errors = collectPageErrors(page);
  await openReady(page);
  await openLab(page);
  await chooseRecipes(page, ['oneshot']);
  await setSteps(page, 60, 4);
  await page.getByTestId('sparsity-phases-oneshot').fill('2, 58');
  await page.getByTestId('sparsity-run').click();
  const status = page.getByTestId('sparsity-status');
  // Past the prune point (after step 2): the read-back shows the 2:4 pattern.
  await expect.poll(async () => Number(/One-shot, step (\d+) of 60/.exec((await status.textContent()) ?? '')?.[1] ?? 0), { timeout: 180_000 }).toBeGreaterThanOrEqual(3);
  await page.getByTestId('mask-read-now').click();
  const caption = page.getByTestId('mask-caption');
  await expect(caption).toContainText('read back on request', { timeout: 60_000 });
  await expect(caption).toContainText('2:4 (50% sparse)');
  await expect(page.getByTestId('mask-stats')).toContainText('0 / 0 / 1728 / 0 / 0 of 1728');
  await page.getByTestId('sparsity-cancel').click();
  await expect(status).toHaveAttribute('data-phase', 'cancelled');
  await expect.poll(() => labWorkers(page)).toEqual([]);
  await expect(page.getByTestId('sparsity-run')).toBeEnabled();
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('all four recipes: Sparse-QAT distills from the lab\'s dense run; prune points of one-shot and progressive', async ({ page }) => {
  test.setTimeout(480_000);
  const errors = collectPageErrors(page);
  await openReady(page);
  await openLab(page);
  await setSteps(page, 8, 4);
  // Progressive (and Sparse-QAT): dense 4 → 25% 2 → 2:4 2.
  await expect(page.getByTestId('sparsity-phases-progressive-preview')).toHaveText('dense 4 steps → 25% sparse (1 of 4) 2 steps → 2:4 (50% sparse) 2 steps');
  await page.getByTestId('sparsity-run').click();
  await expect(page.getByTestId('sparsity-plan')).toContainText("Sparse-QAT's teacher: this lab's dense run");
  const status = page.getByTestId('sparsity-status');
  await expect(status).toHaveAttribute('data-phase', 'done', { timeout: 450_000 });
  await expect(status).toContainText('4 recipes trained and evaluated');
  const curves = page.getByTestId('sparsity-curves');
  await expect(curves).toHaveAttribute('data-lines', '4');
  await expect(curves).toHaveAttribute('data-markers', '2');
  await expect(curves).toHaveAttribute('aria-label', /after step 4 \(prune: one-shot → 2:4, progressive → 25%, Sparse-QAT → 25%\); after step 6 \(prune: progressive → 2:4, Sparse-QAT → 2:4\)/);
  await expect(page.getByTestId('sparsity-markers').locator('li')).toHaveText(['after step 4: one-shot → 2:4, progressive → 25%, Sparse-QAT → 25%', 'after step 6: progressive → 2:4, Sparse-QAT → 2:4']);
  await expect(page.getByTestId('sparsity-layers')).toHaveAttribute('data-bars', '32');
  await expect(page.getByTestId('sparsity-summary-row')).toHaveCount(4);
  const qat = page.locator('[data-testid="sparsity-summary-row"][data-recipe="sparse-qat"]');
  await expect(qat.locator('td').nth(2)).toHaveText(/^[✓✗] ≤ 3%$/);
  await expect(qat.locator('td').nth(3)).toHaveText('50.0%');
  await expect(qat.locator('td').nth(4)).toHaveText('0');
  await expect(page.getByTestId('sparsity-order')).toContainText(/Progressive (recovered more than|and one-shot recovered the same|recovered less than)/);
  await page.getByTestId('mask-recipe').selectOption('sparse-qat');
  await expect(page.getByTestId('mask-stats')).toContainText('0 / 0 / 1728 / 0 / 0 of 1728');
  await page.getByText('Kernel paths').click();
  await expect(page.locator('.sparsity-paths')).toContainText(/Sparse-QAT \+ distillation:.*Sparse-QAT: INT8 fake quantization.*distillation from a dense teacher/);
  await page.getByTestId('sparsity-lab').scrollIntoViewIfNeeded();
  await page.mouse.move(0, 0);
  await page.getByTestId('sparsity-lab').screenshot({ path: `${SCREENSHOT_DIR}/sparsity-lab-four.png` });
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('Sparse-QAT\'s teacher chosen from the finished runs: one of the same model teaches, another model is refused before anything runs', async ({ page }) => {
  test.setTimeout(360_000);
  const errors = collectPageErrors(page);
  // A finished dense FP32 run of the tiny model on names, from the main training page.
  await openReady(page, `?${QUICK}&precision=fp32&steps=2&measure=0`);
  await page.getByRole('button', { name: 'Start' }).click();
  await waitForPhase(page, 'Done', 180_000);
  await openLab(page);
  await chooseRecipes(page, ['sparse-qat']);
  await setSteps(page, 4, 4);
  const teacher = page.getByTestId('sparsity-teacher');
  const option = teacher.locator('option', { hasText: /finished run: fp32 · names · tiny · seed 1/ });
  await expect(option).toHaveCount(1);
  await teacher.selectOption({ label: (await option.textContent())! });
  // The lab's own dense run is not needed then.
  await expect(page.getByTestId('sparsity-added')).toHaveCount(0);
  // Another model (small) for the student: the teacher does not fit, and nothing can start.
  await page.getByTestId('sparsity-preset').selectOption('small');
  const problems = page.getByTestId('sparsity-problems');
  await expect(problems).toContainText('Sparse-QAT teacher: the teacher run "fp32 · names · tiny · seed 1" has another model than the student: nLayer 2 (the student has 4)');
  await expect(problems).toContainText('distillation needs the same architecture and config');
  await expect(page.getByTestId('sparsity-run')).toBeDisabled();
  expect(labWorkers(page)).toEqual([]);
  // The same model: Sparse-QAT trains alone, distilled from that run.
  await page.getByTestId('sparsity-preset').selectOption('tiny');
  await expect(problems).toHaveCount(0);
  await page.getByTestId('sparsity-run').click();
  await expect(page.getByTestId('sparsity-plan')).toContainText('Sparse-QAT\'s teacher: the finished run "fp32 · names · tiny · seed 1"');
  const status = page.getByTestId('sparsity-status');
  await expect(status).toHaveAttribute('data-phase', 'done', { timeout: 240_000 });
  await expect(status).toContainText('1 recipe trained and evaluated');
  const row = page.locator('[data-testid="sparsity-summary-row"][data-recipe="sparse-qat"]');
  await expect(row.locator('td').nth(1)).toHaveText('no dense run');
  await expect(row.locator('td').nth(4)).toHaveText('0');
  expect(errors.map((e) => e.message)).toEqual([]);
});
