// Rounding shared by the quantizers (prepended to their modules in gpu/kernels.ts).

// Round half away from zero (CUDA's round(), the official code's choice), exactly: trunc(v) and
// v − trunc(v) are exact in f32, so the tie test is exact. (sign(v)·floor(|v| + 0.5) is not:
// 0.49999997 + 0.5 rounds to 1.0 in f32.)
fn round_half_away(v: f32) -> f32 {
  let t = trunc(v);
  return t + select(0.0, sign(v), abs(v - t) >= 0.5);
}
