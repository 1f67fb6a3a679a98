// Leverage score sampling (paper §4, A.2; spec §3): valid probabilities, the released kernels'
// drop-zero-rows variant, and the statistics of the sampled estimator (unbiased, variance below uniform
// sampling when ∇Y has the structural sparsity of the paper's Fig. 2).

import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../test-helpers';
import { bitSplit, bitSplitDequantize, stackedSplitRows } from './bitsplit';
import { lsqFakeQuantize, lsqInitStep } from './lsq';
import { lssActGrad, lssProbabilities, lssWeightGrad, rowNorms, sampledActGrad, sampledWeightGrad } from './lss';

function uniformArray(rng: SeededRandom, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.uniform());
}

/** Plain triple-loop products, written independently of lss.ts. */
function transposeTimes(a: Float64Array, b: Float64Array, n: number, c: number, d: number): Float64Array {
  // aᵀ·b with a [n, c], b [n, d] → [c, d]
  const out = new Float64Array(c * d);
  for (let i = 0; i < n; i++) for (let p = 0; p < c; p++) for (let q = 0; q < d; q++) out[p * d + q] += a[i * c + p] * b[i * d + q];
  return out;
}
function times(a: Float64Array, b: Float64Array, n: number, c: number, d: number): Float64Array {
  // a·b with a [n, c], b [c, d] → [n, d]
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let p = 0; p < c; p++) for (let q = 0; q < d; q++) out[i * d + q] += a[i * c + p] * b[p * d + q];
  return out;
}
function squaredDistance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}
const squaredNorm = (a: Float64Array) => squaredDistance(a, new Float64Array(a.length));

describe('rowNorms and lssProbabilities', () => {
  it('row norms (hand-worked)', () => {
    expect(Array.from(rowNorms(new Float64Array([3, 4, 0, 0, 1, 0]), 3, 2))).toEqual([5, 0, 1]);
  });

  it('water-filling on hand-worked scores', () => {
    // [10,1,1,1,1], budget 2: 10·2/14 > 1 → 1; the remaining budget 1 over four equal scores → 1/4 each.
    expect(Array.from(lssProbabilities(new Float64Array([10, 1, 1, 1, 1]), 2))).toEqual([1, 0.25, 0.25, 0.25, 0.25]);
    // [1,4,1,2], budget 2: proportional already valid: 4·2/8 = 1, 2·2/8 = 1/2, 1·2/8 = 1/4.
    expect(Array.from(lssProbabilities(new Float64Array([1, 4, 1, 2]), 2))).toEqual([0.25, 1, 0.25, 0.5]);
    // Two saturation rounds: [100, 10, 1, 1], budget 3 → 100 saturates; then 10·2/12 > 1 saturates; then 1/2 each.
    expect(Array.from(lssProbabilities(new Float64Array([100, 10, 1, 1]), 3))).toEqual([1, 1, 0.5, 0.5]);
    // Zero scores get 0; fewer nonzero scores than the budget → every nonzero one gets 1.
    expect(Array.from(lssProbabilities(new Float64Array([0, 3, 0, 1]), 3))).toEqual([0, 1, 0, 1]);
    expect(Array.from(lssProbabilities(new Float64Array([2, 1]), 0))).toEqual([0, 0]);
    expect(() => lssProbabilities(new Float64Array([1, -1]), 1)).toThrow();
  });

  it('on heavy-tailed scores: Σp = budget, 0 ≤ p ≤ 1, p ∝ c below 1, saturated rows have the top scores', () => {
    const rng = new SeededRandom(401);
    const n = 128, budget = 64;
    const scores = Float64Array.from({ length: n }, (_, i) => (i % 9 === 0 ? 0 : Math.exp(2 * rng.normal())));
    const p = lssProbabilities(scores, budget);
    expect(Math.abs(p.reduce((s, v) => s + v, 0) - budget)).toBeLessThan(1e-9);
    const below = [...p.keys()].filter((i) => p[i] < 1 && scores[i] > 0);
    const saturated = [...p.keys()].filter((i) => p[i] === 1);
    expect(saturated.length, 'the data must make some rows saturate').toBeGreaterThan(3);
    expect(below.length).toBeGreaterThan(3);
    const ratio = p[below[0]] / scores[below[0]];
    for (const i of below) expect(p[i] / scores[i]).toBeCloseTo(ratio, 12);
    const largestBelow = Math.max(...below.map((i) => scores[i]));
    for (const i of saturated) expect(scores[i]).toBeGreaterThanOrEqual(largestBelow);
    for (let i = 0; i < n; i++) {
      expect(p[i] >= 0 && p[i] <= 1).toBe(true);
      if (scores[i] === 0) expect(p[i]).toBe(0);
    }
  });
});

/**
 * A linear layer's backward inputs with the structure of paper Fig. 2: ∇Y has a few large token rows,
 * many small ones and some exact zeros (padding); X̂ and Ŵ are LSQ-dequantized INT4 tensors.
 */
function structuredProblem(seed: number) {
  const rng = new SeededRandom(seed);
  const n = 32, c = 16, d = 24;
  const gradY = new Float64Array(n * c);
  const largeRows = new Set([3, 11, 20]);
  const zeroRows = new Set([30, 31]);
  for (let i = 0; i < n; i++) {
    if (zeroRows.has(i)) continue;
    const std = largeRows.has(i) ? 1 : 0.1;
    for (let j = 0; j < c; j++) gradY[i * c + j] = std * rng.normal();
  }
  const split = bitSplit(gradY, uniformArray(rng, n * c));
  // Token rows of X with different norms, so that the ‖X̂↕_i‖ factor of the weight scores matters.
  const x = rng.normalArray(n * d).map((v, k) => v * (1 + (Math.floor(k / d) % 4)));
  const w = rng.normalArray(c * d, 0.2);
  const xq = lsqFakeQuantize(x, lsqInitStep(x));
  const wq = lsqFakeQuantize(w, lsqInitStep(w));
  const splitGrad = bitSplitDequantize(split);
  return { rng, n, c, d, split, xq, wq, zeroRows, exactW: transposeTimes(splitGrad, xq, n, c, d), exactX: times(splitGrad, wq, n, c, d) };
}

describe("the 'bitsplit' variant (what the released kernels run)", () => {
  it('keeps exactly the nonzero rows with p = 1 and returns the exact bit-split products', () => {
    const { n, c, d, split, xq, wq, zeroRows, exactW, exactX } = structuredProblem(402);
    const noDraws = new Float64Array(0);
    const weight = lssWeightGrad(split, xq, n, c, d, 'bitsplit', noDraws);
    const act = lssActGrad(split, wq, n, c, d, 'bitsplit', noDraws);
    expect(Math.sqrt(squaredDistance(weight.gradW, exactW) / squaredNorm(exactW))).toBeLessThan(1e-12);
    expect(Math.sqrt(squaredDistance(act.gradX, exactX) / squaredNorm(exactX))).toBeLessThan(1e-12);
    const stackedNorms = rowNorms(stackedSplitRows(split, n, c), 2 * n, c);
    for (const result of [weight, act]) {
      for (let i = 0; i < 2 * n; i++) {
        const nonzero = stackedNorms[i] > 0;
        expect(result.keep[i]).toBe(nonzero ? 1 : 0);
        expect(result.probs[i]).toBe(nonzero ? 1 : 0);
      }
    }
    for (const token of zeroRows) expect([weight.keep[token], weight.keep[n + token]]).toEqual([0, 0]);
  });
});

describe("the 'lss' variant: unbiased, and better than uniform row sampling", () => {
  const draws = 3000;

  /** Mean and mean squared deviation from `exact` over `draws` runs of `estimate`. */
  function statistics(exact: Float64Array, estimate: () => Float64Array) {
    const sum = new Float64Array(exact.length);
    let squaredDeviation = 0;
    for (let k = 0; k < draws; k++) {
      const e = estimate();
      for (let i = 0; i < e.length; i++) sum[i] += e[i];
      squaredDeviation += squaredDistance(e, exact);
    }
    const mean = sum.map((s) => s / draws);
    return { relativeBias: Math.sqrt(squaredDistance(mean, exact) / squaredNorm(exact)), variance: squaredDeviation / draws };
  }

  it('LSSWeight: mean of 3000 draws within 2% of ∇↕Yᵀ X̂↕, variance as predicted and below uniform p = 1/2', () => {
    const { rng, n, c, d, split, xq, exactW } = structuredProblem(403);
    const stacked = stackedSplitRows(split, n, c);
    const uniformProbs = new Float64Array(2 * n).fill(n / (2 * n));
    let probs: Float64Array = new Float64Array(0);
    let alwaysKeptOk = true;
    const lss = statistics(exactW, () => {
      const r = lssWeightGrad(split, xq, n, c, d, 'lss', uniformArray(rng, 2 * n));
      probs = r.probs;
      for (let i = 0; i < 2 * n; i++) if ((r.probs[i] === 1 && !r.keep[i]) || (r.probs[i] === 0 && r.keep[i])) alwaysKeptOk = false;
      return r.gradW;
    });
    const uniform = statistics(exactW, () => sampledWeightGrad(stacked, xq, n, c, d, uniformProbs, uniformArray(rng, 2 * n)).gradW);
    expect(alwaysKeptOk, 'p = 1 rows always kept, p = 0 rows never').toBe(true);
    expect(Math.abs(probs.reduce((s, p) => s + p, 0) - n)).toBeLessThan(1e-9);
    expect(lss.relativeBias).toBeLessThan(0.02);
    // Independent Bernoulli masks: E‖est − exact‖² = Σ (1 − p_i)/p_i·‖∇↕Y_i‖²‖X̂↕_i‖² (paper §4).
    const gradNorms = rowNorms(stacked, 2 * n, c);
    const inputNorms = rowNorms(xq, n, d);
    const scores = gradNorms.map((g, i) => g * inputNorms[i % n]);
    expect(Array.from(probs)).toEqual(Array.from(lssProbabilities(scores, n)));
    let predicted = 0;
    for (let i = 0; i < 2 * n; i++) if (probs[i] > 0) predicted += ((1 - probs[i]) / probs[i]) * (gradNorms[i] * inputNorms[i % n]) ** 2;
    expect(lss.variance / predicted).toBeGreaterThan(0.85);
    expect(lss.variance / predicted).toBeLessThan(1.15);
    expect(lss.variance).toBeLessThan(uniform.variance);
  });

  it('LSSAct: mean of 3000 draws within 2% of Î↕∇↕Y Ŵ, variance as predicted and below uniform p = 1/2', () => {
    const { rng, n, c, d, split, wq, exactX } = structuredProblem(404);
    const stacked = stackedSplitRows(split, n, c);
    const uniformProbs = new Float64Array(2 * n).fill(0.5);
    let probs: Float64Array = new Float64Array(0);
    const lss = statistics(exactX, () => {
      const r = lssActGrad(split, wq, n, c, d, 'lss', uniformArray(rng, 2 * n));
      probs = r.probs;
      return r.gradX;
    });
    const uniform = statistics(exactX, () => sampledActGrad(stacked, wq, n, c, d, uniformProbs, uniformArray(rng, 2 * n)).gradX);
    expect(lss.relativeBias).toBeLessThan(0.02);
    // Scores are ‖∇↕Y_i‖ only; the variance is Σ (1 − p_i)/p_i·‖∇↕Y_i Ŵ‖².
    const rowProducts = times(stacked, wq, 2 * n, c, d);
    const productNorms = rowNorms(rowProducts, 2 * n, d);
    const gradNorms = rowNorms(stacked, 2 * n, c);
    expect(Array.from(probs)).toEqual(Array.from(lssProbabilities(gradNorms, n)));
    let predicted = 0;
    for (let i = 0; i < 2 * n; i++) {
      if (probs[i] > 0) predicted += ((1 - probs[i]) / probs[i]) * productNorms[i] ** 2;
      else expect(gradNorms[i]).toBe(0);
    }
    expect(lss.variance / predicted).toBeGreaterThan(0.85);
    expect(lss.variance / predicted).toBeLessThan(1.15);
    expect(lss.variance).toBeLessThan(uniform.variance);
  });
});
