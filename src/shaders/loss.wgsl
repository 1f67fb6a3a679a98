// Softmax cross-entropy over the vocabulary, fused with its backward pass: the loss of each position and
// ∇logits = (softmax − onehot) / (number of scored positions). Targets equal to IGNORE are not scored
// (padding and prompts of the synthetic tasks).

const IGNORE = 0xffffffffu;

struct Params { N: u32, V: u32, slot: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> p: Params;

// --- count the scored positions (one workgroup), so the backward can divide by it without a readback.
@group(0) @binding(1) var<storage, read> c_targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> c_count: array<f32>;

const REDUCE_WG = 64u;

@compute @workgroup_size(REDUCE_WG)
fn count_scored(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var s = 0.0;
  for (var n = lid; n < p.N; n += REDUCE_WG) { s += select(0.0, 1.0, c_targets[n] != IGNORE); }
  s = workgroup_sum(lid, s);
  if (lid == 0u) { c_count[0] = s; }
}

// --- one workgroup per position.
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read> scored: array<f32>;
@group(0) @binding(4) var<storage, read_write> losses: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;
// [0]: the loss scale (1 unless the scheme trains with dynamic loss scaling).
@group(0) @binding(6) var<storage, read> loss_scale: array<f32>;

@compute @workgroup_size(REDUCE_WG)
fn forward_backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let n = wg.x + wg.y * 65535u;
  if (n >= p.N) { return; }
  let lid = lid3.x;
  let base = n * p.V;
  let target_id = targets[n];
  var m = -3.0e38;
  for (var j = lid; j < p.V; j += REDUCE_WG) { m = max(m, logits[base + j]); }
  m = workgroup_max(lid, m);
  var s = 0.0;
  for (var j = lid; j < p.V; j += REDUCE_WG) { s += exp(logits[base + j] - m); }
  s = workgroup_sum(lid, s);
  let log_z = m + log(s);
  let is_scored = target_id != IGNORE;
  // The loss is the mean over scored positions, so each scored row's gradient is divided by their count.
  let scale = select(0.0, loss_scale[0] / max(scored[0], 1.0), is_scored);
  for (var j = lid; j < p.V; j += REDUCE_WG) {
    let prob = exp(logits[base + j] - log_z);
    let onehot = select(0.0, 1.0, j == target_id);
    dlogits[base + j] = (prob - onehot) * scale;
  }
  if (lid == 0u) {
    var l = 0.0;
    if (is_scored) { l = log_z - logits[base + min(target_id, p.V - 1u)]; }
    losses[n] = l;
  }
}

// --- mean loss of the batch into the metrics record `slot` (slot layout: see METRIC_* in train/metrics.ts)
// and, for validation, added to a running sum.
@group(0) @binding(1) var<storage, read> r_losses: array<f32>;
@group(0) @binding(2) var<storage, read> r_scored: array<f32>;
@group(0) @binding(3) var<storage, read_write> r_metrics: array<f32>;

@compute @workgroup_size(REDUCE_WG)
fn reduce_loss(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var s = 0.0;
  for (var n = lid; n < p.N; n += REDUCE_WG) { s += r_losses[n]; }
  s = workgroup_sum(lid, s);
  if (lid == 0u) {
    let mean_loss = s / max(r_scored[0], 1.0);
    // Validation accumulates (sum of batch means, number of batches); training writes its step's slot.
    if (p.accumulate != 0u) {
      r_metrics[p.slot] += mean_loss;
      r_metrics[p.slot + 1u] += 1.0;
    } else {
      r_metrics[p.slot] = mean_loss;
    }
  }
}
