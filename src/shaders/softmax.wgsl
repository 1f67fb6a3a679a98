// Row softmax, forward and backward, shared by attention.wgsl and cross_attention.wgsl (gpu/kernels.ts
// prepends it, after reduce.wgsl). One workgroup of REDUCE_WG threads per row; the forward reads `scores`
// and writes `probs`, which the including module binds.

// Softmax of the row at `base` over its first n of `cols` entries; entries n … cols−1 (later positions
// under the causal mask, padding under the key padding mask) get probability exactly 0. n ≥ 1.
fn softmax_row_prefix(base: u32, cols: u32, n: u32, lid: u32) {
  var m = -3.0e38;
  for (var j = lid; j < n; j += REDUCE_WG) { m = max(m, scores[base + j]); }
  m = workgroup_max(lid, m);
  var s = 0.0;
  for (var j = lid; j < n; j += REDUCE_WG) { s += exp(scores[base + j] - m); }
  s = workgroup_sum(lid, s);
  let inv = 1.0 / s;
  for (var j = lid; j < cols; j += REDUCE_WG) {
    var v = 0.0;
    if (j < n) { v = exp(scores[base + j] - m) * inv; }
    probs[base + j] = v;
  }
}

// ∇scores = P ∘ (∇P − Σ_j P·∇P) per row; masked entries have P = 0 and so get 0.
@group(0) @binding(1) var<storage, read> sb_probs: array<f32>;
@group(0) @binding(2) var<storage, read> sb_dprobs: array<f32>;
@group(0) @binding(3) var<storage, read_write> sb_dscores: array<f32>;

fn softmax_row_backward(base: u32, cols: u32, lid: u32) {
  var s = 0.0;
  for (var j = lid; j < cols; j += REDUCE_WG) { s += sb_probs[base + j] * sb_dprobs[base + j]; }
  s = workgroup_sum(lid, s);
  for (var j = lid; j < cols; j += REDUCE_WG) {
    sb_dscores[base + j] = sb_probs[base + j] * (sb_dprobs[base + j] - s);
  }
}
