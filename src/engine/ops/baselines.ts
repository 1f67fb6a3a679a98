// The baselines' and ablations' quantizers (paper §5, §5.2 Fig. 3; docs/int4-training-paper.md §5) as
// fake quantization on the GPU: each writes the dequantized f32 values of x into out (same length, out of
// place: out may not alias x), from a per-tensor statistic reduced on the GPU in two passes, with draws
// from the counter-based stream (src/shaders/random.wgsl) of (seed, step) in stepState and `stream`.
//
//   minmaxQuantize   per-tensor asymmetric min-max with stochastic rounding (Banner et al.; Fig. 3b
//                    "minimax"): reference minmaxQuantize(x, bits, uniformDraws(seed, stream, step, n)),
//                    element i draws index i.
//   luqQuantize      LUQ (Chmiel et al.; the LSQ+LUQ baseline's gradient quantizer): reference
//                    luqQuantize(x, bits, uniformDraws(seed, stream, step, 2n)), element i draws index 2i
//                    (stochastic underflow) or 2i + 1 (log stochastic rounding), the reference's layout.
//   fakeQuantizeSymmetric   symmetric absmax to b bits (the forward ablations, Fig. 3a / Table 4: PTQ
//                    per-tensor, arbitrary widths), round half away from zero or stochastic ⌊x/s + u⌋
//                    (element i draws index i); at b = 8 it is the INT8 baseline's int8Quantize
//                    (per tensor) / stochasticInt8.
//
// Each returns three dispatches: reduction over x → partials, partials → stats, elementwise → out.
// See src/shaders/baselines.wgsl for the arithmetic (exact u32-key reductions; LUQ in integers).
import { type Dispatch, grid1d, type Kernels } from '../gpu/kernels';
import type { Tensor } from '../tensor';

/** Bit widths the baseline quantizers take (paper Fig. 3 sweeps 2–8 bits). */
export const BASELINE_MIN_BITS = 2;
export const BASELINE_MAX_BITS = 8;

/** At most this many workgroups in the first pass of the reductions (one workgroup then reduces their
 *  results): enough to keep a large GPU's memory system busy (256 left an H200 at ~600 GB/s). */
export const BASELINE_REDUCTION_GROUPS = 1024;

/** First-pass workgroups for n elements: at least 2048 elements each, at most BASELINE_REDUCTION_GROUPS. */
export function baselineReductionGroups(n: number): number {
  return Math.max(1, Math.min(BASELINE_REDUCTION_GROUPS, Math.ceil(n / 2048)));
}

/** Values of `partials` scratch the quantizers need for n elements: two u32 keys per first-pass workgroup. */
export function baselinePartials(n: number): number {
  return 2 * baselineReductionGroups(n);
}

/** A `partials` size that fits any n. */
export const BASELINE_PARTIALS = 2 * BASELINE_REDUCTION_GROUPS;

/** Length of the `stats` tensor each quantizer writes. */
export const BASELINE_STATS = 4;

/** Throws unless bits is an integer in [2, 8]. */
export function checkBaselineBits(label: string, bits: number): void {
  if (!Number.isInteger(bits) || bits < BASELINE_MIN_BITS || bits > BASELINE_MAX_BITS) {
    throw new RangeError(`${label}: bits must be an integer from ${BASELINE_MIN_BITS} to ${BASELINE_MAX_BITS}, got ${bits}`);
  }
}

function need(label: string, t: Tensor, n: number, what: string): void {
  if (t.size < n) throw new RangeError(`${label}: ${what} has ${t.size} values, needs ${n}`);
}

function positiveInteger(label: string, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: ${what} must be a positive integer, got ${n}`);
}

function u32Stream(label: string, stream: number): void {
  if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff) throw new RangeError(`${label}: stream must be a u32, got ${stream}`);
}

function sameBuffer(a: Tensor, b: Tensor): boolean {
  return a.buffer === b.buffer && a.offsetBytes < b.offsetBytes + b.byteLength && b.offsetBytes < a.offsetBytes + a.byteLength;
}

interface BaseSpec {
  label: string;
  /** [n] f32 in. */
  x: Tensor;
  /** [n] f32 out: the dequantized values. Must not overlap x. */
  out: Tensor;
  n: number;
  /** Integer, 2 … 8. */
  bits: number;
  /** [4] f32 out: the per-tensor statistics (layout per quantizer below). */
  stats: Tensor;
  /** Scratch: at least baselinePartials(n) values (BASELINE_PARTIALS fits any n); holds u32 keys. */
  partials: Tensor;
}

export interface MinmaxQuantizeSpec extends BaseSpec {
  /** u32 [seed, step], rewritten by the trainer every step. */
  stepState: Tensor;
  /** Random stream; element i draws uniform_draw(seed, stream, step, i). */
  stream: number;
}

export type LuqQuantizeSpec = MinmaxQuantizeSpec;

export interface FakeQuantizeSymmetricSpec extends BaseSpec {
  /** Stochastic rounding ⌊x/s + u_i⌋ with u_i = uniform_draw(seed, stream, step, i); omitted: round half
   *  away from zero (deterministic). */
  stochastic?: { stepState: Tensor; stream: number } | null;
}

type Kind = 'minmax' | 'luq' | 'symmetric';

function build(k: Kernels, kind: Kind, s: BaseSpec, random: { stepState: Tensor; stream: number } | null, stochastic: boolean): Dispatch[] {
  positiveInteger(s.label, s.n, 'n');
  checkBaselineBits(s.label, s.bits);
  // LUQ's draw indices 2i + 1 must fit a u32.
  if (kind === 'luq' && 2 * s.n > 0x100000000) throw new RangeError(`${s.label}: n = ${s.n} is too large for the draw indices 2i, 2i + 1`);
  const partials = baselineReductionGroups(s.n);
  need(s.label, s.x, s.n, 'x');
  need(s.label, s.out, s.n, 'out');
  need(s.label, s.stats, BASELINE_STATS, 'stats');
  need(s.label, s.partials, 2 * partials, 'partials');
  if (sameBuffer(s.x, s.out)) throw new RangeError(`${s.label}: out must not overlap x (the quantizers are out of place)`);
  if (random) {
    u32Stream(s.label, random.stream);
    need(s.label, random.stepState, 2, 'stepState');
  }
  const uniforms = [s.n, random?.stream ?? 0, partials, s.bits, stochastic ? 1 : 0];
  const stepState = random?.stepState ?? k.placeholder;
  return [
    k.dispatch({
      shader: 'baselines',
      entry: kind === 'minmax' ? 'range_partial' : 'absmax_partial',
      label: `${s.label}.partial`,
      uniforms,
      bindings: [s.x, s.partials],
      workgroups: [partials, 1, 1],
    }),
    k.dispatch({ shader: 'baselines', entry: `${kind}_final`, label: `${s.label}.stats`, uniforms, bindings: [s.partials, s.stats], workgroups: [1, 1, 1] }),
    k.dispatch({
      shader: 'baselines',
      entry: `${kind}_quantize`,
      label: `${s.label}.quantize`,
      uniforms,
      bindings: [s.x, s.stats, stepState, s.out],
      workgroups: grid1d(s.n),
    }),
  ];
}

/**
 * Per-tensor asymmetric min-max quantization with stochastic rounding (Banner et al.; the "minimax"
 * gradient quantizer of paper Fig. 3b; reference minmaxQuantize): Δ = (max − min)/(2^b − 1),
 * out = min + Δ·clamp(⌊(x − min)/Δ + u_i⌋, 0, 2^b − 1), u_i = uniform_draw(seed, stream, step, i); the top
 * code is written as max itself, code 0 as min. ⌊y + u⌋ is decided exactly for the f32 y = (x − min)·(1/Δ),
 * so codes equal the reference's except where y + u is within ~1e-5 of an integer (f32 vs float64 y).
 * A constant tensor (max = min, also n = 1) is copied unchanged. stats = [min, max, Δ, 1/Δ] (Δ = 1/Δ = 0
 * for a constant tensor). A NaN or ±∞ in x makes every output NaN.
 */
export function minmaxQuantize(k: Kernels, s: MinmaxQuantizeSpec): Dispatch[] {
  return build(k, 'minmax', s, { stepState: s.stepState, stream: s.stream }, true);
}

/**
 * LUQ, logarithmic unbiased quantization (Chmiel et al.; reference luqQuantize): α = max|x|/2^T,
 * T = 2^(b−1); |x| < α becomes sign·α with probability |x|/α (draw 2i), else 0; α·2^n ≤ |x| < α·2^(n+1)
 * rounds to α·2^(n+1) with probability (|x| − α·2^n)/(α·2^n) (draw 2i + 1), else α·2^n. Outputs are 0 or
 * ±α·2^k, k ∈ [0, T], computed exactly: the reference's float64 output rounded to f32, bit for bit
 * (α·2^k below 2^−126 is rounded to a subnormal the way Math.fround rounds it). All-zero x gives zeros.
 * stats = [max|x|, α (rounded to f32), T, 0]. A NaN or ±∞ in x makes every output NaN.
 */
export function luqQuantize(k: Kernels, s: LuqQuantizeSpec): Dispatch[] {
  return build(k, 'luq', s, { stepState: s.stepState, stream: s.stream }, true);
}

/**
 * Symmetric per-tensor absmax fake quantization to b bits (the forward ablations' PTQ-style per-tensor
 * quantizer at any width; at b = 8 the INT8 baseline): Qp = 2^(b−1) − 1, s = max|x|/Qp, codes in
 * [−Qp, Qp]: clamp(round(x/s), −Qp, Qp) with ties away from zero, or with `stochastic` clamp(⌊x/s + u_i⌋,
 * −Qp, Qp), u_i = uniform_draw(seed, stream, step, i); out = s·code. All-zero x gives zeros.
 * stats = [max|x|, s, 1/s, Qp] (s = 1/s = 0 for all-zero x). A NaN or ±∞ in x makes every output NaN.
 */
export function fakeQuantizeSymmetric(k: Kernels, s: FakeQuantizeSymmetricSpec): Dispatch[] {
  return build(k, 'symmetric', s, s.stochastic ?? null, !!s.stochastic);
}
