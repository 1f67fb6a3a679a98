// Bit splitting of ∇Y (paper §4; the official kernel's arithmetic, spec §3.2).

import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../test-helpers';
import { bitSplit, bitSplitDequantize, stackedSplitRows } from './bitsplit';

function uniformArray(rng: SeededRandom, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.uniform());
}

describe('bitSplit', () => {
  it('reproduces the kernel arithmetic on hand-worked values (max|G| = 98, so scale1 = 1)', () => {
    // t = G. hi = clamp(round(t/14), ±6); lo = clamp(round(t − 14·hi + u − 0.5), ±6):
    //   98:  t/14 = 7 → hi 6 (clamped); residual 14, 14 − 0.2 → 14 → lo 6 (clamped): 90, the ceiling.
    //  −49:  t/14 = −3.5 → −4 (ties away from zero); residual 7, 7 + 0.4 → 7 → lo 6: −50.
    //    7:  t/14 = 0.5 → 1; residual −7, −7 − 0.3 → −7 → lo −6: 8.
    //  0.5:  hi 0; residual 0.5; u = 0.4 → 0.4 → lo 0; u = 0.6 → 0.6 → lo 1.
    //   30:  30/14 ≈ 2.14 → 2; residual 2, u = 0.5 → 2.
    //  −20:  −20/14 ≈ −1.43 → −1; residual −6, u = 0.5 → −6.
    const g = new Float64Array([98, -49, 7, 0.5, 0.5, 30, -20]);
    const u = new Float64Array([0.3, 0.9, 0.2, 0.4, 0.6, 0.5, 0.5]);
    const split = bitSplit(g, u);
    expect(Array.from(split.hi)).toEqual([6, -4, 1, 0, 0, 2, -1]);
    expect(Array.from(split.lo)).toEqual([6, 6, -6, 0, 1, 2, -6]);
    expect([split.scaleHi, split.scaleLo]).toEqual([14, 1]);
    expect(Array.from(bitSplitDequantize(split))).toEqual([90, -50, 8, 0, 1, 30, -20]);
    // Scaling G by a power of two scales only the scales.
    const scaled = bitSplit(g.map((v) => v / 64), u);
    expect(Array.from(scaled.hi)).toEqual(Array.from(split.hi));
    expect(Array.from(scaled.lo)).toEqual(Array.from(split.lo));
    expect([scaled.scaleHi, scaled.scaleLo]).toEqual([14 / 64, 1 / 64]);
  });

  it('gives zero codes and zero scales for an all-zero gradient', () => {
    const split = bitSplit(new Float64Array(5), new Float64Array(5).fill(0.5));
    expect([split.scaleHi, split.scaleLo]).toEqual([0, 0]);
    expect(Array.from(split.hi).concat(Array.from(split.lo)).every((q) => q === 0)).toBe(true);
  });

  it('codes lie in [−6, 6], hi is round-to-nearest of t/14, and the error is ≤ s↓ away from clipping', () => {
    const rng = new SeededRandom(301);
    const n = 512;
    const g = rng.normalArray(n, 0.01);
    const split = bitSplit(g, uniformArray(rng, n));
    const recon = bitSplitDequantize(split);
    const largest = Math.max(...g.map(Math.abs));
    expect(split.scaleLo).toBeCloseTo(largest / 98, 15);
    expect(split.scaleHi).toBeCloseTo((14 * largest) / 98, 15);
    let checked = 0;
    for (let i = 0; i < n; i++) {
      expect(Math.abs(split.hi[i]) <= 6 && Math.abs(split.lo[i]) <= 6, `codes at ${i}`).toBe(true);
      const t = (g[i] * 98) / largest;
      const nearest = Math.round(t / 14) + 0; // no exact ties in random data; + 0 turns −0 into 0
      expect(split.hi[i]).toBe(Math.max(-6, Math.min(6, nearest)));
      const residual = t - 14 * nearest;
      if (Math.abs(t) <= 90 && Math.abs(residual) <= 5.5) {
        checked++;
        expect(Math.abs(recon[i] - g[i]), `entry ${i}`).toBeLessThanOrEqual(split.scaleLo * (1 + 1e-12));
      }
    }
    expect(checked, 'most entries are away from clipping').toBeGreaterThan(0.7 * n);
  });

  it('the low part is unbiased: the mean of 4000 draws of lo is the residual t − 14·hi', () => {
    const rng = new SeededRandom(302);
    const n = 96, draws = 4000;
    const g = rng.normalArray(n);
    const sumLo = new Float64Array(n);
    let hiFirst: Int32Array | null = null;
    let hiChanged = false;
    for (let k = 0; k < draws; k++) {
      const split = bitSplit(g, uniformArray(rng, n));
      hiFirst ??= split.hi;
      for (let i = 0; i < n; i++) {
        sumLo[i] += split.lo[i];
        if (split.hi[i] !== hiFirst[i]) hiChanged = true;
      }
    }
    expect(hiChanged, 'the high part is deterministic').toBe(false);
    const largest = Math.max(...g.map(Math.abs));
    // Var(lo) ≤ 1/4 for a stochastic rounding, so the mean of `draws` has σ ≤ 0.5/√draws; allow 5σ.
    const bound = (5 * 0.5) / Math.sqrt(draws);
    let checked = 0;
    for (let i = 0; i < n; i++) {
      const residual = (g[i] * 98) / largest - 14 * hiFirst![i];
      if (Math.abs(residual) > 5.5) continue; // the ±6 clamp would bite (a kernel artefact, spec §3.2)
      checked++;
      expect(Math.abs(sumLo[i] / draws - residual), `entry ${i}, residual ${residual}`).toBeLessThan(bound);
    }
    expect(checked).toBeGreaterThan(0.7 * n);
  });

  it('stacks [s↑·∇↑Y ; s↓·∇↓Y] as 2N rows', () => {
    const split = { hi: new Int32Array([1, 2, 3, 4]), lo: new Int32Array([-1, 0, 5, 6]), scaleHi: 14, scaleLo: 1 };
    expect(Array.from(stackedSplitRows(split, 2, 2))).toEqual([14, 28, 42, 56, -1, 0, 5, 6]);
  });
});
