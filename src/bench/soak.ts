// `npm run bench -- soak`: one long run of the tiny preset that looks for what grows with the number of
// steps. Every `--sample-every` steps it waits for the GPU, collects garbage (when it can) and records
// the GPU buffers the engine holds (gpu/memory.ts liveBufferCount: every buffer created and not yet
// destroyed) and the JS heap (process.memoryUsage().heapUsed), and at the end says whether both stayed
// flat. The run goes through TrainingSession with checkpoints, per-layer measurements and a validation
// pass at every sample, so the readback paths a long page run uses are the ones soaked.
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { modelConfigFromPreset, PRECISIONS, type Precision, type RunConfig, DEFAULT_TRAIN } from '../engine/config';
import type { Dataset } from '../engine/data/dataset';
import { describeGpu, type GpuContext } from '../engine/gpu/device';
import { liveBufferCount } from '../engine/gpu/memory';
import { TrainingSession } from '../engine/train/session';
import { CliError } from '../cli/args';

export interface SoakOptions {
  steps: number;
  sampleEvery: number;
  precision: Precision;
  batchSize: number;
  checkpointEvery: number;
  measureEvery: number;
  seed: number;
  quick: boolean;
  out: string | null;
  help: boolean;
}

/** The full soak: 10,000 steps, a sample every 1,000. A small batch, because a soak is about the number
 *  of steps, not their size, and this finishes in minutes on a CPU Vulkan driver. */
export function soakDefaults(): SoakOptions {
  return { steps: 10_000, sampleEvery: 1000, precision: 'fp32', batchSize: 4, checkpointEvery: 100, measureEvery: 100, seed: 1, quick: false, out: null, help: false };
}

/** Quick: proves the soak runs (CI); 200 steps are too few to call a trend. */
export function soakQuick(): SoakOptions {
  return { ...soakDefaults(), steps: 200, sampleEvery: 50, checkpointEvery: 25, measureEvery: 25, quick: true };
}

export function soakHelpText(): string {
  const d = soakDefaults();
  return [
    'Usage: npm run bench -- soak [flags]',
    '',
    'Trains the tiny preset for many steps in one run and samples, every --sample-every steps, the GPU',
    'buffers the engine holds and the JS heap (after a garbage collection), then says whether they stayed',
    'flat. Checkpoints, per-layer measurements and a validation pass at each sample run along.',
    '',
    `  --quick                ${soakQuick().steps} steps, a sample every ${soakQuick().sampleEvery} (proves it runs; too short for a trend)`,
    `  --steps N              training steps (default ${d.steps})`,
    `  --sample-every N       steps between samples (default ${d.sampleEvery})`,
    `  --precision P          ${PRECISIONS.join(', ')} (default ${d.precision})`,
    `  --batch N              sequences per step (default ${d.batchSize})`,
    `  --checkpoint-every N   steps between training checkpoints (default ${d.checkpointEvery}; 0 = none)`,
    `  --measure-every N      steps between per-layer measurements (default ${d.measureEvery}; 0 = none)`,
    `  --seed N               (default ${d.seed})`,
    '  --out FILE.json        the samples, the verdict and the options as JSON',
    '  --help',
  ].join('\n');
}

function nonNegativeInt(flag: string, raw: string, min: number): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min) throw new CliError(`--${flag} takes an integer ≥ ${min}, got "${raw}"`);
  return n;
}

export function parseSoakArgs(argv: readonly string[]): SoakOptions {
  let v;
  try {
    v = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' }, steps: { type: 'string' }, 'sample-every': { type: 'string' }, precision: { type: 'string' }, batch: { type: 'string' },
        'checkpoint-every': { type: 'string' }, 'measure-every': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' },
      },
    }).values;
  } catch (e) {
    throw new CliError(`${(e as Error).message.split('\n')[0]} (see npm run bench -- soak --help)`);
  }
  const o = v.quick ? soakQuick() : soakDefaults();
  o.help = Boolean(v.help);
  if (v.steps !== undefined) o.steps = nonNegativeInt('steps', v.steps, 1);
  if (v['sample-every'] !== undefined) o.sampleEvery = nonNegativeInt('sample-every', v['sample-every'], 1);
  if (v.precision !== undefined) {
    if (!(PRECISIONS as readonly string[]).includes(v.precision)) throw new CliError(`--precision must be one of ${PRECISIONS.join(', ')}, got "${v.precision}"`);
    o.precision = v.precision as Precision;
  }
  if (v.batch !== undefined) o.batchSize = nonNegativeInt('batch', v.batch, 1);
  if (v['checkpoint-every'] !== undefined) o.checkpointEvery = nonNegativeInt('checkpoint-every', v['checkpoint-every'], 0);
  if (v['measure-every'] !== undefined) o.measureEvery = nonNegativeInt('measure-every', v['measure-every'], 0);
  if (v.seed !== undefined) o.seed = nonNegativeInt('seed', v.seed, 0);
  if (v.out !== undefined) o.out = v.out;
  if (o.sampleEvery > o.steps) throw new CliError(`--sample-every ${o.sampleEvery} is more than the ${o.steps} steps: there would be nothing to compare`);
  return o;
}

export interface SoakSample {
  step: number;
  /** GPU buffers the engine created and has not destroyed (every device). */
  liveBuffers: number;
  /** process.memoryUsage().heapUsed after a garbage collection (when one could be forced). */
  heapUsedBytes: number;
  /** Validation loss at this step (a readback path of its own). */
  valLoss: number;
  /** Training steps per second since the previous sample (null for the first). */
  stepsPerSecond: number | null;
}

export interface SoakVerdict {
  flat: boolean;
  buffers: string;
  heap: string;
}

export interface SoakReport {
  device: string;
  options: SoakOptions;
  gcForced: boolean;
  samples: SoakSample[];
  verdict: SoakVerdict;
}

/** Heap growth that counts as noise: V8's heap moves by a few hundred KiB between identical points of a
 *  loop (allocation sites, JIT code, inline caches), more without a forced collection. */
export const HEAP_NOISE_BYTES = 2 * 2 ** 20;
const HEAP_NOISE_FRACTION = 0.05;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

/** Flat = the buffer count never changes after the first training sample (any change is a buffer made
 *  or lost per step), and the heap's second half of samples sits within noise of its first half
 *  (medians, so one collection landing between samples does not decide it). Sample 0 (before the first
 *  step) is left out of the heap comparison: the first steps compile pipelines and warm the JIT. */
export function soakVerdict(samples: readonly SoakSample[]): SoakVerdict {
  const trained = samples.filter((s) => s.step > 0);
  if (trained.length < 2) return { flat: false, buffers: 'too few samples to tell', heap: 'too few samples to tell' };
  const counts = [...new Set(trained.map((s) => s.liveBuffers))];
  const buffersFlat = counts.length === 1 && samples[0].liveBuffers === trained[0].liveBuffers;
  const buffers = buffersFlat
    ? `flat: ${trained[0].liveBuffers} live GPU buffers at every sample`
    : `GROWING: live GPU buffers went ${samples.map((s) => s.liveBuffers).join(' → ')}`;
  const half = Math.floor(trained.length / 2);
  const first = median(trained.slice(0, Math.max(1, half)).map((s) => s.heapUsedBytes));
  const second = median(trained.slice(half).map((s) => s.heapUsedBytes));
  const growth = second - first;
  const allowed = Math.max(HEAP_NOISE_BYTES, HEAP_NOISE_FRACTION * first);
  const heapFlat = growth <= allowed;
  const heap = `${heapFlat ? 'flat' : 'GROWING'}: JS heap median ${mib(first)} over the first half of the samples, ${mib(second)} over the second (${growth >= 0 ? '+' : ''}${mib(growth)}; noise allowance ${mib(allowed)})`;
  return { flat: buffersFlat && heapFlat, buffers, heap };
}

/** A garbage collection on demand: --expose-gc's gc(), turned on at run time if the process was started
 *  without it. Null where neither works (the heap is then read as it is). */
function forcedGc(): (() => void) | null {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

export function soakRunConfig(o: SoakOptions, dataset: Dataset): RunConfig {
  return {
    model: modelConfigFromPreset('tiny', dataset.tokenizer.vocabSize),
    train: { ...DEFAULT_TRAIN, precision: o.precision, steps: o.steps, batchSize: o.batchSize, lr: 3e-3, seed: o.seed, logEvery: 10, checkpointEvery: o.checkpointEvery, measureEvery: o.measureEvery, valBatches: 2 },
    dataset: 'names',
  };
}

/** The soak on `gpu` (a lost device would be replaced through `acquire`). `log` gets a line per sample. */
export async function runSoak(gpu: GpuContext, acquire: () => Promise<GpuContext>, dataset: Dataset, o: SoakOptions, log?: (line: string) => void): Promise<SoakReport> {
  const gc = forcedGc();
  const session = await TrainingSession.start(acquire, soakRunConfig(o, dataset), dataset, {}, gpu);
  // Only counts are kept from the listeners: the soak must not grow by what it records.
  let metricRecords = 0;
  let measurements = 0;
  let checkpoints = 0;
  session.onMetrics((m) => {
    metricRecords += m.length;
  });
  session.onMeasurements(() => {
    measurements++;
  });
  session.onCheckpoint(() => {
    checkpoints++;
  });
  const samples: SoakSample[] = [];
  let last = { step: 0, time: performance.now() };
  const sample = async () => {
    await session.flush();
    // Not before the first step: a first forward initialises the quantizers from the batch it sees.
    const valLoss = session.stepsDone > 0 ? ((await session.guard((t) => t.evaluate())) ?? NaN) : NaN;
    const time = performance.now();
    const step = session.stepsDone;
    const stepsPerSecond = step > last.step ? (step - last.step) / ((time - last.time) / 1000) : null;
    gc?.();
    gc?.();
    const s: SoakSample = { step, liveBuffers: liveBufferCount(), heapUsedBytes: process.memoryUsage().heapUsed, valLoss, stepsPerSecond };
    samples.push(s);
    log?.(`step ${s.step}: ${s.liveBuffers} live buffers, heap ${mib(s.heapUsedBytes)}${Number.isNaN(valLoss) ? '' : `, val loss ${valLoss.toFixed(4)}`}${stepsPerSecond ? `, ${stepsPerSecond.toFixed(1)} steps/s` : ''}`);
    // The time spent sampling is not training time.
    last = { step, time: performance.now() };
  };
  try {
    await sample();
    while (session.stepsDone < o.steps) {
      await session.step();
      if (session.stepsDone % o.sampleEvery === 0 || session.stepsDone === o.steps) await sample();
    }
  } finally {
    session.destroy();
  }
  // The listeners saw every step, measurement and checkpoint the config asks for.
  const expect = (what: string, got: number, want: number) => {
    if (got !== want) throw new Error(`soak: ${got} ${what} arrived, expected ${want}`);
  };
  expect('step records', metricRecords, o.steps);
  if (o.checkpointEvery > 0) expect('checkpoints', checkpoints, Math.floor(o.steps / o.checkpointEvery));
  if (o.measureEvery > 0 && measurements === 0) throw new Error('soak: no per-layer measurement arrived');
  return { device: describeGpu(gpu), options: o, gcForced: gc !== null, samples, verdict: soakVerdict(samples) };
}

/** The table and the verdict, for the terminal and docs/robustness.md. */
export function formatSoak(r: SoakReport): string {
  const rows = r.samples.map((s) =>
    `| ${String(s.step).padStart(6)} | ${String(s.liveBuffers).padStart(12)} | ${(s.heapUsedBytes / 2 ** 20).toFixed(2).padStart(15)} | ${(Number.isNaN(s.valLoss) ? '—' : s.valLoss.toFixed(4)).padStart(8)} | ${(s.stepsPerSecond === null ? '—' : s.stepsPerSecond.toFixed(1)).padStart(7)} |`,
  );
  return [
    `device: ${r.device}`,
    `run: tiny preset, ${r.options.precision}, batch ${r.options.batchSize}, ${r.options.steps} steps, checkpoint every ${r.options.checkpointEvery}, measurements every ${r.options.measureEvery}, seed ${r.options.seed}; heap read after ${r.gcForced ? 'a forced garbage collection' : 'no forced collection (gc unavailable)'}`,
    '',
    '|   step | live buffers | heap used (MiB) | val loss | steps/s |',
    '|-------:|-------------:|----------------:|---------:|--------:|',
    ...rows,
    '',
    `verdict: ${r.verdict.flat ? 'FLAT' : 'GROWTH'}; buffers ${r.verdict.buffers}; heap ${r.verdict.heap}`,
  ].join('\n');
}
