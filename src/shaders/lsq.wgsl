// The LSQ pieces of the INT4 backward (paper §3.1, A.3; spec §1; the official `GW`/`GI` LSQ_cuda_kernel),
// working from v = XH/|s|, the unrounded value the forward quantizer keeps (quantize.wgsl):
//   code = clamp(round(v), −Q_N, Q_P)     (round half away from zero, as the forward)
//   X̂ = |s|·code                          (dequantize; its row norms enter the leverage scores)
//   ∇_input = 1[−Q_N ≤ v ≤ Q_P]·∇_X̂       (straight-through estimator, zero where clipped)
//   ∇s = sign(s)·g·Σ δ·∇_X̂,  g = 1/√(Q_P·numel),  δ = round(v) − v inside, −Q_N below, Q_P above.
// The forward uses |s| (the official code resets s.data = |s|, `QZ` lines 472–474); sign(s) makes ∇s
// the gradient wrt the stored s also where it went negative (the official code never sees that case).

struct Params {
  n: u32,          // elements (dequantize, backward); rows (row norms)
  cols: u32,       // row length (row norms)
  qn: f32,         // Q_N: codes ≥ −Q_N
  qp: f32,         // Q_P: codes ≤ Q_P
  grad_scale: f32, // g = 1/√(Q_P·numel), computed on the host in float64
  partials: u32,   // workgroups of the first backward pass
  // The second tensor of the paired backward (backward_*_pair; 0 elsewhere): its elements, g and workgroups.
  n2: u32,
  grad_scale2: f32,
  partials2: u32,
  // 1: the second tensor's gradient comes in two parts, the second part in its masked output (LSS's ∇X:
  // the low half's product writes there, and the sum is taken here instead of by an accumulating product).
  add_masked2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

const REDUCE_WG = 256u;
const WG = REDUCE_WG;

fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// The forward's code as an f32 integer (the clamp in f32 also tames ±inf).
fn lsq_code(v: f32) -> f32 { return clamp(round_half_away(v), -p.qn, p.qp); }

// --- Norms of the dequantized rows, ‖X̂_r‖ = |s|·‖code_r‖, one workgroup per row. The sums of squared
// codes are exact in f32 (≤ 64·cols < 2^24).
@group(0) @binding(1) var<storage, read> r_v: array<f32>;
@group(0) @binding(2) var<storage, read> r_step: array<f32>;
@group(0) @binding(3) var<storage, read_write> r_norms: array<f32>;

@compute @workgroup_size(WG)
fn code_row_norms(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.n) { return; }
  let lid = lid3.x;
  let base = row * p.cols;
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) { let q = lsq_code(r_v[base + c]); s += q * q; }
  let total = workgroup_sum(lid, s);
  if (lid == 0u) { r_norms[row] = sqrt(total) * abs(r_step[0]); }
}

// --- X̂ = |s|·code, one thread per element (f32 operand of the backward's float products).
@group(0) @binding(1) var<storage, read> d_v: array<f32>;
@group(0) @binding(2) var<storage, read> d_step: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_out: array<f32>;

@compute @workgroup_size(WG)
fn dequantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  d_out[i] = abs(d_step[0]) * lsq_code(d_v[i]);
}

// --- Backward, first pass: the masked gradient, and each workgroup's share of Σ δ·∇.
@group(0) @binding(1) var<storage, read> b_grad: array<f32>;
@group(0) @binding(2) var<storage, read> b_v: array<f32>;
@group(0) @binding(3) var<storage, read_write> b_masked: array<f32>;
@group(0) @binding(4) var<storage, read_write> b_partials: array<f32>;

// Σ δ·∇'s term and the STE-masked gradient of one element: δ = round(v) − v inside, −Q_N below, Q_P above.
fn lsq_backward_term(v: f32, g: f32) -> vec2<f32> {
  let below = v < -p.qn;
  let above = v > p.qp;
  var delta = round_half_away(v) - v;
  if (below) { delta = -p.qn; }
  if (above) { delta = p.qp; }
  return vec2<f32>(delta * g, select(g, 0.0, below || above));
}

@compute @workgroup_size(WG)
fn backward_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let lid = lid3.x;
  var acc = 0.0;
  for (var i = wg.x * WG + lid; i < p.n; i += nwg.x * WG) {
    let t = lsq_backward_term(b_v[i], b_grad[i]);
    acc += t.x;
    b_masked[i] = t.y;
  }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) { b_partials[wg.x] = total; }
}

// --- The same for two tensors in one dispatch (a layer's W and X): workgroups [0, partials) take the
// first, [partials, partials + partials2) the second; their partial sums land side by side.
@group(0) @binding(5) var<storage, read> b2_grad: array<f32>;
@group(0) @binding(6) var<storage, read> b2_v: array<f32>;
@group(0) @binding(7) var<storage, read_write> b2_masked: array<f32>;

@compute @workgroup_size(WG)
fn backward_partial_pair(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var acc = 0.0;
  if (wg.x < p.partials) {
    for (var i = wg.x * WG + lid; i < p.n; i += p.partials * WG) {
      let t = lsq_backward_term(b_v[i], b_grad[i]);
      acc += t.x;
      b_masked[i] = t.y;
    }
  } else {
    for (var i = (wg.x - p.partials) * WG + lid; i < p.n2; i += p.partials2 * WG) {
      let t = lsq_backward_term(b2_v[i], select(b2_grad[i], b2_grad[i] + b2_masked[i], p.add_masked2 != 0u));
      acc += t.x;
      b2_masked[i] = t.y;
    }
  }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) { b_partials[wg.x] = total; }
}

// --- The same over 16-byte vectors (every tensor's numel a multiple of 4; the host picks these entries):
// a thread takes vectors i, i + stride, … two at a time, both loaded before either is stored (a load after
// a store cannot be moved ahead of it, the bindings might alias), so more bytes are in flight per thread.
@group(0) @binding(1) var<storage, read> b_grad4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b_v4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> b_masked4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> b2_grad4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> b2_v4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> b2_masked4: array<vec4<f32>>;

struct Terms4 {
  delta_sum: f32,      // Σ δ·∇ over the 4 elements, in element order
  masked: vec4<f32>,   // the STE-masked gradients
}

fn lsq_backward_terms4(v: vec4<f32>, g: vec4<f32>) -> Terms4 {
  var t: Terms4;
  for (var j = 0u; j < 4u; j++) {
    let e = lsq_backward_term(v[j], g[j]);
    t.delta_sum += e.x;
    t.masked[j] = e.y;
  }
  return t;
}

// Workgroup `group` of `groups` over the first tensor (n/4 vectors): its threads' shares of Σ δ·∇.
fn partial_first_vec4(group: u32, groups: u32, lid: u32) -> f32 {
  let n4 = p.n / 4u;
  let stride = groups * WG;
  var acc = 0.0;
  var i = group * WG + lid;
  for (; i + stride < n4; i += 2u * stride) {
    let t0 = lsq_backward_terms4(b_v4[i], b_grad4[i]);
    let t1 = lsq_backward_terms4(b_v4[i + stride], b_grad4[i + stride]);
    acc += t0.delta_sum;
    acc += t1.delta_sum;
    b_masked4[i] = t0.masked;
    b_masked4[i + stride] = t1.masked;
  }
  if (i < n4) {
    let t = lsq_backward_terms4(b_v4[i], b_grad4[i]);
    acc += t.delta_sum;
    b_masked4[i] = t.masked;
  }
  return acc;
}

// The second tensor's gradient, vector i: with add_masked2, plus the part already in its masked output.
fn second_grad4(i: u32) -> vec4<f32> {
  if (p.add_masked2 != 0u) { return b2_grad4[i] + b2_masked4[i]; }
  return b2_grad4[i];
}

// The same over the pair's second tensor (n2/4 vectors).
fn partial_second_vec4(group: u32, groups: u32, lid: u32) -> f32 {
  let n4 = p.n2 / 4u;
  let stride = groups * WG;
  var acc = 0.0;
  var i = group * WG + lid;
  for (; i + stride < n4; i += 2u * stride) {
    let t0 = lsq_backward_terms4(b2_v4[i], second_grad4(i));
    let t1 = lsq_backward_terms4(b2_v4[i + stride], second_grad4(i + stride));
    acc += t0.delta_sum;
    acc += t1.delta_sum;
    b2_masked4[i] = t0.masked;
    b2_masked4[i + stride] = t1.masked;
  }
  if (i < n4) {
    let t = lsq_backward_terms4(b2_v4[i], second_grad4(i));
    acc += t.delta_sum;
    b2_masked4[i] = t.masked;
  }
  return acc;
}

@compute @workgroup_size(WG)
fn backward_partial_vec4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                         @builtin(num_workgroups) nwg: vec3u) {
  let total = workgroup_sum(lid3.x, partial_first_vec4(wg.x, nwg.x, lid3.x));
  if (lid3.x == 0u) { b_partials[wg.x] = total; }
}

@compute @workgroup_size(WG)
fn backward_partial_pair_vec4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  var acc = 0.0;
  if (wg.x < p.partials) { acc = partial_first_vec4(wg.x, p.partials, lid3.x); }
  else { acc = partial_second_vec4(wg.x - p.partials, p.partials2, lid3.x); }
  let total = workgroup_sum(lid3.x, acc);
  if (lid3.x == 0u) { b_partials[wg.x] = total; }
}

// --- Second pass, one workgroup: ∇s, written (not accumulated) to its slot of the gradient buffer.
@group(0) @binding(1) var<storage, read> f_partials: array<f32>;
@group(0) @binding(2) var<storage, read> f_step: array<f32>;
@group(0) @binding(3) var<storage, read_write> f_grad_step: array<f32>;

@compute @workgroup_size(WG)
fn backward_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var acc = 0.0;
  for (var i = lid; i < p.partials; i += WG) { acc += f_partials[i]; }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) { f_grad_step[0] = select(1.0, -1.0, f_step[0] < 0.0) * p.grad_scale * total; }
}

// --- Second pass of the pair: workgroup 0 sums the first tensor's partials, workgroup 1 the second's.
@group(0) @binding(4) var<storage, read> f_step2: array<f32>;
@group(0) @binding(5) var<storage, read_write> f_grad_step2: array<f32>;

@compute @workgroup_size(WG)
fn backward_final_pair(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let second = wg.x == 1u;
  let first_partial = select(0u, p.partials, second);
  let count = select(p.partials, p.partials2, second);
  var acc = 0.0;
  for (var i = lid; i < count; i += WG) { acc += f_partials[first_partial + i]; }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) {
    if (second) { f_grad_step2[0] = select(1.0, -1.0, f_step2[0] < 0.0) * p.grad_scale2 * total; }
    else { f_grad_step[0] = select(1.0, -1.0, f_step[0] < 0.0) * p.grad_scale * total; }
  }
}
