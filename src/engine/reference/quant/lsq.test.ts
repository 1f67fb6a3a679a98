// LSQ forward codes and backward (paper §3.1, A.3; spec §1).

import { describe, expect, it } from 'vitest';
import { SeededRandom, expectGradientMatches } from '../test-helpers';
import { PAPER_Q_N, PAPER_Q_P, Q_N, Q_P } from './constants';
import { lsqBackward, lsqFakeQuantize, lsqGradScale, lsqInitStep, lsqQuantize } from './lsq';

describe('LSQ forward', () => {
  it('uses the official code range [−8, 7]', () => {
    expect([Q_N, Q_P]).toEqual([8, 7]);
    expect([PAPER_Q_N, PAPER_Q_P]).toEqual([7, 7]);
  });

  it('init step is 2·mean|x|/√Q_P + 1e-10 (hand-worked)', () => {
    const x = new Float64Array([1, -3, 2, -2]); // mean|x| = 2
    expect(lsqInitStep(x)).toBe(4 / Math.sqrt(7) + 1e-10);
    expect(lsqInitStep(x, 4)).toBe(2 + 1e-10);
    expect(lsqInitStep(new Float64Array(3))).toBe(1e-10);
  });

  it('codes round half away from zero and clamp to [−8, 7] (hand-worked, step 0.5)', () => {
    const x = new Float64Array([0.25, -0.25, 0.74, 3.6, 3.75, -4.2, -4.25, 100, 0.1, -1.25]);
    // v = x/0.5:      0.5   -0.5  1.48  7.2   7.5  -8.4  -8.5  200   0.2  -2.5
    const { codes, v } = lsqQuantize(x, 0.5);
    expect(Array.from(codes)).toEqual([1, -1, 1, 7, 7, -8, -8, 7, 0, -3]);
    expect(Array.from(v)).toEqual(Array.from(x, (xi) => xi / 0.5));
    // The step enters as |s| (the code resets s = |s|); the paper's ±7 is available through qn.
    expect(Array.from(lsqQuantize(x, -0.5).codes)).toEqual(Array.from(codes));
    expect(lsqQuantize(x, 0.5, PAPER_Q_N, PAPER_Q_P).codes[5]).toBe(-7);
    expect(Array.from(lsqFakeQuantize(x, 0.5))).toEqual([0.5, -0.5, 0.5, 3.5, 3.5, -4, -4, 3.5, 0, -1.5]);
  });

  it('codes stay exactly within [−8, 7] and reach both ends on wide data', () => {
    const x = new SeededRandom(201).normalArray(4096, 5);
    const { codes } = lsqQuantize(x, lsqInitStep(x) / 2);
    expect([Math.min(...codes), Math.max(...codes)]).toEqual([-8, 7]);
  });

  it('rejects a zero or non-finite step', () => {
    expect(() => lsqQuantize(new Float64Array(2), 0)).toThrow();
    expect(() => lsqQuantize(new Float64Array(2), NaN)).toThrow();
  });
});

describe('LSQ backward', () => {
  it('hand-worked mask, δ and g = 1/√(Q_P·numel)', () => {
    // v = 0.3 (inside, δ = −0.3), −9 (below, δ = −8), 7.5 (above, δ = 7), 2.5 (inside, δ = 3 − 2.5),
    // 7 and −8 (exactly on the bounds: inside, δ = 0).
    const v = new Float64Array([0.3, -9, 7.5, 2.5, 7, -8]);
    const gradOut = new Float64Array([1, 1, 1, 2, 5, 5]);
    const { gradInput, gradStep } = lsqBackward(gradOut, v, 0.1, 28);
    expect(Array.from(gradInput)).toEqual([1, 0, 0, 2, 5, 5]);
    expect(lsqGradScale(28)).toBe(1 / 14);
    expect(gradStep).toBeCloseTo((-0.3 - 8 + 7 + 0.5 * 2) / 14, 15);
  });

  it('matches finite differences of the STE surrogate s·(clamp(x/s) + frozen rounding), inside and outside the range', () => {
    // LSQ's gradient is the derivative of x̂ = s·clamp(⌊x/s⌉) holding the rounding fixed (⌊v⌉′ = 1):
    // x̂(x, s) = s·(clamp(x/s, −Q_N, Q_P) + r) with r = round(clamp(v₀)) − clamp(v₀) frozen at the base point.
    // Its value is the real forward, and its derivatives are the STE mask and δ.
    const rng = new SeededRandom(202);
    const n = 60;
    const step = new Float64Array([0.7]);
    const x = rng.normalArray(n, 4); // |x| beyond about 5 lies outside [−8, 7]·0.7
    const weights = rng.normalArray(n);
    const base = lsqQuantize(x, step[0]);
    const clampV = (vi: number) => Math.min(Math.max(vi, -Q_N), Q_P);
    // Stay away from the clip boundaries, where the surrogate has a kink.
    for (const vi of base.v) expect(Math.min(Math.abs(vi + Q_N), Math.abs(vi - Q_P))).toBeGreaterThan(1e-3);
    const frozen = base.v.map((vi, i) => base.codes[i] - clampV(vi));
    const surrogate = () => {
      let loss = 0;
      for (let i = 0; i < n; i++) loss += weights[i] * step[0] * (clampV(x[i] / step[0]) + frozen[i]);
      return loss;
    };
    const fake = lsqFakeQuantize(x, step[0]);
    expect(surrogate()).toBeCloseTo(fake.reduce((s, fi, i) => s + weights[i] * fi, 0), 12);

    const { gradInput, gradStep } = lsqBackward(weights, base.v, step[0], n);
    const clipped = base.v.filter((vi) => vi < -Q_N || vi > Q_P).length;
    expect(clipped, 'the data must exercise the clipped branches').toBeGreaterThan(2);
    expectGradientMatches('gradInput', surrogate, x, gradInput);
    expectGradientMatches('gradStep / g', surrogate, step, new Float64Array([gradStep / lsqGradScale(n)]));
  });
});
