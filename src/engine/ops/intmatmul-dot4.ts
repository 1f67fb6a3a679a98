// WGSL of the integer matrix product on dot4I8Packed, generated for one tiling (issue "fast engine": the
// dot4I8Packed path is what a browser without subgroup matrices runs, and the built-in 64×64 kernel of
// src/shaders/intmatmul.wgsl reached 64–75 TOP/s at 4096³ on an H200 and an H100 against a target of 100).
//
// Same contract, uniforms and bindings as src/shaders/intmatmul.wgsl:
//   C[M, N] = alpha·|s_A|·|s_B|·r[m]·(A_q·B_qᵀ) (+ bias[n]) (+ C)
// with A_q [M, K] and B_q [N, K] packed code rows (INT8: 4 codes per word; INT4: 8 nibbles per word,
// widened to int8 lanes as they are staged, which is exact). Correct for any M, N, K: rows past the matrix
// and words past the row are staged as zero codes, outputs past it are not stored.
//
// The structure is the f32 kernel's (ops/matmul-tiled.ts) with int8x4 words in place of floats. On an H100
// (docs/benchmarks.md, "dot4I8Packed in generated tilings") the 4×4-per-thread tilings reach 84–89 TOP/s
// against 63–75 for the built-in kernel, while 8×8 per thread, the f32 kernel's best, runs slower here:
// - each thread owns threadM×threadN outputs as named vec4<i32> accumulators (arrays indexed in loops end
//   up in local memory on NVIDIA's driver), in strips of 4 rows and 4 columns spaced a thread row apart,
//   so the threads of a subgroup read consecutive 16-byte words of the workgroup tiles or the same one;
// - the workgroup tiles are k-major, [word of K][row / 4] as vec4<u32> (the words of four rows): per word
//   of K a thread reads threadM/4 + threadN/4 vectors and issues threadM·threadN dot4I8Packed — 4 codes
//   each, against 1 per FMA in the f32 kernel, so the staged slices run 4× as deep in K;
// - storage is read as 16-byte vectors where a row is a whole number of them (K a multiple of 16 for INT8
//   codes, of 32 for INT4), two neighbouring invocations covering 32 consecutive bytes of a row;
// - optionally double-buffered: the next slice is fetched into registers before the current one is
//   multiplied and stored into the other tile after it (one barrier per slice instead of two).
import type { GeneratedShader } from '../gpu/kernels';
import { int4ToInt8x4Wgsl } from './intmatmul-sgmat';
import { type ThreadTiling, type WorkgroupLimits, emitStagedLoop, threadTiling, tileOperandsWgsl } from './matmul-tiled';

export interface Dot4Tiling {
  /** Output rows and columns per workgroup. */
  tileM: number;
  tileN: number;
  /** Outputs per invocation along M and N: multiples of 4. */
  threadM: number;
  threadN: number;
  /** int8x4 words (4 codes) of K per staged slice: a multiple of 8 (one 16-byte vector of INT4 codes). */
  sliceWords: number;
  doubleBuffer: boolean;
  /** Each output's accumulator a scalar i32 (acc += dot4I8Packed(a, b), the form the GPU's dot-product
   *  instruction with an accumulator input matches directly) rather than a lane of a vec4 that adds a vec4
   *  of four products; the same sums either way. */
  scalarAccumulators?: boolean;
}

/** The tilings the start-up tuning and `npm run bench -- --int-tilings` try besides the built-in kernel:
 *  the best of 17 timed on an H100 at 4096³ (2026-12-05, docs/benchmarks.md "dot4I8Packed in generated
 *  tilings"), where every 4×4-per-thread tiling with 64- or 128-code slices ran at 84–89 TOP/s against 63–75
 *  for the built-in kernel, and larger thread tiles, deeper double-buffered slices or 8×8 per thread ran
 *  slower (51–63); one 128×128 tiling stays for GPUs whose registers favour it. These run at 99.5% of their
 *  inner loop's ceiling on an H100 (`npm run bench -- --sections ceilings`, docs/benchmarks.md "session 11"). */
export const DOT4_TILINGS: readonly Dot4Tiling[] = [
  { tileM: 64, tileN: 64, threadM: 4, threadN: 4, sliceWords: 16, doubleBuffer: false },
  { tileM: 64, tileN: 64, threadM: 4, threadN: 4, sliceWords: 32, doubleBuffer: false },
  { tileM: 32, tileN: 64, threadM: 4, threadN: 4, sliceWords: 16, doubleBuffer: false },
  { tileM: 64, tileN: 32, threadM: 4, threadN: 4, sliceWords: 16, doubleBuffer: false },
  { tileM: 64, tileN: 64, threadM: 4, threadN: 4, sliceWords: 16, doubleBuffer: true },
  { tileM: 128, tileN: 128, threadM: 8, threadN: 8, sliceWords: 16, doubleBuffer: false },
];

/** Tilings only `npm run bench -- --int-tilings` times, kept as the record of a hypothesis a GPU refuted: the
 *  scalar-accumulator form (`acc += dot4I8Packed(a, b)` per output rather than vec4 lanes) of the best 4×4
 *  tilings and of the larger thread tiles ran within ±0.5% of the vec4 form on an H100 (88.7 vs 88.4 TOP/s
 *  at 64×64; 53–63 for 4×8, 8×4 and 8×8 as before), and so did its inner loop alone (89.3 vs 89.4):
 *  the driver folds the vec4 form's add into the instruction too (docs/benchmarks.md "session 11"). */
export const DOT4_EXPERIMENTAL_TILINGS: readonly Dot4Tiling[] = [
  { tileM: 64, tileN: 64, threadM: 4, threadN: 4, sliceWords: 16, doubleBuffer: false, scalarAccumulators: true },
  { tileM: 32, tileN: 64, threadM: 4, threadN: 4, sliceWords: 16, doubleBuffer: false, scalarAccumulators: true },
  { tileM: 64, tileN: 64, threadM: 4, threadN: 4, sliceWords: 32, doubleBuffer: false, scalarAccumulators: true },
  { tileM: 64, tileN: 128, threadM: 4, threadN: 8, sliceWords: 16, doubleBuffer: false, scalarAccumulators: true },
  { tileM: 128, tileN: 64, threadM: 8, threadN: 4, sliceWords: 16, doubleBuffer: false, scalarAccumulators: true },
  { tileM: 128, tileN: 128, threadM: 8, threadN: 8, sliceWords: 16, doubleBuffer: false, scalarAccumulators: true },
];

export function dot4TilingId(t: Dot4Tiling): string {
  return `${t.tileM}x${t.tileN}_t${t.threadM}x${t.threadN}_k${t.sliceWords * 4}${t.doubleBuffer ? '_db' : ''}${t.scalarAccumulators ? '_sa' : ''}`;
}

export function describeDot4Tiling(t: Dot4Tiling): string {
  return `${t.tileM}×${t.tileN} tile, ${t.threadM}×${t.threadN} per thread, ${t.sliceWords * 4}-code slices, ${t.doubleBuffer ? 'double' : 'single'}-buffered${t.scalarAccumulators ? ', scalar accumulators' : ''}`;
}

function invocations(t: Dot4Tiling): number {
  return (t.tileM / t.threadM) * (t.tileN / t.threadN);
}

export function dot4WorkgroupBytes(t: Dot4Tiling): number {
  return (t.tileM + t.tileN) * t.sliceWords * 4 * (t.doubleBuffer ? 2 : 1);
}

/** Why the tiling cannot be generated, or cannot run within `limits`; null if it can. */
export function dot4TilingProblem(t: Dot4Tiling, limits?: WorkgroupLimits): string | null {
  const ints = [t.tileM, t.tileN, t.threadM, t.threadN, t.sliceWords];
  if (!ints.every((v) => Number.isInteger(v) && v > 0)) return `tile sizes must be positive integers, got ${dot4TilingId(t)}`;
  if (t.threadM % 4 || t.threadN % 4) return `outputs per thread must be multiples of 4, got ${t.threadM}×${t.threadN}`;
  if (t.tileM % t.threadM || t.tileN % t.threadN) return `the tile ${t.tileM}×${t.tileN} is not a whole number of ${t.threadM}×${t.threadN} thread tiles`;
  if (t.sliceWords % 8) return `slices must be a multiple of 8 words (32 codes), got ${t.sliceWords}`;
  if (limits) {
    const inv = Math.min(limits.maxComputeInvocationsPerWorkgroup ?? 256, limits.maxComputeWorkgroupSizeX ?? 256);
    if (invocations(t) > inv) return `${invocations(t)} invocations per workgroup, the device allows ${inv}`;
    const allowed = limits.maxComputeWorkgroupStorageSize ?? 16384;
    if (dot4WorkgroupBytes(t) > allowed) return `${dot4WorkgroupBytes(t)} bytes of workgroup memory, the device allows ${allowed}`;
  }
  return null;
}

/** What a dispatch specialises the code for besides the tiling. */
export interface Dot4Variant {
  int8Codes: boolean;
  /** Code rows read as 16-byte vectors (the packed row length is a multiple of 4 words). */
  vecAB: boolean;
  /** C read and written as vec4 (N a multiple of 4). */
  vecC: boolean;
}

export function dot4Variant(s: { N: number; wordsPerRow: number; int8Codes: boolean }): Dot4Variant {
  return { int8Codes: s.int8Codes, vecAB: s.wordsPerRow % 4 === 0, vecC: s.N % 4 === 0 };
}

export function dot4ShaderName(t: Dot4Tiling, v: Dot4Variant): string {
  return `intmatmul_dot4_${dot4TilingId(t)}_${v.int8Codes ? 'int8' : 'int4'}_ab${v.vecAB ? 4 : 1}c${v.vecC ? 4 : 1}`;
}

const COMPS = ['x', 'y', 'z', 'w'];

/** The accumulators of a thread's 4·SM × 4·SN outputs: named vec4<i32> acc_i_j, or with scalar
 *  accumulators four i32 acc_i_j_e each (arrays indexed in loops end up in local memory on NVIDIA's driver). */
export function dot4AccumulatorsWgsl(g: ThreadTiling, scalar: boolean, indent: string): string[] {
  const L: string[] = [];
  for (let i = 0; i < 4 * g.SM; i++) {
    for (let j = 0; j < g.SN; j++) L.push(scalar ? `${indent}${COMPS.map((_, e) => `var acc_${i}_${j}_${e} = 0i;`).join(' ')}` : `${indent}var acc_${i}_${j} = vec4<i32>();`);
  }
  return L;
}

/** Output strip (i, j) of the accumulators as one vec4<i32>. */
export function dot4AccumulatorOf(i: number, j: number, scalar: boolean): string {
  return scalar ? `vec4<i32>(${COMPS.map((_, e) => `acc_${i}_${j}_${e}`).join(', ')})` : `acc_${i}_${j}`;
}

/** One word `kw` of K of the dot4 kernel's inner loop: the thread's vec4<u32> of the k-major tiles (tile_a
 *  from `ca`, tile_b from `cb`, at thread position tx, ty — names the caller defines) and 4·SM × 4·SN
 *  dot4I8Packed into the accumulators. Shared with the bench's ceiling of this loop (src/bench/ceilings.ts). */
export function dot4StepWgsl(g: ThreadTiling, scalar: boolean, indent: string, kw: string): string[] {
  const L = tileOperandsWgsl(g, indent, kw);
  for (let s = 0; s < g.SM; s++) {
    for (let r = 0; r < 4; r++) {
      const i = s * 4 + r;
      for (let q = 0; q < g.SN; q++) {
        if (scalar) {
          L.push(`${indent}${COMPS.map((cp, e) => `acc_${i}_${q}_${e} += dot4I8Packed(av${s}.${COMPS[r]}, bv${q}.${cp});`).join(' ')}`);
        } else {
          L.push(`${indent}acc_${i}_${q} += vec4<i32>(${COMPS.map((cp) => `dot4I8Packed(av${s}.${COMPS[r]}, bv${q}.${cp})`).join(', ')});`);
        }
      }
    }
  }
  return L;
}

/** The WGSL module (entry `main`) of one tiling and variant. */
export function dot4IntMatmulShader(t: Dot4Tiling, v: Dot4Variant): GeneratedShader {
  const problem = dot4TilingProblem(t);
  if (problem) throw new Error(`dot4 integer matmul ${dot4TilingId(t)}: ${problem}`);
  const { tileM, tileN, threadM, threadN, sliceWords } = t;
  const T = invocations(t);
  const g = threadTiling(t);
  const { TX, TY, TM4, TN4, SM, SN } = g;
  const bufA = sliceWords * TM4; // vec4<u32> of one staged A slice
  const bufB = sliceWords * TN4;
  const u = (n: number) => `${n}u`;
  // int8x4 words one load yields: a 16-byte vector holds 4 words of INT8 codes or 4 of INT4 (8 widened);
  // a scalar word 1 of INT8 or 2 widened of INT4. Loads per staged row, and storage words one load spans.
  const perLoad = (v.vecAB ? 4 : 1) * (v.int8Codes ? 1 : 2);
  const loadsPerRow = sliceWords / perLoad;

  const L: string[] = [];
  const add = (s: string) => L.push(s);
  add(`// Generated by src/engine/ops/intmatmul-dot4.ts: ${describeDot4Tiling(t)}; ${v.int8Codes ? 'INT8' : 'INT4'} codes${v.vecAB ? ' read as 16-byte vectors' : ''}, C${v.vecC ? ' as vec4' : ''}.`);
  add('struct Params { M: u32, N: u32, words_per_row: u32, alpha: f32, accumulate: u32, has_bias: u32, step_a_at: u32, step_b_at: u32, has_row_scale: u32, }');
  add('@group(0) @binding(0) var<uniform> p: Params;');
  const ab = v.vecAB ? 'vec4<u32>' : 'u32';
  add(`@group(0) @binding(1) var<storage, read> a: array<${ab}>;`);
  add(`@group(0) @binding(2) var<storage, read> b: array<${ab}>;`);
  add('@group(0) @binding(3) var<storage, read> step_a: array<f32>;');
  add('@group(0) @binding(4) var<storage, read> step_b: array<f32>;');
  add(`@group(0) @binding(5) var<storage, read_write> c: array<${v.vecC ? 'vec4<f32>' : 'f32'}>;`);
  add('@group(0) @binding(6) var<storage, read> bias: array<f32>;');
  add('@group(0) @binding(7) var<storage, read> row_scale: array<f32>;');
  const buffers = t.doubleBuffer ? 2 : 1;
  add(`// k-major tiles: [word of K][row / 4], the words of four rows per vector${buffers === 2 ? '; two of each' : ''}.`);
  add(`var<workgroup> tile_a: array<vec4<u32>, ${bufA * buffers}>;`);
  add(`var<workgroup> tile_b: array<vec4<u32>, ${bufB * buffers}>;`);
  add('');
  if (!v.int8Codes) {
    L.push(...int4ToInt8x4Wgsl('u32'));
  }
  add(`@compute @workgroup_size(${T})`);
  add('fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {');
  add(`  let row0 = wg.y * ${u(tileM)};`);
  add(`  let col0 = wg.x * ${u(tileN)};`);
  add(`  let tx = li % ${u(TX)};`);
  add(`  let ty = li / ${u(TX)};`);
  add(`  let row_loads = ${v.vecAB ? 'p.words_per_row / 4u' : 'p.words_per_row'}; // loads per code row in storage`);
  const scalar = t.scalarAccumulators === true;
  for (const line of dot4AccumulatorsWgsl(g, scalar, '  ')) add(line);

  type Operand = { name: 'a' | 'b'; outer: number; outer4: number; limit: string; origin: string; tile: string; buf: number };
  const ops: Operand[] = [
    { name: 'a', outer: tileM, outer4: TM4, limit: 'p.M', origin: 'row0', tile: 'tile_a', buf: bufA },
    { name: 'b', outer: tileN, outer4: TN4, limit: 'p.N', origin: 'col0', tile: 'tile_b', buf: bufB },
  ];
  const countOf = (o: Operand) => o.outer * loadsPerRow;
  const loadsOf = (o: Operand) => Math.ceil(countOf(o) / T);
  const guardOf = (o: Operand, i: number) => (T * (i + 1) > countOf(o) ? `li < ${u(countOf(o) - T * i)}` : '');
  for (const o of ops) {
    add(`  // ${o.name.toUpperCase()}: ${countOf(o)} loads per slice (${loadsPerRow} per row); neighbouring invocations read along a row.`);
    for (let i = 0; i < loadsOf(o); i++) {
      add(`  let ${o.name}_oo${i} = (li + ${u(T * i)}) / ${u(loadsPerRow)};`);
      add(`  let ${o.name}_kq${i} = (li + ${u(T * i)}) % ${u(loadsPerRow)};`);
      add(`  var ${o.name}_r${i}: ${ab};`);
    }
  }
  // Load of slice `slice` (a loop variable counting slices) into registers.
  const emitLoad = (indent: string, slice: string) => {
    for (const o of ops) {
      for (let i = 0; i < loadsOf(o); i++) {
        const g = `${o.origin} + ${o.name}_oo${i}`;
        const q = `${slice} * ${u(loadsPerRow)} + ${o.name}_kq${i}`;
        const guard = guardOf(o, i);
        add(`${indent}${o.name}_r${i} = ${ab}();`);
        add(`${indent}{ let q = ${q}; if (${guard ? `${guard} && ` : ''}${g} < ${o.limit} && q < row_loads) { ${o.name}_r${i} = ${o.name}[(${g}) * row_loads + q]; } }`);
      }
    }
  };
  // The staged words of one load, transposed into the k-major tile: word w of the load is K word kq·perLoad + w.
  const emitStore = (indent: string, slot: (o: Operand) => string) => {
    for (const o of ops) {
      const base = slot(o);
      for (let i = 0; i < loadsOf(o); i++) {
        const r = `${o.name}_r${i}`;
        const guard = guardOf(o, i);
        const words: string[] = [];
        for (let w = 0; w < perLoad; w++) {
          const part = v.vecAB ? `${r}.${COMPS[v.int8Codes ? w : w >> 1]}` : r;
          words.push(v.int8Codes ? part : `int4_to_int8x4(${w % 2 ? `${part} >> 16u` : part})`);
        }
        add(`${indent}${guard ? `if (${guard}) ` : ''}{ let at = ${base === '0u' ? '' : `${base} + `}${o.name}_kq${i} * ${u(perLoad * o.outer4)} + ${o.name}_oo${i} / 4u; let lane = ${o.name}_oo${i} % 4u;`);
        add(`${indent}  ${words.map((wd, w) => `${o.tile}[at${w ? ` + ${u(w * o.outer4)}` : ''}][lane] = ${wd};`).join(' ')} }`);
      }
    }
  };
  const emitCompute = (indent: string, cur: string) => {
    add(`${indent}let ca = ${cur === '0u' ? '0u' : `${cur} * ${u(bufA)}`};`);
    add(`${indent}let cb = ${cur === '0u' ? '0u' : `${cur} * ${u(bufB)}`};`);
    add(`${indent}for (var kw = 0u; kw < ${u(sliceWords)}; kw++) {`);
    for (const line of dot4StepWgsl(g, scalar, `${indent}  `, 'kw')) add(line);
    add(`${indent}}`);
  };

  add(`  let slices = (row_loads + ${u(loadsPerRow - 1)}) / ${u(loadsPerRow)};`);
  emitStagedLoop(add, {
    doubleBuffer: t.doubleBuffer,
    header: 'for (var slice = 0u; slice < slices; slice++)',
    current: 'slice',
    next: '(slice + 1u)',
    hasNext: 'slice + 1u < slices',
    load: emitLoad,
    store: (indent, other) => emitStore(indent, (o) => (other ? `(1u - cur) * ${u(o.buf)}` : '0u')),
    compute: emitCompute,
  });

  // Epilogue. Every read (row scales, bias, C where the product accumulates) comes before the first store:
  // a read of C after a store to C cannot be moved ahead of it (the addresses might alias).
  add('');
  add('  let scale = p.alpha * abs(step_a[p.step_a_at]) * abs(step_b[p.step_b_at]);');
  const rowOf = (s: number, r: number) => `row0 + ${s ? `${u(s * TY * 4)} + ` : ''}ty * 4u + ${u(r)}`;
  const colOf = (q: number) => `col0 + ${q ? `${u(q * TX * 4)} + ` : ''}tx * 4u`;
  for (let s = 0; s < SM; s++) {
    for (let r = 0; r < 4; r++) {
      const i = s * 4 + r;
      add(`  let gm${i} = ${rowOf(s, r)};`);
      add(`  var rs${i} = 1.0; if (p.has_row_scale != 0u && gm${i} < p.M) { rs${i} = row_scale[gm${i}]; }`);
    }
  }
  for (let q = 0; q < SN; q++) {
    add(`  let gn${q} = ${colOf(q)};`);
    add(`  var bias${q} = vec4<f32>();`);
    add(`  if (p.has_bias != 0u) { for (var e = 0u; e < 4u; e++) { if (gn${q} + e < p.N) { bias${q}[e] = bias[gn${q} + e]; } } }`);
  }
  for (let i = 0; i < threadM; i++) {
    for (let q = 0; q < SN; q++) {
      // In the built-in kernel's order: (f32(acc)·scale)·r[m] + bias[n] (+ C).
      add(`  var o_${i}_${q} = vec4<f32>(${dot4AccumulatorOf(i, q, scalar)}) * scale * rs${i} + bias${q};`);
      if (v.vecC) {
        add(`  if (p.accumulate != 0u && gm${i} < p.M && gn${q} < p.N) { o_${i}_${q} += c[(gm${i} * p.N + gn${q}) / 4u]; }`);
      } else {
        add(`  if (p.accumulate != 0u && gm${i} < p.M) { for (var e = 0u; e < 4u; e++) { if (gn${q} + e < p.N) { o_${i}_${q}[e] += c[gm${i} * p.N + gn${q} + e]; } } }`);
      }
    }
  }
  for (let i = 0; i < threadM; i++) {
    for (let q = 0; q < SN; q++) {
      if (v.vecC) {
        // N is a multiple of 4: the vector is wholly inside or outside.
        add(`  if (gm${i} < p.M && gn${q} < p.N) { c[(gm${i} * p.N + gn${q}) / 4u] = o_${i}_${q}; }`);
      } else {
        add(`  if (gm${i} < p.M) { for (var e = 0u; e < 4u; e++) { if (gn${q} + e < p.N) { c[gm${i} * p.N + gn${q} + e] = o_${i}_${q}[e]; } } }`);
      }
    }
  }
  add('}');
  return { name: dot4ShaderName(t, v), code: L.join('\n') };
}
