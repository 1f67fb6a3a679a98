// WGSL of the integer matrix product on subgroup matrices (tensor cores where the GPU has them), generated
// so that the 4×4 grid of 16×16 accumulators and the staging loads are written out (unrolled): a result
// matrix cannot be indexed dynamically without the driver spilling it.
//
// Same contract and bindings as src/shaders/intmatmul.wgsl:
//   C[M, N] = alpha·|s_A|·|s_B|·(A_q·B_qᵀ) (+ bias[n]) (+ C)
// with A_q [M, K] and B_q [N, K] packed code rows (INT8: 4 codes per word; INT4: 8 nibbles per word, widened
// to int8 lanes while staged, which is exact). Needs `chromium-experimental-subgroup-matrix` with the
// i8×i8→i32 16×16×32 configuration and subgroups of 32 (capabilities.subgroupMatrixI8), and rows whose
// packed length is a whole number of 16-byte vectors (intMatmulSubgroupMatrixFits).
//
// Design, from measurements on an H200 through Dawn/Vulkan (docs/benchmarks.md, "Integer kernels"):
// - Matrix loads and stores need workgroup-uniform offsets, so a workgroup is one subgroup (32 invocations)
//   owning a 64×64 output tile; many such workgroups per multiprocessor supply the parallelism.
// - Loading the operand matrices straight from storage buffers ran at 56 TOP/s; staging each 64×32 slice of
//   A and B in workgroup memory with 16-byte loads and loading the matrices from there ran at 230 TOP/s.
// - The next slice's 16-byte words are fetched into registers while the current slice multiplies.

/** Output rows and columns per workgroup. */
export const SGMAT_TILE = 64;

export interface SubgroupMatrixKernelOptions {
  /** Operands hold INT8 codes (4 per word) rather than INT4 (8 per word). */
  int8Codes: boolean;
  /** Fetch the next slice into registers while the current one computes. */
  prefetch: boolean;
}

const FRAGMENTS = 4; // 16×16 result matrices per tile side: 4·16 = SGMAT_TILE
const ROW_WORDS = 8; // a staged row: 32 int8 codes

/** The uniforms and bindings every variant of the kernel declares (the contract of intmatmul.wgsl). */
const BINDINGS = [
  'struct Params { M: u32, N: u32, words_per_row: u32, alpha: f32, accumulate: u32, has_bias: u32, step_a_at: u32, step_b_at: u32, has_row_scale: u32, }',
  '@group(0) @binding(0) var<uniform> p: Params;',
  '@group(0) @binding(1) var<storage, read> a: array<vec4<u32>>;  // [M, words_per_row / 4]',
  '@group(0) @binding(2) var<storage, read> b: array<vec4<u32>>;  // [N, words_per_row / 4]',
  '@group(0) @binding(3) var<storage, read> step_a: array<f32>;',
  '@group(0) @binding(4) var<storage, read> step_b: array<f32>;',
  '@group(0) @binding(5) var<storage, read_write> c: array<f32>;',
  '@group(0) @binding(6) var<storage, read> bias: array<f32>;',
  '@group(0) @binding(7) var<storage, read> row_scale: array<f32>;',
];

/** INT4 widening and the guarded 16-byte loads of code rows, shared by every variant. */
/**
 * The epilogue's store of one 16×16 result (256 i32 in `tile` from `out0`), each of the subgroup's 32
 * invocations taking 8 values. Every read (the result, row scales, bias, and C where the product
 * accumulates into it) comes before the first store: a read of C after a store to C cannot be hoisted
 * by the compiler (the addresses might alias), which left the accumulating products (LSS's ∇X from the
 * low half) waiting on 8 memory round trips in turn per result.
 */
function storeResultWgsl(tile: string): string[] {
  return [
    'fn store_result(r0: u32, c0: u32, lane: u32, out0: u32, scale: f32) {',
    '  var v: array<f32, 8>;',
    '  for (var q = 0u; q < 8u; q++) {',
    '    let e = lane + 32u * q;',
    '    let gm = r0 + e / 16u;',
    '    let gn = c0 + e % 16u;',
    `    v[q] = f32(${tile}[out0 + e]) * scale;`,
    '    if (gm < p.M && gn < p.N) {',
    '      if (p.has_row_scale != 0u) { v[q] *= row_scale[gm]; }',
    '      if (p.has_bias != 0u) { v[q] += bias[gn]; }',
    '      if (p.accumulate != 0u) { v[q] += c[gm * p.N + gn]; }',
    '    }',
    '  }',
    '  for (var q = 0u; q < 8u; q++) {',
    '    let e = lane + 32u * q;',
    '    let gm = r0 + e / 16u;',
    '    let gn = c0 + e % 16u;',
    '    if (gm < p.M && gn < p.N) { c[gm * p.N + gn] = v[q]; }',
    '  }',
    '}',
  ];
}

/** WGSL `int4_to_int8x4(w: u32) -> T`: the four INT4 codes in the low 16 bits of w as four sign-extended
 *  int8 lanes (dot4I8Packed's and the i8 matrices' lane order), as a `u32` or bitcast to `i32` (the type of
 *  the workgroup tile it is stored into). The generated integer kernels share it. */
export function int4ToInt8x4Wgsl(type: 'u32' | 'i32'): string[] {
  return [
    '// Four INT4 codes (the nibbles of the low 16 bits of w) as four sign-extended int8 lanes.',
    `fn int4_to_int8x4(w: u32) -> ${type} {`,
    '  var x = w & 0xffffu;',
    '  x = (x | (x << 8u)) & 0x00ff00ffu;   // nibbles 0,1 → byte 0; nibbles 2,3 → byte 2',
    '  x = (x | (x << 4u)) & 0x0f0f0f0fu;   // one nibble per byte',
    `  return ${type === 'i32' ? 'bitcast<i32>(x | ((x & 0x08080808u) * 0x1eu))' : 'x | ((x & 0x08080808u) * 0x1eu)'}; // sign bit → 0xf0 in its byte`,
    '}',
    '',
  ];
}

const CODE_HELPERS = [
  ...int4ToInt8x4Wgsl('i32'),
  '// 16-byte vector q of code row r; zero past the matrix and past the row.',
  'fn load_a(r: u32, q: u32, vecs: u32) -> vec4<u32> {',
  '  if (r < p.M && q < vecs) { return a[r * vecs + q]; }',
  '  return vec4<u32>();',
  '}',
  'fn load_b(r: u32, q: u32, vecs: u32) -> vec4<u32> {',
  '  if (r < p.N && q < vecs) { return b[r * vecs + q]; }',
  '  return vec4<u32>();',
  '}',
  '',
];

export function subgroupMatrixIntMatmulWgsl(o: SubgroupMatrixKernelOptions): string {
  // 16-byte vectors per row of a 32-value slice: INT8 32 bytes = 2; INT4 16 bytes = 1.
  const vecsPerRow = o.int8Codes ? 2 : 1;
  const loadsPerLane = (SGMAT_TILE * vecsPerRow) / 32;
  const L: string[] = [];
  const add = (s: string) => L.push(s);
  add('enable chromium_experimental_subgroup_matrix;');
  add('');
  L.push(...BINDINGS);
  add(`var<workgroup> tile_a: array<i32, ${SGMAT_TILE * ROW_WORDS}>; // 64 rows × 32 int8 codes`);
  add(`var<workgroup> tile_b: array<i32, ${SGMAT_TILE * ROW_WORDS}>; // Bᵀ, column-major`);
  add('var<workgroup> out_tile: array<i32, 256>;');
  add('');
  L.push(...CODE_HELPERS);
  add('@compute @workgroup_size(32)');
  add('fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {');
  add(`  let row0 = wg.y * ${SGMAT_TILE}u;`);
  add(`  let col0 = wg.x * ${SGMAT_TILE}u;`);
  add('  let vecs = p.words_per_row / 4u;');
  for (let i = 0; i < FRAGMENTS; i++) for (let j = 0; j < FRAGMENTS; j++) add(`  var acc${i}${j} = subgroup_matrix_result<i32, 16, 16>();`);
  // Invocation li handles vectors li + 32·t of the slice: row (li + 32t) / vecsPerRow, vector (…) % vecsPerRow.
  const rowOf = (t: number) => (vecsPerRow === 1 ? `li + ${32 * t}u` : `(li + ${32 * t}u) / ${vecsPerRow}u`);
  const vecOf = () => (vecsPerRow === 1 ? '0u' : `li % ${vecsPerRow}u`);
  const fetch = (indent: string, decl: string, at: string) => {
    for (let t = 0; t < loadsPerLane; t++) {
      add(`${indent}${decl}na${t} = load_a(row0 + ${rowOf(t)}, ${at} + ${vecOf()}, vecs);`);
      add(`${indent}${decl}nb${t} = load_b(col0 + ${rowOf(t)}, ${at} + ${vecOf()}, vecs);`);
    }
  };
  const stage = (indent: string) => {
    for (let t = 0; t < loadsPerLane; t++) {
      for (const [tile, v] of [['tile_a', `na${t}`], ['tile_b', `nb${t}`]]) {
        if (o.int8Codes) {
          // Row r, vector q: words 4q … 4q + 3 of the staged row.
          add(`${indent}{ let o = (${rowOf(t)}) * ${ROW_WORDS}u + 4u * (${vecOf()});`);
          add(`${indent}  ${tile}[o] = bitcast<i32>(${v}.x); ${tile}[o + 1u] = bitcast<i32>(${v}.y); ${tile}[o + 2u] = bitcast<i32>(${v}.z); ${tile}[o + 3u] = bitcast<i32>(${v}.w); }`);
        } else {
          // One vector = 32 INT4 codes = the whole staged row, widened to 8 int8x4 words.
          add(`${indent}{ let o = (${rowOf(t)}) * ${ROW_WORDS}u;`);
          const parts = ['x', 'y', 'z', 'w'].map((c, k) => `${tile}[o + ${2 * k}u] = int4_to_int8x4(${v}.${c}); ${tile}[o + ${2 * k + 1}u] = int4_to_int8x4(${v}.${c} >> 16u);`);
          add(`${indent}  ${parts.join(' ')} }`);
        }
      }
    }
  };
  if (o.prefetch) fetch('  ', 'var ', '0u');
  add(`  for (var v0 = 0u; v0 < vecs; v0 += ${vecsPerRow}u) {`);
  if (!o.prefetch) fetch('    ', 'let ', 'v0');
  add('    workgroupBarrier(); // the previous slice is consumed');
  stage('    ');
  add('    workgroupBarrier();');
  if (o.prefetch) fetch('    ', '', `v0 + ${vecsPerRow}u`);
  for (let i = 0; i < FRAGMENTS; i++) add(`    let l${i} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&tile_a, ${16 * i * ROW_WORDS}u, ${ROW_WORDS}u);`);
  for (let j = 0; j < FRAGMENTS; j++) add(`    let r${j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&tile_b, ${16 * j * ROW_WORDS}u, ${ROW_WORDS}u);`);
  for (let i = 0; i < FRAGMENTS; i++) for (let j = 0; j < FRAGMENTS; j++) add(`    acc${i}${j} = subgroupMatrixMultiplyAccumulate(l${i}, r${j}, acc${i}${j});`);
  add('  }');
  add('');
  add('  // Epilogue: each 16×16 result passes through workgroup memory; the 32 invocations scale 8 values each.');
  add('  let scale = p.alpha * abs(step_a[p.step_a_at]) * abs(step_b[p.step_b_at]);');
  for (let i = 0; i < FRAGMENTS; i++) {
    for (let j = 0; j < FRAGMENTS; j++) {
      add('  workgroupBarrier();');
      add(`  subgroupMatrixStore<row_major>(&out_tile, 0u, acc${i}${j}, 16u);`);
      add('  workgroupBarrier();');
      add(`  store_result(row0 + ${16 * i}u, col0 + ${16 * j}u, li, 0u, scale);`);
    }
  }
  add('}');
  add('');
  L.push(...storeResultWgsl('out_tile'));
  return L.join('\n');
}

/** A multi-subgroup variant of the kernel above: `subgroupsM × subgroupsN` subgroups per workgroup, each
 *  owning a 64×64 block of a (64·subgroupsM)×(64·subgroupsN) tile, and staged slices of `sliceK` codes. */
export interface SubgroupMatrixTiling {
  subgroupsM: 1 | 2 | 4;
  subgroupsN: 1 | 2 | 4;
  /** Codes of each staged row: 32 (one matrix step per barrier pair), 64 (two) or 128 (four). A slice is
   *  staged as 32-code planes (each plane's rows 8 words apart), whatever its depth: the matrix loads read
   *  rows 16 words apart (64 codes in a row) 5.7× slower than rows 8 words apart (the inner-loop ceilings,
   *  H100 2026-12-05), which is what held the first 64-code kernels at ~40% of the 32-code ones. */
  sliceK: 32 | 64 | 128;
  /** Two staged slices: the next slice is stored into the other buffer while the current one is
   *  multiplied, one barrier per slice instead of two (twice the workgroup memory of the tiles). */
  doubleBuffer?: boolean;
}

/** The single-subgroup kernel above, as a tiling. */
export const SGMAT_BASE_TILING: SubgroupMatrixTiling = { subgroupsM: 1, subgroupsN: 1, sliceK: 32 };

/** The tilings the integer bench sweeps (docs/benchmarks.md, "Integer kernels"). */
export const SGMAT_TILINGS: readonly SubgroupMatrixTiling[] = [
  SGMAT_BASE_TILING,
  { subgroupsM: 1, subgroupsN: 1, sliceK: 64 },
  { subgroupsM: 2, subgroupsN: 1, sliceK: 32 },
  { subgroupsM: 1, subgroupsN: 2, sliceK: 32 },
  { subgroupsM: 2, subgroupsN: 2, sliceK: 32 },
  { subgroupsM: 2, subgroupsN: 2, sliceK: 64 },
  { subgroupsM: 4, subgroupsN: 2, sliceK: 32 },
  { subgroupsM: 2, subgroupsN: 4, sliceK: 32 },
  // Double-buffered: 25–40% slower than single-buffered on an H100 (2026-12-05) in all three shapes tried
  // (64×128, 128×128, 128×256); one kept as a start-up candidate for GPUs where a second staged slice pays.
  { subgroupsM: 2, subgroupsN: 2, sliceK: 32, doubleBuffer: true },
];

/** Tilings only `npm run bench -- --int-tilings` times: deeper slices in 32-code planes on larger tiles,
 *  slower than 128×128 with 64-code slices on an H100 (2026-12-05: 128-code slices 172 / 200 TOP/s INT8 /
 *  INT4; 256×128 and 128×256 with 64-code slices 297–300 / 250–258, against 335 / 275). */
export const SGMAT_EXPERIMENTAL_TILINGS: readonly SubgroupMatrixTiling[] = [
  { subgroupsM: 2, subgroupsN: 2, sliceK: 128 },
  { subgroupsM: 4, subgroupsN: 2, sliceK: 64 },
  { subgroupsM: 2, subgroupsN: 4, sliceK: 64 },
];

export function describeSgmatTiling(t: SubgroupMatrixTiling): string {
  return `${64 * t.subgroupsM}×${64 * t.subgroupsN} tile, ${t.subgroupsM * t.subgroupsN} subgroup${t.subgroupsM * t.subgroupsN > 1 ? 's' : ''}, K slices of ${t.sliceK}${t.doubleBuffer ? ', double-buffered' : ''}`;
}

export function sgmatTilingName(t: SubgroupMatrixTiling, int8Codes: boolean): string {
  return `intmatmul_sgmat_${int8Codes ? 'int8' : 'int4'}_${t.subgroupsM}x${t.subgroupsN}_k${t.sliceK}${t.doubleBuffer ? '_db' : ''}`;
}

/**
 * Why more than one subgroup: the single-subgroup kernel stages a 64×32 slice of A and of B for one
 * subgroup's 16 products, so every staged code is used by one subgroup only. With subgroupsM × subgroupsN
 * subgroups sharing the staged slices of a larger tile, each code fetched from memory feeds 2–4 times as
 * many products, and the multiprocessor holds more subgroups whose loads hide each other's latency.
 *
 * Matrix loads and stores need offsets that are uniform across their subgroup (not the workgroup):
 * `subgroup_id` (WGSL language feature subgroup_uniformity) is. Same contract, uniforms and bindings as
 * subgroupMatrixIntMatmulWgsl; workgroups cover the output in (64·subgroupsN)×(64·subgroupsM) tiles.
 */
export function subgroupMatrixTiledWgsl(o: { int8Codes: boolean } & SubgroupMatrixTiling): string {
  const SM = o.subgroupsM;
  const SN = o.subgroupsN;
  const S = SM * SN;
  const lanes = 32 * S;
  const BM = 64 * SM;
  const BN = 64 * SN;
  const rowWords = o.sliceK / 4; // i32 words (4 int8 codes each) per staged row of a slice
  const planeRowWords = 8; // a row of one 32-code plane: the matrix loads' stride
  const codesPerVec = o.int8Codes ? 16 : 32; // codes in one 16-byte vector of packed codes
  const vecsPerRow = o.sliceK / codesPerVec;
  const wordsPerVec = codesPerVec / 4; // staged words one vector widens to
  const chunks = o.sliceK / 32; // matrix steps per staged slice
  const buffers = o.doubleBuffer ? 2 : 1;
  // The epilogue passes each 16×16 result through 256 words per subgroup: tile_a when it is large enough.
  const reuseTileA = buffers * BM * rowWords >= 256 * S;
  const out = reuseTileA ? 'tile_a' : 'out_tile';
  const L: string[] = [];
  const add = (s: string) => L.push(s);
  add('enable chromium_experimental_subgroup_matrix;');
  add('enable subgroups;');
  add('');
  L.push(...BINDINGS);
  add(`var<workgroup> tile_a: array<i32, ${buffers * BM * rowWords}>; // ${BM} rows × ${o.sliceK} int8 codes${buffers > 1 ? ', two slices' : ''}`);
  add(`var<workgroup> tile_b: array<i32, ${buffers * BN * rowWords}>; // Bᵀ, column-major`);
  if (!reuseTileA) add(`var<workgroup> out_tile: array<i32, ${256 * S}>;`);
  add('');
  L.push(...CODE_HELPERS);
  add(`@compute @workgroup_size(${lanes})`);
  add('fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32, @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {');
  add(`  let row0 = wg.y * ${BM}u;`);
  add(`  let col0 = wg.x * ${BN}u;`);
  add(`  let sub_row = (sg / ${SN}u) * 64u; // this subgroup's 64×64 block of the tile`);
  add(`  let sub_col = (sg % ${SN}u) * 64u;`);
  add('  let vecs = p.words_per_row / 4u;');
  for (let i = 0; i < FRAGMENTS; i++) for (let j = 0; j < FRAGMENTS; j++) add(`  var acc${i}${j} = subgroup_matrix_result<i32, 16, 16>();`);
  // Vector v of a staged slice (row v / vecsPerRow, vector v % vecsPerRow) is fetched by invocation v % lanes.
  const plan = (rows: number) => {
    const total = rows * vecsPerRow;
    return { total, perLane: Math.ceil(total / lanes), exact: total % lanes === 0 };
  };
  const operands = [
    { name: 'a', regs: 'na', tile: 'tile_a', load: 'load_a', origin: 'row0', words: BM * rowWords, ...plan(BM) },
    { name: 'b', regs: 'nb', tile: 'tile_b', load: 'load_b', origin: 'col0', words: BN * rowWords, ...plan(BN) },
  ];
  const vIndex = (t: number) => `(li + ${lanes * t}u)`;
  const rowOf = (t: number) => (vecsPerRow === 1 ? vIndex(t) : `${vIndex(t)} / ${vecsPerRow}u`);
  const vecOf = (t: number) => (vecsPerRow === 1 ? '0u' : `${vIndex(t)} % ${vecsPerRow}u`);
  const guard = (op: (typeof operands)[number], t: number) => (op.exact || lanes * (t + 1) <= op.total ? '' : `if (${vIndex(t)} < ${op.total}u) `);
  const fetch = (indent: string, decl: boolean, at: string) => {
    for (const op of operands) {
      for (let t = 0; t < op.perLane; t++) {
        const v = `${op.regs}${t}`;
        if (decl) add(`${indent}var ${v} = vec4<u32>();`);
        add(`${indent}${guard(op, t)}{ ${v} = ${op.load}(${op.origin} + ${rowOf(t)}, ${at} + ${vecOf(t)}, vecs); }`);
      }
    }
  };
  // `slot`: which staged slice (an expression, '0u' single-buffered).
  const stage = (indent: string, slot = '0u') => {
    for (const op of operands) {
      for (let t = 0; t < op.perLane; t++) {
        const v = `${op.regs}${t}`;
        // Word w of row r lies in plane w / 8 (planes of rows·8 words), at r·8 + w % 8; a vector's 4 or 8
        // words never straddle two planes. One plane (32-code slices) is the row-major layout, written as
        // such so those kernels' code, which the H100 numbers were measured on, stays as it was.
        const plane = op.words / chunks;
        const inPlane = chunks === 1
          ? `(${rowOf(t)}) * ${rowWords}u + ${wordsPerVec}u * (${vecOf(t)})`
          : wordsPerVec === planeRowWords
            ? `(${vecOf(t)}) * ${plane}u + (${rowOf(t)}) * ${planeRowWords}u`
            : `((${vecOf(t)}) / 2u) * ${plane}u + (${rowOf(t)}) * ${planeRowWords}u + ${wordsPerVec}u * ((${vecOf(t)}) % 2u)`;
        const at = `${slot === '0u' ? '' : `${slot} * ${op.words}u + `}${inPlane}`;
        const words = o.int8Codes
          ? ['x', 'y', 'z', 'w'].map((cc, k) => `${op.tile}[w0 + ${k}u] = bitcast<i32>(${v}.${cc});`)
          : ['x', 'y', 'z', 'w'].map((cc, k) => `${op.tile}[w0 + ${2 * k}u] = int4_to_int8x4(${v}.${cc}); ${op.tile}[w0 + ${2 * k + 1}u] = int4_to_int8x4(${v}.${cc} >> 16u);`);
        add(`${indent}${guard(op, t)}{ let w0 = ${at}; ${words.join(' ')} }`);
      }
    }
  };
  // The matrix steps of one staged slice (`a0`, `b0`: the slice's first word in tile_a, tile_b).
  const multiply = (indent: string, a0: string, b0: string) => {
    for (let ch = 0; ch < chunks; ch++) {
      add(`${indent}{`);
      const planeA = ch === 0 ? '' : `${ch * BM * planeRowWords}u + `;
      const planeB = ch === 0 ? '' : `${ch * BN * planeRowWords}u + `;
      for (let i = 0; i < FRAGMENTS; i++) add(`${indent}  let l${i} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&tile_a, ${a0}${planeA}(sub_row + ${16 * i}u) * ${planeRowWords}u, ${planeRowWords}u);`);
      for (let j = 0; j < FRAGMENTS; j++) add(`${indent}  let r${j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&tile_b, ${b0}${planeB}(sub_col + ${16 * j}u) * ${planeRowWords}u, ${planeRowWords}u);`);
      for (let i = 0; i < FRAGMENTS; i++) for (let j = 0; j < FRAGMENTS; j++) add(`${indent}  acc${i}${j} = subgroupMatrixMultiplyAccumulate(l${i}, r${j}, acc${i}${j});`);
      add(`${indent}}`);
    }
  };
  fetch('  ', true, '0u');
  if (o.doubleBuffer) {
    // Slice 0 into buffer 0; then each step fetches slice s + 1 into registers, multiplies buffer s % 2,
    // stores slice s + 1 into the other buffer (last read before the previous barrier), one barrier.
    // `cur` is the same for the whole workgroup, so the matrix loads' offsets stay subgroup-uniform.
    stage('  ');
    add('  workgroupBarrier();');
    add('  var cur = 0u;');
    add(`  for (var v0 = 0u; v0 < vecs; v0 += ${vecsPerRow}u) {`);
    add(`    let has_next = v0 + ${vecsPerRow}u < vecs;`);
    add('    if (has_next) {');
    fetch('      ', false, `v0 + ${vecsPerRow}u`);
    add('    }');
    multiply('    ', `cur * ${BM * rowWords}u + `, `cur * ${BN * rowWords}u + `);
    add('    if (has_next) {');
    stage('      ', '(1u - cur)');
    add('    }');
    add('    cur = 1u - cur;');
    add('    workgroupBarrier();');
    add('  }');
  } else {
    add(`  for (var v0 = 0u; v0 < vecs; v0 += ${vecsPerRow}u) {`);
    add('    workgroupBarrier(); // every subgroup is done with the previous slice');
    stage('    ');
    add('    workgroupBarrier();');
    fetch('    ', false, `v0 + ${vecsPerRow}u`);
    multiply('    ', '', '');
    add('  }');
  }
  add('');
  add('  // Epilogue: each subgroup passes its 16×16 results through its own 256 words of workgroup memory.');
  add('  let scale = p.alpha * abs(step_a[p.step_a_at]) * abs(step_b[p.step_b_at]);');
  add('  let out0 = sg * 256u;');
  for (let i = 0; i < FRAGMENTS; i++) {
    for (let j = 0; j < FRAGMENTS; j++) {
      add('  workgroupBarrier();');
      add(`  subgroupMatrixStore<row_major>(&${out}, out0, acc${i}${j}, 16u);`);
      add('  workgroupBarrier();');
      add(`  store_result(row0 + sub_row + ${16 * i}u, col0 + sub_col + ${16 * j}u, lane, out0, scale);`);
    }
  }
  add('}');
  add('');
  L.push(...storeResultWgsl(out));
  return L.join('\n');
}

/** Workgroup memory of a tiling's kernel, in bytes (the same for INT4 and INT8 codes: both are staged as
 *  int8 lanes). */
export function sgmatWorkgroupBytes(t: SubgroupMatrixTiling): number {
  const buffers = t.doubleBuffer ? 2 : 1;
  const tileA = buffers * 64 * t.subgroupsM * t.sliceK;
  const tileB = buffers * 64 * t.subgroupsN * t.sliceK;
  const epilogue = 1024 * t.subgroupsM * t.subgroupsN;
  return tileA + tileB + (tileA >= epilogue ? 0 : epilogue);
}
