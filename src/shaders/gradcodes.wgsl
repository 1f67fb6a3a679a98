// Integer operands for the INT4 backward products (LSS-MM, paper §4), packed as intMatmul's INT8 operands
// (four int8 lanes per word, lane 0 the low byte, rows padded with zero codes):
//   pack_split      the bit-split codes of ∇Y (bitsplit.wgsl): hi, lo ∈ [−6, 6] stored as exact integers in
//                   f32. mode 0 packs 14·hi + lo ∈ [−90, 90]: since s↑ = 14·s↓, s↓·(14·hi + lo) is the whole
//                   split gradient, one INT8 operand where every row is kept ('bitsplit'); mode 1 packs hi,
//                   mode 2 lo (LSS reweights the two halves of a row separately).
//   pack_lsq        the forward's LSQ codes of X or W, clamp(round(v), −Q_N, Q_P) from the layer's own v = x/s
//                   (the forward's packed codes live in scratch that later layers overwrite), usually
//                   transposed: the backward reduces over the other dimension.
// TRANSPOSED: code row k holds column k of the source (a reduction over the source's rows).

struct Params {
  rows: u32,  // R: rows of the source [R, K]
  cols: u32,  // K
  words: u32, // words per output code row
  mode: u32,  // pack_split: 0 = 14·hi + lo, 1 = hi, 2 = lo
  qn: f32,    // pack_lsq: the code range [−qn, qp]
  qp: f32,
}
@group(0) @binding(0) var<uniform> p: Params;

override TRANSPOSED: bool = false;
const WG = 256u;

fn flat_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }


// The packing walk both entries share: word i of the output holds code row r = i / words, lanes
// j = 4·(i mod words) + 0…3 of it; source_of gives the element of the [rows, cols] source behind a lane,
// or NO_SOURCE past the row (padding: zero codes).
const NO_SOURCE = 0xffffffffu;
fn code_words() -> u32 { return select(p.rows, p.cols, TRANSPOSED) * p.words; }
fn source_of(i: u32, lane: u32) -> u32 {
  let r = i / p.words;
  let j = (i % p.words) * 4u + lane;
  if (j >= select(p.cols, p.rows, TRANSPOSED)) { return NO_SOURCE; }
  return select(r * p.cols + j, j * p.cols + r, TRANSPOSED);
}

@group(0) @binding(1) var<storage, read> s_hi: array<f32>;
@group(0) @binding(2) var<storage, read> s_lo: array<f32>;
@group(0) @binding(3) var<storage, read_write> s_codes: array<u32>;

@compute @workgroup_size(WG)
fn pack_split(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= code_words()) { return; }
  var word = 0u;
  for (var lane = 0u; lane < 4u; lane++) {
    let src = source_of(i, lane);
    if (src == NO_SOURCE) { break; }
    var code = 0.0;
    if (p.mode == 0u) { code = 14.0 * s_hi[src] + s_lo[src]; }
    else if (p.mode == 1u) { code = s_hi[src]; }
    else { code = s_lo[src]; }
    word = pack_lane(word, i32(code), lane);
  }
  s_codes[i] = word;
}

@group(0) @binding(1) var<storage, read> l_v: array<f32>;          // [R, K]: x/s of the forward's LSQ
@group(0) @binding(2) var<storage, read_write> l_codes: array<u32>;

@compute @workgroup_size(WG)
fn pack_lsq(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= code_words()) { return; }
  var word = 0u;
  for (var lane = 0u; lane < 4u; lane++) {
    let src = source_of(i, lane);
    if (src == NO_SOURCE) { break; }
    word = pack_lane(word, i32(clamp(round_half_away(l_v[src]), -p.qn, p.qp)), lane);
  }
  l_codes[i] = word;
}
