// Sparse-QAT's INT8 fake quantization (src/engine/sparsity/qat.ts): the calibration and the straight-
// through estimator's mask.
//
// Calibration (the article's PTQ step): the clip value t is the k-th smallest |x| of the tensor with
// k = ⌈0.9999·n⌉, the smallest t with at least 99.99% of the values inside [−t, t]; the scale is t/127.
// Found exactly by a radix select on the bits of |x| (for x ≥ 0 the order of the f32 bit patterns is the
// order of the values): four passes of 8 bits from the top; each pass histograms the next byte of the
// values whose higher bytes equal the prefix found so far, and one thread walks the 256 counts to the
// bin that holds the k-th value. No sort, no readback; deterministic.

struct Params {
  n: u32,     // values in x
  shift: u32, // 24, 16, 8, 0: the byte this pass looks at
  k: u32,     // 1-based rank of the value to find (read by the first pass; later passes carry it in state)
  last: u32,  // 1 on the final pass: write the clip value and the scale
}
@group(0) @binding(0) var<uniform> p: Params;

fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// --- One radix pass: a workgroup histogram of the selected byte, added to the global one.
@group(0) @binding(1) var<storage, read> h_x: array<f32>;
@group(0) @binding(2) var<storage, read> h_state: array<u32>;          // [prefix, remaining rank]
@group(0) @binding(3) var<storage, read_write> h_hist: array<atomic<u32>>; // [256], zero on entry

var<workgroup> local_hist: array<atomic<u32>, 256>;

@compute @workgroup_size(256)
fn select_histogram(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let lid = lid3.x;
  atomicStore(&local_hist[lid], 0u);
  workgroupBarrier();
  // Higher bytes already decided by earlier passes must match the prefix (none on the first pass).
  let high = p.shift + 8u;
  var prefix = 0u;
  if (high < 32u) { prefix = h_state[0] >> high; }
  for (var i = wg.x * 256u + lid; i < p.n; i += nwg.x * 256u) {
    let bits = bitcast<u32>(abs(h_x[i]));
    if (high >= 32u || (bits >> high) == prefix) {
      atomicAdd(&local_hist[(bits >> p.shift) & 0xffu], 1u);
    }
  }
  workgroupBarrier();
  let count = atomicLoad(&local_hist[lid]);
  if (count > 0u) { atomicAdd(&h_hist[lid], count); }
}

// --- The bin of the k-th value: one thread. Clears the histogram for the next pass.
@group(0) @binding(1) var<storage, read_write> s_hist: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> s_state: array<u32>;
@group(0) @binding(3) var<storage, read_write> s_clip: array<f32>;  // [1]: t
@group(0) @binding(4) var<storage, read_write> s_scale: array<f32>; // [1]: t/127

@compute @workgroup_size(1)
fn select_pick() {
  let first = p.shift == 24u;
  var k = p.k;
  var prefix = 0u;
  if (!first) {
    prefix = s_state[0];
    k = s_state[1];
  }
  var below = 0u;
  var bin = 255u;
  var found = false;
  for (var b = 0u; b < 256u; b++) {
    let c = atomicLoad(&s_hist[b]);
    atomicStore(&s_hist[b], 0u);
    if (!found) {
      if (below + c >= k) {
        bin = b;
        found = true;
      } else {
        below += c;
      }
    }
  }
  prefix |= bin << p.shift;
  s_state[0] = prefix;
  s_state[1] = k - below;
  if (p.last != 0u) {
    let t = bitcast<f32>(prefix);
    s_clip[0] = t;
    s_scale[0] = t / 127.0;
  }
}

// --- The straight-through estimator: the gradient passes where |x| ≤ t, and is 0 where x was clipped.
@group(0) @binding(1) var<storage, read_write> e_grad: array<f32>;
@group(0) @binding(2) var<storage, read> e_x: array<f32>;
@group(0) @binding(3) var<storage, read> e_clip: array<f32>;

@compute @workgroup_size(256)
fn ste_mask(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= p.n) { return; }
  if (!(abs(e_x[i]) <= e_clip[0])) { e_grad[i] = 0.0; }
}
