// The quantization kernels of "Training Transformers with 4-bit Integers" (docs/int4-training-paper.md) as
// dispatches: the block Hadamard transform (src/shaders/hadamard.wgsl), LSQ quantize / dequantize / initial
// step (src/shaders/quantize.wgsl) and the integer matrix product with dequantization
// (src/shaders/intmatmul.wgsl). Together they are the forward HQ-MM (spec §2):
//   Y = X·Wᵀ ≈ s_X s_W · int(XH) · int(WH)ᵀ
//     hadamardTransform(X → XH), hadamardTransform(W → WH), lsqQuantize each, intMatmul.
import type { Capabilities } from '../gpu/device';
import { type Dispatch, f32, grid1d, gridRows, type Kernels, type UniformValue } from '../gpu/kernels';
import { HADAMARD_MAX_SIZE, INT8_MAX, Q_N, Q_P } from '../reference/quant/constants';
import type { Tensor } from '../tensor';
import { lsqDequantize } from './lss';
import { type Dot4Tiling, dot4IntMatmulShader, dot4Variant } from './intmatmul-dot4';
import { SGMAT_BASE_TILING, SGMAT_TILE, type SubgroupMatrixTiling, describeSgmatTiling, sgmatTilingName, subgroupMatrixTiledWgsl } from './intmatmul-sgmat';

/** How codes are packed in u32 words: INT4 two's-complement nibbles (8 per word) or int8 lanes (4 per word). */
export type CodeFormat = 'int4' | 'int8';

export const CODES_PER_WORD: Record<CodeFormat, number> = { int4: 8, int8: 4 };

/** Packed u32 words of one code row of K values: K padded with zero codes up to a whole word. */
export function packedWordsPerRow(K: number, format: CodeFormat): number {
  return Math.ceil(K / CODES_PER_WORD[format]);
}

/** The [rows, words] shape of a packed code tensor for a [rows, K] matrix. */
export function packedCodeShape(rows: number, K: number, format: CodeFormat): [number, number] {
  return [rows, packedWordsPerRow(K, format)];
}

function need(label: string, t: Tensor, n: number, what: string): void {
  if (t.size < n) throw new RangeError(`${label}: ${what} has ${t.size} values, needs ${n}`);
}

function positiveInteger(label: string, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: ${what} must be a positive integer, got ${n}`);
}

/** Where a workgroup count goes past the 65,535 limit of one grid dimension and cannot spill into another. */
function gridDim(label: string, groups: number, what: string): number {
  if (groups > 65535) throw new RangeError(`${label}: ${what} needs ${groups} workgroups, more than 65,535`);
  return groups;
}

/**
 * Block Hadamard transform on the reduction dimension (paper §3.3 / A.5, spec §2):
 * y[rows, cols] = x · BlockDiag(H_b, …, H_b), H_b the normalised Sylvester Hadamard matrix of size
 * `block`, a power of two ≤ 1024 that divides `cols`. H_b is symmetric and orthogonal, so the same
 * dispatch applies Hᵀ (the backward's final ·Hᵀ, paper eq. 4) and applying it twice gives x back.
 * Out of place (x and y must be different buffers). block = 1 copies x. `block` may be a [1] f32
 * tensor instead: the block is then read on the GPU (chosen there by hadamardBlockSearch).
 */
export function hadamardTransform(k: Kernels, label: string, x: Tensor, y: Tensor, rows: number, cols: number, block: number | Tensor): Dispatch {
  positiveInteger(label, rows, 'rows');
  positiveInteger(label, cols, 'cols');
  const n = rows * cols;
  need(label, x, n, 'x');
  need(label, y, n, 'y');
  const workgroups = gridRows(Math.ceil(n / HADAMARD_MAX_SIZE)); // one workgroup per 1024 values
  if (typeof block !== 'number') {
    // Chosen on the GPU (hadamardBlockSearch): a power of two dividing cols by construction.
    need(label, block, 1, 'block');
    return k.dispatch({ shader: 'hadamard', entry: 'main_dynamic', label, uniforms: hadamardUniforms(n, 0, 0), bindings: [x, y, block], workgroups });
  }
  checkHadamardBlock(label, cols, block);
  return k.dispatch({ shader: 'hadamard', entry: 'main', label, uniforms: hadamardUniforms(n, block, 1 / Math.sqrt(block)), bindings: [x, y], workgroups });
}

/** One transform, then a second with the same block in the same dispatch (hadamard.wgsl main_pair): the
 *  backward's ∇W·Hᵀ and ∇X·Hᵀ of a layer, one dispatch instead of two. */
export function hadamardTransformPair(
  k: Kernels,
  label: string,
  first: { x: Tensor; y: Tensor; rows: number },
  second: { x: Tensor; y: Tensor; rows: number },
  cols: number,
  block: number | Tensor,
): Dispatch {
  const ns = [first, second].map((t, i) => {
    const what = i === 0 ? 'first' : 'second';
    positiveInteger(label, t.rows, `${what} rows`);
    need(label, t.x, t.rows * cols, `${what} x`);
    need(label, t.y, t.rows * cols, `${what} y`);
    return t.rows * cols;
  });
  positiveInteger(label, cols, 'cols');
  const tiles = Math.ceil(ns[0] / HADAMARD_MAX_SIZE);
  const workgroups = gridRows(tiles + Math.ceil(ns[1] / HADAMARD_MAX_SIZE));
  const pair = { n2: ns[1], tiles };
  if (typeof block !== 'number') {
    need(label, block, 1, 'block');
    return k.dispatch({ shader: 'hadamard', entry: 'main_dynamic_pair', label, uniforms: hadamardUniforms(ns[0], 0, 0, undefined, pair), bindings: [first.x, first.y, block, second.x, second.y], workgroups });
  }
  checkHadamardBlock(label, cols, block);
  return k.dispatch({ shader: 'hadamard', entry: 'main_pair', label, uniforms: hadamardUniforms(ns[0], block, 1 / Math.sqrt(block), undefined, pair), bindings: [first.x, first.y, null, second.x, second.y], workgroups });
}

/** hadamard.wgsl's Params: the transform's fields, then the fused quantizer's (bits, Q_N, Q_P), then the
 *  pair entries' (the second tensor's length, the first's tiles). */
export function hadamardUniforms(
  n: number,
  block: number,
  scale: number,
  quantizer?: { bits: number; qn: number; qp: number; dequantize?: boolean },
  pair?: { n2: number; tiles: number },
): UniformValue[] {
  return [n, block, f32(scale), 0, quantizer?.bits ?? 0, f32(quantizer?.qn ?? 0), f32(quantizer?.qp ?? 0), quantizer?.dequantize ? 1 : 0, pair?.n2 ?? 0, pair?.tiles ?? 0];
}

function checkHadamardBlock(label: string, cols: number, block: number): void {
  if (!Number.isInteger(block) || block < 1 || block > HADAMARD_MAX_SIZE || (block & (block - 1)) !== 0) {
    throw new RangeError(`${label}: the Hadamard block must be a power of two from 1 to ${HADAMARD_MAX_SIZE}, got ${block}`);
  }
  if (cols % block !== 0) {
    throw new RangeError(`${label}: the Hadamard block ${block} does not divide the ${cols} columns (the reduction dimension)`);
  }
}

export interface HadamardQuantizeSpec extends Omit<LsqQuantizeSpec, 'x'> {
  /** [rows, K] input; its block Hadamard transform is what gets quantized. */
  source: Tensor;
  block: number | Tensor;
  /** Where X·H goes when the two steps run as separate dispatches (the fallback below). */
  transformed: Tensor;
  /** [rows, K] f32 out, optional: also X̂ = |s|·code (lsqDequantize's values) in the same pass, for the
   *  backward's f32 products, instead of a pass that reads v again. */
  dequantized?: Tensor;
}

/**
 * HQ's forward quantizer, X → v = X·H/|s| and its packed LSQ codes (paper §3.3 then §3.1), in one
 * dispatch where the rows hold whole code words (K a multiple of 8 for INT4, 4 for INT8): the transformed
 * tile goes from workgroup memory straight to the codes, and X·H is never written out. Otherwise the
 * transform into `transformed`, then lsqQuantize. Either way the same values (the same f32 operations).
 */
export function hadamardQuantize(k: Kernels, s: HadamardQuantizeSpec): Dispatch[] {
  const format = s.format ?? 'int4';
  const perWord = CODES_PER_WORD[format];
  const qn = s.qn ?? (format === 'int4' ? Q_N : INT8_MAX);
  const qp = s.qp ?? (format === 'int4' ? Q_P : INT8_MAX);
  if (s.K % perWord !== 0) {
    return [
      hadamardTransform(k, `${s.label}.hadamard`, s.source, s.transformed, s.rows, s.K, s.block),
      lsqQuantize(k, { ...s, x: s.transformed }),
      ...(s.dequantized ? [lsqDequantize(k, { label: `${s.label}.dequantize`, v: s.v, step: s.step, out: s.dequantized, numel: s.rows * s.K, qn, qp })] : []),
    ];
  }
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.K, 'K');
  codeRange(s.label, format, qn, qp);
  const n = s.rows * s.K;
  need(s.label, s.source, n, 'source');
  need(s.label, s.v, n, 'v');
  need(s.label, s.codes, n / perWord, 'codes');
  need(s.label, s.step, 1, 'step');
  if (s.dequantized) need(s.label, s.dequantized, n, 'dequantized');
  const quantizer = { bits: 32 / perWord, qn, qp, dequantize: Boolean(s.dequantized) };
  const workgroups = gridRows(Math.ceil(n / HADAMARD_MAX_SIZE));
  const out = s.dequantized ?? k.placeholder;
  if (typeof s.block !== 'number') {
    need(s.label, s.block, 1, 'block');
    return [k.dispatch({ shader: 'hadamard', entry: 'main_dynamic_quantize', label: s.label, uniforms: hadamardUniforms(n, 0, 0, quantizer), bindings: [s.source, s.v, s.block, s.step, s.codes, out], workgroups })];
  }
  checkHadamardBlock(s.label, s.K, s.block);
  return [k.dispatch({ shader: 'hadamard', entry: 'main_quantize', label: s.label, uniforms: hadamardUniforms(n, s.block, 1 / Math.sqrt(s.block), quantizer), bindings: [s.source, s.v, null, s.step, s.codes, out], workgroups })];
}

function codeRange(label: string, format: CodeFormat, qn: number, qp: number): void {
  const bits = format === 'int4' ? 4 : 8;
  const lowest = 2 ** (bits - 1);
  if (!Number.isInteger(qn) || !Number.isInteger(qp) || qn < 0 || qp < 0 || qn > lowest || qp > lowest - 1) {
    throw new RangeError(`${label}: codes [−${qn}, ${qp}] do not fit ${format} ([−${lowest}, ${lowest - 1}])`);
  }
}

export interface LsqQuantizeSpec {
  label: string;
  /** [rows, K] f32: the tensor to quantize (for HQ, already Hadamard-transformed). */
  x: Tensor;
  /** [1]: the learned step s (|s| is used: the official code keeps it positive, `QZ` lines 472–474). */
  step: Tensor;
  /** [rows, K] f32 out: v = x/|s|, kept for the backward (STE mask, ∇s). */
  v: Tensor;
  /** [rows, packedWordsPerRow(K, format)] u32 out: the codes packed for intMatmul. */
  codes: Tensor;
  rows: number;
  K: number;
  /** 'int4' (default): 8 nibbles per word; 'int8': 4 int8 lanes per word. */
  format?: CodeFormat;
  /** Code range [−qn, qp]. Defaults: INT4 [−8, 7] (Q_N, Q_P of the official code), INT8 [−127, 127]. */
  qn?: number;
  qp?: number;
}

/**
 * LSQ quantization (paper §3.1, spec §1; the official forward `FWD` lines 30–33):
 * v = x/|s|, code = clamp(round-half-away-from-zero(v), −qn, qp), written packed for intMatmul:
 * each row of K codes padded to a whole word with zero codes; INT4 code j of a row in bits 4·(j % 8)…
 * of its word (the official `(in[2i+1] << 4) | (in[2i] & 15)` order, 8 per word), INT8 code j in bits
 * 8·(j % 4)… (dot4I8Packed's lanes).
 */
export function lsqQuantize(k: Kernels, s: LsqQuantizeSpec): Dispatch {
  const format = s.format ?? 'int4';
  const qn = s.qn ?? (format === 'int4' ? Q_N : INT8_MAX);
  const qp = s.qp ?? (format === 'int4' ? Q_P : INT8_MAX);
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.K, 'K');
  codeRange(s.label, format, qn, qp);
  const words = packedWordsPerRow(s.K, format);
  need(s.label, s.x, s.rows * s.K, 'x');
  need(s.label, s.v, s.rows * s.K, 'v');
  need(s.label, s.codes, s.rows * words, 'codes');
  need(s.label, s.step, 1, 'step');
  return k.dispatch({
    shader: 'quantize',
    entry: `quantize_${format}`,
    label: s.label,
    uniforms: [s.rows, s.K, words, f32(qn), f32(qp)],
    bindings: [s.x, s.step, s.v, s.codes],
    workgroups: grid1d(s.rows * words),
  });
}

export interface DequantizeSpec {
  label: string;
  /** [rows, packedWordsPerRow(K, format)] packed codes (as lsqQuantize writes them). */
  codes: Tensor;
  /** [1]: the step s (|s| is used). */
  step: Tensor;
  /** [rows, K] f32 out: code · |s|. */
  out: Tensor;
  rows: number;
  K: number;
  format?: CodeFormat;
}

/** Dequantization, code · |s| (spec §1: X ≈ s_X · int_s(X)): fake quantization and tests. */
export function dequantize(k: Kernels, s: DequantizeSpec): Dispatch {
  const format = s.format ?? 'int4';
  positiveInteger(s.label, s.rows, 'rows');
  positiveInteger(s.label, s.K, 'K');
  const words = packedWordsPerRow(s.K, format);
  need(s.label, s.codes, s.rows * words, 'codes');
  need(s.label, s.out, s.rows * s.K, 'out');
  need(s.label, s.step, 1, 'step');
  return k.dispatch({
    shader: 'quantize',
    entry: `dequantize_${format}`,
    label: s.label,
    uniforms: [s.rows, s.K, words, f32(0), f32(0)],
    bindings: [s.codes, s.step, s.out],
    workgroups: grid1d(s.rows * s.K),
  });
}

/**
 * The LSQ initial step, s = 2·mean|x|/√qp + 1e-10 over all n values of x, written to step[0]
 * (official code `QZ` lines 604–615, on the first batch and over the Hadamard-transformed tensor; the
 * paper's cold start A.4). One workgroup reduces the whole tensor: meant for the first batch only.
 */
export function lsqInitStep(k: Kernels, label: string, x: Tensor, step: Tensor, n: number, qp: number = Q_P): Dispatch {
  positiveInteger(label, n, 'n');
  if (!(qp > 0)) throw new RangeError(`${label}: qp must be positive, got ${qp}`);
  need(label, x, n, 'x');
  need(label, step, 1, 'step');
  return k.dispatch({
    shader: 'quantize',
    entry: 'init_step',
    label,
    // The kernel reduces rows·K values: one row of n.
    uniforms: [1, n, 0, f32(0), f32(qp)],
    bindings: [x, step],
    workgroups: [1, 1, 1],
  });
}

/** 'subgroup-matrix': i8 subgroup matrices (tensor cores; shaders/intmatmul_sgmat.wgsl); 'dot4': WGSL
 *  dot4I8Packed (DP4a where the GPU has it); 'plain': i32 multiply-adds, runs everywhere. */
export const INT_MATMUL_PATHS = ['subgroup-matrix', 'dot4', 'plain'] as const;
export type IntMatmulPath = (typeof INT_MATMUL_PATHS)[number];

/** The integer paths this device can run, fastest first. */
export function intMatmulPaths(capabilities: Partial<Capabilities>): IntMatmulPath[] {
  const paths: IntMatmulPath[] = [];
  if (capabilities.subgroupMatrixI8) paths.push('subgroup-matrix');
  if (capabilities.packed4x8IntegerDotProduct) paths.push('dot4');
  paths.push('plain');
  return paths;
}

/** The fastest integer path the device offers (for a product of reduction length K, where given). */
export function intMatmulPath(capabilities: Partial<Capabilities>, K?: number, format: CodeFormat = 'int4'): IntMatmulPath {
  return intMatmulPaths(capabilities).find((p) => p !== 'subgroup-matrix' || K === undefined || subgroupMatrixFits(K, format))!;
}

/** The subgroup-matrix kernel reads code rows as 16-byte vectors: a row must be a whole number of them
 *  (K a multiple of 16 for INT8 codes, of 32 for INT4). */
export function subgroupMatrixFits(K: number, format: CodeFormat): boolean {
  return packedWordsPerRow(K, format) % 4 === 0;
}

/** How a path is named to the user. */
export function intMatmulPathName(path: IntMatmulPath): string {
  return path === 'subgroup-matrix' ? 'i8 subgroup matrices' : path === 'dot4' ? 'dot4I8Packed' : 'plain integer';
}

/** Output rows and columns per workgroup of each path's kernel. */
const INT_MATMUL_TILE: Record<IntMatmulPath, number> = { 'subgroup-matrix': SGMAT_TILE, dot4: 64, plain: 64 };

export interface IntMatmulSpec {
  label: string;
  /** [M, packedWordsPerRow(K, format)]: packed code rows of A (the forward's X), as lsqQuantize writes them. */
  a: Tensor;
  /** [N, packedWordsPerRow(K, format)]: packed code rows of B (the forward's W, [out, in] like nn.Linear). */
  b: Tensor;
  /** Step sizes of A and B (|s| is used), read on the GPU: element stepAAt / stepBAt (default 0). */
  stepA: Tensor;
  stepB: Tensor;
  stepAAt?: number;
  stepBAt?: number;
  /** [M], optional: multiplies row m of the product (before bias and accumulation). */
  rowScale?: Tensor | null;
  /** [M, N] f32 out. */
  c: Tensor;
  M: number;
  N: number;
  /** The logical reduction length (before padding to whole words). */
  K: number;
  format?: CodeFormat;
  bias?: Tensor | null;
  /** Extra factor on the product (default 1). */
  alpha?: number;
  /** C += result instead of C = result. */
  accumulate?: boolean;
  /** Default: the device's fastest (intMatmulPath(k.capabilities)). */
  path?: IntMatmulPath;
  /** The subgroup-matrix path's tiling; default: the one set for these kernels (setSubgroupMatrixTiling),
   *  else the single-subgroup kernel. */
  tiling?: SubgroupMatrixTiling;
  /** The dot4 path's generated tiling (ops/intmatmul-dot4.ts); default: the one chosen for these kernels,
   *  else the built-in kernel (src/shaders/intmatmul.wgsl). */
  dot4Tiling?: Dot4Tiling;
}

/** A kernel for the integer products: a path and, on the subgroup-matrix path or the dot4 path, its
 *  tiling (none: the path's built-in kernel). */
export interface IntMatmulChoice {
  path: IntMatmulPath;
  tiling?: SubgroupMatrixTiling;
  dot4Tiling?: Dot4Tiling;
}

/** The choice as plain data that identifies it (remembered tunings compare these). */
export function intChoiceKey(c: IntMatmulChoice): unknown[] {
  return c.dot4Tiling ? [c.path, c.tiling ?? null, c.dot4Tiling] : [c.path, c.tiling ?? null];
}

const intChoices = new WeakMap<Kernels, IntMatmulChoice>();

/** The kernel the integer products built on these kernels use by default (where it applies: a product
 *  whose K the subgroup-matrix path cannot take falls back as without a choice): only one that was checked
 *  against exact integer sums on this device (start-up tuning, ops/intmatmul-tune.ts). null: the fastest
 *  path the capabilities name, single-subgroup tiles. */
export function setIntMatmulChoice(k: Kernels, choice: IntMatmulChoice | null): void {
  if (choice) intChoices.set(k, choice);
  else intChoices.delete(k);
}

/** The tiling intMatmul uses on these kernels' subgroup-matrix path. */
export function subgroupMatrixTiling(k: Kernels): SubgroupMatrixTiling {
  return intChoices.get(k)?.tiling ?? SGMAT_BASE_TILING;
}

/** The path a product of reduction length K takes on these kernels: the spec's, else the chosen one where
 *  it applies, else the fastest the capabilities name. */
function defaultIntPath(k: Kernels, K: number, format: CodeFormat): IntMatmulPath {
  const chosen = intChoices.get(k)?.path;
  if (chosen && (chosen !== 'subgroup-matrix' || subgroupMatrixFits(K, format))) return chosen;
  return intMatmulPath(k.capabilities, K, format);
}

function isBaseTiling(t: SubgroupMatrixTiling): boolean {
  return t.subgroupsM === 1 && t.subgroupsN === 1 && t.sliceK === 32 && !t.doubleBuffer;
}

export { describeSgmatTiling };

/**
 * Integer matrix product with dequantization (paper §3.1/§3.3 HQ-MM steps 3–4, spec §1–2; the official
 * cutlass INT4 GEMM + `(s_x·s_w)·int32`, `FWD` lines 37–144):
 * C[M, N] = alpha·|s_A|·|s_B|·(A_q·B_qᵀ) (+ bias[n]) (+ C), the code products accumulated exactly in i32.
 */
export function intMatmul(k: Kernels, s: IntMatmulSpec): Dispatch {
  const format = s.format ?? 'int4';
  const path = s.path ?? defaultIntPath(k, s.K, format);
  positiveInteger(s.label, s.M, 'M');
  positiveInteger(s.label, s.N, 'N');
  positiveInteger(s.label, s.K, 'K');
  if (path === 'dot4' && k.capabilities.packed4x8IntegerDotProduct === false) {
    throw new Error(`${s.label}: the dot4 path needs the WGSL language feature packed_4x8_integer_dot_product`);
  }
  if (path === 'subgroup-matrix' && !k.capabilities.subgroupMatrixI8) {
    throw new Error(`${s.label}: the subgroup-matrix path needs chromium-experimental-subgroup-matrix with i8 16×16×32 tiles and subgroups of 32`);
  }
  if (path === 'subgroup-matrix' && !subgroupMatrixFits(s.K, format)) {
    throw new RangeError(`${s.label}: the subgroup-matrix path needs K a multiple of ${format === 'int8' ? 16 : 32}, got ${s.K}`);
  }
  // Exact i32 accumulation: K·max|code|² < 2^31.
  const maxProduct = format === 'int4' ? 64 : 128 * 128;
  if (s.K * maxProduct >= 2 ** 31) throw new RangeError(`${s.label}: K = ${s.K} could overflow the i32 accumulator`);
  const words = packedWordsPerRow(s.K, format);
  const tiling = path === 'subgroup-matrix' ? s.tiling ?? subgroupMatrixTiling(k) : SGMAT_BASE_TILING;
  const generated = path === 'subgroup-matrix' && !isBaseTiling(tiling);
  const dot4Tiling = path === 'dot4' ? s.dot4Tiling ?? intChoices.get(k)?.dot4Tiling : undefined;
  const tileM = dot4Tiling ? dot4Tiling.tileM : generated ? 64 * tiling.subgroupsM : INT_MATMUL_TILE[path];
  const tileN = dot4Tiling ? dot4Tiling.tileN : generated ? 64 * tiling.subgroupsN : INT_MATMUL_TILE[path];
  need(s.label, s.a, s.M * words, 'A codes');
  need(s.label, s.b, s.N * words, 'B codes');
  need(s.label, s.c, s.M * s.N, 'C');
  need(s.label, s.stepA, (s.stepAAt ?? 0) + 1, 'stepA');
  need(s.label, s.stepB, (s.stepBAt ?? 0) + 1, 'stepB');
  if (s.bias) need(s.label, s.bias, s.N, 'bias');
  if (s.rowScale) need(s.label, s.rowScale, s.M, 'rowScale');
  return k.dispatch({
    shader: dot4Tiling
      ? dot4IntMatmulShader(dot4Tiling, dot4Variant({ N: s.N, wordsPerRow: words, int8Codes: format === 'int8' }))
      : generated
      ? { name: sgmatTilingName(tiling, format === 'int8'), code: subgroupMatrixTiledWgsl({ int8Codes: format === 'int8', ...tiling }) }
      : path === 'subgroup-matrix' ? (format === 'int8' ? 'intmatmul_sgmat_int8' : 'intmatmul_sgmat_int4') : path === 'dot4' ? 'intmatmul' : 'intmatmul_plain',
    entry: 'main',
    label: s.label,
    constants: path === 'subgroup-matrix' || dot4Tiling ? {} : { INT8_CODES: format === 'int8', DOT4: path === 'dot4' },
    uniforms: [s.M, s.N, words, f32(s.alpha ?? 1), s.accumulate ? 1 : 0, s.bias ? 1 : 0, s.stepAAt ?? 0, s.stepBAt ?? 0, s.rowScale ? 1 : 0],
    bindings: [s.a, s.b, s.stepA, s.stepB, s.c, s.bias ?? k.placeholder, s.rowScale ?? k.placeholder],
    workgroups: [gridDim(s.label, Math.ceil(s.N / tileN), 'N'), gridDim(s.label, Math.ceil(s.M / tileM), 'M'), 1],
  });
}
