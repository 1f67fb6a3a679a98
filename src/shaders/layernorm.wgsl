// LayerNorm over the last dimension (C): y = (x − mean) · rstd · γ + β, rstd = 1/√(var + eps), biased
// variance as in PyTorch. One workgroup per row; the row statistics are kept for the backward pass.

struct Params { rows: u32, C: u32, eps: f32, add_residual_grad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;

const REDUCE_WG = 64u;
const WG = REDUCE_WG;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.C;
  var s = 0.0;
  for (var c = lid; c < p.C; c += WG) { s += x[base + c]; }
  let m = workgroup_sum(lid, s) / f32(p.C);
  var v = 0.0;
  for (var c = lid; c < p.C; c += WG) { let d = x[base + c] - m; v += d * d; }
  let r = inverseSqrt(workgroup_sum(lid, v) / f32(p.C) + p.eps);
  for (var c = lid; c < p.C; c += WG) {
    y[base + c] = (x[base + c] - m) * r * gamma[c] + beta[c];
  }
  if (lid == 0u) { mean[row] = m; rstd[row] = r; }
}

// ∇x = rstd · (g − mean(g) − x̂ · mean(g · x̂)), with g = ∇y · γ and x̂ the normalised input.
// In a pre-LN block the input is the residual stream, so the residual gradient (the identity branch)
// is added here rather than in a separate pass.
@group(0) @binding(1) var<storage, read> b_dy: array<f32>;
@group(0) @binding(2) var<storage, read> b_x: array<f32>;
@group(0) @binding(3) var<storage, read> b_gamma: array<f32>;
@group(0) @binding(4) var<storage, read> b_mean: array<f32>;
@group(0) @binding(5) var<storage, read> b_rstd: array<f32>;
@group(0) @binding(6) var<storage, read> b_dresidual: array<f32>;
@group(0) @binding(7) var<storage, read_write> b_dx: array<f32>;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.C;
  let m = b_mean[row];
  let r = b_rstd[row];
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = lid; c < p.C; c += WG) {
    let g = b_dy[base + c] * b_gamma[c];
    sg += g;
    sgx += g * (b_x[base + c] - m) * r;
  }
  let sums = vec2f(workgroup_sum(lid, sg), workgroup_sum(lid, sgx)) / f32(p.C);
  for (var c = lid; c < p.C; c += WG) {
    let xhat = (b_x[base + c] - m) * r;
    let g = b_dy[base + c] * b_gamma[c];
    var d = r * (g - sums.x - xhat * sums.y);
    if (p.add_residual_grad != 0u) { d += b_dresidual[base + c]; }
    b_dx[base + c] = d;
  }
}
