// Start-up autotuning of the f32 matrix product (issue "fast engine": tile shapes chosen per adapter).
// For each layout the linear layers use (forward NT, ∇X NN, ∇W TN), every candidate tile config of
// ops/matmul-tiled.ts is first checked against a float64 product on a small problem that exercises the
// whole contract (partial tiles, batch, alpha, bias, accumulate, the vec4 / scalar variant the real shapes
// will run), then timed on the real shapes next to the built-in kernel (src/shaders/matmul.wgsl). A
// candidate that fails to compile or gives a wrong result is dropped with the reason and never chosen;
// one is chosen only if it beats the built-in kernel, so tuning never makes a product slower than before.
// Timing reuses the benchmarks' PassTimer (GPU timestamps where the device has them, else the wall clock
// around onSubmittedWorkDone), as docs/gpu-measurement.md asks.
import { PassTimer, type TimingMethod, type TimingOptions } from '../gpu/timing';
import type { AdapterDescription } from '../gpu/device';
import { type Dispatch, Kernels } from '../gpu/kernels';
import { submitAndWait, withErrorScopes } from '../gpu/submit';
import { GpuMemory, readTensor, writeTensor } from '../gpu/memory';
import { matmul as referenceMatmul } from '../reference/matmul';
import type { Tensor } from '../tensor';
import { builtinMatmul, type MatmulLayout, type MatmulSpec } from './matmul';
import {
  MATMUL_TILE_CANDIDATES,
  type MatmulTileConfig,
  type TiledShaderGenerator,
  describeTileConfig,
  tileConfigId,
  tileConfigProblem,
  tiledMatmul,
  tiledMatmulShader,
} from './matmul-tiled';

/** The layouts tuning covers: the three products of a linear layer. */
export type TunedLayout = 'NT' | 'NN' | 'TN';

export const TUNED_LAYOUTS: readonly { layout: TunedLayout; transA: boolean; transB: boolean; use: string }[] = [
  { layout: 'NT', transA: false, transB: true, use: 'forward Y = X·Wᵀ' },
  { layout: 'NN', transA: false, transB: false, use: '∇X = ∇Y·W' },
  { layout: 'TN', transA: true, transB: false, use: '∇W = ∇Yᵀ·X' },
];

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  batch?: number;
}

/** The three products of a linear layer y = x·Wᵀ with x [rows, dIn] and W [dOut, dIn], per layout. */
export function linearTuningShapes(rows: number, dIn: number, dOut: number): Record<TunedLayout, MatmulShape[]> {
  return linearLayersTuningShapes([{ rows, dIn, dOut }]);
}

/** The products of several linear layers (a model's), per layout, each distinct shape once. */
export function linearLayersTuningShapes(layers: readonly { rows: number; dIn: number; dOut: number }[]): Record<TunedLayout, MatmulShape[]> {
  const out: Record<TunedLayout, MatmulShape[]> = { NT: [], NN: [], TN: [] };
  const add = (layout: TunedLayout, s: MatmulShape) => {
    if (!out[layout].some((t) => t.M === s.M && t.N === s.N && t.K === s.K)) out[layout].push(s);
  };
  for (const { rows, dIn, dOut } of layers) {
    add('NT', { M: rows, N: dOut, K: dIn });
    add('NN', { M: rows, N: dIn, K: dOut });
    add('TN', { M: dOut, N: dIn, K: rows });
  }
  return out;
}

export interface CandidateResult {
  /** null: the built-in kernel. */
  config: MatmulTileConfig | null;
  /** tileConfigId, or 'built-in'. */
  name: string;
  /** Over the layout's shapes: 2·Σ batch·M·N·K / seconds / 1e12; null when the candidate was dropped. */
  tflops: number | null;
  /** Median seconds of one run of all the layout's shapes; null when dropped. */
  seconds: number | null;
  /** Why it was not timed: over the device's limits, failed to build, or a wrong result. */
  dropped?: string;
  /** The correctness check it ran (and its worst error). */
  check?: string;
}

export interface LayoutTuning {
  layout: TunedLayout;
  use: string;
  shapes: MatmulShape[];
  /** The config matmul() uses for this layout; null keeps the built-in kernel. */
  chosen: MatmulTileConfig | null;
  /** The built-in kernel's TFLOP/s on the same shapes (NaN if even it failed its check). */
  builtinTflops: number;
  /** The built-in kernel first, then every candidate in the order given. */
  candidates: CandidateResult[];
}

export interface MatmulTuning {
  layouts: Partial<Record<MatmulLayout, LayoutTuning>>;
  /** How the candidates were timed: GPU timestamps or the wall clock around the queue. */
  method: TimingMethod;
  /** Wall-clock seconds the whole tuning took (compilation, checks and timing). */
  seconds: number;
  /** Set when the candidates were only an earlier tuning's remembered choices (train/startup-tuning.ts):
   *  when that tuning ran (ISO date). */
  remembered?: string;
}

export interface TuneMatmulOptions {
  /** The products to time: the same list for every layout, or a list per layout. */
  shapes: readonly MatmulShape[] | Partial<Record<TunedLayout, readonly MatmulShape[]>>;
  /** Default MATMUL_TILE_CANDIDATES: the same list for every layout, or a list per layout (a layout
   *  missing from it gets the default). The built-in kernel always runs too. */
  candidates?: readonly MatmulTileConfig[] | Partial<Record<TunedLayout, readonly MatmulTileConfig[]>>;
  /** Timed passes per candidate (the median is kept; default 5). */
  repeats?: number;
  /** Default all three. */
  layouts?: readonly TunedLayout[];
  /** Overrides of the timing (default: 1 warm-up, passes of about 20 ms, at most 200 runs per pass). */
  timing?: Partial<TimingOptions>;
  /** A candidate is chosen only if at least this many times as fast as the built-in kernel (default 1.02:
   *  a difference within the timing noise keeps the kernel that has always run). */
  minSpeedup?: number;
  /** Generates each candidate's module (default tiledMatmulShader; tests pass a corrupted one). */
  generate?: TiledShaderGenerator;
  log?: (line: string) => void;
}

/** False for CPU adapters (the fallback adapter, llvmpipe / lavapipe, SwiftShader): there the generated
 *  kernels only cost compile time and the built-in kernel stays. */
export function shouldTune(adapter: CpuAdapterClues): boolean {
  return !isCpuAdapter(adapter);
}

type CpuAdapterClues = Partial<Pick<AdapterDescription, 'vendor' | 'architecture' | 'device' | 'description' | 'isFallbackAdapter'>>;

/** A software (CPU) implementation of WebGPU: the fallback adapter, Mesa's llvmpipe/lavapipe, SwiftShader.
 *  Where the generated kernels pick a code style or skip tuning by the adapter, this is the one test. */
export function isCpuAdapter(adapter: CpuAdapterClues): boolean {
  if (adapter.isFallbackAdapter) return true;
  const text = `${adapter.vendor} ${adapter.architecture} ${adapter.device} ${adapter.description}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|software/.test(text);
}

const BUILTIN = 'built-in';

/** Values in [−1, 1) from a seeded xorshift32 stream: cheap enough for 4096² operands. */
function fillHashed(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** The problem a candidate is checked on: a little over the largest tile in M and N (so full and partial
 *  tiles both occur), a few k-slices with a partial last one, two batch entries, and each size with the
 *  same remainder mod 4 as the real shape's, so the check runs the vec4 / scalar variant the timing runs. */
function checkShape(real: MatmulShape, maxTileM: number, maxTileN: number): Required<MatmulShape> {
  return { M: maxTileM + 4 + (real.M % 4), N: maxTileN + 4 + (real.N % 4), K: 36 + (real.K % 4), batch: 2 };
}

interface CheckProblem {
  shape: Required<MatmulShape>;
  a: Tensor;
  b: Tensor;
  bias: Tensor;
  c: Tensor;
  c0: Float32Array;
  /** C0 + alpha·op(A)·op(B) + bias in float64, and the scale each entry's error is measured against. */
  expected: Float64Array;
  scale: Float64Array;
  alpha: number;
}

/** Values written past C: a kernel that writes outside its matrix changes them. */
const CHECK_TAIL = 64;

function buildCheckProblem(memory: GpuMemory, device: GPUDevice, shape: Required<MatmulShape>, transA: boolean, transB: boolean, seed: number): CheckProblem {
  const { M, N, K, batch } = shape;
  const a = fillHashed(batch * M * K, seed);
  const b = fillHashed(batch * K * N, seed + 1);
  const bias = fillHashed(N, seed + 2);
  const c0 = fillHashed(batch * M * N, seed + 3);
  const alpha = -0.75;
  const expected = new Float64Array(batch * M * N);
  const scale = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const as = Float64Array.from(a.subarray(z * M * K, (z + 1) * M * K));
    const bs = Float64Array.from(b.subarray(z * K * N, (z + 1) * K * N));
    const product = referenceMatmul(as, bs, M, K, N, transA, transB);
    const magnitude = referenceMatmul(as.map(Math.abs), bs.map(Math.abs), M, K, N, transA, transB);
    for (let i = 0; i < M * N; i++) {
      const at = z * M * N + i;
      expected[at] = c0[at] + alpha * product[i] + bias[i % N];
      scale[at] = Math.abs(alpha) * magnitude[i] + Math.abs(c0[at]) + Math.abs(bias[i % N]);
    }
  }
  const t = (n: number, data: Float32Array, label: string) => {
    const tensor = memory.tensor([n], label);
    writeTensor(device, tensor, data);
    return tensor;
  };
  return {
    shape,
    a: t(a.length, a, 'tune.check.a'),
    b: t(b.length, b, 'tune.check.b'),
    bias: t(N, bias, 'tune.check.bias'),
    c: memory.tensor([batch * M * N + CHECK_TAIL], 'tune.check.c'),
    c0,
    expected,
    scale,
    alpha,
  };
}

/** Runs the product on the check problem; null if right, else what is wrong. */
async function checkCandidate(device: GPUDevice, problem: CheckProblem, build: (s: MatmulSpec) => Dispatch, transA: boolean, transB: boolean): Promise<{ error: string | null; text: string }> {
  const { M, N, K, batch } = problem.shape;
  const initial = new Float32Array(batch * M * N + CHECK_TAIL).fill(NaN);
  initial.set(problem.c0);
  writeTensor(device, problem.c, initial);
  await withErrorScopes(device, async () => {
    const d = build({ label: 'tune.check', a: problem.a, b: problem.b, c: problem.c, M, N, K, transA, transB, alpha: problem.alpha, accumulate: true, bias: problem.bias, batch });
    await submitAndWait(device, [d], 'matmul-tune');
  });
  const got = await readTensor(device, problem.c);
  // f32 accumulation of K products errs by about K·2^-24 of their magnitudes at worst; a missing or
  // misplaced product is of the order of the magnitude itself.
  const bound = 8 * K * 2 ** -24;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < batch * M * N; i++) {
    const err = Math.abs(got[i] - problem.expected[i]) / Math.max(problem.scale[i], 1e-30);
    if (!(err <= worst)) {
      worst = Number.isNaN(err) ? Infinity : err;
      worstAt = i;
    }
  }
  const text = `${batch}×${M}×${N}×${K} (alpha, bias, accumulate) vs float64: max err ${worst.toExponential(1)} of the entry's scale, bound ${bound.toExponential(1)}`;
  for (let i = batch * M * N; i < got.length; i++) {
    if (!Number.isNaN(got[i])) return { error: `wrote past C (at ${i - batch * M * N} values beyond its end)`, text };
  }
  if (!(worst <= bound)) {
    const z = Math.floor(worstAt / (M * N));
    const r = worstAt % (M * N);
    return { error: `wrong result: batch ${z}, C[${Math.floor(r / N)}, ${r % N}] = ${got[worstAt]}, float64 ${problem.expected[worstAt]}; ${text}`, text };
  }
  return { error: null, text };
}

function shapesFor(o: TuneMatmulOptions, layout: TunedLayout): MatmulShape[] {
  const list = Array.isArray(o.shapes) ? (o.shapes as readonly MatmulShape[]) : (o.shapes as Partial<Record<TunedLayout, readonly MatmulShape[]>>)[layout];
  return [...(list ?? [])];
}

function candidatesFor(o: TuneMatmulOptions, layout: TunedLayout): readonly MatmulTileConfig[] {
  if (!o.candidates) return MATMUL_TILE_CANDIDATES;
  if (Array.isArray(o.candidates)) return o.candidates;
  return (o.candidates as Partial<Record<TunedLayout, readonly MatmulTileConfig[]>>)[layout] ?? MATMUL_TILE_CANDIDATES;
}

function checkShapes(layout: TunedLayout, shapes: readonly MatmulShape[]): void {
  for (const s of shapes) {
    for (const [name, v] of Object.entries({ M: s.M, N: s.N, K: s.K, batch: s.batch ?? 1 })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`tuneMatmul: layout ${layout}: ${name} must be a positive integer, got ${v}`);
    }
  }
}

/**
 * Times every candidate (and the built-in kernel) for each layout and returns what to use. Does not set
 * the tuning: call setMatmulTuning(k, result) (ops/matmul.ts) to make matmul() use it.
 */
export async function tuneMatmul(k: Kernels, o: TuneMatmulOptions): Promise<MatmulTuning> {
  const started = performance.now();
  const device = k.device;
  const layouts = TUNED_LAYOUTS.filter((l) => (o.layouts ?? TUNED_LAYOUTS.map((t) => t.layout)).includes(l.layout));
  for (const l of layouts) {
    const shapes = shapesFor(o, l.layout);
    if (shapes.length === 0) throw new RangeError(`tuneMatmul: no shapes for layout ${l.layout}; pass shapes for every layout tuned`);
    checkShapes(l.layout, shapes);
  }
  // A kernel cache of its own (and a pool for its uniform buffers): everything tuning allocates goes when
  // it ends, and a generator that tests replace cannot clash with k's cached modules.
  const kernelMemory = new GpuMemory(device);
  const tk = new Kernels(device, kernelMemory, k.capabilities);
  const timer = new PassTimer(device, Boolean(k.capabilities.timestampQuery));
  const result: MatmulTuning = { layouts: {}, method: timer.method, seconds: 0 };
  try {
    for (const l of layouts) {
      // This layout's operands and check problems (4096² operands are 64 MiB each): freed after it.
      const memory = new GpuMemory(device);
      try {
        result.layouts[l.layout] = await tuneLayout(device, tk, memory, timer, l, shapesFor(o, l.layout), o, result);
      } finally {
        memory.destroy();
      }
    }
  } finally {
    timer.destroy();
    kernelMemory.destroy();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

async function tuneLayout(
  device: GPUDevice,
  tk: Kernels,
  memory: GpuMemory,
  timer: PassTimer,
  l: (typeof TUNED_LAYOUTS)[number],
  shapes: MatmulShape[],
  o: TuneMatmulOptions,
  result: MatmulTuning,
): Promise<LayoutTuning> {
  const candidates = candidatesFor(o, l.layout);
  const generate = o.generate ?? tiledMatmulShader;
  const minSpeedup = o.minSpeedup ?? 1.02;
  const timing: TimingOptions = { warmups: 1, repeats: o.repeats ?? 5, targetPassSeconds: 0.02, maxPerPass: 200, ...o.timing };
  const limits = device.limits;
  const flops = shapes.reduce((sum, s) => sum + 2 * (s.batch ?? 1) * s.M * s.N * s.K, 0);
  const valid = candidates.map((c) => tileConfigProblem(c, limits));
  const maxTileM = Math.max(64, ...candidates.filter((_, i) => !valid[i]).map((c) => c.tileM));
  const maxTileN = Math.max(64, ...candidates.filter((_, i) => !valid[i]).map((c) => c.tileN));
  // One check problem per distinct remainder class of the shapes (the vec4 / scalar variants).
  const checkProblems = new Map<string, CheckProblem>();
  const problemFor = (s: MatmulShape): CheckProblem => {
    const shape = checkShape(s, maxTileM, maxTileN);
    const key = `${shape.M},${shape.N},${shape.K}`;
    let p = checkProblems.get(key);
    if (!p) {
      p = buildCheckProblem(memory, device, shape, l.transA, l.transB, 17 + checkProblems.size * 5);
      checkProblems.set(key, p);
    }
    return p;
  };
  // The operands the timing runs on: written once, shared by every candidate of the layout.
  const operands = shapes.map((s, i) => {
    const batch = s.batch ?? 1;
    const a = memory.tensor([batch * s.M * s.K], `tune.${l.layout}.a${i}`);
    const b = memory.tensor([batch * s.K * s.N], `tune.${l.layout}.b${i}`);
    writeTensor(device, a, fillHashed(a.size, 101 + i));
    writeTensor(device, b, fillHashed(b.size, 202 + i));
    return { s, a, b, c: memory.tensor([batch * s.M * s.N], `tune.${l.layout}.c${i}`) };
  });
  const specs = operands.map(({ s, a, b, c }): MatmulSpec => ({ label: `tune.${l.layout}`, a, b, c, M: s.M, N: s.N, K: s.K, transA: l.transA, transB: l.transB, batch: s.batch }));

  const entries: { config: MatmulTileConfig | null; build: (s: MatmulSpec) => Dispatch; problem: string | null }[] = [
    { config: null, build: (s) => builtinMatmul(tk, s), problem: null },
    ...candidates.map((c, i) => ({ config: c, build: (s: MatmulSpec) => tiledMatmul(tk, s, c, generate), problem: valid[i] })),
  ];
  const results: CandidateResult[] = [];
  for (const e of entries) {
    const name = e.config ? tileConfigId(e.config) : BUILTIN;
    const r: CandidateResult = { config: e.config, name, tflops: null, seconds: null };
    results.push(r);
    if (e.problem) {
      r.dropped = `not run: ${e.problem}`;
      o.log?.(`tune ${l.layout} ${name}: ${r.dropped}`);
      continue;
    }
    try {
      // Shapes of one remainder class mod 4 share their check problem (and their variant).
      const checked = new Map<CheckProblem, string>();
      for (const s of shapes) {
        const problem = problemFor(s);
        if (checked.has(problem)) continue;
        const { error, text } = await checkCandidate(device, problem, e.build, l.transA, l.transB);
        if (error) throw new Error(error);
        checked.set(problem, text);
      }
      r.check = [...checked.values()].join('; ');
      const work = await withErrorScopes(device, () => specs.map((s) => e.build(s)));
      const t = await timer.time(work, timing);
      r.seconds = t.seconds;
      r.tflops = flops / t.seconds / 1e12;
      result.method = t.method;
      o.log?.(`tune ${l.layout} ${name}: ${r.tflops.toPrecision(3)} TFLOP/s`);
    } catch (err) {
      r.dropped = (err as Error).message;
      o.log?.(`tune ${l.layout} ${name}: dropped: ${r.dropped}`);
    }
  }
  const builtinTflops = results[0].tflops ?? NaN;
  const chosen = chooseTileConfig(results, minSpeedup);
  o.log?.(`tune ${l.layout}: ${chosen ? `chose ${tileConfigId(chosen)}` : 'kept the built-in kernel'}`);
  return { layout: l.layout, use: l.use, shapes, chosen, builtinTflops, candidates: results };
}

/**
 * The fastest tiled candidate that ran and passed its check, if it is at least `minSpeedup` times as fast
 * as the built-in kernel (results[0]); else null (keep the built-in kernel). Dropped candidates are never
 * chosen, and nothing is chosen against a built-in kernel that did not run (something is wrong with the
 * device then, and nothing new is trusted).
 */
export function chooseTileConfig(results: readonly CandidateResult[], minSpeedup: number): MatmulTileConfig | null {
  const builtin = results.find((r) => r.config === null);
  if (!builtin || builtin.tflops === null || !(builtin.tflops > 0)) return null;
  let best: CandidateResult | null = null;
  for (const r of results) {
    if (r.config === null || r.dropped !== undefined || r.tflops === null || !Number.isFinite(r.tflops)) continue;
    if (!best || r.tflops > best.tflops!) best = r;
  }
  return best && best.tflops! >= minSpeedup * builtin.tflops ? best.config : null;
}

/** One line per tuned layout, for the user: what runs and how fast against the built-in kernel. */
export function describeMatmulTuning(t: MatmulTuning): string {
  const lines: string[] = [];
  for (const { layout } of TUNED_LAYOUTS) {
    const l = t.layouts[layout];
    if (!l) continue;
    const base = Number.isFinite(l.builtinTflops) ? `${l.builtinTflops.toPrecision(3)} TFLOP/s` : 'failed its check';
    if (l.chosen) {
      const r = l.candidates.find((c) => c.config === l.chosen)!;
      lines.push(`${layout} (${l.use}): ${describeTileConfig(l.chosen)}: ${r.tflops!.toPrecision(3)} TFLOP/s, ${(r.tflops! / l.builtinTflops).toFixed(2)}× the built-in kernel (${base})`);
    } else {
      lines.push(`${layout} (${l.use}): built-in 64×64 kernel (${base}; no candidate was faster)`);
    }
  }
  return lines.join('\n');
}
