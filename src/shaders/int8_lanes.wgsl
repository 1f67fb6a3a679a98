// INT8 codes packed four to a u32 (lane 0 the low byte), as intMatmul reads its INT8 operands: packing a
// code into its lane and reading one back, sign-extended. Prepended to the shaders that pack or read them
// (gpu/kernels.ts).
fn pack_lane(word: u32, code: i32, lane: u32) -> u32 {
  return word | ((bitcast<u32>(code) & 0xffu) << (8u * lane));
}

fn lane_value(word: u32, lane: u32) -> f32 {
  return f32(extractBits(bitcast<i32>(word), 8u * lane, 8u));
}
