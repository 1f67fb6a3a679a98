// Symmetric INT8 quantization: the INT8 baseline of Table 1 (Banner et al. 2018, "Scalable methods for
// 8-bit training", paper §5) and the project's int8 linear scheme. Range ±127, scale = max|x|/127.

import { INT8_MAX } from './constants';
import { checkLength, clamp, maxAbs, roundHalfAwayFromZero } from './rounding';

/**
 * Symmetric INT8 of an [rows, cols] matrix, scale = max|x|/127 per tensor (scales has one entry) or per
 * row (scales has `rows` entries), codes = clamp(round(x/scale), −127, 127) with CUDA round (ties away
 * from zero), so |x − scale·code| ≤ scale/2. A zero scale (all-zero tensor or row) gives zero codes.
 */
export function int8Quantize(
  x: Float64Array,
  rows: number,
  cols: number,
  perRow: boolean,
): { codes: Int32Array; scales: Float64Array } {
  checkLength('int8Quantize x', x, rows * cols);
  const scales = new Float64Array(perRow ? rows : 1);
  if (perRow) {
    for (let r = 0; r < rows; r++) scales[r] = maxAbs(x.subarray(r * cols, (r + 1) * cols)) / INT8_MAX;
  } else {
    scales[0] = maxAbs(x) / INT8_MAX;
  }
  const codes = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const scale = scales[perRow ? r : 0];
    if (scale === 0) continue;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      codes[i] = clamp(roundHalfAwayFromZero(x[i] / scale), -INT8_MAX, INT8_MAX);
    }
  }
  return { codes, scales };
}

/** scale·code with the scale of the tensor or of each row, the inverse of int8Quantize. */
export function int8Dequantize(codes: Int32Array, scales: Float64Array, rows: number, cols: number): Float64Array {
  checkLength('int8Dequantize codes', codes, rows * cols);
  if (scales.length !== 1 && scales.length !== rows) throw new Error(`int8Dequantize: expected 1 or ${rows} scales, got ${scales.length}`);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = codes[i] * scales[scales.length === 1 ? 0 : Math.floor(i / cols)];
  return out;
}

/**
 * Stochastic INT8 rounding for gradients (Banner et al. quantize gradients with stochastic rounding):
 * code = clamp(⌊x/s + u⌋, −127, 127), unbiased where the clamp does not bite. Scale 0 gives zeros.
 */
export function stochasticInt8(x: Float64Array, scale: number, uniforms: Float64Array): Int32Array {
  checkLength('stochasticInt8 uniforms', uniforms, x.length);
  if (!(scale >= 0) || !Number.isFinite(scale)) throw new Error(`stochasticInt8: scale must be finite and ≥ 0, got ${scale}`);
  const codes = new Int32Array(x.length);
  if (scale === 0) return codes;
  for (let i = 0; i < x.length; i++) codes[i] = clamp(Math.floor(x[i] / scale + uniforms[i]), -INT8_MAX, INT8_MAX);
  return codes;
}
