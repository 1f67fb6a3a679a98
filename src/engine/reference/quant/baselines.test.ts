// Min-max and LUQ gradient quantizers of the baselines (paper §5.2 Fig. 3b; spec §5).

import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../test-helpers';
import { luqQuantize, minmaxQuantize } from './baselines';

function uniformArray(rng: SeededRandom, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.uniform());
}

describe('minmaxQuantize', () => {
  it('stochastic rounding onto 2^b − 1 bins between min and max (hand-worked)', () => {
    // min −1, max 2, bits 2 → 3 bins of width 1: levels −1, 0, 1, 2.
    const x = new Float64Array([-1, 2, 0.5, 0.5, 1.25, 1.25]);
    const u = new Float64Array([0.9, 0.9, 0.4, 0.6, 0.7, 0.8]);
    // 0.5 − (−1) = 1.5: + 0.4 → ⌊1.9⌋ = 1 → 0; + 0.6 → ⌊2.1⌋ = 2 → 1. 1.25 → 2.25: + 0.7 → 2 → 1; + 0.8 → 3 → 2.
    expect(Array.from(minmaxQuantize(x, 2, u))).toEqual([-1, 2, 0, 1, 1, 2]);
    // A constant tensor has nothing to quantize.
    expect(Array.from(minmaxQuantize(new Float64Array([3, 3]), 4, new Float64Array([0.5, 0.5])))).toEqual([3, 3]);
  });

  it('is unbiased: the mean of 4000 draws is x, and every output is on the grid', () => {
    const rng = new SeededRandom(501);
    const n = 64, bits = 4, draws = 4000;
    const x = rng.normalArray(n);
    const min = Math.min(...x), max = Math.max(...x);
    const binWidth = (max - min) / 15;
    const sum = new Float64Array(n);
    let offGrid = 0;
    for (let k = 0; k < draws; k++) {
      const q = minmaxQuantize(x, bits, uniformArray(rng, n));
      for (let i = 0; i < n; i++) {
        sum[i] += q[i];
        const level = (q[i] - min) / binWidth;
        if (Math.abs(level - Math.round(level)) > 1e-9 || level < -1e-9 || level > 15 + 1e-9) offGrid++;
        if (Math.abs(q[i] - x[i]) >= binWidth * (1 + 1e-12)) offGrid++;
      }
    }
    expect(offGrid).toBe(0);
    // A stochastic rounding between neighbours Δ apart has variance ≤ Δ²/4: the mean's σ ≤ Δ/(2√draws); allow 5σ.
    const bound = (5 * binWidth) / (2 * Math.sqrt(draws));
    for (let i = 0; i < n; i++) expect(Math.abs(sum[i] / draws - x[i]), `element ${i}`).toBeLessThan(bound);
  });
});

describe('luqQuantize', () => {
  it('stochastic underflow and log rounding (hand-worked, bits 2: α = max/4)', () => {
    // max 4 → α = 1, levels 1, 2, 4.
    const x = new Float64Array([4, 3, 3, 1.5, 0.5, 0.5, -2.5, -2.5, 0, 2]);
    const u = new Float64Array([
      0.9, 0.9, // 4: a level itself
      0.9, 0.3, // 3 ∈ [2, 4): up with probability (3 − 2)/2 = 0.5; 0.3 → 4
      0.9, 0.7, // 3: 0.7 → 2
      0.9, 0.4, // 1.5 ∈ [1, 2): up with probability 0.5; 0.4 → 2
      0.3, 0.9, // 0.5 < α: α with probability 0.5 (first draw); 0.3 → 1
      0.7, 0.9, // 0.7 → 0
      0.9, 0.2, // −2.5: up with probability 0.25; 0.2 → −4
      0.9, 0.3, // 0.3 → −2
      0.1, 0.1, // 0 stays 0
      0.0, 0.0, // 2: exactly a level, probability 0 to move
    ]);
    expect(Array.from(luqQuantize(x, 2, u))).toEqual([4, 4, 2, 2, 1, 0, -4, -2, 0, 2]);
  });

  it('outputs are 0 or ±α·2^k with k ∈ [0, 2^(b−1)], and the mean of 4000 draws is x', () => {
    const rng = new SeededRandom(502);
    const n = 64, bits = 4, draws = 4000;
    // Magnitudes over many octaves, including some below α = max/256.
    const x = Float64Array.from({ length: n }, () => (rng.uniform() < 0.5 ? -1 : 1) * Math.exp(2.5 * rng.normal()));
    const largest = Math.max(...x.map(Math.abs));
    const alpha = largest / 256;
    expect(x.some((v) => Math.abs(v) < alpha), 'the data must exercise the underflow').toBe(true);
    const sum = new Float64Array(n);
    const badLevels: number[] = [];
    for (let k = 0; k < draws; k++) {
      const q = luqQuantize(x, bits, uniformArray(rng, 2 * n));
      for (let i = 0; i < n; i++) {
        sum[i] += q[i];
        if (q[i] === 0) continue;
        const exponent = Math.log2(Math.abs(q[i]) / alpha);
        if (!Number.isInteger(exponent) || exponent < 0 || exponent > 8 || Math.sign(q[i]) !== Math.sign(x[i])) badLevels.push(q[i]);
      }
    }
    expect(badLevels).toEqual([]);
    // Var ≤ lower²/4 ≤ x²/4 for the log rounding and ≤ α²/4 for the underflow: σ_mean ≤ max(|x|, α)/(2√draws).
    for (let i = 0; i < n; i++) {
      const bound = (5 * Math.max(Math.abs(x[i]), alpha)) / (2 * Math.sqrt(draws));
      expect(Math.abs(sum[i] / draws - x[i]), `element ${i} = ${x[i]}`).toBeLessThan(bound);
    }
  });

  it('maps an all-zero tensor to zeros and checks its inputs', () => {
    expect(Array.from(luqQuantize(new Float64Array(3), 4, new Float64Array(6)))).toEqual([0, 0, 0]);
    expect(() => luqQuantize(new Float64Array(3), 4, new Float64Array(3))).toThrow();
    expect(() => luqQuantize(new Float64Array(3), 1, new Float64Array(6))).toThrow();
  });
});
