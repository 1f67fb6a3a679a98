// Batched matrix product C = alpha · op(A) · op(B) (+ bias) (+ C), f32 with f32 accumulation.
// op(A) is M×K and op(B) is K×N; TRANS_A / TRANS_B say whether A is stored K×M and B stored N×K, which
// covers the three products a linear layer needs: Y = X·Wᵀ (forward), ∇X = ∇Y·W, ∇W = ∇Yᵀ·X, and the
// attention products Q·Kᵀ and P·V per (batch, head).
// Plain shared-memory tiling: a 64×64 output tile per workgroup of 16×16 threads, 4×4 outputs per thread.
// The faster versions live beside it as the engine grows (issue "fast engine").

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// FP16 scheme: operands rounded to binary16, products accumulated in f32 (a product of two f16 values
// is exact in f32, so both paths give the same sums). Emulated: rounded values kept in f32 tiles;
// native (gpu/kernels.ts builds `matmul_f16` with operand_t = f16): tiles of f16, half the workgroup
// memory.
override ROUND_F16: bool = false;
alias operand_t = f32;

// Round-to-nearest-even to binary16, on the bits: exact on every device. (Vulkan lets both f32 → f16
// conversion and pack2x16float round toward zero, and leaves out-of-range values unspecified, so neither
// is used to round; the native path only stores the already-rounded value, which converts exactly.)
// Values from 65520 up round to ±∞, as in IEEE: dynamic loss scaling must see the overflow.
fn round_to_f16(v: f32) -> f32 {
  let bits = bitcast<u32>(v);
  let sign = bits & 0x80000000u;
  let a = bits & 0x7fffffffu;
  if (a >= 0x7f800000u) { return v; }                                   // ±∞, NaN
  if (a >= 0x477ff000u) { return bitcast<f32>(sign | 0x7f800000u); }    // ≥ 65520 → ±∞
  if (a < 0x38800000u) {
    // f16 subnormals (below 2^-14) are multiples of 2^-24: round |v|·2^24 to an integer, ties to even.
    let q = round(bitcast<f32>(a) * 16777216.0) / 16777216.0;
    return bitcast<f32>(sign | bitcast<u32>(q));
  }
  // Normal: keep 10 of the 23 mantissa bits, ties to even (a carry may step the exponent, correctly).
  let rounded = (a + 0x0fffu + ((a >> 13u) & 1u)) & 0xffffe000u;
  return bitcast<f32>(sign | rounded);
}

fn operand(v: f32) -> operand_t {
  if (ROUND_F16) { return operand_t(round_to_f16(v)); }
  return operand_t(v);
}

struct Params {
  M: u32, N: u32, K: u32,
  batch_stride_a: u32, batch_stride_b: u32, batch_stride_c: u32,
  alpha: f32,
  accumulate: u32, // 1: C += result (gradient accumulation into a shared buffer)
  has_bias: u32,   // 1: add bias[n] to every row
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const TILE_M = 64u;
const TILE_N = 64u;
const TILE_K = 16u;
const THREADS = 256u;

var<workgroup> tile_a: array<operand_t, 1024>; // [TILE_K][TILE_M]
var<workgroup> tile_b: array<operand_t, 1024>; // [TILE_K][TILE_N]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * TILE_M;
  let col0 = wg.x * TILE_N;
  let a_base = wg.z * p.batch_stride_a;
  let b_base = wg.z * p.batch_stride_b;
  let c_base = wg.z * p.batch_stride_c;

  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < p.K; k0 += TILE_K) {
    for (var i = 0u; i < 4u; i++) {
      let idx = li + i * THREADS;
      // Consecutive threads read consecutive addresses of whichever layout A is stored in.
      var kk: u32; var mm: u32;
      if (TRANS_A) { mm = idx % TILE_M; kk = idx / TILE_M; } else { kk = idx % TILE_K; mm = idx / TILE_K; }
      let gm = row0 + mm;
      let gk = k0 + kk;
      var v = 0.0;
      if (gm < p.M && gk < p.K) {
        if (TRANS_A) { v = a[a_base + gk * p.M + gm]; } else { v = a[a_base + gm * p.K + gk]; }
      }
      tile_a[kk * TILE_M + mm] = operand(v);

      var nn: u32;
      if (TRANS_B) { kk = idx % TILE_K; nn = idx / TILE_K; } else { nn = idx % TILE_N; kk = idx / TILE_N; }
      let gn = col0 + nn;
      let gk2 = k0 + kk;
      var w = 0.0;
      if (gn < p.N && gk2 < p.K) {
        if (TRANS_B) { w = b[b_base + gn * p.K + gk2]; } else { w = b[b_base + gk2 * p.N + gn]; }
      }
      tile_b[kk * TILE_N + nn] = operand(w);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = f32(tile_a[kk * TILE_M + lid.y + 16u * i]); }
      for (var j = 0u; j < 4u; j++) { bv[j] = f32(tile_b[kk * TILE_N + lid.x + 16u * j]); }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let gm = row0 + lid.y + 16u * i;
    if (gm >= p.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let gn = col0 + lid.x + 16u * j;
      if (gn >= p.N) { continue; }
      let at = c_base + gm * p.N + gn;
      var v = p.alpha * acc[i][j];
      if (p.has_bias != 0u) { v += bias[gn]; }
      if (p.accumulate != 0u) { v += c[at]; }
      c[at] = v;
    }
  }
}

// The same product for thin or small matrices (attention's per-head products, narrow layers): a 16×16
// output tile, one output per thread, so little of a tile is wasted past the matrix edge.
var<workgroup> small_a: array<operand_t, 256>; // [16 k][16 m]
var<workgroup> small_b: array<operand_t, 256>; // [16 k][16 n]

@compute @workgroup_size(16, 16)
fn main_small(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let gm = wg.y * 16u + lid.y;
  let gn = wg.x * 16u + lid.x;
  let a_base = wg.z * p.batch_stride_a;
  let b_base = wg.z * p.batch_stride_b;
  let c_base = wg.z * p.batch_stride_c;
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.K; k0 += 16u) {
    // Thread (x, y) loads A(row0 + y, k0 + x) and B(k0 + y, col0 + x).
    let am = wg.y * 16u + lid.y;
    let ak = k0 + lid.x;
    var v = 0.0;
    if (am < p.M && ak < p.K) {
      if (TRANS_A) { v = a[a_base + ak * p.M + am]; } else { v = a[a_base + am * p.K + ak]; }
    }
    small_a[lid.x * 16u + lid.y] = operand(v);
    let bk = k0 + lid.y;
    let bn = wg.x * 16u + lid.x;
    var w = 0.0;
    if (bk < p.K && bn < p.N) {
      if (TRANS_B) { w = b[b_base + bn * p.K + bk]; } else { w = b[b_base + bk * p.N + bn]; }
    }
    small_b[lid.y * 16u + lid.x] = operand(w);
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) { acc = fma(f32(small_a[kk * 16u + lid.y]), f32(small_b[kk * 16u + lid.x]), acc); }
    workgroupBarrier();
  }
  if (gm < p.M && gn < p.N) {
    let at = c_base + gm * p.N + gn;
    var v = p.alpha * acc;
    if (p.has_bias != 0u) { v += bias[gn]; }
    if (p.accumulate != 0u) { v += c[at]; }
    c[at] = v;
  }
}
