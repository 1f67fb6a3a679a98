// The one interface every linear layer Y = X·Wᵀ + b goes through (design.md, "The central abstraction").
// FP32 is the first scheme; FP16, INT8, the paper's INT4 (HQ-MM forward, LSS-MM backward) and the
// baselines plug in as siblings, so comparing them is a config switch and a new scheme is one file.
import type { Precision } from '../config';
import type { Dispatch, Kernels } from '../gpu/kernels';
import type { ParamSpec } from '../model/params';
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
}

export interface LinearLayer {
  forward: Dispatch[];
  backward: Dispatch[];
}

/** A trainable tensor of the scheme's own (e.g. an LSQ step size), with its gradient. */
export interface SchemeParameter {
  value: Tensor;
  grad: Tensor;
}

export interface LinearScheme {
  readonly precision: Precision;
  /** Which kernel path runs, for the user (e.g. "f32 tiled matmul"). */
  readonly kernelPath: string;
  /** Trainable tensors a layer of this scheme adds (quantizer step sizes); they are optimised with
   *  the model's parameters. Names are relative to the layer's prefix. */
  extraParameters(layer: Pick<LinearLayerSpec, 'name' | 'inFeatures' | 'outFeatures'>): ParamSpec[];
  build(k: Kernels, layer: LinearLayerSpec, extra: Record<string, SchemeParameter>): LinearLayer;
}
