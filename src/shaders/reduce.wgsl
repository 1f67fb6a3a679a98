// Workgroup reductions shared by the row kernels (prepended to their shaders by gpu/kernels.ts).
// A shader that uses them defines `const REDUCE_WG: u32`, its workgroup size, a power of two.
// Every thread of the workgroup must call them (they contain barriers); every thread gets the result.

var<workgroup> reduce_scratch: array<f32, REDUCE_WG>;

fn workgroup_sum(lid: u32, v: f32) -> f32 {
  reduce_scratch[lid] = v;
  for (var s = REDUCE_WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { reduce_scratch[lid] += reduce_scratch[lid + s]; }
  }
  workgroupBarrier();
  let r = reduce_scratch[0];
  workgroupBarrier();
  return r;
}

fn workgroup_max(lid: u32, v: f32) -> f32 {
  reduce_scratch[lid] = v;
  for (var s = REDUCE_WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { reduce_scratch[lid] = max(reduce_scratch[lid], reduce_scratch[lid + s]); }
  }
  workgroupBarrier();
  let r = reduce_scratch[0];
  workgroupBarrier();
  return r;
}
