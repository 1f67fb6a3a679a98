// Matrix products as dispatches of src/shaders/matmul.wgsl, or of a generated tiled kernel
// (ops/matmul-tiled.ts) where start-up tuning (ops/matmul-tune.ts) found one faster for the layout.
import { Tensor } from '../tensor';
import { type Dispatch, f32, grid1d, type Kernels } from '../gpu/kernels';
import { sharedScratch } from '../gpu/scratch';
import { tiledMatmul } from './matmul-tiled';
import type { MatmulTuning } from './matmul-tune';

export interface MatmulSpec {
  label: string;
  /** op(A) is M×K: A is stored [M, K], or [K, M] when transA. */
  a: Tensor;
  /** op(B) is K×N: B is stored [K, N], or [N, K] when transB. */
  b: Tensor;
  c: Tensor;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  /** C += result instead of C = result. */
  accumulate?: boolean;
  bias?: Tensor | null;
  /** Independent products over consecutive slices (attention: one per batch and head). */
  batch?: number;
  /** Round both operands to binary16, ties to even (accumulation stays f32): held in f16 tiles with
   *  shader-f16 ('native') or in f32 tiles ('emulated'). Both give the same numbers. */
  f16?: F16Path;
}

export type F16Path = 'native' | 'emulated';

/** Storage layout of a product's operands: N = as stored, T = transposed (A [K, M], B [N, K]). The
 *  linear layers use NT (forward Y = X·Wᵀ), NN (∇X = ∇Y·W) and TN (∇W = ∇Yᵀ·X). */
export type MatmulLayout = 'NN' | 'NT' | 'TN' | 'TT';

export function matmulLayout(transA?: boolean, transB?: boolean): MatmulLayout {
  return `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}` as MatmulLayout;
}

const tunings = new WeakMap<Kernels, MatmulTuning>();

/** Makes every later `matmul` on `k` use the tuning's chosen tile config for its layout (f32 products
 *  that are not small); null goes back to the built-in kernels. Dispatches already built keep theirs. */
export function setMatmulTuning(k: Kernels, tuning: MatmulTuning | null): void {
  if (tuning) tunings.set(k, tuning);
  else tunings.delete(k);
}

export function matmulTuning(k: Kernels): MatmulTuning | undefined {
  return tunings.get(k);
}

function checkSizes(s: MatmulSpec): void {
  const batch = s.batch ?? 1;
  const need = (t: Tensor, n: number, what: string) => {
    if (t.size < n) throw new RangeError(`${s.label}: ${what} has ${t.size} values, needs ${n}`);
  };
  need(s.a, batch * s.M * s.K, 'A');
  need(s.b, batch * s.K * s.N, 'B');
  need(s.c, batch * s.M * s.N, 'C');
}

/** Past a quarter of a 64×64 tile wasted on either edge, the 16×16 kernel does less work. */
function isSmall(s: MatmulSpec): boolean {
  return s.M < 48 || s.N < 48;
}

export function matmul(k: Kernels, s: MatmulSpec): Dispatch {
  checkSizes(s);
  if (s.f16 === undefined && !isSmall(s)) {
    const config = tunings.get(k)?.layouts[matmulLayout(s.transA, s.transB)]?.chosen;
    if (config) return tiledMatmul(k, s, config);
  }
  return builtinMatmul(k, s);
}

/** The product on src/shaders/matmul.wgsl whatever the tuning (what tuning compares against). */
export function builtinMatmul(k: Kernels, s: MatmulSpec): Dispatch {
  checkSizes(s);
  const batch = s.batch ?? 1;
  const small = isSmall(s);
  const tile = small ? 16 : 64;
  if (s.f16 === 'native' && !k.capabilities.shaderF16) throw new Error(`${s.label}: native f16 needs the shader-f16 feature`);
  return k.dispatch({
    shader: s.f16 === 'native' ? 'matmul_f16' : 'matmul',
    entry: small ? 'main_small' : 'main',
    label: s.label,
    constants: {
      TRANS_A: Boolean(s.transA),
      TRANS_B: Boolean(s.transB),
      ROUND_F16: s.f16 !== undefined,
    },
    uniforms: [s.M, s.N, s.K, s.M * s.K, s.K * s.N, s.M * s.N, f32(s.alpha ?? 1), s.accumulate ? 1 : 0, s.bias ? 1 : 0],
    bindings: [s.a, s.b, s.c, s.bias ?? k.placeholder],
    workgroups: [Math.ceil(s.N / tile), Math.ceil(s.M / tile), batch],
  });
}

/** Output tiles below which a product leaves most of a large GPU idle (an H100/H200 has 132 SMs). */
const SPLIT_K_MIN_TILES = 512;
/** Reduction length each split keeps at least, and the most splits. */
const SPLIT_K_MIN_K = 256;
const SPLIT_K_MAX = 16;

/** How many K-splits a weight gradient of this shape gets (1: none). A power of two dividing K. Counted
 *  in the built-in kernel's 64×64 tiles even when a tuned tile config runs the product: limits.ts sizes
 *  the split-K scratch from this, before any tuning. */
export function weightGradientSplits(M: number, N: number, K: number): number {
  const tiles = Math.ceil(M / 64) * Math.ceil(N / 64);
  let splits = 1;
  while (splits * 2 <= SPLIT_K_MAX && tiles * splits * 2 <= SPLIT_K_MIN_TILES && K % (splits * 2) === 0 && K / (splits * 2) >= SPLIT_K_MIN_K) splits *= 2;
  return splits;
}

/**
 * ∇W = ∇Yᵀ·X (A = ∇Y stored [K, M], B = X stored [K, N], K the tokens): the product whose output is
 * small (M×N weights) and whose reduction is long (every token of the batch). With few output tiles
 * most of the GPU idles while each tile walks all K, so the tokens are split: each split is one batch
 * entry of the matmul kernel over a contiguous slab of K rows of both operands, writing partial sums
 * into scratch, and a second pass adds the splits in order (deterministic). Same numbers as one
 * product up to the order of the f32 additions.
 */
export function weightGradient(k: Kernels, s: Omit<MatmulSpec, 'transA' | 'transB' | 'batch' | 'bias'>): Dispatch[] {
  const splits = weightGradientSplits(s.M, s.N, s.K);
  if (splits === 1) return [matmul(k, { ...s, transA: true })];
  const Kc = s.K / splits;
  // Written by the product and read by the sum right after it: one buffer per shape for the whole model.
  const partials = sharedScratch(k, 'split_k.partials', [splits * s.M * s.N]);
  const product = matmul(k, { ...s, c: partials, K: Kc, transA: true, accumulate: false, batch: splits });
  const elements = s.M * s.N;
  return [
    product,
    k.dispatch({ shader: 'colsum', entry: 'sum_splits', label: `${s.label}.sum_splits`, uniforms: [elements, splits, 0, s.accumulate ? 1 : 0], bindings: [partials, s.c], workgroups: grid1d(elements) }),
  ];
}

/** ∇b = column sums of ∇Y [rows, cols]. */
export function biasBackward(k: Kernels, label: string, dy: Tensor, db: Tensor, rows: number, cols: number): Dispatch[] {
  return columnSums(k, label, { rows, cols, planes: 1 }, (partials) => ({ entry: 'sum_partial', bindings: [dy, partials] }), [db]);
}

/** Rows per workgroup of the first pass of a column sum (colsum.wgsl CHUNK) and columns per workgroup. */
const COLSUM_CHUNK = 256;
const COLSUM_COLS = 64;

/**
 * Two-pass column sums (src/shaders/colsum.wgsl): the first pass writes per-chunk partial sums of
 * `planes` quantities into scratch allocated here, the second adds them per column in chunk order into
 * `outs` (one tensor per plane). Deterministic. `first` names the first pass's entry and bindings.
 */
export function columnSums(
  k: Kernels,
  label: string,
  s: { rows: number; cols: number; planes: 1 | 2 },
  first: (partials: Tensor) => { entry: string; bindings: Tensor[] },
  outs: Tensor[],
): Dispatch[] {
  if (!Number.isInteger(s.rows) || s.rows < 1 || !Number.isInteger(s.cols) || s.cols < 1) {
    throw new RangeError(`${label}: rows and cols must be positive integers, got ${s.rows} and ${s.cols}`);
  }
  const chunks = Math.ceil(s.rows / COLSUM_CHUNK);
  if (chunks > 65535) throw new RangeError(`${label}: ${s.rows} rows need more than 65,535 chunks`);
  // Read by the second pass right after the first: shared by every column sum of this shape.
  const partials = sharedScratch(k, 'colsum.partials', [s.planes * chunks * s.cols]);
  const uniforms = [s.rows, s.cols, chunks, s.planes];
  const pass1 = first(partials);
  return [
    k.dispatch({ shader: 'colsum', entry: pass1.entry, label: `${label}.partial`, uniforms, bindings: pass1.bindings, workgroups: [Math.ceil(s.cols / COLSUM_COLS), chunks, 1] }),
    k.dispatch({ shader: 'colsum', entry: 'finish', label, uniforms, bindings: [partials, outs[0], outs[1] ?? k.placeholder], workgroups: [Math.ceil(s.cols / COLSUM_COLS), 1, 1] }),
  ];
}
