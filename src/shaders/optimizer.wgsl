// The optimizer step over all parameters at once: they live in one flat buffer (as in llm.c), so the
// global gradient norm is one reduction and AdamW is one dispatch.

struct Step {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  bias_correction1: f32, // 1 − β1^t
  bias_correction2: f32, // 1 − β2^t
  max_grad_norm: f32,    // 0: no clipping
  n_params: u32,
  decay_end: u32,        // parameters [0, decay_end) get weight decay: matrices and embeddings
  metrics_slot: u32,     // where this step's gradient norm is recorded
  partials: u32,         // number of partial sums written by grad_norm_partial
}
@group(0) @binding(0) var<uniform> s: Step;

const REDUCE_WG = 256u;
const WG = REDUCE_WG;

// --- ‖g‖²: each workgroup sums a strided share of the gradient; then one workgroup adds the shares.
@group(0) @binding(1) var<storage, read> n_grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> n_partials: array<f32>;

@compute @workgroup_size(WG)
fn grad_norm_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                     @builtin(num_workgroups) nwg: vec3u) {
  let lid = lid3.x;
  var acc = 0.0;
  for (var i = wg.x * WG + lid; i < s.n_params; i += nwg.x * WG) { let g = n_grads[i]; acc += g * g; }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) { n_partials[wg.x] = total; }
}

// state[0] = ‖g‖, state[1] = the factor gradients are multiplied by (global-norm clipping).
@group(0) @binding(1) var<storage, read> f_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_state: array<f32>;
@group(0) @binding(3) var<storage, read_write> f_metrics: array<f32>;

@compute @workgroup_size(WG)
fn grad_norm_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var acc = 0.0;
  for (var i = lid; i < s.partials; i += WG) { acc += f_partials[i]; }
  let norm = sqrt(workgroup_sum(lid, acc));
  if (lid == 0u) {
    var scale = 1.0;
    if (s.max_grad_norm > 0.0 && norm > s.max_grad_norm) { scale = s.max_grad_norm / (norm + 1e-6); }
    f_state[0] = norm;
    f_state[1] = scale;
    f_metrics[s.metrics_slot] = norm;
  }
}

// --- AdamW (Loshchilov & Hutter): decay decoupled from the adaptive step, p ← p − lr·(wd·p + m̂/(√v̂ + ε)).
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> state: array<f32>;

@compute @workgroup_size(WG)
fn adamw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= s.n_params) { return; }
  let g = grads[i] * state[1];
  let mi = s.beta1 * m[i] + (1.0 - s.beta1) * g;
  let vi = s.beta2 * v[i] + (1.0 - s.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let m_hat = mi / s.bias_correction1;
  let v_hat = vi / s.bias_correction2;
  let wd = select(0.0, s.weight_decay, i < s.decay_end);
  let p = params[i];
  params[i] = p - s.lr * (wd * p + m_hat / (sqrt(v_hat) + s.eps));
}
