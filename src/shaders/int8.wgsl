// Symmetric INT8 training (Banner et al. 2018, "Scalable methods for 8-bit training"; the INT8 baseline
// of the INT4 paper's Table 1): the quantizers of the int8 linear scheme (src/engine/linear/int8.ts).
//   scale = max|x|/127                  per tensor, per row, or per column (absmax, on the GPU every step)
//   code  = clamp(round(x/scale), ±127) round half away from zero (activations, weights)
//   code  = clamp(⌊x/scale + u⌋, ±127)  stochastic rounding (gradients), u = uniform_draw(seed, stream,
//                                        step, i) with i the element's index in x, whichever the layout
// A zero scale (an all-zero tensor, row or column) gives zero codes, as the reference int8Quantize does.
// Codes are packed for intmatmul.wgsl (INT8_CODES): four int8 lanes per u32, code j of a code row in bits
// 8·(j % 4)…, rows padded with zero codes to a whole word. Either "rows along K" (code row r = row r of
// x) or transposed (code row k = column k of x), which is what the backward products need: their
// reduction runs over C (∇X = ∇Y·W) or over N (∇W = ∇Yᵀ·X), and intMatmul reduces along code rows.
// Float64 twins: reference/quant/int8.ts (int8Quantize, stochasticInt8).
//
// random.wgsl and reduce.wgsl are prepended (gpu/kernels.ts).

struct Params {
  rows: u32,     // R: rows of the source matrix x [R, K]
  cols: u32,     // K: its columns
  words: u32,    // packed words per code row: ⌈K/4⌉, or ⌈R/4⌉ when transposed
  partials: u32, // first-pass workgroups of a two-stage reduction (y workgroups of the column pass)
  per_row: u32,  // quantize: 1 = one scale per code row, 0 = scale[0] for all
  stream: u32,   // stochastic rounding: random stream
  flags: u32,    // dequantize_rows_cols: 1 row scales, 2 column scales, 4 bias
}
@group(0) @binding(0) var<uniform> p: Params;

// Code rows are the columns of x (the transposed packing).
override TRANSPOSED: bool = false;

const REDUCE_WG = 256u;
const WG = REDUCE_WG;
const INT8_MAX = 127.0;

// Large tensors exceed 65535 workgroups in x; the host spreads them over y (grid1d).
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// Round to nearest, the forward's codes. The clamp is done in f32, before the conversion to i32.
fn nearest_code(x: f32, scale: f32) -> i32 {
  if (!(scale > 0.0)) { return 0; }
  return i32(clamp(round_half_away(x / scale), -INT8_MAX, INT8_MAX));
}

// ⌊v + u⌋ decided without rounding the sum: with t = ⌊v⌋, f = v − t is exact in f32 (a multiple of v's ulp
// below 1), and so is 1 − f for |v| ≥ 1, so u ≥ 1 − f ⟺ v + u ≥ t + 1. (f32(v + u) would round a sum just
// below an integer up to it.)
fn stochastic_code(x: f32, scale: f32, u: f32) -> i32 {
  if (!(scale > 0.0)) { return 0; }
  let v = x / scale;
  let t = floor(v);
  let up = u >= 1.0 - (v - t);
  return i32(clamp(t + select(0.0, 1.0, up), -INT8_MAX, INT8_MAX));
}

// --- Per-tensor absmax: the first pass is absmax.wgsl's max_abs_partial over the rows·cols values
// (ops/lss.ts maxAbsPartials).

// --- Second pass, one workgroup: scale[0] = max/127.
@group(0) @binding(1) var<storage, read> f_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_scale: array<f32>;

@compute @workgroup_size(WG)
fn absmax_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var m = 0.0;
  for (var i = lid; i < p.partials; i += WG) { m = max(m, f_partials[i]); }
  let largest = workgroup_max(lid, m);
  if (lid == 0u) { f_scale[0] = largest / INT8_MAX; }
}

// --- Per-row absmax, one workgroup per row: scale[r] = max_k |x[r, k]| / 127.
@group(0) @binding(1) var<storage, read> r_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> r_scale: array<f32>;

@compute @workgroup_size(WG)
fn row_absmax(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; } // uniform: the whole workgroup leaves together
  let lid = lid3.x;
  let base = row * p.cols;
  var m = 0.0;
  for (var k = lid; k < p.cols; k += WG) { m = max(m, abs(r_x[base + k])); }
  let largest = workgroup_max(lid, m);
  if (lid == 0u) { r_scale[row] = largest / INT8_MAX; }
}

// --- Per-column absmax (the per-row scales of xᵀ), first pass: workgroups of 64 columns × 4 row lanes,
// coalesced along the row; workgroup y takes rows y·4 + lane, strided by 4·partials, and writes its
// column maxima to partials[y·cols + column].
@group(0) @binding(1) var<storage, read> c_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> c_partials: array<f32>;

@compute @workgroup_size(64, 4)
fn col_absmax_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
                      @builtin(num_workgroups) nwg: vec3u) {
  let col = wg.x * 64u + lid.x;
  var m = 0.0;
  if (col < p.cols) {
    for (var r = wg.y * 4u + lid.y; r < p.rows; r += nwg.y * 4u) { m = max(m, abs(c_x[r * p.cols + col])); }
  }
  reduce_scratch[lid.y * 64u + lid.x] = m;
  workgroupBarrier();
  if (lid.y == 0u && col < p.cols) {
    let largest = max(max(reduce_scratch[lid.x], reduce_scratch[64u + lid.x]),
                      max(reduce_scratch[128u + lid.x], reduce_scratch[192u + lid.x]));
    c_partials[wg.y * p.cols + col] = largest;
  }
}

// --- Second pass, one thread per column: scale[k] = max over the partials / 127.
@group(0) @binding(1) var<storage, read> cf_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> cf_scale: array<f32>;

@compute @workgroup_size(WG)
fn col_absmax_final(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  if (col >= p.cols) { return; }
  var m = 0.0;
  for (var i = 0u; i < p.partials; i++) { m = max(m, cf_partials[i * p.cols + col]); }
  cf_scale[col] = m / INT8_MAX;
}

// --- Quantize and pack, one thread per packed word. Thread order: along the code row (rows along K), or
// across code rows (transposed: consecutive threads read consecutive columns of x, so reads coalesce).
fn code_rows() -> u32 { return select(p.rows, p.cols, TRANSPOSED); }
fn code_row_length() -> u32 { return select(p.cols, p.rows, TRANSPOSED); }

// (code row, word) of thread i.
fn word_of(i: u32) -> vec2u {
  if (TRANSPOSED) { return vec2u(i % p.cols, i / p.cols); }
  return vec2u(i / p.words, i % p.words);
}

// Index in x of element j of code row r.
fn source_index(r: u32, j: u32) -> u32 {
  if (TRANSPOSED) { return j * p.cols + r; }
  return r * p.cols + j;
}


@group(0) @binding(1) var<storage, read> q_x: array<f32>;
@group(0) @binding(2) var<storage, read> q_scale: array<f32>; // [1], or [code rows] when per_row
@group(0) @binding(3) var<storage, read_write> q_codes: array<u32>; // [code rows, words]

@compute @workgroup_size(WG)
fn quantize_nearest(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= code_rows() * p.words) { return; }
  let at = word_of(i);
  store_nearest_word(at, q_scale[select(0u, at.x, p.per_row != 0u)]);
}

fn store_nearest_word(at: vec2u, scale: f32) {
  var word = 0u;
  for (var lane = 0u; lane < 4u; lane++) {
    let j = at.y * 4u + lane;
    if (j >= code_row_length()) { break; } // padding: zero codes
    word = pack_lane(word, nearest_code(q_x[source_index(at.x, j)], scale), lane);
  }
  q_codes[at.x * p.words + at.y] = word;
}

// The per-tensor absmax's second pass folded into the pass that uses its scale: every workgroup reduces the
// (at most 256) partial maxima of the first pass (absmax.wgsl) itself — max is exact in any order, so each gets
// absmax_final's scale bit for bit — and the first thread writes it out for the later passes.
fn scale_from_partials(lid: u32) -> f32 {
  var m = 0.0;
  for (var j = lid; j < p.partials; j += WG) { m = max(m, qp_partials[j]); }
  return workgroup_max(lid, m) / INT8_MAX;
}

@group(0) @binding(2) var<storage, read> qp_partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> qp_scale: array<f32>; // [1] out

@compute @workgroup_size(WG)
fn quantize_nearest_absmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                           @builtin(local_invocation_index) lid: u32) {
  let scale = scale_from_partials(lid);
  let i = flat_index(gid, nwg);
  if (i == 0u) { qp_scale[0] = scale; }
  if (i >= code_rows() * p.words) { return; }
  store_nearest_word(word_of(i), scale);
}

// --- Stochastic rounding with one scale per tensor (∇Y), one thread per packed word. The draw of an
// element depends on its index in x only, so the two packings hold the same codes.
@group(0) @binding(1) var<storage, read> s_x: array<f32>;
@group(0) @binding(2) var<storage, read> s_scale: array<f32>; // [1]
@group(0) @binding(3) var<storage, read> s_step_state: array<u32>; // [seed, step]
@group(0) @binding(4) var<storage, read_write> s_codes: array<u32>;

@compute @workgroup_size(WG)
fn quantize_stochastic(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= code_rows() * p.words) { return; }
  store_stochastic_word(word_of(i), s_scale[0]);
}

fn store_stochastic_word(at: vec2u, scale: f32) {
  let seed = s_step_state[0];
  let step = s_step_state[1];
  var word = 0u;
  for (var lane = 0u; lane < 4u; lane++) {
    let j = at.y * 4u + lane;
    if (j >= code_row_length()) { break; }
    let src = source_index(at.x, j);
    word = pack_lane(word, stochastic_code(s_x[src], scale, uniform_draw(seed, p.stream, step, src)), lane);
  }
  s_codes[at.x * p.words + at.y] = word;
}

// The same with the absmax's second pass folded in (scale_from_partials): bindings as quantize_stochastic,
// with the partial maxima at 2 and the scale written to 5.
@group(0) @binding(5) var<storage, read_write> sp_scale: array<f32>; // [1] out

@compute @workgroup_size(WG)
fn quantize_stochastic_absmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                              @builtin(local_invocation_index) lid: u32) {
  let scale = scale_from_partials(lid);
  let i = flat_index(gid, nwg);
  if (i == 0u) { sp_scale[0] = scale; }
  if (i >= code_rows() * p.words) { return; }
  store_stochastic_word(word_of(i), scale);
}

// --- Per-row / per-column dequantization of an integer product, in place, one thread per element:
// c[m, n] = c[m, n] · row_scale[m] · col_scale[n] + bias[n] (each factor optional, flags).
// c holds f32(Σ codes) (intMatmul with unit steps), so this is the fused kernel's f32(acc)·scale.
@group(0) @binding(1) var<storage, read_write> d_c: array<f32>;       // [rows, cols]
@group(0) @binding(2) var<storage, read> d_row_scale: array<f32>;     // [rows]
@group(0) @binding(3) var<storage, read> d_col_scale: array<f32>;     // [cols]
@group(0) @binding(4) var<storage, read> d_bias: array<f32>;          // [cols]

@compute @workgroup_size(WG)
fn dequantize_rows_cols(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.cols) { return; }
  let m = i / p.cols;
  let n = i % p.cols;
  var scale = 1.0;
  if ((p.flags & 1u) != 0u) { scale = d_row_scale[m]; }
  if ((p.flags & 2u) != 0u) { scale *= d_col_scale[n]; }
  var v = d_c[i] * scale;
  if ((p.flags & 4u) != 0u) { v += d_bias[n]; }
  d_c[i] = v;
}
