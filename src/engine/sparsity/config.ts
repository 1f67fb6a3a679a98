// The sparsity part of a run's config: recipes, their phases within the step budget, and every check that
// can be made before GPU work (reduction dimensions, phase lengths, Sparse-QAT and distillation settings,
// a teacher of another shape). Imports only types from ../config, which calls sparsityConfigErrors from
// validateRunConfig.
import type { DistillConfig, ModelConfig, SparsityRecipe, TrainConfig } from '../config';

/** Values per group: 2:4 sparsity keeps 2 of every 4 consecutive weights along the reduction dimension. */
export const GROUP = 4;

/** Default phase lengths as fractions of the budget. Both recipes train dense for the same first half,
 *  so they differ only in how the second half reaches 2:4 (the article's comparison: same iterations). */
export const DEFAULT_PHASES: Record<Exclude<SparsityRecipe, 'dense'>, number[]> = {
  oneshot: [0.5, 0.5],
  progressive: [0.5, 0.25, 0.25],
};

/** The defaults of `--sparse-qat` / `--teacher`: half CE and half KL at temperature 2, and the hidden
 *  state's MSE at weight 1 (ln_f's output is O(1) per value). */
export const DEFAULT_DISTILL: DistillConfig = { alpha: 0.5, temperature: 2, hiddenWeight: 1 };

/** One phase: `keep` values of every group of 4 stay (4: dense, 3: 25% sparse, 2: 2:4). */
export interface SparsityPhase {
  start: number;
  steps: number;
  keep: 2 | 3 | 4;
  name: string;
}

const KEEPS: Record<Exclude<SparsityRecipe, 'dense'>, (2 | 3 | 4)[]> = { oneshot: [4, 2], progressive: [4, 3, 2] };
const PHASE_NAMES: Record<2 | 3 | 4, string> = { 4: 'dense', 3: '25% sparse (1 of 4)', 2: '2:4 (50% sparse)' };

export function sparsityOn(t: Pick<TrainConfig, 'sparsity'>): boolean {
  return t.sparsity === 'oneshot' || t.sparsity === 'progressive';
}

function describe(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/** The phases of a sparse recipe over `steps`, or a message saying why the lengths do not fit. Lengths
 *  that are all integers summing to `steps` are step counts; otherwise they must be fractions summing to
 *  1, rounded to whole steps at the cumulative boundaries. The dense phase may be empty (pruning a loaded
 *  dense checkpoint right away); every sparse phase needs a step. */
export function resolvePhases(recipe: Exclude<SparsityRecipe, 'dense'>, steps: number, given?: readonly number[]): { phases: SparsityPhase[] } | { error: string } {
  const keeps = KEEPS[recipe];
  const lengths = given ?? DEFAULT_PHASES[recipe];
  const names = keeps.map((k) => PHASE_NAMES[k]).join(', ');
  if (!Array.isArray(lengths) || lengths.length !== keeps.length) {
    return { error: `sparsity-phases: ${recipe} has ${keeps.length} phases (${names}); got ${Array.isArray(lengths) ? lengths.length : describe(lengths)}` };
  }
  if (!lengths.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
    return { error: `sparsity-phases must be non-negative numbers (got ${lengths.map(describe).join(', ')})` };
  }
  const sum = lengths.reduce((a, b) => a + b, 0);
  let counts: number[];
  if (lengths.every(Number.isInteger) && sum === steps) counts = [...lengths];
  else if (Math.abs(sum - 1) <= 1e-9) {
    const bounds = [0];
    let acc = 0;
    for (let i = 0; i < lengths.length; i++) {
      acc += lengths[i];
      bounds.push(i === lengths.length - 1 ? steps : Math.round(acc * steps));
    }
    counts = lengths.map((_, i) => bounds[i + 1] - bounds[i]);
  } else {
    return {
      error: `sparsity-phases ${lengths.join(',')} do not fit the budget of ${steps} steps: as step counts they sum to ${sum}, not ${steps}; as fractions they must sum to 1`,
    };
  }
  const phases: SparsityPhase[] = [];
  let start = 0;
  for (let i = 0; i < counts.length; i++) {
    phases.push({ start, steps: counts[i], keep: keeps[i], name: PHASE_NAMES[keeps[i]] });
    start += counts[i];
  }
  const empty = phases.find((p, i) => i > 0 && p.steps < 1);
  if (empty) {
    return { error: `sparsity-phases: the ${empty.name} phase gets 0 of the ${steps} steps; give every sparse phase at least one step (more --steps or a larger share)` };
  }
  return { phases };
}

/** The phases of a run: [] when it is dense. Throws on lengths that do not fit (validateRunConfig has
 *  reported them before). */
export function sparsityPhases(t: Pick<TrainConfig, 'sparsity' | 'steps' | 'sparsityPhases'>): SparsityPhase[] {
  if (!sparsityOn(t)) return [];
  const r = resolvePhases(t.sparsity as Exclude<SparsityRecipe, 'dense'>, t.steps, t.sparsityPhases);
  if ('error' in r) throw new Error(r.error);
  return r.phases;
}

/** The reduction dimensions of the layers that go sparse, by layer. */
export function sparseReductions(m: Pick<ModelConfig, 'dModel' | 'dFF'>): { layer: string; inFeatures: number; flag: string }[] {
  return [
    { layer: 'attn.c_attn, attn.c_proj and mlp.c_fc', inFeatures: m.dModel, flag: '--d-model' },
    { layer: 'mlp.c_proj', inFeatures: m.dFF, flag: '--d-ff' },
  ];
}

function nearestMultiple(n: number, of: number): number {
  return Math.max(of, Math.round(n / of) * of);
}

export function sparsityConfigErrors(m: ModelConfig, t: TrainConfig): string[] {
  const errs: string[] = [];
  const recipe = t.sparsity ?? 'dense';
  if (!['dense', 'oneshot', 'progressive'].includes(recipe as string)) {
    return [`sparsity must be one of dense, oneshot, progressive (got ${describe(recipe)})`];
  }
  const sparse = recipe !== 'dense';
  if (!sparse) {
    if (t.sparsityPhases !== undefined) errs.push('sparsity-phases applies to a sparse recipe: use --sparsity oneshot or progressive');
    if (t.sparsitySchedule !== undefined && t.sparsitySchedule !== 'restart') errs.push('sparsity-schedule applies to a sparse recipe: use --sparsity oneshot or progressive');
  } else {
    if (t.sparsitySchedule !== undefined && t.sparsitySchedule !== 'restart' && t.sparsitySchedule !== 'continue') {
      errs.push(`sparsity-schedule must be restart or continue (got ${describe(t.sparsitySchedule)})`);
    }
    for (const r of sparseReductions(m)) {
      if (r.inFeatures % GROUP !== 0) {
        errs.push(`2:4 sparsity groups the reduction dimension of every block linear layer in 4s, but ${r.layer} ${r.layer.includes(',') ? 'have' : 'has'} ${r.inFeatures} inputs, not a multiple of 4; use ${r.flag} ${nearestMultiple(r.inFeatures, GROUP)}`);
      }
    }
    const phases = resolvePhases(recipe as Exclude<SparsityRecipe, 'dense'>, t.steps, t.sparsityPhases);
    if ('error' in phases) errs.push(phases.error);
  }
  if (t.sparseQat !== undefined && typeof t.sparseQat !== 'boolean') errs.push(`sparse-qat must be true or false (got ${describe(t.sparseQat)})`);
  if (t.sparseQat === true) {
    if (!sparse) errs.push('Sparse-QAT prunes the weights: use --sparsity oneshot or progressive with it (the default with --sparse-qat is progressive)');
    if (t.precision !== 'fp32') errs.push(`Sparse-QAT fake-quantizes the linear layers to INT8 itself: leave --precision at fp32 (got ${describe(t.precision)})`);
  }
  if (t.distill !== undefined) errs.push(...distillErrors(t.distill));
  return errs;
}

function distillErrors(d: unknown): string[] {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return [`distill must be an object { alpha, temperature, hiddenWeight } (got ${describe(d)})`];
  const { alpha, temperature, hiddenWeight } = d as Record<string, unknown>;
  const errs: string[] = [];
  if (!(typeof alpha === 'number' && alpha >= 0 && alpha <= 1)) errs.push(`distill-alpha (the KL share of the loss) must be in [0, 1] (got ${describe(alpha)})`);
  if (!(typeof temperature === 'number' && temperature > 0 && Number.isFinite(temperature))) errs.push(`distill-temperature must be a finite number > 0 (got ${describe(temperature)})`);
  if (!(typeof hiddenWeight === 'number' && hiddenWeight >= 0 && Number.isFinite(hiddenWeight))) errs.push(`distill-hidden (the weight of the hidden-state MSE) must be a finite number >= 0 (got ${describe(hiddenWeight)})`);
  return errs;
}

const TEACHER_FIELDS: (keyof ModelConfig)[] = ['architecture', 'nLayer', 'dModel', 'nHead', 'dFF', 'contextLength', 'vocabSize', 'activation', 'positionalEncoding', 'layerNormEps', 'numClasses', 'sourceLength'];

/** How a teacher's model config differs from the student's: distillation matches the final hidden states
 *  value by value and the logits class by class, so it needs the very same model. Empty when they agree. */
export function teacherMismatch(student: ModelConfig, teacher: ModelConfig): string[] {
  const diffs: string[] = [];
  for (const f of TEACHER_FIELDS) {
    const s = student[f];
    const t = teacher[f];
    if (s !== t) diffs.push(`${f} ${describe(t)} (the student has ${describe(s)})`);
  }
  return diffs;
}
