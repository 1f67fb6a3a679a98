// Bit splitting of the output gradient ∇Y into two INT4 matrices (paper §4, spec §3.2):
// ∇Y ≈ s↑·∇↑Y + s↓·∇↓Y. The reference follows the official kernel (`GW` quantize_cuda_kernel,
// lines 25–47 and 352–370): one per-tensor scale, deterministic high part, stochastic low part.

import { BITSPLIT_BINS_HALF, BITSPLIT_CLAMP, BITSPLIT_SCALE_NUMERATOR } from './constants';
import { checkLength, clamp, maxAbs, roundHalfAwayFromZero } from './rounding';

export interface BitSplit {
  /** ∇↑Y codes in [−6, 6]. */
  hi: Int32Array;
  /** ∇↓Y codes in [−6, 6]. */
  lo: Int32Array;
  /** s↑ = 14/scale1 = max|G|/7. */
  scaleHi: number;
  /** s↓ = 1/scale1 = max|G|/98. */
  scaleLo: number;
}

/**
 * Split G (any shape, flattened) as the official kernel does:
 *   scale1 = 98/max|G|, t = G·scale1 ∈ [−98, 98],
 *   hi = clamp(round(t/14), −6, 6)                (round to nearest, deterministic),
 *   lo = clamp(round(t − 14·hi + u − 0.5), −6, 6) (stochastic rounding of the residual, u from `uniforms`),
 *   G ≈ scaleHi·hi + scaleLo·lo.
 * round is CUDA round (ties away from zero). u − 0.5 is uniform on a unit interval, so round(r + u − 0.5)
 * is r rounded stochastically: E[lo] = r whenever the clamp does not bite (|r| ≤ 5.5).
 * Known code artefacts kept on purpose (spec §3.2): values above 90/98·max|G| clip, and residuals
 * |r| > 5.5 (t/14 near a half-integer) are clamped, so the split is very slightly biased there.
 * An all-zero G gives zero codes and zero scales (the code would divide by zero).
 */
export function bitSplit(g: Float64Array, uniforms: Float64Array): BitSplit {
  checkLength('bitSplit uniforms', uniforms, g.length);
  const hi = new Int32Array(g.length);
  const lo = new Int32Array(g.length);
  const largest = maxAbs(g);
  if (largest === 0) return { hi, lo, scaleHi: 0, scaleLo: 0 };
  const scale1 = BITSPLIT_SCALE_NUMERATOR / largest;
  for (let i = 0; i < g.length; i++) {
    const t = g[i] * scale1;
    hi[i] = clamp(roundHalfAwayFromZero(t / BITSPLIT_BINS_HALF), -BITSPLIT_CLAMP, BITSPLIT_CLAMP);
    const residual = t - BITSPLIT_BINS_HALF * hi[i];
    lo[i] = clamp(roundHalfAwayFromZero(residual + uniforms[i] - 0.5), -BITSPLIT_CLAMP, BITSPLIT_CLAMP);
  }
  return { hi, lo, scaleHi: BITSPLIT_BINS_HALF / scale1, scaleLo: 1 / scale1 };
}

/** scaleHi·hi + scaleLo·lo: the bit-split gradient that the INT4 GEMMs effectively multiply. */
export function bitSplitDequantize(split: BitSplit): Float64Array {
  const out = new Float64Array(split.hi.length);
  for (let i = 0; i < out.length; i++) out[i] = split.scaleHi * split.hi[i] + split.scaleLo * split.lo[i];
  return out;
}

/**
 * ∇↕Y = [s↑·∇↑Y ; s↓·∇↓Y] (paper §4): the 2N×C stack whose rows LSS samples. Row i < N is the high part
 * of token i, row N + i its low part.
 */
export function stackedSplitRows(split: BitSplit, n: number, c: number): Float64Array {
  checkLength('stackedSplitRows hi', split.hi, n * c);
  checkLength('stackedSplitRows lo', split.lo, n * c);
  const stacked = new Float64Array(2 * n * c);
  for (let i = 0; i < n * c; i++) {
    stacked[i] = split.scaleHi * split.hi[i];
    stacked[n * c + i] = split.scaleLo * split.lo[i];
  }
  return stacked;
}
