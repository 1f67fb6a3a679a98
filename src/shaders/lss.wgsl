// Leverage score sampling of the 2N bit-split rows (paper §4, A.2, A.6; spec §3). The two gradient GEMMs
// are sums of 2N rank-1 terms over the stacked rows ∇↕Y = [s↑·hi ; s↓·lo]:
//   ∇W ≈ Σ_i m_i/p_i·(∇↕Y_i)ᵀ X̂_{i mod N},   ∇X_{i mod N} += m_i/p_i·∇↕Y_i·Ŵ,
// with m_i ~ Bern(p_i), Σp = N. Row i and row N + i multiply the same X̂ row (and land in the same ∇X
// row), so the kept, reweighted rows fold into one N×C matrix
//   G̃[n, :] = w_n·s↑·hi[n, :] + w_{N+n}·s↓·lo[n, :],   w_i = m_i/p_i,
// and both products are ordinary f32 matmuls, G̃ᵀ·X̂ and G̃·Ŵ, run by the caller.
//
// Draws: u_i = uniform_draw(seed, stream, step, i), i ∈ [0, 2N), seed and step from step_state.

struct Params {
  rows: u32,       // 2N stacked rows
  n: u32,          // N tokens
  cols: u32,       // C (combine)
  stream: u32,     // random stream of the sampling masks
  budget: f32,     // Σp (the paper's N)
  variant: u32,    // 0: 'lss' (water-filling), 1: 'bitsplit' (p = 1 where the score is > 0)
  has_factor: u32, // 1: score_i = scores[i]·factor[i mod N]
}
@group(0) @binding(0) var<uniform> p: Params;

const REDUCE_WG = 256u;
const WG = REDUCE_WG;
const VARIANT_BITSPLIT = 1u;
// Marks a row whose probability is not decided yet (probabilities are in [0, 1]).
const UNDECIDED = -1.0;

fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// Row i is kept when p_i ≥ 1 or u_i < p_i (m_i ~ Bern(p_i)); a kept row is weighted 1/p_i.
fn sample_weight(prob: f32, seed: u32, step: u32, i: u32) -> f32 {
  let kept = prob >= 1.0 || uniform_draw(seed, p.stream, step, i) < prob;
  return select(0.0, 1.0 / prob, kept);
}

// --- Probabilities (paper A.2), one workgroup per gradient. Water-filling: p_i = c_i·budget/Σc, rows
// reaching 1 are fixed at 1, the rest rescaled to the remaining budget, until no row reaches 1 (each round
// fixes at least one row, so at most one round per row). Zero scores get 0; with no more nonzero scores
// than the budget all of them get 1. 'bitsplit' (the released kernels' `p[p > 0] = 1`, `GW` line 445): 1
// where the score is > 0. The probabilities double as the per-row state: 0 / 1 decided, UNDECIDED
// otherwise; each row is only ever touched by the same thread.
// Workgroup 0 fills s_probs_w (scores times the factor when has_factor: LSS for ∇W). Dispatched with two
// workgroups, workgroup 1 fills s_probs_x from the scores alone (LSS for ∇X) in the same pass, and then
// ∇X's per-row weights m/p with the draws of stream p.stream, for the integer products
// G̃·Ŵ = s↑·diag(w_hi)·(hi·Ŵ) + s↓·diag(w_lo)·(lo·Ŵ) (ops/intgrad.ts). The two water-fillings are
// independent, so one dispatch does both side by side instead of three dispatches one after another.
@group(0) @binding(1) var<storage, read> s_scores: array<f32>;
@group(0) @binding(2) var<storage, read> s_factor: array<f32>;
@group(0) @binding(3) var<storage, read_write> s_probs_w: array<f32>;
@group(0) @binding(4) var<storage, read_write> s_probs_x: array<f32>;
@group(0) @binding(5) var<storage, read> s_step_state: array<u32>;
@group(0) @binding(6) var<storage, read_write> s_weights_hi: array<f32>;
@group(0) @binding(7) var<storage, read_write> s_weights_lo: array<f32>;

const GRADIENT_W = 0u;

var<workgroup> uniform_scratch: f32;

// The workgroup reductions return the same value to every thread, but through workgroup memory, which
// the WGSL uniformity analysis cannot see; loops with barriers need it uniform.
fn make_uniform(lid: u32, v: f32) -> f32 {
  if (lid == 0u) { uniform_scratch = v; }
  return workgroupUniformLoad(&uniform_scratch);
}

// `gradient` is the workgroup index: uniform, so the barriers below stay in uniform control flow.
fn prob(gradient: u32, i: u32) -> f32 {
  if (gradient == GRADIENT_W) { return s_probs_w[i]; }
  return s_probs_x[i];
}

fn set_prob(gradient: u32, i: u32, v: f32) {
  if (gradient == GRADIENT_W) { s_probs_w[i] = v; } else { s_probs_x[i] = v; }
}

fn score(gradient: u32, i: u32) -> f32 {
  var c = s_scores[i];
  if (gradient == GRADIENT_W && p.has_factor != 0u) { c *= s_factor[i % p.n]; }
  return c;
}

@compute @workgroup_size(WG)
fn probabilities(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let g = wg.x;
  var nonzero = 0.0;
  for (var i = lid; i < p.rows; i += WG) {
    let on = score(g, i) > 0.0;
    set_prob(g, i, select(0.0, UNDECIDED, on));
    nonzero += select(0.0, 1.0, on);
  }
  let n_active = make_uniform(lid, workgroup_sum(lid, nonzero));
  if (p.variant == VARIANT_BITSPLIT || n_active <= p.budget) {
    for (var i = lid; i < p.rows; i += WG) { if (prob(g, i) == UNDECIDED) { set_prob(g, i, 1.0); } }
  } else {
    var remaining = p.budget;
    var sum = 1.0;
    // n_active > budget: at most n_active rounds saturate rows, the round after them ends the loop.
    for (var round = 0u; round <= p.rows; round++) {
      var s = 0.0;
      for (var i = lid; i < p.rows; i += WG) { if (prob(g, i) == UNDECIDED) { s += score(g, i); } }
      sum = make_uniform(lid, workgroup_sum(lid, s));
      var newly = 0.0;
      for (var i = lid; i < p.rows; i += WG) {
        if (prob(g, i) == UNDECIDED && score(g, i) * remaining / sum >= 1.0) {
          set_prob(g, i, 1.0);
          newly += 1.0;
        }
      }
      let saturated = make_uniform(lid, workgroup_sum(lid, newly));
      if (saturated == 0.0) { break; }
      remaining -= saturated;
    }
    for (var i = lid; i < p.rows; i += WG) {
      if (prob(g, i) == UNDECIDED) { set_prob(g, i, score(g, i) * remaining / sum); }
    }
  }
  if (g != GRADIENT_W) {
    // ∇X's row weights, each from the row this thread itself decided (no barrier needed).
    let seed = s_step_state[0];
    let step = s_step_state[1];
    for (var i = lid; i < p.rows; i += WG) {
      let w = sample_weight(prob(g, i), seed, step, i);
      if (i < p.n) { s_weights_hi[i] = w; } else { s_weights_lo[i - p.n] = w; }
    }
  }
}

// --- G̃ = the kept, reweighted split folded to N×C, one workgroup per token row: each thread draws the
// row's two masks once and writes a strided share of the row.
@group(0) @binding(1) var<storage, read> g_hi: array<f32>;
@group(0) @binding(2) var<storage, read> g_lo: array<f32>;
@group(0) @binding(3) var<storage, read> g_state: array<f32>; // [max|∇Y|, s↑, s↓, 0]
@group(0) @binding(4) var<storage, read> g_probs: array<f32>; // [2N]
@group(0) @binding(5) var<storage, read> g_step_state: array<u32>; // [seed, step]
@group(0) @binding(6) var<storage, read_write> g_out: array<f32>; // [N, C]

// Token n's two stacked rows' weights times their scales: (m_n/p_n·s↑, m_{N+n}/p_{N+n}·s↓).
fn token_weights(token: u32) -> vec2f {
  let seed = g_step_state[0];
  let step = g_step_state[1];
  return vec2f(sample_weight(g_probs[token], seed, step, token) * g_state[1],
               sample_weight(g_probs[p.n + token], seed, step, p.n + token) * g_state[2]);
}

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let token = wg.x + wg.y * 65535u;
  if (token >= p.n) { return; }
  let w = token_weights(token);
  let base = token * p.cols;
  for (var c = lid3.x; c < p.cols; c += WG) { g_out[base + c] = w.x * g_hi[base + c] + w.y * g_lo[base + c]; }
}

// --- combine on the split packed as INT8 codes (bitsplit.wgsl split_codes_norms_packed): the same G̃.
@group(0) @binding(1) var<storage, read> gc_hi: array<u32>;
@group(0) @binding(2) var<storage, read> gc_lo: array<u32>;

@compute @workgroup_size(WG)
fn combine_codes(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let token = wg.x + wg.y * 65535u;
  if (token >= p.n) { return; }
  let w = token_weights(token);
  let words = (p.cols + 3u) / 4u;
  let base = token * p.cols;
  for (var c = lid3.x; c < p.cols; c += WG) {
    let at = token * words + c / 4u;
    g_out[base + c] = w.x * lane_value(gc_hi[at], c % 4u) + w.y * lane_value(gc_lo[at], c % 4u);
  }
}

// --- How many of the 2N stacked rows are kept (the same draws as combine), one workgroup; written to
// kept[0] as f32, for the metrics (fraction kept = kept/2N).
@group(0) @binding(1) var<storage, read> k_probs: array<f32>;
@group(0) @binding(2) var<storage, read> k_step_state: array<u32>;
@group(0) @binding(3) var<storage, read_write> k_kept: array<f32>;

@compute @workgroup_size(WG)
fn kept_count(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let seed = k_step_state[0];
  let step = k_step_state[1];
  var kept = 0.0;
  for (var i = lid; i < p.rows; i += WG) { kept += select(0.0, 1.0, sample_weight(k_probs[i], seed, step, i) != 0.0); }
  let total = workgroup_sum(lid, kept);
  if (lid == 0u) { k_kept[0] = total; }
}

// --- The draws themselves, u_i for i < rows (tests, and to inspect a step's randomness).
@group(0) @binding(1) var<storage, read> d_step_state: array<u32>;
@group(0) @binding(2) var<storage, read_write> d_out: array<f32>;

@compute @workgroup_size(WG)
fn draws(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.rows) { return; }
  d_out[i] = uniform_draw(d_step_state[0], p.stream, d_step_state[1], i);
}
