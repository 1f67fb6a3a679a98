// CUDA round() semantics (ties away from zero), which the official kernels use.

import { describe, expect, it } from 'vitest';
import { roundHalfAwayFromZero } from './rounding';

describe('roundHalfAwayFromZero', () => {
  it('hand-worked values, including the cases Math.round and floor(x + 0.5) get wrong', () => {
    const cases: [number, number][] = [
      [0.5, 1], [-0.5, -1], [1.5, 2], [2.5, 3], [-2.5, -3], [-1.5, -2],
      [0.49999999999999994, 0], // floor(x + 0.5) gives 1 here
      [-0.49999999999999994, 0],
      [2.4999999999999996, 2],
      [-7.5, -8], [7.49, 7], [-8.5, -9], [1e300, 1e300], [4503599627370497, 4503599627370497],
    ];
    for (const [x, expected] of cases) expect(roundHalfAwayFromZero(x), `round(${x})`).toBe(expected);
    expect(Object.is(roundHalfAwayFromZero(-0.3), 0)).toBe(true); // zero results are +0
    expect(roundHalfAwayFromZero(-Infinity)).toBe(-Infinity);
    expect(Number.isNaN(roundHalfAwayFromZero(NaN))).toBe(true);
  });
});
