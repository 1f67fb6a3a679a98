// `npm run bench -- targets FILE…`: the fast-engine issue's targets, judged from the result files of one GPU
// session — the engine's bench (`--out`), its f32 tile sweep (`tune --out`) and the PyTorch peer
// (`python3 bench/torch_bench.py`, JSON lines) — so every run says which targets it met and, where one is
// missed, by how much. No GPU is needed: the files are read, nothing is timed here.
import { readFileSync } from 'node:fs';
import type { MatmulTuning, TunedLayout } from '../engine/ops/matmul-tune';
import type { BenchRow } from './rows';

/** One line of bench/torch_bench.py's output. */
export interface TorchRow {
  section: string;
  name: string;
  /** n for a kernel (number), the model for training rows (`model`). */
  size: number | string;
  model?: string;
  metric: string;
  value: number;
  steps_per_s?: number;
  checked?: boolean;
}

export interface TuneFile {
  results: { problem: string; tuning: MatmulTuning }[];
}

/** What the result files held, by kind. */
export interface TargetInputs {
  engine: BenchRow[];
  tune: TuneFile['results'];
  torch: TorchRow[];
}

export type TargetStatus = 'met' | 'missed' | 'not measured';

export interface TargetVerdict {
  target: string;
  measured: string;
  status: TargetStatus;
  /** Missed: how far off, in words ("needs 1.31× more"); not measured: what to run. */
  note: string;
}

/** The square size the kernel targets are stated at. */
export const TARGET_KERNEL_SIZE = 4096;

/** The engine's layout names (bench rows), the tuner's and cuBLAS's (torch_bench.py) for one product. */
const F32_LAYOUTS: { bench: string; tuned: TunedLayout; use: string }[] = [
  { bench: 'transB', tuned: 'NT', use: 'forward X·Wᵀ' },
  { bench: 'plain', tuned: 'NN', use: '∇X = ∇Y·W' },
  { bench: 'transA', tuned: 'TN', use: '∇W = ∇Yᵀ·X' },
];

/** Sorts parsed result files into their kinds: a bench report has `rows`, a tune report `results`, and
 *  the PyTorch script prints one JSON object per line. Lines that are not JSON (logs) are skipped. Rows
 *  that failed their correctness check never count; where two files hold the same row (a kernel of the same
 *  name, size and path; a training run of the same name and model), the later file's wins, so a rerun given
 *  after an older run replaces it. The same for the PyTorch rows. */
export function parseTargetInputs(texts: readonly string[]): TargetInputs {
  const out: TargetInputs = { engine: [], tune: [], torch: [] };
  for (const text of texts) {
    let whole: unknown = null;
    try {
      whole = JSON.parse(text);
    } catch {
      whole = null;
    }
    if (whole && typeof whole === 'object' && Array.isArray((whole as { rows?: unknown }).rows)) {
      out.engine.push(...((whole as { rows: BenchRow[] }).rows.filter((r) => r.checked)));
      continue;
    }
    if (whole && typeof whole === 'object' && Array.isArray((whole as { results?: unknown }).results)) {
      out.tune.push(...(whole as TuneFile).results);
      continue;
    }
    for (const line of text.split('\n')) {
      const t = line.trim();
      if (!t.startsWith('{')) continue;
      try {
        const row = JSON.parse(t) as TorchRow;
        if (typeof row.section === 'string' && typeof row.value === 'number' && row.checked !== false) out.torch.push(row);
      } catch {
        // a log line that happens to start with a brace
      }
    }
  }
  const latest = new Map<string, BenchRow>();
  // A training row's path names the kernels it chose at start-up, with their timings: not part of its identity.
  for (const r of out.engine) latest.set(JSON.stringify([r.section, r.name, r.size, r.section === 'kernel' ? r.path : '']), r);
  out.engine = [...latest.values()];
  const latestTorch = new Map<string, TorchRow>();
  for (const r of out.torch) latestTorch.set(JSON.stringify([r.section, r.name, r.size, r.model ?? '']), r);
  out.torch = [...latestTorch.values()];
  return out;
}

/** Three significant digits; whole numbers with thousands separators from 1,000 up (tokens/s, MiB). */
const fmt = (x: number, digits = 3) => {
  if (!Number.isFinite(x)) return '?';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return x.toPrecision(digits);
};

function best(values: number[]): number | null {
  const finite = values.filter((v) => Number.isFinite(v) && v > 0);
  return finite.length ? Math.max(...finite) : null;
}

/** "at least `goal`": met, or missed with the factor still needed. */
function atLeast(target: string, measured: string, value: number, goal: number): TargetVerdict {
  return value >= goal
    ? { target, measured, status: 'met', note: '' }
    : { target, measured, status: 'missed', note: `short by ${fmt(goal / value)}× (${fmt(100 * (1 - value / goal), 2)}% below the target)` };
}

/** The adapter's measured ceilings for one instruction (`npm run bench -- --sections ceilings`), in words,
 *  for a missed kernel target: how far the kernel is from what the instruction allows on the same GPU — the
 *  highest rate measured with operands on registers, and the highest of the tiled kernels' inner loops (what
 *  a kernel of that loop could reach if its staging cost nothing). Empty where the files hold none. */
export function ceilingNote(rows: readonly BenchRow[], name: string, unit: string, ours: number): string {
  const ceilings = rows.filter((r) => r.section === 'kernel' && r.name === name && r.size === CEILING_SIZE);
  const highest = (onRegisters: boolean) =>
    ceilings.filter((r) => r.path.startsWith('registers') === onRegisters).reduce<BenchRow | null>((a, r) => (a && a.value >= r.value ? a : r), null);
  const parts: string[] = [];
  for (const [r, label] of [[highest(true), 'on registers'], [highest(false), 'in a tiled inner loop']] as const) {
    if (!r) continue;
    const what = label === 'on registers' ? '' : ` (${r.path.replace(/^the tiled kernel's inner loop: /, '').split(/, (operands|4 \+ 4)/)[0]})`;
    parts.push(`${label} ${fmt(r.value)} ${unit}${what}: this kernel at ${Math.round((100 * ours) / r.value)}%`);
  }
  return parts.length ? `; ceilings on this GPU: ${parts.join('; ')}` : '';
}

/** The size the ceilings report at full scale (`quick` rows are not speed results). */
const CEILING_SIZE = 'full GPU';

function withCeilings(v: TargetVerdict, note: string): TargetVerdict {
  return v.status === 'missed' && note ? { ...v, note: v.note + note } : v;
}

function notMeasured(target: string, run: string): TargetVerdict {
  return { target, measured: '—', status: 'not measured', note: run };
}

function trainRow(rows: BenchRow[], model: string, name: string): BenchRow | undefined {
  return rows.find((r) => r.section === 'train' && r.name === name && r.size.startsWith(`${model}:`));
}

export function evaluateTargets(inputs: TargetInputs): TargetVerdict[] {
  const { engine, tune, torch } = inputs;
  const size = `${TARGET_KERNEL_SIZE}³`;
  const verdicts: TargetVerdict[] = [];

  // f32: the engine's best at 4096³ per layout (the built-in kernel's bench row, or the tile sweep's best
  // candidate) against cuBLAS SGEMM measured in the same session; the slowest layout decides.
  {
    const target = `f32 matmul at ${size} ≥ 90% of cuBLAS SGEMM (TF32 off), every layout`;
    const sweep = tune.find((t) => t.problem === size)?.tuning;
    const parts: { use: string; ours: number; cublas: number }[] = [];
    for (const l of F32_LAYOUTS) {
      const builtin = engine.filter((r) => r.section === 'kernel' && r.name === `matmul f32 ${l.bench}` && r.size === size).map((r) => r.value);
      const tuned = (sweep?.layouts[l.tuned]?.candidates ?? []).map((c) => c.tflops ?? NaN);
      const ours = best([...builtin, ...tuned]);
      const cublas = best(torch.filter((r) => r.section === 'kernel' && r.name === `cublas sgemm ${l.bench}` && Number(r.size) === TARGET_KERNEL_SIZE).map((r) => r.value));
      if (ours !== null && cublas !== null) parts.push({ use: l.use, ours, cublas });
    }
    if (parts.length < F32_LAYOUTS.length) {
      verdicts.push(notMeasured(target, `needs the engine's f32 rows at ${size} (\`npm run bench -- tune --sizes ${TARGET_KERNEL_SIZE} --out F\` or \`--sections kernels --groups f32\`) and cuBLAS's (\`python3 bench/torch_bench.py --sections kernels --sizes ${TARGET_KERNEL_SIZE}\`) from the same GPU`));
    } else {
      const worst = parts.reduce((a, b) => (a.ours / a.cublas <= b.ours / b.cublas ? a : b));
      const measured = parts.map((p) => `${p.use}: ${fmt(p.ours)} vs ${fmt(p.cublas)} TFLOP/s (${fmt((100 * p.ours) / p.cublas, 2)}%)`).join('; ');
      verdicts.push(withCeilings(atLeast(target, measured, worst.ours / worst.cublas, 0.9), ceilingNote(engine, 'ceiling f32 fma', 'TFLOP/s', worst.ours)));
    }
  }

  // Integer products at 4096³, per path: the better of INT4 and INT8 codes is not enough, each format counts.
  for (const [path, goal, label, ceiling] of [['i8 subgroup matrices', 400, 'subgroup matrices', 'ceiling subgroup-matrix i8'], ['dot4I8Packed', 100, 'dot4I8Packed', 'ceiling dot4I8Packed']] as const) {
    const target = `INT4 and INT8 matmul at ${size} ≥ ${goal} TOP/s through ${label}`;
    const per = (format: string) => best(engine.filter((r) => r.section === 'kernel' && r.name === `intMatmul ${format}` && r.size === size && r.path.startsWith(path)).map((r) => r.value));
    const [int4, int8] = [per('int4'), per('int8')];
    if (int4 === null || int8 === null) {
      verdicts.push(notMeasured(target, `needs \`npm run bench -- --sections kernels --groups int --sizes ${TARGET_KERNEL_SIZE}\`${path === 'i8 subgroup matrices' ? ' (with --int-tilings for every tiling) on an adapter with subgroup matrices' : ''}`));
    } else {
      verdicts.push(withCeilings(atLeast(target, `int4 ${fmt(int4)}, int8 ${fmt(int8)} TOP/s`, Math.min(int4, int8), goal), ceilingNote(engine, ceiling, 'TOP/s', Math.max(int4, int8))));
    }
  }

  // End to end at d_model 2048.
  const fp32 = trainRow(engine, 'd2048', 'train fp32');
  const int4 = trainRow(engine, 'd2048', 'train int4');
  const int8 = trainRow(engine, 'd2048', 'train int8');
  const trainRun = '`npm run bench -- --sections train --models d2048 --precisions fp32,int8,int4`';
  {
    const target = 'INT4 (HQ + LSS) training step at d_model 2048 ≥ 1.6× as fast as FP32';
    if (!fp32 || !int4) verdicts.push(notMeasured(target, `needs ${trainRun}`));
    else verdicts.push(atLeast(target, `${fmt(int4.value)} vs ${fmt(fp32.value)} tokens/s: ${fmt(int4.value / fp32.value)}×`, int4.value / fp32.value, 1.6));
  }
  {
    const target = 'INT8 training step at d_model 2048 faster than FP32';
    if (!fp32 || !int8) verdicts.push(notMeasured(target, `needs ${trainRun}`));
    else {
      const ratio = int8.value / fp32.value;
      verdicts.push(ratio > 1
        ? { target, measured: `${fmt(int8.value)} vs ${fmt(fp32.value)} tokens/s: ${fmt(ratio)}×`, status: 'met', note: '' }
        : { target, measured: `${fmt(int8.value)} vs ${fmt(fp32.value)} tokens/s: ${fmt(ratio)}×`, status: 'missed', note: `short by ${fmt(1 / ratio)}×` });
    }
  }

  // The teaching preset against PyTorch eager (same model, same batch, same GPU).
  {
    const target = 'teaching preset (`small`, fp32) steps/s ≥ PyTorch eager';
    const ours = trainRow(engine, 'small', 'train fp32');
    const eager = torch.find((r) => r.section === 'peer' && r.name === 'pytorch-eager fp32' && r.model === 'small');
    if (!ours?.stepsPerSecond || !eager?.steps_per_s) verdicts.push(notMeasured(target, 'needs `npm run bench -- --sections train --models small --precisions fp32` and `python3 bench/torch_bench.py --sections train --models small`'));
    else verdicts.push(atLeast(target, `${fmt(ours.stepsPerSecond)} vs ${fmt(eager.steps_per_s)} steps/s: ${fmt(ours.stepsPerSecond / eager.steps_per_s)}×`, ours.stepsPerSecond / eager.steps_per_s, 1));
  }

  // TF.js WebGPU on the same model and GPU: every model both ran, the smallest ratio decides.
  {
    const target = 'tokens/s ≥ 3× TF.js WebGPU (same model, same GPU), every model';
    const pairs = engine
      .filter((r) => r.section === 'peer' && r.name === 'tfjs-webgpu fp32')
      .flatMap((peer) => {
        const ours = engine.find((r) => r.section === 'train' && r.name === 'train fp32' && r.size === peer.size);
        return ours ? [{ model: peer.size.split(':')[0], ratio: ours.value / peer.value }] : [];
      });
    if (!pairs.length) verdicts.push(notMeasured(target, 'needs `npm run bench -- --sections train,peer --precisions fp32`'));
    else {
      const worst = Math.min(...pairs.map((p) => p.ratio));
      verdicts.push(atLeast(target, pairs.map((p) => `${p.model} ${fmt(p.ratio)}×`).join(', '), worst, 3));
    }
  }

  // GPU memory of the INT4 run against the FP32 run at d_model 2048 (a ceiling: lower is better).
  {
    const target = 'INT4 run GPU memory ≤ 40% of the FP32 run at d_model 2048';
    if (!fp32?.gpuMemoryBytes || !int4?.gpuMemoryBytes) verdicts.push(notMeasured(target, `needs ${trainRun}`));
    else {
      const ratio = int4.gpuMemoryBytes / fp32.gpuMemoryBytes;
      const measured = `${fmt(int4.gpuMemoryBytes / 2 ** 20, 4)} vs ${fmt(fp32.gpuMemoryBytes / 2 ** 20, 4)} MiB: ${fmt(100 * ratio, 3)}%`;
      verdicts.push(ratio <= 0.4
        ? { target, measured, status: 'met', note: '' }
        : { target, measured, status: 'missed', note: `${fmt(ratio / 0.4)}× the ceiling (docs/benchmarks.md, GPU memory, says why)` });
    }
  }
  return verdicts;
}

/** A Markdown table of the verdicts. */
export function formatTargets(verdicts: readonly TargetVerdict[]): string {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  const lines = ['| target | measured | status |', '|---|---|---|'];
  for (const v of verdicts) lines.push(`| ${cell(v.target)} | ${cell(v.measured)} | ${cell(v.status)}${v.note ? `: ${cell(v.note)}` : ''} |`);
  const met = verdicts.filter((v) => v.status === 'met').length;
  const missed = verdicts.filter((v) => v.status === 'missed').length;
  lines.push('', `${met} met, ${missed} missed, ${verdicts.length - met - missed} not measured by these files`);
  return lines.join('\n');
}

export function targetsHelpText(): string {
  return [
    'Usage: npm run bench -- targets FILE...',
    '',
    "Judges the fast-engine issue's targets from result files of one GPU session: the bench's --out JSON",
    '(kernels, ceilings, train, peer sections), the tile sweep\'s (`npm run bench -- tune --out F`) and the output of',
    '`python3 bench/torch_bench.py` (JSON lines). Prints each target as met, missed (and by how much) or not',
    'measured by the files given (and what to run). Reads files only; needs no GPU.',
  ].join('\n');
}

/** `npm run bench -- targets FILE…`. Exit 2 without files or with one that cannot be read. */
export function targetsMain(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    out(targetsHelpText() + '\n');
    return 0;
  }
  if (argv.length === 0) {
    err(`error: no result files given\n\n${targetsHelpText()}\n`);
    return 2;
  }
  const texts: string[] = [];
  for (const file of argv) {
    try {
      texts.push(readFileSync(file, 'utf8'));
    } catch (e) {
      err(`error: cannot read ${file}: ${(e as Error).message}\nGive the files the bench (--out), the tile sweep (tune --out) or bench/torch_bench.py wrote.\n`);
      return 2;
    }
  }
  out(formatTargets(evaluateTargets(parseTargetInputs(texts))) + '\n');
  return 0;
}
