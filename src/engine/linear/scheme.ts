// The one interface every linear layer Y = X·Wᵀ + b goes through (design.md, "The central abstraction").
// FP32 is the first scheme; FP16, INT8, the paper's INT4 (HQ-MM forward, LSS-MM backward) and the
// baselines plug in as siblings, so comparing them is a config switch and a new scheme is one file.
import type { Precision } from '../config';
import type { Capabilities } from '../gpu/device';
import type { Dispatch, Kernels } from '../gpu/kernels';
import type { ParamSpec } from '../model/params';
import type { BitSplitOperand } from '../ops/stats';
import type { Tensor } from '../tensor';

export interface LinearLayerSpec {
  /** Parameter prefix, e.g. `transformer.h.0.attn.c_attn`. */
  name: string;
  /** N: tokens in the batch (B·T). */
  rows: number;
  /** D: the reduction dimension. */
  inFeatures: number;
  /** C: output features. */
  outFeatures: number;
  x: Tensor;
  /** [outFeatures, inFeatures], PyTorch's nn.Linear layout. */
  w: Tensor;
  b: Tensor | null;
  y: Tensor;
  dy: Tensor;
  dx: Tensor;
  dw: Tensor;
  db: Tensor | null;
  /** Distinct for every linear layer of a model: the base of its random streams (stochastic rounding,
   *  sampling), so layers draw independently. */
  index: number;
  /** u32 [seed, step], rewritten by the trainer every step: what counter-based draws depend on. */
  stepState: Tensor;
}

export interface LinearLayer {
  forward: Dispatch[];
  /** The forward of the very first training step, when it differs (quantizer step sizes initialised
   *  from the first batch, paper A.4 / the official code's first no-grad pass). */
  firstForward?: Dispatch[];
  backward: Dispatch[];
  /** What the layer's measurements can read after its backward (model/measure.ts); absent in
   *  schemes that keep nothing beyond X, W and ∇Y. Every tensor must still hold this step's values
   *  once the layer's backward has run. */
  observe?: LinearObservables;
}

/** A tensor and its quantized version, for a relative quantization error. */
export interface QuantizedPair {
  exact: Tensor;
  quantized: Tensor;
}

export interface LinearObservables {
  /** X·H as the scheme quantized it, and the block it was taken with (a number, or a [1] f32 tensor
   *  where the block is chosen on the GPU from the first batch). */
  xh?: { tensor: Tensor; block: number | Tensor };
  /** Dispatches the measurements run first: they write the tensors named here that the layer's own
   *  passes do not leave behind (HQ's fused quantizer never writes X·H and W·H out). */
  recompute?: Dispatch[];
  /** Forward quantization of X (X·H under HQ) and of W (W·H). */
  errorX?: QuantizedPair;
  errorW?: QuantizedPair;
  /** The backward quantizer's ∇Y: a dequantized tensor or the bit split s↑·hi + s↓·lo. */
  gradQuantized?: Tensor | BitSplitOperand;
  /** [1]: learned step sizes (LSQ). */
  stepX?: Tensor;
  stepW?: Tensor;
  /** [1]: rows of the 2N stacked bit-split rows leverage-score sampling kept, for ∇W and ∇X. */
  keptW?: Tensor;
  keptX?: Tensor;
}

/** A trainable tensor of the scheme's own (e.g. an LSQ step size), with its gradient. */
export interface SchemeParameter {
  value: Tensor;
  grad: Tensor;
}

/** A fake quantizer of the embedding output (the paper keeps embeddings out of the INT4 products but
 *  quantizes them with LSQ, §5). y = Q(x) forward; ∇x from ∇y backward. */
export interface EmbeddingQuantizer {
  /** Trainable tensors, named relative to `transformer.wte`. */
  parameters: ParamSpec[];
  build(
    k: Kernels,
    s: { rows: number; cols: number; x: Tensor; y: Tensor; dy: Tensor; dx: Tensor },
    extra: Record<string, SchemeParameter>,
  ): LinearLayer;
}

export interface LinearScheme {
  readonly precision: Precision;
  /** Which kernel path runs on a device with these capabilities, for the user (e.g. "f32 tiled matmul"). */
  kernelPath(capabilities: Partial<Capabilities>): string;
  /** Gradients pass through a reduced-range format: train with dynamic loss scaling. */
  readonly usesLossScaling: boolean;
  /** Trainable tensors a layer of this scheme adds (quantizer step sizes); they are optimised with
   *  the model's parameters. Names are relative to the layer's prefix. */
  extraParameters(layer: Pick<LinearLayerSpec, 'name' | 'inFeatures' | 'outFeatures'>): ParamSpec[];
  build(k: Kernels, layer: LinearLayerSpec, extra: Record<string, SchemeParameter>): LinearLayer;
  /** Set when the scheme quantizes the embedding output too. */
  readonly embedding?: EmbeddingQuantizer;
}
