// The non-matmul parts of multi-head self-attention ("Attention Is All You Need" §3.2).
// The products Q·Kᵀ (scaled by 1/√d_k through the matmul's alpha) and P·V run on the batched matmul;
// here are the layout changes between the fused c_attn output and per-head tensors, and the softmax
// with its masks applied before it: the causal mask of a decoder, and the key padding mask of an
// encoder (keys past a sequence's end, where the data pipeline padded it, get no weight).
//
// Layouts: qkv is [B·T, 3C] with columns [q | k | v], head h at columns h·hs … (h+1)·hs of each part;
// per-head tensors are [B, nHead, T, hs]; scores and probabilities are [B, nHead, T, T].

struct Params { B: u32, T: u32, C: u32, n_head: u32, causal: u32 }
@group(0) @binding(0) var<uniform> p: Params;

fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// --- qkv [B·T, 3C] → q, k, v [B, nh, T, hs]; and the reverse for their gradients.
@group(0) @binding(1) var<storage, read> split_qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> split_q: array<f32>;
@group(0) @binding(3) var<storage, read_write> split_k: array<f32>;
@group(0) @binding(4) var<storage, read_write> split_v: array<f32>;

// Index i over [B, nh, T, hs] → the element's column-offset position in a [B·T, C]-shaped row.
fn head_to_row(i: u32) -> vec2u {
  let hs = p.C / p.n_head;
  let d = i % hs;
  let t = (i / hs) % p.T;
  let h = (i / (hs * p.T)) % p.n_head;
  let b = i / (hs * p.T * p.n_head);
  return vec2u(b * p.T + t, h * hs + d); // (row, column within a C-wide part)
}

@compute @workgroup_size(256)
fn split_heads(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.B * p.T * p.C) { return; }
  let rc = head_to_row(i);
  let base = rc.x * 3u * p.C + rc.y;
  split_q[i] = split_qkv[base];
  split_k[i] = split_qkv[base + p.C];
  split_v[i] = split_qkv[base + 2u * p.C];
}

@group(0) @binding(1) var<storage, read> merge_dq: array<f32>;
@group(0) @binding(2) var<storage, read> merge_dk: array<f32>;
@group(0) @binding(3) var<storage, read> merge_dv: array<f32>;
@group(0) @binding(4) var<storage, read_write> merge_dqkv: array<f32>;

@compute @workgroup_size(256)
fn merge_heads_qkv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.B * p.T * p.C) { return; }
  let rc = head_to_row(i);
  let base = rc.x * 3u * p.C + rc.y;
  merge_dqkv[base] = merge_dq[i];
  merge_dqkv[base + p.C] = merge_dk[i];
  merge_dqkv[base + 2u * p.C] = merge_dv[i];
}

// --- [B, nh, T, hs] ↔ [B·T, C] (concatenating the heads, and splitting a gradient back into heads).
@group(0) @binding(1) var<storage, read> perm_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> perm_out: array<f32>;

@compute @workgroup_size(256)
fn merge_heads(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.B * p.T * p.C) { return; }
  let rc = head_to_row(i);
  perm_out[rc.x * p.C + rc.y] = perm_in[i];
}

@compute @workgroup_size(256)
fn split_heads_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.B * p.T * p.C) { return; }
  let rc = head_to_row(i);
  perm_out[i] = perm_in[rc.x * p.C + rc.y];
}

// --- key padding: the number of real keys of each sequence, from its token ids. Sequences are padded
// at their end (data/classify.ts, data/translate.ts), so a sequence's length is one past its last
// non-pad token. At least 1: the first key (the CLS token, the first source character) is never
// padding in the datasets, and if a caller writes an all-pad row its queries still attend to key 0
// instead of dividing 0 by 0 (NaN).
struct LengthParams { B: u32, T: u32, pad: u32 }
@group(0) @binding(0) var<uniform> lp: LengthParams;
@group(0) @binding(1) var<storage, read> kl_tokens: array<u32>;
@group(0) @binding(2) var<storage, read_write> kl_lengths: array<u32>;

@compute @workgroup_size(256)
fn key_lengths(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = flat_index(gid, nwg);
  if (b >= lp.B) { return; }
  var n = 1u;
  for (var t = 0u; t < lp.T; t++) {
    if (kl_tokens[b * lp.T + t] != lp.pad) { n = t + 1u; }
  }
  kl_lengths[b] = n;
}

// --- softmax over keys, one workgroup per (b, h, query) row. Masked scores are −∞ before the softmax,
// so they get probability exactly 0 and the row still sums to 1. Every row keeps ≥ 1 key (key 0 is
// never masked), so the sum is never 0.
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
// u32 [B]: real keys of each sequence (key_lengths); only softmax_forward_masked reads it.
@group(0) @binding(3) var<storage, read> key_len: array<u32>;

const REDUCE_WG = 64u;

// Number of keys query t may attend to under the causal mask (all T without it).
fn visible_keys(t: u32) -> u32 { return select(p.T, t + 1u, p.causal != 0u); }

// Softmax of row `row` over its first n keys (softmax.wgsl); keys n … T−1 get probability 0.
fn softmax_row(row: u32, lid: u32, n: u32) { softmax_row_prefix(row * p.T, p.T, n, lid); }

@compute @workgroup_size(REDUCE_WG)
fn softmax_forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.B * p.n_head * p.T) { return; }
  softmax_row(row, lid3.x, visible_keys(row % p.T));
}

// With the key padding mask: keys at or past the sequence's length are masked too. Padding only ever
// masks keys after the real ones, so the visible keys stay a prefix 0 … n−1.
@compute @workgroup_size(REDUCE_WG)
fn softmax_forward_masked(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.B * p.n_head * p.T) { return; }
  let b = row / (p.n_head * p.T);
  softmax_row(row, lid3.x, min(visible_keys(row % p.T), clamp(key_len[b], 1u, p.T)));
}

// ∇scores (softmax.wgsl): masked entries have P = 0 and so get 0.
@compute @workgroup_size(REDUCE_WG)
fn softmax_backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  let rows = p.B * p.n_head * p.T;
  if (row >= rows) { return; }
  softmax_row_backward(row * p.T, p.T, lid3.x);
}
