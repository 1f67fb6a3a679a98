// Integer matrix product with dequantization, the core of HQ-MM (paper §3.1–3.3, spec §1–2):
//   C[M, N] = alpha · |s_A| · |s_B| · r[m] · (A_q · B_qᵀ)  (+ bias[n])  (+ C)   (r: optional row scales)
// A_q [M, K] and B_q [N, K] are LSQ code matrices packed by quantize.wgsl, both "row-major along K" (the
// forward Y = X·Wᵀ layout: X's codes are A, W's codes are B), rows padded with zero codes to whole words.
// The products are accumulated exactly in i32 (INT4: |a·b| ≤ 64, exact for K < 2^25); the step sizes are
// read from 1-element storage buffers, so learned steps need no readback. The official code does the same
// with a cutlass INT4 GEMM and `out = (s_x·s_w)·int32` (`FWD` lines 37–144).
//
// WebGPU has no 4-bit type, so INT4 codes are widened to int8 lanes and multiplied as INT8, which is exact
// (spec §7 item 10). Two paths, chosen by the DOT4 override:
//   DOT4 = true:  WGSL dot4I8Packed (language feature packed_4x8_integer_dot_product; DP4a where the
//                 hardware has it).
//   DOT4 = false: plain i32 multiply-adds on the unpacked lanes.
// gpu/kernels.ts builds a second module, `intmatmul_plain`, from this file with the one call of
// dot4I8Packed replaced by dot4I8Plain, so the plain path also runs where the feature is missing.
//
// Tiling as in matmul.wgsl: a 64×64 output tile per workgroup of 16×16 threads, 4×4 outputs per thread,
// 32 values of K per step. Workgroup memory holds the tiles as int8x4 words (four sign-extended codes per
// u32, dot4I8Packed's lane order): each INT4 word is unpacked once, when it is loaded.

override INT8_CODES: bool = false; // operands hold INT8 codes (4 per word), not INT4 (8 per word)
override DOT4: bool = true;

struct Params {
  M: u32,
  N: u32,
  words_per_row: u32, // packed u32 words per code row: ⌈K/8⌉ (INT4) or ⌈K/4⌉ (INT8), the same for A and B
  alpha: f32,         // extra factor (e.g. bit splitting's 14 = s↑/s↓); 1 for the plain forward
  accumulate: u32,    // 1: C += result
  has_bias: u32,      // 1: add bias[n] to every row
  step_a_at: u32,     // index of A's step in step_a (e.g. s↓ inside the bit split's state)
  step_b_at: u32,
  has_row_scale: u32, // 1: multiply row m by row_scale[m] (LSS's per-row weights m_i/p_i)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<u32>;      // [M, words_per_row]
@group(0) @binding(2) var<storage, read> b: array<u32>;      // [N, words_per_row]
@group(0) @binding(3) var<storage, read> step_a: array<f32>; // [1]
@group(0) @binding(4) var<storage, read> step_b: array<f32>; // [1]
@group(0) @binding(5) var<storage, read_write> c: array<f32>; // [M, N]
@group(0) @binding(6) var<storage, read> bias: array<f32>;   // [N]
@group(0) @binding(7) var<storage, read> row_scale: array<f32>; // [M]

const TILE_M = 64u;
const TILE_N = 64u;
const TILE_K4 = 8u; // int8x4 words of K per step: 32 values
const THREADS = 256u;

var<workgroup> tile_a: array<u32, 512>; // [TILE_K4][TILE_M] int8x4 words
var<workgroup> tile_b: array<u32, 512>; // [TILE_K4][TILE_N]

// The four int8 lanes of a word, sign-extended (lane 0 = the low byte).
fn lanes(w: u32) -> vec4i {
  return vec4i(bitcast<i32>(w << 24u), bitcast<i32>(w << 16u), bitcast<i32>(w << 8u), bitcast<i32>(w)) >> vec4u(24u);
}

// Σ of the four lane products in plain integer arithmetic: what dot4I8Packed computes.
fn dot4I8Plain(x: u32, y: u32) -> i32 {
  return dot(lanes(x), lanes(y));
}

fn dot4_i8(a: u32, b: u32) -> i32 {
  return dot4I8Packed(a, b);
}

// Four INT4 codes (the nibbles of the low 16 bits of w) as four sign-extended int8 lanes.
fn int4_to_int8x4(w: u32) -> u32 {
  var x = w & 0xffffu;
  x = (x | (x << 8u)) & 0x00ff00ffu;   // nibbles 0,1 → byte 0; nibbles 2,3 → byte 2
  x = (x | (x << 4u)) & 0x0f0f0f0fu;   // one nibble per byte
  return x | ((x & 0x08080808u) * 0x1eu); // sign bit 8 of a lane → 0xf0 in the same byte (8·30 = 240)
}

// Code word `word` of row `row` of A (or B); 0 past the matrix edge and past the padded row.
fn load_a(row: u32, word: u32) -> u32 {
  if (row < p.M && word < p.words_per_row) { return a[row * p.words_per_row + word]; }
  return 0u;
}
fn load_b(row: u32, word: u32) -> u32 {
  if (row < p.N && word < p.words_per_row) { return b[row * p.words_per_row + word]; }
  return 0u;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * TILE_M;
  let col0 = wg.x * TILE_N;
  // Packed words of K per step: 32 values are 4 INT4 words or 8 INT8 words.
  let step_words = select(4u, 8u, INT8_CODES);

  var acc: array<array<i32, 4>, 4>;
  for (var w0 = 0u; w0 < p.words_per_row; w0 += step_words) {
    if (INT8_CODES) {
      // 64 rows × 8 words per operand, two per thread; consecutive threads read consecutive words of a row.
      for (var i = 0u; i < 2u; i++) {
        let idx = li + i * THREADS;
        let r = idx / 8u;
        let ww = idx % 8u;
        tile_a[ww * TILE_M + r] = load_a(row0 + r, w0 + ww);
        tile_b[ww * TILE_N + r] = load_b(col0 + r, w0 + ww);
      }
    } else {
      // 64 rows × 4 words per operand, one per thread, each unpacked into two int8x4 words (K values
      // 8·ww … 8·ww + 3 and 8·ww + 4 … 8·ww + 7).
      let r = li / 4u;
      let ww = li % 4u;
      let wa = load_a(row0 + r, w0 + ww);
      tile_a[(2u * ww) * TILE_M + r] = int4_to_int8x4(wa);
      tile_a[(2u * ww + 1u) * TILE_M + r] = int4_to_int8x4(wa >> 16u);
      let wb = load_b(col0 + r, w0 + ww);
      tile_b[(2u * ww) * TILE_N + r] = int4_to_int8x4(wb);
      tile_b[(2u * ww + 1u) * TILE_N + r] = int4_to_int8x4(wb >> 16u);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K4; kk++) {
      var av: array<u32, 4>;
      var bv: array<u32, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = tile_a[kk * TILE_M + lid.y + 16u * i]; }
      for (var j = 0u; j < 4u; j++) { bv[j] = tile_b[kk * TILE_N + lid.x + 16u * j]; }
      if (DOT4) {
        for (var i = 0u; i < 4u; i++) {
          for (var j = 0u; j < 4u; j++) { acc[i][j] += dot4_i8(av[i], bv[j]); }
        }
      } else {
        // Unpack each word once, then 16 four-lane integer dot products.
        var al: array<vec4i, 4>;
        var bl: array<vec4i, 4>;
        for (var i = 0u; i < 4u; i++) { al[i] = lanes(av[i]); bl[i] = lanes(bv[i]); }
        for (var i = 0u; i < 4u; i++) {
          for (var j = 0u; j < 4u; j++) { acc[i][j] += dot(al[i], bl[j]); }
        }
      }
    }
    workgroupBarrier();
  }

  // Every read (row scales, bias, C where the product accumulates) before the first store: a read of C
  // after a store to C cannot be moved ahead of it (the addresses might alias), which would leave each
  // thread waiting on 16 memory round trips in turn.
  let scale = p.alpha * abs(step_a[p.step_a_at]) * abs(step_b[p.step_b_at]);
  var out: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) {
    let gm = row0 + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let gn = col0 + lid.x + 16u * j;
      var v = f32(acc[i][j]) * scale;
      if (gm < p.M && gn < p.N) {
        if (p.has_row_scale != 0u) { v *= row_scale[gm]; }
        if (p.has_bias != 0u) { v += bias[gn]; }
        if (p.accumulate != 0u) { v += c[gm * p.N + gn]; }
      }
      out[i][j] = v;
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let gm = row0 + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let gn = col0 + lid.x + 16u * j;
      if (gm < p.M && gn < p.N) { c[gm * p.N + gn] = out[i][j]; }
    }
  }
}
