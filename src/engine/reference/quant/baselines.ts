// Gradient quantizers of the baselines (paper §5, §5.2 Fig. 3b; spec §5): the min-max ("minimax")
// quantizer of Banner et al., also the embedding-gradient quantizer of the code, and LUQ (Chmiel et al.)
// of the LSQ+LUQ baseline. Both are stochastic and unbiased; the draws come from the caller.

import { checkLength, maxAbs } from './rounding';

function checkBits(label: string, bits: number, low: number): void {
  if (!Number.isInteger(bits) || bits < low || bits > 16) throw new Error(`${label}: bits must be an integer in [${low}, 16], got ${bits}`);
}

/**
 * Per-tensor asymmetric min-max quantization with a zero point and stochastic rounding (the code's
 * `ScalarPreconditioner`, `QZ` lines 364–383, 652–802): 2^bits − 1 uniform bins between min and max,
 * q = clamp(⌊(x − min)/Δ + u⌋, 0, 2^bits − 1), returns min + Δ·q. ⌊y + u⌋ rounds y up with probability
 * frac(y), so E[q] = (x − min)/Δ: unbiased. A constant tensor is returned unchanged.
 */
export function minmaxQuantize(x: Float64Array, bits: number, uniforms: Float64Array): Float64Array {
  checkBits('minmaxQuantize', bits, 1);
  checkLength('minmaxQuantize uniforms', uniforms, x.length);
  maxAbs(x); // rejects NaN / ±Infinity
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
  }
  const out = Float64Array.from(x);
  if (!(max > min)) return out;
  const levels = 2 ** bits - 1;
  const binWidth = (max - min) / levels;
  for (let i = 0; i < x.length; i++) {
    const q = Math.floor((x[i] - min) / binWidth + uniforms[i]);
    out[i] = min + binWidth * Math.min(Math.max(q, 0), levels);
  }
  return out;
}

/**
 * LUQ, logarithmic unbiased quantization (Chmiel et al., arXiv 2112.10769, as summarised in spec §5):
 * radix-2 levels ±α·2^k with underflow threshold α = max|x|/2^(2^(b−1)).
 * - Stochastic underflow: |x| < α becomes sign(x)·α with probability |x|/α, else 0 (draw 2i).
 * - Log stochastic rounding: α·2^n ≤ |x| < α·2^(n+1) rounds up to α·2^(n+1) with probability
 *   (|x| − α·2^n)/(α·2^n), else down to α·2^n (draw 2i + 1).
 * Both steps are unbiased. Outputs are 0 or ±α·2^k with k ∈ [0, 2^(b−1)]; the top level α·2^(2^(b−1)) is
 * max|x| itself, reachable from the last interval [max/2, max] (the repo's `LUQPreconditioner`, which
 * adds noise in the log domain instead of this exact rounding, allows it too).
 */
export function luqQuantize(x: Float64Array, bits: number, uniforms: Float64Array): Float64Array {
  checkBits('luqQuantize', bits, 2);
  checkLength('luqQuantize uniforms (two draws per element)', uniforms, 2 * x.length);
  const out = new Float64Array(x.length);
  const largest = maxAbs(x);
  if (largest === 0) return out;
  const topExponent = 2 ** (bits - 1);
  const alpha = largest / 2 ** topExponent;
  for (let i = 0; i < x.length; i++) {
    const magnitude = Math.abs(x[i]);
    if (magnitude === 0) continue;
    const sign = x[i] < 0 ? -1 : 1;
    if (magnitude < alpha) {
      out[i] = uniforms[2 * i] < magnitude / alpha ? sign * alpha : 0;
      continue;
    }
    // lower = α·2^n with lower ≤ |x| < 2·lower; log2 can be off by one near powers of two, so fix it up.
    let n = Math.min(Math.floor(Math.log2(magnitude / alpha)), topExponent);
    let lower = alpha * 2 ** n;
    while (lower > magnitude) lower = alpha * 2 ** --n;
    while (n < topExponent && 2 * lower <= magnitude) lower = alpha * 2 ** ++n;
    const probabilityUp = (magnitude - lower) / lower;
    out[i] = sign * (uniforms[2 * i + 1] < probabilityUp ? 2 * lower : lower);
  }
  return out;
}
