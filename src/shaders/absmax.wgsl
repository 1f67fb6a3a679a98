// The first pass of a two-stage max|x| over a flat tensor of n values: workgroup w writes the largest |x|
// of its strided share to partials[w]. Shared by the bit split's max|∇Y| (bitsplit.wgsl) and INT8's
// per-tensor absmax (int8.wgsl), whose second passes (or the passes that fold it in) read the partials.
// max is exact in any order, so both entries give the same partial maxima.

struct Params {
  n: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

const REDUCE_WG = 256u;
const WG = REDUCE_WG;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WG)
fn max_abs_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                   @builtin(num_workgroups) nwg: vec3u) {
  let lid = lid3.x;
  var m = 0.0;
  for (var i = wg.x * WG + lid; i < p.n; i += nwg.x * WG) { m = max(m, abs(x[i])); }
  let total = workgroup_max(lid, m);
  if (lid == 0u) { partials[wg.x] = total; }
}

// The same over 16-byte vectors (n a multiple of 4; the host picks it), four loads in flight per thread:
// a quarter of the load instructions, and enough bytes in flight to keep a large GPU's memory busy with
// the few workgroups a two-stage reduction has (the scalar pass ran at ~15% of an H200's bandwidth).
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn max_abs_partial_vec4(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u,
                        @builtin(num_workgroups) nwg: vec3u) {
  let lid = lid3.x;
  let n4 = p.n / 4u;
  let stride = nwg.x * WG;
  var m = vec4<f32>();
  var i = wg.x * WG + lid;
  for (; i + 3u * stride < n4; i += 4u * stride) {
    let a = abs(x4[i]);
    let b = abs(x4[i + stride]);
    let c = abs(x4[i + 2u * stride]);
    let d = abs(x4[i + 3u * stride]);
    m = max(m, max(max(a, b), max(c, d)));
  }
  for (; i < n4; i += stride) { m = max(m, abs(x4[i])); }
  let total = workgroup_max(lid, max(max(m.x, m.y), max(m.z, m.w)));
  if (lid == 0u) { partials[wg.x] = total; }
}
