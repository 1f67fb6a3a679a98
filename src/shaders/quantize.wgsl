// LSQ quantization (Esser et al.; paper §3.1, spec §1) of a [rows, K] matrix with one learned step per
// tensor, writing the integer codes packed for intmatmul.wgsl:
//   v = x / |s|                                   (kept in f32 for the backward: masks and ∇s)
//   code = clamp(round_half_away_from_zero(v), −Q_N, Q_P)
// The official forward (`FWD` lines 30–33) clamps to [−8, 7] (Q_N = 8, Q_P = 7) and rounds with CUDA
// round(), ties away from zero. |s| because the code keeps the learned step positive (`QZ` lines 472–474).
//
// Packed code layout ("row-major along K", the forward Y = X·Wᵀ layout of both operands): each row of K
// codes is padded with zero codes to a whole number of u32 words.
//   INT4: 8 codes per word, code j of a row in bits 4·(j % 8) … 4·(j % 8) + 3, two's complement
//         (the official packing `(in[2i+1] << 4) | (in[2i] & 15)`, generalised to 8 nibbles per word).
//   INT8: 4 codes per word, code j in bits 8·(j % 4) …, two's complement: dot4I8Packed's lane order.

struct Params {
  rows: u32,
  K: u32,
  words_per_row: u32, // ⌈K/8⌉ (INT4) or ⌈K/4⌉ (INT8)
  qn: f32,            // Q_N: codes ≥ −Q_N
  qp: f32,            // Q_P: codes ≤ Q_P
}
@group(0) @binding(0) var<uniform> p: Params;

// Large tensors exceed 65535 workgroups in x; the host spreads them over y.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// The clamp is done in f32, before the conversion, so huge |v| (and ±inf) cannot overflow the i32.
fn lsq_code(v: f32) -> i32 {
  return i32(clamp(round_half_away(v), -p.qn, p.qp));
}

// --- Quantize: one thread per packed word.
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> step_size: array<f32>; // [1]: the learned step s
@group(0) @binding(3) var<storage, read_write> v: array<f32>;  // [rows, K]: x / |s|
@group(0) @binding(4) var<storage, read_write> codes: array<u32>; // [rows, words_per_row]

// Quantizes the codes of one word (`per_word` codes of `bits` bits) and returns the packed word.
fn quantize_word(i: u32, per_word: u32, bits: u32) -> u32 {
  let row = i / p.words_per_row;
  let k0 = (i % p.words_per_row) * per_word;
  let inv_mask = (1u << bits) - 1u;
  let s = abs(step_size[0]);
  var word = 0u;
  for (var j = 0u; j < per_word; j++) {
    let k = k0 + j;
    if (k >= p.K) { break; } // padding: zero codes
    let at = row * p.K + k;
    let vk = x[at] / s;
    v[at] = vk;
    word |= (bitcast<u32>(lsq_code(vk)) & inv_mask) << (bits * j);
  }
  return word;
}

@compute @workgroup_size(256)
fn quantize_int4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.words_per_row) { return; }
  codes[i] = quantize_word(i, 8u, 4u);
}

@compute @workgroup_size(256)
fn quantize_int8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.words_per_row) { return; }
  codes[i] = quantize_word(i, 4u, 8u);
}

// --- Dequantize (fake quantization, tests): out[r, k] = code[r, k] · |s|, one thread per value.
@group(0) @binding(1) var<storage, read> d_codes: array<u32>;
@group(0) @binding(2) var<storage, read> d_step: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_out: array<f32>; // [rows, K]

fn dequantize_value(i: u32, per_word: u32, bits: u32) -> f32 {
  let row = i / p.K;
  let k = i % p.K;
  let word = d_codes[row * p.words_per_row + k / per_word];
  // extractBits on an i32 sign-extends the field: the two's-complement code.
  let code = extractBits(bitcast<i32>(word), bits * (k % per_word), bits);
  return f32(code) * abs(d_step[0]);
}

@compute @workgroup_size(256)
fn dequantize_int4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.K) { return; }
  d_out[i] = dequantize_value(i, 8u, 4u);
}

@compute @workgroup_size(256)
fn dequantize_int8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.K) { return; }
  d_out[i] = dequantize_value(i, 4u, 8u);
}

// --- LSQ initial step (`QZ` lines 604–615; spec §1 "Initialisation", paper A.4's cold start):
// s = 2·mean|x|/√Q_P + 1e-10 over all rows·K values. One workgroup: it runs on the first batch only.
// Each thread sums CHUNK of its values (coalesced: thread lid reads lid, lid + 256, …) before adding
// them to its total, which keeps the f32 rounding error of long sums small (blocked summation).
@group(0) @binding(1) var<storage, read> i_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> i_step: array<f32>; // [1]

const REDUCE_WG = 256u;
const CHUNK = 64u;
const LSQ_INIT_EPSILON = 1e-10;

@compute @workgroup_size(REDUCE_WG)
fn init_step(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let n = p.rows * p.K;
  var total = 0.0;
  for (var base = 0u; base < n; base += REDUCE_WG * CHUNK) {
    var chunk = 0.0;
    for (var j = 0u; j < CHUNK; j++) {
      let i = base + j * REDUCE_WG + lid;
      if (i < n) { chunk += abs(i_x[i]); }
    }
    total += chunk;
  }
  let mean = workgroup_sum(lid, total) / f32(n);
  if (lid == 0u) { i_step[0] = 2.0 * mean / sqrt(p.qp) + LSQ_INIT_EPSILON; }
}
