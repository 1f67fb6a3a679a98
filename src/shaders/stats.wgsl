// Measurement kernels: the statistics the INT4 paper's figures are made of, computed on the GPU and
// written into caller-given slots (element offset `out_offset`) of a metrics buffer, so that every
// layer's statistics leave the GPU with one copy and one asynchronous map (ops/stats.ts documents the
// layouts; reference/stats.ts is the float64 oracle).
//   Fig. 2: per-row norms ‖(∇Y)_i‖ → a histogram on log10-spaced bins, and the share of Σ mass(‖row‖)
//           (mass = ‖·‖² or ‖·‖) carried by the top k1 and top k2 rows (1% and 10%).
//   Fig. 1: per-column max|X| (before and after the Hadamard transform), and [max, median, max/median].
//   Quantization: ‖a − b‖/‖a‖ (two-stage reduction), b plain or the bit split s↑·hi + s↓·lo.
//   Scalars (step sizes, LSS kept counts) copied and scaled into their slots.
//
// Deterministic: no float atomics. Sums are fixed-order (strided per thread, then a tree); the only
// atomics are on integers (histogram counts, radix counts, atomicMax on the bit patterns of |x|), whose
// results do not depend on the order.
//
// Exact selection (top-k shares, medians) by radix select: the k-th largest of n f32 values is found
// exactly in four passes of 8 bits over order-preserving u32 keys (one workgroup, two selections side
// by side, 4 KiB of counters and scans in workgroup memory, any n), so no sort and no limit on n from
// the 16 KiB of workgroup memory. (A single-workgroup bitonic sort would cap n at ~3.5k f32 beside the
// reduction scratch, and cost O(n log² n) barriers-bound steps.)

struct Params {
  n: u32,          // rows (row stats), values (summaries), elements (errors, copies)
  cols: u32,       // columns of a row-major [n, cols] input
  out_offset: u32, // element offset of the result in the output binding
  in_offset: u32,  // element offset of the input in its binding (summaries, copies)
  bins: u32,       // histogram bins, ≤ 256
  k1: u32,         // top-k1 share (1% of rows)
  k2: u32,         // top-k2 share (10% of rows)
  squared: u32,    // 1: mass = ‖row‖², 0: mass = ‖row‖
  log_min: f32,    // log10 of the lower edge of bin 0
  bin_scale: f32,  // bins / (logMax − logMin)
  partials: u32,   // workgroups of a two-stage reduction's first pass
  scale: f32,      // copies: the factor
}
@group(0) @binding(0) var<uniform> p: Params;

const REDUCE_WG = 256u;
const WG = REDUCE_WG;
const LOG10_2 = 0.30102999566398120;
// Written where a ratio is unbounded (x/0 with x > 0): the largest finite f32 (WGSL has no runtime ∞).
const UNBOUNDED = 3.40282346638528859812e38;

// outlier_summary reads its values from the output binding when they share one buffer (the column
// maxima in the same metrics buffer as the summary): binding 1 is then a placeholder.
override SHARED_INPUT: bool = false;

// Summaries, the error's final pass and copies: input values at binding 1, results at binding 2.
@group(0) @binding(1) var<storage, read> s_values: array<f32>;
@group(0) @binding(2) var<storage, read_write> o_out: array<f32>;

fn value_at(i: u32) -> f32 {
  if (SHARED_INPUT) { return o_out[p.in_offset + i]; }
  return s_values[p.in_offset + i];
}

// --- Radix select ---------------------------------------------------------------------------------
// Keys that order like the floats (negative values flipped, positive ones with the sign bit set).
fn order_key(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn key_value(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

// Two selections run side by side (two ranks per kernel: the top-1% and top-10% boundaries, or the
// two middle values of a median), sharing each pass over the data.
var<workgroup> radix_hist: array<array<atomic<u32>, 256>, 2>;
var<workgroup> radix_scan: array<array<u32, 256>, 2>;
var<workgroup> sel_state: array<vec2u, 2>; // (prefix, remaining) per selection

// The ka-th and kb-th largest (1 ≤ k ≤ n) keys of value_at(0 .. n): returns (key_a, ties_a, key_b,
// ties_b), ties ≥ 1 being how many values equal to the key belong to the k largest (the others are
// the values with a larger key). Each of four rounds counts the next 8 bits of the keys that match
// the prefix found so far, turns the 256 counts into suffix sums (a Hillis–Steele scan, 8 steps), and
// the one thread whose digit d has Σ_{e>d} count < remaining ≤ Σ_{e≥d} count extends the prefix.
// Every thread must call it (lid < 256 = WG); every thread gets the result.
fn kth_largest2(lid: u32, n: u32, ka: u32, kb: u32) -> vec4u {
  var prefix = vec2u(0u, 0u);
  var remaining = vec2u(ka, kb);
  var mask = 0u;
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    atomicStore(&radix_hist[0][lid], 0u);
    atomicStore(&radix_hist[1][lid], 0u);
    workgroupBarrier();
    for (var i = lid; i < n; i += WG) {
      let key = order_key(value_at(i));
      let digit = (key >> shift) & 255u;
      if ((key & mask) == prefix.x) { atomicAdd(&radix_hist[0][digit], 1u); }
      if ((key & mask) == prefix.y) { atomicAdd(&radix_hist[1][digit], 1u); }
    }
    workgroupBarrier();
    let own = vec2u(atomicLoad(&radix_hist[0][lid]), atomicLoad(&radix_hist[1][lid]));
    radix_scan[0][lid] = own.x;
    radix_scan[1][lid] = own.y;
    for (var step = 1u; step < 256u; step <<= 1u) {
      workgroupBarrier();
      var add = vec2u(0u, 0u);
      if (lid + step < 256u) { add = vec2u(radix_scan[0][lid + step], radix_scan[1][lid + step]); }
      workgroupBarrier();
      radix_scan[0][lid] += add.x;
      radix_scan[1][lid] += add.y;
    }
    workgroupBarrier();
    let at_or_above = vec2u(radix_scan[0][lid], radix_scan[1][lid]);
    let above = at_or_above - own;
    for (var j = 0u; j < 2u; j++) {
      if (at_or_above[j] >= remaining[j] && above[j] < remaining[j]) {
        sel_state[j] = vec2u(prefix[j] | (lid << shift), remaining[j] - above[j]);
      }
    }
    let a = workgroupUniformLoad(&sel_state[0]);
    let b = workgroupUniformLoad(&sel_state[1]);
    prefix = vec2u(a.x, b.x);
    remaining = vec2u(a.y, b.y);
    mask |= 255u << shift;
  }
  return vec4u(prefix.x, remaining.x, prefix.y, remaining.y);
}

fn mass(x: f32) -> f32 { return select(x, x * x, p.squared != 0u); }

// --- Fig. 2, first pass: per-row L2 norms of ∇Y [n, cols], one workgroup per row. Scaled by the
// row's max|x| (norm = m·√Σ(x/m)²), so tiny rows neither underflow to zero nor flush: a norm is 0
// exactly when the row is.
@group(0) @binding(1) var<storage, read> n_rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> n_norms: array<f32>;

@compute @workgroup_size(WG)
fn row_norms(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let row = wg.x + wg.y * 65535u;
  if (row >= p.n) { return; } // uniform: the whole workgroup leaves
  let base = row * p.cols;
  var m = 0.0;
  for (var c = lid; c < p.cols; c += WG) { m = max(m, abs(n_rows[base + c])); }
  let largest = workgroup_max(lid, m);
  var s = 0.0;
  if (largest > 0.0) {
    let inv = 1.0 / largest;
    for (var c = lid; c < p.cols; c += WG) {
      let x = n_rows[base + c] * inv;
      s += x * x;
    }
  }
  let sum = workgroup_sum(lid, s);
  if (lid == 0u) { n_norms[row] = select(0.0, largest * sqrt(sum), largest > 0.0); }
}

// --- Fig. 2, second pass, one workgroup, over the n norms (binding 1, from in_offset). Output at
// out_offset: [count per bin (bins), zero rows, share top k1, share top k2, total mass].
// Bin of a norm v > 0: clamp(floor((log10 v − log_min)·bin_scale), 0, bins − 1); v = 0 is counted
// apart. Masses are summed scaled by the largest norm (shares are ratios; the total is rescaled).
var<workgroup> bin_hist: array<atomic<u32>, 256>;
var<workgroup> zero_rows: atomic<u32>;

@compute @workgroup_size(WG)
fn row_norm_summary(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let n = p.n;
  atomicStore(&bin_hist[lid], 0u);
  if (lid == 0u) { atomicStore(&zero_rows, 0u); }
  workgroupBarrier();
  var m = 0.0;
  let last_bin = f32(p.bins - 1u);
  for (var i = lid; i < n; i += WG) {
    let v = value_at(i);
    m = max(m, v);
    if (v == 0.0) {
      atomicAdd(&zero_rows, 1u);
    } else {
      let t = (log2(v) * LOG10_2 - p.log_min) * p.bin_scale;
      let b = min(u32(clamp(floor(t), 0.0, last_bin)), p.bins - 1u);
      atomicAdd(&bin_hist[b], 1u);
    }
  }
  let largest = workgroup_max(lid, m); // its barriers also order the histogram's atomics
  if (lid < p.bins) { o_out[p.out_offset + lid] = f32(atomicLoad(&bin_hist[lid])); }
  let inv = select(0.0, 1.0 / largest, largest > 0.0);
  var s = 0.0;
  for (var i = lid; i < n; i += WG) { s += mass(value_at(i) * inv); }
  let total = workgroup_sum(lid, s);
  // The top-k masses: values above each k-th largest key, plus its ties.
  let sel = kth_largest2(lid, n, p.k1, p.k2);
  var above1 = 0.0;
  var above2 = 0.0;
  for (var i = lid; i < n; i += WG) {
    let v = value_at(i);
    let key = order_key(v);
    let mv = mass(v * inv);
    if (key > sel.x) { above1 += mv; }
    if (key > sel.z) { above2 += mv; }
  }
  let top1 = workgroup_sum(lid, above1) + f32(sel.y) * mass(key_value(sel.x) * inv);
  let top2 = workgroup_sum(lid, above2) + f32(sel.w) * mass(key_value(sel.z) * inv);
  if (lid == 0u) {
    let o = p.out_offset + p.bins;
    o_out[o] = f32(atomicLoad(&zero_rows));
    o_out[o + 1u] = select(0.0, top1 / total, total > 0.0);
    o_out[o + 2u] = select(0.0, top2 / total, total > 0.0);
    o_out[o + 3u] = total * mass(largest);
  }
}

// --- Fig. 1: per-column max|x| of x [n, cols], into out[out_offset + c]. The output slot is zeroed
// first (col_abs_max_init), then atomicMax on the bit patterns of |x| (which order like the values;
// a NaN's pattern is above +∞, so a NaN column shows as NaN). Workgroups of 64 columns × 4 row lanes,
// each taking a chunk of COL_CHUNK rows; grid [ceil(cols/64), ceil(n/COL_CHUNK)].
const COL_TILE = 64u;
const COL_LANES = 4u;
const COL_CHUNK = 64u;
@group(0) @binding(1) var<storage, read> c_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> c_out: array<atomic<u32>>;
var<workgroup> col_scratch: array<u32, 256>;

@compute @workgroup_size(WG)
fn col_abs_max_init(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.cols) { o_out[p.out_offset + gid.x] = 0.0; }
}

@compute @workgroup_size(COL_TILE, COL_LANES)
fn col_abs_max(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let col = wg.x * COL_TILE + lid.x;
  let start = wg.y * COL_CHUNK;
  let end = min(start + COL_CHUNK, p.n);
  var m = 0u;
  if (col < p.cols) {
    for (var r = start + lid.y; r < end; r += COL_LANES) { m = max(m, bitcast<u32>(c_x[r * p.cols + col]) & 0x7fffffffu); }
  }
  col_scratch[lid.y * COL_TILE + lid.x] = m;
  workgroupBarrier();
  if (lid.y == 0u && col < p.cols) {
    for (var j = 1u; j < COL_LANES; j++) { m = max(m, col_scratch[j * COL_TILE + lid.x]); }
    atomicMax(&c_out[p.out_offset + col], m);
  }
}

// --- Fig. 1 summary, one workgroup, over n values (binding 1 or, SHARED_INPUT, the output binding, from
// in_offset): out = [max, median, max/median]. The median of an even count is the mean of the two
// middle values. max/median is 0 when both are 0 and UNBOUNDED when only the median is.
@compute @workgroup_size(WG)
fn outlier_summary(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let n = p.n;
  var m = -UNBOUNDED;
  for (var i = lid; i < n; i += WG) { m = max(m, value_at(i)); }
  let largest = workgroup_max(lid, m);
  // The middle values: the (n+1)/2-th and the (n/2+1)-th largest (the same one for odd n).
  let sel = kth_largest2(lid, n, (n + 1u) / 2u, n / 2u + 1u);
  let upper = key_value(sel.x);
  let lower = key_value(sel.z);
  if (lid == 0u) {
    let median = 0.5 * lower + 0.5 * upper;
    var ratio = select(UNBOUNDED, 0.0, largest == 0.0);
    if (median != 0.0) { ratio = largest / median; }
    o_out[p.out_offset] = largest;
    o_out[p.out_offset + 1u] = median;
    o_out[p.out_offset + 2u] = ratio;
  }
}

// --- ‖a − b‖/‖a‖, first pass: workgroup w of `partials` writes Σ(a − b)² to partials[w] and Σa² to
// partials[partials + w]. b is either a tensor or the dequantized bit split s↑·hi + s↓·lo.
@group(0) @binding(1) var<storage, read> r_a: array<f32>;
@group(0) @binding(2) var<storage, read> r_b: array<f32>; // b, or hi
@group(0) @binding(3) var<storage, read_write> r_partials: array<f32>;
@group(0) @binding(4) var<storage, read> r_lo: array<f32>;
@group(0) @binding(5) var<storage, read> r_state: array<f32>; // [max|∇Y|, s↑, s↓, 0]

fn write_error_partials(wg: u32, lid: u32, d2: f32, a2: f32) {
  let d = workgroup_sum(lid, d2);
  let a = workgroup_sum(lid, a2);
  if (lid == 0u) {
    r_partials[wg] = d;
    r_partials[p.partials + wg] = a;
  }
}

@compute @workgroup_size(WG)
fn rel_error_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var d2 = 0.0;
  var a2 = 0.0;
  for (var i = wg.x * WG + lid; i < p.n; i += p.partials * WG) {
    let a = r_a[i];
    let d = a - r_b[i];
    d2 += d * d;
    a2 += a * a;
  }
  write_error_partials(wg.x, lid, d2, a2);
}

@compute @workgroup_size(WG)
fn rel_error_split_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let s_hi = r_state[1];
  let s_lo = r_state[2];
  var d2 = 0.0;
  var a2 = 0.0;
  for (var i = wg.x * WG + lid; i < p.n; i += p.partials * WG) {
    let a = r_a[i];
    let d = a - (s_hi * r_b[i] + s_lo * r_lo[i]);
    d2 += d * d;
    a2 += a * a;
  }
  write_error_partials(wg.x, lid, d2, a2);
}

// The same with the split packed as INT8 codes ([rows, ⌈cols/4⌉] words each; element i = row·cols + col).
@group(0) @binding(2) var<storage, read> rc_hi: array<u32>;
@group(0) @binding(4) var<storage, read> rc_lo: array<u32>;

@compute @workgroup_size(WG)
fn rel_error_split_codes_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let s_hi = r_state[1];
  let s_lo = r_state[2];
  let words = (p.cols + 3u) / 4u;
  var d2 = 0.0;
  var a2 = 0.0;
  for (var i = wg.x * WG + lid; i < p.n; i += p.partials * WG) {
    let a = r_a[i];
    let col = i % p.cols;
    let at = (i / p.cols) * words + col / 4u;
    let d = a - (s_hi * lane_value(rc_hi[at], col % 4u) + s_lo * lane_value(rc_lo[at], col % 4u));
    d2 += d * d;
    a2 += a * a;
  }
  write_error_partials(wg.x, lid, d2, a2);
}

// Second pass, one workgroup: partials at binding 1, out[out_offset] = √(Σd²/Σa²); 0 when both sums
// are 0, UNBOUNDED when only Σa² is.
@compute @workgroup_size(WG)
fn rel_error_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var d2 = 0.0;
  var a2 = 0.0;
  for (var i = lid; i < p.partials; i += WG) {
    d2 += s_values[i];
    a2 += s_values[p.partials + i];
  }
  let d = workgroup_sum(lid, d2);
  let a = workgroup_sum(lid, a2);
  if (lid == 0u) {
    var r = select(UNBOUNDED, 0.0, d == 0.0);
    if (a > 0.0) { r = sqrt(d / a); }
    o_out[p.out_offset] = r;
  }
}

// --- Scalars into their slots: out[out_offset + i] = values[in_offset + i]·scale, i < n.
@compute @workgroup_size(WG)
fn copy_scaled(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.n) { o_out[p.out_offset + gid.x] = s_values[p.in_offset + gid.x] * p.scale; }
}

// --- Dynamic loss scaling: ∇Y carries the loss scale (FP16 runs). Divides n values of the output
// binding in place by the scalar at s_values[in_offset], so the row norms are those of the true ∇Y.
@compute @workgroup_size(WG)
fn divide_by_scalar(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.n) { o_out[p.out_offset + gid.x] = o_out[p.out_offset + gid.x] / s_values[p.in_offset]; }
}
