// Global gradient-norm clipping and AdamW over the flat parameter buffer (src/shaders/optimizer.wgsl).
import type { Tensor } from '../tensor';
import { type Dispatch, grid1d, type Kernels, packUniforms, f32 } from '../gpu/kernels';

export interface OptimizerTensors {
  params: Tensor;
  grads: Tensor;
  m: Tensor;
  v: Tensor;
  /** Partial sums of ‖g‖², one per workgroup of the first reduction pass. */
  partials: Tensor;
  /** [‖g‖, factor applied to raw gradients, skip flag]. */
  state: Tensor;
  metrics: Tensor;
  /** [loss scale, overflow-free steps, skipped steps]; the loss kernel multiplies ∇logits by [0]. */
  scaler: Tensor;
}

/** Workgroups of the first norm pass: enough to keep a GPU busy, few enough for one final workgroup. */
export const NORM_PARTIALS = 256;

export function optimizerStep(k: Kernels, t: OptimizerTensors, stepUniforms: GPUBuffer): Dispatch[] {
  const n = t.params.size;
  const partials = Math.min(NORM_PARTIALS, Math.ceil(n / 256));
  return [
    k.dispatch({ shader: 'optimizer', entry: 'grad_norm_partial', label: 'optimizer.norm_partial', uniforms: stepUniforms, bindings: [t.grads, t.partials], workgroups: [partials, 1, 1] }),
    k.dispatch({ shader: 'optimizer', entry: 'grad_norm_final', label: 'optimizer.norm', uniforms: stepUniforms, bindings: [t.partials, t.state, t.metrics, t.scaler], workgroups: [1, 1, 1] }),
    k.dispatch({ shader: 'optimizer', entry: 'adamw', label: 'optimizer.adamw', uniforms: stepUniforms, bindings: [t.params, t.grads, t.m, t.v, t.state], workgroups: grid1d(n) }),
  ];
}

export interface AdamWStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step number, for the bias corrections. */
  t: number;
  maxGradNorm: number;
  nParams: number;
  decayEnd: number;
  metricsSlot: number;
  dynamicLossScale: boolean;
  scaleGrowthInterval: number;
  /** Parameters [scaledStart, nParams) use lr·lrScale (quantizer step sizes); default: none. */
  scaledStart?: number;
  lrScale?: number;
}

/** The per-step uniform values, in the order of `struct Step` in optimizer.wgsl. */
export function packAdamWStep(s: AdamWStep): ArrayBuffer {
  const partials = Math.min(NORM_PARTIALS, Math.ceil(s.nParams / 256));
  return packUniforms([
    f32(s.lr), f32(s.beta1), f32(s.beta2), f32(s.eps), f32(s.weightDecay),
    f32(1 - s.beta1 ** s.t), f32(1 - s.beta2 ** s.t), f32(s.maxGradNorm),
    s.nParams, s.decayEnd, s.metricsSlot, partials, s.dynamicLossScale ? 1 : 0, s.scaleGrowthInterval,
    s.scaledStart ?? s.nParams, f32(s.lrScale ?? 1),
  ]);
}
