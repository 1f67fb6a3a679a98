// Matrix products as dispatches of src/shaders/matmul.wgsl.
import { Tensor } from '../tensor';
import { type Dispatch, f32, type Kernels } from '../gpu/kernels';

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

export function matmul(k: Kernels, s: MatmulSpec): Dispatch {
  const batch = s.batch ?? 1;
  const need = (t: Tensor, n: number, what: string) => {
    if (t.size < n) throw new RangeError(`${s.label}: ${what} has ${t.size} values, needs ${n}`);
  };
  need(s.a, batch * s.M * s.K, 'A');
  need(s.b, batch * s.K * s.N, 'B');
  need(s.c, batch * s.M * s.N, 'C');
  // Past a quarter of a 64×64 tile wasted on either edge, the 16×16 kernel does less work.
  const small = s.M < 48 || s.N < 48;
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
  const partials = k.memory.tensor([s.planes * chunks * s.cols], `${label}.partials`);
  const uniforms = [s.rows, s.cols, chunks, s.planes];
  const pass1 = first(partials);
  return [
    k.dispatch({ shader: 'colsum', entry: pass1.entry, label: `${label}.partial`, uniforms, bindings: pass1.bindings, workgroups: [Math.ceil(s.cols / COLSUM_COLS), chunks, 1] }),
    k.dispatch({ shader: 'colsum', entry: 'finish', label, uniforms, bindings: [partials, outs[0], outs[1] ?? k.placeholder], workgroups: [Math.ceil(s.cols / COLSUM_COLS), 1, 1] }),
  ];
}
