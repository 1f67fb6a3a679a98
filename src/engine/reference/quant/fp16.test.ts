// IEEE binary16 rounding: hand-worked values, every bit pattern, and a brute-force nearest-value oracle.

import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../test-helpers';
import { F16_MAX, F16_MIN_SUBNORMAL } from './constants';
import { f16BitsToFloat64, float64ToF16Bits, roundArrayToF16, roundToF16 } from './fp16';

/** All finite non-negative binary16 values in bit-pattern order, enumerated from the format's definition. */
function positiveF16Table(): Float64Array {
  const values: number[] = [];
  for (let m = 0; m < 1024; m++) values.push(m * 2 ** -24); // subnormals (and +0)
  for (let e = -14; e <= 15; e++) for (let m = 0; m < 1024; m++) values.push((1 + m / 1024) * 2 ** e);
  return Float64Array.from(values);
}

describe('roundToF16', () => {
  it('hand-worked values', () => {
    const cases: [number, number][] = [
      [1, 1],
      [-2, -2],
      [65504, 65504], // largest finite: (2 − 2^−10)·2^15
      [65519.99, 65504], // below the midpoint 65520
      [65520, Infinity], // the tie between 65504 (odd fraction) and 2^16 (even) goes to 2^16 → overflow
      [-65520, -Infinity],
      [1e6, Infinity],
      [2 ** -24, 2 ** -24], // smallest subnormal
      [2 ** -25, 0], // tie between 0 (even) and 2^−24 (odd)
      [3 * 2 ** -26, 2 ** -24], // above that midpoint
      [1.5 * 2 ** -24, 2 * 2 ** -24], // tie between 1·2^−24 (odd) and 2·2^−24 (even)
      [2 ** -14, 2 ** -14], // smallest normal
      [2 ** -14 - 2 ** -25, 2 ** -14], // tie between 1023·2^−24 (odd) and 1024·2^−24 (even)
      [1 + 2 ** -11, 1], // tie between 1 (fraction 0, even) and 1 + 2^−10
      [1 + 3 * 2 ** -11, 1 + 2 ** -9], // tie between 1 + 2^−10 (odd) and 1 + 2^−9 (even)
      [1 + 2 ** -11 + 2 ** -30, 1 + 2 ** -10], // just above the tie
      [0.1, 1638 / 16384], // 0.1 = 1.6·2^−4; 0.6·1024 = 614.4 → 614
      [2049, 2048], // spacing 2 in [2048, 4096): tie to even 2048
      [2051, 2052], // tie between 2050 (odd) and 2052 (even)
      [1e-10, 0],
    ];
    for (const [input, expected] of cases) expect(roundToF16(input), `roundToF16(${input})`).toBe(expected);
    expect(F16_MAX).toBe(65504);
    expect(F16_MIN_SUBNORMAL).toBe(2 ** -24);
  });

  it('keeps signed zeros, infinities and NaN', () => {
    expect(Object.is(roundToF16(0), 0)).toBe(true);
    expect(Object.is(roundToF16(-0), -0)).toBe(true);
    expect(Object.is(roundToF16(-(2 ** -26)), -0)).toBe(true);
    expect(roundToF16(Infinity)).toBe(Infinity);
    expect(roundToF16(-Infinity)).toBe(-Infinity);
    expect(Number.isNaN(roundToF16(NaN))).toBe(true);
    expect(Array.from(roundArrayToF16(new Float64Array([1 + 2 ** -11, -65520])))).toEqual([1, -Infinity]);
  });

  it('bit patterns: hand-worked encodings, and every one of the 65536 decodes and re-encodes to itself', () => {
    expect(float64ToF16Bits(1)).toBe(0x3c00);
    expect(float64ToF16Bits(-2)).toBe(0xc000);
    expect(float64ToF16Bits(65504)).toBe(0x7bff);
    expect(float64ToF16Bits(Infinity)).toBe(0x7c00);
    expect(float64ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(float64ToF16Bits(2 ** -14)).toBe(0x0400);
    expect(float64ToF16Bits(-0)).toBe(0x8000);
    const table = positiveF16Table();
    let mismatches = 0;
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = f16BitsToFloat64(bits);
      const magnitudeBits = bits & 0x7fff;
      if (magnitudeBits > 0x7c00) {
        if (!Number.isNaN(value)) mismatches++;
        continue;
      }
      const expected = magnitudeBits === 0x7c00 ? Infinity : table[magnitudeBits];
      if (!Object.is(value, bits & 0x8000 ? -expected : expected)) mismatches++;
      if (float64ToF16Bits(value) !== bits) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('agrees with a brute-force nearest-value search (ties to even) on random doubles and exact midpoints', () => {
    const table = positiveF16Table();
    const last = table.length - 1; // 65504
    // Nearest finite f16 by binary search; 2^16 stands for the first value past the end (→ Infinity).
    const oracle = (x: number): number => {
      const a = Math.abs(x);
      let low = 0, high = last;
      if (a >= table[last]) {
        low = last;
      } else {
        while (high - low > 1) {
          const mid = (low + high) >> 1;
          if (table[mid] <= a) low = mid;
          else high = mid;
        }
      }
      const below = table[low];
      const above = low === last ? 65536 : table[low + 1];
      let pick: number;
      if (a - below < above - a) pick = low;
      else if (a - below > above - a) pick = low + 1;
      else pick = low % 2 === 0 ? low : low + 1;
      const magnitude = pick > last ? Infinity : table[pick];
      return x < 0 ? -magnitude : magnitude;
    };
    const rng = new SeededRandom(701);
    const inputs: number[] = [];
    for (let k = 0; k < 4000; k++) inputs.push((rng.uniform() < 0.5 ? -1 : 1) * 2 ** rng.uniform(-27, 16.2));
    for (let k = 0; k < 2000; k++) {
      const i = rng.int(0, last);
      inputs.push((table[i] + table[i + 1]) / 2); // exact midpoint in double precision
    }
    const disagreements = inputs.filter((x) => !Object.is(roundToF16(x), oracle(x)));
    expect(disagreements).toEqual([]);
  });
});
