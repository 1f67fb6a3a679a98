import { describe, expect, it } from 'vitest';
import { pcgHash, uniformDraw, uniformDraws } from './random';

describe('counter-based draws', () => {
  it('pcgHash follows the PCG-RXS-M-XS permutation, computed here with BigInt', () => {
    const ref = (v: bigint) => {
      const m = 0xffffffffn;
      const state = (v * 747796405n + 2891336453n) & m;
      const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) & m;
      return Number(((word >> 22n) ^ word) & m);
    };
    for (const v of [0, 1, 2, 12345, 0x7fffffff, 0x80000000, 0xffffffff, 0xdeadbeef]) expect(pcgHash(v)).toBe(ref(BigInt(v)));
  });

  it('draws are in (0, 1), reproducible, and uniform (chi-square over 20 bins)', () => {
    const d = uniformDraws(7, 3, 11, 20000);
    expect(Array.from(d)).toEqual(Array.from(uniformDraws(7, 3, 11, 20000)));
    expect(d.every((u) => u > 0 && u < 1)).toBe(true);
    const bins = new Array(20).fill(0);
    for (const u of d) bins[Math.floor(u * 20)]++;
    const chi2 = bins.reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
    expect(chi2).toBeLessThan(43.8); // 99.9th percentile of chi-square with 19 degrees of freedom
  });

  it('seed, stream and step each change the draws', () => {
    const base = uniformDraw(1, 2, 3, 4);
    expect(uniformDraw(2, 2, 3, 4)).not.toBe(base);
    expect(uniformDraw(1, 3, 3, 4)).not.toBe(base);
    expect(uniformDraw(1, 2, 4, 4)).not.toBe(base);
    expect(uniformDraw(1, 2, 3, 5)).not.toBe(base);
  });
});
