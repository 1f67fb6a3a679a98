// The INT4 backward of "Training Transformers with 4-bit Integers" (LSS-MM, paper §4, A.2, A.6; spec §3)
// as dispatches: bit splitting of ∇Y (src/shaders/bitsplit.wgsl), leverage-score sampling
// (src/shaders/lss.wgsl) and the LSQ backward (src/shaders/lsq.wgsl). For one linear layer
// Y = X̂·Ŵᵀ (X̂ [N, D] = s_X·int(XH), Ŵ [C, D] = s_W·int(WH)) and its output gradient ∇Y [N, C]:
//
//   bitSplit(∇Y → hi, lo, splitState)                ∇Y ≈ s↑·hi + s↓·lo            (stream + 0)
//   splitRowNorms(→ gradScores [2N])                  ‖∇↕Y_i‖ of the stacked rows
//   codeRowNorms(v_X, s_X → inputNorms [N])           ‖X̂_n‖
//   lssProbabilities(gradScores · inputNorms[i mod N] → probsW)   LSSWeight scores c_i = ‖∇↕Y_i‖·‖X̂_i‖
//   lssProbabilities(gradScores → probsA)                          LSSAct scores c_i = ‖∇↕Y_i‖
//   lssCombine(probsW, 'weight' → G̃_W [N, C])        the kept rows, weighted m_i/p_i (stream + 1)
//   lssCombine(probsA, 'activation' → G̃_A [N, C])                                    (stream + 2)
//   lsqDequantize(v_X → X̂), lsqDequantize(v_W → Ŵ)
//   matmul: ∇X̂ = G̃_A·Ŵ [N, D], ∇Ŵ = G̃_Wᵀ·X̂ [C, D]   (plain f32 products, ops/matmul.ts)
//   lsqBackward(∇X̂, v_X → ∇(XH), ∇s_X), lsqBackward(∇Ŵ, v_W → ∇(WH), ∇s_W), then ·Hᵀ (paper eq. 4).
//
// With the 'bitsplit' variant (what the released CUDA kernels run) every nonzero row is kept with
// p = 1, so G̃ is the bit-split gradient itself and the draws of streams + 1 and + 2 are not used.
import { type Dispatch, f32, grid1d, gridRows, type Kernels } from '../gpu/kernels';
import { Q_N, Q_P } from '../reference/quant/constants';
import type { LssVariant } from '../reference/quant/lss';
import type { Tensor } from '../tensor';

export type { LssVariant };

/** Offsets from a layer's base stream: the bit split's stochastic rounding, the LSSWeight masks and the
 *  LSSAct masks draw independently. */
export const LSS_STREAM_OFFSET = { bitSplit: 0, weight: 1, activation: 2 } as const;

/** Which of the two sampled products a G̃ feeds. */
export type LssGradient = 'weight' | 'activation';

/** At most this many workgroups in the first pass of a two-stage reduction (one final workgroup). */
export const REDUCTION_PARTIALS = 256;

/** The number of partial results the first pass of a two-stage reduction over n values writes: size
 *  the `partials` tensor with at least this (or REDUCTION_PARTIALS, which fits any n). */
export function reductionPartials(n: number): number {
  return Math.max(1, Math.min(REDUCTION_PARTIALS, Math.ceil(n / 256)));
}

/** A streaming pass's entry over 16-byte vectors (`<entry>_vec4`) where every tensor it reads has a
 *  multiple of 4 values, else the scalar one: the same results (sums in another order). */
export function vectorEntry(entry: string, ...numels: number[]): string {
  return numels.every((n) => n % 4 === 0) ? `${entry}_vec4` : entry;
}

/** The first pass of a per-tensor max|x| over n values (shaders/absmax.wgsl): reductionPartials(n) partial
 *  maxima into `partials`, which the second pass (or a pass that folds it in) reduces. */
export function maxAbsPartials(k: Kernels, label: string, x: Tensor, n: number, partials: Tensor): Dispatch {
  const count = reductionPartials(n);
  need(label, x, n, 'x');
  need(label, partials, count, 'partials');
  return k.dispatch({ shader: 'absmax', entry: vectorEntry('max_abs_partial', n), label, uniforms: [n], bindings: [x, partials], workgroups: [count, 1, 1] });
}

function need(label: string, t: Tensor, n: number, what: string): void {
  if (t.size < n) throw new RangeError(`${label}: ${what} has ${t.size} values, needs ${n}`);
}

function positiveInteger(label: string, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: ${what} must be a positive integer, got ${n}`);
}

function baseStream(label: string, stream: number): void {
  if (!Number.isInteger(stream) || stream < 0 || stream + 2 > 0xffffffff) {
    throw new RangeError(`${label}: the base stream must be an integer in [0, 2^32 − 3], got ${stream}`);
  }
}

function codeRange(label: string, qn: number, qp: number): void {
  if (!(qn >= 0) || !(qp > 0) || !Number.isFinite(qn) || !Number.isFinite(qp)) {
    throw new RangeError(`${label}: the code range [−${qn}, ${qp}] must have qn ≥ 0 and qp > 0`);
  }
}

export interface BitSplitSpec {
  label: string;
  /** [rows, cols] f32: ∇Y. */
  dy: Tensor;
  /** [rows, cols] f32 out: ∇↑Y codes in [−6, 6], exact integers (unless `packed`). */
  hi?: Tensor;
  /** [rows, cols] f32 out: ∇↓Y codes in [−6, 6] (unless `packed`). */
  lo?: Tensor;
  /** Instead of hi and lo in f32: the same codes packed as INT8 operands, u32 splitCodeShape(rows, cols)
   *  each (needs `scores`). For layers whose backward reads only codes. */
  packed?: { hiCodes: Tensor; loCodes: Tensor } | null;
  /** [4] f32 out: [max|∇Y|, s↑ = 14/scale1, s↓ = 1/scale1, 0]; all zero when ∇Y is. */
  splitState: Tensor;
  /** u32 [seed, step], rewritten by the trainer every step. */
  stepState: Tensor;
  /** The layer's base stream; the stochastic rounding draws from stream + 0. */
  stream: number;
  /** f32 scratch for the max reduction: at least reductionPartials(rows·cols) values. */
  partials: Tensor;
  /** [2·rows] f32 out, optional: the norms of the stacked rows as splitRowNorms writes them, computed in
   *  the same pass as the codes (one workgroup per row instead of one thread per element). */
  scores?: Tensor;
  rows: number;
  cols: number;
}

/**
 * Bit splitting of ∇Y (paper §4, spec §3.2; the official `GW` quantize_cuda_kernel): max|∇Y| by a
 * two-stage reduction, scale1 = 98/max, t = ∇Y·scale1,
 * hi = clamp(round(t/14), −6, 6), lo = clamp(round(t − 14·hi + u − 0.5), −6, 6), u = uniform_draw(seed,
 * stream, step, i) for element i (round: ties away from zero). Equal to reference `bitSplit(g, u)`.
 */
export function bitSplit(k: Kernels, s: BitSplitSpec): Dispatch[] {
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  baseStream(s.label, s.stream);
  const n = s.rows * s.cols;
  const partials = reductionPartials(n);
  need(s.label, s.dy, n, 'dy');
  need(s.label, s.splitState, 4, 'splitState');
  need(s.label, s.stepState, 2, 'stepState');
  need(s.label, s.partials, partials, 'partials');
  const uniforms = [n, s.stream + LSS_STREAM_OFFSET.bitSplit, partials, s.rows, s.cols];
  if (s.scores) need(s.label, s.scores, 2 * s.rows, 'scores');
  const maxPartial = maxAbsPartials(k, `${s.label}.max_partial`, s.dy, n, s.partials);
  if (s.packed) {
    if (!s.scores) throw new RangeError(`${s.label}: the packed bit split writes the row norms too: give scores`);
    const words = s.rows * Math.ceil(s.cols / 4);
    need(s.label, s.packed.hiCodes, words, 'hiCodes');
    need(s.label, s.packed.loCodes, words, 'loCodes');
    return [
      maxPartial,
      k.dispatch({
        shader: 'bitsplit',
        entry: 'split_codes_norms_packed',
        label: `${s.label}.codes_norms`,
        uniforms,
        bindings: [s.dy, s.partials, s.stepState, s.packed.hiCodes, s.packed.loCodes, s.scores, s.splitState],
        workgroups: gridRows(s.rows),
      }),
    ];
  }
  if (!s.hi || !s.lo) throw new RangeError(`${s.label}: give hi and lo (f32) or packed codes`);
  need(s.label, s.hi, n, 'hi');
  need(s.label, s.lo, n, 'lo');
  const [hi, lo] = [s.hi, s.lo];
  if (s.scores) {
    // The codes, the norms and the max's final step in one pass (bitsplit.wgsl split_codes_norms).
    return [
      maxPartial,
      k.dispatch({
        shader: 'bitsplit',
        entry: 'split_codes_norms',
        label: `${s.label}.codes_norms`,
        uniforms,
        bindings: [s.dy, s.partials, s.stepState, hi, lo, s.scores, s.splitState],
        workgroups: gridRows(s.rows),
      }),
    ];
  }
  return [
    maxPartial,
    k.dispatch({ shader: 'bitsplit', entry: 'max_abs_final', label: `${s.label}.max`, uniforms, bindings: [s.partials, s.splitState], workgroups: [1, 1, 1] }),
    k.dispatch({
      shader: 'bitsplit',
      entry: 'split_codes',
      label: `${s.label}.codes`,
      uniforms,
      bindings: [s.dy, s.splitState, s.stepState, hi, lo],
      workgroups: grid1d(n),
    }),
  ];
}

export interface SplitRowNormsSpec {
  label: string;
  hi: Tensor;
  lo: Tensor;
  splitState: Tensor;
  /** [2·rows] f32 out: [‖hi_n‖·s↑ ; ‖lo_n‖·s↓], the norms of the stacked rows ∇↕Y. */
  scores: Tensor;
  rows: number;
  cols: number;
}

/** Norms of the 2N stacked bit-split rows ∇↕Y = [s↑·hi ; s↓·lo] (the code's x1_len / x2_len; reference
 *  rowNorms(stackedSplitRows(split))): LSSAct's leverage scores, and LSSWeight's gradient factor. */
export function splitRowNorms(k: Kernels, s: SplitRowNormsSpec): Dispatch {
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  need(s.label, s.hi, s.rows * s.cols, 'hi');
  need(s.label, s.lo, s.rows * s.cols, 'lo');
  need(s.label, s.splitState, 4, 'splitState');
  need(s.label, s.scores, 2 * s.rows, 'scores');
  return k.dispatch({
    shader: 'bitsplit',
    entry: 'split_row_norms',
    label: s.label,
    uniforms: [s.rows * s.cols, 0, 0, s.rows, s.cols],
    bindings: [s.hi, s.lo, s.splitState, s.scores],
    workgroups: gridRows(2 * s.rows),
  });
}

export interface CodeRowNormsSpec {
  label: string;
  /** [rows, cols] f32: the LSQ value v = XH/|s| the forward kept. */
  v: Tensor;
  /** [1]: the step s (|s| is used). */
  step: Tensor;
  /** [rows] f32 out: ‖X̂_r‖ = |s|·‖clamp(round(v_r), −qn, qp)‖. */
  norms: Tensor;
  rows: number;
  cols: number;
  qn?: number;
  qp?: number;
}

/** Norms of the dequantized rows X̂ = |s|·int(XH) (the code's y_len), LSSWeight's input factor. */
export function codeRowNorms(k: Kernels, s: CodeRowNormsSpec): Dispatch {
  const qn = s.qn ?? Q_N;
  const qp = s.qp ?? Q_P;
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  codeRange(s.label, qn, qp);
  need(s.label, s.v, s.rows * s.cols, 'v');
  need(s.label, s.step, 1, 'step');
  need(s.label, s.norms, s.rows, 'norms');
  return k.dispatch({
    shader: 'lsq',
    entry: 'code_row_norms',
    label: s.label,
    uniforms: [s.rows, s.cols, f32(qn), f32(qp), f32(0), 0, 0, f32(0), 0],
    bindings: [s.v, s.step, s.norms],
    workgroups: gridRows(s.rows),
  });
}

export interface LssProbabilitiesSpec {
  label: string;
  /** [2·rows] f32: nonnegative scores of the stacked rows. */
  scores: Tensor;
  /** [rows] f32, optional: score_i = scores[i]·factor[i mod rows] (LSSWeight: the input row norms). */
  factor?: Tensor | null;
  /** [2·rows] f32 out: the inclusion probabilities p_i. */
  probs: Tensor;
  /** N: tokens; there are 2N stacked rows. */
  rows: number;
  /** Σp (default rows, the paper's N). */
  budget?: number;
  variant: LssVariant;
  /** In the same dispatch (a second workgroup): the probabilities of the same scores without the factor
   *  (∇X's, where `probs` are ∇W's) and ∇X's per-row weights m/p (the draws lssCombine 'activation' makes). */
  activation?: LssActivationSampling | null;
}

/** ∇X's half of a paired lssProbabilities: its probabilities and the row weights m/p drawn from them. */
export interface LssActivationSampling {
  /** [2·rows] f32 out. */
  probs: Tensor;
  /** u32 [seed, step]. */
  stepState: Tensor;
  /** The layer's base stream (the row weights draw from stream + 2, as lssCombine 'activation'). */
  stream: number;
  /** [rows] f32 out each: w_n = m_n/p_n of the hi rows and of the lo rows. */
  weightsHi: Tensor;
  weightsLo: Tensor;
}

/**
 * Sampling probabilities (paper A.2): 'lss' water-fills p_i ∝ score_i to Σp = budget with p ≤ 1
 * (reference lssProbabilities); 'bitsplit' keeps every nonzero row, p = 1 where score > 0 else 0 (the
 * released kernels, `GW` line 445). Zero scores get 0 either way. One workgroup, or two with
 * `activation`: a layer's ∇W and ∇X probabilities side by side in one dispatch.
 */
export function lssProbabilities(k: Kernels, s: LssProbabilitiesSpec): Dispatch {
  positiveInteger(s.label, s.rows, 'rows');
  const budget = s.budget ?? s.rows;
  if (!(budget >= 0) || !Number.isFinite(budget)) throw new RangeError(`${s.label}: budget must be finite and ≥ 0, got ${budget}`);
  need(s.label, s.scores, 2 * s.rows, 'scores');
  need(s.label, s.probs, 2 * s.rows, 'probs');
  if (s.factor) need(s.label, s.factor, s.rows, 'factor');
  const a = s.activation;
  if (a) {
    baseStream(s.label, a.stream);
    need(s.label, a.probs, 2 * s.rows, 'activation probs');
    need(s.label, a.stepState, 2, 'stepState');
    need(s.label, a.weightsHi, s.rows, 'weightsHi');
    need(s.label, a.weightsLo, s.rows, 'weightsLo');
  }
  // The single-gradient form never touches bindings 4–7; the writable ones still need buffers of their own
  // (writable bindings of one dispatch may not alias).
  const unused = (what: string) => k.memory.tensor([1], `${s.label}.unused_${what}`);
  return k.dispatch({
    shader: 'lss',
    entry: 'probabilities',
    label: s.label,
    uniforms: [2 * s.rows, s.rows, 0, a ? a.stream + LSS_STREAM_OFFSET.activation : 0, f32(budget), s.variant === 'bitsplit' ? 1 : 0, s.factor ? 1 : 0],
    bindings: a
      ? [s.scores, s.factor ?? k.placeholder, s.probs, a.probs, a.stepState, a.weightsHi, a.weightsLo]
      : [s.scores, s.factor ?? k.placeholder, s.probs, unused('probs_x'), k.placeholder, unused('weights_hi'), unused('weights_lo')],
    workgroups: [a ? 2 : 1, 1, 1],
  });
}

export interface LssCombineSpec {
  label: string;
  /** The split's codes: f32 [rows, cols] each, or (`packed`) INT8 codes as bitSplit `packed` writes them. */
  hi: Tensor;
  lo: Tensor;
  packed?: boolean;
  splitState: Tensor;
  /** [2·rows]: the probabilities from lssProbabilities. */
  probs: Tensor;
  /** u32 [seed, step]. */
  stepState: Tensor;
  /** The layer's base stream (the same one bitSplit got). */
  stream: number;
  /** 'weight' draws the masks from stream + 1, 'activation' from stream + 2. */
  gradient: LssGradient;
  /** [rows, cols] f32 out: G̃[n, :] = w_n·s↑·hi[n, :] + w_{N+n}·s↓·lo[n, :], w_i = m_i/p_i. */
  out: Tensor;
  /** [1] f32 out, optional: how many of the 2N stacked rows were kept. */
  keptCount?: Tensor | null;
  rows: number;
  cols: number;
}

/**
 * The sampled, reweighted bit-split gradient G̃ (paper §4: M̃ = diag(m_i/p_i)), with row i of the stack
 * kept when p_i ≥ 1 or u_i < p_i, u_i = uniform_draw(seed, stream + 1|2, step, i). Rows i and N + i
 * pair with the same X̂ row, so ∇W_raw = G̃ᵀ·X̂ and ∇X_raw = G̃·Ŵ are the reference lssWeightGrad /
 * lssActGrad with the same draws; the caller runs those products.
 */
export function lssCombine(k: Kernels, s: LssCombineSpec): Dispatch[] {
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  baseStream(s.label, s.stream);
  const n = s.rows * s.cols;
  const codes = s.packed ? s.rows * Math.ceil(s.cols / 4) : n;
  need(s.label, s.hi, codes, 'hi');
  need(s.label, s.lo, codes, 'lo');
  need(s.label, s.splitState, 4, 'splitState');
  need(s.label, s.probs, 2 * s.rows, 'probs');
  need(s.label, s.stepState, 2, 'stepState');
  need(s.label, s.out, n, 'out');
  if (s.keptCount) need(s.label, s.keptCount, 1, 'keptCount');
  const stream = s.stream + LSS_STREAM_OFFSET[s.gradient];
  const uniforms = [2 * s.rows, s.rows, s.cols, stream, f32(0), 0, 0];
  const dispatches = [
    k.dispatch({
      shader: 'lss',
      entry: s.packed ? 'combine_codes' : 'combine',
      label: `${s.label}.combine`,
      uniforms,
      bindings: [s.hi, s.lo, s.splitState, s.probs, s.stepState, s.out],
      workgroups: gridRows(s.rows),
    }),
  ];
  if (s.keptCount) dispatches.push(lssKeptCount(k, `${s.label}.kept`, s.probs, s.stepState, s.stream, s.gradient, s.keptCount, s.rows));
  return dispatches;
}

/** How many of the 2N stacked rows lssCombine keeps (same draws), into keptCount[0], without combining. */
export function lssKeptCount(k: Kernels, label: string, probs: Tensor, stepState: Tensor, stream: number, gradient: LssGradient, keptCount: Tensor, rows: number): Dispatch {
  positiveInteger(label, rows, 'rows');
  baseStream(label, stream);
  need(label, probs, 2 * rows, 'probs');
  need(label, keptCount, 1, 'keptCount');
  const uniforms = [2 * rows, rows, 0, stream + LSS_STREAM_OFFSET[gradient], f32(0), 0, 0];
  return k.dispatch({ shader: 'lss', entry: 'kept_count', label, uniforms, bindings: [probs, stepState, keptCount], workgroups: [1, 1, 1] });
}

/** The draws u_i = uniform_draw(seed, stream, step, i), i < count, into out (tests; inspecting a step). */
export function randomDraws(k: Kernels, label: string, stepState: Tensor, stream: number, out: Tensor, count: number): Dispatch {
  positiveInteger(label, count, 'count');
  if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff) throw new RangeError(`${label}: stream must be a u32, got ${stream}`);
  need(label, stepState, 2, 'stepState');
  need(label, out, count, 'out');
  return k.dispatch({
    shader: 'lss',
    entry: 'draws',
    label,
    uniforms: [count, 0, 0, stream, f32(0), 0, 0],
    bindings: [stepState, out],
    workgroups: grid1d(count),
  });
}

export interface LsqDequantizeSpec {
  label: string;
  /** [numel] f32: v = x/|s| as the forward kept it. */
  v: Tensor;
  step: Tensor;
  /** [numel] f32 out: |s|·clamp(round(v), −qn, qp). */
  out: Tensor;
  numel: number;
  qn?: number;
  qp?: number;
}

/** X̂ = |s|·clamp(round(v), −qn, qp) as f32 (round half away from zero, the forward's codes): the
 *  operand of the backward's float products. */
export function lsqDequantize(k: Kernels, s: LsqDequantizeSpec): Dispatch {
  const qn = s.qn ?? Q_N;
  const qp = s.qp ?? Q_P;
  positiveInteger(s.label, s.numel, 'numel');
  codeRange(s.label, qn, qp);
  need(s.label, s.v, s.numel, 'v');
  need(s.label, s.step, 1, 'step');
  need(s.label, s.out, s.numel, 'out');
  return k.dispatch({
    shader: 'lsq',
    entry: 'dequantize',
    label: s.label,
    uniforms: [s.numel, 0, f32(qn), f32(qp), f32(0), 0, 0, f32(0), 0],
    bindings: [s.v, s.step, s.out],
    workgroups: grid1d(s.numel),
  });
}

/** One tensor of an LSQ backward. */
export interface LsqBackwardOperand {
  /** [numel] f32: ∇ wrt the dequantized tensor. */
  grad: Tensor;
  /** [numel] f32: v = x/|s|. */
  v: Tensor;
  /** [1]: the stored step s (only its sign is read). */
  step: Tensor;
  /** [numel] f32 out: 1[−qn ≤ v ≤ qp]·grad (may not alias grad). */
  gradMasked: Tensor;
  /** [1] f32 out: ∇s, written (not accumulated), e.g. the step's slot of the flat gradient buffer. */
  gradStep: Tensor;
  /** Elements of the tensor; also the numel of g = 1/√(qp·numel). */
  numel: number;
}

export interface LsqBackwardSecond extends LsqBackwardOperand {
  /** The gradient is grad + what gradMasked holds on entry (LSS's ∇X: its low half's product writes into
   *  gradMasked, so the two halves are summed here rather than by a second product accumulating into the
   *  first's output, whose epilogue would read it back). */
  addMasked?: boolean;
}

export interface LsqBackwardSpec extends LsqBackwardOperand {
  label: string;
  /** f32 scratch: at least reductionPartials(numel) values (plus the second tensor's, with `second`). */
  partials: Tensor;
  qn?: number;
  qp?: number;
  /** A second tensor with the same code range, in the same two dispatches (a layer's W and X). */
  second?: LsqBackwardSecond;
}

function lsqOperand(label: string, o: LsqBackwardOperand): number {
  positiveInteger(label, o.numel, 'numel');
  need(label, o.grad, o.numel, 'grad');
  need(label, o.v, o.numel, 'v');
  need(label, o.step, 1, 'step');
  need(label, o.gradMasked, o.numel, 'gradMasked');
  need(label, o.gradStep, 1, 'gradStep');
  return reductionPartials(o.numel);
}

/**
 * LSQ backward (paper §3.1, A.3; `GW`/`GI` LSQ_cuda_kernel; reference lsqBackward):
 * gradMasked = 1[−qn ≤ v ≤ qp]·grad (STE), gradStep = sign(s)·Σ δ·grad / √(qp·numel) with δ = round(v) − v
 * inside, −qn below, qp above. sign(s) = 1 for the s > 0 the official code keeps; for a stored s < 0 it
 * makes ∇s the gradient wrt the stored value, since the forward uses |s|. Two-stage reduction; with
 * `second`, both tensors share the two dispatches (the same values as two separate calls).
 */
export function lsqBackward(k: Kernels, s: LsqBackwardSpec): Dispatch[] {
  const qn = s.qn ?? Q_N;
  const qp = s.qp ?? Q_P;
  codeRange(s.label, qn, qp);
  const partials = lsqOperand(s.label, s);
  const b = s.second;
  const partials2 = b ? lsqOperand(`${s.label} (second)`, b) : 0;
  need(s.label, s.partials, partials + partials2, 'partials');
  const gradScale = (numel: number) => f32(1 / Math.sqrt(qp * numel));
  const uniforms = [s.numel, 0, f32(qn), f32(qp), gradScale(s.numel), partials, b?.numel ?? 0, b ? gradScale(b.numel) : f32(0), partials2, b?.addMasked ? 1 : 0];
  if (b) {
    return [
      k.dispatch({
        shader: 'lsq',
        entry: vectorEntry('backward_partial_pair', s.numel, b.numel),
        label: `${s.label}.partial`,
        uniforms,
        bindings: [s.grad, s.v, s.gradMasked, s.partials, b.grad, b.v, b.gradMasked],
        workgroups: [partials + partials2, 1, 1],
      }),
      k.dispatch({ shader: 'lsq', entry: 'backward_final_pair', label: `${s.label}.step`, uniforms, bindings: [s.partials, s.step, s.gradStep, b.step, b.gradStep], workgroups: [2, 1, 1] }),
    ];
  }
  return [
    k.dispatch({
      shader: 'lsq',
      entry: vectorEntry('backward_partial', s.numel),
      label: `${s.label}.partial`,
      uniforms,
      bindings: [s.grad, s.v, s.gradMasked, s.partials],
      workgroups: [partials, 1, 1],
    }),
    k.dispatch({ shader: 'lsq', entry: 'backward_final', label: `${s.label}.step`, uniforms, bindings: [s.partials, s.step, s.gradStep], workgroups: [1, 1, 1] }),
  ];
}
