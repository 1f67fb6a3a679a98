// Runs as the page keeps them, and the pure reducer that folds the worker's messages into them. The
// zustand store (store.ts) holds the list; this file has no React, DOM or GPU so it is unit-tested.
import type { StepMetrics } from '../engine/train/trainer';
import type { ArchEvaluation } from './arch-results';
import { type PageConfig, runLabel } from './config';
import type { ErrorKind, FromWorker, NumericsHalt, RunEvent, RunInfo, RunPhase } from './messages';

export type RunStatus = 'queued' | RunPhase | 'done' | 'stopped' | 'error';

export interface StepPoint {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  tokensPerSecond: number;
  elapsedSeconds: number;
  lossScale: number;
  skipped: boolean;
}

export interface ValidationPoint {
  step: number;
  valLoss: number;
}

export interface SampleSet {
  step: number;
  samples: string[];
}

export interface RunResult {
  valLoss: number;
  steps: number;
  /** Training time without pauses, evaluation or sampling at the end. */
  seconds: number;
}

export interface RunRecord {
  id: string;
  label: string;
  config: PageConfig;
  /** Runs started together by one comparison share a group. */
  groupId: string | null;
  createdAt: number;
  status: RunStatus;
  info: RunInfo | null;
  points: StepPoint[];
  validation: ValidationPoint[];
  samples: SampleSet[];
  result: RunResult | null;
  error: { kind: ErrorKind; message: string } | null;
  /** Set while the run waits, halted by a NaN, for the user to choose how it goes on. (Optional here
   *  and below: runs saved before these existed lack them.) */
  halt?: NumericsHalt | null;
  /** Lost devices survived and recoveries chosen, in order. */
  events?: RunEvent[];
  /** The step of the latest training checkpoint the page holds for the run. */
  checkpointStep?: number;
  /** The classifier's accuracy or the encoder-decoder's exact match, in step order (their runs have
   *  these instead of samples). */
  evaluations?: ArchEvaluation[];
}

export function isFinished(status: RunStatus): boolean {
  return status === 'done' || status === 'stopped' || status === 'error';
}

export function isActive(status: RunStatus): boolean {
  return !isFinished(status) && status !== 'queued';
}

export function newRun(id: string, config: PageConfig, groupId: string | null, createdAt: number): RunRecord {
  return {
    id, label: runLabel(config), config, groupId, createdAt, status: 'queued', info: null,
    points: [], validation: [], samples: [], result: null, error: null, halt: null, events: [],
  };
}

export function toStepPoint(r: StepMetrics): StepPoint {
  return {
    step: r.step, loss: r.loss, gradNorm: r.gradNorm, lr: r.lr, tokensPerSecond: r.tokensPerSecond,
    elapsedSeconds: r.elapsedSeconds, lossScale: r.lossScale, skipped: r.skipped,
  };
}

function update(runs: RunRecord[], id: string, change: (r: RunRecord) => RunRecord): RunRecord[] {
  let changed = false;
  const out = runs.map((r) => {
    if (r.id !== id) return r;
    changed = true;
    return change(r);
  });
  return changed ? out : runs;
}

/** The runs after one worker message. Messages about unknown runs (cleared meanwhile) change nothing. */
export function reduceRuns(runs: RunRecord[], message: FromWorker): RunRecord[] {
  switch (message.type) {
    case 'run-phase':
      return update(runs, message.runId, (r) => (isFinished(r.status) ? r : { ...r, status: message.phase }));
    case 'run-started':
      return update(runs, message.runId, (r) => ({ ...r, info: message.info }));
    case 'metrics':
      return update(runs, message.runId, (r) => ({ ...r, points: r.points.concat(message.records.map(toStepPoint)) }));
    case 'validation':
      return update(runs, message.runId, (r) => ({
        ...r,
        validation: r.validation.filter((v) => v.step !== message.step).concat({ step: message.step, valLoss: message.valLoss }),
      }));
    case 'samples':
      return update(runs, message.runId, (r) => ({ ...r, samples: r.samples.concat({ step: message.step, samples: message.samples }) }));
    case 'evaluation':
      return update(runs, message.runId, (r) => ({
        ...r,
        evaluations: (r.evaluations ?? []).filter((e) => e.step !== message.evaluation.step).concat(message.evaluation),
      }));
    case 'run-rewind':
      // Records of the steps after the rewind point are void: those steps run again.
      return update(runs, message.runId, (r) => ({
        ...r,
        points: r.points.filter((p) => p.step <= message.step),
        validation: r.validation.filter((v) => v.step <= message.step),
        samples: r.samples.filter((s) => s.step <= message.step),
        evaluations: (r.evaluations ?? []).filter((e) => e.step <= message.step),
      }));
    case 'run-halted':
      return update(runs, message.runId, (r) => (isFinished(r.status) ? r : { ...r, status: 'paused', halt: message.halt }));
    case 'run-event':
      return update(runs, message.runId, (r) => ({
        ...r,
        halt: null,
        events: [...(r.events ?? []), message.event],
        config: message.event.lr !== undefined ? { ...r.config, lr: message.event.lr } : r.config,
      }));
    case 'run-checkpoint':
      return update(runs, message.runId, (r) => ({ ...r, checkpointStep: message.step }));
    case 'run-done':
      return update(runs, message.runId, (r) => ({ ...r, status: 'done', halt: null, result: { valLoss: message.valLoss, steps: message.steps, seconds: message.seconds } }));
    case 'run-stopped':
      return update(runs, message.runId, (r) => ({ ...r, status: 'stopped', halt: null }));
    case 'run-error':
      if (message.runId === null) return runs;
      return update(runs, message.runId, (r) => ({ ...r, status: 'error', halt: null, error: { kind: message.kind, message: message.message } }));
    case 'idle':
      // Runs of a stopped queue that never started are dropped: they have nothing to show.
      return runs.filter((r) => r.status !== 'queued');
    default:
      return runs;
  }
}

/** Mean tokens/s over the last few records: one readback window is noisy on a slow adapter. */
export function recentTokensPerSecond(points: readonly StepPoint[], window = 10): number | null {
  const recent = points.slice(-window).filter((p) => Number.isFinite(p.tokensPerSecond) && p.tokensPerSecond > 0);
  if (recent.length === 0) return null;
  return recent.reduce((a, p) => a + p.tokensPerSecond, 0) / recent.length;
}

/** Seconds left at the recent speed, or null before there is a speed. */
export function etaSeconds(run: RunRecord): number | null {
  const last = run.points[run.points.length - 1];
  const speed = recentTokensPerSecond(run.points);
  if (!last || !run.info || speed === null) return null;
  return (Math.max(0, run.info.totalSteps - last.step) * run.info.tokensPerStep) / speed;
}

/** The final training loss: the mean of the last 10 steps (one step's batch is noisy). */
export function finalTrainLoss(run: RunRecord): number | null {
  const tail = run.points.slice(-10);
  if (tail.length === 0) return null;
  return tail.reduce((a, p) => a + p.loss, 0) / tail.length;
}

export interface ComparisonRow {
  id: string;
  label: string;
  precision: string;
  status: RunStatus;
  valLoss: number | null;
  /** (valLoss − FP32's) / FP32's, in percent; null without an FP32 run in the group. */
  gapPercent: number | null;
  tokensPerSecond: number | null;
  memoryBytes: number | null;
}

/** The summary table of a comparison: each run's final validation loss and its gap to the FP32 run. */
export function comparisonRows(runs: readonly RunRecord[]): ComparisonRow[] {
  const baseline = runs.find((r) => r.config.precision === 'fp32' && r.config.backwardQuantizer === undefined && r.result);
  const base = baseline?.result?.valLoss ?? null;
  return runs.map((r) => {
    const valLoss = r.result?.valLoss ?? null;
    return {
      id: r.id,
      label: r.label,
      precision: r.config.precision + (r.config.backwardQuantizer ? `:${r.config.backwardQuantizer}` : ''),
      status: r.status,
      valLoss,
      gapPercent: valLoss !== null && base !== null && base > 0 ? ((valLoss - base) / base) * 100 : null,
      tokensPerSecond: recentTokensPerSecond(r.points, Number.POSITIVE_INFINITY),
      memoryBytes: r.info?.memoryBytes ?? null,
    };
  });
}

/** At most `max` points of a series for drawing (every k-th point, always the last one): a chart of
 *  20,000 steps draws no better than one of 1,000 and is far slower. */
export function thin<T>(points: readonly T[], max = 1000): T[] {
  if (points.length <= max) return points.slice();
  const stride = Math.ceil(points.length / max);
  const out: T[] = [];
  for (let i = 0; i < points.length; i += stride) out.push(points[i]);
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
  return out;
}
