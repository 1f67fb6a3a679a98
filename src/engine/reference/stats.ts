// Float64 definitions of the measurements that ops/stats.ts computes on the GPU (the paper's Fig. 1 and
// Fig. 2, and quantization errors). The GPU kernels must agree with these: histogram counts exactly
// (for norms away from bin edges), everything else to f32 rounding.

/** Written where a ratio is unbounded (x/0, x > 0): the largest finite f32, as the shaders write it. */
export const STATS_UNBOUNDED = 3.4028234663852886e38;

/** Most bins of a row-norm histogram (the kernel counts them in workgroup memory). */
export const MAX_HISTOGRAM_BINS = 256;

/** The percentages whose top-row shares the row-norm histogram reports (out[bins + 1], out[bins + 2]). */
export const TOP_ROW_PERCENTS = [1, 10] as const;

/** The number of rows in "the top `percent`% of n rows": ⌈n·percent/100⌉, at least 1 (integer math). */
export function topRowCount(n: number, percent: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`topRowCount: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) throw new RangeError(`topRowCount: percent must be an integer in [1, 100], got ${percent}`);
  return Math.max(1, Math.floor((n * percent + 99) / 100));
}

/** What a row's share is measured in: 'squared' ‖row‖² (Σ = ‖∇Y‖_F²), or 'norm' ‖row‖ (the paper's Fig. 2b). */
export type RowMass = 'squared' | 'norm';

export interface RowNormHistogramOptions {
  bins: number;
  /** log10 of the lower edge of bin 0 and of the upper edge of the last bin. */
  logMin: number;
  logMax: number;
  /** Default 'squared'. */
  mass?: RowMass;
}

/** The histogram's length: bins counts, then [zero rows, top-1% share, top-10% share, total mass]. */
export function rowNormHistogramLength(bins: number): number {
  return bins + 4;
}

/**
 * The bin of a row norm v > 0: clamp(⌊(log10 v − logMin)·bins/(logMax − logMin)⌋, 0, bins − 1), so
 * norms below the range fall in bin 0 and above it in the last bin. (v = 0 has no bin: counted apart.)
 */
export function rowNormBin(v: number, o: RowNormHistogramOptions): number {
  const t = Math.floor(((Math.log10(v) - o.logMin) * o.bins) / (o.logMax - o.logMin));
  return Math.min(o.bins - 1, Math.max(0, t));
}

/** The centre of bin b on the log axis, as a norm: 10^(logMin + (b + ½)·width). */
export function rowNormBinCentre(b: number, o: RowNormHistogramOptions): number {
  return 10 ** (o.logMin + ((b + 0.5) * (o.logMax - o.logMin)) / o.bins);
}

/** Per-row L2 norms of a row-major [rows, cols] matrix. */
export function rowL2Norms(m: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (m.length !== rows * cols) throw new Error(`rowL2Norms: expected ${rows * cols} values, got ${m.length}`);
  const norms = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += m[r * cols + c] ** 2;
    norms[r] = Math.sqrt(s);
  }
  return norms;
}

function checkHistogramOptions(o: RowNormHistogramOptions): void {
  if (!Number.isInteger(o.bins) || o.bins < 1 || o.bins > MAX_HISTOGRAM_BINS) {
    throw new RangeError(`row-norm histogram: bins must be an integer in [1, ${MAX_HISTOGRAM_BINS}], got ${o.bins}`);
  }
  if (!Number.isFinite(o.logMin) || !Number.isFinite(o.logMax) || !(o.logMax > o.logMin)) {
    throw new RangeError(`row-norm histogram: need finite logMin < logMax, got [${o.logMin}, ${o.logMax}]`);
  }
}

/**
 * Fig. 2 from given row norms: out = [count of bin 0 … bins − 1, rows with norm exactly 0,
 * share of Σ mass carried by the top ⌈1%⌉ rows, by the top ⌈10%⌉ rows, Σ mass], mass(v) = v² or v.
 * The top-k share is (the k largest masses summed)/Σ mass, exact under ties; 0 when Σ mass = 0.
 */
export function rowNormHistogramFromNorms(norms: ArrayLike<number>, o: RowNormHistogramOptions): Float64Array {
  checkHistogramOptions(o);
  const n = norms.length;
  if (n < 1) throw new RangeError('row-norm histogram: no rows');
  const squared = (o.mass ?? 'squared') === 'squared';
  const mass = (v: number) => (squared ? v * v : v);
  const out = new Float64Array(rowNormHistogramLength(o.bins));
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = norms[i];
    if (!(v >= 0)) throw new RangeError(`row-norm histogram: norm ${i} is ${v}`);
    if (v === 0) out[o.bins]++;
    else out[rowNormBin(v, o)]++;
    total += mass(v);
  }
  const sorted = Float64Array.from(norms).sort().reverse();
  TOP_ROW_PERCENTS.forEach((percent, j) => {
    const k = topRowCount(n, percent);
    let top = 0;
    for (let i = 0; i < k; i++) top += mass(sorted[i]);
    out[o.bins + 1 + j] = total > 0 ? top / total : 0;
  });
  out[o.bins + 3] = total;
  return out;
}

/** Fig. 2 of ∇Y [rows, cols]: rowNormHistogramFromNorms of its row L2 norms. */
export function rowNormHistogram(dy: ArrayLike<number>, rows: number, cols: number, o: RowNormHistogramOptions): Float64Array {
  return rowNormHistogramFromNorms(rowL2Norms(dy, rows, cols), o);
}

/** Fig. 1: max |x[r, c]| over the rows r, for every column c of a row-major [rows, cols] matrix. */
export function columnAbsMax(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (x.length !== rows * cols) throw new Error(`columnAbsMax: expected ${rows * cols} values, got ${x.length}`);
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] = Math.max(out[c], Math.abs(x[r * cols + c]));
  return out;
}

/**
 * Fig. 1 summary of the column maxima: [max, median, max/median]. The median of an even count is the
 * mean of the two middle values; max/median is 0 when both are 0 and STATS_UNBOUNDED when only the
 * median is.
 */
export function outlierSummary(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  if (n < 1) throw new RangeError('outlierSummary: no values');
  const s = Float64Array.from(values).sort();
  const max = s[n - 1];
  const median = n % 2 === 1 ? s[(n - 1) / 2] : 0.5 * s[n / 2 - 1] + 0.5 * s[n / 2];
  const ratio = median !== 0 ? max / median : max === 0 ? 0 : STATS_UNBOUNDED;
  return Float64Array.from([max, median, ratio]);
}

/** ‖a − b‖₂/‖a‖₂; 0 when both norms are 0, STATS_UNBOUNDED when only ‖a‖ is. */
export function relativeL2Error(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relativeL2Error: ${a.length} vs ${b.length} values`);
  let d2 = 0;
  let a2 = 0;
  for (let i = 0; i < a.length; i++) {
    d2 += (a[i] - b[i]) ** 2;
    a2 += a[i] ** 2;
  }
  if (a2 > 0) return Math.sqrt(d2 / a2);
  return d2 === 0 ? 0 : STATS_UNBOUNDED;
}
