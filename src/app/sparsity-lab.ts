// The 2:4 sparsity lab's pure parts (components/SparsityLab.tsx shows them, sparsity-worker.ts runs
// them): the lab's config and every check of it that can be made before GPU work (the engine's own
// validation per recipe, the phase lengths, the teacher), the run configs of its recipes, the lab's
// state as a reducer of the worker's messages, and the data of its views (overlaid loss curves with the
// prune points, per-layer sparsity, the mask pattern, the summary of what the sparse recipes recover).
// The recipes are those of NVIDIA's 2:4 article (../shared/docs/sources.md §2). No DOM, no GPU:
// unit-tested in sparsity-lab.test.ts.
import { classifyError } from './bench';
import { ConfigError, modelConfigFromPreset, type Precision, type TrainConfig } from '../engine/config';
import { DEFAULT_DISTILL, DEFAULT_PHASES, resolvePhases, type SparsityPhase, teacherMismatch } from '../engine/sparsity/config';
import { orderRecipes, planRecipeRuns, type RecipeRun, SPARSITY_RECIPES, type SparsityRecipeName } from '../engine/sparsity/recipes-run';
import { DATASETS_BY_ARCHITECTURE, type DatasetChoice, DEFAULT_CONFIG, MAX_BATCH, MAX_STEPS, type PresetChoice, presetDefaults, trainConfigFor } from './config';
import type { FromSparsityWorker, LabErrorKind, LossPoint, PlannedRecipe, RecipeSummary, WeightMatrix, WeightSnapshot } from './sparsity-messages';

export { SPARSITY_RECIPES, type SparsityRecipeName };

export const RECIPE_LABELS: Record<SparsityRecipeName, string> = {
  dense: 'Dense',
  oneshot: 'One-shot',
  progressive: 'Progressive',
  'sparse-qat': 'Sparse-QAT + distillation',
};

/** Keys safe as recharts dataKeys (no '-', no '.'). */
export const RECIPE_KEYS: Record<SparsityRecipeName, string> = { dense: 'dense', oneshot: 'oneshot', progressive: 'progressive', 'sparse-qat': 'sparse_qat' };

/** Okabe–Ito colours (as charts/colors.ts): dense black, the sparse recipes distinct. */
export const RECIPE_COLORS: Record<SparsityRecipeName, string> = { dense: '#000000', oneshot: '#d55e00', progressive: '#0072b2', 'sparse-qat': '#009e73' };

/** The issue's targets: one-shot and progressive within 2% of the dense validation loss, Sparse-QAT
 *  with distillation within 3%. */
export const RECOVERY_TARGETS: Record<SparsityRecipeName, number | null> = { dense: null, oneshot: 0.02, progressive: 0.02, 'sparse-qat': 0.03 };

/** Sparse-QAT's teacher: the dense run of this lab, or a finished run of the page's runs list (its
 *  architecture: absent for runs saved before the page offered others, i.e. the GPT). */
export type TeacherChoice = { kind: 'lab' } | { kind: 'run'; runId: string; label: string; preset: PresetChoice; dataset: DatasetChoice; architecture?: string };

/** The datasets the lab offers: those of the GPT (distillation matches next-token distributions, and the
 *  lab's models are GPTs). */
export const LAB_DATASETS: readonly DatasetChoice[] = DATASETS_BY_ARCHITECTURE.decoder;

export type LrSchedule = 'restart' | 'continue';

export interface LabConfig {
  recipes: SparsityRecipeName[];
  dataset: DatasetChoice;
  preset: PresetChoice;
  /** Of dense, one-shot and progressive; Sparse-QAT quantizes to INT8 itself (on FP32 weights). */
  precision: Precision;
  steps: number;
  /** undefined: the preset's. */
  batchSize?: number;
  seed: number;
  /** Phase lengths as typed: fractions, percentages or step counts, comma-separated. */
  oneshotPhases: string;
  progressivePhases: string;
  schedule: LrSchedule;
  teacher: TeacherChoice;
}

export const DEFAULT_LAB_CONFIG: LabConfig = {
  recipes: [...SPARSITY_RECIPES],
  dataset: 'names',
  preset: 'tiny',
  precision: 'fp32',
  steps: 300,
  seed: 1,
  oneshotPhases: DEFAULT_PHASES.oneshot.join(', '),
  progressivePhases: DEFAULT_PHASES.progressive.join(', '),
  schedule: 'restart',
  teacher: { kind: 'lab' },
};

// ---------------------------------------------------------------------------------------------------
// The config and its checks

/** Phase lengths typed as "0.5, 0.5", "50%, 50%" or "150, 150" (as the CLI's --sparsity-phases). */
export function parsePhaseText(text: string): number[] | { error: string } {
  const parts = text.split(',').map((p) => p.trim());
  const out: number[] = [];
  for (const t of parts) {
    const v = t.endsWith('%') ? Number(t.slice(0, -1)) / 100 : Number(t);
    if (t === '' || t === '%' || !Number.isFinite(v) || v < 0) {
      return { error: `"${text}" is not a list of phase lengths: write fractions (0.5, 0.5), percentages (50%, 50%) or step counts that sum to the steps (150, 150)` };
    }
    out.push(v);
  }
  return out;
}

/** Which phase field a recipe reads. */
function phaseFieldOf(r: SparsityRecipeName): 'oneshotPhases' | 'progressivePhases' | null {
  return r === 'oneshot' ? 'oneshotPhases' : r === 'progressive' || r === 'sparse-qat' ? 'progressivePhases' : null;
}

/** The recipes that run, in order: dense comes first when Sparse-QAT learns from the lab's dense run. */
export function labRecipes(c: Pick<LabConfig, 'recipes' | 'teacher'>): SparsityRecipeName[] {
  return orderRecipes(c.recipes, c.recipes.includes('sparse-qat') && c.teacher.kind === 'run');
}

/** The train config the recipes share (the page's defaults for a run: preset learning rate, warmup
 *  that fits short runs, every step's loss read back; no checkpoints or measurements). */
function baseTrain(c: LabConfig): TrainConfig {
  const train = trainConfigFor({ ...DEFAULT_CONFIG, dataset: c.dataset, preset: c.preset, precision: c.precision, steps: c.steps, seed: c.seed, batchSize: c.batchSize, measureEvery: 0, checkpointEvery: 0 });
  return { ...train, sparsitySchedule: c.schedule };
}

/** One recipe's run config; Sparse-QAT on FP32 weights (it fake-quantizes them to INT8 itself). Throws
 *  ConfigError (the engine's message) or the phase text's error. */
function recipeRun(c: LabConfig, r: SparsityRecipeName, vocabSize: number): RecipeRun {
  const phases = (field: 'oneshotPhases' | 'progressivePhases') => {
    const p = parsePhaseText(c[field]);
    if ('error' in p) throw new ConfigError(p.error);
    return p;
  };
  const base = baseTrain(c);
  const train = r === 'sparse-qat' ? { ...base, precision: 'fp32' as const } : base;
  const [run] = planRecipeRuns(modelConfigFromPreset(c.preset, vocabSize), train, c.dataset, [r], [c.seed], {
    oneshotPhases: r === 'oneshot' ? phases('oneshotPhases') : undefined,
    progressivePhases: r === 'progressive' || r === 'sparse-qat' ? phases('progressivePhases') : undefined,
    distill: DEFAULT_DISTILL,
  });
  return run;
}

/** The run configs of the lab's recipes for a dataset of `vocabSize` tokens, in order. Throws
 *  ConfigError naming the recipe. */
export function labRunConfigs(c: LabConfig, vocabSize: number): RecipeRun[] {
  return labRecipes(c).map((r) => {
    try {
      return recipeRun(c, r, vocabSize);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${RECIPE_LABELS[r]}: ${e.message}`);
      throw e;
    }
  });
}

/** Why a chosen run cannot teach the lab's student, or null. The page knows a run's preset and dataset;
 *  the worker checks the checkpoint itself (the engine's teacherError) before any GPU work. */
export function teacherProblem(c: Pick<LabConfig, 'preset' | 'dataset'>, t: TeacherChoice): string | null {
  if (t.kind !== 'run') return null;
  if (t.architecture !== undefined && t.architecture !== 'decoder') {
    return `the teacher run "${t.label}" is an ${t.architecture}; distillation matches a GPT's final hidden states and next-token logits: choose a finished GPT run of the ${c.preset} model on ${c.dataset}, or the lab's own dense run`;
  }
  if (t.dataset !== c.dataset) {
    return `the teacher run "${t.label}" was trained on ${t.dataset}, the lab trains on ${c.dataset}: distillation matches the next-character distributions over the same characters; choose a run on ${c.dataset}, or the lab's own dense run`;
  }
  // Any vocabulary stands in: both models are built for the same dataset.
  const diffs = teacherMismatch(modelConfigFromPreset(c.preset, 64), modelConfigFromPreset(t.preset, 64));
  if (diffs.length) {
    return `the teacher run "${t.label}" has another model than the student: ${diffs.join(', ')}; distillation needs the same architecture and config: choose a finished run of the ${c.preset} model, or the lab's own dense run`;
  }
  return null;
}

/** Every problem that can be seen before a lab starts, as messages a user can act on. */
export function labProblems(c: LabConfig): string[] {
  const problems: string[] = [];
  if (c.recipes.length === 0) problems.push('choose at least one recipe');
  if (!LAB_DATASETS.includes(c.dataset)) problems.push(`the lab trains GPTs on ${LAB_DATASETS.join(', ')} (got ${JSON.stringify(c.dataset)})`);
  if (!(Number.isInteger(c.steps) && c.steps >= 1 && c.steps <= MAX_STEPS)) problems.push(`steps must be a whole number from 1 to ${MAX_STEPS} (got ${c.steps})`);
  if (c.batchSize !== undefined && !(Number.isInteger(c.batchSize) && c.batchSize >= 1 && c.batchSize <= MAX_BATCH)) problems.push(`batch must be a whole number from 1 to ${MAX_BATCH} (got ${c.batchSize})`);
  if (!(Number.isInteger(c.seed) && c.seed >= 0 && c.seed < 2 ** 32)) problems.push(`seed must be a whole number from 0 to 2³² − 1 (got ${c.seed})`);
  if (problems.length) return problems;
  // The engine's validation, recipe by recipe; one message for the recipes that share it (progressive
  // and Sparse-QAT share their phases).
  const byMessage = new Map<string, SparsityRecipeName[]>();
  for (const r of labRecipes(c)) {
    try {
      recipeRun(c, r, 64);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      // Not split at '; ': the engine joins its messages with it, but one message may hold it too.
      byMessage.set(e.message, [...(byMessage.get(e.message) ?? []), r]);
    }
  }
  for (const [m, rs] of byMessage) {
    const field = phaseFieldOf(rs[0]);
    const where = field && m.startsWith('"') ? (field === 'oneshotPhases' ? 'One-shot phases' : 'Progressive phases') : rs.map((r) => RECIPE_LABELS[r]).join(', ');
    problems.push(`${where}: ${m}`);
  }
  if (c.recipes.includes('sparse-qat')) {
    const t = teacherProblem(c, c.teacher);
    if (t) problems.push(`Sparse-QAT teacher: ${t}`);
  }
  return problems;
}

/** The phases a recipe will run through for the typed lengths (for a preview next to the fields), or
 *  the reason it cannot. */
export function phasePreview(c: LabConfig, r: 'oneshot' | 'progressive'): { phases: SparsityPhase[] } | { error: string } {
  const p = parsePhaseText(r === 'oneshot' ? c.oneshotPhases : c.progressivePhases);
  if ('error' in p) return p;
  if (!(Number.isInteger(c.steps) && c.steps >= 1)) return { error: 'set the steps first' };
  return resolvePhases(r, c.steps, p);
}

export function describePhases(phases: readonly SparsityPhase[]): string {
  return phases.map((p) => `${p.name} ${p.steps} step${p.steps === 1 ? '' : 's'}`).join(' → ');
}

export function effectiveBatch(c: Pick<LabConfig, 'preset' | 'batchSize'>): number {
  return c.batchSize ?? presetDefaults(c.preset).batchSize;
}

// ---------------------------------------------------------------------------------------------------
// The lab's state

export type LabPhase = 'idle' | 'starting' | 'running' | 'done' | 'cancelled' | 'error';

export interface LabState {
  phase: LabPhase;
  plan: PlannedRecipe[];
  model: string | null;
  dataset: string | null;
  teacher: string | null;
  adapter: string | null;
  /** The recipe training now, and its steps read back so far. */
  current: SparsityRecipeName | null;
  curves: Partial<Record<SparsityRecipeName, LossPoint[]>>;
  kernelPaths: Partial<Record<SparsityRecipeName, string>>;
  descriptions: Partial<Record<SparsityRecipeName, string | null>>;
  results: Partial<Record<SparsityRecipeName, RecipeSummary>>;
  /** The latest weights read back of each recipe. */
  snapshots: Partial<Record<SparsityRecipeName, WeightSnapshot>>;
  /** A read-back was asked for and has not arrived. */
  snapshotPending: boolean;
  seconds: number | null;
  error: { kind: LabErrorKind; message: string } | null;
}

export const INITIAL_LAB_STATE: LabState = {
  phase: 'idle',
  plan: [],
  model: null,
  dataset: null,
  teacher: null,
  adapter: null,
  current: null,
  curves: {},
  kernelPaths: {},
  descriptions: {},
  results: {},
  snapshots: {},
  snapshotPending: false,
  seconds: null,
  error: null,
};

export type LabAction = FromSparsityWorker | { type: 'start' } | { type: 'cancel' } | { type: 'worker-error'; message: string } | { type: 'request-snapshot' };

export function isBusy(state: LabState): boolean {
  return state.phase === 'starting' || state.phase === 'running';
}

// The kind of an error message from the engine or the browser: the benchmark panel's rule (bench.ts).
export { classifyError };

/** The lab's state after an action: the page's start, cancel and read-back request, and the worker's
 *  messages. Messages after a run ended (a terminated worker's last posts) change nothing. */
export function labReducer(state: LabState, action: LabAction): LabState {
  switch (action.type) {
    case 'start':
      return { ...INITIAL_LAB_STATE, phase: 'starting' };
    case 'cancel':
      return isBusy(state) ? { ...state, phase: 'cancelled', current: null, snapshotPending: false } : state;
    case 'worker-error':
      return isBusy(state) ? { ...state, phase: 'error', current: null, snapshotPending: false, error: { kind: classifyError(action.message), message: action.message } } : state;
    case 'request-snapshot':
      return state.phase === 'running' && state.current ? { ...state, snapshotPending: true } : state;
  }
  if (!isBusy(state)) return state;
  switch (action.type) {
    case 'plan':
      return { ...state, plan: action.recipes, model: action.model, dataset: action.dataset, teacher: action.teacher };
    case 'adapter':
      return { ...state, phase: 'running', adapter: action.description };
    case 'recipe-start':
      return {
        ...state,
        phase: 'running',
        current: action.recipe,
        curves: { ...state.curves, [action.recipe]: [] },
        kernelPaths: { ...state.kernelPaths, [action.recipe]: action.kernelPath },
        descriptions: { ...state.descriptions, [action.recipe]: action.description },
      };
    case 'metrics':
      return { ...state, curves: { ...state.curves, [action.recipe]: [...(state.curves[action.recipe] ?? []), ...action.points] } };
    case 'weights':
      return { ...state, snapshots: { ...state.snapshots, [action.snapshot.recipe]: action.snapshot }, snapshotPending: action.snapshot.final ? state.snapshotPending : false };
    case 'recipe-done':
      return { ...state, results: { ...state.results, [action.result.recipe]: action.result } };
    case 'done':
      return { ...state, phase: 'done', current: null, snapshotPending: false, seconds: action.seconds };
    case 'error':
      return { ...state, phase: 'error', current: null, snapshotPending: false, error: { kind: action.kind, message: action.message } };
  }
}

/** Steps done of the whole lab and its total (for the progress bar). */
export function labProgress(state: LabState): { done: number; total: number } {
  const total = state.plan.reduce((a, p) => a + p.steps, 0);
  const done = state.plan.reduce((a, p) => a + (state.results[p.recipe] ? p.steps : Math.min(p.steps, state.curves[p.recipe]?.length ?? 0)), 0);
  return { done: state.phase === 'done' ? total : done, total };
}

// ---------------------------------------------------------------------------------------------------
// View 1: the loss curves, overlaid, with the prune points

/** An exponential moving average with bias correction (the first values are not pulled towards 0):
 *  s_t = β·s_{t−1} + (1 − β)·x_t, shown as s_t / (1 − β^t). Non-finite losses are skipped. */
export function smoothLosses(points: readonly LossPoint[], beta: number): LossPoint[] {
  if (beta <= 0) return points.filter((p) => Number.isFinite(p.loss));
  let s = 0;
  let t = 0;
  const out: LossPoint[] = [];
  for (const p of points) {
    if (!Number.isFinite(p.loss)) continue;
    t++;
    s = beta * s + (1 - beta) * p.loss;
    out.push({ step: p.step, loss: s / (1 - beta ** t) });
  }
  return out;
}

/** Points per curve the chart draws at most (longer runs are thinned, the last step always kept). */
export const MAX_CURVE_POINTS = 600;

export type CurveRow = { step: number } & Partial<Record<string, number>>;

/** One row per step: `step` and each recipe's (smoothed) loss under its RECIPE_KEYS key. */
export function curveChartData(curves: LabState['curves'], beta: number): CurveRow[] {
  const rows = new Map<number, CurveRow>();
  for (const r of SPARSITY_RECIPES) {
    const pts = curves[r];
    if (!pts?.length) continue;
    for (const p of smoothLosses(pts, beta)) {
      const row = rows.get(p.step) ?? { step: p.step };
      row[RECIPE_KEYS[r]] = p.loss;
      rows.set(p.step, row);
    }
  }
  const all = [...rows.values()].sort((a, b) => a.step - b.step);
  if (all.length <= MAX_CURVE_POINTS) return all;
  const stride = Math.ceil(all.length / MAX_CURVE_POINTS);
  return all.filter((_, i) => i % stride === 0 || i === all.length - 1);
}

/** A prune point: the mask is (re)computed before step `after + 1`, i.e. between the 1-based steps
 *  `after` and `after + 1` (drawn at after + 0.5). Recipes pruning at the same step share a marker. */
export interface PruneMarker {
  x: number;
  after: number;
  recipes: SparsityRecipeName[];
  label: string;
  color: string;
}

const KEEP_LABELS: Record<2 | 3, string> = { 3: '25%', 2: '2:4' };
const SHORT_LABELS: Record<SparsityRecipeName, string> = { dense: 'dense', oneshot: 'one-shot', progressive: 'progressive', 'sparse-qat': 'Sparse-QAT' };

export function pruneMarkers(plan: readonly PlannedRecipe[]): PruneMarker[] {
  const byStep = new Map<number, { recipe: SparsityRecipeName; keep: 2 | 3 }[]>();
  for (const p of plan) {
    for (const ph of p.phases) {
      if (ph.keep === 4) continue;
      byStep.set(ph.start, [...(byStep.get(ph.start) ?? []), { recipe: p.recipe, keep: ph.keep }]);
    }
  }
  return [...byStep.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([after, list]) => ({
      x: after + 0.5,
      after,
      recipes: list.map((l) => l.recipe),
      label: `prune: ${list.map((l) => `${SHORT_LABELS[l.recipe]} → ${KEEP_LABELS[l.keep]}`).join(', ')}`,
      color: list.length === 1 ? RECIPE_COLORS[list[0].recipe] : '#555555',
    }));
}

// ---------------------------------------------------------------------------------------------------
// View 2: per-layer sparsity

/** `transformer.h.0.attn.c_attn.weight` → `h0 attn.c_attn`. */
export function shortLayerName(name: string): string {
  const m = /^transformer\.h\.(\d+)\.(.+)\.weight$/.exec(name);
  return m ? `h${m[1]} ${m[2]}` : name;
}

export type LayerBarRow = { layer: string; name: string; shape: string } & Record<string, number | string>;

/** One row per sparse weight matrix (in the model's order): each finished recipe's share of zeros, in
 *  percent, under its RECIPE_KEYS key. */
export function layerBarData(results: LabState['results']): LayerBarRow[] {
  const rows = new Map<string, LayerBarRow>();
  for (const r of SPARSITY_RECIPES) {
    for (const l of results[r]?.layers ?? []) {
      const row: LayerBarRow = rows.get(l.name) ?? { layer: shortLayerName(l.name), name: l.name, shape: `${l.rows}×${l.cols}` };
      row[RECIPE_KEYS[r]] = l.share * 100;
      rows.set(l.name, row);
    }
  }
  return [...rows.values()];
}

// ---------------------------------------------------------------------------------------------------
// View 3: the mask pattern of one weight matrix

export interface MaskStats {
  rows: number;
  cols: number;
  groups: number;
  /** Weights that are exactly 0 (pruned). */
  pruned: number;
  /** Groups of 4 (along a row) by their number of zeros, 0 to 4. */
  groupsByZeros: [number, number, number, number, number];
  /** Largest |w|, for the colour scale of the kept weights. */
  maxAbs: number;
}

export function maskStats(m: Pick<WeightMatrix, 'rows' | 'cols' | 'data'>): MaskStats {
  const { rows, cols, data } = m;
  const groupsByZeros: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  let pruned = 0;
  let maxAbs = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += 4) {
      let z = 0;
      for (let j = g; j < Math.min(g + 4, cols); j++) {
        const v = data[r * cols + j];
        if (v === 0) z++;
        else maxAbs = Math.max(maxAbs, Math.abs(v));
      }
      groupsByZeros[z]++;
      pruned += z;
    }
  }
  return { rows, cols, groups: rows * Math.ceil(cols / 4), pruned, groupsByZeros, maxAbs };
}

/** Pixels per weight the zoom offers. */
export const ZOOM_LEVELS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32] as const;
/** The largest canvas side drawn (browsers cap canvases; a 512-row matrix at 32 px would be 16384). */
export const MAX_CANVAS_SIDE = 8192;
/** From this zoom on, the groups of 4 are outlined. */
export const OUTLINE_ZOOM = 6;

/** The zoom levels that keep the canvas within MAX_CANVAS_SIDE. */
export function zoomLevelsFor(rows: number, cols: number): number[] {
  const ok = ZOOM_LEVELS.filter((z) => z * Math.max(rows, cols) <= MAX_CANVAS_SIDE);
  return ok.length ? ok : [1];
}

/** The zoom a matrix opens at at most: enough to see the outlined groups of 4, small enough to see many
 *  rows at once. */
export const OPEN_ZOOM = 8;

/** The largest level up to `most` whose canvas is at most `width` px wide (the smallest level if none is). */
export function fitZoom(rows: number, cols: number, width: number, most = OPEN_ZOOM): number {
  const levels = zoomLevelsFor(rows, cols);
  return [...levels].reverse().find((z) => z <= most && z * cols <= width) ?? levels[0];
}

/** The next level up (+1) or down (−1) from `zoom`, within the levels. */
export function stepZoom(rows: number, cols: number, zoom: number, direction: 1 | -1): number {
  const levels = zoomLevelsFor(rows, cols);
  if (direction > 0) return levels.find((z) => z > zoom) ?? levels[levels.length - 1];
  return [...levels].reverse().find((z) => z < zoom) ?? levels[0];
}

/** The weight under canvas pixel (x, y), or null outside the matrix. */
export function cellAt(x: number, y: number, zoom: number, rows: number, cols: number): { row: number; col: number } | null {
  const row = Math.floor(y / zoom);
  const col = Math.floor(x / zoom);
  return row >= 0 && row < rows && col >= 0 && col < cols ? { row, col } : null;
}

/** The fill of a weight: pruned (0) light grey; kept from light to dark blue by |w| / max|w| (so the
 *  pattern shows which of the 4 survived, the larger magnitudes). */
export function cellColor(v: number, maxAbs: number): string {
  if (v === 0) return '#eceff3';
  const t = maxAbs > 0 ? Math.min(1, Math.abs(v) / maxAbs) : 1;
  // From #9ec5ee (small) to #0b3d91 (largest).
  const mix = (a: number, b: number) => Math.round(a + (b - a) * Math.sqrt(t));
  return `rgb(${mix(0x9e, 0x0b)}, ${mix(0xc5, 0x3d)}, ${mix(0xee, 0x91)})`;
}

// ---------------------------------------------------------------------------------------------------
// View 4: the summary of what the sparse recipes recover

export interface RecoveryRow {
  recipe: SparsityRecipeName;
  label: string;
  valLoss: number;
  /** (val − dense)/dense, null without a dense result. */
  gap: number | null;
  target: number | null;
  /** gap ≤ target; null when there is no target or no gap. */
  withinTarget: boolean | null;
  zeroShare: number;
  groupsViolating: number;
  compressedForward: boolean | null;
  accuracy: number | null;
  kernelPath: string;
}

export interface RecoverySummary {
  rows: RecoveryRow[];
  dense: number | null;
  /** Progressive's gap minus one-shot's (negative: progressive recovered more), when both ran. */
  progressiveMinusOneshot: number | null;
}

export function recoverySummary(results: LabState['results']): RecoverySummary {
  const dense = results.dense?.valLoss ?? null;
  const rows: RecoveryRow[] = [];
  for (const r of SPARSITY_RECIPES) {
    const x = results[r];
    if (!x) continue;
    const gap = dense !== null && r !== 'dense' && dense > 0 ? (x.valLoss - dense) / dense : r === 'dense' && dense !== null ? 0 : null;
    const target = RECOVERY_TARGETS[r];
    rows.push({
      recipe: r,
      label: RECIPE_LABELS[r],
      valLoss: x.valLoss,
      gap,
      target,
      withinTarget: target === null || gap === null ? null : gap <= target,
      zeroShare: x.zeroShare,
      groupsViolating: x.groupsViolating,
      compressedForward: x.compressedForward,
      accuracy: x.accuracy,
      kernelPath: x.kernelPath,
    });
  }
  const gapOf = (r: SparsityRecipeName) => rows.find((x) => x.recipe === r)?.gap ?? null;
  const p = gapOf('progressive');
  const o = gapOf('oneshot');
  return { rows, dense, progressiveMinusOneshot: p !== null && o !== null ? p - o : null };
}

/** A gap as a signed percentage: +1.23%, −0.40%. */
export function formatGap(gap: number): string {
  const pct = gap * 100;
  return `${pct >= 0 ? '+' : '−'}${Math.abs(pct).toFixed(2)}%`;
}
