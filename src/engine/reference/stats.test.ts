// The float64 definitions of the measurements (reference/stats.ts) on hand-checked examples: these are
// what the GPU kernels are held to, so they are checked here independently of any kernel.
import { describe, expect, it } from 'vitest';
import {
  STATS_UNBOUNDED,
  columnAbsMax,
  outlierSummary,
  relativeL2Error,
  rowL2Norms,
  rowNormBin,
  rowNormBinCentre,
  rowNormHistogram,
  rowNormHistogramFromNorms,
  topRowCount,
} from './stats';
import { SeededRandom } from './test-helpers';

describe('topRowCount: ⌈n·p/100⌉, at least one row', () => {
  it('on the boundaries, with no floating-point surprises', () => {
    const cases: [number, number, number][] = [
      [1, 1, 1], [1, 10, 1], [37, 1, 1], [37, 10, 4], [99, 1, 1], [100, 1, 1], [101, 1, 2],
      [100, 10, 10], [101, 10, 11], [300, 10, 30], [1000, 1, 10], [4097, 1, 41], [4097, 10, 410], [5, 100, 5],
    ];
    for (const [n, p, k] of cases) expect(topRowCount(n, p), `n ${n}, ${p}%`).toBe(k);
    // 100·0.07 = 7.000000000000001 in floating point: a naive ⌈n·p/100⌉ would say 8.
    expect(Math.ceil(100 * (7 / 100))).toBe(8);
    expect(topRowCount(100, 7)).toBe(7);
    expect(() => topRowCount(0, 1)).toThrow();
    expect(() => topRowCount(10, 0.5)).toThrow();
  });
});

describe('row-norm histogram', () => {
  const o = { bins: 4, logMin: -2, logMax: 2 }; // bins [1e-2, 1e-1), [1e-1, 1), [1, 10), [10, 1e2)

  it('bins: log10-spaced, below the range → bin 0, above → the last; centres fall in their bins', () => {
    expect([0.05, 0.5, 5, 50].map((v) => rowNormBin(v, o))).toEqual([0, 1, 2, 3]);
    expect([1e-9, 0.0099, 100, 1e9].map((v) => rowNormBin(v, o))).toEqual([0, 0, 3, 3]);
    expect([0.01, 0.1, 10].map((v) => rowNormBin(v, o))).toEqual([0, 1, 3]); // lower edges are inclusive
    for (let b = 0; b < 4; b++) expect(rowNormBin(rowNormBinCentre(b, o), o)).toBe(b);
    expect(rowNormBinCentre(2, o)).toBeCloseTo(Math.sqrt(10), 12);
  });

  it('a hand example: counts, zero rows, top-1% and top-10% shares of Σ‖row‖², total', () => {
    // 20 rows: top 1% = 1 row, top 10% = 2 rows.
    const norms = [3, 4, 0, 0, ...Array(16).fill(0.5)];
    const out = rowNormHistogramFromNorms(norms, o);
    const total = 9 + 16 + 16 * 0.25;
    expect(Array.from(out)).toEqual([0, 16, 2, 0, 2, 16 / total, 25 / total, total]);
    const byNorm = rowNormHistogramFromNorms(norms, { ...o, mass: 'norm' });
    expect(Array.from(byNorm.subarray(5))).toEqual([4 / 15, 7 / 15, 15]);
  });

  it('ties at the k-th row count once per row; an all-zero input gives zero shares; from ∇Y via row norms', () => {
    const out = rowNormHistogramFromNorms(Array(200).fill(2), o);
    expect(out[4 + 1]).toBeCloseTo(2 / 200, 15);
    expect(out[4 + 2]).toBeCloseTo(20 / 200, 15);
    expect(Array.from(rowNormHistogramFromNorms([0, 0, 0], o))).toEqual([0, 0, 0, 0, 3, 0, 0, 0]);
    const dy = Float64Array.from([3, 4, 0, 0, 0.3, -0.4]);
    expect(Array.from(rowL2Norms(dy, 3, 2))).toEqual([5, 0, 0.5]);
    expect(Array.from(rowNormHistogram(dy, 3, 2, o))).toEqual(Array.from(rowNormHistogramFromNorms([5, 0, 0.5], o)));
  });

  it('the shares equal a brute-force "sum of the k largest" on random norms', () => {
    const rng = new SeededRandom(3);
    const norms = Array.from({ length: 537 }, () => 10 ** (rng.uniform(-3, 1) * 1.5));
    const out = rowNormHistogramFromNorms(norms, o);
    const sq = norms.map((v) => v * v);
    const total = sq.reduce((a, b) => a + b, 0);
    const topK = (k: number) => {
      const left = [...sq];
      let s = 0;
      for (let j = 0; j < k; j++) {
        const i = left.indexOf(Math.max(...left));
        s += left[i];
        left[i] = -1;
      }
      return s;
    };
    expect(out[5]).toBeCloseTo(topK(6) / total, 12);
    expect(out[6]).toBeCloseTo(topK(54) / total, 12);
    expect(out.subarray(0, 5).reduce((a, b) => a + b, 0)).toBe(537);
  });

  it('rejects bad options and negative or NaN norms', () => {
    expect(() => rowNormHistogramFromNorms([1], { ...o, bins: 0 })).toThrow();
    expect(() => rowNormHistogramFromNorms([1], { ...o, bins: 257 })).toThrow();
    expect(() => rowNormHistogramFromNorms([1], { ...o, logMax: -2 })).toThrow();
    expect(() => rowNormHistogramFromNorms([-1], o)).toThrow();
    expect(() => rowNormHistogramFromNorms([NaN], o)).toThrow();
    expect(() => rowNormHistogramFromNorms([], o)).toThrow();
  });
});

describe('column maxima and the outlier summary (Fig. 1)', () => {
  it('columnAbsMax takes |x| per column', () => {
    expect(Array.from(columnAbsMax([1, -5, 0, -2, 3, 0], 2, 3))).toEqual([2, 5, 0]);
  });

  it('[max, median, max/median]: odd and even counts, order-independent, zero cases', () => {
    expect(Array.from(outlierSummary([1, 9, 3]))).toEqual([9, 3, 3]);
    expect(Array.from(outlierSummary([4, 1, 2, 8]))).toEqual([8, 3, 8 / 3]);
    expect(Array.from(outlierSummary([7]))).toEqual([7, 7, 1]);
    expect(Array.from(outlierSummary([0, 0]))).toEqual([0, 0, 0]);
    expect(Array.from(outlierSummary([0, 0, 5]))).toEqual([5, 0, STATS_UNBOUNDED]);
    expect(Math.fround(STATS_UNBOUNDED)).toBe(STATS_UNBOUNDED);
    expect(STATS_UNBOUNDED * (1 + 2 ** -23)).toBeGreaterThan(STATS_UNBOUNDED);
    expect(Math.fround(STATS_UNBOUNDED * (1 + 2 ** -23))).toBe(Infinity);
  });
});

describe('relativeL2Error', () => {
  it('‖a − b‖/‖a‖, with its zero cases', () => {
    expect(relativeL2Error([3, 4], [3, 4])).toBe(0);
    expect(relativeL2Error([3, 4], [0, 4])).toBeCloseTo(3 / 5, 15);
    expect(relativeL2Error([3, 4], [6, 8])).toBeCloseTo(1, 15);
    expect(relativeL2Error([0, 0], [0, 0])).toBe(0);
    expect(relativeL2Error([0, 0], [1, 0])).toBe(STATS_UNBOUNDED);
    expect(() => relativeL2Error([1], [1, 2])).toThrow();
  });
});
