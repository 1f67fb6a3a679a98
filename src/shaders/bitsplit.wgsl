// Bit splitting of the output gradient ∇Y [N, C] into two INT4 code matrices (paper §4, spec §3.2;
// the official `GW` quantize_cuda_kernel, lines 25–47 and 352–370), ∇Y ≈ s↑·hi + s↓·lo:
//   scale1 = 98 / max|∇Y|          (one scale per tensor: num_bins/2 = 14²/2)
//   t      = ∇Y · scale1           ∈ [−98, 98]
//   hi     = clamp(round(t/14), −6, 6)                 (deterministic)
//   lo     = clamp(round(t − 14·hi + u − 0.5), −6, 6)  (stochastic rounding of the residual)
//   s↑ = 14/scale1, s↓ = 1/scale1
// round is CUDA round(), ties away from zero. Codes are stored as exact integers in f32.
// Then the norms of the 2N stacked rows ∇↕Y = [s↑·hi ; s↓·lo], the leverage scores' gradient factor.
//
// u = uniform_draw(seed, stream, step, i) for element i (random.wgsl, prepended), seed and step read
// from step_state = [seed, step], which the trainer rewrites every step.

struct Params {
  n: u32,        // elements of ∇Y (N·C)
  stream: u32,   // random stream of the stochastic rounding
  partials: u32, // workgroups of the first max pass
  rows: u32,     // N (row norms)
  cols: u32,     // C (row norms)
}
@group(0) @binding(0) var<uniform> p: Params;

const REDUCE_WG = 256u;
const WG = REDUCE_WG;

// Constants of the official kernel with b = 4 (reference/quant/constants.ts).
const BINS_HALF = 14.0;        // 2^b − 2
const SCALE_NUMERATOR = 98.0;  // num_bins/2 = 14²/2
const CODE_CLAMP = 6.0;        // 14/2 − 1

// Large tensors exceed 65535 workgroups in x; the host spreads them over y.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// --- max|∇Y|: the first pass is absmax.wgsl's max_abs_partial (ops/lss.ts maxAbsPartials).

// --- Second pass: one workgroup. split_state = [max|∇Y|, s↑, s↓, 0].
@group(0) @binding(1) var<storage, read> f_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_state: array<f32>;

@compute @workgroup_size(WG)
fn max_abs_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var m = 0.0;
  for (var i = lid; i < p.partials; i += WG) { m = max(m, f_partials[i]); }
  let largest = workgroup_max(lid, m);
  if (lid == 0u) {
    let state = split_state_of(largest);
    for (var j = 0u; j < 4u; j++) { f_state[j] = state[j]; }
  }
}

// [max|∇Y|, s↑, s↓, 0] from max|∇Y|. An all-zero ∇Y: zero scales (the official code would divide by zero).
fn split_state_of(largest: f32) -> vec4f {
  var scale_hi = 0.0;
  var scale_lo = 0.0;
  if (largest > 0.0) {
    let scale1 = SCALE_NUMERATOR / largest;
    scale_hi = BINS_HALF / scale1;
    scale_lo = 1.0 / scale1;
  }
  return vec4f(largest, scale_hi, scale_lo, 0.0);
}

// --- The codes, one thread per element.
@group(0) @binding(1) var<storage, read> c_dy: array<f32>;
@group(0) @binding(2) var<storage, read> c_state: array<f32>;
@group(0) @binding(3) var<storage, read> c_step_state: array<u32>; // [seed, step]
@group(0) @binding(4) var<storage, read_write> c_hi: array<f32>;
@group(0) @binding(5) var<storage, read_write> c_lo: array<f32>;

// round(t/14), ties away from zero, decided on t itself: r = t − 14·q is exact in f32 (|t| ≤ 98 has
// ulp ≤ 2^−17 and 14·q is a small integer), so a division that is off by an ulp (WGSL allows 2.5 ULP)
// cannot move a tie t = 14·q ± 7 or a value next to one.
fn round_div14(t: f32) -> f32 {
  var q = round_half_away(t / BINS_HALF);
  let r = t - BINS_HALF * q;
  let half = 0.5 * BINS_HALF;
  if (r > half || (r == half && t > 0.0)) { q += 1.0; }
  if (r < -half || (r == -half && t < 0.0)) { q -= 1.0; }
  return q;
}

@compute @workgroup_size(WG)
fn split_codes(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let codes = split_element(i, c_state[0]);
  c_hi[i] = codes.x;
  c_lo[i] = codes.y;
}

// (hi, lo) of element i; both 0 where ∇Y is all zero.
fn split_element(i: u32, largest: f32) -> vec2f {
  if (!(largest > 0.0)) { return vec2f(0.0); }
  let scale1 = SCALE_NUMERATOR / largest;
  let t = c_dy[i] * scale1;
  let hi = clamp(round_div14(t), -CODE_CLAMP, CODE_CLAMP);
  let residual = t - BINS_HALF * hi; // exact, as in round_div14
  let u = uniform_draw(c_step_state[0], p.stream, c_step_state[1], i);
  // u − 0.5 is exact (u is a multiple of 2^−25 in (0, 1)): one rounding, in the sum.
  let lo = clamp(round_half_away(residual + (u - 0.5)), -CODE_CLAMP, CODE_CLAMP);
  return vec2f(hi, lo);
}

// --- The codes and the norms of the stacked rows (split_row_norms below) in one pass, one workgroup
// per row of ∇Y: the codes are written once and never read back for the norms. The sums of squared
// integer codes are exact in f32, so the scores equal split_row_norms' bit for bit. The max pass's
// final step is folded in too: every workgroup reduces the (at most 256) partial maxima itself — max is
// exact in any order, so all get the same split state, which the first workgroup writes out.
@group(0) @binding(2) var<storage, read> c_partials: array<f32>;
@group(0) @binding(6) var<storage, read_write> c_scores: array<f32>;
@group(0) @binding(7) var<storage, read_write> c_state_out: array<f32>;

// The split state from the partial maxima, in every workgroup (row 0 writes it out for the later passes).
fn row_split_state(row: u32, lid: u32) -> vec4f {
  var m = 0.0;
  for (var j = lid; j < p.partials; j += WG) { m = max(m, c_partials[j]); }
  let state = split_state_of(workgroup_max(lid, m));
  if (row == 0u && lid == 0u) {
    for (var j = 0u; j < 4u; j++) { c_state_out[j] = state[j]; }
  }
  return state;
}

@compute @workgroup_size(WG)
fn split_codes_norms(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; } // uniform: the barriers below stay uniform
  let lid = lid3.x;
  let state = row_split_state(row, lid);
  var sum_hi = 0.0;
  var sum_lo = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    let i = row * p.cols + c;
    let codes = split_element(i, state.x);
    c_hi[i] = codes.x;
    c_lo[i] = codes.y;
    sum_hi += codes.x * codes.x;
    sum_lo += codes.y * codes.y;
  }
  let total_hi = workgroup_sum(lid, sum_hi);
  let total_lo = workgroup_sum(lid, sum_lo);
  if (lid == 0u) {
    c_scores[row] = sqrt(total_hi) * state.y;
    c_scores[p.rows + row] = sqrt(total_lo) * state.z;
  }
}

// --- split_codes_norms writing the codes packed as INT8 operands instead of f32 (four int8 lanes per u32,
// lane 0 the low byte, each row padded to whole words with zero codes: ops/intgrad.ts splitCodeShape), for
// the layers whose backward reads only codes (LSS's integer ∇X products and its ∇W combine): a quarter of
// the bytes, and no f32 copy of the split kept at all. The same codes, draws and norms as the f32 entry.
@group(0) @binding(4) var<storage, read_write> c_hi_codes: array<u32>;
@group(0) @binding(5) var<storage, read_write> c_lo_codes: array<u32>;

@compute @workgroup_size(WG)
fn split_codes_norms_packed(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; } // uniform: the barriers below stay uniform
  let lid = lid3.x;
  let state = row_split_state(row, lid);
  let words = (p.cols + 3u) / 4u;
  var sum_hi = 0.0;
  var sum_lo = 0.0;
  for (var w = lid; w < words; w += WG) {
    var word_hi = 0u;
    var word_lo = 0u;
    for (var lane = 0u; lane < 4u; lane++) {
      let c = 4u * w + lane;
      if (c >= p.cols) { break; }
      let codes = split_element(row * p.cols + c, state.x);
      word_hi = pack_lane(word_hi, i32(codes.x), lane);
      word_lo = pack_lane(word_lo, i32(codes.y), lane);
      sum_hi += codes.x * codes.x;
      sum_lo += codes.y * codes.y;
    }
    c_hi_codes[row * words + w] = word_hi;
    c_lo_codes[row * words + w] = word_lo;
  }
  let total_hi = workgroup_sum(lid, sum_hi);
  let total_lo = workgroup_sum(lid, sum_lo);
  if (lid == 0u) {
    c_scores[row] = sqrt(total_hi) * state.y;
    c_scores[p.rows + row] = sqrt(total_lo) * state.z;
  }
}

// --- Norms of the stacked rows ∇↕Y = [s↑·hi ; s↓·lo] (2N rows of C), one workgroup per stacked row:
// scores[r] = ‖hi_r‖·s↑ for r < N, ‖lo_{r−N}‖·s↓ after (the code's x1_len / x2_len). The sums of
// squared integer codes are exact in f32 (≤ 36·C < 2^24).
@group(0) @binding(1) var<storage, read> r_hi: array<f32>;
@group(0) @binding(2) var<storage, read> r_lo: array<f32>;
@group(0) @binding(3) var<storage, read> r_state: array<f32>;
@group(0) @binding(4) var<storage, read_write> r_scores: array<f32>;

@compute @workgroup_size(WG)
fn split_row_norms(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= 2u * p.rows) { return; }
  let lid = lid3.x;
  let is_hi = row < p.rows;
  let base = select(row - p.rows, row, is_hi) * p.cols;
  var s = 0.0;
  if (is_hi) {
    for (var c = lid; c < p.cols; c += WG) { let q = r_hi[base + c]; s += q * q; }
  } else {
    for (var c = lid; c < p.cols; c += WG) { let q = r_lo[base + c]; s += q * q; }
  }
  let total = workgroup_sum(lid, s);
  if (lid == 0u) { r_scores[row] = sqrt(total) * select(r_state[2], r_state[1], is_hi); }
}
