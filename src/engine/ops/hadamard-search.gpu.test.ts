// The first-batch Hadamard block search on the GPU against the official search on the float64
// reference (reference/quant/hadamard.ts searchHadamardBlockSize), on matrices whose winners differ.
import { beforeAll, describe, expect, it } from 'vitest';
import { type GpuHarness, buildChecked, gpuHarness, roundF32 } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { hadamardBlockCandidates, hadamardBlockSearch, hadamardSearchScratch } from './hadamard-search';
import { packedCodeShape } from './quant';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

describe('hadamardBlockCandidates', () => {
  it('lists the powers of two dividing the width, up to 1024', () => {
    expect(hadamardBlockCandidates(48)).toEqual([1, 2, 4, 8, 16]);
    expect(hadamardBlockCandidates(768)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256]);
    expect(hadamardBlockCandidates(4096)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    expect(hadamardBlockCandidates(7)).toEqual([1]);
  });
});

interface Case {
  what: string;
  rows: number;
  outRows: number;
  cols: number;
  make: (rng: SeededRandom, rows: number, cols: number) => Float64Array;
}

const gaussian = (scale: number) => (rng: SeededRandom, rows: number, cols: number) => rng.normalArray(rows * cols, scale);
const CASES: Case[] = [
  {
    what: 'outlier channels (the transform spreads them: a large block wins)',
    rows: 40, outRows: 24, cols: 64,
    make: (rng, rows, cols) => rng.normalArray(rows * cols, 1).map((v, i) => (i % cols === 3 || i % cols === 40 ? 30 * v : v)),
  },
  {
    what: 'one-hot rows (the transform smears a single spike over the block: no transform wins)',
    rows: 40, outRows: 24, cols: 32,
    make: (rng, rows, cols) => Float64Array.from({ length: rows * cols }, (_, i) => (i % cols === Math.floor(i / cols) % cols ? 1 + rng.uniform() : 0)),
  },
  { what: 'Gaussian', rows: 33, outRows: 48, cols: 96, make: gaussian(1) },
];

describe('hadamardBlockSearch', () => {
  for (const c of CASES) {
    it(`picks the reference's block: ${c.what}`, async () => {
      const rng = new SeededRandom(c.cols + c.rows);
      const x = roundF32(c.make(rng, c.rows, c.cols));
      const w = roundF32(c.make(rng, c.outRows, c.cols));
      const reference = ref.searchHadamardBlockSize(x, w, c.rows, c.outRows, c.cols);
      const sorted = [...reference.errors.values()].sort((a, b) => a - b);
      expect(sorted[1] / sorted[0], 'the winner is clear of the runner-up (else rounding decides)').toBeGreaterThan(1.001);
      const pair = (what: string, shape: (r: number) => number[]) => ({ x: h.empty(shape(c.rows), `${what}_x`), w: h.empty(shape(c.outRows), `${what}_w`) });
      const sizes = hadamardSearchScratch(c.rows, c.outRows, c.cols);
      const block = h.upload([1], [0], 'block');
      const ds = await buildChecked(h.device, () => hadamardBlockSearch(h.kernels, {
        label: 'search', x: h.upload([c.rows, c.cols], x, 'x'), w: h.upload([c.outRows, c.cols], w, 'w'),
        rows: c.rows, outRows: c.outRows, cols: c.cols, format: 'int4', qn: 8, qp: 7,
        transformed: pair('xh', (r) => [r, c.cols]), v: pair('v', (r) => [r, c.cols]),
        codes: pair('codes', (r) => packedCodeShape(r, c.cols, 'int4')), dequantized: pair('deq', (r) => [r, c.cols]),
        step: h.empty([1], 'step'), partials: h.empty([sizes.partials], 'partials'), errors: h.empty([sizes.errors], 'errors'), block,
      }));
      await h.run(ds);
      expect((await h.read(block))[0]).toBe(reference.block);
    });
  }

  it('the cases cover different winners', () => {
    const winners = CASES.map((c) => {
      const rng = new SeededRandom(c.cols + c.rows);
      const x = roundF32(c.make(rng, c.rows, c.cols));
      const w = roundF32(c.make(rng, c.outRows, c.cols));
      return ref.searchHadamardBlockSize(x, w, c.rows, c.outRows, c.cols).block;
    });
    expect(new Set(winners).size, `winners ${winners}`).toBeGreaterThanOrEqual(2);
  });
});
