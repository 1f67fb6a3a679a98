// Kernel benchmarks: throughput of the engine's own dispatches on square problems, each checked against a
// CPU computation before it is timed.
//   matmul f32        Y = X·Wᵀ (transB, the forward), ∇X = ∇Y·W (plain), ∇W = ∇Yᵀ·X (transA)
//   matmul f16        the same with operands rounded to binary16: native f16 tiles (shader-f16) and
//                     emulated (f32 tiles holding the rounded values)
//   intMatmul         INT8 and INT4 code products with dequantization, on every integer path the adapter
//                     offers: i8 subgroup matrices (tensor cores), dot4I8Packed, plain i32
//   hadamard, lsq     the block Hadamard transform and LSQ quantization to packed INT4 codes: the two
//                     memory-bound steps HQ puts in front of every quantized forward product, apart and
//                     fused into one pass (the engine's path)
// Matmul throughput counts 2·n³ operations (TFLOP/s, TOP/s for integer codes); the memory-bound
// kernels count the bytes they must read and write (GB/s).
import type { GpuContext } from '../engine/gpu/device';
import { type Dispatch, Kernels } from '../engine/gpu/kernels';
import { GpuMemory, readBytes, readTensor, writeTensor } from '../engine/gpu/memory';
import { type F16Path, matmul } from '../engine/ops/matmul';
import { type MatmulTileConfig, describeTileConfig, tileConfigProblem, tiledMatmul } from '../engine/ops/matmul-tiled';
import { type CodeFormat, type IntMatmulPath, hadamardQuantize, hadamardTransform, intMatmul, intMatmulPathName, intMatmulPaths, lsqQuantize, packedWordsPerRow } from '../engine/ops/quant';
import { blockHadamard } from '../engine/reference/quant/hadamard';
import { roundToF16 } from '../engine/reference/quant/fp16';
import { Q_N, Q_P } from '../engine/reference/quant/constants';
import { DOT4_EXPERIMENTAL_TILINGS, DOT4_TILINGS, type Dot4Tiling, describeDot4Tiling, dot4TilingProblem } from '../engine/ops/intmatmul-dot4';
import { SGMAT_BASE_TILING, SGMAT_EXPERIMENTAL_TILINGS, SGMAT_TILINGS, type SubgroupMatrixTiling, describeSgmatTiling, sgmatWorkgroupBytes } from '../engine/ops/intmatmul-sgmat';
import { adapterName, type BenchRow, type SkippedBench } from './rows';
import { PassTimer, type TimingOptions } from '../engine/gpu/timing';

export interface KernelBenchOptions {
  sizes: number[];
  timing: TimingOptions;
  /** Output entries (matmuls) or rows (Hadamard, LSQ) compared with the CPU; 0 compares all of them. */
  checkSamples: number;
  /** The Hadamard block of the hadamard/lsq rows (the engine's default largest block is 32). */
  hadamardBlock: number;
  seed: number;
  log?: (line: string) => void;
  /** Which kernel groups run (default all): f32 matmuls, f16 matmuls, integer matmuls, and the Hadamard /
   *  LSQ quantizers. The playground's benchmark panel runs only f32 and int. */
  groups?: readonly KernelGroup[];
  /** Called as each kernel starts (before its buffers are built and its check runs), for progress. */
  onKernel?: (k: { name: string; size: string; path: string }) => void;
  /** Called with each row as soon as it is measured (the rows are also in the result). */
  onRow?: (row: BenchRow) => void;
  /** The subgroup-matrix integer path in every tiling of SGMAT_TILINGS, not only the engine's default. */
  intTilings?: boolean;
  /** Only these integer paths (default: every path the adapter offers). */
  intPaths?: readonly IntMatmulPath[];
  /** One row per path holding the fastest of its built-in kernel and the generated ones in PATH_KERNELS
   *  (each checked, then timed; the row's `extra.kernel` says which won): what the engine's start-up tuning
   *  would pick among them, rather than the simple built-in kernel (the f32 one runs at 40% of the
   *  generated 128×128 tiles on an H100, which made the integer paths look 2.4× faster than they are).
   *  The playground's panel asks for this; the CLI's rows stay one per kernel. */
  bestOfPath?: boolean;
}

/** The generated kernels bestOfPath times next to each path's built-in one: per path the best on an
 *  H100 / H200 at 4096³ and a smaller tile for the panel's smaller sizes (fewer output tiles than
 *  multiprocessors leave a large GPU idle). */
export const PATH_KERNELS = {
  f32: [
    { tileM: 128, tileN: 128, tileK: 8, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: true },
    { tileM: 64, tileN: 64, tileK: 8, threadM: 8, threadN: 4, vectorLoads: true, doubleBuffer: true },
  ] as readonly MatmulTileConfig[],
  // With 64-code slices (two 32-code planes) the fastest INT8 kernel on an H100 (335 vs 316 TOP/s, 2026-12-05).
  'subgroup-matrix': SGMAT_TILINGS.filter((t) => !t.doubleBuffer && t.sliceK <= 64 && t.subgroupsM * t.subgroupsN > 1 && t.subgroupsM * t.subgroupsN <= 4),
  dot4: DOT4_TILINGS.filter((t) => !t.doubleBuffer && t.threadM === 4 && t.sliceWords === 16 && t.tileM * t.tileN >= 2048),
} as const;

/** A kernel a row may be measured with: its description and how to build its dispatch. */
interface RowKernel {
  kernel: string;
  build: () => Dispatch;
}

/** Whether a measured kernel replaces the best so far: one that passed its check beats one that failed,
 *  then the faster wins (a tie keeps the earlier, the built-in kernel first). */
export function beats(x: { ok: boolean; seconds: number }, best: { ok: boolean; seconds: number }): boolean {
  if (x.ok !== best.ok) return x.ok;
  return x.seconds < best.seconds;
}

/** Checks and times each kernel; the fastest that passed its check (else the first, failed or not) and how
 *  many were timed. `reset` runs before each kernel so a stale result cannot pass the next one's check. */
interface Measured {
  kernel: string;
  check: CheckResult;
  time: Awaited<ReturnType<PassTimer['time']>>;
}

async function fastestOf(
  device: GPUDevice,
  kernels: readonly RowKernel[],
  reset: () => void,
  check: () => Promise<CheckResult>,
  timer: PassTimer,
  timing: TimingOptions,
): Promise<Measured & { timed: number }> {
  let best: Measured | null = null;
  let firstError: unknown = null;
  let timed = 0;
  for (const kn of kernels) {
    try {
      const work = await buildChecked(device, () => [kn.build()]);
      reset();
      await runOnce(device, work);
      const checked = await check();
      const time = await timer.time(work, timing);
      timed++;
      if (!best || beats({ ok: checked.ok, seconds: time.seconds }, { ok: best.check.ok, seconds: best.time.seconds })) best = { kernel: kn.kernel, check: checked, time };
    } catch (e) {
      // A generated kernel this device cannot build is skipped; the built-in one's failure is the row's.
      if (kn === kernels[0]) firstError = e;
    }
  }
  if (!best) throw firstError ?? new Error('no kernel could be built');
  return { ...best, timed };
}

export const KERNEL_GROUPS = ['f32', 'f16', 'int', 'quantizers'] as const;
export type KernelGroup = (typeof KERNEL_GROUPS)[number];

function runsGroup(o: KernelBenchOptions, g: KernelGroup): boolean {
  return !o.groups || o.groups.includes(g);
}

function addRow(out: BenchResults, o: KernelBenchOptions, row: BenchRow): void {
  out.rows.push(row);
  o.onRow?.(row);
}

export interface BenchResults {
  rows: BenchRow[];
  skipped: SkippedBench[];
}

/** Each timed pass's microseconds per repetition, in the order they ran: kept in the row so a result file
 *  shows whether a kernel ran at one speed throughout (docs/benchmarks.md compares processes with it). */
export function passMicroseconds(samples: readonly number[]): string {
  return samples.map((x) => (x * 1e6).toPrecision(4)).join(' ');
}

/** Cheap uniform random numbers for large operands (xorshift32); not the engine's Rng, which is built for
 *  reproducible training streams and is slower per value. */
export class FastRandom {
  private s: number;
  constructor(seed: number) {
    this.s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  }
  nextU32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** Uniform in [−1, 1). */
  nextSigned(): number {
    return this.nextU32() / 2 ** 31 - 1;
  }
  fillSigned(a: Float32Array): Float32Array {
    for (let i = 0; i < a.length; i++) a[i] = this.nextSigned();
    return a;
  }
  fillWords(a: Uint32Array): Uint32Array {
    for (let i = 0; i < a.length; i++) a[i] = this.nextU32();
    return a;
  }
}

/** The entries to compare: all of them, or `samples` spread over the matrix (the corners included,
 *  where edge handling goes wrong). */
function sampleIndices(rows: number, cols: number, samples: number, rng: FastRandom): [number, number][] {
  if (samples <= 0 || samples >= rows * cols) {
    const all: [number, number][] = [];
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) all.push([i, j]);
    return all;
  }
  const out: [number, number][] = [[0, 0], [0, cols - 1], [rows - 1, 0], [rows - 1, cols - 1]];
  while (out.length < samples) out.push([rng.nextU32() % rows, rng.nextU32() % cols]);
  return out;
}

function sampleRows(rows: number, samples: number, rng: FastRandom): number[] {
  if (samples <= 0 || samples >= rows) return Array.from({ length: rows }, (_, i) => i);
  const out = [0, rows - 1];
  while (out.length < samples) out.push(rng.nextU32() % rows);
  return out;
}

interface CheckResult {
  ok: boolean;
  text: string;
}

/** Builds dispatches with WebGPU validation and out-of-memory errors turned into exceptions. */
export async function buildChecked<T>(device: GPUDevice, build: () => T): Promise<T> {
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  let out: T;
  try {
    out = build();
  } finally {
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    if (oom) throw new Error(`out of GPU memory: ${oom.message.split('\n')[0]}`);
    if (invalid) throw new Error(`WebGPU validation error: ${invalid.message.split('\n')[0]}`);
  }
  return out;
}

/** Runs dispatches once (for the check), failing on a validation error. */
export async function runOnce(device: GPUDevice, work: readonly Dispatch[]): Promise<void> {
  device.pushErrorScope('validation');
  const encoder = device.createCommandEncoder({ label: 'bench.check' });
  const pass = encoder.beginComputePass();
  for (const d of work) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
  pass.end();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  const error = await device.popErrorScope();
  if (error) throw new Error(`WebGPU validation error: ${error.message.split('\n')[0]}`);
}


// ---------------------------------------------------------------------------------------------------
// f32 / f16 matmul

type Layout = 'plain' | 'transA' | 'transB';
const LAYOUTS: { layout: Layout; use: string }[] = [
  { layout: 'transB', use: 'forward Y = X·Wᵀ' },
  { layout: 'plain', use: 'backward ∇X = ∇Y·W' },
  { layout: 'transA', use: 'backward ∇W = ∇Yᵀ·X' },
];

/**
 * Compares sampled entries of C = op(A)·op(B) with float64 sums over the same (f32, or f16-rounded)
 * operands. Bound: |gpu − ref| ≤ 1e-4·Σ_k |a_k·b_k|. f32 accumulation of K products has an error of
 * about 2^-24·K/√2 times their scale, hundreds of times below this for K ≤ 8192; a wrong or missing tile
 * of 32 products is far above it.
 */
function checkMatmul(a: Float32Array, b: Float32Array, c: Float32Array, n: number, layout: Layout, f16: boolean, samples: number, rng: FastRandom): CheckResult {
  const round = f16 ? roundToF16 : (v: number) => v;
  let worst = 0;
  const entries = sampleIndices(n, n, samples, rng);
  for (const [i, j] of entries) {
    let sum = 0;
    let absSum = 0;
    for (let k = 0; k < n; k++) {
      const av = round(layout === 'transA' ? a[k * n + i] : a[i * n + k]);
      const bv = round(layout === 'transB' ? b[j * n + k] : b[k * n + j]);
      sum += av * bv;
      absSum += Math.abs(av * bv);
    }
    const err = Math.abs(c[i * n + j] - sum) / Math.max(absSum, 1e-30);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  const ok = worst <= 1e-4;
  return { ok, text: `${entries.length} entries vs float64, max err ${worst.toExponential(1)}·Σ|ab| ≤ 1e-4` };
}

async function benchMatmuls(ctx: GpuContext, n: number, o: KernelBenchOptions, timer: PassTimer, out: BenchResults): Promise<void> {
  const device = ctx.device;
  const f16Paths: F16Path[] = !runsGroup(o, 'f16') ? [] : ctx.capabilities.shaderF16 ? ['native', 'emulated'] : ['emulated'];
  if (!ctx.capabilities.shaderF16 && runsGroup(o, 'f16')) {
    out.skipped.push({ section: 'kernel', name: 'matmul f16 native', size: `${n}³`, reason: 'the adapter does not offer shader-f16' });
  }
  const bytes = n * n * 4;
  if (bytes > ctx.limits.maxStorageBufferBindingSize) {
    out.skipped.push({ section: 'kernel', name: 'matmul f32/f16', size: `${n}³`, reason: `a ${n}×${n} f32 matrix (${bytes / 2 ** 20} MiB) is over this device's storage binding limit (${ctx.limits.maxStorageBufferBindingSize / 2 ** 20} MiB)` });
    return;
  }
  const memory = new GpuMemory(device);
  try {
    const k = new Kernels(device, memory, ctx.capabilities);
    const rng = new FastRandom(o.seed + n);
    const aHost = rng.fillSigned(new Float32Array(n * n));
    const bHost = rng.fillSigned(new Float32Array(n * n));
    const [a, b, c] = await buildChecked(device, () => [memory.tensor([n, n], 'A'), memory.tensor([n, n], 'B'), memory.tensor([n, n], 'C')]);
    writeTensor(device, a, aHost);
    writeTensor(device, b, bHost);
    const variants: { name: string; path: string; f16?: F16Path }[] = runsGroup(o, 'f32') ? [{ name: 'matmul f32', path: 'f32 tiles' }] : [];
    for (const p of f16Paths) variants.push({ name: 'matmul f16', path: p === 'native' ? 'f16 tiles (shader-f16)' : 'f16 emulated in f32 tiles', f16: p });
    for (const v of variants) {
      for (const { layout, use } of LAYOUTS) {
        const name = `${v.name} ${layout}`;
        o.onKernel?.({ name, size: `${n}³`, path: v.path });
        try {
          const spec = { label: name, a, b, c, M: n, N: n, K: n, transA: layout === 'transA', transB: layout === 'transB', f16: v.f16 };
          const tiles = o.bestOfPath && !v.f16 ? PATH_KERNELS.f32.filter((tc) => tileConfigProblem(tc, device.limits) === null) : [];
          const kernels: RowKernel[] = [
            { kernel: 'built-in kernel', build: () => matmul(k, spec) },
            ...tiles.map((tc) => ({ kernel: describeTileConfig(tc), build: () => tiledMatmul(k, spec, tc) })),
          ];
          const r = await fastestOf(device, kernels, () => writeTensor(device, c, new Float32Array(n * n).fill(NaN)), async () =>
            checkMatmul(aHost, bHost, await readTensor(device, c), n, layout, v.f16 !== undefined, o.checkSamples, rng), timer, o.timing);
          const [check, t] = [r.check, r.time];
          addRow(out, o, {
            section: 'kernel', device: adapterName(ctx), name, size: `${n}³`, path: v.path, metric: 'TFLOP/s', value: (2 * n ** 3) / t.seconds / 1e12,
            seconds: t.seconds, timing: t.method, checked: check.ok, check: check.text,
            extra: { use, dispatchesPerPass: t.perPass, passMicroseconds: passMicroseconds(t.samples), ...(o.bestOfPath ? { kernel: r.kernel, kernelsTimed: r.timed } : {}) },
          });
          o.log?.(`kernel ${name} ${n}³: ${((2 * n ** 3) / t.seconds / 1e12).toPrecision(3)} TFLOP/s (${check.ok ? 'checked' : 'CHECK FAILED'})`);
        } catch (e) {
          out.skipped.push({ section: 'kernel', name, size: `${n}³`, reason: (e as Error).message });
        }
      }
    }
  } finally {
    memory.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------
// intMatmul

/** Two's-complement code j of a packed row (independent of the kernels' own unpacking). */
function codeAt(words: Uint32Array, rowStart: number, j: number, format: CodeFormat): number {
  const bits = format === 'int4' ? 4 : 8;
  const perWord = 32 / bits;
  const field = (words[rowStart + Math.floor(j / perWord)] >>> (bits * (j % perWord))) & ((1 << bits) - 1);
  return field >= 1 << (bits - 1) ? field - (1 << bits) : field;
}

/** Integer sums are exact on the GPU; only the final f32 scaling rounds: a 1e-6 relative bound. */
function checkIntMatmul(aw: Uint32Array, bw: Uint32Array, c: Float32Array, n: number, format: CodeFormat, scale: number, samples: number, rng: FastRandom): CheckResult {
  const words = packedWordsPerRow(n, format);
  let worst = 0;
  const entries = sampleIndices(n, n, samples, rng);
  for (const [i, j] of entries) {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += codeAt(aw, i * words, k, format) * codeAt(bw, j * words, k, format);
    const ref = scale * sum;
    const err = Math.abs(c[i * n + j] - ref) / Math.max(Math.abs(ref), scale);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return { ok: worst <= 1e-6, text: `${entries.length} entries vs exact integer sums, max rel err ${worst.toExponential(1)} ≤ 1e-6` };
}

async function benchIntMatmuls(ctx: GpuContext, n: number, o: KernelBenchOptions, timer: PassTimer, out: BenchResults): Promise<void> {
  const device = ctx.device;
  const asked = (path: IntMatmulPath) => !o.intPaths || o.intPaths.includes(path);
  const paths = intMatmulPaths(ctx.capabilities).filter(asked);
  // A path is reported as skipped only where it was asked for and the adapter lacks it.
  if (asked('subgroup-matrix') && !ctx.capabilities.subgroupMatrixI8) {
    out.skipped.push({ section: 'kernel', name: 'intMatmul subgroup-matrix', size: `${n}³`, reason: 'no i8 16×16×32 subgroup matrices with subgroups of 32 (Dawn: allow_unsafe_apis; Chrome: "Unsafe WebGPU")' });
  }
  if (asked('dot4') && !ctx.capabilities.packed4x8IntegerDotProduct) {
    out.skipped.push({ section: 'kernel', name: 'intMatmul dot4', size: `${n}³`, reason: 'WGSL packed_4x8_integer_dot_product is missing' });
  }
  if (n * n * 4 > ctx.limits.maxStorageBufferBindingSize) {
    out.skipped.push({ section: 'kernel', name: 'intMatmul', size: `${n}³`, reason: `the ${n}×${n} f32 output is over this device's storage binding limit` });
    return;
  }
  const stepA = 0.0123;
  const stepB = 0.0456;
  for (const format of ['int8', 'int4'] as CodeFormat[]) {
    const memory = new GpuMemory(device);
    try {
      const k = new Kernels(device, memory, ctx.capabilities);
      const rng = new FastRandom(o.seed + n + (format === 'int4' ? 7 : 3));
      const words = packedWordsPerRow(n, format);
      // Any u32 is a valid row of codes: 4 int8 lanes or 8 int4 nibbles, the full code ranges.
      const aw = rng.fillWords(new Uint32Array(n * words));
      const bw = rng.fillWords(new Uint32Array(n * words));
      const t = await buildChecked(device, () => ({
        a: memory.tensor([n, words], 'A codes'),
        b: memory.tensor([n, words], 'B codes'),
        sa: memory.tensor([1], 'step A'),
        sb: memory.tensor([1], 'step B'),
        c: memory.tensor([n, n], 'C'),
      }));
      writeTensor(device, t.a, aw);
      writeTensor(device, t.b, bw);
      writeTensor(device, t.sa, new Float32Array([stepA]));
      writeTensor(device, t.sb, new Float32Array([-stepB])); // |s| is used: a negative step must not flip C
      const scale = Math.fround(Math.fround(stepA) * Math.fround(stepB));
      // The subgroup-matrix path once per tiling (multi-subgroup variants: ops/intmatmul-sgmat.ts) that
      // fits this device's workgroup memory, unless only the engine's default is asked for.
      // The dot4 path likewise in its generated tilings (ops/intmatmul-dot4.ts) besides the built-in kernel.
      const variants = paths.flatMap((path): { path: IntMatmulPath; tiling?: SubgroupMatrixTiling; dot4Tiling?: Dot4Tiling }[] => {
        if (path === 'subgroup-matrix') {
          return (o.intTilings ? [...SGMAT_TILINGS, ...SGMAT_EXPERIMENTAL_TILINGS] : [SGMAT_BASE_TILING]).filter((tl) => sgmatWorkgroupBytes(tl) <= device.limits.maxComputeWorkgroupStorageSize).map((tiling) => ({ path, tiling }));
        }
        const tiled = path === 'dot4' && o.intTilings ? [...DOT4_TILINGS, ...DOT4_EXPERIMENTAL_TILINGS].filter((tl) => dot4TilingProblem(tl, device.limits) === null) : [];
        return [{ path }, ...tiled.map((dot4Tiling) => ({ path, dot4Tiling }))];
      });
      for (const { path, tiling, dot4Tiling } of variants) {
        const name = `intMatmul ${format}`;
        const pathName = dot4Tiling ? `${intMatmulPathName(path)}, ${describeDot4Tiling(dot4Tiling)}`
          : tiling && (tiling !== SGMAT_BASE_TILING || o.intTilings) ? `${intMatmulPathName(path)}, ${describeSgmatTiling(tiling)}` : intMatmulPathName(path);
        o.onKernel?.({ name, size: `${n}³`, path: pathName });
        try {
          const spec = { label: name, a: t.a, b: t.b, stepA: t.sa, stepB: t.sb, c: t.c, M: n, N: n, K: n, format, path, tiling, dot4Tiling };
          const fits = (u: SubgroupMatrixTiling) => sgmatWorkgroupBytes(u) <= device.limits.maxComputeWorkgroupStorageSize;
          const kernels: RowKernel[] = [{ kernel: 'built-in kernel', build: () => intMatmul(k, spec) }];
          if (o.bestOfPath && path === 'subgroup-matrix') {
            for (const u of PATH_KERNELS['subgroup-matrix'].filter(fits)) kernels.push({ kernel: describeSgmatTiling(u), build: () => intMatmul(k, { ...spec, tiling: u }) });
          }
          if (o.bestOfPath && path === 'dot4') {
            for (const u of PATH_KERNELS.dot4.filter((x) => dot4TilingProblem(x, device.limits) === null)) {
              kernels.push({ kernel: describeDot4Tiling(u), build: () => intMatmul(k, { ...spec, dot4Tiling: u }) });
            }
          }
          // Stale results of the previous variant must not pass this one's check.
          const r = await fastestOf(device, kernels, () => writeTensor(device, t.c, new Float32Array(n * n).fill(NaN)), async () =>
            checkIntMatmul(aw, bw, await readTensor(device, t.c), n, format, scale, o.checkSamples, rng), timer, o.timing);
          const [check, time] = [r.check, r.time];
          const value = (2 * n ** 3) / time.seconds / 1e12;
          addRow(out, o, {
            section: 'kernel', device: adapterName(ctx), name, size: `${n}³`, path: pathName, metric: 'TOP/s', value,
            seconds: time.seconds, timing: time.method, checked: check.ok, check: check.text,
            extra: { dispatchesPerPass: time.perPass, passMicroseconds: passMicroseconds(time.samples), ...(o.bestOfPath ? { kernel: r.kernel, kernelsTimed: r.timed } : {}) },
          });
          o.log?.(`kernel ${name} ${pathName} ${n}³: ${value.toPrecision(3)} TOP/s (${check.ok ? 'checked' : 'CHECK FAILED'})`);
        } catch (e) {
          out.skipped.push({ section: 'kernel', name: `${name} ${pathName}`, size: `${n}³`, reason: (e as Error).message });
        }
      }
    } finally {
      memory.destroy();
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Hadamard transform and LSQ quantization

function checkHadamard(x: Float32Array, y: Float32Array, n: number, block: number, rows: number[]): CheckResult {
  let worst = 0;
  for (const r of rows) {
    const ref = blockHadamard(Float64Array.from(x.subarray(r * n, (r + 1) * n)), 1, n, block);
    let scale = 1;
    for (const v of ref) scale = Math.max(scale, Math.abs(v));
    for (let j = 0; j < n; j++) {
      const err = Math.abs(y[r * n + j] - ref[j]) / scale;
      if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
    }
  }
  return { ok: worst <= 1e-5, text: `${rows.length} rows vs float64, max rel err ${worst.toExponential(1)} ≤ 1e-5` };
}

/** Codes must equal clamp(round-half-away(x/|s|)); where x/|s| lies within 1e-5 of a rounding tie the f32
 *  division may land on either side, so those entries are not counted. */
function checkLsq(x: Float32Array, step: number, codes: Uint32Array, n: number, rows: number[]): CheckResult {
  const words = packedWordsPerRow(n, 'int4');
  let mismatches = 0;
  let ties = 0;
  for (const r of rows) {
    for (let j = 0; j < n; j++) {
      const v = x[r * n + j] / Math.abs(step);
      const frac = Math.abs(v) - Math.floor(Math.abs(v));
      if (Math.abs(frac - 0.5) < 1e-5) {
        ties++;
        continue;
      }
      const expected = Math.min(Q_P, Math.max(-Q_N, Math.sign(v) * Math.round(Math.abs(v))));
      if (codeAt(codes, r * words, j, 'int4') !== expected) mismatches++;
    }
  }
  return { ok: mismatches === 0, text: `${rows.length} rows of codes vs clamp(round(x/s)): ${mismatches} mismatches (${ties} near-ties not counted)` };
}

async function benchQuantizers(ctx: GpuContext, n: number, o: KernelBenchOptions, timer: PassTimer, out: BenchResults): Promise<void> {
  const device = ctx.device;
  const block = o.hadamardBlock;
  if (n % block !== 0) {
    out.skipped.push({ section: 'kernel', name: 'hadamard', size: `${n}×${n}`, reason: `block ${block} does not divide ${n}` });
    return;
  }
  if (n * n * 4 > ctx.limits.maxStorageBufferBindingSize) {
    out.skipped.push({ section: 'kernel', name: 'hadamard, lsq', size: `${n}×${n}`, reason: `a ${n}×${n} f32 matrix is over this device's storage binding limit` });
    return;
  }
  const memory = new GpuMemory(device);
  try {
    const k = new Kernels(device, memory, ctx.capabilities);
    const rng = new FastRandom(o.seed + 3 * n);
    const xHost = rng.fillSigned(new Float32Array(n * n));
    // A step that puts the codes across the whole INT4 range for uniform [−1, 1) inputs.
    const step = 1 / 7.5;
    const t = await buildChecked(device, () => ({
      x: memory.tensor([n, n], 'x'),
      xh: memory.tensor([n, n], 'xh'),
      v: memory.tensor([n, n], 'v'),
      step: memory.tensor([1], 'step'),
      codes: memory.tensor([n, packedWordsPerRow(n, 'int4')], 'codes'),
    }));
    writeTensor(device, t.x, xHost);
    writeTensor(device, t.step, new Float32Array([step]));
    const rows = sampleRows(n, o.checkSamples > 0 ? Math.max(4, Math.ceil(o.checkSamples / 16)) : 0, rng);
    const had = hadamardTransform(k, 'hadamard', t.x, t.xh, n, n, block);
    const quant = lsqQuantize(k, { label: 'lsq quantize int4', x: t.x, step: t.step, v: t.v, codes: t.codes, rows: n, K: n, format: 'int4' });
    const hq = [hadamardTransform(k, 'hq.hadamard', t.x, t.xh, n, n, block), lsqQuantize(k, { label: 'hq.lsq', x: t.xh, step: t.step, v: t.v, codes: t.codes, rows: n, K: n, format: 'int4' })];
    // HQ's quantizer as the engine runs it: one dispatch, X·H kept in workgroup memory (ops/quant.ts).
    const fused = hadamardQuantize(k, { label: 'hq.fused', source: t.x, block, transformed: t.xh, step: t.step, v: t.v, codes: t.codes, rows: n, K: n, format: 'int4' });
    const f32Bytes = n * n * 4;
    const codeBytes = n * packedWordsPerRow(n, 'int4') * 4;
    const cases: { name: string; path: string; work: Dispatch[]; bytes: number; check: () => Promise<CheckResult> }[] = [
      {
        name: 'hadamard', path: `block ${block}, fast WHT in workgroup memory`, work: [had], bytes: 2 * f32Bytes,
        check: async () => checkHadamard(xHost, await readTensor(device, t.xh), n, block, rows),
      },
      {
        name: 'lsq quantize int4', path: 'v = x/|s| (f32) + packed codes', work: [quant], bytes: 2 * f32Bytes + codeBytes,
        check: async () => checkLsq(xHost, step, new Uint32Array(await readBytes(device, t.codes.buffer, 0, t.codes.byteLength)), n, rows),
      },
      {
        name: 'hq quantize int4', path: `hadamard (block ${block}) then lsq`, work: hq, bytes: 4 * f32Bytes + codeBytes,
        check: async () => {
          const xh = await readTensor(device, t.xh);
          const h = checkHadamard(xHost, xh, n, block, rows);
          const q = checkLsq(xh, step, new Uint32Array(await readBytes(device, t.codes.buffer, 0, t.codes.byteLength)), n, rows);
          return { ok: h.ok && q.ok, text: `${h.text}; ${q.text}` };
        },
      },
      {
        name: 'hq quantize int4 (fused)', path: `${fused.length === 1 ? 'one pass' : 'two passes'}: hadamard (block ${block}) in workgroup memory, then v and codes`, work: fused, bytes: 2 * f32Bytes + codeBytes,
        check: async () => {
          // The sampled rows' X·H from float64 (the fused pass never writes it out).
          const xh = new Float32Array(n * n);
          for (const r of rows) xh.set(blockHadamard(Float64Array.from(xHost.subarray(r * n, (r + 1) * n)), 1, n, block), r * n);
          return checkLsq(xh, step, new Uint32Array(await readBytes(device, t.codes.buffer, 0, t.codes.byteLength)), n, rows);
        },
      },
    ];
    for (const c of cases) {
      o.onKernel?.({ name: c.name, size: `${n}×${n}`, path: c.path });
      try {
        await runOnce(device, c.work);
        const check = await c.check();
        const time = await timer.time(c.work, o.timing);
        const value = c.bytes / time.seconds / 1e9;
        addRow(out, o, {
          section: 'kernel', device: adapterName(ctx), name: c.name, size: `${n}×${n}`, path: c.path, metric: 'GB/s', value,
          seconds: time.seconds, timing: time.method, checked: check.ok, check: check.text,
          extra: { elementsPerSecond: (n * n) / time.seconds, dispatchesPerPass: time.perPass },
        });
        o.log?.(`kernel ${c.name} ${n}×${n}: ${value.toPrecision(3)} GB/s (${check.ok ? 'checked' : 'CHECK FAILED'})`);
      } catch (e) {
        out.skipped.push({ section: 'kernel', name: c.name, size: `${n}×${n}`, reason: (e as Error).message });
      }
    }
  } finally {
    memory.destroy();
  }
}

/** Every kernel benchmark at every size. Rows whose check fails are still reported (checked: false). */
export async function runKernelBenches(ctx: GpuContext, o: KernelBenchOptions): Promise<BenchResults> {
  const out: BenchResults = { rows: [], skipped: [] };
  const timer = new PassTimer(ctx.device, true);
  try {
    for (const n of o.sizes) {
      if (runsGroup(o, 'f32') || runsGroup(o, 'f16')) await benchMatmuls(ctx, n, o, timer, out);
      if (runsGroup(o, 'int')) await benchIntMatmuls(ctx, n, o, timer, out);
      if (runsGroup(o, 'quantizers')) await benchQuantizers(ctx, n, o, timer, out);
    }
  } finally {
    timer.destroy();
  }
  // Report each skip reason once per size (f16 and dot4 availability would otherwise repeat).
  out.skipped = out.skipped.filter((s, i, all) => all.findIndex((t) => t.name === s.name && t.size === s.size && t.reason === s.reason) === i);
  return out;
}
