// The sparsity lab's pure parts: the config's checks (the engine's own messages, before any GPU work),
// the recipes' run configs, the reducer of the worker's messages, and the data of the views, against
// hand computations.
import { describe, expect, it } from 'vitest';
import { DEFAULT_DISTILL } from '../engine/sparsity/config';
import type { LayerSparsity } from '../engine/sparsity/recipes-run';
import {
  cellAt,
  cellColor,
  classifyError,
  curveChartData,
  DEFAULT_LAB_CONFIG,
  fitZoom,
  formatGap,
  INITIAL_LAB_STATE,
  type LabAction,
  type LabConfig,
  type LabState,
  labProblems,
  labProgress,
  labReducer,
  labRunConfigs,
  layerBarData,
  MAX_CURVE_POINTS,
  maskStats,
  parsePhaseText,
  phasePreview,
  pruneMarkers,
  recoverySummary,
  shortLayerName,
  smoothLosses,
  stepZoom,
  zoomLevelsFor,
} from './sparsity-lab';
import type { PlannedRecipe, RecipeSummary, WeightSnapshot } from './sparsity-messages';

const config = (patch: Partial<LabConfig> = {}): LabConfig => ({ ...DEFAULT_LAB_CONFIG, ...patch });

describe('phase lengths as typed', () => {
  it('reads fractions, percentages and step counts; refuses anything else with what to write', () => {
    expect(parsePhaseText('0.5, 0.5')).toEqual([0.5, 0.5]);
    expect(parsePhaseText('50%,25%, 25%')).toEqual([0.5, 0.25, 0.25]);
    expect(parsePhaseText('150,150')).toEqual([150, 150]);
    for (const bad of ['half, half', '', '0.5,', '-0.5, 1.5', '%, 1']) {
      const r = parsePhaseText(bad);
      expect('error' in r && r.error, bad).toMatch(/is not a list of phase lengths: write fractions \(0\.5, 0\.5\), percentages \(50%, 50%\) or step counts/);
    }
  });

  it('previews the phases the engine resolves (cumulative rounding of the fractions)', () => {
    const p = phasePreview(config({ steps: 10, progressivePhases: '0.33, 0.33, 0.34' }), 'progressive');
    // Boundaries round(3.3) = 3 and round(6.6) = 7: 3, 4, 3 steps.
    expect('phases' in p && p.phases.map((x) => [x.start, x.steps, x.keep])).toEqual([[0, 3, 4], [3, 4, 3], [7, 3, 2]]);
    expect(phasePreview(config({ steps: 10, oneshotPhases: '4, 4' }), 'oneshot')).toEqual({ error: expect.stringMatching(/do not fit the budget of 10 steps/) });
  });
});

describe('the recipes\' run configs', () => {
  it('one per recipe in order, on the tiny preset, with the recipe\'s sparsity; Sparse-QAT on FP32 with distillation', () => {
    const runs = labRunConfigs(config({ precision: 'int8', steps: 40 }), 54);
    expect(runs.map((r) => r.recipe)).toEqual(['dense', 'oneshot', 'progressive', 'sparse-qat']);
    for (const r of runs) {
      expect(r.config.model).toMatchObject({ nLayer: 2, dModel: 48, nHead: 4, dFF: 192, contextLength: 16, vocabSize: 54 });
      expect(r.config.train).toMatchObject({ steps: 40, seed: 1, batchSize: 32, lr: 3e-3, checkpointEvery: 0, measureEvery: 0 });
      expect(r.config.dataset).toBe('names');
    }
    const [dense, oneshot, progressive, qat] = runs.map((r) => r.config.train);
    expect(dense).toMatchObject({ precision: 'int8', sparsity: undefined, sparsitySchedule: undefined, distill: undefined });
    expect(oneshot).toMatchObject({ precision: 'int8', sparsity: 'oneshot', sparsityPhases: [0.5, 0.5], sparsitySchedule: 'restart' });
    expect(progressive).toMatchObject({ precision: 'int8', sparsity: 'progressive', sparsityPhases: [0.5, 0.25, 0.25] });
    expect(qat).toMatchObject({ precision: 'fp32', sparsity: 'progressive', sparseQat: true, distill: DEFAULT_DISTILL });
  });

  it('adds the dense teacher for Sparse-QAT unless a finished run teaches', () => {
    expect(labRunConfigs(config({ recipes: ['sparse-qat'] }), 54).map((r) => r.recipe)).toEqual(['dense', 'sparse-qat']);
    const teacher = { kind: 'run' as const, runId: 'r1', label: 'fp32 · names · tiny · seed 1', preset: 'tiny' as const, dataset: 'names' as const };
    expect(labRunConfigs(config({ recipes: ['sparse-qat'], teacher }), 54).map((r) => r.recipe)).toEqual(['sparse-qat']);
  });
});

describe('problems before any GPU work', () => {
  it('none for the defaults (Sparse-QAT is FP32 whatever the precision of the others)', () => {
    expect(labProblems(config())).toEqual([]);
    expect(labProblems(config({ precision: 'int4' }))).toEqual([]);
  });

  it('a phase schedule that does not fit the steps: the engine\'s message, once for the recipes sharing it', () => {
    expect(labProblems(config({ steps: 10, progressivePhases: '5, 5, 5' }))).toEqual([
      'Progressive, Sparse-QAT + distillation: sparsity-phases 5,5,5 do not fit the budget of 10 steps: as step counts they sum to 15, not 10; as fractions they must sum to 1',
    ]);
    expect(labProblems(config({ steps: 1, oneshotPhases: '0.9, 0.1', recipes: ['dense', 'oneshot'] }))).toEqual([
      'One-shot: sparsity-phases: the 2:4 (50% sparse) phase gets 0 of the 1 steps; give every sparse phase at least one step (more --steps or a larger share)',
    ]);
    expect(labProblems(config({ oneshotPhases: 'soon' }))[0]).toMatch(/^One-shot phases: "soon" is not a list of phase lengths/);
    // A field no chosen recipe reads is not a problem.
    expect(labProblems(config({ oneshotPhases: 'soon', recipes: ['dense', 'progressive'] }))).toEqual([]);
  });

  it('ranges, and no recipe', () => {
    expect(labProblems(config({ recipes: [] }))).toEqual(['choose at least one recipe']);
    expect(labProblems(config({ steps: 0 }))[0]).toMatch(/steps must be a whole number from 1 to 20000 \(got 0\)/);
    expect(labProblems(config({ batchSize: 1000 }))[0]).toMatch(/batch must be a whole number from 1 to 256/);
  });

  it('a teacher of another model or dataset, named by the engine\'s fields', () => {
    const small = { kind: 'run' as const, runId: 'a', label: 'int4 · names · small · seed 1', preset: 'small' as const, dataset: 'names' as const };
    const [p] = labProblems(config({ teacher: small }));
    expect(p).toMatch(/^Sparse-QAT teacher: the teacher run "int4 · names · small · seed 1" has another model than the student: /);
    expect(p).toContain('nLayer 4 (the student has 2)');
    expect(p).toContain('dModel 128 (the student has 48)');
    expect(p).toMatch(/distillation needs the same architecture and config/);
    // reverse is also an encoder-decoder task: the architecture is checked first.
    expect(labProblems(config({ dataset: 'reverse', teacher: { ...small, preset: 'tiny', dataset: 'reverse', architecture: 'encoder-decoder' } }))[0]).toMatch(
      /the teacher run .* is an encoder-decoder; distillation matches a GPT's final hidden states and next-token logits/,
    );
    expect(labProblems(config({ dataset: 'majority' }))).toEqual(['the lab trains GPTs on names, reverse, sort, addmod (got "majority")']);
    const reverse = { ...small, preset: 'tiny' as const, dataset: 'reverse' as const };
    expect(labProblems(config({ teacher: reverse }))[0]).toMatch(/was trained on reverse, the lab trains on names/);
    expect(labProblems(config({ teacher: { ...small, preset: 'tiny' } }))).toEqual([]);
    // Without Sparse-QAT the teacher does not matter.
    expect(labProblems(config({ teacher: small, recipes: ['dense', 'oneshot'] }))).toEqual([]);
  });
});

const plan: PlannedRecipe[] = [
  { recipe: 'dense', steps: 300, phases: [], precision: 'fp32' },
  { recipe: 'oneshot', steps: 300, phases: [{ start: 0, steps: 150, keep: 4, name: 'dense' }, { start: 150, steps: 150, keep: 2, name: '2:4 (50% sparse)' }], precision: 'fp32' },
  {
    recipe: 'progressive',
    steps: 300,
    phases: [{ start: 0, steps: 150, keep: 4, name: 'dense' }, { start: 150, steps: 75, keep: 3, name: '25% sparse (1 of 4)' }, { start: 225, steps: 75, keep: 2, name: '2:4 (50% sparse)' }],
    precision: 'fp32',
  },
];

function summary(recipe: RecipeSummary['recipe'], valLoss: number, layers: LayerSparsity[] = []): RecipeSummary {
  return { recipe, stepsDone: 10, valLoss, trainLoss: valLoss, seconds: 1, tokensPerSecond: 1, zeroShare: recipe === 'dense' ? 0 : 0.5, groupsViolating: 0, layers, compressedForward: recipe === 'dense' ? null : true, kernelPath: 'k', recipeDescription: null, accuracy: null };
}

describe('the lab\'s state', () => {
  const run = (actions: LabAction[], from: LabState = INITIAL_LAB_STATE) => actions.reduce(labReducer, from);
  const snap = (recipe: WeightSnapshot['recipe'], step: number, final: boolean): WeightSnapshot => ({ recipe, step, phase: 'dense', final, layers: [] });

  it('follows a lab from start to done', () => {
    let s = run([{ type: 'start' }]);
    expect(s.phase).toBe('starting');
    s = run([{ type: 'plan', recipes: plan.slice(0, 2).map((p) => ({ ...p, steps: 10 })), model: 'm', dataset: 'names', teacher: null }, { type: 'adapter', description: 'gpu' }], s);
    expect(s).toMatchObject({ phase: 'running', adapter: 'gpu', model: 'm', dataset: 'names' });
    expect(labProgress(s)).toEqual({ done: 0, total: 20 });
    s = run([
      { type: 'recipe-start', recipe: 'dense', kernelPath: 'fp32 tiles', description: null },
      { type: 'metrics', recipe: 'dense', points: [{ step: 1, loss: 4 }, { step: 2, loss: 3.9 }] },
      { type: 'metrics', recipe: 'dense', points: [{ step: 3, loss: 3.8 }] },
    ], s);
    expect(s.current).toBe('dense');
    expect(s.curves.dense).toEqual([{ step: 1, loss: 4 }, { step: 2, loss: 3.9 }, { step: 3, loss: 3.8 }]);
    expect(labProgress(s)).toEqual({ done: 3, total: 20 });
    // A read-back asked during the run; the asked (non-final) snapshot clears the request.
    s = run([{ type: 'request-snapshot' }], s);
    expect(s.snapshotPending).toBe(true);
    s = run([{ type: 'weights', snapshot: snap('dense', 3, false) }], s);
    expect(s.snapshotPending).toBe(false);
    expect(s.snapshots.dense?.step).toBe(3);
    s = run([
      { type: 'weights', snapshot: snap('dense', 10, true) },
      { type: 'recipe-done', result: summary('dense', 2) },
      { type: 'recipe-start', recipe: 'oneshot', kernelPath: 'k', description: '2:4 sparsity, oneshot' },
      { type: 'metrics', recipe: 'oneshot', points: [{ step: 1, loss: 4 }] },
    ], s);
    expect(labProgress(s)).toEqual({ done: 11, total: 20 });
    expect(s.snapshots.dense?.step).toBe(10);
    expect(s.descriptions.oneshot).toBe('2:4 sparsity, oneshot');
    s = run([{ type: 'recipe-done', result: summary('oneshot', 2.1) }, { type: 'done', seconds: 12.5 }], s);
    expect(s).toMatchObject({ phase: 'done', current: null, seconds: 12.5 });
    expect(labProgress(s)).toEqual({ done: 20, total: 20 });
    // A terminated worker's late messages, and read-back requests, change nothing after the end.
    expect(run([{ type: 'metrics', recipe: 'oneshot', points: [{ step: 2, loss: 1 }] }, { type: 'request-snapshot' }], s)).toBe(s);
  });

  it('a read-back is only asked while a recipe trains; cancel and errors end a busy lab only', () => {
    expect(run([{ type: 'start' }, { type: 'request-snapshot' }]).snapshotPending).toBe(false);
    expect(run([{ type: 'cancel' }])).toBe(INITIAL_LAB_STATE);
    const busy = run([{ type: 'start' }, { type: 'adapter', description: 'g' }, { type: 'recipe-start', recipe: 'dense', kernelPath: 'k', description: null }]);
    expect(run([{ type: 'cancel' }], busy)).toMatchObject({ phase: 'cancelled', current: null });
    expect(run([{ type: 'error', kind: 'teacher', message: 'bad teacher' }], busy)).toMatchObject({ phase: 'error', error: { kind: 'teacher', message: 'bad teacher' } });
    expect(run([{ type: 'worker-error', message: 'Device was lost' }], busy).error?.kind).toBe('device-lost');
    // A new start forgets the last lab.
    expect(run([{ type: 'start' }], run([{ type: 'metrics', recipe: 'dense', points: [{ step: 1, loss: 1 }] }], busy))).toEqual({ ...INITIAL_LAB_STATE, phase: 'starting' });
  });

  it('classifies errors from their messages', () => {
    expect(classifyError('Out of memory while allocating')).toBe('out-of-memory');
    expect(classifyError('WebGPU is not available in this browser')).toBe('unavailable');
    expect(classifyError('something else')).toBe('failed');
  });
});

describe('view data', () => {
  it('smooths with a bias-corrected moving average (by hand) and skips non-finite losses', () => {
    const pts = [{ step: 1, loss: 4 }, { step: 2, loss: 2 }, { step: 3, loss: NaN }, { step: 4, loss: 3 }];
    // β = 0.5: s1 = 2 → 2/(1 − 0.5) = 4; s2 = 1 + 1 = 2 → 2/0.75; s3 (step 4) = 1 + 1.5 = 2.5 → 2.5/0.875.
    const s = smoothLosses(pts, 0.5);
    expect(s.map((p) => p.step)).toEqual([1, 2, 4]);
    expect(s[0].loss).toBeCloseTo(4, 12);
    expect(s[1].loss).toBeCloseTo(2 / 0.75, 12);
    expect(s[2].loss).toBeCloseTo(2.5 / 0.875, 12);
    expect(smoothLosses(pts, 0)).toEqual([pts[0], pts[1], pts[3]]);
  });

  it('overlays the curves by step under recharts-safe keys, thinning long runs but keeping the last step', () => {
    const rows = curveChartData({ dense: [{ step: 1, loss: 3 }, { step: 2, loss: 2 }], 'sparse-qat': [{ step: 2, loss: 2.5 }] }, 0);
    expect(rows).toEqual([{ step: 1, dense: 3 }, { step: 2, dense: 2, sparse_qat: 2.5 }]);
    const long = Array.from({ length: 2000 }, (_, i) => ({ step: i + 1, loss: 1 }));
    const thinned = curveChartData({ oneshot: long }, 0);
    expect(thinned.length).toBeLessThanOrEqual(MAX_CURVE_POINTS + 1);
    expect(thinned[thinned.length - 1].step).toBe(2000);
    expect(thinned[0].step).toBe(1);
  });

  it('marks the prune points between steps, one marker per step shared by the recipes that prune there', () => {
    const markers = pruneMarkers([...plan, { ...plan[2], recipe: 'sparse-qat' }]);
    expect(markers.map((m) => [m.x, m.after, m.recipes])).toEqual([
      [150.5, 150, ['oneshot', 'progressive', 'sparse-qat']],
      [225.5, 225, ['progressive', 'sparse-qat']],
    ]);
    expect(markers[0].label).toBe('prune: one-shot → 2:4, progressive → 25%, Sparse-QAT → 25%');
    expect(markers[0].color).toBe('#555555');
    expect(pruneMarkers([plan[1]])[0].color).toBe('#d55e00');
    expect(pruneMarkers([plan[0]])).toEqual([]);
  });

  it('per-layer zero shares in percent, one row per matrix in the model\'s order', () => {
    const layer = (name: string, zeros: number): LayerSparsity => ({ name, rows: 4, cols: 8, zeros, share: zeros / 32, groupsViolating: 0 });
    const rows = layerBarData({
      dense: summary('dense', 2, [layer('transformer.h.0.attn.c_attn.weight', 0), layer('transformer.h.0.mlp.c_proj.weight', 0)]),
      oneshot: summary('oneshot', 2, [layer('transformer.h.0.attn.c_attn.weight', 16), layer('transformer.h.0.mlp.c_proj.weight', 17)]),
    });
    expect(rows).toEqual([
      { layer: 'h0 attn.c_attn', name: 'transformer.h.0.attn.c_attn.weight', shape: '4×8', dense: 0, oneshot: 50 },
      { layer: 'h0 mlp.c_proj', name: 'transformer.h.0.mlp.c_proj.weight', shape: '4×8', dense: 0, oneshot: 53.125 },
    ]);
    expect(shortLayerName('lm_head.weight')).toBe('lm_head.weight');
  });

  it('mask statistics of a hand-made matrix', () => {
    const data = Float32Array.from([0, 0, 1, 2, 0, 3, 0, -4, 1, 2, 3, 4, 0, 0, 0, -5]);
    // Row 0: groups with 2 and 2 zeros; row 1: 0 and 3 zeros.
    expect(maskStats({ rows: 2, cols: 8, data })).toEqual({ rows: 2, cols: 8, groups: 4, pruned: 7, groupsByZeros: [1, 0, 2, 1, 0], maxAbs: 5 });
  });

  it('zoom levels keep the canvas within bounds; fit, step and the cell under the pointer', () => {
    expect(zoomLevelsFor(512, 128)).toEqual([1, 2, 3, 4, 6, 8, 12, 16]);
    expect(zoomLevelsFor(144, 48)).toEqual([1, 2, 3, 4, 6, 8, 12, 16, 24, 32]);
    expect(fitZoom(192, 48, 600, 32)).toBe(12);
    expect(fitZoom(192, 48, 600)).toBe(8); // at most OPEN_ZOOM unless asked
    expect(fitZoom(48, 192, 600)).toBe(3);
    expect(fitZoom(48, 192, 100)).toBe(1);
    expect(stepZoom(192, 48, 12, 1)).toBe(16);
    expect(stepZoom(192, 48, 12, -1)).toBe(8);
    expect(stepZoom(192, 48, 32, 1)).toBe(32);
    expect(stepZoom(192, 48, 1, -1)).toBe(1);
    expect(cellAt(25, 13, 12, 192, 48)).toEqual({ row: 1, col: 2 });
    expect(cellAt(48 * 12, 0, 12, 192, 48)).toBeNull();
    expect(cellColor(0, 1)).toBe('#eceff3');
    expect(cellColor(-2, 2)).toBe('rgb(11, 61, 145)');
  });

  it('recovery summary: gap to dense and the targets, by hand', () => {
    const s = recoverySummary({ dense: summary('dense', 2), oneshot: summary('oneshot', 2.03), progressive: summary('progressive', 2.05), 'sparse-qat': summary('sparse-qat', 2.05) });
    expect(s.dense).toBe(2);
    const by = Object.fromEntries(s.rows.map((r) => [r.recipe, r]));
    // (2.03 − 2)/2 = 1.5% ≤ 2%; (2.05 − 2)/2 = 2.5% > 2% (progressive) but ≤ 3% (Sparse-QAT).
    expect(by.oneshot.gap).toBeCloseTo(0.015, 12);
    expect(by.oneshot.withinTarget).toBe(true);
    expect(by.progressive.gap).toBeCloseTo(0.025, 12);
    expect(by.progressive.withinTarget).toBe(false);
    expect(by['sparse-qat'].withinTarget).toBe(true);
    expect(by.dense).toMatchObject({ gap: 0, target: null, withinTarget: null });
    expect(s.progressiveMinusOneshot).toBeCloseTo(0.01, 12);
    // Without a dense result there is no gap.
    const alone = recoverySummary({ 'sparse-qat': summary('sparse-qat', 2.05) });
    expect(alone.rows[0]).toMatchObject({ gap: null, withinTarget: null, target: 0.03 });
    expect(alone.progressiveMinusOneshot).toBeNull();
    expect(formatGap(0.015)).toBe('+1.50%');
    expect(formatGap(-0.0035)).toBe('−0.35%');
  });
});
