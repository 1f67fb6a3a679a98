// The measurement kernels (ops/stats.ts, shaders/stats.wgsl) against the float64 definitions
// (reference/stats.ts). Histogram counts are compared exactly: rows are built with norms at bin centres
// (or far outside the range), and the expected counts come from that construction, not from the
// reference alone. Column maxima are exact (max of f32 values); shares, medians and errors to 1e-5
// relative. Every result is written at an odd offset into a NaN-filled "metrics" tensor, and everything
// around the slot must stay NaN. Shapes are not multiples of the workgroup sizes (37, 1000, 4097 rows).
import { beforeAll, describe, expect, it } from 'vitest';
import { type Dispatch } from '../gpu/kernels';
import { readBytes } from '../gpu/memory';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, roundF32 } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { type Tensor } from '../tensor';
import {
  OUTLIER_SUMMARY_LENGTH,
  STATS_UNBOUNDED,
  columnAbsMax,
  copyScaled,
  linearStatsLayout,
  outlierSummary,
  relativeError,
  relativeErrorPartials,
  rowNormHistogram,
  rowNormHistogramLength,
} from './stats';

const TOL = 1e-5;

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

/** A NaN-filled metrics tensor with the slot [offset, offset + len) and NaN margins around it. */
const OFFSET = 13;
const TAIL = 301;
function metrics(len: number): Tensor {
  return h.empty([OFFSET + len + TAIL], 'metrics');
}
/** The slot's values; asserts that nothing outside the slot was written. */
async function slot(t: Tensor, len: number, offset = OFFSET): Promise<Float64Array> {
  const all = await h.read(t);
  let outside = 0;
  all.forEach((v, i) => {
    if ((i < offset || i >= offset + len) && !Number.isNaN(v)) outside++;
  });
  expect(outside, `values written outside the slot [${offset}, ${offset + len})`).toBe(0);
  const s = all.slice(offset, offset + len);
  expect(s.filter(Number.isNaN).length, 'NaN left in the slot (a value the kernel did not write)').toBe(0);
  return s;
}

function expectExact(label: string, gpu: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(Array.from(gpu), label).toEqual(Array.from(expected));
}

/** Strictly relative: ≤ tol·max|ref|, no absolute floor. */
function expectRelative(label: string, gpu: ArrayLike<number>, expected: ArrayLike<number>, tol = TOL): void {
  expectClose(label, gpu, expected, tol, 1e-30, 1e-30);
}

/** A row of `cols` f32 values with L2 norm `norm` (up to f32 rounding): a random direction, scaled. */
function rowWithNorm(rng: SeededRandom, cols: number, norm: number): Float64Array {
  const g = rng.normalArray(cols);
  const len = Math.hypot(...g);
  return roundF32(g.map((x) => (x * norm) / len));
}

type RowKind = { bin: number } | 'zero' | 'below' | 'above' | { norm: number };

interface Design {
  dy: Float64Array;
  /** Counts per bin and zero rows, from the construction alone. */
  counts: Float64Array;
}

/** ∇Y whose rows have the given kinds: a bin centre, exactly zero, 30× below / 5× above the range, or
 *  a given norm (then not counted in `counts`: the caller knows where it falls). */
function design(rng: SeededRandom, kinds: RowKind[], cols: number, o: ref.RowNormHistogramOptions): Design {
  const dy = new Float64Array(kinds.length * cols);
  const counts = new Float64Array(o.bins + 1);
  kinds.forEach((kind, r) => {
    let norm = 0;
    if (kind === 'zero') counts[o.bins]++;
    else if (kind === 'below') {
      norm = 10 ** (o.logMin - 1.5);
      counts[0]++;
    } else if (kind === 'above') {
      norm = 10 ** (o.logMax + 0.7);
      counts[o.bins - 1]++;
    } else if ('bin' in kind) {
      norm = ref.rowNormBinCentre(kind.bin, o);
      counts[kind.bin]++;
    } else norm = kind.norm;
    if (norm > 0) dy.set(rowWithNorm(rng, cols, norm), r * cols);
  });
  return { dy, counts };
}

async function runHistogram(dy: Float64Array, rows: number, cols: number, o: ref.RowNormHistogramOptions): Promise<{ gpu: Float64Array; norms: Float64Array }> {
  const len = rowNormHistogramLength(o.bins);
  const out = metrics(len);
  const norms = h.empty([rows + 5], 'norms');
  const ds = await buildChecked(h.device, () =>
    rowNormHistogram(h.kernels, { label: 'hist', dy: h.upload([rows * cols], dy, 'dy'), rows, cols, ...o, norms, out, outOffset: OFFSET }),
  );
  expect(ds.length).toBe(2);
  await h.run(ds);
  return { gpu: await slot(out, len), norms: (await h.read(norms)).subarray(0, rows) };
}

/** Compares a histogram record: counts and zero rows exactly (and equal to the construction), shares
 *  and total to TOL. */
function expectHistogram(label: string, gpu: Float64Array, expected: Float64Array, bins: number, counts?: Float64Array): void {
  if (counts) expectExact(`${label}: reference counts = construction`, expected.subarray(0, bins + 1), counts);
  expectExact(`${label}: counts and zero rows`, gpu.subarray(0, bins + 1), expected.subarray(0, bins + 1));
  const tail = (a: Float64Array) => a.subarray(bins + 1);
  if (expected[bins + 3] > 0) expectRelative(`${label}: [top-1% share, top-10% share, total]`, tail(gpu), tail(expected));
  else expectExact(`${label}: [shares, total] of an all-zero ∇Y`, tail(gpu), [0, 0, 0]);
}

const O24: ref.RowNormHistogramOptions = { bins: 24, logMin: -8, logMax: 0 };

describe('rowNormHistogram (Fig. 2): counts exact, top-1%/10% shares and Σ‖row‖² to 1e-5', () => {
  const cases = [
    { rows: 37, cols: 70, seed: 1 },
    { rows: 1000, cols: 33, seed: 2 },
    { rows: 4097, cols: 5, seed: 3 },
  ];
  for (const c of cases) {
    it(`N ${c.rows}, C ${c.cols}: heavy-tailed norms, zero rows, rows below and above the range`, async () => {
      const rng = new SeededRandom(c.seed);
      // Most rows small, a few large (the paper's structural sparsity): bins drawn from a skewed law.
      const kinds: RowKind[] = Array.from({ length: c.rows }, (_, r) => {
        if (r % 17 === 3) return 'zero';
        if (r % 29 === 5) return 'below';
        if (r % 97 === 7) return 'above';
        const u = rng.uniform();
        return { bin: Math.min(O24.bins - 1, Math.floor(O24.bins * u ** 3 + 2 * rng.uniform())) };
      });
      const d = design(rng, kinds, c.cols, O24);
      const expected = ref.rowNormHistogram(d.dy, c.rows, c.cols, O24);
      const { gpu, norms } = await runHistogram(d.dy, c.rows, c.cols, O24);
      expect(d.counts.filter((x) => x > 0).length, 'bins in use').toBeGreaterThan(c.rows > 100 ? 15 : 8);
      expectHistogram(`N ${c.rows}`, gpu, expected, O24.bins, d.counts);
      // The norms scratch holds the per-row norms; zero rows exactly 0.
      expectRelative('row norms', norms, ref.rowL2Norms(d.dy, c.rows, c.cols));
      kinds.forEach((k, r) => k === 'zero' && expect(norms[r], `zero row ${r}`).toBe(0));
      // The shares say something: the top 10% carry more than 10%, the top 1% less than the top 10%.
      expect(gpu[O24.bins + 2]).toBeGreaterThan(0.1);
      expect(gpu[O24.bins + 1]).toBeLessThan(gpu[O24.bins + 2]);
    });
  }

  it('one dominant row carries ≈ all of Σ‖row‖² (share ≈ 1), at the end of a 4097-row ∇Y', async () => {
    const [rows, cols] = [4097, 7];
    const rng = new SeededRandom(11);
    const kinds: RowKind[] = Array.from({ length: rows }, () => ({ bin: 3 + rng.int(0, 4) }));
    kinds[rows - 1] = { bin: 22 };
    const d = design(rng, kinds, cols, O24);
    const expected = ref.rowNormHistogram(d.dy, rows, cols, O24);
    const { gpu } = await runHistogram(d.dy, rows, cols, O24);
    expectHistogram('dominant row', gpu, expected, O24.bins, d.counts);
    // The other 4096 rows have norms ≤ 10^−5.8, the dominant one 10^−0.5: they carry < 1e−7 of Σ‖row‖².
    expect(expected[O24.bins + 1]).toBeGreaterThan(1 - 1e-7);
    expect(expected[O24.bins + 1]).toBeLessThan(1);
    expect(gpu[O24.bins + 1]).toBeGreaterThan(1 - 1e-5);
    expect(gpu[O24.bins + 1]).toBeLessThanOrEqual(1 + 1e-6);
  });

  it('ties across the top-k boundary: equal rows share the selection exactly (k/N of the mass)', async () => {
    // 1000 rows: 5 identical large rows, then 995 identical small ones. Top 1% = 10 rows: the 5 large
    // and 5 of the ties; top 10% = 100 rows.
    const [rows, cols] = [1000, 9];
    const rng = new SeededRandom(12);
    const big = rowWithNorm(rng, cols, 0.5);
    const small = rowWithNorm(rng, cols, 1e-3);
    const dy = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) dy.set(r % 200 === 0 ? big : small, r * cols);
    const expected = ref.rowNormHistogram(dy, rows, cols, O24);
    const { gpu } = await runHistogram(dy, rows, cols, O24);
    expectHistogram('ties', gpu, expected, O24.bins);
    const [b, s] = [ref.rowL2Norms(big, 1, cols)[0] ** 2, ref.rowL2Norms(small, 1, cols)[0] ** 2];
    const total = 5 * b + 995 * s;
    expect(expected[O24.bins + 1]).toBeCloseTo((5 * b + 5 * s) / total, 12);
    expect(expected[O24.bins + 2]).toBeCloseTo((5 * b + 95 * s) / total, 12);
    // All rows equal: the top-k share is k/N.
    const same = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) same.set(small, r * cols);
    const { gpu: g2 } = await runHistogram(same, rows, cols, O24);
    expectRelative('all equal: [1%, 10%]', g2.subarray(O24.bins + 1, O24.bins + 3), [0.01, 0.1]);
  });

  it("mass 'norm' (the paper's Fig. 2b: Σ‖row‖) and an odd range", async () => {
    const o: ref.RowNormHistogramOptions = { bins: 7, logMin: -3.3, logMax: 1.9, mass: 'norm' };
    const [rows, cols] = [1000, 12];
    const rng = new SeededRandom(13);
    const kinds: RowKind[] = Array.from({ length: rows }, (_, r) => (r % 50 === 0 ? 'zero' : { bin: rng.int(0, o.bins) }));
    const d = design(rng, kinds, cols, o);
    const expected = ref.rowNormHistogram(d.dy, rows, cols, o);
    const { gpu } = await runHistogram(d.dy, rows, cols, o);
    expectHistogram('norm mass', gpu, expected, o.bins, d.counts);
    const sumNorms = ref.rowL2Norms(d.dy, rows, cols).reduce((a, v) => a + v, 0);
    expect(gpu[o.bins + 3] / sumNorms).toBeCloseTo(1, 5);
    // Differs from the squared mass: the same rows give a different top-10% share.
    const squared = ref.rowNormHistogram(d.dy, rows, cols, { ...o, mass: 'squared' });
    expect(Math.abs(squared[o.bins + 2] - gpu[o.bins + 2])).toBeGreaterThan(0.05);
  });

  it('an all-zero ∇Y: every row counted as zero, shares and total 0, no NaN', async () => {
    const [rows, cols] = [37, 70];
    const { gpu } = await runHistogram(new Float64Array(rows * cols), rows, cols, O24);
    const expected = new Float64Array(O24.bins + 4);
    expected[O24.bins] = rows;
    expectExact('all zero', gpu, expected);
  });

  it('tiny rows (elements 1e-30, squares below f32) are not zero rows: bin 0, and shares stay finite', async () => {
    const [rows, cols] = [37, 300];
    const dy = new Float64Array(rows * cols);
    for (let i = 0; i < dy.length; i++) dy[i] = Math.fround((i % 3 === 0 ? 1 : -2) * 1e-30);
    const expected = ref.rowNormHistogram(dy, rows, cols, { ...O24, mass: 'norm' });
    expect(expected[0]).toBe(rows);
    const { gpu } = await runHistogram(dy, rows, cols, { ...O24, mass: 'norm' });
    expectHistogram('tiny rows', gpu, expected, O24.bins);
  });

  it('a single row; and 70,000 rows (more than 65,535 row workgroups)', async () => {
    const { gpu } = await runHistogram(roundF32([3, 4]), 1, 2, O24);
    const one = new Float64Array(O24.bins + 4);
    one[O24.bins - 1] = 1; // ‖(3, 4)‖ = 5 is above 10^0
    one[O24.bins + 1] = 1;
    one[O24.bins + 2] = 1;
    one[O24.bins + 3] = 25;
    expectExact('one row', gpu, one);

    const [rows, cols] = [70_000, 1];
    const rng = new SeededRandom(14);
    const kinds: RowKind[] = Array.from({ length: rows }, () => ({ bin: rng.int(0, O24.bins) }));
    const d = design(rng, kinds, cols, O24);
    const { gpu: big } = await runHistogram(d.dy, rows, cols, O24);
    expectHistogram('70,000 rows', big, ref.rowNormHistogram(d.dy, rows, cols, O24), O24.bins, d.counts);
  });

  it('is deterministic: two runs give bitwise equal records', async () => {
    const [rows, cols] = [1000, 33];
    const rng = new SeededRandom(15);
    const dy = roundF32(rng.normalArray(rows * cols).map((x, i) => x * 10 ** -((i / cols) % 5)));
    const a = await runHistogram(dy, rows, cols, O24);
    const b = await runHistogram(dy, rows, cols, O24);
    expectExact('run 1 vs run 2', b.gpu, a.gpu);
  });
});

/** X [rows, cols]: N(0, 1) with a few outlier columns (the paper's Fig. 1: feature-wise outliers). */
function activations(rng: SeededRandom, rows: number, cols: number, outliers: number[]): Float64Array {
  const x = rng.normalArray(rows * cols);
  for (let r = 0; r < rows; r++) for (const c of outliers) x[r * cols + c] *= 40;
  return roundF32(x);
}

describe('columnAbsMax and outlierSummary (Fig. 1)', () => {
  const cases = [
    { rows: 37, cols: 300, outliers: [0, 7, 299] },
    { rows: 1000, cols: 45, outliers: [44] },
    { rows: 4097, cols: 70, outliers: [3, 64, 65] },
  ];
  for (const c of cases) {
    it(`[${c.rows}, ${c.cols}]: column maxima exact; [max, median, max/median] after them in the same buffer`, async () => {
      const rng = new SeededRandom(c.rows + c.cols);
      const x = activations(rng, c.rows, c.cols, c.outliers);
      // A column whose largest magnitude is negative, and an all-zero column (−0 included).
      x[(c.rows - 1) * c.cols + 1] = -1000;
      for (let r = 0; r < c.rows; r++) x[r * c.cols + 2] = r % 2 ? -0 : 0;
      const expected = ref.columnAbsMax(x, c.rows, c.cols);
      const summary = ref.outlierSummary(expected);
      // Column maxima at OFFSET, the summary right after them: one metrics tensor, as a trainer would.
      const len = c.cols + OUTLIER_SUMMARY_LENGTH;
      const out = metrics(len);
      const ds = await buildChecked(h.device, () => [
        ...columnAbsMax(h.kernels, { label: 'colmax', x: h.upload([c.rows * c.cols], x, 'x'), rows: c.rows, cols: c.cols, out, outOffset: OFFSET }),
        outlierSummary(h.kernels, { label: 'summary', values: out, valuesOffset: OFFSET, count: c.cols, out, outOffset: OFFSET + c.cols }),
      ]);
      await h.run(ds);
      const gpu = await slot(out, len);
      expectExact('column maxima', gpu.subarray(0, c.cols), expected);
      expect(gpu[1]).toBe(1000);
      expect(gpu[2]).toBe(0);
      expectRelative('[max, median, max/median]', gpu.subarray(c.cols), summary);
      expect(summary[2], 'the outlier columns make max/median large').toBeGreaterThan(10);
    });
  }

  it('the Hadamard transform shrinks max/median (X vs X·H with the reference block transform)', async () => {
    const [rows, cols, block] = [256, 64, 32];
    const rng = new SeededRandom(21);
    const x = activations(rng, rows, cols, [5, 40]);
    const xh = roundF32(ref.blockHadamard(x, rows, cols, block));
    const out = metrics(2 * (cols + 3));
    const ds = await buildChecked(h.device, () => [
      ...columnAbsMax(h.kernels, { label: 'x', x: h.upload([x.length], x, 'x'), rows, cols, out, outOffset: OFFSET }),
      ...columnAbsMax(h.kernels, { label: 'xh', x: h.upload([xh.length], xh, 'xh'), rows, cols, out, outOffset: OFFSET + cols }),
      outlierSummary(h.kernels, { label: 'sx', values: out, valuesOffset: OFFSET, count: cols, out, outOffset: OFFSET + 2 * cols }),
      outlierSummary(h.kernels, { label: 'sxh', values: out, valuesOffset: OFFSET + cols, count: cols, out, outOffset: OFFSET + 2 * cols + 3 }),
    ]);
    await h.run(ds);
    const gpu = await slot(out, 2 * (cols + 3));
    expectExact('max|X| per column', gpu.subarray(0, cols), ref.columnAbsMax(x, rows, cols));
    expectExact('max|XH| per column', gpu.subarray(cols, 2 * cols), ref.columnAbsMax(xh, rows, cols));
    const [sx, sxh] = [gpu.subarray(2 * cols, 2 * cols + 3), gpu.subarray(2 * cols + 3)];
    expectRelative('summary of X', sx, ref.outlierSummary(ref.columnAbsMax(x, rows, cols)));
    expectRelative('summary of XH', sxh, ref.outlierSummary(ref.columnAbsMax(xh, rows, cols)));
    expect(sx[2]).toBeGreaterThan(10);
    expect(sxh[2]).toBeLessThan(sx[2] / 4);
  });

  it('outlierSummary from a separate buffer: odd, even and large counts, ties, negatives, zeros', async () => {
    const rng = new SeededRandom(22);
    const sets: [string, Float64Array][] = [
      ['one value', roundF32([2.5])],
      ['two values', roundF32([3, 1])],
      ['even count (mean of the middle two)', roundF32(rng.normalArray(1000).map(Math.abs))],
      ['4097 values (> 4096)', roundF32(rng.normalArray(4097).map((v) => Math.abs(v) * 3))],
      ['ties at the median', roundF32([5, 1, 1, 1, 1, 1, 2, 2, 2, 0.5, 0.25])],
      ['negative values order below positive ones', roundF32([-3, -1, 0.5, 2, -0.25, 7, -8])],
      ['all zero: [0, 0, 0]', new Float64Array(10)],
      ['median 0, max > 0: ratio unbounded', roundF32([0, 0, 0, 4, 0])],
    ];
    for (const [name, v] of sets) {
      const out = metrics(3);
      await h.run([await buildChecked(h.device, () => outlierSummary(h.kernels, { label: name, values: h.upload([v.length + 3], [9, 9, 9, ...v], 'v'), valuesOffset: 3, count: v.length, out, outOffset: OFFSET }))]);
      const gpu = await slot(out, 3);
      const expected = ref.outlierSummary(v);
      if (expected[1] === 0) expectExact(name, gpu, expected);
      else expectRelative(name, gpu, expected, 1e-6);
    }
    expect(ref.outlierSummary([0, 0, 0, 4, 0])[2]).toBe(STATS_UNBOUNDED);
    expect(Math.fround(STATS_UNBOUNDED)).toBe(STATS_UNBOUNDED);
  });
});

describe('relativeError: ‖a − b‖/‖a‖ (quantization error)', () => {
  for (const n of [37, 1000, 4097, 300_001]) {
    it(`n ${n}: b = a + noise, and b = a dequantized by LSQ`, async () => {
      const rng = new SeededRandom(n);
      const a = roundF32(rng.normalArray(n, 2));
      const noisy = roundF32(a.map((v) => v + 0.03 * rng.normal()));
      // LSQ fake quantization with step 0.4 (codes in [−8, 7]), what X̂ is to X·H.
      const lsq = roundF32(a.map((v) => 0.4 * Math.max(-8, Math.min(7, ref.roundHalfAwayFromZero(v / 0.4)))));
      const out = metrics(2);
      const partials = h.empty([relativeErrorPartials(n)], 'partials');
      const ta = h.upload([n], a, 'a');
      const ds = await buildChecked(h.device, () => [
        ...relativeError(h.kernels, { label: 'noise', a: ta, b: h.upload([n], noisy, 'b'), n, partials, out, outOffset: OFFSET }),
        ...relativeError(h.kernels, { label: 'lsq', a: ta, b: h.upload([n], lsq, 'lsq'), n, partials, out, outOffset: OFFSET + 1 }),
      ]);
      await h.run(ds);
      const gpu = await slot(out, 2);
      expectRelative('[noise, lsq]', gpu, [ref.relativeL2Error(a, noisy), ref.relativeL2Error(a, lsq)]);
      expect(gpu[0]).toBeGreaterThan(0.01);
    });
  }

  it('b as the bit split s↑·hi + s↓·lo (the ∇Y that LSS samples) vs bitSplitDequantize', async () => {
    const [rows, cols] = [37, 70];
    const n = rows * cols;
    const rng = new SeededRandom(31);
    const dy = roundF32(rng.normalArray(n, 0.01));
    const u = Float64Array.from({ length: n }, () => rng.uniform());
    const split = ref.bitSplit(dy, u);
    const state = roundF32([0, split.scaleHi, split.scaleLo, 0]);
    const b = ref.bitSplitDequantize({ ...split, scaleHi: state[1], scaleLo: state[2] });
    const out = metrics(1);
    const ds = await buildChecked(h.device, () =>
      relativeError(h.kernels, {
        label: 'dy',
        a: h.upload([n], dy, 'dy'),
        b: { hi: h.upload([n], Float64Array.from(split.hi), 'hi'), lo: h.upload([n], Float64Array.from(split.lo), 'lo'), splitState: h.upload([4], state, 'state') },
        n,
        partials: h.empty([relativeErrorPartials(n)], 'partials'),
        out,
        outOffset: OFFSET,
      }),
    );
    await h.run(ds);
    const gpu = await slot(out, 1);
    const expected = ref.relativeL2Error(dy, b);
    expectRelative('split error', gpu, [expected]);
    expect(expected).toBeGreaterThan(1e-3);
    expect(expected).toBeLessThan(0.2);
  });

  it('edge cases: a = b → 0; a = b = 0 → 0; a = 0, b ≠ 0 → unbounded', async () => {
    const n = 1000;
    const a = roundF32(new SeededRandom(5).normalArray(n));
    const out = metrics(3);
    const partials = h.empty([relativeErrorPartials(n)], 'partials');
    const zero = h.upload([n], new Float64Array(n), 'zero');
    const ta = h.upload([n], a, 'a');
    const ds = await buildChecked(h.device, () => [
      ...relativeError(h.kernels, { label: 'same', a: ta, b: ta, n, partials, out, outOffset: OFFSET }),
      ...relativeError(h.kernels, { label: 'zeros', a: zero, b: zero, n, partials, out, outOffset: OFFSET + 1 }),
      ...relativeError(h.kernels, { label: 'unbounded', a: zero, b: ta, n, partials, out, outOffset: OFFSET + 2 }),
    ]);
    await h.run(ds);
    expectExact('[same, zeros, unbounded]', await slot(out, 3), [0, 0, STATS_UNBOUNDED]);
  });
});

describe('copyScaled, and one metrics buffer for several layers read back with one copy', () => {
  it('copies scalars at offsets with a scale (kept count → fraction)', async () => {
    const src = h.upload([5], [1, 0.37, 42, 5, 6], 'src');
    const out = metrics(2);
    await h.run([await buildChecked(h.device, () => copyScaled(h.kernels, { label: 'copy', src, srcOffset: 1, count: 2, scale: 1 / 74, out, outOffset: OFFSET }))]);
    const s = Math.fround(1 / 74);
    expectExact('copied', await slot(out, 2), [Math.fround(Math.fround(0.37) * s), Math.fround(42 * s)]);
  });

  it('two INT4-like layers: every statistic in its linearStatsLayout slot, one readback of the whole buffer', async () => {
    const bins = 16;
    const layers = [
      { N: 37, D: 64, C: 96, seed: 41 },
      { N: 37, D: 96, C: 64, seed: 42 },
    ];
    const layouts = layers.map((l) => linearStatsLayout(bins, l.D));
    const base = [5];
    base.push(base[0] + layouts[0].size);
    const total = base[1] + layouts[1].size + 7;
    const metricsBuffer = h.empty([total], 'metrics');
    const o: ref.RowNormHistogramOptions = { bins, logMin: -6, logMax: 2 };
    const ds: Dispatch[] = [];
    const expected: { at: number; values: ArrayLike<number>; exact: boolean; what: string }[] = [];
    const partials = h.empty([relativeErrorPartials(1 << 20)], 'partials');
    for (const [i, l] of layers.entries()) {
      const L = layouts[i];
      const at = (k: keyof typeof L) => base[i] + L[k];
      const rng = new SeededRandom(l.seed);
      const x = activations(rng, l.N, l.D, [1]);
      const xh = roundF32(ref.blockHadamard(x, l.N, l.D, 32));
      const xq = roundF32(xh.map((v) => 0.5 * Math.max(-8, Math.min(7, ref.roundHalfAwayFromZero(v / 0.5)))));
      const wh = roundF32(rng.normalArray(l.C * l.D, 0.1));
      const wq = roundF32(wh.map((v) => 0.03 * Math.max(-8, Math.min(7, ref.roundHalfAwayFromZero(v / 0.03)))));
      const dy = roundF32(rng.normalArray(l.N * l.C, 1e-3).map((v, j) => (Math.floor(j / l.C) % 9 === 0 ? 50 * v : v)));
      const split = ref.bitSplit(dy, Float64Array.from({ length: dy.length }, () => rng.uniform()));
      const state = roundF32([0, split.scaleHi, split.scaleLo, 0]);
      const scalars = h.upload([5], [0.5, 0.03, 50, 61, 32], 'scalars'); // s_X, s_W, kept_w, kept_x, Hadamard block
      const up = (a: ArrayLike<number>, name: string) => h.upload([a.length], a, name);
      const txh = up(xh, 'xh');
      const tdy = up(dy, 'dy');
      ds.push(
        ...rowNormHistogram(h.kernels, { label: 'hist', dy: tdy, rows: l.N, cols: l.C, ...o, norms: h.empty([l.N], 'norms'), out: metricsBuffer, outOffset: at('gradHistogram') }),
        ...columnAbsMax(h.kernels, { label: 'cx', x: up(x, 'x'), rows: l.N, cols: l.D, out: metricsBuffer, outOffset: at('colMaxX') }),
        ...columnAbsMax(h.kernels, { label: 'cxh', x: txh, rows: l.N, cols: l.D, out: metricsBuffer, outOffset: at('colMaxXH') }),
        outlierSummary(h.kernels, { label: 'ox', values: metricsBuffer, valuesOffset: at('colMaxX'), count: l.D, out: metricsBuffer, outOffset: at('outliersX') }),
        outlierSummary(h.kernels, { label: 'oxh', values: metricsBuffer, valuesOffset: at('colMaxXH'), count: l.D, out: metricsBuffer, outOffset: at('outliersXH') }),
        ...relativeError(h.kernels, { label: 'exh', a: txh, b: up(xq, 'xq'), n: xh.length, partials, out: metricsBuffer, outOffset: at('errorXH') }),
        ...relativeError(h.kernels, { label: 'ewh', a: up(wh, 'wh'), b: up(wq, 'wq'), n: wh.length, partials, out: metricsBuffer, outOffset: at('errorWH') }),
        ...relativeError(h.kernels, { label: 'edy', a: tdy, b: { hi: up(Float64Array.from(split.hi), 'hi'), lo: up(Float64Array.from(split.lo), 'lo'), splitState: up(state, 'state') }, n: dy.length, partials, out: metricsBuffer, outOffset: at('errorDY') }),
        copyScaled(h.kernels, { label: 'steps', src: scalars, count: 2, out: metricsBuffer, outOffset: at('stepX') }),
        copyScaled(h.kernels, { label: 'kept', src: scalars, srcOffset: 2, count: 2, scale: 1 / (2 * l.N), out: metricsBuffer, outOffset: at('keptW') }),
        copyScaled(h.kernels, { label: 'block', src: scalars, srcOffset: 4, count: 1, out: metricsBuffer, outOffset: at('hadamardBlock') }),
      );
      const cx = ref.columnAbsMax(x, l.N, l.D);
      const cxh = ref.columnAbsMax(xh, l.N, l.D);
      const hist = ref.rowNormHistogram(dy, l.N, l.C, o);
      expected.push(
        { at: at('gradHistogram'), values: hist.subarray(0, bins + 1), exact: true, what: 'counts' },
        { at: at('gradHistogram') + bins + 1, values: hist.subarray(bins + 1), exact: false, what: 'shares' },
        { at: at('colMaxX'), values: cx, exact: true, what: 'colMaxX' },
        { at: at('colMaxXH'), values: cxh, exact: true, what: 'colMaxXH' },
        { at: at('outliersX'), values: ref.outlierSummary(cx), exact: false, what: 'outliersX' },
        { at: at('outliersXH'), values: ref.outlierSummary(cxh), exact: false, what: 'outliersXH' },
        { at: at('errorXH'), values: [ref.relativeL2Error(xh, xq)], exact: false, what: 'errorXH' },
        { at: at('errorWH'), values: [ref.relativeL2Error(wh, wq)], exact: false, what: 'errorWH' },
        { at: at('errorDY'), values: [ref.relativeL2Error(dy, ref.bitSplitDequantize({ ...split, scaleHi: state[1], scaleLo: state[2] }))], exact: false, what: 'errorDY' },
        { at: at('stepX'), values: [0.5, Math.fround(0.03)], exact: false, what: 'steps' },
        { at: at('keptW'), values: [50 / (2 * l.N), 61 / (2 * l.N)], exact: false, what: 'kept' },
        { at: at('hadamardBlock'), values: [32], exact: true, what: 'block' },
      );
    }
    await h.run(await buildChecked(h.device, () => ds));
    // One copy of the whole buffer, as the trainer's staging readback.
    const all = Float64Array.from(new Float32Array(await readBytes(h.device, metricsBuffer.buffer, 0, total * 4)));
    const written = new Uint8Array(total);
    for (const e of expected) {
      const got = all.subarray(e.at, e.at + e.values.length);
      if (e.exact) expectExact(e.what, got, e.values);
      else expectRelative(e.what, got, e.values);
      written.fill(1, e.at, e.at + e.values.length);
    }
    expect(written.reduce((a, v) => a + v, 0), 'slots cover the two records').toBe(layouts[0].size + layouts[1].size);
    all.forEach((v, i) => !written[i] && expect(v, `metrics[${i}] outside every slot`).toBeNaN());
  });
});

describe('builders reject bad arguments', () => {
  it('bins, log range, sizes and shared buffers', () => {
    const k = h.kernels;
    const t = (n: number) => h.empty([n], 't');
    const [dy, norms, out] = [t(37 * 5), t(37), t(40)];
    const base = { label: 'h', dy, rows: 37, cols: 5, bins: 24, logMin: -8, logMax: 0, norms, out };
    expect(() => rowNormHistogram(k, base)).not.toThrow();
    expect(() => rowNormHistogram(k, { ...base, bins: 0 })).toThrow(/bins/);
    expect(() => rowNormHistogram(k, { ...base, bins: 257 })).toThrow(/bins/);
    expect(() => rowNormHistogram(k, { ...base, logMax: -8 })).toThrow(/logMin < logMax/);
    expect(() => rowNormHistogram(k, { ...base, outOffset: 13 })).toThrow(/out has 40 values, needs 41/);
    expect(() => rowNormHistogram(k, { ...base, norms: t(36) })).toThrow(/norms/);
    expect(() => rowNormHistogram(k, { ...base, norms: out })).toThrow(/shares a buffer/);
    expect(() => columnAbsMax(k, { label: 'c', x: out, rows: 2, cols: 3, out })).toThrow(/shares a buffer/);
    expect(() => columnAbsMax(k, { label: 'c', x: dy, rows: 37, cols: 5, out, outOffset: 36 })).toThrow(/out has 40 values, needs 41/);
    expect(() => outlierSummary(k, { label: 'o', values: out, valuesOffset: 0, count: 10, out, outOffset: 9 })).toThrow(/overlap/);
    expect(() => outlierSummary(k, { label: 'o', values: out, valuesOffset: 0, count: 10, out, outOffset: 10 })).not.toThrow();
    expect(() => relativeError(k, { label: 'e', a: dy, b: dy, n: 37 * 5, partials: t(1), out })).toThrow(/partials/);
    expect(() => relativeError(k, { label: 'e', a: out, b: dy, n: 3, partials: t(2), out })).toThrow(/shares a buffer/);
    expect(() => copyScaled(k, { label: 'c', src: dy, count: 2, out, outOffset: 39 })).toThrow(/needs 41/);
    expect(() => copyScaled(k, { label: 'c', src: dy, count: 1, scale: NaN, out })).toThrow(/scale/);
  });
});
