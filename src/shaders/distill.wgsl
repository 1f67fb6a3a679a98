// Knowledge distillation from a dense teacher (src/engine/sparsity/distill.ts), added to the training
// loss on the scored positions (targets ≠ IGNORE), with count = their number:
//   L = (1 − α)·CE + α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + β·Σ(h_s − h_t)²/(count·d_model)
// z the logits, h the final hidden state (after ln_f, the input of lm_head); s the student, t the teacher.
//   kd_logits  ∇z_s ← (1 − α)·∇z_s(CE) + S·α·T·(softmax(z_s/T) − softmax(z_t/T))/count
//   kd_hidden  ∇h_s += S·β·2·(h_s − h_t)/(count·d_model)
// S is the loss scale (1 unless the scheme trains with dynamic loss scaling). ∇z_s(CE) is what the loss
// kernel wrote (already multiplied by S/count). reduce.wgsl is prepended.

const IGNORE = 0xffffffffu;
const REDUCE_WG = 64u;

struct Params {
  rows: u32,    // N positions
  cols: u32,    // V (kd_logits) or d_model (kd_hidden)
  alpha: f32,
  temperature: f32,
  beta: f32,
}
@group(0) @binding(0) var<uniform> p: Params;

// --- Copy of u32 words (the batch's tokens into the teacher's input).
@group(0) @binding(1) var<storage, read> cp_src: array<u32>;
@group(0) @binding(2) var<storage, read_write> cp_dst: array<u32>;

@compute @workgroup_size(256)
fn copy_u32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < p.rows) { cp_dst[i] = cp_src[i]; }
}

// --- One workgroup per position.
@group(0) @binding(1) var<storage, read> l_student: array<f32>;
@group(0) @binding(2) var<storage, read> l_teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> l_grad: array<f32>;
@group(0) @binding(4) var<storage, read> l_targets: array<u32>;
@group(0) @binding(5) var<storage, read> l_count: array<f32>;
@group(0) @binding(6) var<storage, read> l_scale: array<f32>;
@group(0) @binding(7) var<storage, read_write> l_kl: array<f32>; // [rows]: the KL of each position (0 if not scored)

@compute @workgroup_size(REDUCE_WG)
fn kd_logits(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let n = wg.x + wg.y * 65535u;
  if (n >= p.rows) { return; }
  let lid = lid3.x;
  let base = n * p.cols;
  let inv_t = 1.0 / p.temperature;
  var ms = -3.0e38;
  var mt = -3.0e38;
  for (var j = lid; j < p.cols; j += REDUCE_WG) {
    ms = max(ms, l_student[base + j] * inv_t);
    mt = max(mt, l_teacher[base + j] * inv_t);
  }
  ms = workgroup_max(lid, ms);
  mt = workgroup_max(lid, mt);
  var ss = 0.0;
  var st = 0.0;
  for (var j = lid; j < p.cols; j += REDUCE_WG) {
    ss += exp(l_student[base + j] * inv_t - ms);
    st += exp(l_teacher[base + j] * inv_t - mt);
  }
  ss = workgroup_sum(lid, ss);
  st = workgroup_sum(lid, st);
  let log_zs = ms + log(ss);
  let log_zt = mt + log(st);
  let scored = l_targets[n] != IGNORE;
  let factor = select(0.0, l_scale[0] * p.alpha * p.temperature / max(l_count[0], 1.0), scored);
  var kl = 0.0;
  for (var j = lid; j < p.cols; j += REDUCE_WG) {
    let log_ps = l_student[base + j] * inv_t - log_zs;
    let log_pt = l_teacher[base + j] * inv_t - log_zt;
    let pt = exp(log_pt);
    kl += pt * (log_pt - log_ps);
    if (scored) { l_grad[base + j] = (1.0 - p.alpha) * l_grad[base + j] + factor * (exp(log_ps) - pt); }
  }
  kl = workgroup_sum(lid, kl);
  if (lid == 0u) { l_kl[n] = select(0.0, kl, scored); }
}

// --- One thread per value of the hidden state.
@group(0) @binding(1) var<storage, read> h_student: array<f32>;
@group(0) @binding(2) var<storage, read> h_teacher: array<f32>;
@group(0) @binding(3) var<storage, read_write> h_grad: array<f32>;
@group(0) @binding(4) var<storage, read> h_targets: array<u32>;
@group(0) @binding(5) var<storage, read> h_count: array<f32>;
@group(0) @binding(6) var<storage, read> h_scale: array<f32>;

@compute @workgroup_size(256)
fn kd_hidden(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.rows * p.cols) { return; }
  let n = i / p.cols;
  if (h_targets[n] == IGNORE) { return; }
  let factor = h_scale[0] * p.beta * 2.0 / (max(h_count[0], 1.0) * f32(p.cols));
  h_grad[i] += factor * (h_student[i] - h_teacher[i]);
}
