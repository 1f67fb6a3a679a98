// The benchmark panel's pure parts: which kernels a run goes through, the panel's state as a reducer of
// the worker's messages, and the rows turned into grouped bar-chart data (one group per size, one bar per
// kernel and path, as in Fig. 4 of Xi et al. 2023). No DOM, no GPU: unit-tested in bench.test.ts.
import type { BenchRow, SkippedBench } from '../bench/rows';
import type { TimingOptions } from '../engine/gpu/timing';
import type { BenchErrorKind, BenchKernel, FromBenchWorker } from './bench-messages';

/** Square problem sizes n (n×n·n×n products) the panel offers, and the one preselected. */
export const BENCH_SIZES = [256, 512, 1024, 2048] as const;
export const DEFAULT_BENCH_SIZES: readonly number[] = [1024];

/** The page's timing: as `npm run bench` (2 warm-ups, passes of about 50 ms, at most 500 dispatches per
 *  pass) with 5 timed passes instead of 7, so one kernel takes about a third of a second on a GPU. */
export const BENCH_TIMING: TimingOptions = { warmups: 2, repeats: 5, targetPassSeconds: 0.05, maxPerPass: 500 };
/** Output entries of each product compared with the CPU before it is timed (the Node bench's default). */
export const BENCH_CHECK_SAMPLES = 256;
export const BENCH_SEED = 1;

const F32_LAYOUTS = ['transB', 'plain', 'transA'] as const;

/** The kernels a run goes through, in the order runKernelBenches runs them (groups f32 and int): per size
 *  the three f32 layouts, then INT8 and INT4 on every integer path. A size whose n×n f32 matrix is over
 *  the storage-binding limit runs nothing. */
export function plannedKernels(sizes: readonly number[], intPaths: readonly string[], maxStorageBinding = Infinity): BenchKernel[] {
  const out: BenchKernel[] = [];
  for (const n of sizes) {
    if (n * n * 4 > maxStorageBinding) continue;
    const size = `${n}³`;
    for (const layout of F32_LAYOUTS) out.push({ name: `matmul f32 ${layout}`, size, path: 'f32 tiles' });
    for (const format of ['int8', 'int4']) for (const path of intPaths) out.push({ name: `intMatmul ${format}`, size, path });
  }
  return out;
}

/** Sizes in ascending order without repeats, only those offered. */
export function normalizeSizes(sizes: readonly number[]): number[] {
  return [...new Set(sizes)].filter((n) => (BENCH_SIZES as readonly number[]).includes(n)).sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------------
// Kernel names as the page shows them

const F32_LABELS: Record<string, string> = {
  'matmul f32 transB': 'FP32 forward Y = X·Wᵀ',
  'matmul f32 plain': 'FP32 ∇X = ∇Y·W',
  'matmul f32 transA': 'FP32 ∇W = ∇Yᵀ·X',
};

/** `intMatmul int8` → INT8; the f32 layouts by the product of a linear layer they are. */
export function kernelLabel(name: string): string {
  if (F32_LABELS[name]) return F32_LABELS[name];
  const m = /^intMatmul (int\d+)$/.exec(name);
  return m ? m[1].toUpperCase() : name;
}

/** One bar series of the chart: a kernel on one path. `key` is safe as a recharts dataKey (no dots). */
export interface BenchSeries {
  key: string;
  label: string;
  kernel: string;
  path: string;
  color: string;
  /** FP32 (TFLOP/s) or integer codes (TOP/s). */
  metric: string;
}

/** Fastest first, as intMatmulPaths lists them; unknown paths after these. */
const INT_PATH_ORDER = ['i8 subgroup matrices', 'dot4I8Packed', 'plain integer'];
const INT_PATH_IDS: Record<string, string> = { 'i8 subgroup matrices': 'sgmat', dot4I8Packed: 'dot4', 'plain integer': 'plain' };
const COLORS: Record<string, string[]> = {
  f32: ['#1f4e8c', '#4f7fbf', '#93b4de'],
  int8: ['#14632b', '#2f9e4f', '#8fd19e'],
  int4: ['#9a2a0b', '#e0621b', '#f4b183'],
};

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

/** The chart series a row belongs to, or null for rows the chart does not draw (f16, Hadamard, LSQ). */
export function seriesOf(row: Pick<BenchRow, 'name' | 'path' | 'metric'>): BenchSeries | null {
  const f32 = F32_LAYOUTS.findIndex((l) => row.name === `matmul f32 ${l}`);
  if (f32 >= 0) {
    return { key: `f32_${F32_LAYOUTS[f32]}`, label: `${F32_LABELS[row.name]} (${row.path})`, kernel: row.name, path: row.path, color: COLORS.f32[f32], metric: row.metric };
  }
  const m = /^intMatmul (int8|int4)$/.exec(row.name);
  if (!m) return null;
  const format = m[1];
  const order = INT_PATH_ORDER.indexOf(row.path);
  const palette = COLORS[format];
  return {
    key: `${format}_${INT_PATH_IDS[row.path] ?? slug(row.path)}`,
    label: `${format.toUpperCase()} · ${row.path}`,
    kernel: row.name,
    path: row.path,
    color: palette[order >= 0 ? order : palette.length - 1],
    metric: row.metric,
  };
}

function seriesRank(s: BenchSeries): number {
  const group = s.key.startsWith('f32_') ? 0 : s.key.startsWith('int8_') ? 1 : 2;
  const within = group === 0 ? F32_LAYOUTS.indexOf(s.key.slice(4) as (typeof F32_LAYOUTS)[number]) : INT_PATH_ORDER.indexOf(s.path);
  return group * 100 + (within >= 0 ? within : 99);
}

/** `1024³` → 1024. */
export function sizeOf(size: string): number {
  return Number.parseInt(size, 10);
}

export interface BenchChartData {
  /** Series with at least one checked row, FP32 layouts first, then INT8 and INT4 by path. */
  series: BenchSeries[];
  /** One object per size (ascending): `size` and the throughput of each series' checked row. */
  data: Array<{ size: string } & Record<string, number | string>>;
  /** Rows the chart leaves out because their check failed (or their value is not a positive number). */
  failed: BenchRow[];
}

/** Grouped bars: x = size, a bar per series. A row whose correctness check failed is never drawn. */
export function benchChartData(rows: readonly BenchRow[]): BenchChartData {
  const series = new Map<string, BenchSeries>();
  const bySize = new Map<string, { size: string } & Record<string, number | string>>();
  const failed: BenchRow[] = [];
  for (const r of rows) {
    const s = seriesOf(r);
    if (!s) continue;
    if (!r.checked || !(Number.isFinite(r.value) && r.value > 0)) {
      failed.push(r);
      continue;
    }
    if (!series.has(s.key)) series.set(s.key, s);
    const point = bySize.get(r.size) ?? { size: r.size };
    point[s.key] = r.value;
    bySize.set(r.size, point);
  }
  return {
    series: [...series.values()].sort((a, b) => seriesRank(a) - seriesRank(b)),
    data: [...bySize.values()].sort((a, b) => sizeOf(a.size) - sizeOf(b.size)),
    failed,
  };
}

export interface BenchSpeedup {
  size: string;
  fp32: number;
  /** Fastest checked INT8 / INT4 row and its path, null if none passed. */
  int8: { value: number; path: string } | null;
  int4: { value: number; path: string } | null;
}

/** Per size: the fastest checked INT8 and INT4 kernels against the FP32 forward layout (the product they
 *  replace in a quantized linear layer's forward). Sizes without a checked FP32 forward row are left out. */
export function speedups(rows: readonly BenchRow[]): BenchSpeedup[] {
  const ok = rows.filter((r) => r.checked && Number.isFinite(r.value) && r.value > 0);
  const sizes = [...new Set(ok.map((r) => r.size))].sort((a, b) => sizeOf(a) - sizeOf(b));
  const out: BenchSpeedup[] = [];
  for (const size of sizes) {
    const fp32 = ok.find((r) => r.size === size && r.name === 'matmul f32 transB');
    if (!fp32) continue;
    const best = (name: string) => {
      const r = ok.filter((x) => x.size === size && x.name === name).sort((a, b) => b.value - a.value)[0];
      return r ? { value: r.value, path: r.path } : null;
    };
    out.push({ size, fp32: fp32.value, int8: best('intMatmul int8'), int4: best('intMatmul int4') });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Formatting

/** A throughput in its unit, readable from 10⁻⁴ (a CPU driver) to hundreds (tensor cores). */
export function formatThroughput(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01) return v.toPrecision(3);
  return v.toExponential(2);
}

const PREFIXES: Array<{ prefix: string; factor: number }> = [
  { prefix: 'T', factor: 1 },
  { prefix: 'G', factor: 1e3 },
  { prefix: 'M', factor: 1e6 },
  { prefix: 'k', factor: 1e9 },
];

/** The SI prefix to show a throughput in, given in tera units: T from 1, G from 10⁻³, M below (a CPU
 *  implementation of WebGPU runs at MFLOP/s). */
export function unitFor(valueInTera: number): { prefix: string; factor: number } {
  const a = Math.abs(valueInTera);
  return PREFIXES.find((p) => a * p.factor >= 1) ?? PREFIXES[PREFIXES.length - 1];
}

/** A throughput given in `metric` (TFLOP/s or TOP/s) with the prefix that fits: 14.7 TFLOP/s, 35.7 MFLOP/s. */
export function formatRate(valueInTera: number, metric: string): string {
  if (!/^T/.test(metric) || !Number.isFinite(valueInTera) || valueInTera === 0) return `${formatThroughput(valueInTera)} ${metric}`;
  const u = unitFor(valueInTera);
  return `${formatThroughput(valueInTera * u.factor)} ${u.prefix}${metric.slice(1)}`;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return String(s);
  if (s >= 1) return `${s.toFixed(2)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(2)} ms`;
  return `${(s * 1e6).toFixed(1)} µs`;
}

/** How a failed run is put to the user. */
export function errorTitle(kind: BenchErrorKind): string {
  switch (kind) {
    case 'unavailable':
      return 'WebGPU is not available';
    case 'out-of-memory':
      return 'Out of GPU memory';
    case 'device-lost':
      return 'The GPU device was lost';
    default:
      return 'The benchmark failed';
  }
}

/** The kind of an error message from the engine or the browser. */
export function classifyError(message: string): BenchErrorKind {
  if (/out of (GPU )?memory|out-of-memory|OutOfMemory|allocation failed/i.test(message)) return 'out-of-memory';
  if (/device (was |is )?lost|lost the device/i.test(message)) return 'device-lost';
  if (/WebGPU (is not available|found no GPU adapter)|no GPU adapter/i.test(message)) return 'unavailable';
  return 'failed';
}

/** Skips that are errors of a kernel that was tried (out of memory, validation), not an optional path
 *  this adapter lacks. */
export function failedSkips(skipped: readonly SkippedBench[]): SkippedBench[] {
  return skipped.filter((s) => !/does not offer|is missing|no i8 16×16×32 subgroup matrices/.test(s.reason));
}

// ---------------------------------------------------------------------------------------------------
// The panel's state

export type BenchPhase = 'idle' | 'starting' | 'running' | 'done' | 'cancelled' | 'error';

export interface BenchState {
  phase: BenchPhase;
  /** Sizes of the run in progress or last run. */
  sizes: number[];
  adapter: string | null;
  intPaths: string[];
  timestamps: boolean | null;
  planned: BenchKernel[];
  /** Kernels started so far (the current one included), those finished (checked and timed, or failed),
   *  and the one running. */
  started: number;
  finished: number;
  current: BenchKernel | null;
  rows: BenchRow[];
  skipped: SkippedBench[];
  seconds: number | null;
  warnings: string[];
  error: { kind: BenchErrorKind; message: string } | null;
}

export const INITIAL_BENCH_STATE: BenchState = {
  phase: 'idle',
  sizes: [],
  adapter: null,
  intPaths: [],
  timestamps: null,
  planned: [],
  started: 0,
  finished: 0,
  current: null,
  rows: [],
  skipped: [],
  seconds: null,
  warnings: [],
  error: null,
};

export type BenchAction = FromBenchWorker | { type: 'start'; sizes: number[] } | { type: 'cancel' } | { type: 'worker-error'; message: string };

export function isBusy(state: BenchState): boolean {
  return state.phase === 'starting' || state.phase === 'running';
}

/** The panel's state after an action: the page's start and cancel, and the worker's messages. Messages
 *  that arrive after a run ended (a terminated worker's last posts) change nothing. */
export function benchReducer(state: BenchState, action: BenchAction): BenchState {
  switch (action.type) {
    case 'start':
      return { ...INITIAL_BENCH_STATE, phase: 'starting', sizes: normalizeSizes(action.sizes) };
    case 'cancel':
      return isBusy(state) ? { ...state, phase: 'cancelled', current: null } : state;
    case 'worker-error':
      return isBusy(state) ? { ...state, phase: 'error', current: null, error: { kind: classifyError(action.message), message: action.message } } : state;
  }
  if (!isBusy(state)) return state;
  switch (action.type) {
    case 'adapter':
      return { ...state, phase: 'running', adapter: action.description, intPaths: action.intPaths, timestamps: action.timestamps, planned: action.planned };
    case 'kernel':
      // A kernel starts when the one before it has finished.
      return { ...state, finished: state.started, started: state.started + 1, current: action.kernel };
    case 'row':
      return { ...state, rows: [...state.rows, action.row] };
    case 'done':
      return { ...state, phase: 'done', current: null, finished: state.started, rows: action.rows, skipped: action.skipped, seconds: action.seconds, warnings: action.warnings };
    case 'error':
      return { ...state, phase: 'error', current: null, error: { kind: action.kind, message: action.message } };
  }
}

/** Kernels finished out of those planned (for the progress bar). */
export function progressOf(state: BenchState): { done: number; total: number } {
  const total = state.planned.length;
  return { done: Math.min(total, state.phase === 'done' ? total : state.finished), total };
}
