// Column sums over many rows, in two passes so that every workgroup of the GPU has work: the bias
// gradient ∇b[c] = Σ_n ∇Y[n, c], and the LayerNorm parameter gradients ∇γ[c] = Σ_n ∇y[n, c]·x̂[n, c],
// ∇β[c] = Σ_n ∇y[n, c]. A single pass with one thread per column runs only C/64 workgroups and walks
// all N rows serially: at N = 8192 that took as long as the matmuls of the layer.
//
// Pass 1: a workgroup takes 64 columns × CHUNK rows; its 4 row lanes sum every 4th row of the chunk,
// then the lanes are added in a fixed order: partial[chunk, c] (and a second plane for ∇β).
// Pass 2: one thread per column adds the chunks' partials in chunk order. Deterministic, no atomics.

struct Params {
  rows: u32,
  cols: u32,
  chunks: u32, // ⌈rows / CHUNK⌉
  planes: u32, // 1: a plain column sum; 2: the LayerNorm pair (∇γ, ∇β)
}
@group(0) @binding(0) var<uniform> p: Params;

const COLS = 64u;
const LANES = 4u;
const CHUNK = 256u;

var<workgroup> lane_sums: array<vec2f, 256>; // [lane][column]

// Pass 1 of a plain column sum: binding 1 = ∇Y [rows, cols], binding 2 = partials [chunks, cols].
@group(0) @binding(1) var<storage, read> s_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> s_partials: array<f32>;

@compute @workgroup_size(64, 4)
fn sum_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = wg.x * COLS + lid.x;
  let chunk = wg.y;
  let first = chunk * CHUNK;
  let last = min(first + CHUNK, p.rows);
  var s = 0.0;
  if (c < p.cols) {
    for (var r = first + lid.y; r < last; r += LANES) { s += s_dy[r * p.cols + c]; }
  }
  lane_sums[lid.y * COLS + lid.x] = vec2f(s, 0.0);
  workgroupBarrier();
  if (lid.y == 0u && c < p.cols) {
    let t = (lane_sums[lid.x].x + lane_sums[COLS + lid.x].x) + (lane_sums[2u * COLS + lid.x].x + lane_sums[3u * COLS + lid.x].x);
    s_partials[chunk * p.cols + c] = t;
  }
}

// Pass 1 of the LayerNorm pair: ∇y, x, mean, rstd in; partials [2, chunks, cols] out (∇γ plane first).
@group(0) @binding(1) var<storage, read> l_dy: array<f32>;
@group(0) @binding(2) var<storage, read> l_x: array<f32>;
@group(0) @binding(3) var<storage, read> l_mean: array<f32>;
@group(0) @binding(4) var<storage, read> l_rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> l_partials: array<f32>;

@compute @workgroup_size(64, 4)
fn layernorm_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = wg.x * COLS + lid.x;
  let chunk = wg.y;
  let first = chunk * CHUNK;
  let last = min(first + CHUNK, p.rows);
  var s = vec2f(0.0);
  if (c < p.cols) {
    for (var r = first + lid.y; r < last; r += LANES) {
      let i = r * p.cols + c;
      let g = l_dy[i];
      s += vec2f(g * (l_x[i] - l_mean[r]) * l_rstd[r], g);
    }
  }
  lane_sums[lid.y * COLS + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && c < p.cols) {
    let t = (lane_sums[lid.x] + lane_sums[COLS + lid.x]) + (lane_sums[2u * COLS + lid.x] + lane_sums[3u * COLS + lid.x]);
    l_partials[chunk * p.cols + c] = t.x;
    l_partials[(p.chunks + chunk) * p.cols + c] = t.y;
  }
}

// Pass 2: out_k[c] = Σ_chunk partials[k, chunk, c] for each plane k (out_0 at binding 2, out_1 at 3).
@group(0) @binding(1) var<storage, read> f_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_out0: array<f32>;
@group(0) @binding(3) var<storage, read_write> f_out1: array<f32>;

@compute @workgroup_size(64)
fn finish(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.cols) { return; }
  var s0 = 0.0;
  for (var k = 0u; k < p.chunks; k++) { s0 += f_partials[k * p.cols + c]; }
  f_out0[c] = s0;
  if (p.planes == 2u) {
    var s1 = 0.0;
    for (var k = 0u; k < p.chunks; k++) { s1 += f_partials[(p.chunks + k) * p.cols + c]; }
    f_out1[c] = s1;
  }
}

// Split-K products (ops/matmul.ts weightGradient): C[i] = Σ_s partial[s, i] (+ C[i]), the splits
// added in order. Uniforms: rows = elements of C, cols = splits, planes = 1 to accumulate into C.
@group(0) @binding(1) var<storage, read> k_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_out: array<f32>;

@compute @workgroup_size(256)
fn sum_splits(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.rows) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.cols; k++) { s += k_partials[k * p.rows + i]; }
  if (p.planes == 1u) { s += k_out[i]; }
  k_out[i] = s;
}
