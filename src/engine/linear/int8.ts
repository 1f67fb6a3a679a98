// INT8: symmetric 8-bit training in the style of Banner et al. 2018 ("Scalable methods for 8-bit
// training"), the INT8 baseline of the INT4 paper (§5, Table 1). Every product runs on exact integer codes
// (dot4I8Packed where the device has it), dequantized by the products of the scales.
//
// Forward:  Y = s_X s_W · int8(X)·int8(W)ᵀ + b, codes = clamp(round(x/s), ±127) (ties away from zero),
//           s = max|·|/127 computed on the GPU every step (the weights change every step), one per tensor
//           or, with perRow, one per row of X (token) and of W (output feature).
// Backward: ∇Y quantized per tensor with stochastic rounding, G = clamp(⌊∇Y/s_G + u⌋, ±127), s_G =
//           max|∇Y|/127, u from the layer's stream (STREAM.int8Gradient of quantized.ts);
//           ∇X = s_G·G·Ŵ (a product over C) and ∇W = s_G·Gᵀ·X̂ (over N), exact integer products, so
//           W is packed along C and G and X along N (transposed packings, the same codes). Straight-
//           through estimator with no masks: a symmetric absmax quantizer never clips. ∇b is the exact
//           f32 column sum of ∇Y.
//           Per tensor, Ŵ and X̂ are the forward's codes (the same scale and rounding, only packed the
//           other way). With perRow, a per-row scale of W varies along C and one of X along N, which is
//           the reduction of the backward products, so it cannot be factored out of an integer product;
//           the backward operands are quantized with one scale per row of their own packing instead, i.e.
//           per column d of W and of X (per input feature), from the f32 X and W; codes that differ
//           from the forward's by the rounding of another scale. ∇Y stays per tensor in both modes.
// Per-row products: intMatmul takes one scale per operand, so the codes are multiplied with unit steps
// (the per-tensor one where there is one) and dequantizeRowsCols scales rows and columns in place: the
// same f32(acc)·scale as a fused kernel, for one extra pass over the output, O(MN) next to the O(MNK)
// product, and no second copy of the tiled integer kernel.
import { writeTensor } from '../gpu/memory';
import type { Kernels } from '../gpu/kernels';
import { absmaxPartials, absmaxQuantizeInt8, absmaxScale, absmaxStochasticQuantizeInt8, dequantizeRowsCols, int8CodeShape, quantizeInt8, scaleCount, stochasticQuantizeInt8 } from '../ops/int8';
import { biasBackward } from '../ops/matmul';
import { intMatmul, intMatmulPath, intMatmulPathName, type IntMatmulSpec } from '../ops/quant';
import type { ForwardProducts } from '../sparsity/forward';
import { sharedScratch } from '../gpu/scratch';
import type { Dispatch } from '../gpu/kernels';
import { STREAM, STREAMS_PER_LAYER } from './quantized';
import type { LinearLayer, LinearLayerSpec, LinearScheme } from './scheme';

export interface Int8Options {
  /** One scale per row of X and of W (and per column in the backward) instead of one per tensor. */
  perRow: boolean;
  /** The forward's code product (default intMatmul): the sparse run's switchable 2:4 product. */
  forwardProducts?: ForwardProducts;
}

/** The stochastic rounding of ∇Y draws from the layer's own stream (see STREAM in quantized.ts). */
export const INT8_STREAMS_PER_LAYER = STREAMS_PER_LAYER;
export const INT8_GRADIENT_STREAM_OFFSET = STREAM.int8Gradient;

export function int8Scheme(o: Int8Options): LinearScheme {
  const scaling = o.perRow ? 'per-row' : 'per-tensor';
  return {
    precision: 'int8',
    usesLossScaling: false,
    kernelPath: (caps) =>
      `int8 symmetric (${scaling} absmax scales) on ${intMatmulPathName(intMatmulPath(caps))} products; ` +
      '∇Y per tensor with stochastic rounding',
    extraParameters: () => [],
    build(k: Kernels, l: LinearLayerSpec): LinearLayer {
      const { rows: N, inFeatures: D, outFeatures: C, name } = l;
      const perRow = o.perRow;
      const t = (shape: number[], what: string) => k.memory.tensor(shape, `${name}.${what}`);
      // Codes and reduction partials live within one pass of this layer (forward or backward; the
      // backward quantizes X and W again, transposed): shared by all layers (gpu/scratch.ts). The scales
      // are the layer's own: the forward's per-tensor scales are the backward's too.
      const scratch = (shape: number[], what: string) => sharedScratch(k, `int8.${what}`, shape);
      const forwardScaling = perRow ? 'row' : 'tensor';
      const backwardScaling = perRow ? 'column' : 'tensor';
      const partials = scratch(
        [
          Math.max(
            absmaxPartials(N, D, forwardScaling),
            absmaxPartials(C, D, forwardScaling),
            absmaxPartials(N, C, 'tensor'),
            absmaxPartials(N, D, backwardScaling),
            absmaxPartials(C, D, backwardScaling),
            1,
          ),
        ],
        'partials',
      );

      // --- forward
      const scaleX = t([scaleCount(N, D, forwardScaling)], 'scale_x');
      const scaleW = t([scaleCount(C, D, forwardScaling)], 'scale_w');
      const codesX = scratch(int8CodeShape(N, D), 'codes_x');
      const codesW = scratch(int8CodeShape(C, D), 'codes_w');
      // A unit step for intMatmul where the scales are applied per row afterwards.
      const one = perRow ? t([1], 'one') : null;
      if (one) writeTensor(k.device, one, new Float32Array([1]));
      // One scale per tensor: the absmax's second pass runs inside the quantize pass (ops/int8.ts
      // absmaxQuantizeInt8), two dispatches a tensor instead of three; each tensor's partial maxima are read
      // right after they are written, so X and W share the partials scratch.
      const forward: Dispatch[] = perRow
        ? [
            ...absmaxScale(k, { label: `${name}.scale_x`, x: l.x, scale: scaleX, partials, rows: N, cols: D, scaling: forwardScaling }),
            ...absmaxScale(k, { label: `${name}.scale_w`, x: l.w, scale: scaleW, partials, rows: C, cols: D, scaling: forwardScaling }),
            quantizeInt8(k, { label: `${name}.quantize_x`, x: l.x, scale: scaleX, codes: codesX, rows: N, cols: D, perRow }),
            quantizeInt8(k, { label: `${name}.quantize_w`, x: l.w, scale: scaleW, codes: codesW, rows: C, cols: D, perRow }),
          ]
        : [
            ...absmaxQuantizeInt8(k, { label: `${name}.quantize_x`, x: l.x, scale: scaleX, partials, codes: codesX, rows: N, cols: D }),
            ...absmaxQuantizeInt8(k, { label: `${name}.quantize_w`, x: l.w, scale: scaleW, partials, codes: codesW, rows: C, cols: D }),
          ];
      const product = (kk: Kernels, spec: IntMatmulSpec) => (o.forwardProducts ? o.forwardProducts.int(kk, spec) : [intMatmul(kk, spec)]);
      if (one) {
        forward.push(
          ...product(k, { label: `${name}.int8_matmul`, a: codesX, b: codesW, stepA: one, stepB: one, c: l.y, M: N, N: C, K: D, format: 'int8' }),
          dequantizeRowsCols(k, { label: `${name}.dequantize_y`, c: l.y, rows: N, cols: C, rowScale: scaleX, colScale: scaleW, bias: l.b }),
        );
      } else {
        forward.push(
          ...product(k, { label: `${name}.int8_matmul`, a: codesX, b: codesW, stepA: scaleX, stepB: scaleW, c: l.y, M: N, N: C, K: D, format: 'int8', bias: l.b }),
        );
      }

      // --- backward
      const stream = l.index * INT8_STREAMS_PER_LAYER + INT8_GRADIENT_STREAM_OFFSET;
      const scaleG = t([1], 'scale_grad');
      const codesG = scratch(int8CodeShape(N, C), 'codes_grad'); // along C, for ∇X
      const codesGt = scratch(int8CodeShape(N, C, true), 'codes_grad_t'); // along N, for ∇W
      const codesWt = scratch(int8CodeShape(C, D, true), 'codes_w_t'); // along C
      const codesXt = scratch(int8CodeShape(N, D, true), 'codes_x_t'); // along N
      // Per tensor: the forward's scales (so the forward's codes). Per row: one per column d of W and X.
      const scaleWt = perRow ? t([D], 'scale_w_t') : scaleW;
      const scaleXt = perRow ? t([D], 'scale_x_t') : scaleX;
      const backward: Dispatch[] = [
        ...absmaxStochasticQuantizeInt8(k, { label: `${name}.quantize_grad`, x: l.dy, scale: scaleG, partials, stepState: l.stepState, stream, codes: codesG, rows: N, cols: C }),
        stochasticQuantizeInt8(k, { label: `${name}.quantize_grad_t`, x: l.dy, scale: scaleG, stepState: l.stepState, stream, codes: codesGt, rows: N, cols: C, transposed: true }),
      ];
      if (perRow) {
        backward.push(
          ...absmaxScale(k, { label: `${name}.scale_w_t`, x: l.w, scale: scaleWt, partials, rows: C, cols: D, scaling: 'column' }),
          ...absmaxScale(k, { label: `${name}.scale_x_t`, x: l.x, scale: scaleXt, partials, rows: N, cols: D, scaling: 'column' }),
        );
      }
      backward.push(
        quantizeInt8(k, { label: `${name}.quantize_w_t`, x: l.w, scale: scaleWt, codes: codesWt, rows: C, cols: D, perRow, transposed: true }),
        quantizeInt8(k, { label: `${name}.quantize_x_t`, x: l.x, scale: scaleXt, codes: codesXt, rows: N, cols: D, perRow, transposed: true }),
        // ∇X [N, D] = s_G·G·Ŵ: A = G (rows n, along C), B = Ŵᵀ (rows d, along C).
        intMatmul(k, { label: `${name}.grad_x`, a: codesG, b: codesWt, stepA: scaleG, stepB: one ?? scaleWt, c: l.dx, M: N, N: D, K: C, format: 'int8' }),
        // ∇W [C, D] = s_G·Gᵀ·X̂: A = Gᵀ (rows c, along N), B = X̂ᵀ (rows d, along N).
        intMatmul(k, { label: `${name}.grad_w`, a: codesGt, b: codesXt, stepA: scaleG, stepB: one ?? scaleXt, c: l.dw, M: C, N: D, K: N, format: 'int8' }),
      );
      if (perRow) {
        backward.push(
          dequantizeRowsCols(k, { label: `${name}.dequantize_grad_x`, c: l.dx, rows: N, cols: D, colScale: scaleWt }),
          dequantizeRowsCols(k, { label: `${name}.dequantize_grad_w`, c: l.dw, rows: C, cols: D, colScale: scaleXt }),
        );
      }
      if (l.db) backward.push(...biasBackward(k, `${name}.db`, l.dy, l.db, N, C));
      return { forward, backward };
    },
  };
}
