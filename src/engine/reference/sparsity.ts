// Float64 references of 2:4 structured sparsity and Sparse-QAT (src/engine/sparsity, shaders
// sparsity.wgsl, sparse24.wgsl, qat.wgsl, distill.wgsl): the masks, the compressed storage and its
// product, the 99.99% calibration, the INT8 fake quantization with its straight-through estimator, and the
// distillation gradients. Written from the definitions, with plain loops and sorts, not from the kernels.

import { clamp, roundHalfAwayFromZero } from './quant/rounding';

/** Keep `keep` of every group of 4 consecutive values along a row of w [rows, cols]: the largest |w|
 *  among those still kept by `previous` (all, if absent), the lower index first on equal magnitudes.
 *  Returns the new mask (1 kept, 0 pruned). */
export function pruneMaskRef(w: ArrayLike<number>, rows: number, cols: number, keep: number, previous?: ArrayLike<number>): Uint8Array {
  if (cols % 4 !== 0) throw new Error(`pruneMaskRef: ${cols} columns are not a multiple of 4`);
  const mask = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += 4) {
      const base = r * cols + g;
      const candidates = [0, 1, 2, 3].filter((j) => !previous || previous[base + j] !== 0);
      // Sort by magnitude, descending; stable, so equal magnitudes keep index order.
      candidates.sort((a, b) => Math.abs(w[base + b]) - Math.abs(w[base + a]));
      for (const j of candidates.slice(0, keep)) mask[base + j] = 1;
    }
  }
  return mask;
}

/** Groups of 4 with fewer than `minZeros` zeros (0 for a valid 2:4 matrix with minZeros = 2). */
export function groupViolations(w: ArrayLike<number>, rows: number, cols: number, minZeros = 2): number {
  let bad = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += 4) {
      let zeros = 0;
      for (let j = 0; j < 4; j++) if (w[r * cols + g + j] === 0) zeros++;
      if (zeros < minZeros) bad++;
    }
  }
  return bad;
}

/** Compressed 2:4 storage: per group the 2 values of largest magnitude (lower index first on ties), in
 *  index order, and their indices in the group. */
export interface Compressed24 {
  rows: number;
  cols: number;
  values: Float64Array; // [rows, cols/2]
  indices: Uint8Array; // [rows, cols/2], each 0–3, increasing within a group
}

export function compress24Ref(w: ArrayLike<number>, rows: number, cols: number): Compressed24 {
  const values = new Float64Array((rows * cols) / 2);
  const indices = new Uint8Array((rows * cols) / 2);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols / 4; g++) {
      const base = r * cols + 4 * g;
      const order = [0, 1, 2, 3].sort((a, b) => Math.abs(w[base + b]) - Math.abs(w[base + a]));
      const kept = order.slice(0, 2).sort((a, b) => a - b);
      for (let t = 0; t < 2; t++) {
        values[r * (cols / 2) + 2 * g + t] = w[base + kept[t]];
        indices[r * (cols / 2) + 2 * g + t] = kept[t];
      }
    }
  }
  return { rows, cols, values, indices };
}

/** The dense matrix a compressed one stands for (zeros where nothing is stored). */
export function decompress24Ref(c: Compressed24): Float64Array {
  const w = new Float64Array(c.rows * c.cols);
  for (let r = 0; r < c.rows; r++) {
    for (let j = 0; j < c.cols / 2; j++) {
      const g = Math.floor(j / 2);
      w[r * c.cols + 4 * g + c.indices[r * (c.cols / 2) + j]] = c.values[r * (c.cols / 2) + j];
    }
  }
  return w;
}

/** Y[M, N] = X·Wᵀ (+ bias) using only the stored values: M·N·K/2 multiply-adds (returned as `products`). */
export function sparse24ProductRef(x: ArrayLike<number>, M: number, c: Compressed24, bias?: ArrayLike<number> | null): { y: Float64Array; products: number } {
  const N = c.rows;
  const K = c.cols;
  const y = new Float64Array(M * N);
  let products = 0;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let j = 0; j < K / 2; j++) {
        const k = 4 * Math.floor(j / 2) + c.indices[n * (K / 2) + j];
        s += x[m * K + k] * c.values[n * (K / 2) + j];
        products++;
      }
      y[m * N + n] = s + (bias ? bias[n] : 0);
    }
  }
  return { y, products };
}

/** 1-based rank of the calibration value: the smallest k with k ≥ 0.9999·n, in integers (0.9999·n in
 *  floating point is off by one ulp for some n, e.g. 10000). */
export function calibrationRank(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`calibrationRank: n must be a positive integer, got ${n}`);
  return Math.floor((9999 * n + 9999) / 10000); // ⌈9999·n/10000⌉
}

/** The clip value t of the 99.99% calibration: the k-th smallest |x| (k = calibrationRank(n)), i.e. the
 *  smallest t with at least 99.99% of the values in [−t, t]. By sorting. */
export function calibrateClipRef(x: ArrayLike<number>): number {
  const a = Array.from(x, (v) => Math.abs(v)).sort((p, q) => p - q);
  return a[calibrationRank(a.length) - 1];
}

/** Symmetric INT8 fake quantization with clip t: scale = t/127, codes = clamp(round(x/scale), ±127)
 *  (ties away from zero), dequantized = codes·scale. `scale` may be given (the f32 value the GPU computed)
 *  so that the codes are compared on the same scale. */
export function fakeQuantInt8Ref(x: ArrayLike<number>, clip: number, scale = clip / 127): { scale: number; codes: Int32Array; dequantized: Float64Array } {
  const codes = new Int32Array(x.length);
  const dequantized = new Float64Array(x.length);
  if (scale > 0) {
    for (let i = 0; i < x.length; i++) {
      codes[i] = clamp(roundHalfAwayFromZero(x[i] / scale), -127, 127);
      dequantized[i] = codes[i] * scale;
    }
  }
  return { scale, codes, dequantized };
}

/** The straight-through estimator: ∂L/∂x = ∂L/∂x̂ where |x| ≤ t (inside the clip range), 0 outside. */
export function steGradRef(grad: ArrayLike<number>, x: ArrayLike<number>, clip: number): Float64Array {
  return Float64Array.from(grad, (g, i) => (Math.abs(x[i]) <= clip ? g : 0));
}

const IGNORE = 0xffffffff;

/** The distillation terms and their gradients on the scored rows (targets ≠ IGNORE), count = their number:
 *  KL = Σ_rows Σ_j p_t (log p_t − log p_s) / count at temperature T, with ∂(α·T²·KL)/∂z_s =
 *  α·T·(p_s − p_t)/count; MSE = Σ_rows Σ_c (h_s − h_t)²/(count·C) with ∂(β·MSE)/∂h_s = 2β(h_s − h_t)/(count·C).
 *  `ceGrad` is ∇z of the cross-entropy, scaled by (1 − α) in the result. */
export function distillRef(o: {
  zs: ArrayLike<number>; zt: ArrayLike<number>; hs: ArrayLike<number>; ht: ArrayLike<number>;
  ceGrad: ArrayLike<number>; targets: ArrayLike<number>; rows: number; vocab: number; width: number;
  alpha: number; temperature: number; beta: number;
}): { kl: number; mse: number; dLogits: Float64Array; dHidden: Float64Array } {
  const { rows, vocab: V, width: C, alpha, temperature: T, beta } = o;
  let count = 0;
  for (let n = 0; n < rows; n++) if (o.targets[n] !== IGNORE && o.targets[n] !== -1) count++;
  const dLogits = Float64Array.from(o.ceGrad);
  const dHidden = new Float64Array(rows * C);
  let kl = 0;
  let mse = 0;
  const logSoftmax = (z: ArrayLike<number>, base: number) => {
    let m = -Infinity;
    for (let j = 0; j < V; j++) m = Math.max(m, z[base + j] / T);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(z[base + j] / T - m);
    return Array.from({ length: V }, (_, j) => z[base + j] / T - m - Math.log(s));
  };
  for (let n = 0; n < rows; n++) {
    if (o.targets[n] === IGNORE || o.targets[n] === -1) continue;
    const ls = logSoftmax(o.zs, n * V);
    const lt = logSoftmax(o.zt, n * V);
    for (let j = 0; j < V; j++) {
      const pt = Math.exp(lt[j]);
      kl += (pt * (lt[j] - ls[j])) / count;
      dLogits[n * V + j] = (1 - alpha) * o.ceGrad[n * V + j] + (alpha * T * (Math.exp(ls[j]) - pt)) / count;
    }
    for (let c = 0; c < C; c++) {
      const d = o.hs[n * C + c] - o.ht[n * C + c];
      mse += (d * d) / (count * C);
      dHidden[n * C + c] = (2 * beta * d) / (count * C);
    }
  }
  return { kl, mse, dLogits, dHidden };
}
