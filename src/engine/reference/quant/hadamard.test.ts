// Hadamard matrix and HQ (paper §3.3, A.5): orthogonality, the block-diagonal product, and the point
// of HQ: outlier columns ruin per-tensor LSQ but not LSQ after the transform (paper Fig. 1, Fig. 3a).

import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../test-helpers';
import { blockHadamard, hadamardMatrix, hqReconstruct, searchHadamardBlockSize } from './hadamard';
import { lsqFakeQuantize, lsqInitStep } from './lsq';

/** The paper's recursion H_k = (1/√2)[[H, H], [H, −H]] from H_0 = [1], built independently of hadamardMatrix. */
function sylvesterByRecursion(n: number): Float64Array {
  let size = 1;
  let h = new Float64Array([1]);
  while (size < n) {
    const next = new Float64Array(4 * size * size);
    const c = Math.SQRT1_2;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const v = c * h[i * size + j];
        next[i * 2 * size + j] = v;
        next[i * 2 * size + j + size] = v;
        next[(i + size) * 2 * size + j] = v;
        next[(i + size) * 2 * size + j + size] = -v;
      }
    }
    h = next;
    size *= 2;
  }
  return h;
}

function frobenius(a: Float64Array, b?: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - (b ? b[i] : 0)) ** 2;
  return Math.sqrt(s);
}

describe('hadamardMatrix', () => {
  const sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

  it('matches the paper recursion and is symmetric for n = 1…1024', () => {
    for (const n of sizes) {
      const h = hadamardMatrix(n);
      const reference = sylvesterByRecursion(n);
      expect(h.length).toBe(n * n);
      let maxDiff = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          maxDiff = Math.max(maxDiff, Math.abs(h[i * n + j] - reference[i * n + j]));
          if (h[i * n + j] !== h[j * n + i]) throw new Error(`H_${n} not symmetric at (${i}, ${j})`);
        }
      }
      expect(maxDiff, `n = ${n}`).toBeLessThan(1e-15);
    }
  });

  it('H·H = I for n = 1…1024 (every row for n ≤ 256, 48 seeded rows for 512 and 1024)', () => {
    // (H·H)[i][j] = Σ_k H[i][k]·H[k][j] = Σ_k H[i][k]·H[j][k] because H is exactly symmetric (checked
    // above); the row-times-row form reads memory in order, which keeps n = 1024 fast.
    const rng = new SeededRandom(101);
    for (const n of sizes) {
      const h = hadamardMatrix(n);
      const rows = n <= 256 ? Array.from({ length: n }, (_, i) => i) : rng.sampleIndices(n, 48);
      let maxError = 0;
      for (const i of rows) {
        for (let j = 0; j < n; j++) {
          let dot = 0;
          for (let k = 0; k < n; k++) dot += h[i * n + k] * h[j * n + k];
          maxError = Math.max(maxError, Math.abs(dot - (i === j ? 1 : 0)));
        }
      }
      expect(maxError, `n = ${n}`).toBeLessThan(1e-12);
    }
  });

  it('rejects sizes that are not powers of two or exceed 1024', () => {
    for (const bad of [0, 3, 6, 1.5, -2, 2048]) expect(() => hadamardMatrix(bad)).toThrow();
  });
});

describe('blockHadamard', () => {
  it('equals X·BlockDiag(H, …, H) built explicitly', () => {
    const rng = new SeededRandom(102);
    const rows = 5, cols = 24;
    const x = rng.normalArray(rows * cols);
    for (const block of [1, 2, 4, 8]) {
      const h = hadamardMatrix(block);
      const blockDiagonal = new Float64Array(cols * cols);
      for (let start = 0; start < cols; start += block) {
        for (let i = 0; i < block; i++) {
          for (let j = 0; j < block; j++) blockDiagonal[(start + i) * cols + start + j] = h[i * block + j];
        }
      }
      const expected = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < cols; j++) {
          let s = 0;
          for (let k = 0; k < cols; k++) s += x[r * cols + k] * blockDiagonal[k * cols + j];
          expected[r * cols + j] = s;
        }
      }
      const got = blockHadamard(x, rows, cols, block);
      expect(frobenius(got, expected), `block ${block}`).toBeLessThan(1e-12);
    }
  });

  it('is its own inverse and preserves the Frobenius norm (Hᵀ = H, HᵀH = I)', () => {
    const rng = new SeededRandom(103);
    const x = rng.normalArray(3 * 64);
    const once = blockHadamard(x, 3, 64, 32);
    expect(Math.abs(frobenius(once) - frobenius(x))).toBeLessThan(1e-12);
    expect(frobenius(blockHadamard(once, 3, 64, 32), x)).toBeLessThan(1e-12);
  });

  it('throws when the block is not a power of two or does not divide cols', () => {
    const x = new Float64Array(2 * 24);
    expect(() => blockHadamard(x, 2, 24, 3)).toThrow(/power of two/);
    expect(() => blockHadamard(x, 2, 24, 16)).toThrow(/divide/);
    expect(() => blockHadamard(x, 2, 24, 0)).toThrow();
  });
});

describe('HQ vs LSQ on outlier columns', () => {
  // Paper Fig. 1: activation outliers sit in a few feature columns; the Hadamard transform spreads them.
  function outlierMatrix(rows: number, cols: number, outlierColumns: number[], factor: number, seed: number): Float64Array {
    const x = new SeededRandom(seed).normalArray(rows * cols);
    for (let r = 0; r < rows; r++) for (const c of outlierColumns) x[r * cols + c] *= factor;
    return x;
  }

  it('HQ reconstruction error is at least 5× below plain LSQ at INT4 (2 columns ×50)', () => {
    // Both schemes use the LSQ init step (2·mean|·|/√7). Columns 5 and 40 fall in different 32- and
    // 64-blocks, as with the paper's typical block 32 on a wide layer.
    const rows = 64, cols = 128;
    const x = outlierMatrix(rows, cols, [5, 40], 50, 104);
    const lsqError = frobenius(lsqFakeQuantize(x, lsqInitStep(x)), x);
    for (const block of [32, 64]) {
      const hqError = frobenius(hqReconstruct(x, rows, cols, block).reconstruction, x);
      expect(hqError * 5, `block ${block}: HQ ${hqError}, LSQ ${lsqError}`).toBeLessThan(lsqError);
    }
  });

  it('hqReconstruct is s·int(XH)·H with int4 codes and the LSQ init step on XH', () => {
    const rng = new SeededRandom(105);
    const x = rng.normalArray(4 * 16);
    const { reconstruction, step, codes } = hqReconstruct(x, 4, 16, 8);
    const xh = blockHadamard(x, 4, 16, 8);
    expect(step).toBe(lsqInitStep(xh));
    expect(reconstruction).toEqual(blockHadamard(lsqFakeQuantize(xh, step), 4, 16, 8));
    for (const q of codes) expect(q >= -8 && q <= 7).toBe(true);
  });

  it('the block-size search only tries divisors of D and picks a real transform under outliers', () => {
    const n = 32, c = 16, d = 48;
    const x = outlierMatrix(n, d, [7, 30], 50, 106);
    const w = new SeededRandom(107).normalArray(c * d);
    const { block, errors } = searchHadamardBlockSize(x, w, n, c, d);
    expect([...errors.keys()]).toEqual([1, 2, 4, 8, 16]);
    expect(block).toBeGreaterThan(1);
    for (const error of errors.values()) expect(errors.get(block)!).toBeLessThanOrEqual(error);
  });
});
