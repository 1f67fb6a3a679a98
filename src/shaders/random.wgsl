// Counter-based random numbers for the stochastic parts of quantized training (stochastic rounding,
// leverage-score sampling): a draw is a pure function of (run seed, stream, step, element index), so a
// run is reproducible from its seed, kernels need no RNG state, and tests can recompute every draw.
// The mixing function is the PCG output permutation used as a hash ("Hash Functions for GPU Rendering",
// Jarzynski & Olano, 2020).

fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

/** A uniform draw in (0, 1): 23 random bits, centred in their interval so 0 and 1 never occur (with 23
 *  bits, k + 0.5 is exact in f32, so the JavaScript twin in reference/random.ts matches bit for bit). */
fn uniform_draw(seed: u32, stream: u32, step: u32, index: u32) -> f32 {
  let h = pcg_hash(pcg_hash(pcg_hash(seed ^ pcg_hash(stream)) ^ step) ^ index);
  return (f32(h >> 9u) + 0.5) / 8388608.0;
}
