// Softmax cross-entropy, fused forward + backward (src/shaders/loss.wgsl).
import type { Tensor } from '../tensor';
import { type Dispatch, gridRows, type Kernels } from '../gpu/kernels';

/** Target id of positions that are not scored. */
export const IGNORE_TARGET = 0xffffffff;

export interface LossTensors {
  logits: Tensor;
  /** u32 targets, IGNORE_TARGET where not scored. */
  targets: Tensor;
  /** [1]: the number of scored positions. */
  scoredCount: Tensor;
  losses: Tensor;
  dlogits: Tensor;
  metrics: Tensor;
  /** [0]: the factor ∇logits is multiplied by (dynamic loss scaling; 1 otherwise). */
  lossScale: Tensor;
}

/** Loss and ∇logits; then the batch mean into `metrics[slot]` (training: written; validation: summed
 *  with a count at slot+1). The slot of a training step changes every step, so the reduction's uniform
 *  buffer is returned for the step loop to rewrite. */
export function softmaxCrossEntropy(k: Kernels, N: number, V: number, t: LossTensors, accumulate: boolean): { dispatches: Dispatch[]; reduceUniforms: GPUBuffer } {
  const reduceUniforms = k.memory.buffer(16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'loss.reduce.uniforms');
  k.device.queue.writeBuffer(reduceUniforms, 0, new Uint32Array([N, V, 0, accumulate ? 1 : 0]));
  return {
    reduceUniforms,
    dispatches: [
      k.dispatch({ shader: 'loss', entry: 'count_scored', label: 'loss.count', uniforms: [N, V, 0, 0], bindings: [t.targets, t.scoredCount], workgroups: [1, 1, 1] }),
      k.dispatch({ shader: 'loss', entry: 'forward_backward', label: 'loss', uniforms: [N, V, 0, 0], bindings: [t.logits, t.targets, t.scoredCount, t.losses, t.dlogits, t.lossScale], workgroups: gridRows(N) }),
      k.dispatch({ shader: 'loss', entry: 'reduce_loss', label: 'loss.mean', uniforms: reduceUniforms, bindings: [t.losses, t.scoredCount, t.metrics], workgroups: [1, 1, 1] }),
    ],
  };
}
