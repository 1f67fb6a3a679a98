// INT4 = HQ + LSS, the method of "Training Transformers with 4-bit Integers" (docs: the paper spec).
//
// Forward, HQ-MM (§3.3): Y = X·Wᵀ ≈ s_X s_W · int(XH) · int(WH)ᵀ, with H block-diagonal Hadamard on the
// reduction dimension, int(·) LSQ codes in [−8, 7] with one learned step size per tensor (§3.1), and the
// product exact on the integer codes.
// Backward, LSS-MM (§4, eq. 4): ∇Y is bit-split into two INT4 parts (hi, stochastically rounded lo);
// the 2N stacked rows are sampled by leverage score with 1/p rescaling ('lss') or all non-zero rows are
// kept ('bitsplit', the official code); then
//   ∇W = (I_W ∘ ∇Ỹ_wᵀ · X̂) · H,  ∇X = (I_X ∘ ∇Ỹ_a · Ŵ) · H,  X̂ = s_X·int(XH), Ŵ = s_W·int(WH),
// with the LSQ straight-through masks I and step-size gradients, and the final ·Hᵀ (H is symmetric).
// The two sampled products run in f32 on the dequantized codes: the 1/p weights break integer codes
// (the official code's sampled branch ran them in FP16 for the same reason); every other value is exact.
import { hadamardBlockFor, type LssVariant } from '../config';
import type { Kernels } from '../gpu/kernels';
import { bitSplit, codeRowNorms, lsqBackward, lsqDequantize, lssCombine, lssProbabilities, splitRowNorms } from '../ops/lss';
import { biasBackward, matmul } from '../ops/matmul';
import { hadamardTransform, intMatmul, intMatmulPath, lsqInitStep, lsqQuantize, packedCodeShape } from '../ops/quant';
import type { LinearLayer, LinearLayerSpec, LinearScheme, SchemeParameter } from './scheme';

export interface Int4Options {
  /** Largest Hadamard block; each layer uses the largest power of two up to it dividing its width. */
  hadamardBlock: number;
  lssVariant: LssVariant;
}

/** Streams per layer of counter-based draws: bit split, weight-gradient mask, activation-gradient mask. */
const STREAMS_PER_LAYER = 4;

export function int4HqLssScheme(o: Int4Options): LinearScheme {
  return {
    precision: 'int4',
    usesLossScaling: false,
    kernelPath: (caps) =>
      `int4 HQ (Hadamard ≤ ${o.hadamardBlock}) + LSQ forward on ${intMatmulPath(caps) === 'dot4' ? 'dot4I8Packed' : 'plain integer'} products; ` +
      `LSS backward (${o.lssVariant === 'lss' ? 'leverage-score sampling' : 'bit split, all non-zero rows'})`,
    // One learned step size per tensor (§3.1); no weight decay, and |s| is used (the code keeps it positive).
    extraParameters: () => [
      { name: 'input_step', shape: [1], init: { kind: 'constant', value: 1 }, decay: false },
      { name: 'weight_step', shape: [1], init: { kind: 'constant', value: 1 }, decay: false },
    ],
    build(k: Kernels, l: LinearLayerSpec, extra: Record<string, SchemeParameter>): LinearLayer {
      const { rows: N, inFeatures: D, outFeatures: C, name } = l;
      const mem = k.memory;
      const sX = extra.input_step;
      const sW = extra.weight_step;
      const block = hadamardBlockFor(D, o.hadamardBlock);
      const t = (shape: number[], what: string) => mem.tensor(shape, `${name}.${what}`);

      // --- forward (HQ-MM)
      const xh = t([N, D], 'xh');
      const wh = t([C, D], 'wh');
      const vX = t([N, D], 'v_x'); // XH / s_X, kept for the backward
      const vW = t([C, D], 'v_w');
      const codesX = t(packedCodeShape(N, D, 'int4'), 'codes_x');
      const codesW = t(packedCodeShape(C, D, 'int4'), 'codes_w');
      const transform = [
        hadamardTransform(k, `${name}.hadamard_x`, l.x, xh, N, D, block),
        hadamardTransform(k, `${name}.hadamard_w`, l.w, wh, C, D, block),
      ];
      const product = [
        lsqQuantize(k, { label: `${name}.quantize_x`, x: xh, step: sX.value, v: vX, codes: codesX, rows: N, K: D }),
        lsqQuantize(k, { label: `${name}.quantize_w`, x: wh, step: sW.value, v: vW, codes: codesW, rows: C, K: D }),
        intMatmul(k, { label: `${name}.int4_matmul`, a: codesX, b: codesW, stepA: sX.value, stepB: sW.value, c: l.y, M: N, N: C, K: D, bias: l.b }),
      ];
      // Step sizes start at 2·mean|XH|/√7 and 2·mean|WH|/√7 of the first batch (official code, paper A.4).
      const init = [
        lsqInitStep(k, `${name}.init_step_x`, xh, sX.value, N * D),
        lsqInitStep(k, `${name}.init_step_w`, wh, sW.value, C * D),
      ];

      // --- backward (LSS-MM)
      const stream = l.index * STREAMS_PER_LAYER;
      const hi = t([N, C], 'grad_hi');
      const lo = t([N, C], 'grad_lo');
      const splitState = t([4], 'split_state');
      const partials = t([256], 'partials');
      const splitNorms = t([2 * N], 'split_row_norms');
      const xNorms = t([N], 'x_row_norms');
      const probsW = t([2 * N], 'probs_w');
      const probsA = t([2 * N], 'probs_x');
      const gradW = t([N, C], 'sampled_grad_w');
      const gradA = t([N, C], 'sampled_grad_x');
      const keptW = t([1], 'kept_w');
      const keptA = t([1], 'kept_x');
      const xq = t([N, D], 'xh_dequantized');
      const wq = t([C, D], 'wh_dequantized');
      const dwh = t([C, D], 'grad_wh');
      const dxh = t([N, D], 'grad_xh');
      const dwhMasked = t([C, D], 'grad_wh_masked');
      const dxhMasked = t([N, D], 'grad_xh_masked');
      const backward = [
        ...bitSplit(k, { label: `${name}.bit_split`, dy: l.dy, hi, lo, splitState, stepState: l.stepState, stream, partials, rows: N, cols: C }),
        splitRowNorms(k, { label: `${name}.split_norms`, hi, lo, splitState, scores: splitNorms, rows: N, cols: C }),
        codeRowNorms(k, { label: `${name}.x_norms`, v: vX, step: sX.value, norms: xNorms, rows: N, cols: D }),
        // Leverage scores: ‖∇↕Y_i‖·‖X̂↕_i‖ for ∇W, ‖∇↕Y_i‖ for ∇X; a budget of N of the 2N rows each.
        lssProbabilities(k, { label: `${name}.probs_w`, scores: splitNorms, factor: xNorms, probs: probsW, rows: N, variant: o.lssVariant }),
        lssProbabilities(k, { label: `${name}.probs_x`, scores: splitNorms, factor: null, probs: probsA, rows: N, variant: o.lssVariant }),
        ...lssCombine(k, { label: `${name}.sample_w`, hi, lo, splitState, probs: probsW, stepState: l.stepState, stream, gradient: 'weight', out: gradW, keptCount: keptW, rows: N, cols: C }),
        ...lssCombine(k, { label: `${name}.sample_x`, hi, lo, splitState, probs: probsA, stepState: l.stepState, stream, gradient: 'activation', out: gradA, keptCount: keptA, rows: N, cols: C }),
        lsqDequantize(k, { label: `${name}.dequantize_x`, v: vX, step: sX.value, out: xq, numel: N * D }),
        lsqDequantize(k, { label: `${name}.dequantize_w`, v: vW, step: sW.value, out: wq, numel: C * D }),
        matmul(k, { label: `${name}.grad_wh`, a: gradW, b: xq, c: dwh, M: C, N: D, K: N, transA: true }),
        matmul(k, { label: `${name}.grad_xh`, a: gradA, b: wq, c: dxh, M: N, N: D, K: C }),
        ...lsqBackward(k, { label: `${name}.lsq_w`, grad: dwh, v: vW, step: sW.value, gradMasked: dwhMasked, gradStep: sW.grad, numel: C * D, partials }),
        ...lsqBackward(k, { label: `${name}.lsq_x`, grad: dxh, v: vX, step: sX.value, gradMasked: dxhMasked, gradStep: sX.grad, numel: N * D, partials }),
        hadamardTransform(k, `${name}.hadamard_grad_w`, dwhMasked, l.dw, C, D, block),
        hadamardTransform(k, `${name}.hadamard_grad_x`, dxhMasked, l.dx, N, D, block),
      ];
      if (l.db) backward.push(biasBackward(k, `${name}.db`, l.dy, l.db, N, C));
      return { forward: [...transform, ...product], firstForward: [...transform, ...init, ...product], backward };
    },
  };
}
