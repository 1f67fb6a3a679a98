import { describe, expect, it } from 'vitest';
import { packCodeRows } from './packing';

describe('packCodeRows: the quantizers\' code layout', () => {
  it('INT4: code j in nibble j of the word, two\'s complement; rows padded to whole words', () => {
    // Nibbles, low first: 1, F (−1), 7, 8 (−8), 0, 2, E (−2), 3; then a row of 3 codes and 5 zero pads.
    const words = packCodeRows(Int32Array.from([1, -1, 7, -8, 0, 2, -2, 3, -3, 4, 5]), 1, 11, 4);
    expect(Array.from(packCodeRows(Int32Array.from([1, -1, 7, -8, 0, 2, -2, 3]), 1, 8, 4))).toEqual([0x3e2087f1]);
    expect(Array.from(words)).toEqual([0x3e2087f1, 0x54d]);
    expect(Array.from(packCodeRows(Int32Array.from([1, 2, 3, 4, 5, 6]), 2, 3, 4))).toEqual([0x321, 0x654]);
  });
  it('INT8: code j in byte j', () => {
    expect(Array.from(packCodeRows(Int32Array.from([1, -1, 127, -128, -2]), 1, 5, 8))).toEqual([0x807fff01, 0xfe]);
  });
});
