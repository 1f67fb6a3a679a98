// The quantizers of the symmetric INT8 scheme (Banner et al. 2018, "Scalable methods for 8-bit training";
// the INT4 paper's INT8 baseline, Table 1) as dispatches of src/shaders/int8.wgsl:
//   absmaxScale          scale = max|x|/127 per tensor, per row or per column, written on the GPU
//   quantizeInt8         code = clamp(round(x/scale), ±127), round half away from zero, packed for intMatmul
//   stochasticQuantizeInt8  code = clamp(⌊x/scale + u⌋, ±127), one scale per tensor (gradients)
//   dequantizeRowsCols   c ·= row_scale[m]·col_scale[n] (+ bias): per-row scales of an integer product
// Both quantizers can pack "rows along K" (code row r = row r of x, the forward's layout) or transposed
// (code row k = column k of x): intMatmul reduces along code rows, and the backward products reduce over
// C (∇X = ∇Y·W: W packed along C) and over N (∇W = ∇Yᵀ·X: ∇Y and X packed along N).
// Float64 twins: reference/quant/int8.ts (int8Quantize, stochasticInt8).
import { type Dispatch, grid1d, gridRows, type Kernels } from '../gpu/kernels';
import type { Tensor } from '../tensor';
import { maxAbsPartials, reductionPartials } from './lss';
import { packedWordsPerRow } from './quant';

/** Which values share a scale: the whole tensor, one row, or one column (the rows of xᵀ). */
export type Int8Scaling = 'tensor' | 'row' | 'column';

/** Column absmax: at most this many row chunks (workgroups along y), each ≥ 256 rows. */
const COLUMN_CHUNKS_MAX = 64;

function columnChunks(rows: number): number {
  return Math.max(1, Math.min(COLUMN_CHUNKS_MAX, Math.ceil(rows / 256)));
}

/** How many scales absmaxScale writes for a [rows, cols] matrix. */
export function scaleCount(rows: number, cols: number, scaling: Int8Scaling): number {
  return scaling === 'tensor' ? 1 : scaling === 'row' ? rows : cols;
}

/** f32 scratch absmaxScale needs (0 for 'row'): size a shared `partials` tensor with the largest. */
export function absmaxPartials(rows: number, cols: number, scaling: Int8Scaling): number {
  if (scaling === 'tensor') return reductionPartials(rows * cols);
  if (scaling === 'column') return columnChunks(rows) * cols;
  return 0;
}

function need(label: string, t: Tensor, n: number, what: string): void {
  if (t.size < n) throw new RangeError(`${label}: ${what} has ${t.size} values, needs ${n}`);
}

function positiveInteger(label: string, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: ${what} must be a positive integer, got ${n}`);
}

export interface AbsmaxScaleSpec {
  label: string;
  /** [rows, cols] f32. */
  x: Tensor;
  /** f32 out: scaleCount(rows, cols, scaling) values, max|·|/127 of each group (0 for an all-zero one). */
  scale: Tensor;
  /** f32 scratch: at least absmaxPartials(rows, cols, scaling) values (unused for 'row'). */
  partials: Tensor | null;
  rows: number;
  cols: number;
  scaling: Int8Scaling;
}

/**
 * Symmetric INT8 scales, scale = max|x|/127 (reference int8Quantize's scales; per column = per row of xᵀ),
 * computed on the GPU every step so they never need a readback. 'tensor' is a two-stage reduction,
 * 'row' one workgroup per row, 'column' two passes over row chunks.
 */
export function absmaxScale(k: Kernels, s: AbsmaxScaleSpec): Dispatch[] {
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  need(s.label, s.x, s.rows * s.cols, 'x');
  need(s.label, s.scale, scaleCount(s.rows, s.cols, s.scaling), 'scale');
  const partials = absmaxPartials(s.rows, s.cols, s.scaling);
  if (partials > 0) {
    if (!s.partials) throw new RangeError(`${s.label}: ${s.scaling} scales need a partials tensor`);
    need(s.label, s.partials, partials, 'partials');
  }
  if (s.scaling === 'row') {
    return [
      k.dispatch({ shader: 'int8', entry: 'row_absmax', label: s.label, uniforms: uniforms(s.rows, s.cols), bindings: [s.x, s.scale], workgroups: gridRows(s.rows) }),
    ];
  }
  if (s.scaling === 'tensor') {
    const u = uniforms(s.rows, s.cols, { partials });
    return [
      maxAbsPartials(k, `${s.label}.partial`, s.x, s.rows * s.cols, s.partials!),
      k.dispatch({ shader: 'int8', entry: 'absmax_final', label: s.label, uniforms: u, bindings: [s.partials, s.scale], workgroups: [1, 1, 1] }),
    ];
  }
  const chunks = columnChunks(s.rows);
  const colGroups = Math.ceil(s.cols / 64);
  if (colGroups > 65535) throw new RangeError(`${s.label}: ${s.cols} columns need more than 65,535 workgroups`);
  const u = uniforms(s.rows, s.cols, { partials: chunks });
  return [
    k.dispatch({ shader: 'int8', entry: 'col_absmax_partial', label: `${s.label}.partial`, uniforms: u, bindings: [s.x, s.partials], workgroups: [colGroups, chunks, 1] }),
    k.dispatch({ shader: 'int8', entry: 'col_absmax_final', label: s.label, uniforms: u, bindings: [s.partials, s.scale], workgroups: [Math.ceil(s.cols / 256), 1, 1] }),
  ];
}

/** The int8.wgsl Params struct, in order. */
function uniforms(
  rows: number,
  cols: number,
  o: { words?: number; partials?: number; perRow?: boolean; stream?: number; flags?: number } = {},
): number[] {
  return [rows, cols, o.words ?? 0, o.partials ?? 0, o.perRow ? 1 : 0, o.stream ?? 0, o.flags ?? 0];
}

/** [code rows, words] of the packed INT8 codes of a [rows, cols] matrix, packed along its rows (K = cols)
 *  or, transposed, along its columns (code rows = cols, K = rows). */
export function int8CodeShape(rows: number, cols: number, transposed = false): [number, number] {
  return transposed ? [cols, packedWordsPerRow(rows, 'int8')] : [rows, packedWordsPerRow(cols, 'int8')];
}

export interface QuantizeInt8Spec {
  label: string;
  /** [rows, cols] f32. */
  x: Tensor;
  /** [1], or one per code row when perRow (rows of x; columns of x when transposed), as absmaxScale
   *  writes them ('row', or 'column' for the transposed packing). */
  scale: Tensor;
  /** u32 out, int8CodeShape(rows, cols, transposed): four int8 lanes per word, rows padded with zeros. */
  codes: Tensor;
  rows: number;
  cols: number;
  perRow: boolean;
  /** Pack xᵀ: code row k holds column k of x (the backward's operands, reduced over x's rows). */
  transposed?: boolean;
}

/**
 * Symmetric INT8 codes, clamp(round-half-away(x/scale), −127, 127), 0 where the scale is 0 (reference
 * int8Quantize), packed as intMatmul's INT8 operands. (lsqQuantize with format 'int8' rounds the same way
 * but also writes the f32 x/s this scheme never reads, takes one step per tensor, and has no zero-scale
 * case: 0/0 would be NaN there.)
 */
export function quantizeInt8(k: Kernels, s: QuantizeInt8Spec, fromMax: AbsmaxPartials | null = null): Dispatch {
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  const [codeRows, words] = int8CodeShape(s.rows, s.cols, s.transposed);
  need(s.label, s.x, s.rows * s.cols, 'x');
  need(s.label, s.scale, s.perRow ? codeRows : 1, 'scale');
  need(s.label, s.codes, codeRows * words, 'codes');
  if (fromMax && s.perRow) throw new RangeError(`${s.label}: the folded absmax gives one scale per tensor, not per row`);
  return k.dispatch({
    shader: 'int8',
    entry: fromMax ? 'quantize_nearest_absmax' : 'quantize_nearest',
    label: s.label,
    constants: { TRANSPOSED: Boolean(s.transposed) },
    uniforms: uniforms(s.rows, s.cols, { words, perRow: s.perRow, partials: fromMax?.count }),
    bindings: fromMax ? [s.x, fromMax.partials, s.codes, s.scale] : [s.x, s.scale, s.codes],
    workgroups: grid1d(codeRows * words),
  });
}

export interface StochasticQuantizeInt8Spec {
  label: string;
  /** [rows, cols] f32 (∇Y). */
  x: Tensor;
  /** [1]: one scale per tensor (absmaxScale 'tensor'). */
  scale: Tensor;
  /** u32 [seed, step], rewritten by the trainer every step. */
  stepState: Tensor;
  /** The random stream of the draws (the scheme's: layer index·4 + 3). */
  stream: number;
  /** u32 out, int8CodeShape(rows, cols, transposed). */
  codes: Tensor;
  rows: number;
  cols: number;
  transposed?: boolean;
}

/**
 * Stochastically rounded INT8 codes (Banner et al. quantize gradients so; reference stochasticInt8):
 * clamp(⌊x/scale + u⌋, −127, 127), u = uniform_draw(seed, stream, step, i) for element i = r·cols + c of x
 * in either packing, so the two packings of one step hold the same codes. 0 where the scale is 0.
 */
export function stochasticQuantizeInt8(k: Kernels, s: StochasticQuantizeInt8Spec, fromMax: AbsmaxPartials | null = null): Dispatch {
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  if (!Number.isInteger(s.stream) || s.stream < 0 || s.stream > 0xffffffff) throw new RangeError(`${s.label}: stream must be a u32, got ${s.stream}`);
  const [codeRows, words] = int8CodeShape(s.rows, s.cols, s.transposed);
  need(s.label, s.x, s.rows * s.cols, 'x');
  need(s.label, s.scale, 1, 'scale');
  need(s.label, s.stepState, 2, 'stepState');
  need(s.label, s.codes, codeRows * words, 'codes');
  return k.dispatch({
    shader: 'int8',
    entry: fromMax ? 'quantize_stochastic_absmax' : 'quantize_stochastic',
    label: s.label,
    constants: { TRANSPOSED: Boolean(s.transposed) },
    uniforms: uniforms(s.rows, s.cols, { words, stream: s.stream, partials: fromMax?.count }),
    bindings: fromMax ? [s.x, fromMax.partials, s.stepState, s.codes, s.scale] : [s.x, s.scale, s.stepState, s.codes],
    workgroups: grid1d(codeRows * words),
  });
}

export interface DequantizeRowsColsSpec {
  label: string;
  /** [rows, cols] f32, in place: an integer product (intMatmul with unit or per-tensor steps). */
  c: Tensor;
  rows: number;
  cols: number;
  /** [rows]: multiplies row m. */
  rowScale?: Tensor | null;
  /** [cols]: multiplies column n. */
  colScale?: Tensor | null;
  /** [cols]: added after the scaling. */
  bias?: Tensor | null;
}

/**
 * c[m, n] = c[m, n]·rowScale[m]·colScale[n] + bias[n]: the dequantization of a product whose operands
 * have one scale per code row (intMatmul takes one scale per operand). c holds f32(Σ codes), so the
 * result is what a fused kernel's f32(acc)·scale would give.
 */
export function dequantizeRowsCols(k: Kernels, s: DequantizeRowsColsSpec): Dispatch {
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.cols, 'cols');
  need(s.label, s.c, s.rows * s.cols, 'c');
  if (s.rowScale) need(s.label, s.rowScale, s.rows, 'rowScale');
  if (s.colScale) need(s.label, s.colScale, s.cols, 'colScale');
  if (s.bias) need(s.label, s.bias, s.cols, 'bias');
  const flags = (s.rowScale ? 1 : 0) | (s.colScale ? 2 : 0) | (s.bias ? 4 : 0);
  return k.dispatch({
    shader: 'int8',
    entry: 'dequantize_rows_cols',
    label: s.label,
    uniforms: uniforms(s.rows, s.cols, { flags }),
    bindings: [s.c, s.rowScale ?? k.placeholder, s.colScale ?? k.placeholder, s.bias ?? k.placeholder],
    workgroups: grid1d(s.rows * s.cols),
  });
}

/** The partial maxima of a per-tensor absmax (absmaxScale 'tensor', first pass), for a quantize pass that
 *  finishes the max itself (int8.wgsl scale_from_partials) and writes the scale out. */
export interface AbsmaxPartials {
  partials: Tensor;
  count: number;
}

function absmaxPartialPass(k: Kernels, label: string, x: Tensor, partials: Tensor, rows: number, cols: number): { dispatch: Dispatch; fromMax: AbsmaxPartials } {
  positiveInteger(label, rows, 'rows');
  positiveInteger(label, cols, 'cols');
  const count = absmaxPartials(rows, cols, 'tensor');
  need(label, partials, count, 'partials');
  return {
    dispatch: maxAbsPartials(k, `${label}.absmax_partial`, x, rows * cols, partials),
    fromMax: { partials, count },
  };
}

/**
 * absmaxScale 'tensor' then quantizeInt8 (one scale per tensor) in two dispatches instead of three: the
 * quantize pass finishes the max itself and writes `scale` for the passes that read it later. The same
 * scale and codes bit for bit.
 */
export function absmaxQuantizeInt8(k: Kernels, s: Omit<QuantizeInt8Spec, 'perRow'> & { partials: Tensor }): Dispatch[] {
  const max = absmaxPartialPass(k, s.label, s.x, s.partials, s.rows, s.cols);
  return [max.dispatch, quantizeInt8(k, { ...s, perRow: false }, max.fromMax)];
}

/** absmaxScale 'tensor' then stochasticQuantizeInt8 in two dispatches instead of three (as absmaxQuantizeInt8). */
export function absmaxStochasticQuantizeInt8(k: Kernels, s: StochasticQuantizeInt8Spec & { partials: Tensor }): Dispatch[] {
  const max = absmaxPartialPass(k, s.label, s.x, s.partials, s.rows, s.cols);
  return [max.dispatch, stochasticQuantizeInt8(k, s, max.fromMax)];
}
