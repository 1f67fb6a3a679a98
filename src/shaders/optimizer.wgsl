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
  metrics_slot: u32,     // where this step's gradient norm is recorded (then loss scale, skipped)
  partials: u32,         // number of partial sums written by grad_norm_partial
  dynamic_loss_scale: u32, // 1: gradients arrive multiplied by scaler[0]; skip and back off on overflow
  scale_growth_interval: u32, // overflow-free steps before the loss scale doubles
  scaled_start: u32,     // parameters [scaled_start, n_params) step with lr·lr_scale: quantizer step sizes
  lr_scale: f32,
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

// state[0] = ‖g‖ (unscaled), state[1] = the factor raw gradients are multiplied by (undoing the loss
// scale, then global-norm clipping), state[2] = 1 when this step is skipped: an overflow under dynamic
// loss scaling, or, without it, a non-finite gradient (the guard: the parameters keep their last finite
// values and the trainer stops the run with where it happened). scaler = [loss scale S, overflow-free steps, steps skipped in all].
@group(0) @binding(1) var<storage, read> f_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_state: array<f32>;
@group(0) @binding(3) var<storage, read_write> f_metrics: array<f32>;
@group(0) @binding(4) var<storage, read_write> f_scaler: array<f32>;

// inf and NaN have an all-ones exponent. (Comparisons with NaN may be folded away by compilers.)
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }

@compute @workgroup_size(WG)
fn grad_norm_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var acc = 0.0;
  for (var i = lid; i < s.partials; i += WG) { acc += f_partials[i]; }
  let scaled_norm = sqrt(workgroup_sum(lid, acc));
  if (lid == 0u) {
    let loss_scale = f_scaler[0];
    let norm = scaled_norm / loss_scale;
    var clip = 1.0;
    if (s.max_grad_norm > 0.0 && norm > s.max_grad_norm) { clip = s.max_grad_norm / (norm + 1e-6); }
    let overflow = s.dynamic_loss_scale != 0u && !is_finite(scaled_norm);
    let non_finite = s.dynamic_loss_scale == 0u && !is_finite(scaled_norm);
    f_state[0] = norm;
    f_state[1] = clip / loss_scale;
    f_state[2] = select(0.0, 1.0, overflow || non_finite);
    f_metrics[s.metrics_slot] = norm;
    f_metrics[s.metrics_slot + 1u] = loss_scale;
    f_metrics[s.metrics_slot + 2u] = f_state[2];
    if (s.dynamic_loss_scale != 0u) {
      // As mixed-precision training usually does it: halve on overflow (and skip the step), double after
      // a run of clean steps.
      if (overflow) {
        f_scaler[0] = max(loss_scale * 0.5, 1.0);
        f_scaler[1] = 0.0;
        f_scaler[2] += 1.0;
      } else {
        f_scaler[1] += 1.0;
        if (f_scaler[1] >= f32(s.scale_growth_interval)) {
          f_scaler[0] = min(loss_scale * 2.0, 16777216.0);
          f_scaler[1] = 0.0;
        }
      }
    }
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
  if (i >= s.n_params || state[2] != 0.0) { return; }
  let g = grads[i] * state[1];
  let mi = s.beta1 * m[i] + (1.0 - s.beta1) * g;
  let vi = s.beta2 * v[i] + (1.0 - s.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let m_hat = mi / s.bias_correction1;
  let v_hat = vi / s.bias_correction2;
  let wd = select(0.0, s.weight_decay, i < s.decay_end);
  let p = params[i];
  let lr = select(s.lr, s.lr * s.lr_scale, i >= s.scaled_start);
  params[i] = p - lr * (wd * p + m_hat / (sqrt(v_hat) + s.eps));
}
