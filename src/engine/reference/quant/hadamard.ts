// Hadamard quantizer (HQ, paper §3.3, A.5; spec §2): rotate the reduction dimension with a block-diagonal
// normalised Hadamard matrix before LSQ so that feature-wise outliers are spread over a whole block.

import { HADAMARD_MAX_SIZE, Q_N, Q_P } from './constants';
import { lsqInitStep, lsqQuantize } from './lsq';
import { checkLength } from './rounding';

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

function popcount(n: number): number {
  let count = 0;
  for (let m = n; m !== 0; m &= m - 1) count++;
  return count;
}

/**
 * Normalised Sylvester Hadamard matrix H_n (n×n, row-major), n = 2^k ≤ 1024. The paper's recursion
 * H_k = (1/√2)[[H_{k−1}, H_{k−1}], [H_{k−1}, −H_{k−1}]] (§3.3; `create_H` in `QZ`) has the closed form
 * H[i][j] = (−1)^{popcount(i ∧ j)}/√n, used here so every entry is one correctly rounded value.
 * H is symmetric and orthogonal, hence its own inverse: H·H = I.
 */
export function hadamardMatrix(n: number): Float64Array {
  if (!isPowerOfTwo(n) || n > HADAMARD_MAX_SIZE) {
    throw new Error(`hadamardMatrix: size must be a power of two in [1, ${HADAMARD_MAX_SIZE}], got ${n}`);
  }
  const entry = 1 / Math.sqrt(n);
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) h[i * n + j] = popcount(i & j) & 1 ? -entry : entry;
  }
  return h;
}

/**
 * X·BlockDiag(H_block, …, H_block) for X of shape [rows, cols]: the transform acts on the reduction
 * (in-feature) dimension, on the right of both X and W (paper §3.3). Because H is symmetric and
 * orthogonal, applying it twice is the identity, so the same call is also the inverse transform ·Hᵀ.
 */
export function blockHadamard(x: Float64Array, rows: number, cols: number, block: number): Float64Array {
  checkLength('blockHadamard x', x, rows * cols);
  if (!isPowerOfTwo(block)) throw new Error(`blockHadamard: block must be a power of two, got ${block}`);
  if (cols % block !== 0) throw new Error(`blockHadamard: block ${block} does not divide cols ${cols}`);
  const h = hadamardMatrix(block);
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let start = 0; start < cols; start += block) {
      const base = r * cols + start;
      for (let j = 0; j < block; j++) {
        let sum = 0;
        for (let i = 0; i < block; i++) sum += x[base + i] * h[i * block + j];
        out[base + j] = sum;
      }
    }
  }
  return out;
}

/**
 * HQ round trip s·int_s(XH)·Hᵀ (paper §3.3: X ≈ s_X int(XH) Hᵀ), with the LSQ init step on XH unless a
 * step is given. This is the X̄ that the block-size search scores (paper A.5, `QZ` lines 486–548).
 */
export function hqReconstruct(
  x: Float64Array,
  rows: number,
  cols: number,
  block: number,
  step?: number,
  qn: number = Q_N,
  qp: number = Q_P,
): { reconstruction: Float64Array; step: number; codes: Int32Array } {
  const xh = blockHadamard(x, rows, cols, block);
  const s = step ?? lsqInitStep(xh, qp);
  const { codes } = lsqQuantize(xh, s, qn, qp);
  const dequantized = new Float64Array(codes.length);
  for (let i = 0; i < codes.length; i++) dequantized[i] = s * codes[i];
  return { reconstruction: blockHadamard(dequantized, rows, cols, block), step: s, codes };
}

function frobeniusDistance(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum);
}

/**
 * The official per-layer block-size search ("dynamic", `QZ` lines 486–548, run once on the first batch):
 * candidates g ∈ {1, 2, 4, …, 1024} with D % g = 0, score ‖X̄_g − X‖_F·‖W̄_g − W‖_F (line 535; same argmin
 * as the paper's MSE(X̄, X)·MSE(W̄, W), A.5), keep the smallest. g = 1 (no transform) is a candidate.
 * X is [N, D], W is [C, D]. Ties keep the smaller block (the first one found).
 */
export function searchHadamardBlockSize(
  x: Float64Array,
  w: Float64Array,
  n: number,
  c: number,
  d: number,
): { block: number; errors: Map<number, number> } {
  checkLength('searchHadamardBlockSize x', x, n * d);
  checkLength('searchHadamardBlockSize w', w, c * d);
  const errors = new Map<number, number>();
  let best = 1;
  let bestError = Infinity;
  for (let g = 1; g <= HADAMARD_MAX_SIZE; g *= 2) {
    if (d % g !== 0) continue;
    const errorX = frobeniusDistance(hqReconstruct(x, n, d, g).reconstruction, x);
    const errorW = frobeniusDistance(hqReconstruct(w, c, d, g).reconstruction, w);
    const error = errorX * errorW;
    errors.set(g, error);
    if (error < bestError) {
      bestError = error;
      best = g;
    }
  }
  return { block: best, errors };
}
