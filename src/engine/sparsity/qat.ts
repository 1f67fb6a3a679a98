// Sparse-QAT's quantization path (the article's "PTQ and QAT"): every block linear layer fake-quantizes X
// and W to symmetric INT8 and multiplies the codes, and the backward passes gradients straight through.
//   calibration  t = the k-th smallest |x|, k = ⌈0.9999·n⌉ (99.99% of the values inside [−t, t]), for X
//                and for W on every step (the weights move; X is this batch's), exactly, on the GPU
//                (shaders/qat.wgsl, a radix select); scale s = t/127
//   forward      X_q = clamp(round(X/s_X), ±127), W_q likewise; Y = s_X·s_W·X_q·W_qᵀ + b on the integer
//                codes (dense INT8 product, or the compressed 2:4 one once the weights are 2:4)
//   backward     straight-through estimator: ∇X = (∇Y·Ŵ) ⊙ 1[|X| ≤ t_X], ∇W = (∇Yᵀ·X̂) ⊙ 1[|W| ≤ t_W]
//                with X̂ = s_X·X_q, Ŵ = s_W·W_q (f32 products on the dequantized codes); ∇b exact
// Float64 twins: reference/sparsity.ts (calibrateClipRef, fakeQuantInt8Ref, steGradRef).
import { type Dispatch, grid1d, type Kernels } from '../gpu/kernels';
import { sharedScratch } from '../gpu/scratch';
import type { LinearLayer, LinearLayerSpec, LinearScheme } from '../linear/scheme';
import { int8CodeShape, quantizeInt8 } from '../ops/int8';
import { biasBackward, matmul, weightGradient } from '../ops/matmul';
import { dequantize, intMatmul, intMatmulPath, intMatmulPathName } from '../ops/quant';
import { calibrationRank } from '../reference/sparsity';
import type { Tensor } from '../tensor';
import type { ForwardProducts } from './forward';

/** Workgroups of a radix pass: enough to spread the histogram over a GPU, each ≥ 1024 values. */
const SELECT_GROUPS_MAX = 64;

export interface CalibrateSpec {
  label: string;
  /** n f32 values. */
  x: Tensor;
  n: number;
  /** [1] out: t, the k-th smallest |x| with k = ⌈0.9999·n⌉. */
  clip: Tensor;
  /** [1] out: t/127. */
  scale: Tensor;
}

/** The 99.99% calibration as 8 dispatches: 4 radix passes of 8 bits, each a histogram and a pick. The
 *  histogram and the search state are scratch shared by every calibration (each leaves them clear). */
export function calibrateInt8(k: Kernels, s: CalibrateSpec): Dispatch[] {
  if (!Number.isInteger(s.n) || s.n < 1) throw new RangeError(`${s.label}: n must be a positive integer, got ${s.n}`);
  if (s.x.size < s.n) throw new RangeError(`${s.label}: x has ${s.x.size} values, needs ${s.n}`);
  const hist = sharedScratch(k, 'qat.histogram', [256]);
  const state = sharedScratch(k, 'qat.select_state', [2]);
  const rank = calibrationRank(s.n);
  const groups = Math.max(1, Math.min(SELECT_GROUPS_MAX, Math.ceil(s.n / 1024)));
  const out: Dispatch[] = [];
  for (const shift of [24, 16, 8, 0]) {
    const uniforms = [s.n, shift, rank, shift === 0 ? 1 : 0];
    out.push(
      k.dispatch({ shader: 'qat', entry: 'select_histogram', label: `${s.label}.histogram_${shift}`, uniforms, bindings: [s.x, state, hist], workgroups: [groups, 1, 1] }),
      k.dispatch({ shader: 'qat', entry: 'select_pick', label: `${s.label}.pick_${shift}`, uniforms, bindings: [hist, state, s.clip, s.scale], workgroups: [1, 1, 1] }),
    );
  }
  return out;
}

/** grad[i] ← 0 where |x[i]| > clip (in place): the straight-through estimator's mask. */
export function steMask(k: Kernels, label: string, grad: Tensor, x: Tensor, clip: Tensor, n: number): Dispatch {
  if (grad.size < n || x.size < n) throw new RangeError(`${label}: grad and x need ${n} values`);
  return k.dispatch({ shader: 'qat', entry: 'ste_mask', label, uniforms: [n, 0, 0, 0], bindings: [grad, x, clip], workgroups: grid1d(n) });
}

export function sparseQatScheme(products?: ForwardProducts): LinearScheme {
  return {
    precision: 'fp32',
    usesLossScaling: false,
    kernelPath: (caps) =>
      `Sparse-QAT: INT8 fake quantization of X and W (scales calibrated to 99.99% of the values, straight-through estimator) on ${intMatmulPathName(intMatmulPath(caps))} products` +
      (products ? ', compressed 2:4 INT8 codes once the weights are 2:4' : ''),
    extraParameters: () => [],
    build(k: Kernels, l: LinearLayerSpec): LinearLayer {
      const { rows: N, inFeatures: D, outFeatures: C, name } = l;
      const t = (shape: number[], what: string) => k.memory.tensor(shape, `${name}.${what}`);
      // Written in the forward and read in the backward: the layer's own.
      const clipX = t([1], 'clip_x');
      const scaleX = t([1], 'scale_x');
      const clipW = t([1], 'clip_w');
      const scaleW = t([1], 'scale_w');
      const codesX = t(int8CodeShape(N, D), 'codes_x');
      const codesW = t(int8CodeShape(C, D), 'codes_w');
      const spec = { label: `${name}.int8_matmul`, a: codesX, b: codesW, stepA: scaleX, stepB: scaleW, c: l.y, M: N, N: C, K: D, format: 'int8' as const, bias: l.b };
      const forward: Dispatch[] = [
        ...calibrateInt8(k, { label: `${name}.calibrate_x`, x: l.x, n: N * D, clip: clipX, scale: scaleX }),
        ...calibrateInt8(k, { label: `${name}.calibrate_w`, x: l.w, n: C * D, clip: clipW, scale: scaleW }),
        quantizeInt8(k, { label: `${name}.quantize_x`, x: l.x, scale: scaleX, codes: codesX, rows: N, cols: D, perRow: false }),
        quantizeInt8(k, { label: `${name}.quantize_w`, x: l.w, scale: scaleW, codes: codesW, rows: C, cols: D, perRow: false }),
        ...(products ? products.int(k, spec) : [intMatmul(k, spec)]),
      ];
      // Written and read within the backward: shared by the layers of a shape.
      const xq = sharedScratch(k, 'qat.x_dequantized', [N, D]);
      const wq = sharedScratch(k, 'qat.w_dequantized', [C, D]);
      const backward: Dispatch[] = [
        dequantize(k, { label: `${name}.dequantize_x`, codes: codesX, step: scaleX, out: xq, rows: N, K: D, format: 'int8' }),
        dequantize(k, { label: `${name}.dequantize_w`, codes: codesW, step: scaleW, out: wq, rows: C, K: D, format: 'int8' }),
        matmul(k, { label: `${name}.grad_x`, a: l.dy, b: wq, c: l.dx, M: N, N: D, K: C }),
        steMask(k, `${name}.ste_x`, l.dx, l.x, clipX, N * D),
        ...weightGradient(k, { label: `${name}.grad_w`, a: l.dy, b: xq, c: l.dw, M: C, N: D, K: N }),
        steMask(k, `${name}.ste_w`, l.dw, l.w, clipW, C * D),
      ];
      if (l.db) backward.push(...biasBackward(k, `${name}.db`, l.dy, l.db, N, C));
      return { forward, backward, observe: { errorX: { exact: l.x, quantized: xq }, errorW: { exact: l.w, quantized: wq } } };
    },
  };
}
