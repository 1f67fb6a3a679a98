// Y = X·Wᵀ with W in compressed 2:4 storage (shaders/sparsity.wgsl writes it): every output multiplies
// only the 2 stored values of each group of 4 with the 2 entries of X their indices select, half the
// multiply-adds of the dense product. (WebGPU exposes no sparse tensor cores: the gather by index is
// done by the kernel itself.)
//   main_f32  C[M, N] = alpha · X·Wᵀ (+ bias[n]) (+ C), f32 accumulation; ROUND_F16 rounds both operands
//             to binary16 first (the FP16 scheme; products of f16 values are exact in f32).
//   main_int  C[M, N] = alpha·|s_A|·|s_B|·r[m] · (A_q·B_qᵀ) (+ bias[n]) (+ C) on integer codes: A packed as
//             intMatmul's A (INT8: 4 codes a word, INT4: 8), B compressed; sums exact in i32, and the
//             dequantization the same f32 expression as intmatmul.wgsl, so the result equals intMatmul on
//             the dense codes of the masked matrix bit for bit.
// Tiling: a 64×64 output tile per workgroup of 16×16 threads, 8 groups (32 values of K, one meta word)
// per step. Each thread owns 4 consecutive rows and 4 columns (16 apart). The X tile is stored transposed
// by lane, [group][lane][row quad] as vec4s of 4 rows: the index of a kept value selects a vec4 of
// workgroup memory (an address, not a per-element select), and one vec4 multiply-add serves the thread's
// 4 rows: per group and column, 2 vec4 loads and 2 vec4 multiply-adds (8 scalar ones, half the dense 16).

override ROUND_F16: bool = false;
override INT4_CODES: bool = false;

struct Params {
  M: u32,
  N: u32,
  groups: u32,     // G = K/4
  a_words: u32,    // main_int: packed code words per row of A
  b_words: u32,    // main_int: value words per row of B
  meta_words: u32, // ⌈G/8⌉
  alpha: f32,
  accumulate: u32,
  has_bias: u32,
  step_a_at: u32,     // main_int: index of A's step in step_a (as intMatmul)
  step_b_at: u32,
  has_row_scale: u32, // main_int: multiply row m by row_scale[m] (as intMatmul)
}
@group(0) @binding(0) var<uniform> p: Params;

// Round-to-nearest-even to binary16 on the bits (as matmul.wgsl's round_to_f16).
fn round_to_f16(v: f32) -> f32 {
  let bits = bitcast<u32>(v);
  let sign = bits & 0x80000000u;
  let a = bits & 0x7fffffffu;
  if (a >= 0x7f800000u) { return v; }
  if (a >= 0x477ff000u) { return bitcast<f32>(sign | 0x7f800000u); }
  if (a < 0x38800000u) {
    let q = round(bitcast<f32>(a) * 16777216.0) / 16777216.0;
    return bitcast<f32>(sign | bitcast<u32>(q));
  }
  let rounded = (a + 0x0fffu + ((a >> 13u) & 1u)) & 0xffffe000u;
  return bitcast<f32>(sign | rounded);
}

var<workgroup> meta_tile: array<u32, 64>; // [TILE_N]: the meta word of this step, per output column

// ------------------------------------------------------------------------------------------------ f32
@group(0) @binding(1) var<storage, read> fa: array<vec4f>;      // X [M, K] as [M·G] groups
@group(0) @binding(2) var<storage, read> fb: array<vec2f>;      // values [N·G]
@group(0) @binding(3) var<storage, read> fb_meta: array<u32>;   // [N, meta_words]
@group(0) @binding(4) var<storage, read_write> fc: array<f32>;  // [M, N]
@group(0) @binding(5) var<storage, read> fbias: array<f32>;     // [N]

var<workgroup> xf_tile: array<vec4f, 512>; // [8 groups][4 lanes][16 row quads]: lane l of rows 4q … 4q+3
var<workgroup> wf_tile: array<vec2f, 512>; // [8 groups][64 columns]

fn round4(v: vec4f) -> vec4f {
  if (ROUND_F16) { return vec4f(round_to_f16(v.x), round_to_f16(v.y), round_to_f16(v.z), round_to_f16(v.w)); }
  return v;
}

@compute @workgroup_size(16, 16)
fn main_f32(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
            @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  var acc: array<vec4f, 4>; // [column j]: rows 4·lid.y … 4·lid.y + 3
  for (var g0 = 0u; g0 < p.groups; g0 += 8u) {
    // 64 rows × 8 groups of X and of the values, two per thread; consecutive threads read consecutive
    // groups of a row.
    for (var i = 0u; i < 2u; i++) {
      let idx = li + i * 256u;
      let r = idx / 8u;
      let gg = idx % 8u;
      let g = g0 + gg;
      var x = vec4f(0.0);
      if (row0 + r < p.M && g < p.groups) { x = round4(fa[(row0 + r) * p.groups + g]); }
      for (var l = 0u; l < 4u; l++) { xf_tile[(gg * 4u + l) * 16u + r / 4u][r % 4u] = x[l]; }
      var w = vec2f(0.0);
      if (col0 + r < p.N && g < p.groups) {
        w = fb[(col0 + r) * p.groups + g];
        if (ROUND_F16) { w = vec2f(round_to_f16(w.x), round_to_f16(w.y)); }
      }
      wf_tile[gg * 64u + r] = w;
    }
    if (li < 64u) {
      var m = 0u;
      if (col0 + li < p.N) { m = fb_meta[(col0 + li) * p.meta_words + g0 / 8u]; }
      meta_tile[li] = m;
    }
    workgroupBarrier();
    for (var g = 0u; g < 8u; g++) {
      for (var j = 0u; j < 4u; j++) {
        let c = lid.x + 16u * j;
        let v = wf_tile[g * 64u + c];
        let nib = (meta_tile[c] >> (4u * g)) & 0xfu;
        let x0 = xf_tile[(g * 4u + (nib & 3u)) * 16u + lid.y];
        let x1 = xf_tile[(g * 4u + (nib >> 2u)) * 16u + lid.y];
        acc[j] = acc[j] + v.x * x0 + v.y * x1;
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let gm = row0 + 4u * lid.y + i;
    if (gm >= p.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let gn = col0 + lid.x + 16u * j;
      if (gn >= p.N) { continue; }
      let at = gm * p.N + gn;
      var v = p.alpha * acc[j][i];
      if (p.has_bias != 0u) { v += fbias[gn]; }
      if (p.accumulate != 0u) { v += fc[at]; }
      fc[at] = v;
    }
  }
}

// ------------------------------------------------------------------------------------------ integers
@group(0) @binding(1) var<storage, read> ia: array<u32>;        // [M, a_words] packed codes
@group(0) @binding(2) var<storage, read> ib: array<u32>;        // [N, b_words] compressed codes
@group(0) @binding(3) var<storage, read> ib_meta: array<u32>;   // [N, meta_words]
@group(0) @binding(4) var<storage, read> step_a: array<f32>;    // [1]
@group(0) @binding(5) var<storage, read> step_b: array<f32>;    // [1]
@group(0) @binding(6) var<storage, read_write> ic: array<f32>;  // [M, N]
@group(0) @binding(7) var<storage, read> ibias: array<f32>;     // [N]
@group(0) @binding(8) var<storage, read> irow_scale: array<f32>; // [M]

var<workgroup> xi_tile: array<vec4i, 512>; // [8 groups][4 lanes][16 row quads], codes sign-extended
var<workgroup> wi_tile: array<u32, 256>; // [4 words][64 columns]: word q = the kept codes of groups 2q, 2q+1

// Four INT4 codes (the nibbles of the low 16 bits of w) as four sign-extended int8 lanes (intmatmul.wgsl).
fn int4_to_int8x4(w: u32) -> u32 {
  var x = w & 0xffffu;
  x = (x | (x << 8u)) & 0x00ff00ffu;
  x = (x | (x << 4u)) & 0x0f0f0f0fu;
  return x | ((x & 0x08080808u) * 0x1eu);
}

// Lane l (0–3) of an int8x4 word, sign-extended.
fn lane(w: u32, l: u32) -> i32 {
  return bitcast<i32>(w << (24u - 8u * l)) >> 24u;
}

// The codes of group `gg` (an int8x4 word) of tile row r, into the transposed X tile.
fn store_group(gg: u32, r: u32, w: u32) {
  for (var l = 0u; l < 4u; l++) { xi_tile[(gg * 4u + l) * 16u + r / 4u][r % 4u] = lane(w, l); }
}

@compute @workgroup_size(16, 16)
fn main_int(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
            @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  var acc: array<vec4i, 4>; // [column j]: rows 4·lid.y … 4·lid.y + 3
  for (var g0 = 0u; g0 < p.groups; g0 += 8u) {
    if (INT4_CODES) {
      // X: 64 rows × 4 words (8 codes = 2 groups each), one per thread, unpacked to two int8x4 words.
      let r = li / 4u;
      let ww = li % 4u;
      let word = g0 / 2u + ww;
      var x = 0u;
      if (row0 + r < p.M && word < p.a_words) { x = ia[(row0 + r) * p.a_words + word]; }
      store_group(2u * ww, r, int4_to_int8x4(x));
      store_group(2u * ww + 1u, r, int4_to_int8x4(x >> 16u));
      // Values: 64 columns × 2 words (16 codes = 8 groups), unpacked to 4 int8x4 words.
      if (li < 128u) {
        let c = li / 2u;
        let h = li % 2u;
        let bw = g0 / 4u + h;
        var w = 0u;
        if (col0 + c < p.N && bw < p.b_words) { w = ib[(col0 + c) * p.b_words + bw]; }
        wi_tile[(2u * h) * 64u + c] = int4_to_int8x4(w);
        wi_tile[(2u * h + 1u) * 64u + c] = int4_to_int8x4(w >> 16u);
      }
    } else {
      for (var i = 0u; i < 2u; i++) {
        let idx = li + i * 256u;
        let r = idx / 8u;
        let gg = idx % 8u;
        let word = g0 + gg;
        var x = 0u;
        if (row0 + r < p.M && word < p.a_words) { x = ia[(row0 + r) * p.a_words + word]; }
        store_group(gg, r, x);
      }
      let c = li / 4u;
      let h = li % 4u;
      let bw = g0 / 2u + h;
      var w = 0u;
      if (col0 + c < p.N && bw < p.b_words) { w = ib[(col0 + c) * p.b_words + bw]; }
      wi_tile[h * 64u + c] = w;
    }
    if (li < 64u) {
      var m = 0u;
      if (col0 + li < p.N) { m = ib_meta[(col0 + li) * p.meta_words + g0 / 8u]; }
      meta_tile[li] = m;
    }
    workgroupBarrier();
    for (var g = 0u; g < 8u; g++) {
      let first = 2u * (g & 1u);
      for (var j = 0u; j < 4u; j++) {
        let c = lid.x + 16u * j;
        let word = wi_tile[(g >> 1u) * 64u + c];
        let nib = (meta_tile[c] >> (4u * g)) & 0xfu;
        let x0 = xi_tile[(g * 4u + (nib & 3u)) * 16u + lid.y];
        let x1 = xi_tile[(g * 4u + (nib >> 2u)) * 16u + lid.y];
        acc[j] = acc[j] + lane(word, first) * x0 + lane(word, first + 1u) * x1;
      }
    }
    workgroupBarrier();
  }
  let scale = p.alpha * abs(step_a[p.step_a_at]) * abs(step_b[p.step_b_at]);
  for (var i = 0u; i < 4u; i++) {
    let gm = row0 + 4u * lid.y + i;
    if (gm >= p.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let gn = col0 + lid.x + 16u * j;
      if (gn >= p.N) { continue; }
      let at = gm * p.N + gn;
      var v = f32(acc[j][i]) * scale;
      if (p.has_row_scale != 0u) { v *= irow_scale[gm]; }
      if (p.has_bias != 0u) { v += ibias[gn]; }
      if (p.accumulate != 0u) { v += ic[at]; }
      ic[at] = v;
    }
  }
}
