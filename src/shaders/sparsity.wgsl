// 2:4 structured sparsity (src/engine/sparsity): the pruning mask, masking of parameters, gradients and
// Adam moments, and the compressed 2:4 storage that shaders/sparse24.wgsl multiplies.
//
// Groups: 4 consecutive values along the reduction dimension, i.e. along a row of a weight stored
// [out_features, in_features] (nn.Linear's layout); in_features is a multiple of 4 (checked on the host).
// Selection of the k largest |w| of a group: repeated argmax with a strict `>`, so of equal magnitudes the
// lower index wins (reference/sparsity.ts does the same, so masks match exactly).
//
// Compressed storage of a row of K = 4G values (G groups):
//   values  the 2 kept values of every group, in index order: f32 [G] vec2 per row; INT8 codes 4 per u32
//           (word h = groups 2h, 2h+1); INT4 codes 8 per u32 (word h = groups 4h … 4h+3); value j of a row
//           (j = 2g + t) sits in lane/nibble j % 4 (INT8) or j % 8 (INT4) of its word.
//   meta    2-bit indices: per group a nibble (bits 0–1: index of the first kept value, bits 2–3: of the
//           second, first < second), 8 groups per u32 word (group g in bits 4·(g % 8)…).
// A group with more than 2 non-zeros is not 2:4: the 2 largest are kept and `violations` counts it.

struct Params {
  rows: u32,       // rows of the matrix
  groups: u32,     // G: groups of 4 per row (in_features / 4)
  in_words: u32,   // compress_int*: packed code words per input row
  out_words: u32,  // compress_int*: value words per output row
  meta_words: u32, // ⌈G/8⌉
  keep: u32,       // prune_mask: values kept per group (3: 25% sparsity, 2: 2:4)
  n: u32,          // apply_mask: values to mask
}
@group(0) @binding(0) var<uniform> p: Params;

fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// --- Pruning: one thread per group. Of the values still kept (mask ≠ 0), the `keep` largest |w| stay.
@group(0) @binding(1) var<storage, read> m_w: array<vec4f>;        // [rows·G] groups of the weight
@group(0) @binding(2) var<storage, read_write> m_mask: array<vec4f>; // the same layout, 1 kept / 0 pruned

@compute @workgroup_size(256)
fn prune_mask(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.groups) { return; }
  let a = abs(m_w[i]);
  let old = m_mask[i];
  var chosen = vec4f(0.0);
  for (var t = 0u; t < p.keep; t++) {
    var best = 4u;
    for (var j = 0u; j < 4u; j++) {
      if (old[j] == 0.0 || chosen[j] != 0.0) { continue; }
      if (best == 4u || a[j] > a[best]) { best = j; }
    }
    if (best == 4u) { break; } // fewer candidates than `keep`: all of them stay
    chosen[best] = 1.0;
  }
  m_mask[i] = chosen;
}

// --- x ← 0 where the mask is 0 (a select, not a product: a NaN there is cleared too). One thread per value.
@group(0) @binding(1) var<storage, read> a_mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> a_x: array<f32>;

@compute @workgroup_size(256)
fn apply_mask(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  if (a_mask[i] == 0.0) { a_x[i] = 0.0; }
}

// Indices (ascending) of the two largest magnitudes of a group, lower index on ties.
fn top2(a: vec4f) -> vec2u {
  var first = 0u;
  for (var j = 1u; j < 4u; j++) { if (a[j] > a[first]) { first = j; } }
  var second = 4u;
  for (var j = 0u; j < 4u; j++) {
    if (j == first) { continue; }
    if (second == 4u || a[j] > a[second]) { second = j; }
  }
  return vec2u(min(first, second), max(first, second));
}

fn nonzeros(v: vec4f) -> u32 {
  return u32(v.x != 0.0) + u32(v.y != 0.0) + u32(v.z != 0.0) + u32(v.w != 0.0);
}

// The four int8 lanes of a word, sign-extended (lane 0 = the low byte).
fn lanes8(w: u32) -> vec4i {
  return vec4i(bitcast<i32>(w << 24u), bitcast<i32>(w << 16u), bitcast<i32>(w << 8u), bitcast<i32>(w)) >> vec4u(24u);
}

// Nibbles 4q … 4q+3 (q = 0: bits 0–15, q = 1: bits 16–31) of a word of INT4 codes, sign-extended.
fn lanes4(w: u32, q: u32) -> vec4i {
  let s = 16u * q;
  return vec4i(bitcast<i32>(w << (28u - s)), bitcast<i32>(w << (24u - s)), bitcast<i32>(w << (20u - s)), bitcast<i32>(w << (16u - s))) >> vec4u(28u);
}

// --- Compression, one thread per (row, meta word): 8 groups.
@group(0) @binding(1) var<storage, read> c_in: array<vec4f>;          // f32: [rows·G] groups
@group(0) @binding(2) var<storage, read_write> c_values: array<vec2f>; // [rows·G]
@group(0) @binding(3) var<storage, read_write> c_meta: array<u32>;     // [rows, meta_words]
@group(0) @binding(4) var<storage, read_write> c_violations: array<atomic<u32>>; // [1]

@compute @workgroup_size(256)
fn compress_f32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.meta_words) { return; }
  let row = i / p.meta_words;
  let mw = i % p.meta_words;
  var word_meta = 0u;
  var bad = 0u;
  for (var t = 0u; t < 8u; t++) {
    let g = mw * 8u + t;
    if (g >= p.groups) { break; }
    let v = c_in[row * p.groups + g];
    let idx = top2(abs(v));
    c_values[row * p.groups + g] = vec2f(v[idx.x], v[idx.y]);
    word_meta |= (idx.x | (idx.y << 2u)) << (4u * t);
    bad += u32(nonzeros(v) > 2u);
  }
  c_meta[i] = word_meta;
  if (bad > 0u) { atomicAdd(&c_violations[0], bad); }
}

// INT8 codes (intMatmul's packing: one word per group) → 2 codes per group, 4 per word.
@group(0) @binding(1) var<storage, read> ci_in: array<u32>;             // [rows, in_words]
@group(0) @binding(2) var<storage, read_write> ci_values: array<u32>;   // [rows, out_words]
@group(0) @binding(3) var<storage, read_write> ci_meta: array<u32>;     // [rows, meta_words]
@group(0) @binding(4) var<storage, read_write> ci_violations: array<atomic<u32>>;

override INT4_CODES: bool = false;

@compute @workgroup_size(256)
fn compress_int(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows * p.meta_words) { return; }
  let row = i / p.meta_words;
  let mw = i % p.meta_words;
  var word_meta = 0u;
  var bad = 0u;
  // Kept codes of the 8 groups, as bytes (INT8) or nibbles (INT4) in value order.
  var packed = array<u32, 4>(0u, 0u, 0u, 0u);
  for (var t = 0u; t < 8u; t++) {
    let g = mw * 8u + t;
    if (g >= p.groups) { break; }
    var codes: vec4i;
    if (INT4_CODES) {
      codes = lanes4(ci_in[row * p.in_words + g / 2u], g % 2u);
    } else {
      codes = lanes8(ci_in[row * p.in_words + g]);
    }
    let idx = top2(abs(vec4f(codes)));
    let kept = vec2i(codes[idx.x], codes[idx.y]);
    word_meta |= (idx.x | (idx.y << 2u)) << (4u * t);
    bad += u32(nonzeros(vec4f(codes)) > 2u);
    let j = 2u * t; // value index within the 16 of this meta word
    if (INT4_CODES) {
      packed[j / 8u] |= ((bitcast<u32>(kept.x) & 0xfu) << (4u * (j % 8u))) | ((bitcast<u32>(kept.y) & 0xfu) << (4u * ((j + 1u) % 8u)));
    } else {
      packed[j / 4u] |= ((bitcast<u32>(kept.x) & 0xffu) << (8u * (j % 4u))) | ((bitcast<u32>(kept.y) & 0xffu) << (8u * ((j + 1u) % 4u)));
    }
  }
  ci_meta[i] = word_meta;
  // 16 values are 4 INT8 words or 2 INT4 words; words past the row's end are not written.
  let per = select(4u, 2u, INT4_CODES);
  for (var q = 0u; q < per; q++) {
    let w = mw * per + q;
    if (w < p.out_words) { ci_values[row * p.out_words + w] = packed[q]; }
  }
  if (bad > 0u) { atomicAdd(&ci_violations[0], bad); }
}

// --- A dispatch that does nothing: the filler of a forward slot that is not in use (ops.ts, switchable
// forward products), one workgroup of one thread.
@group(0) @binding(1) var<storage, read_write> n_sink: array<u32>;

@compute @workgroup_size(1)
fn noop(@builtin(local_invocation_index) i: u32) {
  if (i > 1u) { n_sink[0] = 0u; }
}
