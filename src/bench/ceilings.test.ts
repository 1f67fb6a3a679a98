// The ceilings' JS simulation of dot4I8Packed, against the packed-code reference the engine's tests use.
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../engine/reference/test-helpers';
import { dot4Reference } from './ceilings';

describe('dot4Reference', () => {
  it('is the sum of the four signed byte products, including the extreme codes', () => {
    const rng = new SeededRandom(5);
    const cases: [number[], number[]][] = [[[-128, -128, -128, -128], [-128, -128, -128, -128]], [[127, -128, 0, 1], [-128, 127, 5, -1]]];
    for (let i = 0; i < 200; i++) cases.push([Array.from(rng.intArray(4, -128, 128)), Array.from(rng.intArray(4, -128, 128))]);
    for (const [x, y] of cases) {
      const pack = (v: number[]) => v.reduce((w, c, j) => (w | ((c & 0xff) << (8 * j))) >>> 0, 0);
      expect(dot4Reference(pack(x), pack(y))).toBe(x[0] * y[0] + x[1] * y[1] + x[2] * y[2] + x[3] * y[3]);
    }
  });
});
