// Fused multi-head attention in the manner of FlashAttention (Dao et al., 2022, "FlashAttention: Fast and
// Memory-Efficient Exact Attention with IO-Awareness", Algorithm 1 for the forward; the backward as in
// FlashAttention-2, Dao 2023, §3.1.2): the scores S = q·kᵀ/√hs and probabilities P = softmax(mask(S)) of
// "Attention Is All You Need" §3.2.1 are never written to global memory. The forward keeps, per query row,
// only the log-sum-exp of its scaled, masked scores (lse); the backward recomputes P = exp(S − lse) from
// q, k and lse, block by block. For a model of d_model 2048 at batch 32×256 this drops the B·nh·T² scores
// and probabilities (1 GiB per layer) and the score gradients of the unfused path (ops/attention.ts).
//
// Layouts: 'heads' (as split_heads and cross-attention's rows_to_heads produce them): q, out, ∇out, ∇q
// are [B, nh, Tq, hs]; k, v, ∇k, ∇v are [B, nh, Tk, hs]. 'tokens' (self-attention in the models): the
// linear layers' own tensors, read and written in place — q, k, v inside qkv [B, T, 3C], out and ∇out
// [B, T, C], ∇q, ∇k, ∇v inside ∇qkv — so no relayout pass runs and no per-head copy is kept. lse is
// [B, nh, Tq] either way. Masks: causal (key s visible to
// query t iff s ≤ t; self-attention, Tq = Tk) and key padding (u32 keyLengths [B], keyLengthsForward:
// keys at or past a sequence's length are masked). Masked keys get probability exactly 0, so they add
// nothing to out and get exactly zero ∇k and ∇v.
//
// Kernels (WGSL generated per head size and block sizes). On a GPU the block loops are written out and every
// per-thread accumulator is a named vec4 variable, so that it stays in registers (the NVIDIA driver spills
// dynamically indexed private arrays to local memory); on CPU Vulkan drivers (lavapipe, SwiftShader) the same
// kernels are generated as loops over private arrays, which their LLVM compiles in a fraction of a second
// instead of minutes (FlashAttentionTuning.unroll; both styles are tested).
//   forward   one workgroup per (query block, head, sequence), one thread per query row. Key and value
//             blocks are staged in workgroup memory (≤ 16 KiB, so the defaults of every browser fit) and
//             read by all threads at once (broadcast); the online softmax (running max m, running sum l,
//             output rescaled by exp(m_old − m_new) when the max grows) runs per thread without any
//             cross-thread reduction. Causal workgroups stop at the key block holding their last query.
//   backward  1. rowstats: (lse·log₂e, D = Σ_d ∇out·out) per query row (FlashAttention-2's D).
//             2. ∇q: one thread per query row, key/value blocks staged as in the forward;
//                ∇q = Σ_s dS·k/√hs with dS = P∘(∇P − D), ∇P = ∇out·vᵀ.
//             3. ∇k, ∇v: one thread per key row, blocks of query rows (q, ∇out, rowstats) staged;
//                ∇v = Σ_t P·∇out, ∇k = Σ_t dS·q/√hs. Causal workgroups start at the query block of their
//                first key; workgroups whose keys are all padding skip the loop.
//             Each output row is owned by one thread: deterministic, no float atomics. P is recomputed in
//             passes 2 and 3 (FlashAttention-2 instead adds ∇q with atomics).
//   probs     P of one example [nh, Tq, Tk] from q, k and lse, for the page's attention maps.
// Exponentials are taken base 2 with log₂e folded into the score scale (exp(x) = 2^(x·log₂e)).
import type { Tensor } from '../tensor';
import { isCpuAdapter } from './matmul-tune';
import { type Dispatch, f32, type GeneratedShader, grid1d, type Kernels } from '../gpu/kernels';

/** The largest head size (d_model / nHead) the kernels are generated for. */
export const FLASH_ATTENTION_MAX_HEAD_SIZE = 128;

/** Workgroup memory the default block sizes stay within (WebGPU's default limit, which every browser
 *  offers; Dawn on Vulkan offers 32 KiB). */
const WORKGROUP_BYTES = 16384;

export interface FlashAttentionShape {
  B: number;
  nHead: number;
  /** Query positions. */
  Tq: number;
  /** Key positions (= Tq for self-attention). */
  Tk: number;
  /** Head size: d_model / nHead, 1 … 128. */
  hs: number;
  /** Key s is visible to query t only if s ≤ t (needs Tq = Tk). */
  causal: boolean;
}

/** Block sizes of the generated kernels (defaults from flashAttentionTuning; the bench may sweep them). */
export interface FlashAttentionTuning {
  /** Forward: threads per workgroup; each owns `rowsPerThread` query rows. */
  forwardThreads: number;
  /** Forward: query rows per thread (they share every staged key and value load). */
  rowsPerThread: number;
  /** Forward and ∇q: keys per staged block (also the number of score registers per row). */
  keyBlock: number;
  /** ∇q: threads (query rows) per workgroup. */
  gradQueryThreads: number;
  /** ∇k/∇v: threads (key rows) per workgroup. */
  gradKeyThreads: number;
  /** ∇k/∇v: query rows per staged block. */
  gradQueryBlock: number;
  /** Write the block loops out, each accumulator element a named variable (what a GPU wants: its driver
   *  keeps them in registers); else loops over private arrays, for CPU Vulkan drivers (lavapipe,
   *  SwiftShader), whose LLVM takes minutes to compile the unrolled kernels. */
  unroll: boolean;
}

const pow2Floor = (x: number) => 2 ** Math.floor(Math.log2(Math.max(1, x)));

/** vec4 chunks of a head row. */
const chunksOf = (hs: number) => Math.ceil(hs / 4);

/** ∇k/∇v accumulate at most 16 vec4 (64 values) of each per dispatch: larger heads are split into
 *  `parts` column ranges, each a workgroup of its own (the scores are recomputed in each). */
function gradKvParts(hs: number): { parts: number; partChunks: number; stagedChunks: number } {
  const H4 = chunksOf(hs);
  const parts = Math.ceil(H4 / 16);
  const partChunks = Math.ceil(H4 / parts);
  return { parts, partChunks, stagedChunks: partChunks * parts };
}

/**
 * Default block sizes for head size hs. Staged blocks stay within 16 KiB; per-thread registers stay near
 * or under 200 floats: forward o (hs) + scores (keyBlock); ∇q: ∇q (hs) + scores and ∇P (2·keyBlock);
 * ∇k/∇v: ∇k and ∇v (2·min(hs, 64)) + scores and ∇P (2·gradQueryBlock).
 */
export function flashAttentionTuning(hs: number, cpuAdapter = false): FlashAttentionTuning {
  const H4 = chunksOf(hs);
  const { stagedChunks } = gradKvParts(hs);
  // k and v blocks: 2 · keyBlock · H4 · 16 bytes.
  const keyBlock = Math.min(64, pow2Floor(WORKGROUP_BYTES / (32 * H4)));
  // q and ∇out blocks (2 · 16 bytes per chunk) and the rowstats (8 bytes) of each query row.
  const bySharedMemory = pow2Floor(WORKGROUP_BYTES / (32 * stagedChunks + 8));
  const byRegisters = pow2Floor((200 - 2 * Math.min(hs, 64)) / 2);
  const gradQueryBlock = Math.max(4, Math.min(64, bySharedMemory, byRegisters));
  return { forwardThreads: 64, rowsPerThread: 1, keyBlock, gradQueryThreads: 64, gradKeyThreads: 64, gradQueryBlock, unroll: !cpuAdapter };
}

/** Whether the device is a CPU implementation of the GPU (the fallback adapter, llvmpipe / lavapipe,
 *  SwiftShader), from GPUDevice.adapterInfo (absent in older implementations: then a GPU is assumed). */
export function isCpuDevice(device: GPUDevice): boolean {
  const info = (device as Partial<Pick<GPUDevice, 'adapterInfo'>>).adapterInfo;
  return info !== undefined && isCpuAdapter(info as unknown as Parameters<typeof isCpuAdapter>[0]);
}

/** Floats of the backward's scratch (rowstats: lse·log₂e and D per query row), shared by all layers. */
export function flashAttentionScratchFloats(s: Pick<FlashAttentionShape, 'B' | 'nHead' | 'Tq'>): number {
  return 2 * s.B * s.nHead * s.Tq;
}

/** Floats of one layer's lse [B, nh, Tq] (kept from forward for backward). */
export function flashAttentionLseFloats(s: Pick<FlashAttentionShape, 'B' | 'nHead' | 'Tq'>): number {
  return s.B * s.nHead * s.Tq;
}

// ---------------------------------------------------------------------------------------------------
// Checks (before any GPU work)

function checkShape(label: string, s: FlashAttentionShape): void {
  for (const key of ['B', 'nHead', 'Tq', 'Tk', 'hs'] as const) {
    const v = s[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${key} must be a positive integer, got ${v}`);
  }
  if (s.hs > FLASH_ATTENTION_MAX_HEAD_SIZE) {
    throw new Error(`${label}: head size ${s.hs} is over the fused attention's ${FLASH_ATTENTION_MAX_HEAD_SIZE}; use more heads (d_model / nHead ≤ ${FLASH_ATTENTION_MAX_HEAD_SIZE}) or the unfused attention`);
  }
  if (s.causal && s.Tq !== s.Tk) throw new Error(`${label}: a causal mask needs Tq = Tk (self-attention), got Tq ${s.Tq}, Tk ${s.Tk}`);
  if (s.nHead > 65535 || s.B > 65535) throw new Error(`${label}: at most 65,535 heads and sequences per dispatch, got nHead ${s.nHead}, B ${s.B}`);
}

function checkTensor(label: string, name: string, t: Tensor, n: number): void {
  if (t.size !== n) throw new Error(`${label}: ${name} has ${t.size} values, expected ${n} [${t.shape}]`);
}

/** Checks the shape, then the sizes of the head tensors: `queryRows` [B, nh, Tq, hs], `keyRows`
 *  [B, nh, Tk, hs], lse [B, nh, Tq] and keyLengths [B]. Token-major (self-attention only): q, k, v and
 *  their gradients are the whole [B, T, 3C] projection, out and ∇out [B, T, C]. */
function checkArgs(a: FlashAttentionArgs, queryRows: Record<string, Tensor>, keyRows: Record<string, Tensor>): void {
  checkShape(a.label, a);
  const heads = a.B * a.nHead;
  if (a.layout === 'tokens') {
    if (a.Tq !== a.Tk) throw new Error(`${a.label}: the token-major layout is for self-attention (Tq = Tk), got Tq ${a.Tq}, Tk ${a.Tk}`);
    const projection = new Set(['q', 'k', 'v', 'dq', 'dk', 'dv']);
    for (const [name, t] of [...Object.entries(queryRows), ...Object.entries(keyRows)]) checkTensor(a.label, name, t, heads * a.Tq * a.hs * (projection.has(name) ? 3 : 1));
  } else {
    for (const [name, t] of Object.entries(queryRows)) checkTensor(a.label, name, t, heads * a.Tq * a.hs);
    for (const [name, t] of Object.entries(keyRows)) checkTensor(a.label, name, t, heads * a.Tk * a.hs);
  }
  checkTensor(a.label, 'lse', a.lse, heads * a.Tq);
  if (a.keyLengths) checkTensor(a.label, 'keyLengths', a.keyLengths, a.B);
}

function checkTuning(k: Kernels, label: string, t: FlashAttentionTuning, hs: number): void {
  const maxThreads = k.device.limits.maxComputeInvocationsPerWorkgroup;
  for (const key of ['forwardThreads', 'rowsPerThread', 'keyBlock', 'gradQueryThreads', 'gradKeyThreads', 'gradQueryBlock'] as const) {
    if (!Number.isInteger(t[key]) || t[key] < 1) throw new Error(`${label}: tuning ${key} must be a positive integer, got ${t[key]}`);
  }
  for (const key of ['forwardThreads', 'gradQueryThreads', 'gradKeyThreads'] as const) {
    if (t[key] > maxThreads) throw new Error(`${label}: tuning ${key} ${t[key]} is over this device's ${maxThreads} invocations per workgroup`);
  }
  const maxShared = k.device.limits.maxComputeWorkgroupStorageSize;
  const H4 = chunksOf(hs);
  const kvBytes = 2 * t.keyBlock * H4 * 16;
  const qBytes = t.gradQueryBlock * (32 * gradKvParts(hs).stagedChunks + 8);
  if (kvBytes > maxShared || qBytes > maxShared) {
    throw new Error(`${label}: blocks of ${Math.max(kvBytes, qBytes)} bytes of workgroup memory are over this device's ${maxShared}; use smaller keyBlock / gradQueryBlock`);
  }
}

function resolveTuning(k: Kernels, label: string, hs: number, tuning: Partial<FlashAttentionTuning> | undefined): FlashAttentionTuning {
  const t = { ...flashAttentionTuning(hs, isCpuDevice(k.device)), ...tuning };
  checkTuning(k, label, t, hs);
  return t;
}

// ---------------------------------------------------------------------------------------------------
// WGSL generation

/** A u32 index in generated code: `e` is its WGSL expression, `n` its value where the code is unrolled
 *  (NaN inside a loop). */
interface Idx {
  e: string;
  n: number;
}
const lit = (n: number): Idx => ({ e: `${n}u`, n });

/** a·i + b as a WGSL u32 expression (folded to a literal when i is known). */
function lin(i: Idx, a: number, b: number | string = 0): string {
  if (Number.isFinite(i.n) && typeof b === 'number') return `${a * i.n + b}u`;
  const ai = a === 1 ? i.e : `${i.e} * ${a}u`;
  if (typeof b === 'number') return b === 0 ? `(${ai})` : `(${ai} + ${b}u)`;
  return `(${ai} + ${b})`;
}

/**
 * Emits WGSL in one of two styles from the same description: `unroll` writes every loop over a block
 * out and keeps each accumulator element in a named variable (registers on a GPU); otherwise the loops
 * stay loops over private arrays (compact code, for CPU Vulkan drivers whose compilers take minutes over
 * the unrolled kernels).
 */
class Emitter {
  private readonly lines: string[] = [];
  private readonly dims = new Map<string, number[]>();
  constructor(readonly unroll: boolean) {}

  add(line: string): void {
    this.lines.push(line);
  }

  /** A zero-initialised accumulator of shape `dims`. */
  decl(indent: string, name: string, type: string, dims: number[]): void {
    this.dims.set(name, dims);
    if (!this.unroll) {
      // An explicit zero value: inside a loop the array must restart at 0 on every iteration.
      const n = dims.reduce((x, y) => x * y, 1);
      this.add(`${indent}var ${name} = array<${type}, ${n}>();`);
      return;
    }
    const walk = (prefix: string, rest: number[]) => {
      if (rest.length === 0) return this.add(`${indent}var ${prefix} = ${type}();`);
      for (let i = 0; i < rest[0]; i++) walk(`${prefix}${prefix === name ? '' : '_'}${i}`, rest.slice(1));
    };
    walk(name, dims);
  }

  /** Element `idx` of accumulator `name`. */
  at(name: string, ...idx: Idx[]): string {
    const dims = this.dims.get(name);
    if (!dims || dims.length !== idx.length) throw new Error(`generator: ${name} has no shape [${idx.length}]`);
    if (this.unroll) return `${name}${idx.map((i) => i.n).join('_')}`;
    let flat = idx[0].e;
    for (let d = 1; d < idx.length; d++) flat = `(${flat}) * ${dims[d]}u + ${idx[d].e}`;
    return `${name}[${flat}]`;
  }

  /** The bound of a loop of n iterations. In the looped style it is not a compile-time constant
   *  (p.loop_zero is 0): LLVM would otherwise unroll the loops and promote the arrays to registers, which
   *  is the code that takes lavapipe minutes to compile. */
  bound(n: number): string {
    return this.unroll ? `${n}u` : `${n}u + p.loop_zero`;
  }

  /** body(i) for i = 0 … n − 1: written out n times, or inside a loop over `v`. */
  each(indent: string, n: number, v: string, body: (i: Idx, indent: string) => void): void {
    if (this.unroll) {
      for (let i = 0; i < n; i++) body(lit(i), indent);
      return;
    }
    this.add(`${indent}for (var ${v} = 0u; ${v} < ${this.bound(n)}; ${v}++) {`);
    body({ e: v, n: NaN }, `${indent}  `);
    this.add(`${indent}}`);
  }

  code(): string {
    return this.lines.join('\n');
  }
}

type Access = 'read' | 'read_write';

/** Where a tensor's head rows live in token-major storage [B, T, width·C] (C = nh·hs): head h of token t
 *  at column part·C + h·hs. q, k, v are parts 0, 1, 2 of the qkv projection's output (width 3); the
 *  attention output and its gradient are [B, T, C] (width 1, part 0). `T` names the row count uniform. */
interface TokenPlace {
  width: 1 | 3;
  part: 0 | 1 | 2;
  T: 'Tq' | 'Tk';
}

/** The element where row r = head·T + t (head = b·nh + h) of a token-major tensor starts. */
const TOKEN_ROW_FN = (hs: number) => `fn token_row(r: u32, T: u32, width: u32, part: u32) -> u32 {
  let head = r / T;
  let C = p.nh * ${hs}u;
  return ((head / p.nh) * T + r % T) * width * C + part * C + (head % p.nh) * ${hs}u;
}`;

/** A head-row tensor binding: array<vec4<f32>> when hs is a multiple of 4 (16-byte loads), else
 *  array<f32> read and written one value at a time, padded to whole vec4 chunks with zeros. Rows are
 *  [B, nh, T, hs] (row r at r·hs), or token-major where `places` say (one accessor pair per place: a
 *  binding may hold several of the tensors, e.g. ∇k and ∇v inside ∇qkv). */
function rowTensor(hs: number, binding: number, name: string, access: Access, places: Record<string, TokenPlace> | null = null): string {
  const H4 = chunksOf(hs);
  const rw = access === 'read_write';
  const accessors = places ?? { [name]: null };
  const start = (place: TokenPlace | null) => (place ? `token_row(r, p.${place.T}, ${place.width}u, ${place.part}u)` : `r * ${hs}u`);
  if (hs % 4 === 0) {
    // hs, C and the part offsets are multiples of 4: every row starts on a vec4.
    return [
      `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<vec4<f32>>;`,
      ...Object.entries(accessors).flatMap(([tensor, place]) => [
        `fn ld_${tensor}(r: u32, c: u32) -> vec4<f32> { return ${name}[${start(place)} / 4u + c]; }`,
        ...(rw ? [`fn st_${tensor}(r: u32, c: u32, x: vec4<f32>) { ${name}[${start(place)} / 4u + c] = x; }`] : []),
      ]),
    ].join('\n');
  }
  // The values of chunk c that lie inside the row (the rest of the last chunk reads as 0, is never written).
  const inRow = (stmt: (comp: string, i: number) => string) =>
    ['x', 'y', 'z', 'w'].map((comp, i) => `  if (4u * c + ${i}u < ${hs}u) { ${stmt(comp, i)} }`);
  return [
    `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<f32>;`,
    ...Object.entries(accessors).flatMap(([tensor, place]) => {
      const at = `  let at = ${start(place)} + 4u * c;`;
      return [
        `fn ld_${tensor}(r: u32, c: u32) -> vec4<f32> {`,
        at,
        '  var x = vec4<f32>();',
        ...inRow((comp, i) => `x.${comp} = ${name}[at + ${i}u];`),
        '  return x;',
        '}',
        ...(rw ? [`fn st_${tensor}(r: u32, c: u32, x: vec4<f32>) {`, at, ...inRow((comp, i) => `${name}[at + ${i}u] = x.${comp};`), '}'] : []),
      ];
    }),
  ].join('\n');
}

/** One binding of a kernel: its WGSL declarations, given its binding number. */
type Binding = (binding: number, hs: number) => string;
/** A head-row tensor with accessors ld_<name> (and st_<name>), see rowTensor; token-major where `place`
 *  is given. */
const headRows = (name: string, access: Access = 'read', place: TokenPlace | null = null): Binding => (n, hs) =>
  rowTensor(hs, n, name, access, place ? { [name]: place } : null);
/** One token-major binding holding several head-row tensors (∇k and ∇v in ∇qkv: one writable binding, as
 *  writable bindings of a dispatch may not overlap). */
const tokenRows = (name: string, access: Access, places: Record<string, TokenPlace>): Binding => (n, hs) => rowTensor(hs, n, name, access, places);
/** A plain storage array. */
const storage = (name: string, type: string, access: Access = 'read'): Binding => (n) =>
  `@group(0) @binding(${n}) var<storage, ${access}> ${name}: array<${type}>;`;
/** The key padding lengths (u32 [B]) and key_end(b): keys of sequence b that any query may see, 1 … Tk
 *  (key 0 always counts). */
const keyPadding: Binding = (n, hs) => `${storage('key_lengths', 'u32')(n, hs)}
fn key_end(b: u32) -> u32 {
  if (p.has_lengths == 0u) { return p.Tk; }
  return clamp(key_lengths[b], 1u, p.Tk);
}`;

/** The uniforms (the fields of uniforms() below, unless given) at binding 0, then `bindings` numbered
 *  1, 2, … in the order the ops bind them. */
function declarations(hs: number, bindings: Binding[], params = 'nh: u32, Tq: u32, Tk: u32, causal: u32, has_lengths: u32, scale_log2: f32, scale: f32, example: u32, loop_zero: u32'): string {
  return [`struct Params { ${params} }`, '@group(0) @binding(0) var<uniform> p: Params;', TOKEN_ROW_FN(hs), ...bindings.map((b, i) => b(i + 1, hs))].join('\n');
}

/** The places of q, k, v (and their gradients) and of out (and ∇out) where the kernels read the linear
 *  layers' token-major tensors directly; null: all [B, nh, T, hs]. */
function tokenPlaces(tokens: boolean) {
  if (!tokens) return { q: null, k: null, v: null, o: null };
  return {
    q: { width: 3, part: 0, T: 'Tq' } as TokenPlace,
    k: { width: 3, part: 1, T: 'Tk' } as TokenPlace,
    v: { width: 3, part: 2, T: 'Tk' } as TokenPlace,
    o: { width: 1, part: 0, T: 'Tq' } as TokenPlace,
  };
}

/** The entry point of a kernel run as one workgroup per (block, head, sequence): the head's first query
 *  and key rows and the keys of its sequence that any query may see. */
function headBlockMain(g: Emitter, threads: number): void {
  g.add(`
@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let b = wg.z;
  let head = b * p.nh + wg.y;
  let q_rows = head * p.Tq;
  let k_rows = head * p.Tk;
  let k_end = key_end(b);`);
}

/** The entry point of a kernel run as one thread per value i < count, over grid1d's workgroups of `size`. */
function gridMain(size: number, i: string, count: string): string {
  return `@compute @workgroup_size(${size})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let ${i} = gid.x + gid.y * nwg.x * ${size}u;
  if (${i} >= ${count}) { return; }`;
}

/** `acc += a·b` over the chunks of two head rows, a loop (p.loop_zero: see Emitter.bound). */
const rowDot = (H4: number, acc: string, a: string, ra: string, b: string, rb: string) =>
  `for (var c = 0u; c < ${H4}u + p.loop_zero; c++) { ${acc} += dot(ld_${a}(${ra}, c), ld_${b}(${rb}, c)); }`;

/** Keys visible to a query under the causal mask: those before `end` and before k_end; all before k_end without it. */
const causalKeyEnd = (end: string) => `select(k_end, min(k_end, ${end}), p.causal != 0u)`;

/** The loop variable `c` over the chunks of a head row. */
const C: Idx = { e: 'c', n: NaN };

/** Chunk c (plus the WGSL `offset`) of staged row i, in a block of `stride` chunks a row; folded to a
 *  literal where both are known. */
function blockAt(i: Idx, stride: number, c: Idx, offset = ''): string {
  if (!offset && Number.isFinite(i.n) && Number.isFinite(c.n)) return `${i.n * stride + c.n}u`;
  return `${lin(i, stride)} + ${offset}${c.e}`;
}

/** `var x_<t> = ld_<t>(row, c)` for each tensor t where `cond` holds, else zeros. */
function loadChunks(g: Emitter, indent: string, cond: string, row: string, c: string, tensors: string[]): void {
  for (const t of tensors) g.add(`${indent}var x_${t} = vec4<f32>();`);
  g.add(`${indent}if (${cond}) { ${tensors.map((t) => `x_${t} = ld_${t}(${row}, ${c});`).join(' ')} }`);
}

/** Forward and ∇q: workgroup memory kt, vt for blocks of BC key and value rows, the entry point, the
 *  workgroup's first query q0 and its key bound block_end. */
function keyBlockMain(g: Emitter, H4: number, BC: number, threads: number, queriesPerGroup: number): void {
  g.add(`var<workgroup> kt: array<vec4<f32>, ${BC * H4}>;\nvar<workgroup> vt: array<vec4<f32>, ${BC * H4}>;`);
  headBlockMain(g, threads);
  g.add(`  let q0 = wg.x * ${queriesPerGroup}u;`);
  g.add('  // A causal block needs no key past its last query.');
  g.add(`  let block_end = ${causalKeyEnd(`q0 + ${queriesPerGroup}u`)};`);
}

/** Forward and ∇q: the loop over key blocks kb; body runs once rows kb … kb + BC − 1 of k and v are
 *  staged in kt, vt (zeros past the visible keys). */
function keyBlockLoop(g: Emitter, H4: number, BC: number, threads: number, body: () => void): void {
  g.add(`  for (var kb = 0u; kb < block_end; kb += ${BC}u) {
    workgroupBarrier(); // the previous block is consumed
    for (var e = li; e < ${BC * H4}u; e += ${threads}u) {
      let kk = kb + e / ${H4}u;`);
  loadChunks(g, '      ', 'kk < k_end', 'k_rows + kk', `e % ${H4}u`, ['k', 'v']);
  g.add(`      kt[e] = x_k;
      vt[e] = x_v;
    }
    workgroupBarrier();`);
  body();
  g.add('  }');
}

/** ∇q and ∇k/∇v: the scores s = q·k and ∇P = ∇out·v of this thread's row (tensors `own`, loaded where
 *  `ownOk`) against each of the n rows staged in `staged` (stride chunks a row). */
function blockScores(g: Emitter, H4: number, n: number, stride: number, ownOk: string, ownRow: string, own: [string, string], staged: [string, string]): void {
  g.decl('    ', 's', 'f32', [n]);
  g.decl('    ', 'dp', 'f32', [n]);
  g.add(`    for (var c = 0u; c < ${g.bound(H4)}; c++) {`);
  loadChunks(g, '      ', ownOk, ownRow, 'c', own);
  g.each('      ', n, 'i', (i, I) => {
    g.add(`${I}${g.at('s', i)} += dot(x_${own[0]}, ${staged[0]}[${blockAt(i, stride, C)}]);`);
    g.add(`${I}${g.at('dp', i)} += dot(x_${own[1]}, ${staged[1]}[${blockAt(i, stride, C)}]);`);
  });
  g.add('    }');
}

function forwardWgsl(hs: number, t: FlashAttentionTuning, tokens = false): string {
  const H4 = chunksOf(hs);
  const BC = t.keyBlock;
  const W = t.forwardThreads;
  const R = t.rowsPerThread;
  const g = new Emitter(t.unroll);
  const add = (s: string) => g.add(s);
  /** Query row r of this thread. */
  const row = (r: Idx) => `(q0 + li + ${lin(r, W)})`;
  const at = tokenPlaces(tokens);
  add(declarations(hs, [headRows('q', 'read', at.q), headRows('k', 'read', at.k), headRows('v', 'read', at.v), headRows('o', 'read_write', at.o), storage('lse', 'f32', 'read_write'), keyPadding]));
  keyBlockMain(g, H4, BC, W, W * R);
  g.decl('  ', 'lim', 'u32', [R]); // keys 0 … lim − 1 are visible to the row
  g.decl('  ', 'm', 'f32', [R]); // running max of the row's scores (log₂ units)
  g.decl('  ', 'l', 'f32', [R]); // running Σ 2^(s − m)
  g.decl('  ', 'o', 'vec4<f32>', [R, H4]); // running Σ 2^(s − m)·v
  g.each('  ', R, 'r', (r, I) => {
    add(`${I}${g.at('lim', r)} = ${causalKeyEnd(`${row(r)} + 1u`)};`);
    add(`${I}${g.at('m', r)} = -3.0e38;`);
  });
  keyBlockLoop(g, H4, BC, W, () => {
    g.decl('    ', 's', 'f32', [R, BC]);
    add(`    for (var c = 0u; c < ${g.bound(H4)}; c++) {`);
    g.decl('      ', 'qx', 'vec4<f32>', [R]);
    g.each('      ', R, 'r', (r, I) => add(`${I}if (${row(r)} < p.Tq) { ${g.at('qx', r)} = ld_q(q_rows + ${row(r)}, c); }`));
    g.each('      ', BC, 'j', (j, I) => {
      add(`${I}{`);
      add(`${I}  let kx = kt[${blockAt(j, H4, C)}];`);
      g.each(`${I}  `, R, 'r', (r, I2) => add(`${I2}${g.at('s', r, j)} += dot(${g.at('qx', r)}, kx);`));
      add(`${I}}`);
    });
    add('    }');
    add('    // Online softmax: scale and mask the block\'s scores, raise the running max, rescale what was summed.');
    g.each('    ', R, 'r', (r, I) => {
      add(`${I}{`);
      add(`${I}  var mb = ${g.at('m', r)};`);
      g.each(`${I}  `, BC, 'j', (j, I2) => {
        add(`${I2}${g.at('s', r, j)} = select(-3.0e38, ${g.at('s', r, j)} * p.scale_log2, kb + ${j.e} < ${g.at('lim', r)});`);
        add(`${I2}mb = max(mb, ${g.at('s', r, j)});`);
      });
      add(`${I}  let alpha = exp2(${g.at('m', r)} - mb);`);
      add(`${I}  ${g.at('m', r)} = mb;`);
      add(`${I}  var ps = 0.0;`);
      g.each(`${I}  `, BC, 'j', (j, I2) => {
        add(`${I2}${g.at('s', r, j)} = select(0.0, exp2(${g.at('s', r, j)} - mb), kb + ${j.e} < ${g.at('lim', r)}); // P (unnormalised)`);
        add(`${I2}ps += ${g.at('s', r, j)};`);
      });
      add(`${I}  ${g.at('l', r)} = ${g.at('l', r)} * alpha + ps;`);
      g.each(`${I}  `, H4, 'c', (c, I2) => add(`${I2}${g.at('o', r, c)} *= alpha;`));
      add(`${I}}`);
    });
    g.each('    ', BC, 'j', (j, I) => {
      g.each(I, H4, 'c', (c, I2) => {
        add(`${I2}{`);
        add(`${I2}  let vx = vt[${blockAt(j, H4, c)}];`);
        g.each(`${I2}  `, R, 'r', (r, I3) => add(`${I3}${g.at('o', r, c)} += ${g.at('s', r, j)} * vx;`));
        add(`${I2}}`);
      });
    });
  });
  g.each('  ', R, 'r', (r, I) => {
    add(`${I}if (${row(r)} < p.Tq) {`);
    add(`${I}  let inv = 1.0 / ${g.at('l', r)};`);
    g.each(`${I}  `, H4, 'c', (c, I2) => add(`${I2}st_o(q_rows + ${row(r)}, ${c.e}, ${g.at('o', r, c)} * inv);`));
    add(`${I}  lse[q_rows + ${row(r)}] = (${g.at('m', r)} + log2(${g.at('l', r)})) * ${Math.LN2};`);
    add(`${I}}`);
  });
  add('}');
  return g.code();
}

/** Pass 1 of the backward: rowstats[r] = (lse·log₂e, Σ_d ∇out·out). */
function rowstatsWgsl(hs: number, tokens = false): string {
  const at = tokenPlaces(tokens);
  return [
    declarations(hs, [headRows('o', 'read', at.o), headRows('dout', 'read', at.o), storage('lse', 'f32'), storage('rowstats', 'vec2<f32>', 'read_write')], 'rows: u32, loop_zero: u32, nh: u32, Tq: u32'),
    gridMain(64, 'r', 'p.rows'),
    '  var d = 0.0;',
    `  ${rowDot(chunksOf(hs), 'd', 'dout', 'r', 'o', 'r')}`,
    `  rowstats[r] = vec2<f32>(lse[r] * ${Math.LOG2E}, d);`,
    '}',
  ].join('\n');
}

/** Pass 2: ∇q, one thread per query row, key/value blocks staged. */
function gradQWgsl(hs: number, t: FlashAttentionTuning, tokens = false): string {
  const H4 = chunksOf(hs);
  const BC = t.keyBlock;
  const W = t.gradQueryThreads;
  const g = new Emitter(t.unroll);
  const add = (s: string) => g.add(s);
  const at = tokenPlaces(tokens);
  add(declarations(hs, [headRows('q', 'read', at.q), headRows('k', 'read', at.k), headRows('v', 'read', at.v), headRows('dout', 'read', at.o), storage('rowstats', 'vec2<f32>'), headRows('dq', 'read_write', at.q), keyPadding]));
  keyBlockMain(g, H4, BC, W, W);
  add('  let t = q0 + li;');
  add(`  let lim = ${causalKeyEnd('t + 1u')};`);
  add('  let q_ok = t < p.Tq;');
  add('  var st = vec2<f32>(); // (lse·log₂e, D)');
  add('  if (q_ok) { st = rowstats[q_rows + t]; }');
  g.decl('  ', 'g', 'vec4<f32>', [H4]);
  keyBlockLoop(g, H4, BC, W, () => {
    blockScores(g, H4, BC, H4, 'q_ok', 'q_rows + t', ['q', 'dout'], ['kt', 'vt']);
    add('    // dS = P∘(∇P − D) with P = 2^(s·scale·log₂e − lse·log₂e), 0 where masked (kept in s).');
    g.each('    ', BC, 'j', (j, I) => {
      add(`${I}${g.at('s', j)} = select(0.0, exp2(${g.at('s', j)} * p.scale_log2 - st.x), kb + ${j.e} < lim) * (${g.at('dp', j)} - st.y);`);
    });
    g.each('    ', BC, 'j', (j, I) => {
      g.each(I, H4, 'c', (c, I2) => add(`${I2}${g.at('g', c)} += ${g.at('s', j)} * kt[${blockAt(j, H4, c)}];`));
    });
  });
  add('  if (q_ok) {');
  g.each('    ', H4, 'c', (c, I) => add(`${I}st_dq(q_rows + t, ${c.e}, ${g.at('g', c)} * p.scale);`));
  add('  }');
  add('}');
  return g.code();
}

/** Pass 3: ∇k and ∇v, one thread per key row, blocks of query rows staged; columns split in parts for
 *  heads over 64 (workgroup x = key block · parts + part). */
function gradKvWgsl(hs: number, t: FlashAttentionTuning, tokens = false): string {
  const H4 = chunksOf(hs);
  const { parts, partChunks: PC, stagedChunks: H4S } = gradKvParts(hs);
  const BQ = t.gradQueryBlock;
  const W = t.gradKeyThreads;
  const g = new Emitter(t.unroll);
  const add = (s: string) => g.add(s);
  const at = tokenPlaces(tokens);
  // Token-major, ∇k and ∇v are two parts of ∇qkv: one binding (binding 6), and the key lengths move up.
  const gradOut = at.k && at.v ? [tokenRows('dkv', 'read_write', { dk: at.k, dv: at.v })] : [headRows('dk', 'read_write'), headRows('dv', 'read_write')];
  add(declarations(hs, [headRows('q', 'read', at.q), headRows('k', 'read', at.k), headRows('v', 'read', at.v), headRows('dout', 'read', at.o), storage('rowstats', 'vec2<f32>'), ...gradOut, keyPadding]));
  add(`var<workgroup> qt: array<vec4<f32>, ${BQ * H4S}>;`);
  add(`var<workgroup> dt: array<vec4<f32>, ${BQ * H4S}>;`);
  add(`var<workgroup> rs: array<vec2<f32>, ${BQ}>;`);
  headBlockMain(g, W);
  add(`  let k0 = (wg.x / ${parts}u) * ${W}u;`);
  add(`  let c0 = (wg.x % ${parts}u) * ${PC}u; // this workgroup's columns: chunks c0 … c0 + ${PC - 1}`);
  add('  let j = k0 + li;');
  add('  let causal = p.causal != 0u;');
  add("  // Queries before the block's first key see none of its keys (causal); padding keys are seen by none.");
  add(`  let q_start = select(0u, (k0 / ${BQ}u) * ${BQ}u, causal);`);
  add('  let q_end = select(0u, p.Tq, k0 < k_end);');
  add('  let k_ok = j < k_end;');
  add('  // Key j is visible to queries q_lo … q_hi − 1.');
  add('  let q_lo = select(0u, j, causal);');
  add('  let q_hi = select(0u, p.Tq, k_ok);');
  g.decl('  ', 'gk', 'vec4<f32>', [PC]);
  g.decl('  ', 'gv', 'vec4<f32>', [PC]);
  add(`  for (var qb = q_start; qb < q_end; qb += ${BQ}u) {`);
  add('    workgroupBarrier();');
  add(`    for (var e = li; e < ${BQ * H4S}u; e += ${W}u) {`);
  add(`      let tt = qb + e / ${H4S}u;`);
  add(`      let c = e % ${H4S}u;`);
  loadChunks(g, '      ', `tt < p.Tq${H4S > H4 ? ` && c < ${H4}u` : ''}`, 'q_rows + tt', 'c', ['q', 'dout']);
  add('      qt[e] = x_q;');
  add('      dt[e] = x_dout;');
  add('    }');
  add(`    for (var e = li; e < ${BQ}u; e += ${W}u) {`);
  add('      var x = vec2<f32>();');
  add('      if (qb + e < p.Tq) { x = rowstats[q_rows + qb + e]; }');
  add('      rs[e] = x;');
  add('    }');
  add('    workgroupBarrier();');
  blockScores(g, H4, BQ, H4S, 'k_ok', 'k_rows + j', ['k', 'v'], ['qt', 'dt']);
  add('    // P (kept in s) and dS = P∘(∇P − D) (kept in dp); 0 where masked.');
  g.each('    ', BQ, 'i', (i, I) => {
    add(`${I}{`);
    add(`${I}  let r = rs[${i.e}];`);
    add(`${I}  let pr = select(0.0, exp2(${g.at('s', i)} * p.scale_log2 - r.x), (qb + ${i.e} >= q_lo) & (qb + ${i.e} < q_hi));`);
    add(`${I}  ${g.at('s', i)} = pr;`);
    add(`${I}  ${g.at('dp', i)} = pr * (${g.at('dp', i)} - r.y);`);
    add(`${I}}`);
  });
  // With one part the staged offsets are constants.
  const col = (i: Idx, c: Idx) => blockAt(i, H4S, c, parts === 1 ? '' : 'c0 + ');
  g.each('    ', BQ, 'i', (i, I) => {
    g.each(I, PC, 'c', (c, I2) => {
      add(`${I2}${g.at('gv', c)} += ${g.at('s', i)} * dt[${col(i, c)}];`);
      add(`${I2}${g.at('gk', c)} += ${g.at('dp', i)} * qt[${col(i, c)}];`);
    });
  });
  add('  }');
  add('  if (j < p.Tk) {');
  g.each('    ', PC, 'c', (c, I) => {
    const guard = H4S > H4 ? `if (c0 + ${c.e} < ${H4}u) ` : '';
    add(`${I}${guard}{ st_dk(k_rows + j, c0 + ${c.e}, ${g.at('gk', c)} * p.scale); st_dv(k_rows + j, c0 + ${c.e}, ${g.at('gv', c)}); }`);
  });
  add('  }');
  add('}');
  return g.code();
}

/** P of one example: probs[h, t, s] = 2^(q·k·scale·log₂e − lse·log₂e), 0 where masked. */
function probsWgsl(hs: number, tokens = false): string {
  const at = tokenPlaces(tokens);
  return [
    declarations(hs, [headRows('q', 'read', at.q), headRows('k', 'read', at.k), storage('lse', 'f32'), storage('probs', 'f32', 'read_write'), keyPadding]),
    gridMain(256, 'i', 'p.nh * p.Tq * p.Tk'),
    '  let s = i % p.Tk;',
    '  let t = (i / p.Tk) % p.Tq;',
    '  let head = p.example * p.nh + i / (p.Tk * p.Tq);',
    '  let visible = (s < key_end(p.example)) & ((p.causal == 0u) | (s <= t));',
    '  var x = 0.0;',
    '  if (visible) {',
    '    var dot_qk = 0.0;',
    `    ${rowDot(chunksOf(hs), 'dot_qk', 'q', 'head * p.Tq + t', 'k', 'head * p.Tk + s')}`,
    `    x = exp2(dot_qk * p.scale_log2 - lse[head * p.Tq + t] * ${Math.LOG2E});`,
    '  }',
    '  probs[i] = x;',
    '}',
  ].join('\n');
}

/** Generated modules, keyed by everything their code depends on. */
const tuningKey = (t: FlashAttentionTuning) =>
  `w${t.forwardThreads}r${t.rowsPerThread}bc${t.keyBlock}gq${t.gradQueryThreads}gk${t.gradKeyThreads}gb${t.gradQueryBlock}${t.unroll ? 'u' : 'l'}`;
const moduleCache = new Map<string, GeneratedShader>();
function shader(name: string, make: () => string): GeneratedShader {
  let s = moduleCache.get(name);
  if (!s) {
    s = { name, code: make() };
    moduleCache.set(name, s);
  }
  return s;
}

/** The generated WGSL of every kernel for head size hs (for tests and inspection). */
export function flashAttentionWgsl(hs: number, tuning: Partial<FlashAttentionTuning> = {}, layout: FlashAttentionLayout = 'heads'): Record<'forward' | 'rowstats' | 'gradQ' | 'gradKv' | 'probs', string> {
  const t = { ...flashAttentionTuning(hs), ...tuning };
  const tokens = layout === 'tokens';
  return { forward: forwardWgsl(hs, t, tokens), rowstats: rowstatsWgsl(hs, tokens), gradQ: gradQWgsl(hs, t, tokens), gradKv: gradKvWgsl(hs, t, tokens), probs: probsWgsl(hs, tokens) };
}

function uniforms(s: FlashAttentionShape, hasLengths: boolean, example = 0) {
  const scale = 1 / Math.sqrt(s.hs);
  return [s.nHead, s.Tq, s.Tk, s.causal ? 1 : 0, hasLengths ? 1 : 0, f32(scale * Math.LOG2E), f32(scale), example, 0];
}

// ---------------------------------------------------------------------------------------------------
// Ops

/** Where the head rows live: 'heads' (default) [B, nh, T, hs] tensors of their own; 'tokens' the linear
 *  layers' token-major tensors read and written in place (self-attention): q, k, v are the qkv projection
 *  [B, T, 3C] (pass it as each of them), out and ∇out [B, T, C], and ∇q, ∇k, ∇v land in ∇qkv [B, T, 3C]
 *  (pass it as each of them) — no split or merge pass, and no per-head copies. */
export type FlashAttentionLayout = 'heads' | 'tokens';

/** What every op takes: the shape, q, k, lse and the key padding. */
export interface FlashAttentionArgs extends FlashAttentionShape {
  label: string;
  layout?: FlashAttentionLayout;
  /** [B, nh, Tq, hs] */
  q: Tensor;
  /** [B, nh, Tk, hs] */
  k: Tensor;
  /** [B, nh, Tq]: log Σ_s exp(q·k_s/√hs) over the visible keys s; the forward writes it, the backward
   *  and the probabilities read it. */
  lse: Tensor;
  /** u32 [B], keyLengthsForward: keys at or past a sequence's length are masked (1 … Tk). */
  keyLengths?: Tensor | null;
}

export interface FlashAttentionForwardArgs extends FlashAttentionArgs {
  /** [B, nh, Tk, hs] */
  v: Tensor;
  /** [B, nh, Tq, hs]: softmax(mask(q·kᵀ/√hs))·v */
  out: Tensor;
  tuning?: Partial<FlashAttentionTuning>;
}

/** out and lse from q, k, v in one dispatch. */
export function flashAttentionForward(k: Kernels, a: FlashAttentionForwardArgs): Dispatch {
  checkArgs(a, { q: a.q, out: a.out }, { k: a.k, v: a.v });
  const { B, nHead, Tq, hs } = a;
  const t = resolveTuning(k, a.label, hs, a.tuning);
  const blocks = Math.ceil(Tq / (t.forwardThreads * t.rowsPerThread));
  if (blocks > 65535) throw new Error(`${a.label}: ${Tq} queries make ${blocks} query blocks, over 65,535`);
  const tokens = a.layout === 'tokens';
  return k.dispatch({
    shader: shader(`flash_attention_forward_hs${hs}_${tuningKey(t)}${tokens ? '_tokens' : ''}`, () => forwardWgsl(hs, t, tokens)),
    entry: 'main',
    label: a.label,
    uniforms: uniforms(a, Boolean(a.keyLengths)),
    bindings: [a.q, a.k, a.v, a.out, a.lse, a.keyLengths ?? k.placeholder],
    workgroups: [blocks, nHead, B],
  });
}

export interface FlashAttentionBackwardArgs extends FlashAttentionArgs {
  v: Tensor;
  /** The forward's out. */
  out: Tensor;
  /** ∇out [B, nh, Tq, hs] */
  dOut: Tensor;
  /** Outputs: ∇q [B, nh, Tq, hs], ∇k and ∇v [B, nh, Tk, hs] (overwritten). */
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
  /** flashAttentionScratchFloats(shape) floats, shared by all layers. */
  scratch: Tensor;
  tuning?: Partial<FlashAttentionTuning>;
}

/** ∇q, ∇k, ∇v from q, k, v, out, lse and ∇out: three dispatches (rowstats, ∇q, ∇k/∇v). */
export function flashAttentionBackward(k: Kernels, a: FlashAttentionBackwardArgs): Dispatch[] {
  checkArgs(a, { q: a.q, out: a.out, dOut: a.dOut, dq: a.dq }, { k: a.k, v: a.v, dk: a.dk, dv: a.dv });
  const { B, nHead, Tq, Tk, hs } = a;
  const tokens = a.layout === 'tokens';
  if (tokens && (a.dk !== a.dv || a.dq !== a.dk)) throw new Error(`${a.label}: token-major, ∇q, ∇k and ∇v are the one ∇qkv tensor`);
  if (a.scratch.size < flashAttentionScratchFloats(a)) throw new Error(`${a.label}: scratch has ${a.scratch.size} values, needs flashAttentionScratchFloats = ${flashAttentionScratchFloats(a)}`);
  const t = resolveTuning(k, a.label, hs, a.tuning);
  const qBlocks = Math.ceil(Tq / t.gradQueryThreads);
  const kvGroups = Math.ceil(Tk / t.gradKeyThreads) * gradKvParts(hs).parts;
  if (qBlocks > 65535 || kvGroups > 65535) throw new Error(`${a.label}: Tq ${Tq} / Tk ${Tk} make over 65,535 blocks`);
  const rows = B * nHead * Tq;
  // The rowstats view of the scratch: exactly 2 floats per query row.
  const rowstats = { buffer: a.scratch.buffer, offset: a.scratch.offsetBytes, size: 8 * rows };
  const lengths = a.keyLengths ?? k.placeholder;
  const u = uniforms(a, Boolean(a.keyLengths));
  const tk = `${tuningKey(t)}${tokens ? '_tokens' : ''}`;
  return [
    k.dispatch({
      shader: shader(`flash_attention_rowstats_hs${hs}${tokens ? '_tokens' : ''}`, () => rowstatsWgsl(hs, tokens)),
      entry: 'main',
      label: `${a.label}.rowstats`,
      uniforms: [rows, 0, nHead, Tq],
      bindings: [a.out, a.dOut, a.lse, rowstats],
      workgroups: grid1d(rows, 64),
    }),
    k.dispatch({
      shader: shader(`flash_attention_grad_q_hs${hs}_${tk}`, () => gradQWgsl(hs, t, tokens)),
      entry: 'main',
      label: `${a.label}.dq`,
      uniforms: u,
      bindings: [a.q, a.k, a.v, a.dOut, rowstats, a.dq, lengths],
      workgroups: [qBlocks, nHead, B],
    }),
    k.dispatch({
      shader: shader(`flash_attention_grad_kv_hs${hs}_${tk}`, () => gradKvWgsl(hs, t, tokens)),
      entry: 'main',
      label: `${a.label}.dkv`,
      uniforms: u,
      bindings: tokens ? [a.q, a.k, a.v, a.dOut, rowstats, a.dk, lengths] : [a.q, a.k, a.v, a.dOut, rowstats, a.dk, a.dv, lengths],
      workgroups: [kvGroups, nHead, B],
    }),
  ];
}

export interface FlashAttentionProbsArgs extends FlashAttentionArgs {
  /** Output: the attention probabilities of sequence `example`, [nh, Tq, Tk] at its start (it may be
   *  larger, e.g. a buffer shared by every layer's map). */
  probs: Tensor;
  /** Which sequence of the batch (default 0, the row attention maps write their example to). */
  example?: number;
}

/** The probabilities of one example, recomputed from q, k and lse (for attention maps: the fused
 *  forward keeps no P). Rows sum to 1 over the visible keys; masked keys are exactly 0. */
export function flashAttentionProbs(k: Kernels, a: FlashAttentionProbsArgs): Dispatch {
  checkArgs(a, { q: a.q }, { k: a.k });
  const { B, nHead, Tq, Tk, hs } = a;
  const example = a.example ?? 0;
  if (!Number.isInteger(example) || example < 0 || example >= B) throw new Error(`${a.label}: example ${example} is not a sequence of the batch (0 … ${B - 1})`);
  if (a.probs.size < nHead * Tq * Tk) throw new Error(`${a.label}: probs has ${a.probs.size} values, needs at least nHead·Tq·Tk = ${nHead * Tq * Tk}`);
  const tokens = a.layout === 'tokens';
  return k.dispatch({
    shader: shader(`flash_attention_probs_hs${hs}${tokens ? '_tokens' : ''}`, () => probsWgsl(hs, tokens)),
    entry: 'main',
    label: a.label,
    uniforms: uniforms(a, Boolean(a.keyLengths), example),
    bindings: [a.q, a.k, a.lse, a.probs, a.keyLengths ?? k.placeholder],
    workgroups: grid1d(nHead * Tq * Tk),
  });
}
