// Rounding helpers shared by the quantizers.

/**
 * Round to the nearest integer, ties away from zero: CUDA `round()`, which the official kernels use for
 * the LSQ codes (`FWD` line 32), the bit split (`GW` lines 25–47) and INT8. (The Python emulation uses
 * torch.round, ties to even; the reference follows the kernels.) Math.round would send −2.5 to −2, and
 * Math.floor(x + 0.5) sends 0.49999999999999994 to 1, so the fraction is compared exactly instead.
 * A zero result is +0 (CUDA gives −0 for e.g. −0.3; the sign of zero vanishes once it is an integer code).
 */
export function roundHalfAwayFromZero(x: number): number {
  if (!Number.isFinite(x)) return x;
  const magnitude = Math.abs(x);
  let rounded = Math.floor(magnitude);
  // magnitude − floor(magnitude) is exact in binary floating point, so the tie test is exact.
  if (magnitude - rounded >= 0.5) rounded += 1;
  if (rounded === 0) return 0;
  return x < 0 ? -rounded : rounded;
}

export function clamp(x: number, low: number, high: number): number {
  return x < low ? low : x > high ? high : x;
}

/** Largest |x_i| (0 for an empty array). Throws on NaN/±Infinity: a quantizer scale built on one is meaningless. */
export function maxAbs(x: Float64Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (!Number.isFinite(a)) throw new Error(`maxAbs: non-finite value ${x[i]} at index ${i}`);
    if (a > m) m = a;
  }
  return m;
}

export function checkLength(label: string, array: ArrayLike<number>, expected: number): void {
  if (array.length !== expected) throw new Error(`${label}: expected ${expected} values, got ${array.length}`);
}
