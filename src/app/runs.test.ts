import { describe, expect, it } from 'vitest';
import type { StepMetrics } from '../engine/train/trainer';
import type { ArchEvaluation } from './arch-results';
import { DEFAULT_CONFIG } from './config';
import type { FromWorker, RunInfo } from './messages';
import { comparisonRows, etaSeconds, newRun, reduceRuns, type RunRecord, thin } from './runs';

function record(step: number, loss: number, tokensPerSecond = 100): StepMetrics {
  return { step, loss, gradNorm: 1, lossScale: 1, skipped: false, lr: 1e-3, tokensPerSecond, elapsedSeconds: step };
}

const info: RunInfo = {
  model: 'm', datasetName: 'names', datasetDescription: 'd', parameterCount: 10, kernelPath: 'k', memoryBytes: 2 ** 20,
  totalSteps: 10, tokensPerStep: 50, measurements: true,
};

function play(runs: RunRecord[], messages: FromWorker[]): RunRecord[] {
  return messages.reduce(reduceRuns, runs);
}

describe('reduceRuns', () => {
  const a = newRun('a', DEFAULT_CONFIG, null, 1);
  const b = newRun('b', { ...DEFAULT_CONFIG, precision: 'fp32' }, 'g', 2);

  it('follows a run from queued to done, appending metrics and validation to that run only', () => {
    const runs = play([a, b], [
      { type: 'run-phase', runId: 'a', phase: 'starting' },
      { type: 'run-started', runId: 'a', info },
      { type: 'run-phase', runId: 'a', phase: 'training' },
      { type: 'metrics', runId: 'a', records: [record(1, 4), record(2, 3.5)] },
      { type: 'metrics', runId: 'a', records: [record(3, 3.2)] },
      { type: 'validation', runId: 'a', step: 3, valLoss: 3.3 },
      { type: 'samples', runId: 'a', step: 3, samples: ['ann'] },
      { type: 'run-done', runId: 'a', valLoss: 3.3, steps: 3, seconds: 2 },
      // A late phase message must not take a finished run back to training.
      { type: 'run-phase', runId: 'a', phase: 'training' },
    ]);
    expect(runs[0].status).toBe('done');
    expect(runs[0].points.map((p) => p.loss)).toEqual([4, 3.5, 3.2]);
    expect(runs[0].validation).toEqual([{ step: 3, valLoss: 3.3 }]);
    expect(runs[0].samples).toEqual([{ step: 3, samples: ['ann'] }]);
    expect(runs[0].result).toEqual({ valLoss: 3.3, steps: 3, seconds: 2 });
    expect(runs[1]).toBe(b);
  });

  it('records errors on the run, ignores unknown runs, and drops never-started runs when the queue ends', () => {
    let runs = play([a, b], [{ type: 'run-error', runId: 'a', kind: 'config', message: 'bad' }]);
    expect(runs[0].status).toBe('error');
    expect(runs[0].error).toEqual({ kind: 'config', message: 'bad' });
    const same = reduceRuns(runs, { type: 'metrics', runId: 'zzz', records: [record(1, 1)] });
    expect(same).toBe(runs);
    runs = reduceRuns(runs, { type: 'idle' });
    expect(runs.map((r) => r.id)).toEqual(['a']);
  });

  it('a rewind drops the records after its step; the steps that run again append once more', () => {
    let runs = play([a], [
      { type: 'run-phase', runId: 'a', phase: 'training' },
      { type: 'metrics', runId: 'a', records: [1, 2, 3, 4, 5, 6, 7].map((s) => record(s, 10 - s)) },
      { type: 'validation', runId: 'a', step: 4, valLoss: 5 },
      { type: 'validation', runId: 'a', step: 6, valLoss: 4 },
      { type: 'samples', runId: 'a', step: 6, samples: ['x'] },
      { type: 'run-checkpoint', runId: 'a', step: 5, bytes: new Uint8Array(8) },
      { type: 'run-phase', runId: 'a', phase: 'recovering' },
      { type: 'run-rewind', runId: 'a', step: 5 },
      { type: 'run-event', runId: 'a', event: { kind: 'device-lost', step: 5, text: 'lost' } },
    ]);
    expect(runs[0].status).toBe('recovering');
    expect(runs[0].points.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    expect(runs[0].validation).toEqual([{ step: 4, valLoss: 5 }]);
    expect(runs[0].samples).toEqual([]);
    expect(runs[0].checkpointStep).toBe(5);
    expect(runs[0].events).toEqual([{ kind: 'device-lost', step: 5, text: 'lost' }]);
    runs = play(runs, [{ type: 'metrics', runId: 'a', records: [record(6, 4), record(7, 3)] }]);
    expect(runs[0].points.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("keeps the classifier's and the encoder-decoder's measurements in step order, one per step, and drops those after a rewind", () => {
    const enc = newRun('e', { ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'majority' }, null, 3);
    const evaluation = (step: number, accuracy: number): ArchEvaluation => ({
      kind: 'classification', step, accuracy, correct: accuracy * 10, total: 10, baselineAccuracy: 0.4, baselineClass: 'b', classes: ['a', 'b', 'c'], examples: [],
    });
    let runs = play([enc], [
      { type: 'evaluation', runId: 'e', evaluation: evaluation(5, 0.5) },
      { type: 'evaluation', runId: 'e', evaluation: evaluation(10, 0.7) },
      // Measured again at the same step (after a recovery): the newer one stands.
      { type: 'evaluation', runId: 'e', evaluation: evaluation(10, 0.8) },
    ]);
    expect(runs[0].evaluations?.map((e) => [e.step, (e as { accuracy: number }).accuracy])).toEqual([[5, 0.5], [10, 0.8]]);
    runs = play(runs, [{ type: 'run-rewind', runId: 'e', step: 7 }]);
    expect(runs[0].evaluations?.map((e) => e.step)).toEqual([5]);
    // A run saved before evaluations existed has none, and takes one.
    const old = { ...enc, evaluations: undefined };
    expect(play([old], [{ type: 'evaluation', runId: 'e', evaluation: evaluation(1, 0.1) }])[0].evaluations).toHaveLength(1);
  });

  it('a NaN halts the run with where it happened; a recovery with a lower rate clears it and records the new rate', () => {
    const halt = { step: 2, activation: 'block.0.ln_1', gradients: ['lm_head.weight'], message: 'NaN at step 2', lr: 1e30, checkpointStep: null };
    let runs = play([a], [
      { type: 'run-phase', runId: 'a', phase: 'training' },
      { type: 'metrics', runId: 'a', records: [record(1, 4), record(2, NaN)] },
      { type: 'run-halted', runId: 'a', halt },
    ]);
    expect(runs[0].status).toBe('paused');
    expect(runs[0].halt).toEqual(halt);
    // History is kept while halted.
    expect(runs[0].points).toHaveLength(2);
    runs = play(runs, [
      { type: 'run-rewind', runId: 'a', step: 0 },
      { type: 'run-event', runId: 'a', event: { kind: 'lower-lr', step: 0, text: 'restarted', lr: 3e-3 } },
      { type: 'run-phase', runId: 'a', phase: 'training' },
    ]);
    expect(runs[0].halt).toBeNull();
    expect(runs[0].config.lr).toBe(3e-3);
    expect(runs[0].points).toEqual([]);
    expect(runs[0].status).toBe('training');
  });
});

describe('derived numbers', () => {
  it('estimates the time left from the recent speed', () => {
    const run: RunRecord = { ...newRun('a', DEFAULT_CONFIG, null, 1), info, points: [record(1, 4, 100), record(2, 4, 300)].map((r) => ({ ...r })) };
    // 8 steps left × 50 tokens at a mean 200 tokens/s.
    expect(etaSeconds(run)).toBeCloseTo(2);
    expect(etaSeconds({ ...run, points: [] })).toBeNull();
  });

  it('computes the gap to the FP32 run of a comparison', () => {
    const fp32: RunRecord = { ...newRun('f', { ...DEFAULT_CONFIG, precision: 'fp32' }, 'g', 1), status: 'done', result: { valLoss: 2, steps: 3, seconds: 1 } };
    const int4: RunRecord = { ...newRun('i', DEFAULT_CONFIG, 'g', 2), status: 'done', info, result: { valLoss: 2.1, steps: 3, seconds: 1 } };
    const rows = comparisonRows([fp32, int4]);
    expect(rows[0].gapPercent).toBeCloseTo(0);
    expect(rows[1].gapPercent).toBeCloseTo(5);
    expect(rows[1].memoryBytes).toBe(2 ** 20);
    expect(comparisonRows([int4])[0].gapPercent).toBeNull();
  });

  it('thins long series but keeps the first and the last point', () => {
    const xs = Array.from({ length: 2500 }, (_, i) => i);
    const t = thin(xs, 1000);
    expect(t.length).toBeLessThanOrEqual(1001);
    expect(t[0]).toBe(0);
    expect(t[t.length - 1]).toBe(2499);
    expect(thin([1, 2, 3], 1000)).toEqual([1, 2, 3]);
  });
});
