// Quantized linear layers with independent forward and backward quantizers, so the paper's method, its
// baselines and the Fig. 3 ablations are one scheme with different switches (docs/int4-training-paper.md §1–§5).
//
// The paper's method, INT4 = HQ + LSS:
//   Forward, HQ-MM (§3.3): Y = X·Wᵀ ≈ s_X s_W · int(XH) · int(WH)ᵀ, with H block-diagonal Hadamard on the
//   reduction dimension, int(·) LSQ codes in [−8, 7] with one learned step size per tensor (§3.1), and
//   the product exact on the integer codes.
//   Backward, LSS-MM (§4, eq. 4): ∇Y is bit-split into two INT4 parts (hi, stochastically rounded lo); the
//   2N stacked rows are sampled by leverage score with 1/p rescaling ('lss') or all non-zero rows are kept
//   ('bitsplit', the official code); then
//     ∇W = (I_W ∘ ∇Ỹ_wᵀ · X̂) · H,  ∇X = (I_X ∘ ∇Ỹ_a · Ŵ) · H,  X̂ = s_X·int(XH), Ŵ = s_W·int(WH),
//   with the LSQ straight-through masks I, the step-size gradients, and the final ·Hᵀ (H is symmetric).
//   The two backward products run in f32 on the dequantized codes: the 1/p weights break integer codes
//   (the official code's sampled branch ran them in FP16 for the same reason); integer codes times
//   power-free scales are exact in f32 up to 2^24, so without sampling nothing is lost.
//
// Forward quantizers: 'hq' (Hadamard + LSQ), 'lsq' (LSQ alone), 'minmax' (per-tensor asymmetric min-max,
// stochastic rounding: the naive recipe), 'none'. Backward quantizers of ∇Y: 'lss', 'bitsplit', 'luq'
// (Chmiel et al.), 'minmax', 'none'. Bit widths 2–8 for the forward.
import { type ForwardQuantizer, hadamardBlockFor, type Precision, type QuantizerChoice } from '../config';
import type { Dispatch, Kernels } from '../gpu/kernels';
import { BASELINE_STATS, baselinePartials, luqQuantize, minmaxQuantize } from '../ops/baselines';
import { bitSplit, codeRowNorms, lsqBackward, lsqDequantize, lssCombine, lssKeptCount, lssProbabilities, REDUCTION_PARTIALS } from '../ops/lss';
import { packLsqCodes, packSplitCodes, splitCodeShape } from '../ops/intgrad';
import { biasBackward, matmul, weightGradient } from '../ops/matmul';
import { hadamardBlockSearch, hadamardSearchScratch } from '../ops/hadamard-search';
import { hadamardQuantize, hadamardTransform, hadamardTransformPair, intMatmul, intMatmulPath, intMatmulPathName, type IntMatmulSpec, lsqInitStep, lsqQuantize, packedCodeShape } from '../ops/quant';
import type { ForwardProducts } from '../sparsity/forward';
import { sharedScratch } from '../gpu/scratch';
import type { Tensor } from '../tensor';
import type { EmbeddingQuantizer, LinearLayer, LinearLayerSpec, LinearObservables, LinearScheme, SchemeParameter } from './scheme';

export interface QuantizedOptions extends QuantizerChoice {
  /** Largest Hadamard block for 'hq'; each layer uses the largest power of two up to it dividing its width. */
  hadamardBlock: number;
  /** 'hq': choose each layer's block on the first batch instead (the official code's `dynamic` search,
   *  ops/hadamard-search.ts); the choice is a parameter, `<layer>.hadamard_block`, so checkpoints keep it. */
  hadamardSearch?: boolean;
  /** The forward's product where W is used as it is ('lsq' codes, 'none'): the sparse run's switchable
   *  2:4 product. ('hq' mixes every weight of a Hadamard block, 'minmax' rounds zeros stochastically.) */
  forwardProducts?: ForwardProducts;
  /** 'lss'/'bitsplit' with 4-bit LSQ codes: run the backward products on the integer codes (default) rather
   *  than in f32 on dequantized values (ops/intgrad.ts). Same values up to f32 rounding. */
  integerBackward?: boolean;
}

/** Counter-based draw streams of one layer (its base stream is index · STREAMS_PER_LAYER). */
export const STREAMS_PER_LAYER = 8;
export const STREAM = { bitSplit: 0, lssWeight: 1, lssActivation: 2, int8Gradient: 3, minmaxX: 4, minmaxW: 5, gradient: 6 } as const;
/** Bits of the min-max and LUQ gradient quantizers (the paper's baselines are 4-bit throughout). */
const GRADIENT_BITS = 4;

const uses = {
  lsq: (f: ForwardQuantizer) => f === 'lsq' || f === 'hq',
};

export function describeQuantizer(o: QuantizerChoice): string {
  const fwd = { hq: 'Hadamard + LSQ', lsq: 'LSQ', minmax: 'min-max', none: 'f32' }[o.forward];
  const bwd = { lss: 'leverage-score sampling', bitsplit: 'bit split, all non-zero rows', luq: 'LUQ', minmax: 'min-max', none: 'f32' }[o.backward];
  return `forward ${fwd}${o.forward === 'none' ? '' : ` ${o.bits}-bit`}, backward ∇Y ${bwd}`;
}

/** LSQ fake quantization of the embedding output ("simply using LSQ for embedding layers", §5): codes
 *  with a learned step initialised from the first batch, dequantized; backward the straight-through
 *  estimator with the LSQ mask and step-size gradient. (The official code also applies the Hadamard
 *  transform there and quantizes that gradient with 4-bit min-max; here the gradient stays f32.) */
function lsqEmbeddingQuantizer(bits: number): EmbeddingQuantizer {
  const qn = 2 ** (bits - 1);
  const qp = 2 ** (bits - 1) - 1;
  const format = bits <= 4 ? 'int4' : 'int8';
  return {
    parameters: [{ name: 'output_step', shape: [1], init: { kind: 'constant', value: 1 }, decay: false, quantizer: true }],
    build(k, e, extra) {
      const { rows, cols } = e;
      const step = extra.output_step;
      const v = k.memory.tensor([rows, cols], 'embedding.lsq_v');
      const codes = k.memory.tensor(packedCodeShape(rows, cols, format), 'embedding.codes');
      const partials = k.memory.tensor([REDUCTION_PARTIALS], 'embedding.partials');
      const forward = [
        lsqQuantize(k, { label: 'embedding.quantize', x: e.x, step: step.value, v, codes, rows, K: cols, format, qn, qp }),
        lsqDequantize(k, { label: 'embedding.dequantize', v, step: step.value, out: e.y, numel: rows * cols, qn, qp }),
      ];
      return {
        forward,
        firstForward: [lsqInitStep(k, 'embedding.init_step', e.x, step.value, rows * cols, qp), ...forward],
        backward: lsqBackward(k, { label: 'embedding.lsq', grad: e.dy, v, step: step.value, gradMasked: e.dx, gradStep: step.grad, numel: rows * cols, partials, qn, qp }),
      };
    },
  };
}

export function quantizedScheme(precision: Precision, o: QuantizedOptions): LinearScheme {
  const qn = 2 ** (o.bits - 1);
  const qp = 2 ** (o.bits - 1) - 1;
  const format = o.bits <= 4 ? 'int4' : 'int8';
  return {
    precision,
    embedding: uses.lsq(o.forward) ? lsqEmbeddingQuantizer(o.bits) : undefined,
    usesLossScaling: false,
    kernelPath: (caps) => {
      const product = uses.lsq(o.forward) ? `${o.bits}-bit codes on ${intMatmulPathName(intMatmulPath(caps))} products` : 'f32 products';
      const hadamard = o.forward !== 'hq' ? '' : o.hadamardSearch ? ' (Hadamard block searched per layer on the first batch)' : ` (Hadamard ≤ ${o.hadamardBlock})`;
      return `${describeQuantizer(o)}${hadamard}; ${product}`;
    },
    // One learned step size per tensor (§3.1); no weight decay, and |s| is used (the code keeps it positive).
    // The searched Hadamard block rides along as a parameter that never gets a gradient (AdamW leaves a
    // zero-gradient, no-decay value unchanged), so it is saved and loaded with the model.
    extraParameters: (layer) => [
      ...(uses.lsq(o.forward)
        ? [
            { name: 'input_step', shape: [1], init: { kind: 'constant' as const, value: 1 }, decay: false, quantizer: true },
            { name: 'weight_step', shape: [1], init: { kind: 'constant' as const, value: 1 }, decay: false, quantizer: true },
          ]
        : []),
      ...(o.forward === 'hq' && o.hadamardSearch
        ? [{ name: 'hadamard_block', shape: [1], init: { kind: 'constant' as const, value: hadamardBlockFor(layer.inFeatures, o.hadamardBlock) }, decay: false, quantizer: true }]
        : []),
    ],
    build(k: Kernels, l: LinearLayerSpec, extra: Record<string, SchemeParameter>): LinearLayer {
      const { rows: N, inFeatures: D, outFeatures: C, name } = l;
      const t = (shape: number[], what: string) => k.memory.tensor(shape, `${name}.${what}`);
      // Written and read only inside this layer's backward (or only inside its forward): shared by
      // the layers of the same shape (gpu/scratch.ts).
      const scratch = (shape: number[], what: string) => sharedScratch(k, `quantized.${what}`, shape);
      const stream = l.index * STREAMS_PER_LAYER;
      // Two-stage reductions' partial sums; the paired LSQ backward (W and X) writes two sets side by side.
      const partials = t([2 * REDUCTION_PARTIALS], 'partials');
      // The baseline quantizers' reductions keep their own (larger) scratch.
      const baselineScratch = () => t([baselinePartials(Math.max(N * D, C * D, N * C))], 'baseline_partials');
      const forward: Dispatch[] = [];
      // The first training step's forward, where it differs (LSQ step sizes initialised from the batch).
      const firstForward: Dispatch[] = [];
      const init: Dispatch[] = [];
      const backward: Dispatch[] = [];
      const observe: LinearObservables = {};

      // --- forward: X̂ and Ŵ are what the backward products use (dequantized, f32).
      let xq: Tensor = l.x;
      let wq: Tensor = l.w;
      // 'hq' transforms X and W: by a block fixed now, or one the first batch's search writes on the GPU.
      const transformed = o.forward === 'hq';
      let block: number | Tensor = 1;
      const search: Dispatch[] = [];
      let lsq: { sX: SchemeParameter; sW: SchemeParameter; vX: Tensor; vW: Tensor } | null = null;
      // The backward's products on the integer codes (ops/intgrad.ts) rather than in f32 on X̂ and Ŵ.
      const integerProducts = uses.lsq(o.forward) && format === 'int4' && o.integerBackward !== false && (o.backward === 'lss' || o.backward === 'bitsplit');
      // Scratch roles that are never live at the same time share one buffer (the role names say which):
      // X̂ is last read by the f32 ∇W product, before the raw ∇X is written; the sampled ∇Y for ∇W is last
      // read by that same product, before the masked ∇X is written; X·H is written only where the layer's
      // backward is not running (the first step's forward, the measurements after the backward).
      const roles = {
        xDequantized: 'x_dequantized_or_grad_x_raw',
        gradXRaw: 'x_dequantized_or_grad_x_raw',
        xh: 'xh_or_sampled_grad_w_or_grad_x_masked',
        sampledGradW: transformed ? 'xh_or_sampled_grad_w_or_grad_x_masked' : 'sampled_grad_w',
        gradXMasked: 'xh_or_sampled_grad_w_or_grad_x_masked',
      } as const;
      const intProduct = (kk: Kernels, spec: IntMatmulSpec) => (o.forwardProducts && !transformed ? o.forwardProducts.int(kk, spec) : [intMatmul(kk, spec)]);
      if (uses.lsq(o.forward)) {
        const sX = extra.input_step;
        const sW = extra.weight_step;
        // X·H, W·H and v = ·/s are not kept from the forward to the backward: the backward computes them
        // again from X (kept anyway: it is the previous op's output) and W (unchanged until the optimizer
        // step), into scratch shared by the layers of the same shape. The same dispatches on the same
        // inputs give the same values, and a Hadamard transform and a quantize pass cost far less than the
        // products (memory-bound passes over X and W), while keeping four f32 copies of X and W per layer
        // made an INT4 run larger than the FP32 one (docs/benchmarks.md, GPU memory).
        let xh = l.x;
        let wh = l.w;
        if (o.forward === 'hq') {
          block = o.hadamardSearch ? extra.hadamard_block.value : hadamardBlockFor(D, o.hadamardBlock);
          // X·H and W·H share their buffers with the masked gradients of the backward's end (below): X·H is
          // written only in the first step's forward and for the measurements after the backward, never
          // while a masked gradient is live.
          xh = scratch([N, D], roles.xh);
          wh = scratch([C, D], 'wh_or_grad_w_masked');
        }
        // X·H and W·H, written out only where something reads them: the first step's step-size
        // initialisation and the measurements. Every other pass quantizes straight from the transform.
        const transforms = o.forward === 'hq'
          ? [hadamardTransformPair(k, `${name}.hadamard_xw`, { x: l.x, y: xh, rows: N }, { x: l.w, y: wh, rows: C }, D, block)]
          : [];
        // Step sizes start at 2·mean|XH|/√Q_P of the first batch (official code `QZ` 604–615, paper A.4).
        // Without the transform W is a slice of the parameter buffer that s_W also lives in, and one
        // dispatch may not read and write the same buffer: the first step reads a copy of W instead.
        let whForInit = wh;
        if (wh === l.w) {
          whForInit = scratch([C, D], 'w_copy');
          init.push(hadamardTransform(k, `${name}.copy_w`, l.w, whForInit, C, D, 1));
        }
        init.push(lsqInitStep(k, `${name}.init_step_x`, xh, sX.value, N * D, qp), lsqInitStep(k, `${name}.init_step_w`, whForInit, sW.value, C * D, qp));
        const vX = scratch([N, D], 'v_x'); // XH / s_X: the backward's codes, masks and step-size gradients
        const vW = scratch([C, D], 'v_w');
        const codesX = scratch(packedCodeShape(N, D, format), 'codes_x');
        const codesW = scratch(packedCodeShape(C, D, format), 'codes_w');
        // Dequantized in the backward from v and s (the min-max path below writes them in the forward
        // and keeps its own).
        xq = scratch([N, D], roles.xDequantized);
        wq = scratch([C, D], 'w_dequantized');
        if (typeof block !== 'number') {
          // The search runs on the first batch, before anything else of the layer, in the forward's own
          // buffers (rewritten right after).
          const sizes = hadamardSearchScratch(N, C, D);
          search.push(...hadamardBlockSearch(k, {
            label: `${name}.block_search`, x: l.x, w: l.w, rows: N, outRows: C, cols: D, format, qn, qp,
            transformed: { x: xh, w: wh }, v: { x: vX, w: vW }, codes: { x: codesX, w: codesW }, dequantized: { x: xq, w: wq },
            step: t([1], 'search_step'), partials: t([sizes.partials], 'search_partials'), errors: t([sizes.errors], 'search_errors'),
            block,
          }));
        }
        const operands = [
          { which: 'x', source: l.x, transformed: xh, step: sX.value, v: vX, codes: codesX, rows: N },
          { which: 'w', source: l.w, transformed: wh, step: sW.value, v: vW, codes: codesW, rows: C },
        ] as const;
        // From X·H and W·H as written out (the first step), and fused with the transform (ops/quant.ts
        // hadamardQuantize: one pass over X instead of three; LSQ alone has no transform to fuse).
        const quantizeTransformed = operands.map((q) => lsqQuantize(k, { label: `${name}.quantize_${q.which}`, x: q.transformed, step: q.step, v: q.v, codes: q.codes, rows: q.rows, K: D, format, qn, qp }));
        const hqOf = (q: (typeof operands)[number], dequantized?: Tensor) =>
          hadamardQuantize(k, { label: `${name}.hadamard_quantize_${q.which}`, source: q.source, block, transformed: q.transformed, step: q.step, v: q.v, codes: q.codes, rows: q.rows, K: D, format, qn, qp, dequantized });
        const hqForward = operands.map((q) => (o.forward === 'hq' ? hqOf(q) : []));
        const quantize = o.forward === 'hq' ? hqForward.flat() : quantizeTransformed;
        const product = intProduct(k, { label: `${name}.int_matmul`, a: codesX, b: codesW, stepA: sX.value, stepB: sW.value, c: l.y, M: N, N: C, K: D, bias: l.b, format });
        forward.push(...quantize, ...product);
        firstForward.push(...search, ...transforms, ...init, ...quantizeTransformed, ...product);
        // The backward computes v and the codes again rather than keeping them from the forward (X is
        // kept anyway, W is unchanged until the optimizer step): the same dispatches, the same values.
        // X̂ and Ŵ in f32 only where an f32 product reads them (with integer products: LSS's ∇W), and for
        // the measurements (their quantization errors), which run after the backward.
        const dequantizeX = lsqDequantize(k, { label: `${name}.dequantize_x`, v: vX, step: sX.value, out: xq, numel: N * D, qn, qp });
        const dequantizeW = lsqDequantize(k, { label: `${name}.dequantize_w`, v: vW, step: sW.value, out: wq, numel: C * D, qn, qp });
        const needX = !integerProducts || o.backward === 'lss';
        const needW = !integerProducts;
        if (o.forward === 'hq') {
          // The backward's quantize pass writes X̂ / Ŵ too where an f32 product needs them (one pass
          // over v fewer; the same values as lsqDequantize).
          // Where neither is needed the forward's own dispatches run again.
          const dequantized = { x: needX ? xq : undefined, w: needW ? wq : undefined };
          backward.push(...operands.flatMap((q, i) => (dequantized[q.which] ? hqOf(q, dequantized[q.which]) : hqForward[i])));
        } else {
          backward.push(...quantize);
          if (needX) backward.push(dequantizeX);
          if (needW) backward.push(dequantizeW);
        }
        lsq = { sX, sW, vX, vW };
        observe.errorX = { exact: xh, quantized: xq };
        observe.errorW = { exact: wh, quantized: wq };
        observe.stepX = sX.value;
        observe.stepW = sW.value;
        observe.recompute = [...transforms, dequantizeX, dequantizeW];
        if (o.forward === 'hq') observe.xh = { tensor: xh, block };
      } else if (o.forward === 'minmax') {
        // Fake quantization: stochastic min-max codes, dequantized, multiplied in f32 (straight-through).
        xq = t([N, D], 'x_dequantized');
        wq = t([C, D], 'w_dequantized');
        const stats = t([BASELINE_STATS], 'minmax_stats');
        const scratch = baselineScratch();
        forward.push(
          ...minmaxQuantize(k, { label: `${name}.minmax_x`, x: l.x, out: xq, n: N * D, bits: o.bits, stepState: l.stepState, stream: stream + STREAM.minmaxX, stats, partials: scratch }),
          ...minmaxQuantize(k, { label: `${name}.minmax_w`, x: l.w, out: wq, n: C * D, bits: o.bits, stepState: l.stepState, stream: stream + STREAM.minmaxW, stats, partials: scratch }),
        );
        observe.errorX = { exact: l.x, quantized: xq };
        observe.errorW = { exact: l.w, quantized: wq };
      }
      if (!uses.lsq(o.forward)) {
        forward.push(...(o.forward === 'none' && o.forwardProducts
          ? o.forwardProducts.float(k, { label: `${name}.forward`, x: xq, w: wq, y: l.y, M: N, N: C, K: D, bias: l.b })
          : [matmul(k, { label: `${name}.forward`, a: xq, b: wq, c: l.y, M: N, N: C, K: D, transB: true, bias: l.b })]));
      }

      // --- backward: ∇ wrt X̂ and Ŵ from the quantized ∇Y
      const gradX = lsq ? scratch([N, D], roles.gradXRaw) : l.dx;
      // The masked ∇X (LSQ backward's output, then ·Hᵀ into dx); before that, where LSS's low-half ∇X
      // product writes (see below). One tensor for both, so that it holds with scratch sharing off too.
      const dxMaskedScratch = lsq && transformed ? scratch([N, D], roles.gradXMasked) : null;
      let loPartX: Tensor | null = null;
      const gradW = lsq ? scratch([C, D], 'grad_w_raw') : l.dw;
      if (o.backward === 'lss' || o.backward === 'bitsplit') {
        // LSS with integer products reads the split only as codes (its ∇X products, and its ∇W combine
        // reading the codes directly): the bit split writes them packed, and no f32 copy exists.
        const packedSplit = lsq !== null && integerProducts && o.backward === 'lss';
        const hiCodes = packedSplit ? scratch(splitCodeShape(N, C), 'grad_hi_codes') : null;
        const loCodes = packedSplit ? scratch(splitCodeShape(N, C), 'grad_lo_codes') : null;
        const hi = hiCodes ?? scratch([N, C], 'grad_hi');
        const lo = loCodes ?? scratch([N, C], 'grad_lo');
        const splitState = scratch([4], 'split_state');
        const splitNorms = scratch([2 * N], 'split_row_norms');
        const xNorms = scratch([N], 'x_row_norms');
        const probsW = scratch([2 * N], 'probs_w');
        const probsA = scratch([2 * N], 'probs_x');
        // The combined f32 gradients, only where an f32 product needs them.
        let sampledWTensor: Tensor | undefined;
        let sampledATensor: Tensor | undefined;
        const sampledW = () => (sampledWTensor ??= scratch([N, C], roles.sampledGradW));
        const sampledA = () => (sampledATensor ??= scratch([N, C], 'sampled_grad_x'));
        const keptW = scratch([1], 'kept_w');
        const keptA = scratch([1], 'kept_x');
        // ∇X's per-row weights m/p (written by the probabilities' dispatch; read by the integer ∇X products).
        const weightsHi = scratch([N], 'weights_hi');
        const weightsLo = scratch([N], 'weights_lo');
        const xNormSource = lsq
          ? codeRowNorms(k, { label: `${name}.x_norms`, v: lsq.vX, step: lsq.sX.value, norms: xNorms, rows: N, cols: D, qn, qp })
          : null;
        if (!xNormSource) throw new Error(`${name}: LSS needs the LSQ codes of X (forward 'lsq' or 'hq')`);
        backward.push(
          // The codes and the stacked rows' norms in one pass (ops/lss.ts).
          ...bitSplit(k, {
            label: `${name}.bit_split`, dy: l.dy, splitState, stepState: l.stepState, stream: stream + STREAM.bitSplit, partials, scores: splitNorms, rows: N, cols: C,
            ...(hiCodes && loCodes ? { packed: { hiCodes, loCodes } } : { hi, lo }),
          }),
          xNormSource,
          // Leverage scores: ‖∇↕Y_i‖·‖X̂↕_i‖ for ∇W, ‖∇↕Y_i‖ for ∇X; a budget of N of the 2N rows each. Both
          // in one dispatch, with ∇X's row weights.
          lssProbabilities(k, {
            label: `${name}.probs`, scores: splitNorms, factor: xNorms, probs: probsW, rows: N, variant: o.backward,
            activation: { probs: probsA, stepState: l.stepState, stream, weightsHi, weightsLo },
          }),
        );
        // How many rows each sampling kept: read by the measurements only, so counted only on the steps
        // that measure (right after this layer's backward, while the probabilities are still this layer's).
        observe.recompute = [
          ...(observe.recompute ?? []),
          lssKeptCount(k, `${name}.kept_w`, probsW, l.stepState, stream, 'weight', keptW, N),
          lssKeptCount(k, `${name}.kept_x`, probsA, l.stepState, stream, 'activation', keptA, N),
        ];
        if (lsq && integerProducts) {
          // Integer products (ops/intgrad.ts): the split codes times the forward's codes, transposed.
          const codesWT = scratch(splitCodeShape(C, D, true), 'codes_w_t');
          backward.push(packLsqCodes(k, { label: `${name}.codes_w_t`, v: lsq.vW, codes: codesWT, rows: C, cols: D, qn, qp, transposed: true }));
          if (o.backward === 'bitsplit') {
            // Every non-zero row kept with weight 1: G̃ = s↓·(14·hi + lo), one INT8 operand per product.
            const g = scratch(splitCodeShape(N, C), 'grad_codes');
            const gT = scratch(splitCodeShape(N, C, true), 'grad_codes_t');
            const codesXT = scratch(splitCodeShape(N, D, true), 'codes_x_t');
            backward.push(
              packSplitCodes(k, { label: `${name}.grad_codes`, hi, lo, codes: g, rows: N, cols: C, which: 'combined' }),
              packSplitCodes(k, { label: `${name}.grad_codes_t`, hi, lo, codes: gT, rows: N, cols: C, which: 'combined', transposed: true }),
              packLsqCodes(k, { label: `${name}.codes_x_t`, v: lsq.vX, codes: codesXT, rows: N, cols: D, qn, qp, transposed: true }),
              intMatmul(k, { label: `${name}.grad_w`, a: gT, b: codesXT, stepA: splitState, stepAAt: 2, stepB: lsq.sX.value, c: gradW, M: C, N: D, K: N, format: 'int8' }),
              intMatmul(k, { label: `${name}.grad_x`, a: g, b: codesWT, stepA: splitState, stepAAt: 2, stepB: lsq.sW.value, c: gradX, M: N, N: D, K: C, format: 'int8' }),
            );
          } else {
            // LSS: ∇X as two integer products with per-row weights; ∇W reweights its reduction (the
            // tokens), so it stays an f32 product on the combined gradient.
            loPartX = dxMaskedScratch;
            backward.push(
              ...lssCombine(k, { label: `${name}.sample_w`, hi, lo, packed: true, splitState, probs: probsW, stepState: l.stepState, stream, gradient: 'weight', out: sampledW(), rows: N, cols: C }),
              ...weightGradient(k, { label: `${name}.grad_w`, a: sampledW(), b: xq, c: gradW, M: C, N: D, K: N }),
              intMatmul(k, { label: `${name}.grad_x_hi`, a: hi, b: codesWT, stepA: splitState, stepAAt: 1, stepB: lsq.sW.value, rowScale: weightsHi, c: gradX, M: N, N: D, K: C, format: 'int8' }),
              // The low half into the masked ∇X's buffer (free since the f32 ∇W product read the sampled
              // ∇Y there), summed with the high half by the LSQ backward: an accumulating product would
              // read ∇X back in its epilogue (on the H100 that made it 1.4–1.7× slower than the first).
              intMatmul(k, { label: `${name}.grad_x_lo`, a: lo, b: codesWT, stepA: splitState, stepAAt: 2, stepB: lsq.sW.value, rowScale: weightsLo, c: loPartX ?? gradX, M: N, N: D, K: C, format: 'int8', accumulate: loPartX === null }),
            );
          }
        } else {
          backward.push(
            ...lssCombine(k, { label: `${name}.sample_w`, hi, lo, splitState, probs: probsW, stepState: l.stepState, stream, gradient: 'weight', out: sampledW(), rows: N, cols: C }),
            ...lssCombine(k, { label: `${name}.sample_x`, hi, lo, splitState, probs: probsA, stepState: l.stepState, stream, gradient: 'activation', out: sampledA(), rows: N, cols: C }),
            ...weightGradient(k, { label: `${name}.grad_w`, a: sampledW(), b: xq, c: gradW, M: C, N: D, K: N }),
            matmul(k, { label: `${name}.grad_x`, a: sampledA(), b: wq, c: gradX, M: N, N: D, K: C }),
          );
        }
        observe.gradQuantized = { hi, lo, splitState, ...(packedSplit ? { packedCols: C } : {}) };
        observe.keptW = keptW;
        observe.keptX = keptA;
      } else {
        let g = l.dy;
        if (o.backward === 'minmax' || o.backward === 'luq') {
          g = scratch([N, C], 'grad_y_quantized');
          const quantize = o.backward === 'minmax' ? minmaxQuantize : luqQuantize;
          const stats = t([BASELINE_STATS], 'grad_stats');
          backward.push(...quantize(k, { label: `${name}.${o.backward}_grad`, x: l.dy, out: g, n: N * C, bits: GRADIENT_BITS, stepState: l.stepState, stream: stream + STREAM.gradient, stats, partials: baselineScratch() }));
          observe.gradQuantized = g;
        }
        backward.push(
          ...weightGradient(k, { label: `${name}.grad_w`, a: g, b: xq, c: gradW, M: C, N: D, K: N }),
          matmul(k, { label: `${name}.grad_x`, a: g, b: wq, c: gradX, M: N, N: D, K: C }),
        );
      }

      // --- LSQ masks and step-size gradients (§3.1), then ·Hᵀ (eq. 4)
      if (lsq) {
        const dxMasked = dxMaskedScratch ?? l.dx;
        const dwMasked = transformed ? scratch([C, D], 'wh_or_grad_w_masked') : l.dw;
        backward.push(
          // W's and X's in the same two dispatches.
          ...lsqBackward(k, {
            label: `${name}.lsq`, grad: gradW, v: lsq.vW, step: lsq.sW.value, gradMasked: dwMasked, gradStep: lsq.sW.grad, numel: C * D, partials, qn, qp,
            second: { grad: gradX, v: lsq.vX, step: lsq.sX.value, gradMasked: dxMasked, gradStep: lsq.sX.grad, numel: N * D, addMasked: loPartX !== null },
          }),
        );
        if (transformed) {
          // ∇W and ∇X in one dispatch (the same block).
          backward.push(hadamardTransformPair(k, `${name}.hadamard_grads`, { x: dwMasked, y: l.dw, rows: C }, { x: dxMasked, y: l.dx, rows: N }, D, block));
        }
      }
      // The bias gradient stays exact f32 (not quantized), as in the official code.
      if (l.db) backward.push(...biasBackward(k, `${name}.db`, l.dy, l.db, N, C));
      return { forward, firstForward: firstForward.length ? firstForward : undefined, backward, observe };
    },
  };
}
