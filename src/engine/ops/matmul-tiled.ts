// WGSL of the f32 matrix product generated for one tile shape (issue "fast engine": register tiling,
// vector loads, double-buffered workgroup tiles, tile shapes autotuned per adapter by matmul-tune.ts).
//
// Same contract, uniforms and bindings as src/shaders/matmul.wgsl:
//   C = alpha · op(A) · op(B) (+ bias[n]) (+ C), batched over workgroup z with per-operand batch strides,
// correct for any M, N, K (partial tiles are zero-filled on load and masked on store).
//
// Structure, from what the earlier attempts taught on an H200 (docs/benchmarks.md, "Against the
// fast-engine issue's targets"):
// - Registers are named variables, never arrays indexed in loops (the NVIDIA driver put those in local
//   memory: 2.3 TFLOP/s). Each thread's threadM×threadN outputs are threadM·threadN/4 vec4 accumulators.
// - Workgroup tiles are held k-major as vec4 ([tileK][tileM/4] and [tileK][tileN/4]), the layout the inner
//   loop reads: per k step a thread reads threadM/4 + threadN/4 vec4s and issues threadM·threadN/4 vec4
//   FMAs. A thread's rows are threadM/4 strips of 4 spaced a whole thread-row apart (and likewise its
//   columns), so the threads of a subgroup read consecutive vec4s (no bank conflicts) or the same one
//   (a broadcast).
// - Storage is read as vec4 where the operand's contiguous dimension is a multiple of 4; an operand stored
//   contiguous along k (A in the NT and NN layouts, B in NT) is transposed as it is stored into the k-major
//   tile (four scalar stores, at worst 2-way bank conflicts for 8-deep slices), so the inner loop never
//   reads it strided.
// - Double buffering: the next k-slice is fetched into registers before the current one is multiplied and
//   stored into the other tile after it: one barrier per k step instead of two.
// - Optionally (warpN) the threads of each 32-wide subgroup form a compact warpN-wide block of the thread
//   grid (a second level of tiling: the subgroup's reads of A and B tiles overlap more).
// The code is small enough for a CPU Vulkan driver to compile in seconds: the k loop stays a loop unless
// unrollK asks otherwise.
import type { Dispatch, GeneratedShader, Kernels } from '../gpu/kernels';
import { f32 } from '../gpu/kernels';
import type { MatmulSpec } from './matmul';

export interface MatmulTileConfig {
  /** Output rows and columns per workgroup, and the depth of one k-slice. */
  tileM: number;
  tileN: number;
  tileK: number;
  /** Outputs per thread along M and N: multiples of 4 (strips of 4 rows / one vec4 of 4 columns). */
  threadM: number;
  threadN: number;
  /** Read storage as vec4 where the layout and the sizes allow (else scalar reads, chosen per dispatch). */
  vectorLoads: boolean;
  /** Two workgroup tiles: fetch the next k-slice while multiplying the current one, one barrier a step. */
  doubleBuffer: boolean;
  /** Threads of each 32-invocation subgroup laid along N (the rest of the 32 along M); omitted: threads in
   *  row-major order over the whole thread grid. */
  warpN?: number;
  /** Write the tileK steps of the inner loop out one by one instead of looping. */
  unrollK?: boolean;
}

/** What a dispatch specialises the code for besides the tile config: the layout, and which operands are
 *  read and written as vec4 (their contiguous dimension is a multiple of 4). */
export interface TiledMatmulVariant {
  transA: boolean;
  transB: boolean;
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
}

/** Tile configurations matmul-tune.ts tries (besides the built-in kernel). Sized for GPUs: the largest
 *  need 256 invocations and up to 32 KiB of workgroup memory; those over an adapter's limits are skipped. */
export const MATMUL_TILE_CANDIDATES: readonly MatmulTileConfig[] = [
  // The built-in kernel's shape with vector loads and double buffering added.
  { tileM: 64, tileN: 64, tileK: 16, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: true },
  // 8×4 / 4×8 / 8×8 per thread on 64-wide tiles: fewer threads per workgroup, more workgroups resident.
  { tileM: 64, tileN: 64, tileK: 8, threadM: 8, threadN: 4, vectorLoads: true, doubleBuffer: true },
  { tileM: 64, tileN: 64, tileK: 16, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: true },
  { tileM: 128, tileN: 64, tileK: 8, threadM: 8, threadN: 4, vectorLoads: true, doubleBuffer: true },
  { tileM: 64, tileN: 128, tileK: 8, threadM: 4, threadN: 8, vectorLoads: true, doubleBuffer: true },
  { tileM: 128, tileN: 64, tileK: 16, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: true },
  // 128×128, 8×8 per thread, 256 threads: the cuBLAS-like SGEMM shape, and what each feature adds to it.
  { tileM: 128, tileN: 128, tileK: 8, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: true },
  { tileM: 128, tileN: 128, tileK: 8, threadM: 8, threadN: 8, vectorLoads: false, doubleBuffer: true },
  { tileM: 128, tileN: 128, tileK: 8, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: false },
  { tileM: 128, tileN: 128, tileK: 8, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: true, warpN: 8 },
  { tileM: 128, tileN: 128, tileK: 8, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: true, unrollK: true },
  // The two that helped on the H200 (subgroup tiles: NN; the unrolled k loop: TN, 38.8 TFLOP/s), together.
  { tileM: 128, tileN: 128, tileK: 8, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: true, warpN: 8, unrollK: true },
  { tileM: 128, tileN: 128, tileK: 16, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: true, warpN: 8 },
];

/** A short id of the config, unique per config (it goes into the generated shader's name). */
export function tileConfigId(c: MatmulTileConfig): string {
  return (
    `${c.tileM}x${c.tileN}x${c.tileK}_t${c.threadM}x${c.threadN}` +
    `${c.vectorLoads ? '_v4' : ''}${c.doubleBuffer ? '_db' : ''}${c.warpN !== undefined ? `_w${c.warpN}` : ''}${c.unrollK ? '_u' : ''}`
  );
}

/** The config in words, for the user (the kernel-path string, the tuning table). */
export function describeTileConfig(c: MatmulTileConfig): string {
  const parts = [
    `${c.tileM}×${c.tileN} tile, ${c.tileK}-deep k-slices`,
    `${c.threadM}×${c.threadN} per thread (${threadCount(c)} threads)`,
    c.vectorLoads ? 'vec4 loads' : 'scalar loads',
    c.doubleBuffer ? 'double-buffered' : 'single-buffered',
  ];
  if (c.warpN !== undefined) parts.push(`subgroup tile ${32 / c.warpN}×${c.warpN} threads`);
  if (c.unrollK) parts.push('k loop unrolled');
  return parts.join(', ');
}

function threadCount(c: MatmulTileConfig): number {
  return (c.tileM / c.threadM) * (c.tileN / c.threadN);
}

/** Bytes of workgroup memory the config's tiles take. */
export function tileWorkgroupBytes(c: MatmulTileConfig): number {
  return (c.tileM + c.tileN) * c.tileK * 4 * (c.doubleBuffer ? 2 : 1);
}

/** The device limits a workgroup's shape and memory must fit (a GPUSupportedLimits has them). */
export interface WorkgroupLimits {
  readonly maxComputeInvocationsPerWorkgroup?: number;
  readonly maxComputeWorkgroupSizeX?: number;
  readonly maxComputeWorkgroupStorageSize?: number;
}

/** Why the config cannot be generated, or cannot run within `limits` (a device's limits); null if it can. */
export function tileConfigProblem(c: MatmulTileConfig, limits?: WorkgroupLimits): string | null {
  const ints = [c.tileM, c.tileN, c.tileK, c.threadM, c.threadN];
  if (!ints.every((v) => Number.isInteger(v) && v > 0)) return `tile sizes must be positive integers, got ${tileConfigId(c)}`;
  if (c.threadM % 4 || c.threadN % 4) return `outputs per thread must be multiples of 4, got ${c.threadM}×${c.threadN}`;
  if (c.tileM % c.threadM || c.tileN % c.threadN) return `the tile ${c.tileM}×${c.tileN} is not a whole number of ${c.threadM}×${c.threadN} thread tiles`;
  if (c.tileK % 4) return `tileK must be a multiple of 4, got ${c.tileK}`;
  const threads = threadCount(c);
  if (c.warpN !== undefined) {
    const tx = c.tileN / c.threadN;
    const ty = c.tileM / c.threadM;
    if (threads % 32 || 32 % c.warpN || tx % c.warpN || ty % (32 / c.warpN)) {
      return `a subgroup tile of ${32 / c.warpN}×${c.warpN} threads does not divide the ${ty}×${tx} thread grid`;
    }
  }
  if (limits) {
    const inv = Math.min(limits.maxComputeInvocationsPerWorkgroup ?? 256, limits.maxComputeWorkgroupSizeX ?? 256);
    if (threads > inv) return `${threads} threads per workgroup, the device allows ${inv}`;
    const bytes = tileWorkgroupBytes(c);
    const allowed = limits.maxComputeWorkgroupStorageSize ?? 16384;
    if (bytes > allowed) return `${bytes} bytes of workgroup memory, the device allows ${allowed}`;
  }
  return null;
}

/** The variant a product of these sizes runs: vec4 reads of an operand only where its contiguous dimension
 *  (and so its batch stride) is a multiple of 4, so every vec4 is aligned and wholly inside or outside. */
export function tiledVariant(c: MatmulTileConfig, s: { M: number; N: number; K: number; transA?: boolean; transB?: boolean }): TiledMatmulVariant {
  const transA = Boolean(s.transA);
  const transB = Boolean(s.transB);
  return {
    transA,
    transB,
    vecA: c.vectorLoads && (transA ? s.M : s.K) % 4 === 0,
    vecB: c.vectorLoads && (transB ? s.K : s.N) % 4 === 0,
    vecC: c.vectorLoads && s.N % 4 === 0,
  };
}

export function tiledShaderName(c: MatmulTileConfig, v: TiledMatmulVariant): string {
  const layout = `${v.transA ? 'T' : 'N'}${v.transB ? 'T' : 'N'}`;
  return `matmul_tiled_${tileConfigId(c)}_${layout}_a${v.vecA ? 4 : 1}b${v.vecB ? 4 : 1}c${v.vecC ? 4 : 1}`;
}

/** The slice loop of a generated tiled kernel (this file's f32 one and ops/intmatmul-dot4.ts): per slice of
 *  the reduction, load it from storage into registers, store it into the workgroup tile, multiply the tile.
 *  Single-buffered: load, store, barrier, multiply, barrier. Double-buffered: slice 0 goes into tile 0
 *  first; then each step loads slice s + 1, multiplies tile s % 2 and stores slice s + 1 into the other tile
 *  (last read before the previous barrier), one barrier a step; `cur` names the tile being multiplied. */
export interface StagedLoop {
  doubleBuffer: boolean;
  /** The loop header, e.g. `for (var k0 = 0u; k0 < p.K; k0 += 8u)`. */
  header: string;
  /** The current slice inside the loop, the next one, and whether there is a next one (WGSL expressions). */
  current: string;
  next: string;
  hasNext: string;
  /** Code for: registers ← storage slice `slice`; tile ← registers (the other tile: `other`); the products
   *  over the tile `cur` ('0u' single-buffered). */
  load(indent: string, slice: string): void;
  store(indent: string, other: boolean): void;
  compute(indent: string, cur: string): void;
}

export function emitStagedLoop(add: (line: string) => void, l: StagedLoop): void {
  if (!l.doubleBuffer) {
    add(`  ${l.header} {`);
    l.load('    ', l.current);
    l.store('    ', false);
    add('    workgroupBarrier();');
    l.compute('    ', '0u');
    add('    workgroupBarrier();');
    add('  }');
    return;
  }
  add('  // Slice 0 into tile 0; then each step fetches slice s + 1, multiplies tile s % 2, stores slice s + 1');
  add('  // into the other tile (last read before the previous barrier) and meets one barrier.');
  l.load('  ', '0u');
  l.store('  ', false);
  add('  workgroupBarrier();');
  add('  var cur = 0u;');
  add(`  ${l.header} {`);
  add(`    let has_next = ${l.hasNext};`);
  add('    if (has_next) {');
  l.load('      ', l.next);
  add('    }');
  l.compute('    ', 'cur');
  add('    if (has_next) {');
  l.store('      ', true);
  add('    }');
  add('    cur = 1u - cur;');
  add('    workgroupBarrier();');
  add('  }');
}

/** How a workgroup tile is split among its threads, as the generated f32 and dot4 kernels split it: each
 *  thread owns threadM×threadN outputs in strips of 4 rows (TY thread rows apart) and 4 columns (TX thread
 *  columns apart); the k-major workgroup tiles hold TM4 / TN4 vec4 per step of K. */
export interface ThreadTiling {
  TX: number;
  TY: number;
  TM4: number;
  TN4: number;
  /** Row strips and vec4 column strips per thread (threadM / 4, threadN / 4). */
  SM: number;
  SN: number;
}

export function threadTiling(t: { tileM: number; tileN: number; threadM: number; threadN: number }): ThreadTiling {
  return { TX: t.tileN / t.threadN, TY: t.tileM / t.threadM, TM4: t.tileM / 4, TN4: t.tileN / 4, SM: t.threadM / 4, SN: t.threadN / 4 };
}

/** A thread's operands for one step `k` of K: av0… (its row strips) from tile_a at `ca`, bv0… (its column
 *  strips) from tile_b at `cb`, as the f32 and dot4 kernels read their k-major tiles. */
export function tileOperandsWgsl(g: ThreadTiling, indent: string, k: string): string[] {
  const u = (n: number) => `${n}u`;
  const L: string[] = [];
  for (let s = 0; s < g.SM; s++) L.push(`${indent}let av${s} = tile_a[ca + ${k} * ${u(g.TM4)} + ${s ? `${u(s * g.TY)} + ` : ''}ty];`);
  for (let t = 0; t < g.SN; t++) L.push(`${indent}let bv${t} = tile_b[cb + ${k} * ${u(g.TN4)} + ${t ? `${u(t * g.TX)} + ` : ''}tx];`);
  return L;
}

/** One step `kk` of K of the f32 kernel's inner loop: the thread's vec4 of the k-major tiles (tile_a from
 *  `ca`, tile_b from `cb`, at thread position tx, ty — names the caller defines) and 4·SM × 4·SN fma into the
 *  named vec4 accumulators acc_i_t. Shared with the bench's ceiling of this loop (src/bench/ceilings.ts). */
export function f32StepWgsl(g: ThreadTiling, indent: string, kk: string): string[] {
  const comps = ['x', 'y', 'z', 'w'];
  const L = tileOperandsWgsl(g, indent, kk);
  for (let s = 0; s < g.SM; s++) {
    for (let r = 0; r < 4; r++) {
      const i = s * 4 + r;
      L.push(`${indent}${Array.from({ length: g.SN }, (_, t) => `acc_${i}_${t} = fma(vec4<f32>(av${s}.${comps[r]}), bv${t}, acc_${i}_${t});`).join(' ')}`);
    }
  }
  return L;
}

/** The WGSL module (entry `main`) for one config and variant. */
export function tiledMatmulShader(c: MatmulTileConfig, v: TiledMatmulVariant): GeneratedShader {
  const problem = tileConfigProblem(c);
  if (problem) throw new Error(`tiled matmul ${tileConfigId(c)}: ${problem}`);
  const { tileM, tileN, tileK, threadM, threadN } = c;
  const T = threadCount(c);
  const g = threadTiling(c);
  const { TX, TY, TM4, TN4, SM, SN } = g;
  const bufA = tileK * TM4; // vec4s of one A tile
  const bufB = tileK * TN4;
  const buffers = c.doubleBuffer ? 2 : 1;
  const u = (n: number) => `${n}u`;

  const L: string[] = [];
  const add = (s: string) => L.push(s);
  add(`// Generated by src/engine/ops/matmul-tiled.ts: ${describeTileConfig(c)}; A ${v.transA ? '[K, M]' : '[M, K]'}${v.vecA ? ' read as vec4' : ''}, B ${v.transB ? '[N, K]' : '[K, N]'}${v.vecB ? ' read as vec4' : ''}, C${v.vecC ? ' written as vec4' : ''}.`);
  add('struct Params {');
  add('  M: u32, N: u32, K: u32,');
  add('  batch_stride_a: u32, batch_stride_b: u32, batch_stride_c: u32,');
  add('  alpha: f32, accumulate: u32, has_bias: u32,');
  add('}');
  add('@group(0) @binding(0) var<uniform> p: Params;');
  add(`@group(0) @binding(1) var<storage, read> a: array<${v.vecA ? 'vec4<f32>' : 'f32'}>;`);
  add(`@group(0) @binding(2) var<storage, read> b: array<${v.vecB ? 'vec4<f32>' : 'f32'}>;`);
  add(`@group(0) @binding(3) var<storage, read_write> c: array<${v.vecC ? 'vec4<f32>' : 'f32'}>;`);
  add('@group(0) @binding(4) var<storage, read> bias: array<f32>;');
  add(`// k-major tiles of vec4: tile_a[k][m / 4], tile_b[k][n / 4]${buffers === 2 ? ', two of each' : ''}.`);
  add(`var<workgroup> tile_a: array<vec4<f32>, ${bufA * buffers}>;`);
  add(`var<workgroup> tile_b: array<vec4<f32>, ${bufB * buffers}>;`);
  add('');
  add(`@compute @workgroup_size(${T})`);
  add('fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {');
  add(`  let row0 = wg.y * ${u(tileM)};`);
  add(`  let col0 = wg.x * ${u(tileN)};`);
  add('  let a_base = wg.z * p.batch_stride_a;');
  add('  let b_base = wg.z * p.batch_stride_b;');
  add('  let c_base = wg.z * p.batch_stride_c;');
  if (c.warpN === undefined) {
    add(`  let tx = li % ${u(TX)};`);
    add(`  let ty = li / ${u(TX)};`);
  } else {
    const wn = c.warpN;
    const wm = 32 / wn;
    add(`  // Subgroup (32 invocations) s covers a ${wm}×${wn} block of the ${TY}×${TX} thread grid.`);
    add('  let lane = li % 32u;');
    add('  let sg = li / 32u;');
    add(`  let tx = (sg % ${u(TX / wn)}) * ${u(wn)} + lane % ${u(wn)};`);
    add(`  let ty = (sg / ${u(TX / wn)}) * ${u(wm)} + lane / ${u(wn)};`);
  }
  for (let i = 0; i < threadM; i++) for (let j = 0; j < SN; j++) add(`  var acc_${i}_${j} = vec4<f32>();`);

  // Staging of one k-slice: each thread fetches `loads` values (vec4 or scalar) of A and of B into named
  // registers, then stores them into the tile. The coordinates inside the slice do not depend on k0.
  type Operand = {
    name: 'a' | 'b';
    vec: boolean;
    /** Stored contiguous along k (so transposed as it is staged). */
    kContiguous: boolean;
    outer: number; // tileM or tileN
    outer4: number; // its vec4 count
    outerLimit: string; // p.M or p.N
    base: string;
    tile: string;
    buf: number;
  };
  const ops: Operand[] = [
    { name: 'a', vec: v.vecA, kContiguous: !v.transA, outer: tileM, outer4: TM4, outerLimit: 'p.M', base: 'a_base', tile: 'tile_a', buf: bufA },
    { name: 'b', vec: v.vecB, kContiguous: v.transB, outer: tileN, outer4: TN4, outerLimit: 'p.N', base: 'b_base', tile: 'tile_b', buf: bufB },
  ];
  const origin = (o: Operand) => (o.name === 'a' ? 'row0' : 'col0');
  // Values (vec4 or scalar) of a k-slice, loads per thread, and the condition under which a thread's
  // i-th load exists (when the values do not divide evenly among the threads: '' if every thread has it).
  const countOf = (o: Operand) => (o.outer * tileK) / (o.vec ? 4 : 1);
  const loadsOf = (o: Operand) => Math.ceil(countOf(o) / T);
  const guardOf = (o: Operand, i: number) => (T * (i + 1) > countOf(o) ? `li < ${u(countOf(o) - T * i)}` : '');
  for (const o of ops) {
    const per = o.vec ? 4 : 1;
    add(`  // ${o.name.toUpperCase()}: ${countOf(o)} ${o.vec ? 'vec4s' : 'scalars'} per k-slice, contiguous along ${o.kContiguous ? 'k' : o.name === 'a' ? 'm' : 'n'}.`);
    for (let i = 0; i < loadsOf(o); i++) {
      const idx = `li + ${u(T * i)}`;
      // kk: row of the slice; oo: position along M or N (first of 4 when the vec4 runs along it).
      if (o.kContiguous) {
        const kPer = tileK / per;
        add(`  let ${o.name}_oo${i} = (${idx}) / ${u(kPer)};`);
        add(`  let ${o.name}_kk${i} = ((${idx}) % ${u(kPer)})${o.vec ? ' * 4u' : ''};`);
      } else {
        const oPer = o.outer / per;
        add(`  let ${o.name}_kk${i} = (${idx}) / ${u(oPer)};`);
        add(`  let ${o.name}_oo${i} = ((${idx}) % ${u(oPer)})${o.vec ? ' * 4u' : ''};`);
      }
      add(`  var ${o.name}_r${i}: ${o.vec ? 'vec4<f32>' : 'f32'};`);
    }
  }
  const emitLoad = (indent: string, k0: string) => {
    for (const o of ops) {
      for (let i = 0; i < loadsOf(o); i++) {
        const g = `${origin(o)} + ${o.name}_oo${i}`;
        const gk = `${k0} + ${o.name}_kk${i}`;
        // Element index of (outer, k) in storage; a vec4 index is that / 4 (aligned: see tiledVariant).
        const at = o.kContiguous ? `${o.base} + (${g}) * p.K + ${gk}` : `${o.base} + (${gk}) * ${o.outerLimit} + ${g}`;
        const guard = guardOf(o, i);
        add(`${indent}${o.name}_r${i} = ${o.vec ? 'vec4<f32>()' : '0.0'};`);
        add(`${indent}if (${guard ? `${guard} && ` : ''}${g} < ${o.outerLimit} && ${gk} < p.K) { ${o.name}_r${i} = ${o.name}[${o.vec ? `(${at}) / 4u` : at}]; }`);
      }
    }
  };
  // `slot(o)`: the vec4 offset of the tile being filled.
  const emitStore = (indent: string, slot: (o: Operand) => string) => {
    for (const o of ops) {
      const buf = slot(o);
      for (let i = 0; i < loadsOf(o); i++) {
        const oo = `${o.name}_oo${i}`;
        const kk = `${o.name}_kk${i}`;
        const r = `${o.name}_r${i}`;
        const guard = guardOf(o, i);
        const open = guard ? `if (${guard}) { ` : '{ ';
        if (o.vec && !o.kContiguous) {
          add(`${indent}${open}${o.tile}[${buf} + ${kk} * ${u(o.outer4)} + ${oo} / 4u] = ${r}; }`);
        } else if (o.vec) {
          // Four k rows of one column: transposed into the k-major tile.
          add(`${indent}${open}let at = ${buf} + ${kk} * ${u(o.outer4)} + ${oo} / 4u; let q = ${oo} % 4u;`);
          add(`${indent}  ${['x', 'y', 'z', 'w'].map((comp, t) => `${o.tile}[at + ${u(t * o.outer4)}][q] = ${r}.${comp};`).join(' ')} }`);
        } else {
          add(`${indent}${open}${o.tile}[${buf} + ${kk} * ${u(o.outer4)} + ${oo} / 4u][${oo} % 4u] = ${r}; }`);
        }
      }
    }
  };
  const emitStep = (indent: string, kk: string) => {
    for (const line of f32StepWgsl(g, indent, kk)) add(line);
  };
  const emitCompute = (indent: string, cur: string) => {
    add(`${indent}let ca = ${cur === '0u' ? '0u' : `${cur} * ${u(bufA)}`};`);
    add(`${indent}let cb = ${cur === '0u' ? '0u' : `${cur} * ${u(bufB)}`};`);
    if (c.unrollK) {
      for (let kk = 0; kk < tileK; kk++) {
        add(`${indent}{`);
        emitStep(indent + '  ', u(kk));
        add(`${indent}}`);
      }
    } else {
      add(`${indent}for (var kk = 0u; kk < ${u(tileK)}; kk++) {`);
      emitStep(indent + '  ', 'kk');
      add(`${indent}}`);
    }
  };

  emitStagedLoop(add, {
    doubleBuffer: c.doubleBuffer,
    header: `for (var k0 = 0u; k0 < p.K; k0 += ${u(tileK)})`,
    current: 'k0',
    next: `k0 + ${u(tileK)}`,
    hasNext: `k0 + ${u(tileK)} < p.K`,
    load: emitLoad,
    store: (indent, other) => emitStore(indent, (o) => (other ? `(1u - cur) * ${u(o.buf)}` : '0u')),
    compute: emitCompute,
  });

  // Epilogue: thread row i = strip s, row r sits at s·(TY·4) + ty·4 + r of the tile; column strip t at
  // t·(TX·4) + tx·4.
  add('');
  for (let s = 0; s < SM; s++) {
    for (let r = 0; r < 4; r++) {
      const i = s * 4 + r;
      add(`  { let gm = row0 + ${s ? `${u(s * TY * 4)} + ` : ''}ty * 4u + ${u(r)};`);
      add('    if (gm < p.M) {');
      for (let t = 0; t < SN; t++) {
        const gn = `col0 + ${t ? `${u(t * TX * 4)} + ` : ''}tx * 4u`;
        if (v.vecC) {
          // N is a multiple of 4: the vec4 is wholly inside or outside.
          add(`      { let gn = ${gn}; if (gn < p.N) {`);
          add(`        let at = (c_base + gm * p.N + gn) / 4u;`);
          add(`        var o = p.alpha * acc_${i}_${t};`);
          add('        if (p.has_bias != 0u) { o += vec4<f32>(bias[gn], bias[gn + 1u], bias[gn + 2u], bias[gn + 3u]); }');
          add('        if (p.accumulate != 0u) { o += c[at]; }');
          add('        c[at] = o; } }');
        } else {
          // A copy (a value, not the accumulator itself) is indexed, so the accumulator stays a register.
          add(`      { let gn = ${gn}; let v = p.alpha * acc_${i}_${t};`);
          add('        for (var q = 0u; q < 4u; q++) { if (gn + q < p.N) { let at = c_base + gm * p.N + gn + q; var o = v[q];');
          add('          if (p.has_bias != 0u) { o += bias[gn + q]; } if (p.accumulate != 0u) { o += c[at]; } c[at] = o; } } }');
        }
      }
      add('    } }');
    }
  }
  add('}');
  return { name: tiledShaderName(c, v), code: L.join('\n') };
}

/** Generates the module of a (config, variant): tiledMatmulShader, or a replacement (tests corrupt it). */
export type TiledShaderGenerator = (c: MatmulTileConfig, v: TiledMatmulVariant) => GeneratedShader;

/** One product with the generated kernel of `config` (sizes already checked by ops/matmul.ts matmul). */
export function tiledMatmul(k: Kernels, s: MatmulSpec, config: MatmulTileConfig, generate: TiledShaderGenerator = tiledMatmulShader): Dispatch {
  if (s.f16) throw new Error(`${s.label}: the generated tiled matmul is f32 only (f16 products keep src/shaders/matmul.wgsl)`);
  const variant = tiledVariant(config, s);
  return k.dispatch({
    shader: generate(config, variant),
    entry: 'main',
    label: s.label,
    uniforms: [s.M, s.N, s.K, s.M * s.K, s.K * s.N, s.M * s.N, f32(s.alpha ?? 1), s.accumulate ? 1 : 0, s.bias ? 1 : 0],
    bindings: [s.a, s.b, s.c, s.bias ?? k.placeholder],
    workgroups: [Math.ceil(s.N / config.tileN), Math.ceil(s.M / config.tileM), s.batch ?? 1],
  });
}
