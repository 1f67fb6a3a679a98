// Integer operands for the INT4 backward products (src/shaders/gradcodes.wgsl), so LSS-MM's two products
// run on intMatmul like the forward (paper §4; the official code multiplies the bit-split halves with its
// INT4 GEMM wherever no 1/p reweighting sits on the reduction dimension):
//   'bitsplit' (every non-zero row kept, p = 1): ∇X = s↓·s_W·(G₈·W_qᵀ…) and ∇W = s↓·s_X·(G₈ᵀ·X_q) with
//              G₈ = 14·hi + lo (s↑ = 14·s↓): both products exact on integers.
//   'lss':     ∇X = s_W·(diag(w·s↑)·(hi·W_q) + diag(w'·s↓)·(lo·W_q)): two integer products with per-row
//              weights m/p (written with the probabilities, ops/lss.ts). ∇W reweights along its reduction
//              dimension (the tokens), which no integer product can carry: it stays an f32 product.
import { type Dispatch, f32, grid1d, type Kernels } from '../gpu/kernels';
import type { Tensor } from '../tensor';
import { packedWordsPerRow } from './quant';

/** Which codes pack_split writes: the whole split (14·hi + lo), or one half. */
export type SplitCodes = 'combined' | 'hi' | 'lo';
const SPLIT_MODE: Record<SplitCodes, number> = { combined: 0, hi: 1, lo: 2 };

function need(label: string, t: Tensor, n: number, what: string): void {
  if (t.size < n) throw new RangeError(`${label}: ${what} has ${t.size} values, needs ${n}`);
}

export interface PackSplitSpec {
  label: string;
  /** [rows, cols] f32: the bit split's codes (exact integers in [−6, 6]). */
  hi: Tensor;
  lo: Tensor;
  /** u32 out: splitCodeShape(rows, cols, transposed). */
  codes: Tensor;
  rows: number;
  cols: number;
  which: SplitCodes;
  /** Code row c holds column c (∇W reduces over the tokens). */
  transposed?: boolean;
}

/** [code rows, words] of packed INT8 split codes. */
export function splitCodeShape(rows: number, cols: number, transposed = false): [number, number] {
  return transposed ? [cols, packedWordsPerRow(rows, 'int8')] : [rows, packedWordsPerRow(cols, 'int8')];
}

export function packSplitCodes(k: Kernels, s: PackSplitSpec): Dispatch {
  const [codeRows, words] = splitCodeShape(s.rows, s.cols, s.transposed);
  need(s.label, s.hi, s.rows * s.cols, 'hi');
  need(s.label, s.lo, s.rows * s.cols, 'lo');
  need(s.label, s.codes, codeRows * words, 'codes');
  return k.dispatch({
    shader: 'gradcodes',
    entry: 'pack_split',
    label: s.label,
    constants: { TRANSPOSED: Boolean(s.transposed) },
    uniforms: [s.rows, s.cols, words, SPLIT_MODE[s.which], f32(0), f32(0)],
    bindings: [s.hi, s.lo, s.codes],
    workgroups: grid1d(codeRows * words),
  });
}

export interface PackLsqSpec {
  label: string;
  /** [rows, cols] f32: the forward's v = x/s (LSQ, ops/quant.ts lsqQuantize). */
  v: Tensor;
  /** u32 out: splitCodeShape(rows, cols, transposed) — the same int8-lane packing. */
  codes: Tensor;
  rows: number;
  cols: number;
  qn: number;
  qp: number;
  transposed?: boolean;
}

/** The forward's LSQ codes clamp(round(v), −Q_N, Q_P) again, as int8 lanes, usually transposed. */
export function packLsqCodes(k: Kernels, s: PackLsqSpec): Dispatch {
  const [codeRows, words] = splitCodeShape(s.rows, s.cols, s.transposed);
  need(s.label, s.v, s.rows * s.cols, 'v');
  need(s.label, s.codes, codeRows * words, 'codes');
  return k.dispatch({
    shader: 'gradcodes',
    entry: 'pack_lsq',
    label: s.label,
    constants: { TRANSPOSED: Boolean(s.transposed) },
    uniforms: [s.rows, s.cols, words, 0, f32(s.qn), f32(s.qp)],
    bindings: [s.v, s.codes],
    workgroups: grid1d(codeRows * words),
  });
}
