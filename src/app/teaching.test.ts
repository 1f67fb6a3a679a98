import { describe, expect, it } from 'vitest';
import { codeRange, demoMatrix, runDemo } from './teaching';

const input = { rows: 8, cols: 16, outlierChannel: 5, outlierScale: 20, block: 16, bits: 4, seed: 7 };

describe('the Hadamard demo', () => {
  it('puts the outlier in its channel', () => {
    const x = demoMatrix(input);
    const colMax = (c: number) => Math.max(...Array.from({ length: 8 }, (_, r) => Math.abs(x[r * 16 + c])));
    for (let c = 0; c < 16; c++) if (c !== 5) expect(colMax(5)).toBeGreaterThan(3 * colMax(c));
  });

  it('uses the signed b-bit range of the engine', () => {
    expect(codeRange(4)).toEqual({ qn: 8, qp: 7 });
    expect(codeRange(2)).toEqual({ qn: 2, qp: 1 });
  });

  it('HQ cuts the error of a matrix with a strong outlier channel, and reconstructs exactly at 8 bits within a step', () => {
    const d = runDemo(input);
    expect(d.hadamard.relativeError).toBeLessThan(d.direct.relativeError / 2);
    expect(d.direct.saturated).toBeGreaterThan(0);
    // Codes stay in range.
    for (const c of d.hadamard.codes) expect(c >= -8 && c <= 7).toBe(true);
    // Without an outlier, 8 bits are nearly lossless either way.
    const fine = runDemo({ ...input, outlierScale: 1, bits: 8 });
    expect(fine.direct.relativeError).toBeLessThan(0.05);
    expect(fine.hadamard.relativeError).toBeLessThan(0.05);
  });

  it('with block 1 the transform is the identity', () => {
    const d = runDemo({ ...input, block: 1 });
    expect(d.hadamard.relativeError).toBeCloseTo(d.direct.relativeError, 12);
  });
});
