// Block Hadamard transform on the reduction dimension (paper §3.3, A.5; spec §2, the "HQ" of HQ-MM):
// Y[rows, cols] = X · BlockDiag(H_b, …, H_b), H_b the normalised Sylvester Hadamard matrix
// (H_1 = [1], H_2k = 1/√2 [[H_k, H_k], [H_k, −H_k]]), b a power of two ≤ 1024 that divides cols.
// H_b is symmetric and orthogonal (H_b·H_b = I), so the same kernel applies Hᵀ (the backward's ·Hᵀ)
// and undoes itself.
//
// A row-major [rows, cols] matrix with b | cols is, flat, a sequence of rows·cols/b independent blocks of
// b consecutive values, each multiplied by H_b (x_blk·H_b = H_b·x_blk, H_b being symmetric). A workgroup
// takes 1024 consecutive values (1024/b whole blocks, since b | 1024) into workgroup memory and runs the
// fast Walsh–Hadamard transform: log2(b) butterfly stages (a, c) → (a + c, a − c) at distances
// 1, 2, …, b/2, which gives the Sylvester (natural) order, then scales by 1/√b. A butterfly at distance
// h < b never crosses a block boundary, so the same stages serve every block size. The stages go two at a
// time (radix 4), so a barrier separates every second stage.

struct Params {
  n: u32,      // rows · cols; select_block: candidates
  block: u32,  // b (main)
  scale: f32,  // 1/√b, computed on the host (exact for b = 4^k)
  block_at: u32, // main_dynamic, select_block: element offset of the block value in its binding
  // The fused entries (*_quantize) only:
  bits: u32,   // 4 or 8: codes per packed u32 word = 32 / bits
  qn: f32,     // Q_N: codes ≥ −Q_N
  qp: f32,     // Q_P: codes ≤ Q_P
  dequantize: u32, // 1: also write X̂ = |s|·code to binding 6 (lsq.wgsl dequantize's values)
  // The pair entries (*_pair) only:
  n2: u32,     // values of the second tensor
  tiles: u32,  // tiles of the first tensor: ⌈n / 1024⌉
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const WG = 256u;
const TILE = 1024u; // the largest block (HADAMARD_MAX_SIZE in the reference constants)

var<workgroup> buf: array<f32, TILE>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  transform(wg, lid3.x, p.block, p.scale);
}

// 1/√(2^k), k = 0 … 10, rounded once by the compiler: the same f32 as the host's f32(1/√b).
const INV_SQRT_POW2 = array<f32, 11>(
  1.0, 0.70710678118654752, 0.5, 0.35355339059327376, 0.25, 0.17677669529663688, 0.125,
  0.088388347648318441, 0.0625, 0.044194173824159220, 0.03125,
);

// The block chosen on the GPU (the first batch's block-size search, select_block below), read from a
// storage buffer as an f32 power of two: the dispatch list stays the same whatever block is chosen.
@group(0) @binding(3) var<storage, read> block_value: array<f32>;
var<workgroup> shared_block: u32;

@compute @workgroup_size(WG)
fn main_dynamic(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let b = dynamic_block(lid3.x);
  transform(wg, lid3.x, b, INV_SQRT_POW2[min(countTrailingZeros(b), 10u)]);
}

fn dynamic_block(lid: u32) -> u32 {
  if (lid == 0u) { shared_block = u32(block_value[p.block_at]); }
  // Loop bounds depend on the block: it must be uniform across the workgroup for the barriers.
  return workgroupUniformLoad(&shared_block);
}

// Tiles spread over y past the 65,535 limit on x (gridRows on the host).
fn tile_base(wg: vec3u) -> u32 { return (wg.x + wg.y * 65535u) * TILE; }

fn transform(wg: vec3u, lid: u32, block: u32, scale: f32) {
  if (!butterflies(wg, lid, block)) { return; }
  let base = tile_base(wg);
  for (var i = 0u; i < TILE / WG; i++) {
    let t = lid + i * WG;
    if (base + t < p.n) { y[base + t] = buf[t] * scale; }
  }
}

// --- Two transforms with one block in one dispatch (the backward's ∇W·Hᵀ and ∇X·Hᵀ of a layer, eq. 4):
// tiles [0, p.tiles) take x → y (p.n values), the rest x2 → y2 (p.n2 values). Which tensor a tile belongs
// to depends only on its workgroup, so the barriers stay in uniform control flow.
@group(0) @binding(4) var<storage, read> x2: array<f32>;
@group(0) @binding(5) var<storage, read_write> y2: array<f32>;

@compute @workgroup_size(WG)
fn main_pair(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  transform_pair(wg, lid3.x, p.block, p.scale);
}

@compute @workgroup_size(WG)
fn main_dynamic_pair(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let b = dynamic_block(lid3.x);
  transform_pair(wg, lid3.x, b, INV_SQRT_POW2[min(countTrailingZeros(b), 10u)]);
}

fn transform_pair(wg: vec3u, lid: u32, block: u32, scale: f32) {
  let tile = wg.x + wg.y * 65535u;
  if (tile < p.tiles) {
    transform(wg, lid, block, scale);
    return;
  }
  let base = (tile - p.tiles) * TILE;
  if (base >= p.n2) { return; }
  // As butterflies() and transform(), over the second tensor's bindings.
  let i = 4u * lid;
  var a = vec4<f32>();
  for (var r = 0u; r < 4u; r++) { if (base + i + r < p.n2) { a[r] = x2[base + i + r]; } }
  butterfly_stages(lid, block, a);
  for (var j = 0u; j < TILE / WG; j++) {
    let t = lid + j * WG;
    if (base + t < p.n2) { y2[base + t] = buf[t] * scale; }
  }
}

// --- Fused with LSQ quantization (quantize.wgsl, paper §3.1): the transformed tile goes straight from
// workgroup memory to v = X·H/|s| (y, kept for the backward) and the packed codes, in quantize.wgsl's
// layout, without writing X·H out and reading it back. The codes of a word must lie in one row: the host
// uses these entries only where the row length is a multiple of 32/bits, so word w of the flat matrix is
// values 32/bits·w … and the words of a row are consecutive (words_per_row = K·bits/32).
@group(0) @binding(4) var<storage, read> step_size: array<f32>;   // [1]: the learned step s
@group(0) @binding(5) var<storage, read_write> codes: array<u32>;

@compute @workgroup_size(WG)
fn main_quantize(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  transform_quantize(wg, lid3.x, p.block, p.scale);
}

@compute @workgroup_size(WG)
fn main_dynamic_quantize(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let b = dynamic_block(lid3.x);
  transform_quantize(wg, lid3.x, b, INV_SQRT_POW2[min(countTrailingZeros(b), 10u)]);
}

fn transform_quantize(wg: vec3u, lid: u32, block: u32, scale: f32) {
  if (!butterflies_vec4(wg, lid, block)) { return; }
  let base = tile_base(wg);
  let s = abs(step_size[0]);
  let mask = (1u << p.bits) - 1u;
  // Thread t takes the tile's values 4t … 4t + 3: one 16-byte store of v, and their 4 codes as one INT8
  // word or half an INT4 word (rows of K codes hold whole words, the host checks, so word w is the flat
  // values 32/bits·w …).
  let i = 4u * lid;
  let inside = base + i < p.n; // n is a multiple of 4 here (the host checks 32/bits | K)
  var v = vec4<f32>();
  var bits = 0u;
  for (var j = 0u; j < 4u; j++) {
    // The same f32 operations as main then quantize.wgsl: X·H rounded to f32, then divided by |s|.
    let xh = buf[i + j] * scale;
    v[j] = xh / s;
    bits |= (bitcast<u32>(i32(clamp(round_half_away(v[j]), -p.qn, p.qp))) & mask) << (p.bits * j);
  }
  if (inside) { y4[(base + i) / 4u] = v; }
  if (p.dequantize != 0u && inside) {
    // The same f32 product as lsq.wgsl dequantize: |s| times the code as an f32 integer.
    dequantized4[(base + i) / 4u] = s * clamp(vec4<f32>(round_half_away(v[0]), round_half_away(v[1]), round_half_away(v[2]), round_half_away(v[3])), vec4<f32>(-p.qn), vec4<f32>(p.qp));
  }
  if (p.bits == 8u) {
    if (inside) { codes[(base + i) / 4u] = bits; }
    return;
  }
  // INT4: word w holds the codes of threads 2w (low half) and 2w + 1 (high half).
  code_halves[lid] = bits;
  workgroupBarrier();
  if (lid < WG / 2u && base + 8u * lid < p.n) {
    codes[(base + 8u * lid) / 8u] = code_halves[2u * lid] | (code_halves[2u * lid + 1u] << 16u);
  }
}

// Loads the workgroup's tile of 1024 values into `buf` and applies the butterflies of H_b (unscaled).
// False (for the whole workgroup) when the tile starts past the end. Thread t loads the quad 4t … 4t + 3.
fn butterflies(wg: vec3u, lid: u32, block: u32) -> bool {
  let base = tile_base(wg);
  if (base >= p.n) { return false; } // uniform across the workgroup, so the barriers below stay uniform
  // n is a multiple of b, so a partial last tile still holds whole blocks; its tail is zeros, never stored.
  let i = 4u * lid;
  var a = vec4<f32>();
  for (var r = 0u; r < 4u; r++) { if (base + i + r < p.n) { a[r] = x[base + i + r]; } }
  butterfly_stages(lid, block, a);
  return true;
}

// The same with one 16-byte load per thread, for the fused quantize entries (n a multiple of 4 there, and
// bindings start 256-byte aligned). A separate view of binding 1: an entry point may use only one of them.
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
var<workgroup> code_halves: array<u32, WG>;
@group(0) @binding(6) var<storage, read_write> dequantized4: array<vec4<f32>>;

fn butterflies_vec4(wg: vec3u, lid: u32, block: u32) -> bool {
  let base = tile_base(wg);
  if (base >= p.n) { return false; }
  var a = vec4<f32>();
  if (base + 4u * lid < p.n) { a = x4[base / 4u + lid]; }
  butterfly_stages(lid, block, a);
  return true;
}

// Thread t holds the quad a = values 4t … 4t + 3 of the tile.
fn butterfly_stages(lid: u32, block: u32, a: vec4<f32>) {
  let i = 4u * lid;
  var h = 1u;
  if (block >= 4u) {
    // The first two stages (distances 1 and 2) on the way in, in registers.
    let b0 = a[0] + a[1];
    let b1 = a[0] - a[1];
    let b2 = a[2] + a[3];
    let b3 = a[2] - a[3];
    buf[i] = b0 + b2;
    buf[i + 1u] = b1 + b3;
    buf[i + 2u] = b0 - b2;
    buf[i + 3u] = b1 - b3;
    h = 4u;
  } else {
    for (var r = 0u; r < 4u; r++) { buf[i + r] = a[r]; }
  }
  // Then two stages per barrier (radix 4): thread t owns the quad i, i + h, i + 2h, i + 3h with
  // i = (t / h)·4h + t % h, and applies the butterflies at distances h and 2h to it in registers.
  for (; 4u * h <= block; h *= 4u) {
    workgroupBarrier();
    let i = (lid / h) * (4u * h) + lid % h;
    let a0 = buf[i];
    let a1 = buf[i + h];
    let a2 = buf[i + 2u * h];
    let a3 = buf[i + 3u * h];
    let b0 = a0 + a1;
    let b1 = a0 - a1;
    let b2 = a2 + a3;
    let b3 = a2 - a3;
    buf[i] = b0 + b2;
    buf[i + h] = b1 + b3;
    buf[i + 2u * h] = b0 - b2;
    buf[i + 3u * h] = b1 - b3;
  }
  // An odd number of stages leaves the one at distance h = b/2: two pairs (i, i + h) per thread,
  // pair q at i = (q / h)·2h + q % h.
  if (h < block) {
    workgroupBarrier();
    for (var k = 0u; k < TILE / (2u * WG); k++) {
      let q = lid + k * WG;
      let i = (q / h) * (2u * h) + q % h;
      let a = buf[i];
      let c = buf[i + h];
      buf[i] = a + c;
      buf[i + h] = a - c;
    }
  }
  workgroupBarrier();
}

// --- Block-size search (official `dynamic` mode, spec §2): on the first batch, candidate k (block 2^k)
// has relative reconstruction errors e_X[k] = x[k] and e_W[k] = x[n + k] (‖Q(XH)H − X‖/‖X‖ and the
// same for W; ‖X‖ does not depend on the block, so the argmin of e_X·e_W is the official one). Writes
// the best block, as f32, to y[block_at]; ties keep the smaller block.
@compute @workgroup_size(1)
fn select_block() {
  var best = 0u;
  var best_error = x[0] * x[p.n];
  for (var k = 1u; k < p.n; k++) {
    let e = x[k] * x[p.n + k];
    if (e < best_error) {
      best = k;
      best_error = e;
    }
  }
  y[p.block_at] = f32(1u << best);
}
