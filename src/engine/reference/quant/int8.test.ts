// Symmetric INT8 (the Table 1 INT8 baseline; spec §5).

import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../test-helpers';
import { int8Dequantize, int8Quantize, stochasticInt8 } from './int8';

describe('int8Quantize', () => {
  it('rounds half away from zero with scale max|x|/127 (hand-worked)', () => {
    const { codes, scales } = int8Quantize(new Float64Array([127, -63.5, 0.4, -127, 2.5, -0.5]), 1, 6, false);
    expect(Array.from(scales)).toEqual([1]);
    expect(Array.from(codes)).toEqual([127, -64, 0, -127, 3, -1]);
  });

  for (const perRow of [false, true]) {
    it(`codes within ±127, |x − s·q| ≤ s/2, each row's (or the tensor's) max maps to ±127 (perRow: ${perRow})`, () => {
      const rng = new SeededRandom(perRow ? 601 : 602);
      const rows = 8, cols = 40;
      const x = rng.normalArray(rows * cols);
      for (let j = 0; j < cols; j++) x[3 * cols + j] *= 20; // one loud row
      for (let j = 0; j < cols; j++) x[5 * cols + j] = 0; // one silent row
      const { codes, scales } = int8Quantize(x, rows, cols, perRow);
      expect(scales.length).toBe(perRow ? rows : 1);
      const recon = int8Dequantize(codes, scales, rows, cols);
      let worst = 0;
      for (let r = 0; r < rows; r++) {
        const row = x.subarray(r * cols, (r + 1) * cols);
        const rowMax = Math.max(...row.map(Math.abs));
        const scale = scales[perRow ? r : 0];
        if (perRow) expect(scale).toBe(rowMax / 127);
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          expect(Math.abs(codes[i])).toBeLessThanOrEqual(127);
          worst = Math.max(worst, Math.abs(x[i] - recon[i]) / (scale / 2 || 1));
          if (Math.abs(x[i]) === rowMax && rowMax > 0 && (perRow || r === 3)) expect(Math.abs(codes[i])).toBe(127);
        }
      }
      expect(worst).toBeLessThanOrEqual(1 + 1e-12);
      if (perRow) expect(scales[5]).toBe(0);
    });
  }
});

describe('stochasticInt8', () => {
  it('floors x/s + u and clamps to ±127 (hand-worked)', () => {
    const x = new Float64Array([0.3, 0.3, -0.3, -0.3, 500, -500]);
    const u = new Float64Array([0.69, 0.71, 0.29, 0.31, 0.5, 0.5]);
    expect(Array.from(stochasticInt8(x, 1, u))).toEqual([0, 1, -1, 0, 127, -127]);
    expect(Array.from(stochasticInt8(x, 0, u))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('is unbiased: the mean of 4000 draws of s·q is x', () => {
    const rng = new SeededRandom(603);
    const n = 32, draws = 4000, scale = 0.05;
    const x = rng.normalArray(n);
    const sum = new Float64Array(n);
    for (let k = 0; k < draws; k++) {
      const q = stochasticInt8(x, scale, Float64Array.from({ length: n }, () => rng.uniform()));
      for (let i = 0; i < n; i++) sum[i] += scale * q[i];
    }
    const bound = (5 * scale) / (2 * Math.sqrt(draws));
    for (let i = 0; i < n; i++) expect(Math.abs(sum[i] / draws - x[i])).toBeLessThan(bound);
  });
});
