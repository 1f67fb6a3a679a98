// Measurements of "Training Transformers with 4-bit Integers" as dispatches (src/shaders/stats.wgsl;
// float64 definitions in reference/stats.ts). Every builder writes its result into a caller-given slot
// of an output tensor, `out[outOffset …]` (outOffset in elements, default 0, any value: it is a uniform,
// not a binding offset), so the statistics of all layers can live in ONE metrics buffer that is copied
// out once and mapped asynchronously. Nothing here reads back. Deterministic: fixed-order sums, integer
// atomics only.
//
//   rowNormHistogram   ∇Y [N, C] → [bins counts, zero rows, top-1% share, top-10% share, Σ mass]   (Fig. 2)
//   columnAbsMax       X [N, D]  → [D] max|X[:, d]|                                                 (Fig. 1)
//   outlierSummary     [D]       → [max, median, max/median]                                        (Fig. 1)
//   relativeError      a, b [n]  → [‖a − b‖/‖a‖]; b a tensor or the bit split s↑·hi + s↓·lo      (quant. error)
//   copyScaled         [count]   → [count] values·scale (step sizes; LSS kept counts → fractions)
//
// Inputs must live in other buffers than `out` (a read-only and a writable binding of one buffer in one
// dispatch are a WebGPU usage conflict), except outlierSummary's values, which may sit in the same
// metrics buffer as its output (columnAbsMax's result): it then reads them through the output binding.
import { type Dispatch, f32, grid1d, gridRows, type Kernels, type UniformValue } from '../gpu/kernels';
import {
  MAX_HISTOGRAM_BINS,
  type RowMass,
  STATS_UNBOUNDED,
  TOP_ROW_PERCENTS,
  rowNormHistogramLength,
  topRowCount,
} from '../reference/stats';
import type { Tensor } from '../tensor';
import { reductionPartials } from './lss';

export { MAX_HISTOGRAM_BINS, STATS_UNBOUNDED, TOP_ROW_PERCENTS, rowNormHistogramLength, topRowCount };
export type { RowMass };

/** Values outlierSummary writes: [max, median, max/median]. */
export const OUTLIER_SUMMARY_LENGTH = 3;

/** f32 scratch relativeError needs for n elements: two partial sums per first-pass workgroup (at most
 *  512, which fits any n). */
export function relativeErrorPartials(n: number): number {
  return 2 * reductionPartials(n);
}

/** Rows per workgroup chunk of columnAbsMax (the shader's COL_CHUNK) and columns per workgroup. */
const COL_CHUNK = 64;
const COL_TILE = 64;

interface StatsUniforms {
  n: number;
  cols?: number;
  outOffset: number;
  inOffset?: number;
  bins?: number;
  k1?: number;
  k2?: number;
  squared?: boolean;
  logMin?: number;
  binScale?: number;
  partials?: number;
  scale?: number;
}

/** The shader's Params, in order. */
function uniforms(u: StatsUniforms): UniformValue[] {
  return [
    u.n, u.cols ?? 0, u.outOffset, u.inOffset ?? 0, u.bins ?? 0, u.k1 ?? 0, u.k2 ?? 0, u.squared ? 1 : 0,
    f32(u.logMin ?? 0), f32(u.binScale ?? 0), u.partials ?? 0, f32(u.scale ?? 1),
  ];
}

function positiveInteger(label: string, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: ${what} must be a positive integer, got ${n}`);
}

function offsetOf(label: string, offset: number | undefined, what: string): number {
  const o = offset ?? 0;
  if (!Number.isInteger(o) || o < 0) throw new RangeError(`${label}: ${what} must be a non-negative integer, got ${o}`);
  return o;
}

function need(label: string, t: Tensor, n: number, what: string): void {
  if (t.size < n) throw new RangeError(`${label}: ${what} has ${t.size} values, needs ${n}`);
}

function separate(label: string, input: Tensor, out: Tensor, what: string): void {
  if (input.buffer === out.buffer) {
    throw new RangeError(`${label}: ${what} shares a buffer with out; a kernel cannot bind one buffer both read-only and writable`);
  }
}

export interface RowNormHistogramSpec {
  label: string;
  /** [rows, cols] f32: ∇Y of a linear layer. */
  dy: Tensor;
  rows: number;
  cols: number;
  /** Number of log-spaced bins, 1…256 (e.g. 24). */
  bins: number;
  /** log10 of the lower edge of bin 0 and of the upper edge of the last bin (e.g. −8 and 0). */
  logMin: number;
  logMax: number;
  /** What the top-k shares and the total measure: ‖row‖² (default; Σ = ‖∇Y‖_F²) or ‖row‖ (the
   *  paper's Fig. 2b, "sum of the top-X token norms"). The ranking is the same either way. */
  mass?: RowMass;
  /** f32 scratch, at least `rows` values: the per-row norms (left there, e.g. for a full plot). */
  norms: Tensor;
  /** [1] f32: a factor ∇Y carries and the norms are divided by (the loss scale of dynamic loss
   *  scaling), so histograms of every precision share one axis. */
  unscale?: Tensor;
  /** f32 out: rowNormHistogramLength(bins) = bins + 4 values from outOffset. */
  out: Tensor;
  outOffset?: number;
}

/**
 * Fig. 2 of one layer. Writes out[o … o + bins + 4):
 *   [o + b]        rows whose norm falls in bin b, b < bins: ⌊(log10‖row‖ − logMin)·bins/(logMax − logMin)⌋
 *                  clamped to [0, bins − 1] (below the range → bin 0, above → the last bin);
 *   [o + bins]     rows that are exactly zero (no bin);
 *   [o + bins + 1] share of Σ mass carried by the top ⌈1%⌉ of rows (≥ 1 row);
 *   [o + bins + 2] share of Σ mass carried by the top ⌈10%⌉ of rows;
 *   [o + bins + 3] Σ mass over all rows (mass = ‖row‖² by default: ‖∇Y‖_F²).
 * Counts are exact integers in f32 (exact up to 2^24 rows); shares are 0 when ∇Y = 0.
 *
 * Two dispatches: row norms (one workgroup per row, scaled by the row's max|x|, so a norm is 0 exactly
 * when the row is), then one workgroup for the histogram (integer atomics in workgroup memory) and the
 * shares. The top-k selection is exact for any number of rows: a radix select finds the k-th largest
 * norm in four 8-bit passes over the f32 bit patterns, and the top-k mass is the sum of the norms above
 * it plus as many copies of it as the k rows need (ties included), the same as sorting.
 */
export function rowNormHistogram(k: Kernels, s: RowNormHistogramSpec): Dispatch[] {
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  if (!Number.isInteger(s.bins) || s.bins < 1 || s.bins > MAX_HISTOGRAM_BINS) {
    throw new RangeError(`${s.label}: bins must be an integer in [1, ${MAX_HISTOGRAM_BINS}], got ${s.bins}`);
  }
  if (!Number.isFinite(s.logMin) || !Number.isFinite(s.logMax) || !(s.logMax > s.logMin)) {
    throw new RangeError(`${s.label}: need finite logMin < logMax, got [${s.logMin}, ${s.logMax}]`);
  }
  const outOffset = offsetOf(s.label, s.outOffset, 'outOffset');
  need(s.label, s.dy, s.rows * s.cols, 'dy');
  need(s.label, s.norms, s.rows, 'norms');
  need(s.label, s.out, outOffset + rowNormHistogramLength(s.bins), 'out');
  separate(s.label, s.dy, s.norms, 'dy');
  separate(s.label, s.norms, s.out, 'norms');
  const u = uniforms({
    n: s.rows,
    cols: s.cols,
    outOffset,
    bins: s.bins,
    k1: topRowCount(s.rows, TOP_ROW_PERCENTS[0]),
    k2: topRowCount(s.rows, TOP_ROW_PERCENTS[1]),
    squared: (s.mass ?? 'squared') === 'squared',
    logMin: s.logMin,
    binScale: s.bins / (s.logMax - s.logMin),
  });
  const unscale: Dispatch[] = [];
  if (s.unscale) {
    separate(s.label, s.unscale, s.norms, 'unscale');
    unscale.push(k.dispatch({
      shader: 'stats', entry: 'divide_by_scalar', label: `${s.label}.unscale`,
      uniforms: uniforms({ n: s.rows, outOffset: 0 }),
      bindings: [s.unscale, s.norms], workgroups: grid1d(s.rows),
    }));
  }
  return [
    k.dispatch({ shader: 'stats', entry: 'row_norms', label: `${s.label}.row_norms`, uniforms: u, bindings: [s.dy, s.norms], workgroups: gridRows(s.rows) }),
    ...unscale,
    k.dispatch({ shader: 'stats', entry: 'row_norm_summary', label: `${s.label}.histogram`, uniforms: u, bindings: [s.norms, s.out], workgroups: [1, 1, 1] }),
  ];
}

export interface ColumnAbsMaxSpec {
  label: string;
  /** [rows, cols] f32: X (before the Hadamard transform) or X·H. */
  x: Tensor;
  rows: number;
  cols: number;
  /** f32 out: `cols` values from outOffset. */
  out: Tensor;
  outOffset?: number;
}

/**
 * Fig. 1: out[o + c] = max over rows of |x[r, c]|, c < cols. Two dispatches: zero the slot, then
 * atomicMax of the bit patterns of |x| (u32 order = f32 order for non-negative values; exact and
 * order-independent), by workgroups of 64 columns × 64-row chunks. A NaN in a column shows as NaN.
 */
export function columnAbsMax(k: Kernels, s: ColumnAbsMaxSpec): Dispatch[] {
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  const outOffset = offsetOf(s.label, s.outOffset, 'outOffset');
  need(s.label, s.x, s.rows * s.cols, 'x');
  need(s.label, s.out, outOffset + s.cols, 'out');
  separate(s.label, s.x, s.out, 'x');
  const groups: [number, number, number] = [Math.ceil(s.cols / COL_TILE), Math.ceil(s.rows / COL_CHUNK), 1];
  if (groups[0] > 65535 || groups[1] > 65535) throw new RangeError(`${s.label}: [${s.rows}, ${s.cols}] is too large for one dispatch`);
  const u = uniforms({ n: s.rows, cols: s.cols, outOffset });
  return [
    k.dispatch({ shader: 'stats', entry: 'col_abs_max_init', label: `${s.label}.init`, uniforms: u, bindings: [null, s.out], workgroups: grid1d(s.cols) }),
    k.dispatch({ shader: 'stats', entry: 'col_abs_max', label: `${s.label}.max`, uniforms: u, bindings: [s.x, s.out], workgroups: groups }),
  ];
}

export interface OutlierSummarySpec {
  label: string;
  /** f32: `count` values from valuesOffset, e.g. columnAbsMax's result. May be a slice of the same
   *  buffer as `out` (not overlapping the 3 output values). */
  values: Tensor;
  valuesOffset?: number;
  /** D: how many values (the median is over them). */
  count: number;
  /** f32 out: 3 values from outOffset. */
  out: Tensor;
  outOffset?: number;
}

/**
 * Fig. 1 summary: out[o … o + 3) = [max, median, max/median] of the values. The median of an even
 * count is the mean of the two middle values; max/median is 0 when both are 0 and STATS_UNBOUNDED
 * (the largest f32) when only the median is. One workgroup; the order statistics are exact for any
 * count (radix select, as in rowNormHistogram), so there is no limit from workgroup memory.
 */
export function outlierSummary(k: Kernels, s: OutlierSummarySpec): Dispatch {
  positiveInteger(s.label, s.count, 'count');
  const valuesOffset = offsetOf(s.label, s.valuesOffset, 'valuesOffset');
  const outOffset = offsetOf(s.label, s.outOffset, 'outOffset');
  need(s.label, s.values, valuesOffset + s.count, 'values');
  need(s.label, s.out, outOffset + OUTLIER_SUMMARY_LENGTH, 'out');
  if (s.values.buffer !== s.out.buffer) {
    return k.dispatch({
      shader: 'stats',
      entry: 'outlier_summary',
      label: s.label,
      uniforms: uniforms({ n: s.count, outOffset, inOffset: valuesOffset }),
      bindings: [s.values, s.out],
      workgroups: [1, 1, 1],
    });
  }
  // One buffer: bind it whole as the output and address both ranges from its start.
  const inAbs = s.values.offsetBytes / 4 + valuesOffset;
  const outAbs = s.out.offsetBytes / 4 + outOffset;
  if (inAbs < outAbs + OUTLIER_SUMMARY_LENGTH && outAbs < inAbs + s.count) {
    throw new RangeError(`${s.label}: the values [${inAbs}, ${inAbs + s.count}) overlap the output [${outAbs}, ${outAbs + OUTLIER_SUMMARY_LENGTH})`);
  }
  return k.dispatch({
    shader: 'stats',
    entry: 'outlier_summary',
    label: s.label,
    constants: { SHARED_INPUT: true },
    uniforms: uniforms({ n: s.count, outOffset: outAbs, inOffset: inAbs }),
    bindings: [k.placeholder, { buffer: s.out.buffer }],
    workgroups: [1, 1, 1],
  });
}

/** The bit split ∇Y ≈ s↑·hi + s↓·lo as ops/lss.ts bitSplit leaves it: f32 codes, or (packedCols, the
 *  columns of ∇Y) INT8 codes packed four to a word, rows padded to whole words (bitSplit `packed`). */
export interface BitSplitOperand {
  hi: Tensor;
  lo: Tensor;
  /** [4]: [max|∇Y|, s↑, s↓, 0]. */
  splitState: Tensor;
  packedCols?: number;
}

export interface RelativeErrorSpec {
  label: string;
  /** [n] f32: the exact tensor (X·H, W·H, ∇Y). */
  a: Tensor;
  /** [n] f32: its quantized version (e.g. lsqDequantize's X̂), or the bit split of ∇Y. */
  b: Tensor | BitSplitOperand;
  n: number;
  /** f32 scratch: at least relativeErrorPartials(n) values. */
  partials: Tensor;
  /** f32 out: 1 value at outOffset. */
  out: Tensor;
  outOffset?: number;
}

/**
 * out[o] = ‖a − b‖₂/‖a‖₂ (0 when both are 0, STATS_UNBOUNDED when only ‖a‖ is). Two-stage reduction:
 * reductionPartials(n) workgroups write Σ(a − b)² and Σa² of their strided shares, one workgroup sums
 * them. With a BitSplitOperand, b = s↑·hi + s↓·lo elementwise (the ∇Y that LSS samples from).
 */
export function relativeError(k: Kernels, s: RelativeErrorSpec): Dispatch[] {
  positiveInteger(s.label, s.n, 'n');
  const outOffset = offsetOf(s.label, s.outOffset, 'outOffset');
  const partials = reductionPartials(s.n);
  need(s.label, s.a, s.n, 'a');
  need(s.label, s.partials, 2 * partials, 'partials');
  need(s.label, s.out, outOffset + 1, 'out');
  separate(s.label, s.a, s.out, 'a');
  separate(s.label, s.partials, s.out, 'partials');
  separate(s.label, s.a, s.partials, 'a');
  const packedCols = 'splitState' in s.b ? s.b.packedCols : undefined;
  const u = uniforms({ n: s.n, outOffset, partials, cols: packedCols });
  let first: Dispatch;
  if ('splitState' in s.b) {
    const b = s.b;
    if (packedCols !== undefined && (!Number.isInteger(packedCols) || packedCols < 1 || s.n % packedCols !== 0)) {
      throw new RangeError(`${s.label}: packedCols must be a positive integer dividing n, got ${packedCols}`);
    }
    const codes = packedCols === undefined ? s.n : (s.n / packedCols) * Math.ceil(packedCols / 4);
    need(s.label, b.hi, codes, 'hi');
    need(s.label, b.lo, codes, 'lo');
    need(s.label, b.splitState, 4, 'splitState');
    for (const [t, what] of [[b.hi, 'hi'], [b.lo, 'lo'], [b.splitState, 'splitState']] as const) separate(s.label, t, s.partials, what);
    first = k.dispatch({
      shader: 'stats',
      entry: packedCols === undefined ? 'rel_error_split_partial' : 'rel_error_split_codes_partial',
      label: `${s.label}.partial`,
      uniforms: u,
      bindings: [s.a, b.hi, s.partials, b.lo, b.splitState],
      workgroups: [partials, 1, 1],
    });
  } else {
    need(s.label, s.b, s.n, 'b');
    separate(s.label, s.b, s.partials, 'b');
    first = k.dispatch({ shader: 'stats', entry: 'rel_error_partial', label: `${s.label}.partial`, uniforms: u, bindings: [s.a, s.b, s.partials], workgroups: [partials, 1, 1] });
  }
  return [first, k.dispatch({ shader: 'stats', entry: 'rel_error_final', label: `${s.label}.final`, uniforms: u, bindings: [s.partials, s.out], workgroups: [1, 1, 1] })];
}

export interface CopyScaledSpec {
  label: string;
  /** f32: `count` values from srcOffset (a step size, a kept count, …). */
  src: Tensor;
  srcOffset?: number;
  count: number;
  /** Default 1; e.g. 1/(2N) turns lssCombine's kept count into the fraction of the 2N rows kept. */
  scale?: number;
  /** f32 out: `count` values from outOffset. */
  out: Tensor;
  outOffset?: number;
}

/** out[o + i] = src[srcOffset + i]·scale, i < count: scalars into the metrics buffer inside the compute
 *  pass (a copyBufferToBuffer would have to end it). */
export function copyScaled(k: Kernels, s: CopyScaledSpec): Dispatch {
  positiveInteger(s.label, s.count, 'count');
  const srcOffset = offsetOf(s.label, s.srcOffset, 'srcOffset');
  const outOffset = offsetOf(s.label, s.outOffset, 'outOffset');
  const scale = s.scale ?? 1;
  if (!Number.isFinite(scale)) throw new RangeError(`${s.label}: scale must be finite, got ${scale}`);
  need(s.label, s.src, srcOffset + s.count, 'src');
  need(s.label, s.out, outOffset + s.count, 'out');
  separate(s.label, s.src, s.out, 'src');
  return k.dispatch({
    shader: 'stats',
    entry: 'copy_scaled',
    label: s.label,
    uniforms: uniforms({ n: s.count, outOffset, inOffset: srcOffset, scale }),
    bindings: [s.src, s.out],
    workgroups: grid1d(s.count),
  });
}

/** Where one INT4 linear layer's statistics sit in its record of the metrics buffer (element offsets
 *  from the record's start), for the trainer and the UI to agree on. */
export interface LinearStatsLayout {
  /** rowNormHistogram of ∇Y: bins + 4 values. */
  gradHistogram: number;
  /** columnAbsMax of X and of X·H: D values each. */
  colMaxX: number;
  colMaxXH: number;
  /** outlierSummary of each: 3 values each. */
  outliersX: number;
  outliersXH: number;
  /** relativeError of X·H vs X̂, W·H vs Ŵ, ∇Y vs s↑·hi + s↓·lo: 1 value each. */
  errorXH: number;
  errorWH: number;
  errorDY: number;
  /** copyScaled: s_X, s_W, then the fractions of the 2N stacked rows LSS kept for ∇W and for ∇X. */
  stepX: number;
  stepW: number;
  keptW: number;
  keptX: number;
  /** The Hadamard block the layer's X·H was taken with (1 value). */
  hadamardBlock: number;
  /** Values in the record. */
  size: number;
}

export function linearStatsLayout(bins: number, inFeatures: number): LinearStatsLayout {
  positiveInteger('linearStatsLayout', bins, 'bins');
  positiveInteger('linearStatsLayout', inFeatures, 'inFeatures');
  let at = 0;
  const take = (n: number) => {
    const o = at;
    at += n;
    return o;
  };
  const gradHistogram = take(rowNormHistogramLength(bins));
  const colMaxX = take(inFeatures);
  const colMaxXH = take(inFeatures);
  const outliersX = take(OUTLIER_SUMMARY_LENGTH);
  const outliersXH = take(OUTLIER_SUMMARY_LENGTH);
  const [errorXH, errorWH, errorDY, stepX, stepW, keptW, keptX, hadamardBlock] = [1, 1, 1, 1, 1, 1, 1, 1].map(take);
  return { gradHistogram, colMaxX, colMaxXH, outliersX, outliersXH, errorXH, errorWH, errorDY, stepX, stepW, keptW, keptX, hadamardBlock, size: at };
}
