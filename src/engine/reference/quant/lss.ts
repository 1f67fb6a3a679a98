// Leverage score sampling (LSS, paper §4, A.2, A.6; spec §3): the two gradient GEMMs are sums of 2N
// rank-1 terms over the bit-split rows; sample about N of them with p_i ∝ leverage score, rescale by 1/p_i.

import { type BitSplit, stackedSplitRows } from './bitsplit';
import { checkLength } from './rounding';

/**
 * 'lss': the paper's estimator (Bernoulli masks, Σp = N, 1/p rescaling; also the Python fallback `SQ`).
 * 'bitsplit': what the released CUDA kernels run (`GW` line 445, `GI` line 362: `if (true) p[p > 0] = 1`),
 * every row with a nonzero score kept with p = 1, no randomness, i.e. the exact bit-split product.
 */
export type LssVariant = 'lss' | 'bitsplit';

export interface LssResult {
  /** Which of the 2N stacked rows contribute (1) or are skipped (0). */
  keep: Uint8Array;
  /** Their inclusion probabilities p_i. */
  probs: Float64Array;
}

/** Euclidean norm of each row of an [rows, cols] matrix. */
export function rowNorms(m: ArrayLike<number>, rows: number, cols: number): Float64Array {
  checkLength('rowNorms', m, rows * cols);
  const norms = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += m[r * cols + j] ** 2;
    norms[r] = Math.sqrt(sum);
  }
  return norms;
}

/**
 * Valid sampling probabilities by water-filling (paper A.2): p_i = c_i·budget/Σc, clamp to ≤ 1, rescale
 * the entries still below 1 so that Σp = budget again, repeat until all are ≤ 1 (at most one round per
 * row). The result minimises the variance Σ(1−p_i)/p_i·c_i² under Σp = budget, 0 ≤ p ≤ 1.
 * Zero scores get p = 0; with no more nonzero scores than the budget, every nonzero score gets p = 1.
 */
export function lssProbabilities(scores: Float64Array, budget: number): Float64Array {
  if (!(budget >= 0) || !Number.isFinite(budget)) throw new Error(`lssProbabilities: budget must be finite and ≥ 0, got ${budget}`);
  const probs = new Float64Array(scores.length);
  let active: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const c = scores[i];
    if (!(c >= 0) || !Number.isFinite(c)) throw new Error(`lssProbabilities: score ${i} is ${c}; scores must be finite and ≥ 0`);
    if (c > 0) active.push(i);
  }
  if (active.length <= budget) {
    for (const i of active) probs[i] = 1;
    return probs;
  }
  // Invariant: every active row still has p < 1 to be decided, and active.length > remaining, so the
  // loop never runs out of budget; each round either saturates at least one row or finishes.
  let remaining = budget;
  for (;;) {
    let sum = 0;
    for (const i of active) sum += scores[i];
    const stillBelowOne: number[] = [];
    for (const i of active) {
      const p = (scores[i] * remaining) / sum;
      if (p >= 1) {
        probs[i] = 1;
        remaining -= 1;
      } else {
        probs[i] = p;
        stillBelowOne.push(i);
      }
    }
    if (stillBelowOne.length === active.length) return probs;
    active = stillBelowOne;
  }
}

/**
 * Bernoulli masks m_i = 1[u_i < p_i] (paper §4: m_i ~ Bern(p_i)). Rows with p_i = 1 are always kept and
 * rows with p_i = 0 never, whichever convention, (0,1] or [0,1), the draws follow.
 */
function sampleMask(probs: Float64Array, uniforms: Float64Array): Uint8Array {
  checkLength('LSS uniforms', uniforms, probs.length);
  const keep = new Uint8Array(probs.length);
  for (let i = 0; i < probs.length; i++) keep[i] = probs[i] >= 1 || uniforms[i] < probs[i] ? 1 : 0;
  return keep;
}

/**
 * ∇W ≈ Σ_i m_i/p_i·(∇↕Y_i)ᵀ X̂↕_i over the 2N stacked rows (paper §4), for any given probabilities (the
 * LSS ones, or e.g. uniform p = 1/2 as a baseline). X̂↕ = [X̂ ; X̂], so row i pairs with token i mod N.
 * stacked is [2N, C], xq is [N, D]; returns gradW [C, D] and the mask.
 */
export function sampledWeightGrad(
  stacked: Float64Array,
  xq: Float64Array,
  n: number,
  c: number,
  d: number,
  probs: Float64Array,
  uniforms: Float64Array,
): { gradW: Float64Array; keep: Uint8Array } {
  checkLength('sampledWeightGrad stacked', stacked, 2 * n * c);
  checkLength('sampledWeightGrad xq', xq, n * d);
  checkLength('sampledWeightGrad probs', probs, 2 * n);
  const keep = sampleMask(probs, uniforms);
  const gradW = new Float64Array(c * d);
  for (let i = 0; i < 2 * n; i++) {
    if (!keep[i]) continue;
    const weight = 1 / probs[i];
    const token = i % n;
    for (let a = 0; a < c; a++) {
      const g = weight * stacked[i * c + a];
      if (g === 0) continue;
      for (let b = 0; b < d; b++) gradW[a * d + b] += g * xq[token * d + b];
    }
  }
  return { gradW, keep };
}

/**
 * ∇X ≈ Î↕·M̃·∇↕Y·Ŵ (paper §4, Î↕ = [I I]): each kept stacked row i contributes (m_i/p_i)·∇↕Y_i·Ŵ to token
 * row i mod N; skipped rows contribute nothing. stacked is [2N, C], wq is [C, D]; returns gradX [N, D].
 */
export function sampledActGrad(
  stacked: Float64Array,
  wq: Float64Array,
  n: number,
  c: number,
  d: number,
  probs: Float64Array,
  uniforms: Float64Array,
): { gradX: Float64Array; keep: Uint8Array } {
  checkLength('sampledActGrad stacked', stacked, 2 * n * c);
  checkLength('sampledActGrad wq', wq, c * d);
  checkLength('sampledActGrad probs', probs, 2 * n);
  const keep = sampleMask(probs, uniforms);
  const gradX = new Float64Array(n * d);
  for (let i = 0; i < 2 * n; i++) {
    if (!keep[i]) continue;
    const weight = 1 / probs[i];
    const token = i % n;
    for (let a = 0; a < c; a++) {
      const g = weight * stacked[i * c + a];
      if (g === 0) continue;
      for (let b = 0; b < d; b++) gradX[token * d + b] += g * wq[a * d + b];
    }
  }
  return { gradX, keep };
}

function variantProbabilities(scores: Float64Array, budget: number, variant: LssVariant): Float64Array {
  if (variant === 'lss') return lssProbabilities(scores, budget);
  // The released kernels' `p[p > 0] = 1`: keep every row that can contribute, drop exact zeros.
  return scores.map((c) => (c > 0 ? 1 : 0));
}

/**
 * LSSWeight (paper §4, A.2; `GW` lines 375–858): the weight-gradient GEMM ∇Yᵀ X̂ ≈ Σ_i m_i/p_i·(∇↕Y_i)ᵀ X̂↕_i,
 * leverage scores c_i = ‖∇↕Y_i‖·‖X̂↕_i‖ (the code's vec = [x1_len∘y_len ; x2_len∘y_len]), budget N.
 * split is the bit split of ∇Y [N, C]; xq the dequantized X̂ = s_X·int(XH) [N, D]; uniforms has 2N draws
 * (ignored by the 'bitsplit' variant). The result is ∇ wrt the dequantized transformed weight, before the
 * LSQ mask and the ·Hᵀ of paper eq. 4.
 */
export function lssWeightGrad(
  split: BitSplit,
  xq: Float64Array,
  n: number,
  c: number,
  d: number,
  variant: LssVariant,
  uniforms: Float64Array,
): LssResult & { gradW: Float64Array } {
  const stacked = stackedSplitRows(split, n, c);
  const gradNorms = rowNorms(stacked, 2 * n, c);
  const inputNorms = rowNorms(xq, n, d);
  const scores = gradNorms.map((norm, i) => norm * inputNorms[i % n]);
  const probs = variantProbabilities(scores, n, variant);
  const draws = variant === 'lss' ? uniforms : new Float64Array(2 * n);
  const { gradW, keep } = sampledWeightGrad(stacked, xq, n, c, d, probs, draws);
  return { gradW, keep, probs };
}

/**
 * LSSAct (paper §4, A.2; `GI` lines 243–538): the activation-gradient GEMM ∇Y·Ŵ ≈ Î↕·M̃·∇↕Y·Ŵ with scores
 * c_i = ‖∇↕Y_i‖ (the code's vec = [x1_len ; x2_len]), budget N. wq is the dequantized Ŵ = s_W·int(WH)
 * [C, D]; uniforms has 2N draws (ignored by 'bitsplit'). The result is ∇ wrt the dequantized transformed
 * input, before the LSQ mask and ·Hᵀ.
 */
export function lssActGrad(
  split: BitSplit,
  wq: Float64Array,
  n: number,
  c: number,
  d: number,
  variant: LssVariant,
  uniforms: Float64Array,
): LssResult & { gradX: Float64Array } {
  const stacked = stackedSplitRows(split, n, c);
  const scores = rowNorms(stacked, 2 * n, c);
  const probs = variantProbabilities(scores, n, variant);
  const draws = variant === 'lss' ? uniforms : new Float64Array(2 * n);
  const { gradX, keep } = sampledActGrad(stacked, wq, n, c, d, probs, draws);
  return { gradX, keep, probs };
}
