// 2:4 structured sparsity as dispatches (shaders/sparsity.wgsl, shaders/sparse24.wgsl):
//   pruneMask         the mask of one weight: the `keep` largest |w| of every group of 4 still kept
//   applyMask         x ← 0 where the mask is 0 (parameters, gradients, Adam moments)
//   compress24        dense f32 values or packed INT8/INT4 codes → the 2 kept values + 2-bit indices
//   sparseMatmul      Y = X·Wᵀ (+ b) from compressed f32 W: half the multiply-adds
//   sparseIntMatmul   the same on integer codes, equal to intMatmul on the dense codes bit for bit
// Float64 twins: reference/sparsity.ts.
import { type Dispatch, f32, grid1d, type Kernels } from '../gpu/kernels';
import { type CodeFormat, packedWordsPerRow } from '../ops/quant';
import type { Tensor } from '../tensor';
import { GROUP } from './config';

/** How compressed values are stored: f32, or packed INT8 / INT4 codes. */
export type SparseFormat = 'f32' | CodeFormat;

function need(label: string, t: Tensor, n: number, what: string): void {
  if (t.size < n) throw new RangeError(`${label}: ${what} has ${t.size} values, needs ${n}`);
}

function shapeChecks(label: string, rows: number, K: number): number {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`${label}: rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(K) || K < GROUP || K % GROUP !== 0) throw new RangeError(`${label}: the reduction dimension ${K} is not a positive multiple of 4, so it does not split into 2:4 groups`);
  return K / GROUP;
}

/** Meta words per row: 8 groups' 4-bit index pairs in each u32. */
export function metaWordsPerRow(K: number): number {
  return Math.ceil(K / GROUP / 8);
}

/** Storage (f32 values or u32 words) per row of the kept values of a K-wide row. */
export function valueWordsPerRow(K: number, format: SparseFormat): number {
  const kept = K / 2;
  return format === 'f32' ? kept : format === 'int8' ? Math.ceil(kept / 4) : Math.ceil(kept / 8);
}

/** The shapes of a compressed [rows, K] matrix. */
export function compressedShape(rows: number, K: number, format: SparseFormat): { values: [number, number]; meta: [number, number] } {
  return { values: [rows, valueWordsPerRow(K, format)], meta: [rows, metaWordsPerRow(K)] };
}

export interface PruneMaskSpec {
  label: string;
  /** [rows, cols] weight (a slice of the parameter buffer). */
  w: Tensor;
  /** [rows, cols] f32 mask in the same layout, updated in place: 1 kept, 0 pruned. */
  mask: Tensor;
  rows: number;
  cols: number;
  /** Values kept per group among those the mask still keeps: 3 (25% sparse) or 2 (2:4). */
  keep: number;
}

export function pruneMask(k: Kernels, s: PruneMaskSpec): Dispatch {
  const G = shapeChecks(s.label, s.rows, s.cols);
  if (!Number.isInteger(s.keep) || s.keep < 1 || s.keep > 4) throw new RangeError(`${s.label}: keep must be 1–4, got ${s.keep}`);
  need(s.label, s.w, s.rows * s.cols, 'w');
  need(s.label, s.mask, s.rows * s.cols, 'mask');
  return k.dispatch({
    shader: 'sparsity', entry: 'prune_mask', label: s.label,
    uniforms: [s.rows, G, 0, 0, 0, s.keep, 0],
    bindings: [s.w, s.mask],
    workgroups: grid1d(s.rows * G),
  });
}

/** x[i] ← 0 where mask[i] is 0, for i < n. */
export function applyMask(k: Kernels, label: string, mask: Tensor, x: Tensor, n: number): Dispatch {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: n must be a positive integer, got ${n}`);
  need(label, mask, n, 'mask');
  need(label, x, n, 'x');
  return k.dispatch({ shader: 'sparsity', entry: 'apply_mask', label, uniforms: [0, 0, 0, 0, 0, 0, n], bindings: [mask, x], workgroups: grid1d(n) });
}

export interface Compress24Spec {
  label: string;
  /** [rows, K] f32 ('f32'), or codes packed along K as intMatmul takes them ([rows, packedWordsPerRow(K)]). */
  input: Tensor;
  /** compressedShape(rows, K, format).values */
  values: Tensor;
  /** compressedShape(rows, K, format).meta */
  meta: Tensor;
  /** [1] u32: groups that held more than 2 non-zeros are added here (0 for a 2:4 matrix). */
  violations: Tensor;
  rows: number;
  K: number;
  format: SparseFormat;
}

/** One thread per (row, meta word): the 2 largest |values| of each group of 4, lower index on ties. */
export function compress24(k: Kernels, s: Compress24Spec): Dispatch {
  const G = shapeChecks(s.label, s.rows, s.K);
  const shape = compressedShape(s.rows, s.K, s.format);
  const metaWords = shape.meta[1];
  const inWords = s.format === 'f32' ? 0 : packedWordsPerRow(s.K, s.format);
  need(s.label, s.input, s.rows * (s.format === 'f32' ? s.K : inWords), 'input');
  need(s.label, s.values, shape.values[0] * shape.values[1], 'values');
  need(s.label, s.meta, s.rows * metaWords, 'meta');
  need(s.label, s.violations, 1, 'violations');
  return k.dispatch({
    shader: 'sparsity',
    entry: s.format === 'f32' ? 'compress_f32' : 'compress_int',
    label: s.label,
    constants: s.format === 'f32' ? {} : { INT4_CODES: s.format === 'int4' },
    uniforms: [s.rows, G, inWords, shape.values[1], metaWords, 0, 0],
    bindings: [s.input, s.values, s.meta, s.violations],
    workgroups: grid1d(s.rows * metaWords),
  });
}

function gridDim(label: string, groups: number, what: string): number {
  if (groups > 65535) throw new RangeError(`${label}: ${what} needs ${groups} workgroups, more than 65,535`);
  return groups;
}

export interface SparseMatmulSpec {
  label: string;
  /** [M, K] f32. */
  x: Tensor;
  /** Compressed W [N, K] (compress24 'f32'). */
  values: Tensor;
  meta: Tensor;
  /** [M, N] out. */
  y: Tensor;
  M: number;
  N: number;
  K: number;
  bias?: Tensor | null;
  alpha?: number;
  accumulate?: boolean;
  /** Round both operands to binary16 first (the FP16 scheme). */
  roundF16?: boolean;
}

/** Y[M, N] = alpha·X·Wᵀ (+ bias) (+ Y) from compressed W: M·N·K/2 multiply-adds. */
export function sparseMatmul(k: Kernels, s: SparseMatmulSpec): Dispatch {
  const G = shapeChecks(s.label, s.N, s.K);
  if (!Number.isInteger(s.M) || s.M < 1) throw new RangeError(`${s.label}: M must be a positive integer, got ${s.M}`);
  const shape = compressedShape(s.N, s.K, 'f32');
  need(s.label, s.x, s.M * s.K, 'x');
  need(s.label, s.values, s.N * shape.values[1], 'values');
  need(s.label, s.meta, s.N * shape.meta[1], 'meta');
  need(s.label, s.y, s.M * s.N, 'y');
  if (s.bias) need(s.label, s.bias, s.N, 'bias');
  return k.dispatch({
    shader: 'sparse24', entry: 'main_f32', label: s.label,
    constants: { ROUND_F16: Boolean(s.roundF16) },
    uniforms: [s.M, s.N, G, 0, 0, shape.meta[1], f32(s.alpha ?? 1), s.accumulate ? 1 : 0, s.bias ? 1 : 0, 0, 0, 0],
    bindings: [s.x, s.values, s.meta, s.y, s.bias ?? k.placeholder],
    workgroups: [gridDim(s.label, Math.ceil(s.N / 64), 'N'), gridDim(s.label, Math.ceil(s.M / 64), 'M'), 1],
  });
}

export interface SparseIntMatmulSpec {
  label: string;
  /** [M, packedWordsPerRow(K, format)]: packed codes of A (X), as for intMatmul. */
  a: Tensor;
  /** Compressed codes of B (W [N, K]), compress24 with the same format. */
  values: Tensor;
  meta: Tensor;
  stepA: Tensor;
  stepB: Tensor;
  /** Elements of stepA / stepB to use (default 0), as intMatmul. */
  stepAAt?: number;
  stepBAt?: number;
  /** [M], optional: multiplies row m (before bias and accumulation), as intMatmul. */
  rowScale?: Tensor | null;
  c: Tensor;
  M: number;
  N: number;
  K: number;
  format: CodeFormat;
  bias?: Tensor | null;
  alpha?: number;
  accumulate?: boolean;
}

/** C[M, N] = alpha·|s_A|·|s_B|·(A_q·B_qᵀ) (+ bias) (+ C), the sums exact in i32 over the stored codes. */
export function sparseIntMatmul(k: Kernels, s: SparseIntMatmulSpec): Dispatch {
  const G = shapeChecks(s.label, s.N, s.K);
  if (!Number.isInteger(s.M) || s.M < 1) throw new RangeError(`${s.label}: M must be a positive integer, got ${s.M}`);
  const maxProduct = s.format === 'int4' ? 64 : 128 * 128;
  if ((s.K / 2) * maxProduct >= 2 ** 31) throw new RangeError(`${s.label}: K = ${s.K} could overflow the i32 accumulator`);
  const aWords = packedWordsPerRow(s.K, s.format);
  const shape = compressedShape(s.N, s.K, s.format);
  need(s.label, s.a, s.M * aWords, 'A codes');
  need(s.label, s.values, s.N * shape.values[1], 'values');
  need(s.label, s.meta, s.N * shape.meta[1], 'meta');
  need(s.label, s.c, s.M * s.N, 'C');
  need(s.label, s.stepA, (s.stepAAt ?? 0) + 1, 'stepA');
  need(s.label, s.stepB, (s.stepBAt ?? 0) + 1, 'stepB');
  if (s.bias) need(s.label, s.bias, s.N, 'bias');
  if (s.rowScale) need(s.label, s.rowScale, s.M, 'rowScale');
  return k.dispatch({
    shader: 'sparse24', entry: 'main_int', label: s.label,
    constants: { INT4_CODES: s.format === 'int4' },
    uniforms: [s.M, s.N, G, aWords, shape.values[1], shape.meta[1], f32(s.alpha ?? 1), s.accumulate ? 1 : 0, s.bias ? 1 : 0, s.stepAAt ?? 0, s.stepBAt ?? 0, s.rowScale ? 1 : 0],
    bindings: [s.a, s.values, s.meta, s.stepA, s.stepB, s.c, s.bias ?? k.placeholder, s.rowScale ?? k.placeholder],
    workgroups: [gridDim(s.label, Math.ceil(s.N / 64), 'N'), gridDim(s.label, Math.ceil(s.M / 64), 'M'), 1],
  });
}

/** A dispatch of one workgroup that does nothing: fills a slot of a Switchable that a variant leaves empty. */
export function noop(k: Kernels, label: string): Dispatch {
  return k.dispatch({ shader: 'sparsity', entry: 'noop', label, bindings: [k.placeholder], workgroups: [1, 1, 1] });
}
