// LSQ: learned step size quantization of activations and weights to INT4 (paper §3.1, A.3, A.4; spec §1).
// int_s(x) = clamp(⌊x/s⌉, −Q_N, Q_P), x̂ = s·int_s(x), one learnable scalar step s per tensor.

import { LSQ_INIT_EPSILON, Q_N, Q_P } from './constants';
import { checkLength, clamp, roundHalfAwayFromZero } from './rounding';

/**
 * Initial step 2·mean|x|/√Q_P + 1e-10 (`QZ` lines 604–615; also the paper's cold start, A.4, read as the
 * usual LSQ init). In HQ the mean is taken over the Hadamard-transformed tensor XH / WH.
 */
export function lsqInitStep(x: Float64Array, qp: number = Q_P): number {
  if (x.length === 0) throw new Error('lsqInitStep: empty tensor');
  let sumAbs = 0;
  for (let i = 0; i < x.length; i++) sumAbs += Math.abs(x[i]);
  return (2 * (sumAbs / x.length)) / Math.sqrt(qp) + LSQ_INIT_EPSILON;
}

/**
 * Forward quantization as the CUDA kernel does it (`FWD` lines 30–33): v = x/s is kept unrounded (the
 * backward needs it for the mask and δ), codes = clamp(round(v), −Q_N, Q_P) with CUDA round.
 * The step enters as |s| because the code resets s.data = |s| before each forward (`QZ` lines 472–474).
 */
export function lsqQuantize(
  x: Float64Array,
  step: number,
  qn: number = Q_N,
  qp: number = Q_P,
): { codes: Int32Array; v: Float64Array } {
  const s = Math.abs(step);
  if (!(s > 0) || !Number.isFinite(s)) throw new Error(`lsqQuantize: step must be finite and nonzero, got ${step}`);
  const v = new Float64Array(x.length);
  const codes = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    v[i] = x[i] / s;
    codes[i] = clamp(roundHalfAwayFromZero(v[i]), -qn, qp);
  }
  return { codes, v };
}

/** Dequantized LSQ forward s·int_s(x): the fake quantization used for the embedding outputs (spec §4, `SymLsqQuantizer`). */
export function lsqFakeQuantize(x: Float64Array, step: number, qn: number = Q_N, qp: number = Q_P): Float64Array {
  const { codes } = lsqQuantize(x, step, qn, qp);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = step * codes[i];
  return out;
}

/** Step-size gradient scale g = 1/√(Q_P·numel), numel = all elements of the tensor (paper §3.1; `GW` line 839). */
export function lsqGradScale(numel: number, qp: number = Q_P): number {
  return 1 / Math.sqrt(qp * numel);
}

/**
 * LSQ backward (paper §3.1, A.3; `GW`/`GI` LSQ_cuda_kernel). `gradOut` is ∇ wrt the dequantized tensor x̂.
 * - gradInput = 1[−Q_N ≤ v ≤ Q_P]·gradOut: the straight-through estimator ⌊v⌉′ = 1, zero where clipped.
 * - gradStep = g·Σ δ·gradOut with δ = ∂x̂/∂s = round(v) − v inside the range, −Q_N below, Q_P above,
 *   g = 1/√(Q_P·numel).
 * `step` is only validated: δ needs just v, and the code keeps s > 0 (`QZ` lines 472–474), for which
 * ∂(s·q)/∂s = δ holds.
 */
export function lsqBackward(
  gradOut: Float64Array,
  v: Float64Array,
  step: number,
  numel: number,
  qn: number = Q_N,
  qp: number = Q_P,
): { gradInput: Float64Array; gradStep: number } {
  checkLength('lsqBackward gradOut', gradOut, v.length);
  if (!(step > 0) || !Number.isFinite(step)) throw new Error(`lsqBackward: step must be positive and finite, got ${step}`);
  if (!(numel > 0)) throw new Error(`lsqBackward: numel must be positive, got ${numel}`);
  const gradInput = new Float64Array(v.length);
  let deltaDotGrad = 0;
  for (let i = 0; i < v.length; i++) {
    let delta: number;
    if (v[i] < -qn) delta = -qn;
    else if (v[i] > qp) delta = qp;
    else {
      delta = roundHalfAwayFromZero(v[i]) - v[i];
      gradInput[i] = gradOut[i];
    }
    deltaDotGrad += delta * gradOut[i];
  }
  return { gradInput, gradStep: lsqGradScale(numel, qp) * deltaDotGrad };
}
