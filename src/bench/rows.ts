// What every benchmark reports: one row per (what, size, path), with the check that was run before the
// timing and the device it ran on. The same rows go to the table on stdout and to --out JSON.
import type { GpuContext } from '../engine/gpu/device';
import type { TimingMethod } from '../engine/gpu/timing';

export type Section = 'kernel' | 'train' | 'peer';
export type Metric = 'TFLOP/s' | 'TOP/s' | 'GB/s' | 'tokens/s';

export interface BenchRow {
  section: Section;
  /** The adapter it ran on (vendor, architecture, device, driver description). */
  device: string;
  /** What ran, e.g. `matmul f32 transB`, `intMatmul int4`, `train int4`, `tfjs-webgpu fp32`. */
  name: string;
  /** `4096³` for a square kernel, `d256 L4 B32×T256` for a model. */
  size: string;
  /** The kernel path (f32 tiles, native f16, dot4I8Packed, plain i32, …) or the linear scheme's. */
  path: string;
  metric: Metric;
  /** Throughput in `metric` units: TFLOP/s (or TOP/s) = 2·M·N·K / seconds / 1e12, GB/s = bytes moved
   *  / seconds / 1e9, tokens/s = tokens per step · steps / seconds. */
  value: number;
  /** Median seconds of one kernel run or one training step. */
  seconds: number;
  timing: TimingMethod;
  /** Whether the result was checked against a CPU computation (or, for training, finite losses near
   *  ln(vocab) at the start) before the timing; `check` says what and how close. */
  checked: boolean;
  check: string;
  stepsPerSecond?: number;
  /** Bytes of GPU buffers the run allocated (the engine's GpuMemory); for TF.js, the peak bytes of its
   *  live tensors during a step (its pool of freed buffers not counted). */
  gpuMemoryBytes?: number;
  /** Free-form extras (parameter count, dispatches per pass, ratio to a peer). */
  extra?: Record<string, number | string>;
}

/** A benchmark that did not run, and why (no shader-f16, a buffer over the device's binding limit, …). */
export interface SkippedBench {
  section: Section;
  name: string;
  size: string;
  reason: string;
}

export interface BenchReport {
  /** The adapter in one line (describeGpu). */
  device: string;
  adapter: { vendor: string; architecture: string; device: string; description: string };
  capabilities: Record<string, unknown>;
  /** True for --quick: tiny sizes, proving the benches and their checks run; the numbers mean nothing. */
  quick: boolean;
  date: string;
  args: string[];
  rows: BenchRow[];
  skipped: SkippedBench[];
}

export function adapterName(ctx: GpuContext): string {
  const a = ctx.adapterInfo;
  return [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') || 'unknown adapter';
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v >= 1000) return Math.round(v).toLocaleString('en');
  if (v >= 10) return v.toFixed(1);
  if (v >= 0.01) return v.toFixed(3);
  return v.toExponential(2);
}

function formatSeconds(s: number): string {
  if (s >= 1) return `${s.toFixed(2)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(2)} ms`;
  return `${(s * 1e6).toFixed(1)} µs`;
}

/** A Markdown table (readable on a terminal, pasteable into docs/benchmarks.md). */
export function formatRows(rows: readonly BenchRow[]): string {
  const head = ['section', 'name', 'size', 'path', 'throughput', 'time', 'timing', 'checked', 'memory'];
  const body = rows.map((r) => [
    r.section,
    r.name,
    r.size,
    r.path,
    `${formatValue(r.value)} ${r.metric}${r.extra?.ratio !== undefined ? ` (${r.extra.ratio})` : ''}`,
    formatSeconds(r.seconds),
    r.timing,
    r.checked ? `yes (${r.check})` : `NO (${r.check})`,
    r.gpuMemoryBytes !== undefined ? `${(r.gpuMemoryBytes / 2 ** 20).toFixed(1)} MiB` : '',
  ]);
  // Cells quote formulas such as Σ|ab| and x/|s|: escape the pipes so the Markdown table holds.
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...body.map(line)].join('\n');
}

export function formatSkipped(skipped: readonly SkippedBench[]): string {
  return skipped.map((s) => `skipped: ${s.section} ${s.name} ${s.size}: ${s.reason}`).join('\n');
}
