// The optimizer side of a training step: AdamW (Loshchilov & Hutter, 'Decoupled Weight Decay
// Regularization'), the warmup + cosine learning-rate schedule nanoGPT uses, and global-norm clipping.

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay; the caller passes 0 for parameters that are not decayed (biases, LayerNorm). */
  weightDecay: number;
  /** 1-based step count t, used for the bias corrections 1 − β^t. */
  step: number;
  /** Multiplies the gradients before anything else (the global-norm clip scale); 1 = none. */
  gradScale: number;
}

/**
 * One AdamW update, in place on params, m and v:
 *   g = grad·gradScale
 *   m = β1·m + (1−β1)·g,  v = β2·v + (1−β2)·g²
 *   m̂ = m/(1−β1^t),  v̂ = v/(1−β2^t)
 *   p = p − lr·(wd·p + m̂/(√v̂ + eps))
 * The decay term uses p before this step and is not passed through the Adam moments — that is what
 * "decoupled" means, and what torch.optim.AdamW does.
 */
export function adamwStep(
  params: Float64Array,
  grads: Float64Array,
  m: Float64Array,
  v: Float64Array,
  o: AdamWOptions,
): void {
  if (grads.length !== params.length || m.length !== params.length || v.length !== params.length) {
    throw new Error('adamwStep: params, grads, m and v must have the same length');
  }
  if (!(o.step >= 1)) throw new Error(`adamwStep: step is 1-based (got ${o.step})`);
  const biasCorrection1 = 1 - Math.pow(o.beta1, o.step);
  const biasCorrection2 = 1 - Math.pow(o.beta2, o.step);
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] * o.gradScale;
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
    const mHat = m[i] / biasCorrection1;
    const vHat = v[i] / biasCorrection2;
    params[i] -= o.lr * (o.weightDecay * params[i] + mHat / (Math.sqrt(vHat) + o.eps));
  }
}

export interface LearningRateSchedule {
  maxLr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
}

/**
 * Learning rate at 0-based step `step`:
 *   step < warmupSteps: linear warmup maxLr·(step+1)/warmupSteps (never 0, so step 0 already learns;
 *   maxLr is reached at the last warmup step);
 *   afterwards: cosine from maxLr at step = warmupSteps down to minLr at step = totalSteps−1, held at
 *   minLr beyond it. If no step is left for the decay (totalSteps−1 ≤ warmupSteps) it stays at maxLr.
 */
export function learningRate(step: number, o: LearningRateSchedule): number {
  if (step < o.warmupSteps) return (o.maxLr * (step + 1)) / o.warmupSteps;
  const decaySteps = o.totalSteps - 1 - o.warmupSteps;
  if (decaySteps <= 0) return o.maxLr;
  const progress = Math.min(1, (step - o.warmupSteps) / decaySteps);
  return o.minLr + 0.5 * (o.maxLr - o.minLr) * (1 + Math.cos(Math.PI * progress));
}

/**
 * Global L2 norm over all gradient arrays (torch.nn.utils.clip_grad_norm_), and the factor that
 * brings it down to maxNorm: maxNorm/(norm + 1e-6) when clipping is on (maxNorm > 0) and the norm
 * exceeds it, else 1. The 1e-6 matches PyTorch and keeps the division safe.
 */
export function gradNormClipScale(grads: Float64Array[], maxNorm: number): { norm: number; scale: number } {
  let sumSquares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumSquares += g[i] * g[i];
  const norm = Math.sqrt(sumSquares);
  const scale = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  return { norm, scale };
}
