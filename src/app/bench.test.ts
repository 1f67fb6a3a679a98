import { describe, expect, it } from 'vitest';
import type { BenchRow } from '../bench/rows';
import {
  benchChartData,
  benchReducer,
  classifyError,
  failedSkips,
  formatRate,
  formatThroughput,
  INITIAL_BENCH_STATE,
  kernelLabel,
  normalizeSizes,
  plannedKernels,
  progressOf,
  seriesOf,
  speedups,
} from './bench';
import type { BenchKernel } from './bench-messages';

function row(name: string, size: string, path: string, value: number, checked = true): BenchRow {
  return {
    section: 'kernel',
    device: 'test adapter',
    name,
    size,
    path,
    metric: name.startsWith('intMatmul') ? 'TOP/s' : 'TFLOP/s',
    value,
    seconds: 1e-3,
    timing: 'timestamp',
    checked,
    check: checked ? '256 entries vs float64, max err 1e-7' : '256 entries vs float64, max err 3e-1',
  };
}

/** A run at 256 and 1024 on an adapter with dot4I8Packed and plain integer paths. */
const ROWS: BenchRow[] = [
  row('matmul f32 transB', '1024³', 'f32 tiles', 10),
  row('matmul f32 plain', '1024³', 'f32 tiles', 12),
  row('matmul f32 transA', '1024³', 'f32 tiles', 14),
  row('intMatmul int8', '1024³', 'dot4I8Packed', 50),
  row('intMatmul int8', '1024³', 'plain integer', 16),
  row('intMatmul int4', '1024³', 'dot4I8Packed', 60),
  row('intMatmul int4', '1024³', 'plain integer', 15),
  row('matmul f32 transB', '256³', 'f32 tiles', 2),
  row('matmul f32 plain', '256³', 'f32 tiles', 3),
  row('matmul f32 transA', '256³', 'f32 tiles', 4),
  row('intMatmul int8', '256³', 'dot4I8Packed', 8),
  row('intMatmul int8', '256³', 'plain integer', 5, false),
  row('intMatmul int4', '256³', 'dot4I8Packed', 9),
  row('intMatmul int4', '256³', 'plain integer', 6),
  // Not drawn: other kernels of the Node bench.
  { ...row('hadamard', '256×256', 'block 32', 100), metric: 'GB/s' },
  row('matmul f16 transB', '256³', 'f16 emulated in f32 tiles', 1),
];

describe('benchmark panel helpers', () => {
  it('plans the kernels runKernelBenches runs for groups f32 and int, skipping sizes over the binding limit', () => {
    const plan = plannedKernels([256, 2048], ['i8 subgroup matrices', 'dot4I8Packed', 'plain integer'], 8 * 2 ** 20);
    expect(plan.map((k) => `${k.name}|${k.path}`)).toEqual([
      'matmul f32 transB|f32 tiles',
      'matmul f32 plain|f32 tiles',
      'matmul f32 transA|f32 tiles',
      'intMatmul int8|i8 subgroup matrices',
      'intMatmul int8|dot4I8Packed',
      'intMatmul int8|plain integer',
      'intMatmul int4|i8 subgroup matrices',
      'intMatmul int4|dot4I8Packed',
      'intMatmul int4|plain integer',
    ]);
    // 2048² f32 = 16 MiB is over the 8 MiB limit: nothing at 2048.
    expect(new Set(plan.map((k) => k.size))).toEqual(new Set(['256³']));
    expect(plannedKernels([256, 512], ['plain integer'])).toHaveLength(10);
  });

  it('normalizes the chosen sizes: offered ones, ascending, once', () => {
    expect(normalizeSizes([2048, 256, 256, 300, 1024])).toEqual([256, 1024, 2048]);
    expect(normalizeSizes([])).toEqual([]);
  });

  it('names kernels and series by what they compute and the path they ran on', () => {
    expect(kernelLabel('matmul f32 transB')).toBe('FP32 forward Y = X·Wᵀ');
    expect(kernelLabel('matmul f32 transA')).toBe('FP32 ∇W = ∇Yᵀ·X');
    expect(kernelLabel('intMatmul int4')).toBe('INT4');
    expect(kernelLabel('hadamard')).toBe('hadamard');
    const s = seriesOf(row('intMatmul int8', '256³', 'i8 subgroup matrices', 1))!;
    expect(s.key).toBe('int8_sgmat');
    expect(s.label).toBe('INT8 · i8 subgroup matrices');
    expect(s.metric).toBe('TOP/s');
    expect(seriesOf(row('matmul f32 plain', '256³', 'f32 tiles', 1))!.label).toBe('FP32 ∇X = ∇Y·W (f32 tiles)');
    // An unknown path still gets a dataKey recharts reads as one key (no dots).
    expect(seriesOf(row('intMatmul int4', '256³', 'future v2.0 path', 1))!.key).toBe('int4_future_v2_0_path');
    expect(seriesOf(row('matmul f16 transB', '256³', 'f16 tiles', 1))).toBeNull();
  });

  it('groups checked rows by size into bars, FP32 layouts first, then INT8 and INT4 by path; a failed check is no bar', () => {
    const chart = benchChartData(ROWS);
    expect(chart.series.map((s) => s.key)).toEqual(['f32_transB', 'f32_plain', 'f32_transA', 'int8_dot4', 'int8_plain', 'int4_dot4', 'int4_plain']);
    expect(chart.data.map((d) => d.size)).toEqual(['256³', '1024³']);
    expect(chart.data[1]).toEqual({ size: '1024³', f32_transB: 10, f32_plain: 12, f32_transA: 14, int8_dot4: 50, int8_plain: 16, int4_dot4: 60, int4_plain: 15 });
    expect(chart.data[0].int8_plain).toBeUndefined();
    expect(chart.failed.map((r) => `${r.name} ${r.size} ${r.path}`)).toEqual(['intMatmul int8 256³ plain integer']);
    // Every series has its own colour.
    expect(new Set(chart.series.map((s) => s.color)).size).toBe(chart.series.length);
  });

  it('drops a series whose only row failed, and non-finite values', () => {
    const chart = benchChartData([row('matmul f32 transB', '256³', 'f32 tiles', 1), row('intMatmul int4', '256³', 'plain integer', 2, false), row('intMatmul int8', '256³', 'plain integer', NaN)]);
    expect(chart.series.map((s) => s.key)).toEqual(['f32_transB']);
    expect(chart.failed).toHaveLength(2);
    expect(benchChartData([])).toEqual({ series: [], data: [], failed: [] });
  });

  it('compares the fastest checked INT8 and INT4 with the FP32 forward layout per size', () => {
    const s = speedups(ROWS);
    expect(s).toEqual([
      { size: '256³', fp32: 2, int8: { value: 8, path: 'dot4I8Packed' }, int4: { value: 9, path: 'dot4I8Packed' } },
      { size: '1024³', fp32: 10, int8: { value: 50, path: 'dot4I8Packed' }, int4: { value: 60, path: 'dot4I8Packed' } },
    ]);
    expect(speedups([row('intMatmul int8', '256³', 'plain integer', 5)])).toEqual([]);
  });

  it('formats throughputs from a CPU driver to tensor cores', () => {
    expect(formatThroughput(231.6)).toBe('232');
    expect(formatThroughput(14.73)).toBe('14.7');
    expect(formatThroughput(1.234)).toBe('1.23');
    expect(formatThroughput(0.000123)).toBe('1.23e-4');
    expect(formatThroughput(0)).toBe('0');
    expect(formatRate(231.6, 'TOP/s')).toBe('232 TOP/s');
    expect(formatRate(1.5, 'TFLOP/s')).toBe('1.50 TFLOP/s');
    expect(formatRate(0.5, 'TFLOP/s')).toBe('500 GFLOP/s');
    expect(formatRate(3.57e-5, 'TFLOP/s')).toBe('35.7 MFLOP/s');
    expect(formatRate(1.49e-4, 'TOP/s')).toBe('149 MOP/s');
    expect(formatRate(2e-10, 'TOP/s')).toBe('0.200 kOP/s');
    expect(formatRate(120, 'GB/s')).toBe('120 GB/s');
  });

  it('classifies error messages, and tells failed kernels from paths the adapter lacks', () => {
    expect(classifyError('out of GPU memory: Failed to allocate')).toBe('out-of-memory');
    expect(classifyError('WebGPU is not available in this browser. Use …')).toBe('unavailable');
    expect(classifyError('WebGPU found no GPU adapter in this browser.')).toBe('unavailable');
    expect(classifyError('The device was lost')).toBe('device-lost');
    expect(classifyError('WebGPU validation error: bad binding')).toBe('failed');
    const skipped = [
      { section: 'kernel' as const, name: 'intMatmul subgroup-matrix', size: '256³', reason: 'no i8 16×16×32 subgroup matrices with subgroups of 32 (Dawn: allow_unsafe_apis; Chrome: "Unsafe WebGPU")' },
      { section: 'kernel' as const, name: 'intMatmul dot4', size: '256³', reason: 'WGSL packed_4x8_integer_dot_product is missing' },
      { section: 'kernel' as const, name: 'matmul f32 transB', size: '2048³', reason: 'out of GPU memory: allocation failed' },
    ];
    expect(failedSkips(skipped).map((s) => s.name)).toEqual(['matmul f32 transB']);
  });
});

describe('benchmark panel state', () => {
  const planned: BenchKernel[] = plannedKernels([256], ['plain integer']);

  it('follows a run from start to done, with progress', () => {
    let s = benchReducer(INITIAL_BENCH_STATE, { type: 'start', sizes: [1024, 256] });
    expect(s.phase).toBe('starting');
    expect(s.sizes).toEqual([256, 1024]);
    s = benchReducer(s, { type: 'adapter', description: 'SwiftShader', intPaths: ['plain integer'], timestamps: false, planned });
    expect(s.phase).toBe('running');
    expect(progressOf(s)).toEqual({ done: 0, total: 5 });
    s = benchReducer(s, { type: 'kernel', kernel: planned[0] });
    expect(progressOf(s)).toEqual({ done: 0, total: 5 });
    s = benchReducer(s, { type: 'row', row: ROWS[7] });
    s = benchReducer(s, { type: 'kernel', kernel: planned[1] });
    expect(progressOf(s)).toEqual({ done: 1, total: 5 });
    expect(s.current).toEqual(planned[1]);
    expect(s.rows).toHaveLength(1);
    s = benchReducer(s, { type: 'done', rows: ROWS.slice(7, 12), skipped: [], seconds: 3, warnings: [] });
    expect(s.phase).toBe('done');
    expect(s.rows).toHaveLength(5);
    expect(progressOf(s)).toEqual({ done: 5, total: 5 });
  });

  it('cancel stops a run, and a terminated worker\'s late messages change nothing', () => {
    let s = benchReducer(INITIAL_BENCH_STATE, { type: 'start', sizes: [256] });
    s = benchReducer(s, { type: 'adapter', description: 'x', intPaths: [], timestamps: true, planned });
    s = benchReducer(s, { type: 'kernel', kernel: planned[0] });
    s = benchReducer(s, { type: 'row', row: ROWS[7] });
    s = benchReducer(s, { type: 'kernel', kernel: planned[1] });
    s = benchReducer(s, { type: 'cancel' });
    expect(s.phase).toBe('cancelled');
    expect(progressOf(s)).toEqual({ done: 1, total: 5 });
    const late = benchReducer(s, { type: 'row', row: ROWS[8] });
    expect(late).toBe(s);
    expect(benchReducer(s, { type: 'done', rows: [], skipped: [], seconds: 1, warnings: [] })).toBe(s);
    expect(benchReducer(INITIAL_BENCH_STATE, { type: 'cancel' })).toBe(INITIAL_BENCH_STATE);
  });

  it('keeps an error and its kind', () => {
    let s = benchReducer(INITIAL_BENCH_STATE, { type: 'start', sizes: [256] });
    s = benchReducer(s, { type: 'error', kind: 'unavailable', message: 'WebGPU is not available in this browser.' });
    expect(s.phase).toBe('error');
    expect(s.error).toEqual({ kind: 'unavailable', message: 'WebGPU is not available in this browser.' });
    s = benchReducer(s, { type: 'start', sizes: [256] });
    expect(s.error).toBeNull();
    s = benchReducer(s, { type: 'worker-error', message: 'the benchmark worker failed: out of memory' });
    expect(s.error?.kind).toBe('out-of-memory');
  });
});
