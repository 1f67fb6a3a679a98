// IEEE 754 binary16 rounding, worked from the bit layout (no Math.f16round, which Node 20 lacks): the
// oracle for the FP16 scheme and for f16 emulated through pack2x16float. The paper keeps non-linear ops
// in FP16 (§3) and the Hadamard transform runs in FP16 (A.6).
//
// binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. Normal numbers (exponent field
// 1…30) are (1024 + fraction)·2^(e − 10) with e = field − 15 ∈ [−14, 15]; subnormals (field 0) are
// fraction·2^−24; field 31 is ±Infinity (fraction 0) or NaN.

const scratch = new DataView(new ArrayBuffer(8));
const F16_INFINITY_BITS = 0x7c00;
const F16_QUIET_NAN_BITS = 0x7e00;

/** The binary16 bit pattern nearest to x (round to nearest, ties to even; overflow to ±Infinity). */
export function float64ToF16Bits(x: number): number {
  scratch.setFloat64(0, x);
  const highWord = scratch.getUint32(0);
  const sign = (highWord >>> 31) << 15;
  const exponentField = (highWord >>> 20) & 0x7ff;
  if (Number.isNaN(x)) return sign | F16_QUIET_NAN_BITS;
  if (exponentField === 0x7ff) return sign | F16_INFINITY_BITS;
  // A double subnormal (< 2^−1022) is far below half the smallest f16 subnormal (2^−25): it rounds to ±0.
  if (exponentField === 0) return sign;
  const e = exponentField - 1023; // |x| ∈ [2^e, 2^(e+1))
  if (e > 15) return sign | F16_INFINITY_BITS;
  // Spacing of f16 values around |x|: 2^(e−10) in a normal binade, the fixed 2^−24 among subnormals.
  const quantumExponent = Math.max(e, -14) - 10;
  // Scaling by a power of two is exact, so `units` is |x| in f16 spacings, exactly, and below 2^11.
  const units = Math.abs(x) * 2 ** -quantumExponent;
  let rounded = Math.floor(units);
  const fraction = units - rounded; // exact
  if (fraction > 0.5 || (fraction === 0.5 && (rounded & 1) === 1)) rounded += 1;
  // Normal: field (e + 15), fraction rounded − 1024; rounding up to 2048 carries into the exponent by
  // itself. Subnormal: the bits are the count of 2^−24 (1024 is the smallest normal, again by carry).
  const bits = e >= -14 ? ((e + 15) << 10) + (rounded - 1024) : rounded;
  return sign | Math.min(bits, F16_INFINITY_BITS);
}

/** The value of a binary16 bit pattern (low 16 bits of `bits`). */
export function f16BitsToFloat64(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponentField = (bits >>> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponentField === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  if (exponentField === 0) return sign * fraction * 2 ** -24;
  return sign * (1024 + fraction) * 2 ** (exponentField - 25);
}

/**
 * Exact IEEE binary16 round-to-nearest-even of a double: subnormals, ±65504 the largest finite values,
 * values from 65520 (the tie with 2^16, which is even) up overflow to ±Infinity, signed zeros and NaN kept.
 */
export function roundToF16(x: number): number {
  return f16BitsToFloat64(float64ToF16Bits(x));
}

/** roundToF16 of every element. */
export function roundArrayToF16(x: Float64Array): Float64Array {
  return x.map(roundToF16);
}
