// `npm run bench -- tune`: the f32 matmul autotuning sweep (src/engine/ops/matmul-tune.ts) over every
// tile candidate (ops/matmul-tiled.ts MATMUL_TILE_CANDIDATES) and the built-in kernel, in the three layouts
// of a linear layer, at square sizes or at a model's linear-layer shapes. Every candidate is checked
// against a float64 product before it is timed; the table says how each did against the built-in kernel
// and which one the engine would choose. This is the run that picks the candidate list on a GPU machine.
import { parseArgs } from 'node:util';
import { describeGpu, type GpuContext } from '../engine/gpu/device';
import { Kernels } from '../engine/gpu/kernels';
import { GpuMemory } from '../engine/gpu/memory';
import { MATMUL_TILE_CANDIDATES, type MatmulTileConfig, describeTileConfig, tileConfigId } from '../engine/ops/matmul-tiled';
import { type MatmulShape, type MatmulTuning, TUNED_LAYOUTS, type TunedLayout, linearTuningShapes, shouldTune, tuneMatmul } from '../engine/ops/matmul-tune';
import { CliError } from '../cli/args';
import type { TimingOptions } from '../engine/gpu/timing';
import { listOf, positiveInt } from './run';

/** One tuning run: square n³ products in every layout, or the three products of one linear layer. */
export type TuneProblem = { kind: 'square'; n: number } | { kind: 'linear'; rows: number; dIn: number; dOut: number };

export interface TuneBenchOptions {
  problems: TuneProblem[];
  layouts: TunedLayout[];
  candidates: MatmulTileConfig[];
  timing: TimingOptions;
  quick: boolean;
  out: string | null;
  help: boolean;
}

export const TUNE_DEFAULT_SIZE = 4096;

export function tuneDefaults(): TuneBenchOptions {
  return {
    problems: [{ kind: 'square', n: TUNE_DEFAULT_SIZE }],
    layouts: TUNED_LAYOUTS.map((l) => l.layout),
    candidates: [...MATMUL_TILE_CANDIDATES],
    timing: { warmups: 2, repeats: 7, targetPassSeconds: 0.05, maxPerPass: 500 },
    quick: false,
    out: null,
    help: false,
  };
}

/** Quick: one small candidate at 64³, one pass each: proves the sweep runs (CI); the numbers mean nothing. */
export function tuneQuick(): TuneBenchOptions {
  const small = MATMUL_TILE_CANDIDATES.find((c) => c.tileM === 64 && c.tileN === 64)!;
  return { ...tuneDefaults(), problems: [{ kind: 'square', n: 64 }], candidates: [small], timing: { warmups: 0, repeats: 1, targetPassSeconds: 0, maxPerPass: 1 }, quick: true };
}

export function tuneHelpText(): string {
  return [
    'Usage: npm run bench -- tune [flags]',
    '',
    'Times every f32 matmul tile candidate (src/engine/ops/matmul-tiled.ts) against the built-in kernel in the',
    'forward (NT), ∇X (NN) and ∇W (TN) layouts, each checked against a float64 product first, and says which',
    'the engine would choose on this adapter.',
    '',
    `  --sizes LIST           square sizes n (n³ products; default ${TUNE_DEFAULT_SIZE})`,
    '  --linear LIST          linear layers ROWSxDINxDOUT (e.g. 8192x2048x8192): their three products instead',
    '  --layouts LIST         any of NT,NN,TN (default all)',
    '  --candidates LIST      candidate ids as printed (default all)',
    '  --repeats N            timed passes per candidate (median; default 7)',
    '  --quick                one small candidate at 64³ (any adapter): proves the sweep runs',
    '  --out FILE.json        every candidate\'s result, the device and the options as JSON',
    '  --help',
  ].join('\n');
}


function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

export function parseTuneArgs(argv: readonly string[]): TuneBenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        sizes: { type: 'string' },
        linear: { type: 'string' },
        layouts: { type: 'string' },
        candidates: { type: 'string' },
        repeats: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new CliError(`${(e as Error).message.split('\n')[0]} (see npm run bench -- tune --help)`);
  }
  const v = parsed.values;
  const o = v.quick ? tuneQuick() : tuneDefaults();
  o.help = Boolean(v.help);
  if (v.sizes && v.linear) throw new CliError('give --sizes or --linear, not both');
  if (v.sizes) o.problems = list(v.sizes).map((s) => ({ kind: 'square', n: positiveInt('sizes', s) }));
  if (v.linear) {
    o.problems = list(v.linear).map((s) => {
      const parts = s.split('x');
      if (parts.length !== 3) throw new CliError(`--linear takes ROWSxDINxDOUT (e.g. 8192x2048x8192), got "${s}"`);
      const [rows, dIn, dOut] = parts.map((p) => positiveInt('linear', p));
      return { kind: 'linear', rows, dIn, dOut };
    });
  }
  if (o.problems.length === 0) throw new CliError('--sizes / --linear need at least one entry');
  if (v.layouts !== undefined) o.layouts = listOf('layouts', v.layouts, TUNED_LAYOUTS.map((l) => l.layout));
  if (v.candidates !== undefined) {
    const byId = new Map(MATMUL_TILE_CANDIDATES.map((c) => [tileConfigId(c), c]));
    o.candidates = listOf('candidates', v.candidates, [...byId.keys()]).map((id) => byId.get(id)!);
  }
  if (v.repeats) o.timing = { ...o.timing, repeats: positiveInt('repeats', v.repeats) };
  if (v.out) o.out = v.out;
  return o;
}

function problemName(p: TuneProblem): string {
  return p.kind === 'square' ? `${p.n}³` : `linear ${p.rows}×${p.dIn}→${p.dOut}`;
}

function shapesOf(p: TuneProblem): Record<TunedLayout, MatmulShape[]> {
  if (p.kind === 'linear') return linearTuningShapes(p.rows, p.dIn, p.dOut);
  const s = [{ M: p.n, N: p.n, K: p.n }];
  return { NT: s, NN: s, TN: s };
}

export interface TuneBenchReport {
  device: string;
  /** False on a CPU adapter: the engine would not tune there (the sweep ran because it was asked for). */
  engineWouldTune: boolean;
  quick: boolean;
  date: string;
  args: string[];
  results: { problem: string; tuning: MatmulTuning }[];
  /** Problems that did not run (a matrix over the device's binding limit, …) and why. */
  skipped: { problem: string; reason: string }[];
}

export async function runTuneBench(ctx: GpuContext, o: TuneBenchOptions, args: readonly string[] = [], log?: (line: string) => void): Promise<TuneBenchReport> {
  const report: TuneBenchReport = { device: describeGpu(ctx), engineWouldTune: shouldTune(ctx.adapterInfo), quick: o.quick, date: new Date().toISOString(), args: [...args], results: [], skipped: [] };
  const memory = new GpuMemory(ctx.device);
  try {
    const k = new Kernels(ctx.device, memory, ctx.capabilities);
    for (const p of o.problems) {
      const shapes = shapesOf(p);
      const largest = Math.max(...o.layouts.flatMap((l) => shapes[l].flatMap((s) => [s.M * s.K, s.K * s.N, s.M * s.N]))) * 4;
      if (largest > ctx.limits.maxStorageBufferBindingSize) {
        report.skipped.push({ problem: problemName(p), reason: `an operand of ${(largest / 2 ** 20).toFixed(0)} MiB is over this device's storage binding limit (${(ctx.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB)` });
        continue;
      }
      const tuning = await tuneMatmul(k, { shapes, layouts: o.layouts, candidates: o.candidates, timing: o.timing, log: log && ((l) => log(`${problemName(p)}: ${l}`)) });
      report.results.push({ problem: problemName(p), tuning });
    }
  } finally {
    memory.destroy();
  }
  return report;
}

/** A Markdown table per problem: layout, candidate, TFLOP/s, % of the built-in kernel, chosen. */
export function formatTuneReport(r: TuneBenchReport): string {
  const out: string[] = [`device: ${r.device}`];
  if (!r.engineWouldTune) out.push('note: a CPU adapter — the engine keeps the built-in kernel here without tuning; these numbers are not speed results');
  if (r.quick) out.push('quick run: one small candidate, one pass each — proves the sweep runs, not a speed result');
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  for (const { problem, tuning } of r.results) {
    out.push('', `${problem}: tuned in ${tuning.seconds.toFixed(1)} s, timing by ${tuning.method === 'timestamp' ? 'GPU timestamps' : 'wall clock'}`, '');
    const head = ['layout', 'candidate', 'TFLOP/s', '% of built-in', 'chosen', 'config / why dropped'];
    out.push(line(head), line(head.map(() => '---')));
    for (const { layout } of TUNED_LAYOUTS) {
      const l = tuning.layouts[layout];
      if (!l) continue;
      for (const c of l.candidates) {
        const chosen = c.config === null ? l.chosen === null : c.config === l.chosen;
        out.push(line([
          `${layout} (${l.use})`,
          c.name,
          c.tflops === null ? '—' : c.tflops.toPrecision(3),
          c.tflops === null || !Number.isFinite(l.builtinTflops) ? '—' : `${((100 * c.tflops) / l.builtinTflops).toFixed(0)}%`,
          chosen ? 'yes' : '',
          c.dropped ? `dropped: ${c.dropped}` : c.config ? describeTileConfig(c.config) : 'src/shaders/matmul.wgsl, 64×64 tile, 4×4 per thread',
        ]));
      }
    }
  }
  for (const s of r.skipped) out.push(`skipped: ${s.problem}: ${s.reason}`);
  return out.join('\n');
}

/** Candidates that failed their check or failed to build (a bug in the generator or the driver: the run
 *  exits non-zero); candidates over the device's limits are not failures. */
export function tuneFailures(r: TuneBenchReport): string[] {
  const out: string[] = [];
  for (const { problem, tuning } of r.results) {
    for (const l of Object.values(tuning.layouts)) {
      for (const c of l!.candidates) if (c.dropped && !c.dropped.startsWith('not run:')) out.push(`${problem} ${l!.layout} ${c.name}: ${c.dropped}`);
    }
  }
  return out;
}
