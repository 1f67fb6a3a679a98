// The compressed 2:4 product against the dense one (sparsity/ops.ts, shaders/sparse24.wgsl), on square
// problems Y = X·Wᵀ with W [n, n] 2:4 sparse (the 2 largest |w| of every group of 4 along the input
// dimension kept), each result checked against a CPU computation before it is timed:
//   f32   matmul transB (the engine's dense forward) on the masked W; the compressed product alone (W
//         compressed once: inference); compression + product (what a training step runs, W changing)
//   int8, int4   intMatmul on the dense codes (each integer path the device has) vs the compressed codes
// Throughput is dense-equivalent, 2·n³ / seconds (the compressed kernels do n³ multiply-adds, half), so a
// compressed row beats its dense row when its number is larger; `ratio` is dense seconds / these seconds.
import type { GpuContext } from '../engine/gpu/device';
import { type Dispatch, Kernels } from '../engine/gpu/kernels';
import { GpuMemory, readTensor, writeTensor } from '../engine/gpu/memory';
import { matmul } from '../engine/ops/matmul';
import { type CodeFormat, intMatmul, intMatmulPathName, intMatmulPaths, packedWordsPerRow } from '../engine/ops/quant';
import { compress24, compressedShape, sparseIntMatmul, sparseMatmul } from '../engine/sparsity/ops';
import { adapterName, type BenchRow, type SkippedBench } from './rows';
import { buildChecked, FastRandom, runOnce } from './kernels';
import { PassTimer, type TimingOptions } from '../engine/gpu/timing';

export interface SparseBenchOptions {
  sizes: number[];
  timing: TimingOptions;
  /** Output entries compared with the CPU per result (0: all). */
  checkSamples: number;
  seed: number;
  log?: (line: string) => void;
}

export interface SparseBenchResults {
  rows: BenchRow[];
  skipped: SkippedBench[];
}

/** Keeps the 2 largest |w| of every group of 4 (lower index on ties) of a row-major [n, n] matrix. */
function mask24(w: Float32Array): Float32Array {
  for (let g = 0; g < w.length; g += 4) {
    const order = [0, 1, 2, 3].sort((a, b) => Math.abs(w[g + b]) - Math.abs(w[g + a]));
    w[g + order[2]] = 0;
    w[g + order[3]] = 0;
  }
  return w;
}

function entries(n: number, samples: number, rng: FastRandom): [number, number][] {
  if (samples <= 0 || samples >= n * n) return Array.from({ length: n * n }, (_, i) => [Math.floor(i / n), i % n]);
  const out: [number, number][] = [[0, 0], [0, n - 1], [n - 1, 0], [n - 1, n - 1]];
  while (out.length < samples) out.push([rng.nextU32() % n, rng.nextU32() % n]);
  return out;
}

interface Case {
  name: string;
  path: string;
  work: Dispatch[];
  /** The dense cases this one is compared with (the fastest that ran gives `ratio`). */
  denseOf?: string[];
  check: () => Promise<{ ok: boolean; text: string }>;
}

async function timeCases(ctx: GpuContext, n: number, cases: Case[], o: SparseBenchOptions, timer: PassTimer, out: SparseBenchResults, metric: 'TFLOP/s' | 'TOP/s'): Promise<void> {
  const seconds = new Map<string, number>();
  for (const c of cases) {
    try {
      await runOnce(ctx.device, c.work);
      const check = await c.check();
      const t = await timer.time(c.work, o.timing);
      seconds.set(c.name, t.seconds);
      const denseTimes = (c.denseOf ?? []).map((d) => seconds.get(d)).filter((v): v is number => v !== undefined);
      const dense = denseTimes.length ? Math.min(...denseTimes) : undefined;
      const value = (2 * n ** 3) / t.seconds / 1e12;
      out.rows.push({
        section: 'kernel', device: adapterName(ctx), name: c.name, size: `${n}³`, path: c.path, metric, value,
        seconds: t.seconds, timing: t.method, checked: check.ok, check: check.text,
        extra: { dispatchesPerPass: t.perPass, multiplyAdds: c.denseOf ? n ** 3 / 2 : n ** 3, ...(dense !== undefined ? { ratio: `${(dense / t.seconds).toFixed(2)}× dense` } : {}) },
      });
      o.log?.(`kernel ${c.name} ${n}³: ${value.toPrecision(3)} ${metric} dense-equivalent${dense !== undefined ? `, ${(dense / t.seconds).toFixed(2)}× dense` : ''} (${check.ok ? 'checked' : 'CHECK FAILED'})`);
    } catch (e) {
      out.skipped.push({ section: 'kernel', name: c.name, size: `${n}³`, reason: (e as Error).message });
    }
  }
}

async function benchFloat(ctx: GpuContext, n: number, o: SparseBenchOptions, timer: PassTimer, out: SparseBenchResults): Promise<void> {
  const device = ctx.device;
  if (n * n * 4 > ctx.limits.maxStorageBufferBindingSize) {
    out.skipped.push({ section: 'kernel', name: 'sparse24 f32', size: `${n}³`, reason: `a ${n}×${n} f32 matrix is over this device's storage binding limit` });
    return;
  }
  const memory = new GpuMemory(device);
  try {
    const k = new Kernels(device, memory, ctx.capabilities);
    const rng = new FastRandom(o.seed + n);
    const xHost = Float32Array.from({ length: n * n }, () => rng.nextSigned());
    const wHost = mask24(Float32Array.from({ length: n * n }, () => rng.nextSigned()));
    const shape = compressedShape(n, n, 'f32');
    const t = await buildChecked(device, () => ({
      x: memory.tensor([n, n], 'X'), w: memory.tensor([n, n], 'W'), y: memory.tensor([n, n], 'Y'),
      values: memory.tensor(shape.values, 'values'), meta: memory.tensor(shape.meta, 'meta'), violations: memory.tensor([1], 'violations'),
    }));
    writeTensor(device, t.x, xHost);
    writeTensor(device, t.w, wHost);
    const compress = compress24(k, { label: 'compress', input: t.w, values: t.values, meta: t.meta, violations: t.violations, rows: n, K: n, format: 'f32' });
    const product = sparseMatmul(k, { label: 'sparse24 f32', x: t.x, values: t.values, meta: t.meta, y: t.y, M: n, N: n, K: n });
    const check = async () => {
      const y = await readTensor(device, t.y);
      let worst = 0;
      const es = entries(n, o.checkSamples, rng);
      for (const [i, j] of es) {
        let s = 0;
        let abs = 0;
        for (let q = 0; q < n; q++) {
          const p = xHost[i * n + q] * wHost[j * n + q];
          s += p;
          abs += Math.abs(p);
        }
        const err = Math.abs(y[i * n + j] - s) / Math.max(abs, 1e-30);
        if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
      }
      const violations = new Uint32Array((await readTensor(device, t.violations)).buffer)[0];
      return { ok: worst <= 1e-4 && violations === 0, text: `${es.length} entries vs float64 dense product of the masked W, max err ${worst.toExponential(1)}·Σ|ab| ≤ 1e-4; ${violations} non-2:4 groups` };
    };
    await runOnce(device, [compress]);
    await timeCases(ctx, n, [
      { name: 'matmul f32 transB (dense, masked W)', path: 'f32 tiles', work: [matmul(k, { label: 'dense', a: t.x, b: t.w, c: t.y, M: n, N: n, K: n, transB: true })], check },
      { name: 'sparse24 f32 (W compressed once)', path: '2:4 values + 2-bit indices, f32', work: [product], denseOf: ['matmul f32 transB (dense, masked W)'], check },
      { name: 'sparse24 f32 (compress + product)', path: 'compression each pass, as training', work: [compress, product], denseOf: ['matmul f32 transB (dense, masked W)'], check },
    ], o, timer, out, 'TFLOP/s');
  } finally {
    memory.destroy();
  }
}

/** Packs codes rows along K (INT8: 4 per word, INT4: 8 nibbles). */
function pack(codes: Int8Array, n: number, format: CodeFormat): Uint32Array {
  const per = format === 'int8' ? 4 : 8;
  const bits = 32 / per;
  const words = packedWordsPerRow(n, format);
  const out = new Uint32Array(n * words);
  for (let r = 0; r < n; r++) for (let j = 0; j < n; j++) out[r * words + Math.floor(j / per)] |= (codes[r * n + j] & ((1 << bits) - 1)) << (bits * (j % per));
  return out;
}

async function benchInt(ctx: GpuContext, n: number, format: CodeFormat, o: SparseBenchOptions, timer: PassTimer, out: SparseBenchResults): Promise<void> {
  const device = ctx.device;
  if (n * n * 4 > ctx.limits.maxStorageBufferBindingSize) {
    out.skipped.push({ section: 'kernel', name: `sparse24 ${format}`, size: `${n}³`, reason: `the ${n}×${n} f32 output is over this device's storage binding limit` });
    return;
  }
  const memory = new GpuMemory(device);
  try {
    const k = new Kernels(device, memory, ctx.capabilities);
    const rng = new FastRandom(o.seed + n + (format === 'int4' ? 7 : 3));
    const lim = format === 'int8' ? 127 : 7;
    const code = () => (rng.nextU32() % (2 * lim + 1)) - lim;
    const xCodes = Int8Array.from({ length: n * n }, code);
    const wCodes = Int8Array.from(mask24(Float32Array.from({ length: n * n }, code)));
    const words = packedWordsPerRow(n, format);
    const shape = compressedShape(n, n, format);
    const t = await buildChecked(device, () => ({
      a: memory.tensor([n, words], 'A codes'), b: memory.tensor([n, words], 'B codes'), sa: memory.tensor([1], 'sA'), sb: memory.tensor([1], 'sB'),
      y: memory.tensor([n, n], 'Y'), values: memory.tensor(shape.values, 'values'), meta: memory.tensor(shape.meta, 'meta'), violations: memory.tensor([1], 'violations'),
    }));
    writeTensor(device, t.a, pack(xCodes, n, format));
    writeTensor(device, t.b, pack(wCodes, n, format));
    writeTensor(device, t.sa, new Float32Array([0.0123]));
    writeTensor(device, t.sb, new Float32Array([0.0456]));
    const scale = Math.fround(Math.fround(0.0123) * Math.fround(0.0456));
    const compress = compress24(k, { label: 'compress', input: t.b, values: t.values, meta: t.meta, violations: t.violations, rows: n, K: n, format });
    const product = sparseIntMatmul(k, { label: `sparse24 ${format}`, a: t.a, values: t.values, meta: t.meta, stepA: t.sa, stepB: t.sb, c: t.y, M: n, N: n, K: n, format });
    const check = async () => {
      const y = await readTensor(device, t.y);
      let worst = 0;
      const es = entries(n, o.checkSamples, rng);
      for (const [i, j] of es) {
        let s = 0;
        for (let q = 0; q < n; q++) s += xCodes[i * n + q] * wCodes[j * n + q];
        const ref = scale * s;
        const err = Math.abs(y[i * n + j] - ref) / Math.max(Math.abs(ref), scale);
        if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
      }
      return { ok: worst <= 1e-6, text: `${es.length} entries vs exact integer sums of the masked codes, max rel err ${worst.toExponential(1)} ≤ 1e-6` };
    };
    await runOnce(device, [compress]);
    const paths = intMatmulPaths(ctx.capabilities);
    const dense = paths.map((p) => ({ name: `intMatmul ${format} (dense, masked W) ${intMatmulPathName(p)}`, path: intMatmulPathName(p), work: [intMatmul(k, { label: 'dense', a: t.a, b: t.b, stepA: t.sa, stepB: t.sb, c: t.y, M: n, N: n, K: n, format, path: p })], check }));
    // The compressed kernel is compared with the fastest dense path that ran.
    await timeCases(ctx, n, [
      ...dense,
      { name: `sparse24 ${format} (W compressed once)`, path: '2:4 codes + 2-bit indices, i32 multiply-adds', work: [product], denseOf: dense.map((d) => d.name), check },
      { name: `sparse24 ${format} (compress + product)`, path: 'compression each pass, as training', work: [compress, product], denseOf: dense.map((d) => d.name), check },
    ], o, timer, out, 'TOP/s');
  } finally {
    memory.destroy();
  }
}

/** Every sparse benchmark at every size. Rows whose check fails are still reported (checked: false). */
export async function runSparseBenches(ctx: GpuContext, o: SparseBenchOptions): Promise<SparseBenchResults> {
  const out: SparseBenchResults = { rows: [], skipped: [] };
  const timer = new PassTimer(ctx.device, true);
  try {
    for (const n of o.sizes) {
      if (n % 4 !== 0) {
        out.skipped.push({ section: 'kernel', name: 'sparse24', size: `${n}³`, reason: `${n} is not a multiple of 4` });
        continue;
      }
      await benchFloat(ctx, n, o, timer, out);
      await benchInt(ctx, n, 'int8', o, timer, out);
      await benchInt(ctx, n, 'int4', o, timer, out);
    }
  } finally {
    timer.destroy();
  }
  return out;
}
