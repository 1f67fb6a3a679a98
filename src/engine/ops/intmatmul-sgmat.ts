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

export function subgroupMatrixIntMatmulWgsl(o: SubgroupMatrixKernelOptions): string {
  // 16-byte vectors per row of a 32-value slice: INT8 32 bytes = 2; INT4 16 bytes = 1.
  const vecsPerRow = o.int8Codes ? 2 : 1;
  const loadsPerLane = (SGMAT_TILE * vecsPerRow) / 32;
  const L: string[] = [];
  const add = (s: string) => L.push(s);
  add('enable chromium_experimental_subgroup_matrix;');
  add('');
  add('struct Params { M: u32, N: u32, words_per_row: u32, alpha: f32, accumulate: u32, has_bias: u32, step_a_at: u32, step_b_at: u32, has_row_scale: u32, }');
  add('@group(0) @binding(0) var<uniform> p: Params;');
  add('@group(0) @binding(1) var<storage, read> a: array<vec4<u32>>;  // [M, words_per_row / 4]');
  add('@group(0) @binding(2) var<storage, read> b: array<vec4<u32>>;  // [N, words_per_row / 4]');
  add('@group(0) @binding(3) var<storage, read> step_a: array<f32>;');
  add('@group(0) @binding(4) var<storage, read> step_b: array<f32>;');
  add('@group(0) @binding(5) var<storage, read_write> c: array<f32>;');
  add('@group(0) @binding(6) var<storage, read> bias: array<f32>;');
  add('@group(0) @binding(7) var<storage, read> row_scale: array<f32>;');
  add(`var<workgroup> tile_a: array<i32, ${SGMAT_TILE * ROW_WORDS}>; // 64 rows × 32 int8 codes`);
  add(`var<workgroup> tile_b: array<i32, ${SGMAT_TILE * ROW_WORDS}>; // Bᵀ, column-major`);
  add('var<workgroup> out_tile: array<i32, 256>;');
  add('');
  add('// Four INT4 codes (the nibbles of the low 16 bits of w) as four sign-extended int8 lanes.');
  add('fn int4_to_int8x4(w: u32) -> i32 {');
  add('  var x = w & 0xffffu;');
  add('  x = (x | (x << 8u)) & 0x00ff00ffu;');
  add('  x = (x | (x << 4u)) & 0x0f0f0f0fu;');
  add('  return bitcast<i32>(x | ((x & 0x08080808u) * 0x1eu));');
  add('}');
  add('');
  add('// 16-byte vector q of code row r; zero past the matrix and past the row.');
  add('fn load_a(r: u32, q: u32, vecs: u32) -> vec4<u32> {');
  add('  if (r < p.M && q < vecs) { return a[r * vecs + q]; }');
  add('  return vec4<u32>();');
  add('}');
  add('fn load_b(r: u32, q: u32, vecs: u32) -> vec4<u32> {');
  add('  if (r < p.N && q < vecs) { return b[r * vecs + q]; }');
  add('  return vec4<u32>();');
  add('}');
  add('');
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
      add(`  store_result(row0 + ${16 * i}u, col0 + ${16 * j}u, li, scale);`);
    }
  }
  add('}');
  add('');
  add('fn store_result(r0: u32, c0: u32, li: u32, scale: f32) {');
  add('  for (var e = li; e < 256u; e += 32u) {');
  add('    let gm = r0 + e / 16u;');
  add('    let gn = c0 + e % 16u;');
  add('    if (gm < p.M && gn < p.N) {');
  add('      let at = gm * p.N + gn;');
  add('      var v = f32(out_tile[e]) * scale;');
  add('      if (p.has_row_scale != 0u) { v *= row_scale[gm]; }');
  add('      if (p.has_bias != 0u) { v += bias[gn]; }');
  add('      if (p.accumulate != 0u) { v += c[at]; }');
  add('      c[at] = v;');
  add('    }');
  add('  }');
  add('}');
  return L.join('\n');
}
