// Fake quantizers of the baselines and ablations (paper §5, §5.2 Fig. 3; docs/int4-training-paper.md §5):
// each writes the dequantized f32 values (same shape as x, out of place) from one per-tensor statistic
// that is reduced on the GPU in two passes (no readback):
//   min-max (Banner et al.; Fig. 3b "minimax"):  Δ = (max − min)/(2^b − 1),
//        out = min + Δ·clamp(⌊(x − min)/Δ + u_i⌋, 0, 2^b − 1) (the top code gives max exactly);
//        a constant tensor is copied unchanged.
//   LUQ (Chmiel et al.; the LSQ+LUQ baseline): α = max|x|/2^T, T = 2^(b−1); |x| < α → sign·α with
//        probability |x|/α (draw 2i), else 0; α·2^n ≤ |x| < α·2^(n+1) → α·2^(n+1) with probability
//        (|x| − α·2^n)/(α·2^n) (draw 2i + 1), else α·2^n.
//   symmetric absmax (the forward ablations, b bits): s = max|x|/Qp, Qp = 2^(b−1) − 1,
//        out = s·clamp(round(x/s), −Qp, Qp) (ties away from zero) or s·clamp(⌊x/s + u_i⌋, −Qp, Qp).
// u_k = uniform_draw(seed, stream, step, k) (random.wgsl, prepended), seed and step read from
// step_state = [seed, step]. These match reference/quant/baselines.ts fed ref.uniformDraws(…, n) (min-max,
// symmetric) or ref.uniformDraws(…, 2n) (LUQ).
//
// The statistics are reduced on the f32 bit patterns as u32 keys (x ↦ bits with the order of the
// values), not with f32 min/max: exact whatever the device does with subnormals (no flush to zero), and
// a NaN or ±∞ anywhere reaches the statistic, after which every output is NaN (the reference throws).
//
// LUQ is computed in integers on the mantissas and exponents (m = M·2^(e−150), M ∈ [2^23, 2^24)): the
// interval n, the rounding decision u < p (compared as 48-bit integer products) and the level α·2^k
// (built as bits, rounded to nearest even where it is subnormal) are exact, so the output is the
// reference's float64 result rounded to f32, bit for bit, with no dependence on f32 division accuracy.

struct Params {
  n: u32,          // elements
  stream: u32,     // random stream of the draws
  partials: u32,   // workgroups of the first reduction pass
  bits: u32,       // b, 2 … 8
  stochastic: u32, // symmetric: 1 = stochastic rounding ⌊x/s + u⌋, 0 = round half away from zero
}
@group(0) @binding(0) var<uniform> p: Params;

const WG = 256u;
const SIGN_BIT = 0x80000000u;
const MAGNITUDE_BITS = 0x7fffffffu;
const INFINITY_BITS = 0x7f800000u;
const NAN_BITS = 0x7fc00000u;

// Large tensors exceed 65535 workgroups in x; the host spreads them over y.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// --- Order keys: u32 keys that sort like the f32 values (−0 just below +0; a NaN with the sign bit
// clear above +∞, one with it set below −∞, so a NaN always reaches the max or the min).
fn order_key(b: u32) -> u32 { return select(b | SIGN_BIT, ~b, (b & SIGN_BIT) != 0u); }
fn key_bits(k: u32) -> u32 { return select(~k, k & MAGNITUDE_BITS, (k & SIGN_BIT) != 0u); }
fn is_finite_bits(b: u32) -> bool { return (b & MAGNITUDE_BITS) < INFINITY_BITS; }

var<workgroup> key_scratch: array<vec2u, WG>;

// Componentwise max over the workgroup; every thread must call it, every thread gets the result.
fn workgroup_max_keys(lid: u32, v: vec2u) -> vec2u {
  key_scratch[lid] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { key_scratch[lid] = max(key_scratch[lid], key_scratch[lid + s]); }
  }
  workgroupBarrier();
  let r = key_scratch[0];
  workgroupBarrier();
  return r;
}

// --- First pass: each workgroup reduces a strided share to partials[2·wg], partials[2·wg + 1]
// (max key, max inverted key = min); 0 is the identity of both.
@group(0) @binding(1) var<storage, read> r_x: array<u32>; // x as f32 bit patterns
@group(0) @binding(2) var<storage, read_write> r_partials: array<u32>;

@compute @workgroup_size(WG)
fn range_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                 @builtin(num_workgroups) nwg: vec3u) {
  let lid = lid3.x;
  var m = vec2u(0u, 0u);
  for (var i = wg.x * WG + lid; i < p.n; i += nwg.x * WG) {
    let k = order_key(r_x[i]);
    m = max(m, vec2u(k, ~k));
  }
  let total = workgroup_max_keys(lid, m);
  if (lid == 0u) {
    r_partials[2u * wg.x] = total.x;
    r_partials[2u * wg.x + 1u] = total.y;
  }
}

// max|x| as bits: for |x| the bit pattern itself is an order key (NaN above +∞).
@compute @workgroup_size(WG)
fn absmax_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                  @builtin(num_workgroups) nwg: vec3u) {
  let lid = lid3.x;
  var m = 0u;
  for (var i = wg.x * WG + lid; i < p.n; i += nwg.x * WG) { m = max(m, r_x[i] & MAGNITUDE_BITS); }
  let total = workgroup_max_keys(lid, vec2u(m, 0u));
  if (lid == 0u) {
    r_partials[2u * wg.x] = total.x;
    r_partials[2u * wg.x + 1u] = 0u;
  }
}

// --- Second pass: one workgroup reduces the partials and writes the four stats (f32 bit patterns).
@group(0) @binding(1) var<storage, read> f_partials: array<u32>;
@group(0) @binding(2) var<storage, read_write> f_stats: array<u32>;

fn reduce_partials(lid: u32) -> vec2u {
  var m = vec2u(0u, 0u);
  for (var i = lid; i < p.partials; i += WG) { m = max(m, vec2u(f_partials[2u * i], f_partials[2u * i + 1u])); }
  return workgroup_max_keys(lid, m);
}

fn write_stats(a: u32, b: u32, c: u32, d: u32) {
  f_stats[0] = a;
  f_stats[1] = b;
  f_stats[2] = c;
  f_stats[3] = d;
}

// stats = [min, max, Δ, 1/Δ]; Δ = 1/Δ = 0 when the tensor is constant (max ≤ min) or Δ underflows.
// (A range max − min past the f32 maximum, ~3.4e38, is not supported.)
@compute @workgroup_size(WG)
fn minmax_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let keys = reduce_partials(lid);
  if (lid == 0u) {
    let lo_bits = key_bits(~keys.y);
    let hi_bits = key_bits(keys.x);
    let lo = bitcast<f32>(lo_bits);
    let hi = bitcast<f32>(hi_bits);
    let levels = f32((1u << p.bits) - 1u);
    var width = 0.0;
    var inverse = 0.0;
    if (hi > lo) {
      width = (hi - lo) / levels;
      if (width > 0.0) { inverse = levels / (hi - lo); } else { width = 0.0; }
    }
    write_stats(lo_bits, hi_bits, bitcast<u32>(width), bitcast<u32>(inverse));
  }
}

// stats = [max|x|, α = max|x|/2^T rounded to f32 (as the kernel builds it), T, 0].
@compute @workgroup_size(WG)
fn luq_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let largest_bits = reduce_partials(lid).x;
  if (lid == 0u) {
    let top = 1u << (p.bits - 1u);
    var alpha_bits = NAN_BITS;
    if (largest_bits == 0u) {
      alpha_bits = 0u;
    } else if (largest_bits < INFINITY_BITS) {
      alpha_bits = luq_level_bits(decode(largest_bits), -i32(top));
    }
    write_stats(largest_bits, alpha_bits, bitcast<u32>(f32(top)), 0u);
  }
}

// stats = [max|x|, s = max|x|/Qp, Qp/max|x|, Qp]; s = 0 and 1/s = 0 for an all-zero tensor.
@compute @workgroup_size(WG)
fn symmetric_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let largest_bits = reduce_partials(lid).x;
  if (lid == 0u) {
    let largest = bitcast<f32>(largest_bits);
    let qp = f32((1u << (p.bits - 1u)) - 1u);
    var scale = 0.0;
    var inverse = 0.0;
    if (largest > 0.0) {
      scale = largest / qp;
      inverse = qp / largest;
      if (!(scale > 0.0)) { scale = 0.0; inverse = 0.0; }
    }
    write_stats(largest_bits, bitcast<u32>(scale), bitcast<u32>(inverse), bitcast<u32>(qp));
  }
}

// ⌊v + u⌋ decided exactly for f32 v and a draw u (the sum v + u itself may round across an integer):
// v + u ≥ f + 1 ⇔ u ≥ (f + 1) − v, and that difference is exact in f32 except for v ∈ [0, 1/2), where
// the test is rewritten as v ≥ 1 − u (exact for u ≥ 1/2, and u < 1/2 cannot reach 1).
fn floor_plus_draw(v: f32, u: f32) -> f32 {
  let f = floor(v);
  var up: bool;
  if (v >= 0.0 && v < 0.5) {
    up = u >= 0.5 && v >= 1.0 - u;
  } else {
    up = u >= (f + 1.0) - v;
  }
  return f + select(0.0, 1.0, up);
}

// --- Min-max quantization, one thread per element. The extremes map to codes 0 and 2^b − 1 exactly
// (y = 0 and y = levels, so no draw can move them off); other elements compute y = (x − min)·(1/Δ) in
// f32, within a few ulp of the reference's float64 y, and ⌊y + u⌋ exactly for that y, so only a y + u
// within ~1e-5 of an integer can floor differently from the reference.
@group(0) @binding(1) var<storage, read> m_x: array<f32>;
@group(0) @binding(2) var<storage, read> m_stats: array<u32>;
@group(0) @binding(3) var<storage, read> m_step_state: array<u32>; // [seed, step]
@group(0) @binding(4) var<storage, read_write> m_out: array<u32>; // f32 bit patterns

@compute @workgroup_size(WG)
fn minmax_quantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let x = m_x[i];
  if (!is_finite_bits(m_stats[0]) || !is_finite_bits(m_stats[1])) {
    m_out[i] = NAN_BITS;
    return;
  }
  let lo = bitcast<f32>(m_stats[0]);
  let hi = bitcast<f32>(m_stats[1]);
  let width = bitcast<f32>(m_stats[2]);
  let inverse = bitcast<f32>(m_stats[3]);
  if (!(width > 0.0)) { // constant tensor: unchanged (the reference returns x)
    m_out[i] = bitcast<u32>(x);
    return;
  }
  let levels = f32((1u << p.bits) - 1u);
  var y = (x - lo) * inverse;
  if (x == hi) { y = levels; }
  if (x == lo) { y = 0.0; }
  let u = uniform_draw(m_step_state[0], p.stream, m_step_state[1], i);
  let q = clamp(floor_plus_draw(y, u), 0.0, levels);
  // The top code is max itself (lo + Δ·levels can be an ulp off in f32); code 0 is min exactly.
  m_out[i] = bitcast<u32>(select(lo + width * q, hi, q == levels));
}

// --- LUQ, one thread per element, in integers.
struct Decoded {
  mantissa: u32, // M ∈ [2^23, 2^24)
  exponent: i32, // value = M·2^(exponent − 150); the biased exponent for normal numbers
}

// A positive finite f32 (bits without the sign) as M·2^(e − 150), subnormals normalised.
fn decode(magnitude_bits: u32) -> Decoded {
  let field = magnitude_bits >> 23u;
  let fraction = magnitude_bits & 0x7fffffu;
  if (field != 0u) { return Decoded(fraction | 0x800000u, i32(field)); }
  let shift = countLeadingZeros(fraction) - 8u;
  return Decoded(fraction << shift, 1 - i32(shift));
}

// The magnitude bits of largest·2^k (k ≤ 0) rounded to f32: exact where normal, rounded to nearest
// (ties to even) where subnormal, as Math.fround rounds the reference's float64 level.
fn luq_level_bits(largest: Decoded, k: i32) -> u32 {
  let field = largest.exponent + k;
  if (field >= 1) { return (u32(field) << 23u) | (largest.mantissa & 0x7fffffu); }
  let shift = u32(1 - field); // value = (M >> shift)·2^−149 before rounding
  if (shift > 25u) { return 0u; }
  var q = largest.mantissa >> shift;
  let rest = largest.mantissa & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (q & 1u) == 1u)) { q += 1u; } // q = 2^23 is the smallest normal
  return q;
}

// a·b for a, b < 2^32 as (low word, high word).
fn mul_wide(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2u((p00 & 0xffffu) | (mid << 16u), a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}

fn less_wide(a: vec2u, b: vec2u) -> bool { return a.y < b.y || (a.y == b.y && a.x < b.x); }

// The draw u = U/2^24 (U odd, U < 2^24: random.wgsl's (k + 0.5)/2^23) as the integer U, exactly.
fn draw_numerator(seed: u32, step: u32, index: u32) -> u32 {
  return u32(uniform_draw(seed, p.stream, step, index) * 16777216.0);
}

@group(0) @binding(1) var<storage, read> l_x: array<u32>; // x as f32 bit patterns
@group(0) @binding(2) var<storage, read> l_stats: array<u32>;
@group(0) @binding(3) var<storage, read> l_step_state: array<u32>;
@group(0) @binding(4) var<storage, read_write> l_out: array<u32>; // f32 bit patterns

@compute @workgroup_size(WG)
fn luq_quantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let largest_bits = l_stats[0];
  if (largest_bits >= INFINITY_BITS) { l_out[i] = NAN_BITS; return; }
  let x_bits = l_x[i];
  let sign = x_bits & SIGN_BIT;
  let magnitude_bits = x_bits & MAGNITUDE_BITS;
  if (largest_bits == 0u || magnitude_bits == 0u) { l_out[i] = 0u; return; }
  let top = i32(1u << (p.bits - 1u)); // T
  let largest = decode(largest_bits);
  let m = decode(magnitude_bits);
  // |x|/α = (M_m/M_L)·2^(e_m − e_L + T), M_m/M_L ∈ (1/2, 2): n = ⌊log2(|x|/α)⌋ exactly.
  let below = m.mantissa < largest.mantissa;
  let shift = m.exponent - largest.exponent + top;
  let n = shift - select(0, 1, below);
  let seed = l_step_state[0];
  let step = l_step_state[1];
  if (n < 0) {
    // Stochastic underflow: u < |x|/α ⇔ U·M_L < M_m·2^(shift + 24). With shift + 24 < 0, |x|/α < 2^−24 ≤ u.
    let u = draw_numerator(seed, step, 2u * i);
    let e = shift + 24;
    var kept = false;
    if (e >= 0) {
      let s = u32(e); // ≤ 24
      let rhs = vec2u(m.mantissa << s, select(0u, m.mantissa >> (32u - s), s > 0u));
      kept = less_wide(mul_wide(u, largest.mantissa), rhs);
    }
    l_out[i] = select(0u, sign | luq_level_bits(largest, -top), kept);
    return;
  }
  // Log stochastic rounding between lower = α·2^n and 2·lower: p = (|x| − lower)/lower = (A − M_L)/M_L
  // with A = M_m·2^[below] ∈ [M_L, 2·M_L); u < p ⇔ U·M_L < (A − M_L)·2^24. n ≤ T since |x| ≤ max|x|,
  // and at n = T, A = M_L: p = 0.
  let u = draw_numerator(seed, step, 2u * i + 1u);
  let excess = (m.mantissa << select(0u, 1u, below)) - largest.mantissa;
  let up = less_wide(mul_wide(u, largest.mantissa), vec2u(excess << 24u, excess >> 8u));
  l_out[i] = sign | luq_level_bits(largest, n + select(0, 1, up) - top);
}

// --- Symmetric absmax quantization, one thread per element: code = clamp(round(v), −Qp, Qp) or
// clamp(⌊v + u⌋, −Qp, Qp), v = x·(Qp/max|x|), out = s·code. ±max|x| get v = ±Qp exactly.
@group(0) @binding(1) var<storage, read> s_x: array<f32>;
@group(0) @binding(2) var<storage, read> s_stats: array<u32>;
@group(0) @binding(3) var<storage, read> s_step_state: array<u32>;
@group(0) @binding(4) var<storage, read_write> s_out: array<u32>; // f32 bit patterns

@compute @workgroup_size(WG)
fn symmetric_quantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let largest_bits = s_stats[0];
  if (largest_bits >= INFINITY_BITS) { s_out[i] = NAN_BITS; return; }
  let scale = bitcast<f32>(s_stats[1]);
  let inverse = bitcast<f32>(s_stats[2]);
  let qp = bitcast<f32>(s_stats[3]);
  let x = s_x[i];
  if (!(scale > 0.0)) { s_out[i] = 0u; return; }
  var v = x * inverse;
  if ((bitcast<u32>(x) & MAGNITUDE_BITS) == largest_bits) { v = select(qp, -qp, x < 0.0); }
  var code: f32;
  if (p.stochastic != 0u) {
    let u = uniform_draw(s_step_state[0], p.stream, s_step_state[1], i);
    code = floor_plus_draw(v, u);
  } else {
    code = round_half_away(v);
  }
  s_out[i] = bitcast<u32>(scale * clamp(code, -qp, qp));
}
