// The non-matmul parts of cross-attention ("Attention Is All You Need" §3.2.3: queries from the
// decoder, keys and values from the encoder output), where the query length Tq and the key length Tk
// differ: layout changes between token rows and per-head tensors, a row softmax of any width (with the
// key padding mask of the source: keys past a source's end get no weight), and an in-place sum for the
// encoder-output gradient that every decoder layer adds to.
//
// Layouts: a rows tensor is [B·T, stride] whose columns offset … offset + C hold the C features
// (q: stride C, offset 0; the fused c_kv output: stride 2C, k at offset 0 and v at offset C), head h
// at columns h·hs … (h+1)·hs of them; per-head tensors are [B, nh, T, hs]; scores [B, nh, Tq, Tk].

struct Params { B: u32, T: u32, C: u32, n_head: u32, stride: u32, offset: u32 }
@group(0) @binding(0) var<uniform> p: Params;

fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// Index i over [B, nh, T, hs] → (row, column) of the rows tensor.
fn head_to_row(i: u32) -> vec2u {
  let hs = p.C / p.n_head;
  let d = i % hs;
  let t = (i / hs) % p.T;
  let h = (i / (hs * p.T)) % p.n_head;
  let b = i / (hs * p.T * p.n_head);
  return vec2u(b * p.T + t, p.offset + h * hs + d);
}

@group(0) @binding(1) var<storage, read> perm_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> perm_out: array<f32>;

// rows [B·T, stride] (columns offset … offset + C) → heads [B, nh, T, hs].
@compute @workgroup_size(256)
fn rows_to_heads(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.B * p.T * p.C) { return; }
  let rc = head_to_row(i);
  perm_out[i] = perm_in[rc.x * p.stride + rc.y];
}

// heads [B, nh, T, hs] → rows [B·T, stride] (columns offset … offset + C; the others are left as they are).
@compute @workgroup_size(256)
fn heads_to_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.B * p.T * p.C) { return; }
  let rc = head_to_row(i);
  perm_out[rc.x * p.stride + rc.y] = perm_in[i];
}

// --- softmax over the last axis of [rows, cols], one workgroup per row. Rows come in blocks of
// rows_per_seq (nh·Tq) per sequence; softmax_rows_forward_masked gives the keys at or past that
// sequence's length (key_len, attention.wgsl's key_lengths) probability exactly 0 (−∞ before the
// softmax), softmax_rows_forward masks nothing.
struct RowParams { rows: u32, cols: u32, rows_per_seq: u32 }
@group(0) @binding(0) var<uniform> rp: RowParams;

const REDUCE_WG = 64u;

@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
// u32 [B]: real keys of each source sequence (≥ 1: key 0 is never masked, so no row sums to 0).
@group(0) @binding(3) var<storage, read> key_len: array<u32>;

// Softmax of row `row` over its first n columns (softmax.wgsl); columns n … cols−1 get probability 0.
fn softmax_prefix(row: u32, lid: u32, n: u32) { softmax_row_prefix(row * rp.cols, rp.cols, n, lid); }

@compute @workgroup_size(REDUCE_WG)
fn softmax_rows_forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= rp.rows) { return; }
  softmax_prefix(row, lid3.x, rp.cols);
}

@compute @workgroup_size(REDUCE_WG)
fn softmax_rows_forward_masked(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= rp.rows) { return; }
  softmax_prefix(row, lid3.x, clamp(key_len[row / rp.rows_per_seq], 1u, rp.cols));
}

// ∇scores (softmax.wgsl): masked keys have P = 0 and so get 0.
@compute @workgroup_size(REDUCE_WG)
fn softmax_rows_backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= rp.rows) { return; }
  softmax_row_backward(row * rp.cols, rp.cols, lid3.x);
}

// --- acc += x (the encoder output's gradient, summed over the decoder layers that read it).
struct SumParams { n: u32 }
@group(0) @binding(0) var<uniform> sp: SumParams;
@group(0) @binding(1) var<storage, read> acc_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc_out: array<f32>;

@compute @workgroup_size(256)
fn accumulate(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= sp.n) { return; }
  acc_out[i] = acc_out[i] + acc_x[i];
}
