import { describe, expect, it } from 'vitest';
import { validateRunConfig } from '../engine/config';
import { Rng } from '../engine/data/rng';
import {
  curveOf,
  decadeTicks,
  DEFAULT_SWEEP,
  describeExponent,
  findSpikes,
  finalPoints,
  fitLine,
  formatCount,
  formatExponent,
  formatFitLaw,
  formatPower,
  INITIAL_SWEEP_STATE,
  isSweepBusy,
  logDomain,
  lossSeries,
  NAMES_VOCAB,
  parseWidths,
  planOf,
  type RungState,
  rungRunConfig,
  rungSpikes,
  spikeCountText,
  spikeMark,
  spikeText,
  sweepFit,
  sweepLadder,
  sweepLimitError,
  sweepProblems,
  sweepProgress,
  sweepReducer,
} from './sweep';
import type { SweepRequest, SweepRungPlan } from './sweep-messages';

const REQUEST: SweepRequest = { precision: 'fp32', widths: [16, 32, 48], steps: 10, batchSize: 4, lr: 3e-3, seed: 1 };

function plan(dModel: number, flops: number, steps = 10): SweepRungPlan {
  return { label: `d=${dModel}`, dModel, nLayer: 2, nHead: 4, dFF: 4 * dModel, parameters: 1000 * dModel, steps, tokens: steps * 64, flops };
}

function rung(p: SweepRungPlan, patch: Partial<RungState> = {}): RungState {
  return { plan: p, status: 'waiting', kernelPath: null, points: [], valLoss: null, seconds: null, error: null, ...patch };
}

/** A falling loss curve a·step^−0.3 with ±1% seeded noise, and optionally one jump. */
function curve(n: number, jumpAt?: number, factor = 2): { step: number; loss: number }[] {
  const rng = new Rng(7);
  return Array.from({ length: n }, (_, i) => {
    const step = i + 1;
    const loss = 3.5 * step ** -0.3 * (1 + 0.01 * (2 * rng.nextFloat() - 1));
    return { step, loss: step === jumpAt ? loss * factor : loss };
  });
}

describe('widths and the checks before a sweep', () => {
  it('reads widths separated by commas or spaces', () => {
    expect(parseWidths('16, 32 48;64')).toEqual({ widths: [16, 32, 48, 64], problems: [] });
  });

  it('says what is wrong with each bad width', () => {
    const { widths, problems } = parseWidths('16, x, -4, 3.5, 16');
    expect(widths).toEqual([16]);
    expect(problems).toEqual(['width "x" is not a whole number ≥ 1', 'width "-4" is not a whole number ≥ 1', 'width "3.5" is not a whole number ≥ 1', 'width 16 is listed twice']);
    expect(parseWidths('  ').problems[0]).toMatch(/enter the widths/);
  });

  it('passes the default sweep and a small one', () => {
    expect(sweepProblems(DEFAULT_SWEEP, NAMES_VOCAB)).toEqual([]);
    expect(sweepProblems(REQUEST, NAMES_VOCAB)).toEqual([]);
    // Every precision: INT4's Hadamard block is capped at the narrowest rung's width.
    for (const precision of ['fp16', 'int8', 'int4', 'int4-minmax', 'int4-lsq-luq'] as const) expect(sweepProblems({ ...DEFAULT_SWEEP, precision }, NAMES_VOCAB)).toEqual([]);
  });

  it('refuses widths the heads do not divide, naming them', () => {
    const problems = sweepProblems({ ...REQUEST, widths: [16, 18, 30] }, NAMES_VOCAB);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/18, 30/);
    expect(problems[0]).toMatch(/divisible by the 4 heads/);
  });

  it('refuses too few widths, bad ranges and repeats', () => {
    expect(sweepProblems({ ...REQUEST, widths: [32] }, NAMES_VOCAB)).toEqual(['a power law needs at least 2 widths (got 1); e.g. 16, 24, 32, 48, 96']);
    expect(sweepProblems({ ...REQUEST, widths: [] }, NAMES_VOCAB)[0]).toMatch(/at least 2 widths \(got 0\)/);
    expect(sweepProblems({ ...REQUEST, widths: [4, 8, 12, 16, 20, 24, 28, 32, 36] }, NAMES_VOCAB)[0]).toMatch(/at most 8 widths/);
    expect(sweepProblems({ ...REQUEST, widths: [16, 16] }, NAMES_VOCAB)).toEqual(['every width must differ from the others']);
    const ranges = sweepProblems({ ...REQUEST, steps: 0, batchSize: 1000, lr: 0, seed: -1 }, NAMES_VOCAB);
    expect(ranges).toEqual([
      'steps must be a whole number from 1 to 5000 (got 0)',
      'batch must be a whole number from 1 to 256 (got 1000)',
      'learning rate must be a number in (0, 1] (got 0)',
      'seed must be an integer in [0, 2^32) (got -1)',
    ]);
  });

  it("refuses a rung over the adapter's buffer limits, naming it", () => {
    // d_model 1024, 2 layers: about 12·1024²·2 ≈ 25M parameters, 100 MB of f32 in one buffer.
    const big = { ...REQUEST, widths: [16, 1024] };
    const limits = { maxBufferSize: 64 * 2 ** 20, maxStorageBufferBindingSize: 64 * 2 ** 20 };
    const message = sweepLimitError(big, sweepLadder(big, NAMES_VOCAB), limits);
    expect(message).toMatch(/^rung d=1024 \(d_model 1024/);
    expect(message).toMatch(/per buffer/);
    expect(sweepLimitError(REQUEST, sweepLadder(REQUEST, NAMES_VOCAB), limits)).toBeNull();
  });
});

describe('the ladder', () => {
  it('trains the rungs smallest first, with counts from the model shape', () => {
    const rungs = sweepLadder({ ...REQUEST, widths: [48, 16, 32] }, NAMES_VOCAB);
    expect(rungs.map((r) => r.model.dModel)).toEqual([16, 32, 48]);
    const p = planOf(rungs[0]);
    // d = 16, 2 layers, d_ff 64, context 16, vocabulary 54, learned positions, untied head: per block
    // 12d² + 13d = 3280; ln_f 2d; head V·d; token and position tables (V + T)·d.
    expect(p).toMatchObject({ dModel: 16, nLayer: 2, nHead: 4, dFF: 64, steps: 10 });
    expect(p.parameters).toBe(2 * 3280 + 32 + 54 * 16 + (54 + 16) * 16);
    // Tokens: steps · batch · context. FLOPs per token: 6·(L·(4d² + 2d·d_ff) + V·d) + 12·L·T·d.
    expect(p.tokens).toBe(10 * 4 * 16);
    expect(p.flops).toBe((6 * (2 * (4 * 256 + 2 * 16 * 64) + 54 * 16) + 12 * 2 * 16 * 16) * 640);
  });

  it("gives each rung a config the engine accepts, INT4's Hadamard block within its width", () => {
    const request = { ...REQUEST, precision: 'int4' as const };
    for (const r of sweepLadder(request, NAMES_VOCAB)) {
      const c = rungRunConfig(request, r);
      expect(() => validateRunConfig(c)).not.toThrow();
      expect(c.train.hadamardBlock).toBe(Math.min(32, r.model.dModel & -r.model.dModel));
      expect(c.train).toMatchObject({ steps: 10, batchSize: 4, lr: 3e-3, seed: 1, precision: 'int4', logEvery: 1, measureEvery: 0, checkpointEvery: 0, warmupSteps: 2 });
      expect(c.dataset).toBe('names');
    }
  });
});

describe('the panel state', () => {
  const plans = [plan(16, 1e9), plan(32, 4e9)];
  const started = sweepReducer(INITIAL_SWEEP_STATE, { type: 'start', request: REQUEST, plan: plans });

  it('follows a sweep from start to done', () => {
    expect(started.phase).toBe('starting');
    expect(isSweepBusy(started)).toBe(true);
    expect(started.rungs.map((r) => r.status)).toEqual(['waiting', 'waiting']);
    // The worker's plan replaces the page's.
    const workerPlans = [plan(16, 1.1e9), plan(32, 4.2e9)];
    let s = sweepReducer(started, { type: 'plan', adapter: 'SwiftShader', rungs: workerPlans });
    expect(s.phase).toBe('running');
    expect(s.adapter).toBe('SwiftShader');
    expect(s.rungs[0].plan.flops).toBe(1.1e9);
    s = sweepReducer(s, { type: 'rung-start', index: 0, kernelPath: 'f32 tiles' });
    expect(s.current).toBe(0);
    expect(s.rungs[0].status).toBe('training');
    s = sweepReducer(s, { type: 'rung-metrics', index: 0, points: [{ step: 1, loss: 4 }, { step: 2, loss: 3.9 }] });
    s = sweepReducer(s, { type: 'rung-metrics', index: 0, points: [{ step: 3, loss: 3.8 }] });
    expect(s.rungs[0].points.map((p) => p.step)).toEqual([1, 2, 3]);
    expect(sweepProgress(s)).toEqual({ done: 3, total: 20 });
    s = sweepReducer(s, { type: 'rung-evaluating', index: 0 });
    expect(s.rungs[0].status).toBe('evaluating');
    s = sweepReducer(s, { type: 'rung-done', index: 0, valLoss: 3.7, seconds: 2 });
    expect(s.rungs[0]).toMatchObject({ status: 'done', valLoss: 3.7, seconds: 2 });
    expect(s.current).toBeNull();
    expect(sweepProgress(s)).toEqual({ done: 10, total: 20 });
    s = sweepReducer(s, { type: 'rung-start', index: 1, kernelPath: 'f32 tiles' });
    s = sweepReducer(s, { type: 'rung-failed', index: 1, message: 'training hit a NaN at step 4' });
    expect(s.rungs[1]).toMatchObject({ status: 'failed', error: 'training hit a NaN at step 4' });
    s = sweepReducer(s, { type: 'done', seconds: 5 });
    expect(s).toMatchObject({ phase: 'done', seconds: 5, current: null });
    expect(isSweepBusy(s)).toBe(false);
    // A terminated worker's late message changes nothing.
    expect(sweepReducer(s, { type: 'rung-metrics', index: 1, points: [{ step: 9, loss: 1 }] })).toBe(s);
  });

  it('keeps the finished rungs when stopped, and ignores what comes after', () => {
    let s = sweepReducer(started, { type: 'plan', adapter: 'a', rungs: plans });
    s = sweepReducer(s, { type: 'rung-start', index: 0, kernelPath: 'p' });
    s = sweepReducer(s, { type: 'rung-done', index: 0, valLoss: 3, seconds: 1 });
    s = sweepReducer(s, { type: 'rung-start', index: 1, kernelPath: 'p' });
    s = sweepReducer(s, { type: 'rung-metrics', index: 1, points: [{ step: 1, loss: 4 }] });
    const stopped = sweepReducer(s, { type: 'stop' });
    expect(stopped.phase).toBe('stopped');
    expect(stopped.rungs.map((r) => r.status)).toEqual(['done', 'stopped']);
    expect(sweepReducer(stopped, { type: 'rung-done', index: 1, valLoss: 2, seconds: 1 })).toBe(stopped);
    expect(sweepReducer(stopped, { type: 'stop' })).toBe(stopped);
    expect(sweepReducer(stopped, { type: 'worker-error', message: 'x' })).toBe(stopped);
  });

  it('reports errors: a refused ladder leaves every rung waiting; a failure mid-rung marks that rung', () => {
    const refused = sweepReducer(started, { type: 'error', kind: 'limits', message: 'rung d=4096 … per buffer' });
    expect(refused).toMatchObject({ phase: 'error', error: { kind: 'limits' } });
    expect(refused.rungs.map((r) => r.status)).toEqual(['waiting', 'waiting']);
    let s = sweepReducer(started, { type: 'plan', adapter: 'a', rungs: plans });
    s = sweepReducer(s, { type: 'rung-start', index: 0, kernelPath: 'p' });
    s = sweepReducer(s, { type: 'error', kind: 'device-lost', message: 'lost' });
    expect(s.rungs[0]).toMatchObject({ status: 'failed', error: 'lost' });
    const crashed = sweepReducer(started, { type: 'worker-error', message: 'the GPU ran out of memory building the model' });
    expect(crashed.error).toEqual({ kind: 'out-of-memory', message: 'the GPU ran out of memory building the model' });
    expect(sweepReducer(INITIAL_SWEEP_STATE, { type: 'worker-error', message: 'x' })).toBe(INITIAL_SWEEP_STATE);
  });
});

describe('the log-log chart and the fit', () => {
  /** Finished rungs whose loss lies exactly on 7·C^−0.08. */
  function onLaw(flops: number[]): RungState[] {
    return flops.map((f, i) => rung(plan(16 * (i + 1), f), { status: 'done', valLoss: 7 * f ** -0.08 }));
  }

  it('fits the power law through the finished rungs only', () => {
    const rungs = [...onLaw([1e8, 1e9, 1e10, 1e11]), rung(plan(99, 1e12), { status: 'failed' }), rung(plan(98, 1e13), { status: 'stopped' })];
    expect(finalPoints(rungs).map((p) => p.flops)).toEqual([1e8, 1e9, 1e10, 1e11]);
    const fit = sweepFit(rungs)!;
    expect(fit.count).toBe(4);
    expect(fit.exponent).toBeCloseTo(-0.08, 10);
    expect(fit.coefficient).toBeCloseTo(7, 8);
    expect(fit.r2).toBeCloseTo(1, 10);
  });

  it('has no fit below two finished rungs', () => {
    expect(sweepFit(onLaw([1e9]))).toBeNull();
    expect(sweepFit([rung(plan(16, 1e9), { status: 'done', valLoss: NaN }), ...onLaw([1e10])])).toBeNull();
  });

  it('draws the fitted line as log-evenly spaced points of a·x^b', () => {
    const line = fitLine({ coefficient: 7, exponent: -0.08 }, 1e8, 1e12, 5);
    expect(line).toHaveLength(5);
    [1e8, 1e9, 1e10, 1e11, 1e12].forEach((x, i) => expect(line[i].flops / x).toBeCloseTo(1, 12));
    for (const p of line) expect(p.fit).toBeCloseTo(7 * p.flops ** -0.08, 12);
    expect(fitLine({ coefficient: 1, exponent: -1 }, 0, 10)).toEqual([]);
  });

  it("places a rung's losses at the FLOPs spent so far", () => {
    const r = rung(plan(16, 1000, 10), { status: 'training', points: [{ step: 1, loss: 4 }, { step: 2, loss: NaN }, { step: 5, loss: 3 }] });
    expect(curveOf(r)).toEqual([{ flops: 100, loss: 4 }, { flops: 500, loss: 3 }]);
    const long = rung(plan(16, 1e6, 1000), { points: curve(1000) });
    const drawn = curveOf(long, 100);
    expect(drawn.length).toBeLessThanOrEqual(101);
    expect(drawn[drawn.length - 1].flops).toBe(1e6);
  });

  it('puts log-axis ticks on the powers of ten and pads the domain', () => {
    expect(decadeTicks(3e5, 2e8)).toEqual([1e5, 1e6, 1e7, 1e8, 1e9]);
    expect(decadeTicks(2e5, 3e5)).toEqual([1e5, 1e6]);
    expect(logDomain([2, 8, NaN, -1], 2)).toEqual([1, 16]);
    expect(logDomain([])).toBeNull();
  });

  it('writes the law and what the exponent means', () => {
    expect(formatFitLaw({ coefficient: 12.345, exponent: -0.07123 })).toBe('L ≈ 12.3 · C^−0.0712');
    expect(formatExponent(-0.05)).toBe('−0.05');
    expect(formatExponent(0.125)).toBe('0.125');
    const d = describeExponent(-0.05);
    expect(d.perDecade).toBeCloseTo(0.8913, 4);
    expect(d.perDoublingPercent).toBeCloseTo(-3.41, 2);
    expect(formatPower(3.2e12)).toBe('3.2×10¹²');
    expect(formatPower(1e9)).toBe('10⁹');
    expect(formatPower(9.96e11)).toBe('10¹²');
    expect(formatPower(4.5e-3)).toBe('4.5×10⁻³');
    expect(formatCount(8576)).toBe('8.58k');
    expect(formatCount(230000)).toBe('230k');
    expect(formatCount(1.2e6)).toBe('1.2M');
    expect(formatCount(950)).toBe('950');
  });
});

describe('loss spikes', () => {
  it('finds none on a smooth noisy curve and one where the loss doubled', () => {
    expect(findSpikes(curve(200))).toEqual([]);
    const spikes = findSpikes(curve(200, 120));
    expect(spikes.map((s) => s.step)).toEqual([120]);
    expect(spikes[0].ratio).toBeGreaterThan(1.8);
    expect(spikeText(spikes[0])).toMatch(/^spike at step 120: loss \d\.\d{3} vs trend \d\.\d{3} \(\d\.\d\d×\)$/);
  });

  it("marks a diverged run's NaN once, where it began, skipped steps included", () => {
    // Without loss scaling a NaN step is also a skipped one (the optimizer did not apply it).
    const points = [...curve(40).map((p) => ({ ...p, skipped: false })), { step: 41, loss: NaN, skipped: true }, { step: 42, loss: NaN, skipped: true }];
    expect(lossSeries(points).map((p) => p.step)).toEqual(Array.from({ length: 42 }, (_, i) => i + 1));
    const spikes = findSpikes(points);
    expect(spikes.map((s) => [s.step, s.points])).toEqual([[41, 2]]);
    expect(spikeText(spikes[0])).toMatch(/^spike at step 41: loss NaN vs trend \d\.\d{3} \(diverged\)$/);
    // Before any trend (the NaN at step 2 of a run whose first step was finite).
    expect(spikeText(findSpikes([{ step: 1, loss: 4 }, { step: 2, loss: NaN }])[0])).toBe('spike at step 2: loss NaN (diverged before a trend was known)');
  });

  it('marks a spike in its run\'s colour, named in the tooltip, and counts the marks', () => {
    const run = { id: 'a', label: 'fp32 · names', color: '#0072b2' };
    const [spike] = findSpikes(curve(100, 60, 3));
    const mark = spikeMark(run, spike);
    expect(mark).toMatchObject({ runId: 'a', runLabel: 'fp32 · names', color: '#0072b2', step: 60, loss: spike.loss });
    expect(mark.text).toBe(`fp32 · names: ${spikeText(spike)}`);
    expect(spikeCountText(0)).toBe('no loss spikes detected');
    expect(spikeCountText(1)).toBe('1 loss spike marked');
    expect(spikeCountText(3)).toBe('3 loss spikes marked');
  });

  it("places a sweep rung's spikes on the FLOPs axis", () => {
    const r = rung(plan(16, 2000, 200), { points: curve(200, 150) });
    expect(rungSpikes(r).map((s) => [s.step, s.flops])).toEqual([[150, 1500]]);
  });
});
