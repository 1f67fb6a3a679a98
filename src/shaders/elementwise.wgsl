// Element-wise ops: activations (GELU, ReLU) with their backward passes, and the residual add.

struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// Large tensors exceed 65535 workgroups in x; the host spreads them over y.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

const GELU_K = 0.7978845608028654; // √(2/π), GPT-2's tanh approximation

@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  out[i] = a[i] + b[i];
}

// Bound clamp keeps tanh's argument where exp() cannot overflow to inf/inf; tanh(±10) = ±1 in f32.
fn tanh_safe(u: f32) -> f32 { return tanh(clamp(u, -10.0, 10.0)); }

@compute @workgroup_size(256)
fn gelu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let x = a[i];
  out[i] = 0.5 * x * (1.0 + tanh_safe(GELU_K * (x + 0.044715 * x * x * x)));
}

// a = x (the GELU input), b = ∇out.
@compute @workgroup_size(256)
fn gelu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  let x = a[i];
  let u = GELU_K * (x + 0.044715 * x * x * x);
  let t = tanh_safe(u);
  let du = GELU_K * (1.0 + 3.0 * 0.044715 * x * x);
  out[i] = b[i] * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du);
}

@compute @workgroup_size(256)
fn relu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  out[i] = max(a[i], 0.0);
}

@compute @workgroup_size(256)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  out[i] = select(0.0, b[i], a[i] > 0.0);
}
