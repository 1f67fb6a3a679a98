// The benchmark command's options and the run of every section, without the process around it (the
// CLI in main.ts prints and writes; the test calls runBenchmarks in-process).
import { parseArgs } from 'node:util';
import { type AttentionKernelChoice, ATTENTION_KERNEL_CHOICES, DEFAULT_TRAIN, MATMUL_TUNING_CHOICES, type MatmulTuningChoice, PRECISIONS, type Precision } from '../engine/config';
import { describeGpu, type GpuContext } from '../engine/gpu/device';
import { DAWN_TIMING_FLAGS } from '../engine/gpu/node';
import { CliError } from '../cli/args';
import { KERNEL_GROUPS, type KernelGroup, runKernelBenches } from './kernels';
import { type AttentionBenchShape, runAttentionBenches } from './attention';
import { runCeilingBenches } from './ceilings';
import type { BenchReport } from './rows';
import type { TimingOptions } from '../engine/gpu/timing';
import { INT_MATMUL_PATHS, type IntMatmulPath } from '../engine/ops/quant';
import { QUICK_TRAIN_MODELS, TRAIN_MODELS, TRAIN_PRECISIONS, runTrainBenches, type TrainBenchModel } from './train';

export const SECTIONS = ['kernels', 'ceilings', 'attention', 'train', 'peer'] as const;
/** Quick: one tiny causal attention shape (both kernels run and are checked; not a speed result). */
const QUICK_ATTENTION_SHAPES: readonly AttentionBenchShape[] = [{ B: 2, nHead: 2, T: 40, hs: 16 }];
export type SectionName = (typeof SECTIONS)[number];

export interface BenchOptions {
  quick: boolean;
  sections: SectionName[];
  sizes: number[];
  models: TrainBenchModel[];
  precisions: Precision[];
  kernelTiming: TimingOptions;
  /** Matmul entries compared with the CPU per result (0: all). */
  checkSamples: number;
  hadamardBlock: number;
  warmupSteps: number;
  stepsPerWindow: number;
  windows: number;
  seed: number;
  /** Kernel groups of the kernels section (default all). */
  groups: KernelGroup[];
  /** The integer subgroup-matrix path in every tiling, not only the engine's default. */
  intTilings: boolean;
  /** Integer kernel paths to time (default: every path the adapter offers). */
  intPaths: readonly IntMatmulPath[] | null;
  attentionKernel: AttentionKernelChoice;
  matmulTuning: MatmulTuningChoice;
  out: string | null;
  help: boolean;
}

export const DEFAULT_SIZES = [1024, 2048, 4096, 8192];
export const QUICK_SIZES = [64, 96];

/** Quick: tiny problems, every output entry checked, one timed pass each; proves the benches run. */
export function quickOptions(): BenchOptions {
  return {
    ...defaultOptions(),
    quick: true,
    sizes: QUICK_SIZES,
    models: Object.values(QUICK_TRAIN_MODELS),
    kernelTiming: { warmups: 1, repeats: 1, targetPassSeconds: 0, maxPerPass: 1 },
    checkSamples: 0,
    warmupSteps: 1,
    stepsPerWindow: 2,
    windows: 1,
  };
}

export function defaultOptions(): BenchOptions {
  return {
    quick: false,
    sections: [...SECTIONS],
    sizes: DEFAULT_SIZES,
    models: Object.values(TRAIN_MODELS),
    precisions: [...TRAIN_PRECISIONS],
    kernelTiming: { warmups: 2, repeats: 7, targetPassSeconds: 0.05, maxPerPass: 500 },
    checkSamples: 256,
    hadamardBlock: 32,
    warmupSteps: 3,
    stepsPerWindow: 10,
    windows: 5,
    seed: 1,
    groups: [...KERNEL_GROUPS],
    intTilings: false,
    intPaths: null,
    attentionKernel: DEFAULT_TRAIN.attentionKernel ?? 'auto',
    matmulTuning: DEFAULT_TRAIN.matmulTuning ?? 'auto',
    out: null,
    help: false,
  };
}

export function helpText(): string {
  return [
    'Usage: npm run bench -- [flags]',
    '',
    'Kernel throughput (matmul f32/f16 in the forward and both backward layouts, intMatmul INT8/INT4 on the',
    'dot4I8Packed and plain paths, Hadamard transform, LSQ quantize), instruction ceilings (f32 fma,',
    "dot4I8Packed and i8 subgroup matrices alone, and in the tiled kernels' inner loops), attention forward",
    'and backward (fused and separate kernels, B32·32 heads·64 at T 256 and 1024), end-to-end training',
    'tokens/s per precision, and the same GPT in TF.js (WebGPU backend) as a peer. Every result is checked',
    'against a CPU computation before it is timed. See docs/benchmarks.md.',
    '',
    '  --quick                tiny sizes on any adapter (a CPU Vulkan driver too): proves the benches and',
    '                         their checks run; the numbers are not speed results',
    `  --sections LIST        any of ${SECTIONS.join(',')} (default: all)`,
    `  --sizes LIST           square kernel sizes (default ${DEFAULT_SIZES.join(',')}; quick ${QUICK_SIZES.join(',')})`,
    `  --models LIST          training models: ${Object.keys(TRAIN_MODELS).join(', ')} (default: all)`,
    `  --precisions LIST      training precisions (default ${TRAIN_PRECISIONS.join(',')})`,
    `  --groups LIST          kernel groups: ${KERNEL_GROUPS.join(',')} (default: all)`,
    '  --int-tilings          integer products in every tiling: subgroup matrices (multi-subgroup variants) and dot4I8Packed (generated tiles, the experimental ones too)',
    `  --int-paths LIST       integer paths to time: ${INT_MATMUL_PATHS.join(',')} (default: every path the adapter offers)`,
    '  --attention-kernel K   training runs: auto, fused or separate (default auto)',
    '  --matmul-tuning M      training runs: auto (tune f32 tiles at start-up) or off (default auto)',
    '  --repeats N            timed passes per kernel (median; default 7)',
    '  --check-samples N      matmul entries compared with the CPU per result (default 256; 0 = all)',
    '  --hadamard-block N     block of the hadamard/lsq rows (default 32)',
    '  --warmup N             untimed training steps (default 3)',
    '  --steps N              training steps per timed window (default 10)',
    '  --windows N            timed windows per run (median; default 5)',
    '  --seed N               data and initialisation seed (default 1)',
    '  --out FILE.json        every row, the device and the options as JSON',
    '  --help',
    '',
    'Subcommands: `tune` (the f32 tile sweep), `soak` (long-run growth check), `targets FILE...` (the',
    "fast-engine issue's targets judged from result files: met, missed by how much, or not measured).",
  ].join('\n');
}

function positiveInts(flag: string, value: string): number[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (list.length === 0 || !list.every((n) => Number.isInteger(n) && n > 0)) throw new CliError(`--${flag} takes a comma-separated list of positive integers, got "${value}"`);
  return list;
}

export function positiveInt(flag: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new CliError(`--${flag} takes a ${allowZero ? 'non-negative' : 'positive'} integer, got "${value}"`);
  return n;
}

export function listOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((s) => !(allowed as readonly string[]).includes(s));
  if (list.length === 0 || bad.length) throw new CliError(`--${flag}: unknown ${bad.join(', ') || 'empty list'}; choose from ${allowed.join(', ')}`);
  return list as T[];
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        sections: { type: 'string' },
        sizes: { type: 'string' },
        models: { type: 'string' },
        precisions: { type: 'string' },
        repeats: { type: 'string' },
        groups: { type: 'string' },
        'int-tilings': { type: 'boolean' },
        'int-paths': { type: 'string' },
        'attention-kernel': { type: 'string' },
        'matmul-tuning': { type: 'string' },
        'check-samples': { type: 'string' },
        'hadamard-block': { type: 'string' },
        warmup: { type: 'string' },
        steps: { type: 'string' },
        windows: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new CliError(`${(e as Error).message.split('\n')[0]} (see --help)`);
  }
  const v = parsed.values;
  const o = v.quick ? quickOptions() : defaultOptions();
  o.help = Boolean(v.help);
  if (v.sections) o.sections = listOf('sections', v.sections, SECTIONS);
  if (v.sizes) o.sizes = positiveInts('sizes', v.sizes);
  if (v.models) {
    const all = { ...TRAIN_MODELS, ...QUICK_TRAIN_MODELS };
    o.models = listOf('models', v.models, Object.keys(all)).map((name) => all[name]);
  }
  if (v.precisions) o.precisions = listOf('precisions', v.precisions, PRECISIONS);
  if (v.groups) o.groups = listOf('groups', v.groups, KERNEL_GROUPS);
  if (v['int-tilings']) o.intTilings = true;
  if (v['int-paths']) o.intPaths = listOf('int-paths', v['int-paths'], INT_MATMUL_PATHS);
  if (v['attention-kernel']) o.attentionKernel = listOf('attention-kernel', v['attention-kernel'], ATTENTION_KERNEL_CHOICES)[0];
  if (v['matmul-tuning']) o.matmulTuning = listOf('matmul-tuning', v['matmul-tuning'], MATMUL_TUNING_CHOICES)[0];
  if (v.repeats) o.kernelTiming = { ...o.kernelTiming, repeats: positiveInt('repeats', v.repeats) };
  if (v['check-samples']) o.checkSamples = positiveInt('check-samples', v['check-samples'], true);
  if (v['hadamard-block']) {
    const b = positiveInt('hadamard-block', v['hadamard-block']);
    if ((b & (b - 1)) !== 0 || b > 1024) throw new CliError(`--hadamard-block must be a power of two up to 1024, got ${b}`);
    o.hadamardBlock = b;
  }
  if (v.warmup) o.warmupSteps = positiveInt('warmup', v.warmup, true);
  if (v.steps) o.stepsPerWindow = positiveInt('steps', v.steps);
  if (v.windows) o.windows = positiveInt('windows', v.windows);
  if (v.seed) o.seed = positiveInt('seed', v.seed, true);
  if (v.out) o.out = v.out;
  return o;
}

/** The Dawn toggles the benchmark asks for: unsafe APIs (to see subgroup matrices, as in
 *  docs/gpu-measurement.md) and timestamps at full resolution (engine/gpu/node.ts). */
export const BENCH_DAWN_FLAGS = DAWN_TIMING_FLAGS;

/** Runs the selected sections on `ctx`; `log` gets a line per finished result. */
export async function runBenchmarks(ctx: GpuContext, o: BenchOptions, args: readonly string[] = [], log?: (line: string) => void): Promise<BenchReport> {
  const report: BenchReport = {
    device: describeGpu(ctx),
    adapter: { vendor: ctx.adapterInfo.vendor, architecture: ctx.adapterInfo.architecture, device: ctx.adapterInfo.device, description: ctx.adapterInfo.description },
    capabilities: { ...ctx.capabilities, maxStorageBufferBindingSize: ctx.limits.maxStorageBufferBindingSize },
    quick: o.quick,
    date: new Date().toISOString(),
    args: [...args],
    rows: [],
    skipped: [],
  };
  if (o.sections.includes('kernels')) {
    const r = await runKernelBenches(ctx, { sizes: o.sizes, timing: o.kernelTiming, checkSamples: o.checkSamples, hadamardBlock: o.hadamardBlock, seed: o.seed, groups: o.groups, intTilings: o.intTilings, intPaths: o.intPaths ?? undefined, log });
    report.rows.push(...r.rows);
    report.skipped.push(...r.skipped);
  }
  if (o.sections.includes('ceilings')) {
    const r = await runCeilingBenches(ctx, { scale: o.quick ? 'quick' : 'full', timing: o.kernelTiming, log });
    report.rows.push(...r.rows);
    report.skipped.push(...r.skipped);
  }
  if (o.sections.includes('attention')) {
    const r = await runAttentionBenches(ctx, { timing: o.kernelTiming, seed: o.seed, shapes: o.quick ? QUICK_ATTENTION_SHAPES : undefined, log });
    report.rows.push(...r.rows);
    report.skipped.push(...r.skipped);
  }
  if (o.sections.includes('train') || o.sections.includes('peer')) {
    const r = await runTrainBenches(ctx, {
      models: o.models,
      precisions: o.sections.includes('train') ? o.precisions : [],
      warmupSteps: o.warmupSteps,
      stepsPerWindow: o.stepsPerWindow,
      windows: o.windows,
      tfjs: o.sections.includes('peer'),
      seed: o.seed,
      attentionKernel: o.attentionKernel,
      matmulTuning: o.matmulTuning,
      log,
    });
    report.rows.push(...r.rows);
    report.skipped.push(...r.skipped);
  }
  return report;
}
