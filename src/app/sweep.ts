// The scaling-sweep panel's pure parts: the sweep's inputs and their checks (done on the page before any
// worker starts, and again in the worker with the adapter's limits before any training), the engine config
// of every rung, the panel's state as a reducer of the worker's messages, the log-log chart's data with
// the fitted power law, and the loss-spike marks the loss charts draw. No DOM, no GPU: unit-tested in
// sweep.test.ts.
//
// Why a sweep: the third source article (../shared/docs/sources.md §3, H. W. Chung's talk) points at
// scaling laws (the loss of a large model predicted from a ladder of small ones, as in the GPT-4 report)
// and at loss spikes in large runs (PaLM) that small models do not reproduce.
import { classifyError } from './bench';
import { ConfigError, DEFAULT_TRAIN, type ModelConfig, modelConfigFromPreset, PRECISIONS, type RunConfig, type TrainConfig, validateRunConfig } from '../engine/config';
import type { MemoryLimits } from '../engine/limits';
import { DEFAULT_LADDER_WIDTHS, fitPowerLaw, ladderLimitError, type LadderRung, ladderRunConfig, type PowerLawFit, scalingLadder } from '../engine/train/scaling';
import { detectLossSpikes, type LossPoint, type LossSpike } from '../engine/train/spikes';
import { MAX_BATCH } from './config';
import { NAMES_VOCAB } from './teaching-scale';
import { thin } from './runs';
import type { FromSweepWorker, SweepErrorKind, SweepRequest, SweepRungPlan } from './sweep-messages';

/** The bundled corpus every rung trains on, and the preset whose shape (layers, heads, context) the ladder
 *  keeps while it changes the width. */
export const SWEEP_DATASET = 'names';
export const SWEEP_PRESET = 'tiny';
/** The names corpus' vocabulary (teaching-scale.ts, tested against the bundled file): the page's plan uses
 *  it before the worker has the dataset; the worker plans again with the tokenizer's own. */
export { NAMES_VOCAB };

/** scaling.ts's five widths, about 30× in non-embedding parameters (2 layers, 4 heads, d_ff = 4·d_model):
 *  on a laptop GPU the tiny preset runs a step in milliseconds, so 5 × 400 steps take well under a few
 *  minutes. */
export const DEFAULT_SWEEP_WIDTHS: readonly number[] = DEFAULT_LADDER_WIDTHS;
export const DEFAULT_SWEEP: SweepRequest = { precision: 'fp32', widths: [...DEFAULT_SWEEP_WIDTHS], steps: 400, batchSize: 32, lr: 3e-3, seed: 1 };
export const MAX_SWEEP_RUNGS = 8;
export const MAX_SWEEP_STEPS = 5000;

// ---------------------------------------------------------------------------------------------------
// Inputs

/** Widths from the text the user typed ("16, 32 48"): every problem, as messages a user can act on. */
export function parseWidths(text: string): { widths: number[]; problems: string[] } {
  const tokens = text.split(/[\s,;]+/).filter((t) => t !== '');
  if (tokens.length === 0) return { widths: [], problems: [`enter the widths (d_model) of the ladder, e.g. ${DEFAULT_SWEEP_WIDTHS.join(', ')}`] };
  const widths: number[] = [];
  const problems: string[] = [];
  for (const t of tokens) {
    const v = Number(t);
    if (!/^\d+$/.test(t) || !Number.isSafeInteger(v) || v < 1) problems.push(`width "${t}" is not a whole number ≥ 1`);
    else if (widths.includes(v)) problems.push(`width ${v} is listed twice`);
    else widths.push(v);
  }
  return { widths, problems };
}

/** The model every rung starts from: the tiny preset on the sweep's dataset. */
export function sweepBaseModel(vocabSize: number): ModelConfig {
  return modelConfigFromPreset(SWEEP_PRESET, vocabSize);
}

/** The ladder of a request: one rung per width, smallest first (scaling.ts sets each rung's shape and
 *  counts its parameters, tokens and FLOPs). */
export function sweepLadder(request: SweepRequest, vocabSize: number): LadderRung[] {
  const widths = [...request.widths].sort((a, b) => a - b);
  return scalingLadder({ base: sweepBaseModel(vocabSize), widths, steps: request.steps, batchSize: request.batchSize });
}

/** The engine's train config of every rung: the page's recipe (AdamW, warmup then cosine), one readback
 *  per step, no measurements or checkpoints (a rung is short, and a lost device ends the sweep). */
export function sweepTrainConfig(request: SweepRequest): TrainConfig {
  return {
    ...DEFAULT_TRAIN,
    precision: request.precision,
    // ladderRunConfig caps HQ's Hadamard block at each rung's width.
    hadamardBlock: DEFAULT_TRAIN.hadamardBlock,
    hadamardSearch: false,
    steps: request.steps,
    batchSize: request.batchSize,
    lr: request.lr,
    seed: request.seed,
    logEvery: 1,
    warmupSteps: Math.min(DEFAULT_TRAIN.warmupSteps, Math.floor(request.steps / 5)),
    measureEvery: 0,
    checkpointEvery: 0,
  };
}

export function rungRunConfig(request: SweepRequest, rung: LadderRung): RunConfig {
  return ladderRunConfig(rung, sweepTrainConfig(request), SWEEP_DATASET);
}


/** Every problem with a sweep that shows before any GPU work: the request's ranges, the widths, and each
 *  rung's config as the engine validates it. Empty when the sweep can run. The page calls it before it
 *  starts a worker; the worker calls it again, then checks the rungs against its device's buffer limits
 *  (sweepLimitError) before it trains anything. */
export function sweepProblems(request: SweepRequest, vocabSize: number): string[] {
  const problems: string[] = [];
  if (!(PRECISIONS as readonly unknown[]).includes(request.precision)) problems.push(`precision must be one of ${PRECISIONS.join(', ')} (got ${String(request.precision)})`);
  if (!(Number.isInteger(request.steps) && request.steps >= 1 && request.steps <= MAX_SWEEP_STEPS)) problems.push(`steps must be a whole number from 1 to ${MAX_SWEEP_STEPS} (got ${request.steps})`);
  if (!(Number.isInteger(request.batchSize) && request.batchSize >= 1 && request.batchSize <= MAX_BATCH)) problems.push(`batch must be a whole number from 1 to ${MAX_BATCH} (got ${request.batchSize})`);
  if (!(Number.isFinite(request.lr) && request.lr > 0 && request.lr <= 1)) problems.push(`learning rate must be a number in (0, 1] (got ${request.lr})`);
  if (!(Number.isInteger(request.seed) && request.seed >= 0 && request.seed <= 0xffffffff)) problems.push(`seed must be an integer in [0, 2^32) (got ${request.seed})`);
  const widths = request.widths;
  if (widths.length < 2) problems.push(`a power law needs at least 2 widths (got ${widths.length}); e.g. ${DEFAULT_SWEEP_WIDTHS.join(', ')}`);
  if (widths.length > MAX_SWEEP_RUNGS) problems.push(`at most ${MAX_SWEEP_RUNGS} widths per sweep (got ${widths.length}): every rung trains in turn`);
  const bad = widths.filter((w) => !(Number.isSafeInteger(w) && w >= 1));
  if (bad.length) problems.push(`widths must be whole numbers ≥ 1 (got ${bad.join(', ')})`);
  if (new Set(widths).size !== widths.length) problems.push('every width must differ from the others');
  if (problems.length) return problems;
  let rungs: LadderRung[];
  try {
    rungs = sweepLadder(request, vocabSize);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof RangeError) return [e.message];
    throw e;
  }
  for (const rung of rungs) {
    try {
      validateRunConfig(rungRunConfig(request, rung));
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const m of e.message.split('; ')) problems.push(`width ${rung.model.dModel}: ${m}`);
    }
  }
  return problems;
}

/** The first rung too large for a GPU with these limits, as a message naming it (null: every rung fits).
 *  Only the worker calls it (the page has no adapter), so the page's bundle leaves limits.ts out. */
export function sweepLimitError(request: SweepRequest, rungs: readonly LadderRung[], limits: MemoryLimits): string | null {
  return ladderLimitError(rungs, limits, sweepTrainConfig(request), SWEEP_DATASET);
}

export function planOf(rung: LadderRung): SweepRungPlan {
  const m = rung.model;
  return { label: rung.label, dModel: m.dModel, nLayer: m.nLayer, nHead: m.nHead, dFF: m.dFF, parameters: rung.parameters, steps: rung.steps, tokens: rung.tokens, flops: rung.flops };
}

// ---------------------------------------------------------------------------------------------------
// Loss spikes

/** The training losses a spike search reads: every step's (step, loss). A step skipped by FP16's dynamic
 *  loss scaling stays in: its gradients overflowed, but its loss is the forward's, a finite measurement
 *  of the model on that batch; a NaN of a diverged run (whose steps are skipped too) is the spike
 *  spikes.ts marks once, where it began. */
export function lossSeries(points: readonly { step: number; loss: number }[]): LossPoint[] {
  return points.map((p) => ({ step: p.step, loss: p.loss }));
}

export function findSpikes(points: readonly { step: number; loss: number }[]): LossSpike[] {
  return detectLossSpikes(lossSeries(points));
}

function lossText(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : String(v);
}

/** What a mark's tooltip says. */
export function spikeText(s: LossSpike): string {
  const trend = Number.isFinite(s.expected) ? `vs trend ${lossText(s.expected)} (${Number.isFinite(s.ratio) ? `${s.ratio.toFixed(2)}×` : 'diverged'})` : '(diverged before a trend was known)';
  const peak = s.points > 1 && s.peakStep !== s.step ? `, peak ${lossText(s.peakLoss)} at step ${s.peakStep}` : '';
  return `spike at step ${s.step}: loss ${lossText(s.loss)} ${trend}${peak}`;
}

export interface SpikeMark extends LossSpike {
  runId: string;
  runLabel: string;
  color: string;
  text: string;
}

/** A spike as the loss chart marks it: in the run's colour, its tooltip naming the run. */
export function spikeMark(run: { id: string; label: string; color: string }, spike: LossSpike): SpikeMark {
  return { ...spike, runId: run.id, runLabel: run.label, color: run.color, text: `${run.label}: ${spikeText(spike)}` };
}

/** The line under a chart: "3 loss spikes marked", "1 loss spike marked", "no loss spikes". */
export function spikeCountText(n: number): string {
  return n === 0 ? 'no loss spikes detected' : `${n} loss spike${n === 1 ? '' : 's'} marked`;
}

// ---------------------------------------------------------------------------------------------------
// The panel's state

export type SweepPhase = 'idle' | 'starting' | 'running' | 'done' | 'stopped' | 'error';
export type RungStatus = 'waiting' | 'training' | 'evaluating' | 'done' | 'failed' | 'stopped';

export interface RungState {
  plan: SweepRungPlan;
  status: RungStatus;
  kernelPath: string | null;
  points: LossPoint[];
  valLoss: number | null;
  seconds: number | null;
  error: string | null;
}

export interface SweepState {
  phase: SweepPhase;
  request: SweepRequest | null;
  adapter: string | null;
  rungs: RungState[];
  /** The rung in training or evaluation. */
  current: number | null;
  seconds: number | null;
  error: { kind: SweepErrorKind; message: string } | null;
}

export const INITIAL_SWEEP_STATE: SweepState = { phase: 'idle', request: null, adapter: null, rungs: [], current: null, seconds: null, error: null };

export type SweepAction = FromSweepWorker | { type: 'start'; request: SweepRequest; plan: SweepRungPlan[] } | { type: 'stop' } | { type: 'worker-error'; message: string };

export function isSweepBusy(state: SweepState): boolean {
  return state.phase === 'starting' || state.phase === 'running';
}

function newRung(plan: SweepRungPlan): RungState {
  return { plan, status: 'waiting', kernelPath: null, points: [], valLoss: null, seconds: null, error: null };
}

function updateRung(state: SweepState, index: number, patch: (r: RungState) => Partial<RungState>): SweepState {
  const r = state.rungs[index];
  if (!r) return state;
  const rungs = state.rungs.slice();
  rungs[index] = { ...r, ...patch(r) };
  return { ...state, rungs };
}

/** The panel's state after an action: the page's start and stop, and the worker's messages. Messages that
 *  arrive after a sweep ended (a terminated worker's last posts) change nothing. */
export function sweepReducer(state: SweepState, action: SweepAction): SweepState {
  switch (action.type) {
    case 'start':
      // The page's plan (estimated vocabulary) stands until the worker's own arrives.
      return { ...INITIAL_SWEEP_STATE, phase: 'starting', request: action.request, rungs: action.plan.map(newRung) };
    case 'stop': {
      if (!isSweepBusy(state)) return state;
      const rungs = state.rungs.map((r) => (r.status === 'training' || r.status === 'evaluating' ? { ...r, status: 'stopped' as const } : r));
      return { ...state, phase: 'stopped', current: null, rungs };
    }
    case 'worker-error':
      return isSweepBusy(state) ? { ...state, phase: 'error', current: null, error: { kind: classifyError(action.message), message: action.message } } : state;
  }
  if (!isSweepBusy(state)) return state;
  switch (action.type) {
    case 'plan':
      return { ...state, phase: 'running', adapter: action.adapter, rungs: action.rungs.map(newRung) };
    case 'rung-start':
      return { ...updateRung(state, action.index, () => ({ status: 'training', kernelPath: action.kernelPath, points: [] })), current: action.index };
    case 'rung-metrics':
      return updateRung(state, action.index, (r) => ({ points: r.points.concat(action.points) }));
    case 'rung-evaluating':
      return updateRung(state, action.index, () => ({ status: 'evaluating' }));
    case 'rung-done':
      return { ...updateRung(state, action.index, () => ({ status: 'done', valLoss: action.valLoss, seconds: action.seconds })), current: null };
    case 'rung-failed':
      return { ...updateRung(state, action.index, () => ({ status: 'failed', error: action.message })), current: null };
    case 'done':
      return { ...state, phase: 'done', current: null, seconds: action.seconds };
    case 'error': {
      const rungs = state.rungs.map((r) => (r.status === 'training' || r.status === 'evaluating' ? { ...r, status: 'failed' as const, error: action.message } : r));
      return { ...state, phase: 'error', current: null, rungs, error: { kind: action.kind, message: action.message } };
    }
  }
}

/** Steps trained over the whole sweep and in all, for the progress bar. */
export function sweepProgress(state: SweepState): { done: number; total: number } {
  let done = 0, total = 0;
  for (const r of state.rungs) {
    total += r.plan.steps;
    done += r.status === 'done' ? r.plan.steps : Math.min(r.plan.steps, r.points.length);
  }
  return { done, total };
}

// ---------------------------------------------------------------------------------------------------
// The log-log chart

/** scaling.ts's fit and the number of rungs it went through. */
export interface SweepFit extends PowerLawFit {
  count: number;
}

/** Final validation loss against training FLOPs of every finished rung. */
export function finalPoints(rungs: readonly RungState[]): { flops: number; valLoss: number; label: string }[] {
  return rungs
    .filter((r) => r.status === 'done' && r.valLoss !== null && Number.isFinite(r.valLoss) && r.valLoss > 0 && r.plan.flops > 0)
    .map((r) => ({ flops: r.plan.flops, valLoss: r.valLoss as number, label: r.plan.label }));
}

/** L ≈ a·C^b through the finished rungs (least squares on log L against log C); null below two rungs. */
export function sweepFit(rungs: readonly RungState[]): SweepFit | null {
  const pts = finalPoints(rungs);
  if (pts.length < 2) return null;
  const f = fitPowerLaw(pts.map((p) => ({ x: p.flops, y: p.valLoss })));
  if (!Number.isFinite(f.exponent) || !Number.isFinite(f.coefficient)) return null;
  return { ...f, count: pts.length };
}

/** The fitted line as points log-evenly spaced over [from, to] (a straight line on log-log axes). */
export function fitLine(fit: Pick<PowerLawFit, 'exponent' | 'coefficient'>, from: number, to: number, count = 16): { flops: number; fit: number }[] {
  if (!(from > 0 && to >= from)) return [];
  const n = to === from ? 1 : count;
  const out: { flops: number; fit: number }[] = [];
  for (let i = 0; i < n; i++) {
    const x = n === 1 ? from : Math.exp(Math.log(from) + ((Math.log(to) - Math.log(from)) * i) / (n - 1));
    out.push({ flops: x, fit: fit.coefficient * x ** fit.exponent });
  }
  return out;
}

/** A rung's training-loss curve against the FLOPs spent so far (step s of S costs s/S of the rung's
 *  FLOPs), thinned for drawing. */
export function curveOf(rung: RungState, max = 300): { flops: number; loss: number }[] {
  const perStep = rung.plan.steps > 0 ? rung.plan.flops / rung.plan.steps : 0;
  return thin(rung.points.filter((p) => p.step >= 1 && Number.isFinite(p.loss) && p.loss > 0), max).map((p) => ({ flops: p.step * perStep, loss: p.loss }));
}

/** Spikes of a rung's curve, placed on the FLOPs axis. */
export function rungSpikes(rung: RungState): (LossSpike & { flops: number })[] {
  const perStep = rung.plan.steps > 0 ? rung.plan.flops / rung.plan.steps : 0;
  return findSpikes(rung.points).map((s) => ({ ...s, flops: s.step * perStep }));
}

/** The powers of ten inside [min, max] (log-axis ticks), widened to at least two. */
export function decadeTicks(min: number, max: number): number[] {
  if (!(min > 0 && max >= min)) return [];
  let lo = Math.floor(Math.log10(min));
  let hi = Math.ceil(Math.log10(max));
  if (hi === lo) hi += 1;
  if (hi - lo > 12) lo = hi - 12;
  const out: number[] = [];
  for (let e = lo; e <= hi; e++) out.push(10 ** e);
  return out;
}

/** A log axis domain a little wider than the data. */
export function logDomain(values: readonly number[], pad = 1.25): [number, number] | null {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  if (v.length === 0) return null;
  return [Math.min(...v) / pad, Math.max(...v) * pad];
}

// ---------------------------------------------------------------------------------------------------
// Formatting

const SUPERSCRIPT: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };

/** 3.2×10¹² (two significant digits; a power of ten alone as 10¹²). */
export function formatPower(x: number): string {
  if (!(Number.isFinite(x) && x > 0)) return String(x);
  const e = Math.floor(Math.log10(x));
  let m = x / 10 ** e;
  let exp = e;
  if (Number(m.toFixed(1)) >= 10) (m /= 10), (exp += 1);
  const sup = String(exp).split('').map((c) => SUPERSCRIPT[c]).join('');
  const mant = m.toFixed(1).replace(/\.0$/, '');
  return mant === '1' ? `10${sup}` : `${mant}×10${sup}`;
}

/** A count with an SI prefix: 7.7k, 230k, 1.2M. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  const short = (v: number) => String(Number(v.toPrecision(3)));
  if (a >= 1e9) return `${short(n / 1e9)}G`;
  if (a >= 1e6) return `${short(n / 1e6)}M`;
  if (a >= 1e3) return `${short(n / 1e3)}k`;
  return String(Math.round(n));
}

/** A signed number with a real minus sign, to `digits` significant digits. */
function signed(x: number, digits: number): string {
  const s = Number(x.toPrecision(digits)).toString();
  return s.startsWith('-') ? `−${s.slice(1)}` : s;
}

/** "L ≈ 12.3 · C^−0.071", the form the panel writes the law in. */
export function formatFitLaw(fit: Pick<PowerLawFit, 'exponent' | 'coefficient'>): string {
  return `L ≈ ${Number(fit.coefficient.toPrecision(3))} · C^${signed(fit.exponent, 3)}`;
}

/** What the exponent means in numbers: the loss factor per 10× compute and the change per doubling. */
export function describeExponent(exponent: number): { perDecade: number; perDoublingPercent: number } {
  return { perDecade: 10 ** exponent, perDoublingPercent: (2 ** exponent - 1) * 100 };
}

export function formatExponent(exponent: number): string {
  return signed(exponent, 3);
}
