// The page's description of one run: what the config panel edits, what the URL carries and what the
// worker turns into the engine's RunConfig. Pure data and functions, no DOM, so it is unit-tested in Node.
import {
  BACKWARD_QUANTIZERS,
  type BackwardQuantizer,
  ConfigError,
  DEFAULT_TRAIN,
  FORWARD_QUANTIZERS,
  type ForwardQuantizer,
  modelConfigFromPreset,
  PRECISIONS,
  PRESETS,
  type Precision,
  QUANTIZED_PRECISIONS,
  quantizerChoice,
  type RunConfig,
  type TrainConfig,
  validateRunConfig,
} from '../engine/config';

/** Datasets the page offers: the bundled names corpus and the synthetic tasks. */
export const DATASET_CHOICES = ['names', 'reverse', 'sort', 'addmod'] as const;
export type DatasetChoice = (typeof DATASET_CHOICES)[number];

/** Model sizes the page offers (kept to those that train in reasonable time in a browser). */
export const PRESET_CHOICES = ['tiny', 'small'] as const;
export type PresetChoice = (typeof PRESET_CHOICES)[number];

export { BACKWARD_QUANTIZERS, FORWARD_QUANTIZERS, PRECISIONS };
export type { BackwardQuantizer, ForwardQuantizer, Precision };

export const MAX_STEPS = 20_000;
export const MAX_BATCH = 256;
export const HADAMARD_BLOCKS = [1, 2, 4, 8, 16, 32, 64, 128] as const;
/** Steps between training checkpoints unless the config says otherwise: on a slow adapter a few
 *  minutes of training at most is taken again after a lost device. */
export const DEFAULT_CHECKPOINT_EVERY = 100;

export interface PageConfig {
  dataset: DatasetChoice;
  preset: PresetChoice;
  precision: Precision;
  /** Overrides of a quantized precision's parts (the paper's Fig. 3 ablations); undefined = the
   *  precision's own choice. */
  forwardQuantizer?: ForwardQuantizer;
  backwardQuantizer?: BackwardQuantizer;
  bits?: number;
  /** The largest Hadamard block, or 'auto': each layer's block searched on the first batch. */
  hadamardBlock: number | 'auto';
  /** undefined = the preset's learning rate / batch size. */
  lr?: number;
  batchSize?: number;
  steps: number;
  seed: number;
  /** Steps between validation losses during training (0 = only at the end). */
  evalEvery: number;
  /** Steps between per-layer measurement snapshots (0 = off). */
  measureEvery: number;
  /** Steps between training checkpoints (0 = off): a lost GPU device or a NaN resumes from the last one,
   *  and it is saved with the run. Absent in runs saved before it existed: the default then. */
  checkpointEvery?: number;
  /** Samples generated at the end of the run (0 = none). */
  samples: number;
  /** Steps between sample generations during training (0 = only at the end). */
  sampleEvery: number;
}

export const DEFAULT_CONFIG: PageConfig = {
  dataset: 'names',
  preset: 'tiny',
  precision: 'int4',
  hadamardBlock: DEFAULT_TRAIN.hadamardBlock,
  steps: 300,
  seed: 1,
  evalEvery: 50,
  measureEvery: 10,
  checkpointEvery: DEFAULT_CHECKPOINT_EVERY,
  samples: 5,
  sampleEvery: 0,
};

export const PRECISION_LABELS: Record<Precision, string> = {
  fp32: 'FP32',
  fp16: 'FP16 (loss scaling)',
  int8: 'INT8',
  int4: 'INT4: HQ + LSS (the paper)',
  'int4-minmax': 'INT4 baseline: min-max',
  'int4-lsq-luq': 'INT4 baseline: LSQ + LUQ',
};

export const FORWARD_LABELS: Record<ForwardQuantizer, string> = {
  hq: 'hq: Hadamard + LSQ',
  lsq: 'lsq: learned step size',
  minmax: 'minmax: per-tensor range',
  none: 'none: keep float',
};

export const BACKWARD_LABELS: Record<BackwardQuantizer, string> = {
  lss: 'lss: bit split + leverage sampling',
  bitsplit: 'bitsplit: bit split, keep all rows',
  luq: 'luq: logarithmic unbiased',
  minmax: 'minmax: per-tensor range',
  none: 'none: keep float',
};

export function isQuantized(precision: Precision): boolean {
  return QUANTIZED_PRECISIONS[precision] !== undefined;
}

export function presetDefaults(preset: PresetChoice): { lr: number; batchSize: number } {
  const p = PRESETS[preset];
  return { lr: p.lr, batchSize: p.batchSize };
}

/** The engine's train config for a page config. */
export function trainConfigFor(c: PageConfig): TrainConfig {
  const d = presetDefaults(c.preset);
  const train: TrainConfig = {
    ...DEFAULT_TRAIN,
    precision: c.precision,
    hadamardBlock: c.hadamardBlock === 'auto' ? DEFAULT_TRAIN.hadamardBlock : c.hadamardBlock,
    hadamardSearch: c.hadamardBlock === 'auto',
    steps: c.steps,
    seed: c.seed,
    lr: c.lr ?? d.lr,
    batchSize: c.batchSize ?? d.batchSize,
    // Every step is read back as soon as it is done (the readback is asynchronous, so this costs no
    // stall), so a slow adapter shows progress from the first step.
    logEvery: 1,
    // A short run (tests, a quick look) must still warm up for less than it trains.
    warmupSteps: Math.min(DEFAULT_TRAIN.warmupSteps, Math.floor(c.steps / 5)),
    measureEvery: c.measureEvery,
    checkpointEvery: c.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY,
  };
  if (c.forwardQuantizer !== undefined) train.forwardQuantizer = c.forwardQuantizer;
  if (c.backwardQuantizer !== undefined) train.backwardQuantizer = c.backwardQuantizer;
  if (c.bits !== undefined) train.bits = c.bits;
  return train;
}

export function runConfigFor(c: PageConfig, vocabSize: number): RunConfig {
  return { model: modelConfigFromPreset(c.preset, vocabSize), train: trainConfigFor(c), dataset: c.dataset };
}

/** Every problem the page can see before a run starts, as messages a user can act on: the engine's own
 *  validation (the same ConfigError the worker would throw) plus the page's ranges. */
export function configProblems(c: PageConfig): string[] {
  const problems: string[] = [];
  if (!(Number.isInteger(c.steps) && c.steps >= 1 && c.steps <= MAX_STEPS)) problems.push(`steps must be a whole number from 1 to ${MAX_STEPS} (got ${c.steps})`);
  if (c.batchSize !== undefined && !(Number.isInteger(c.batchSize) && c.batchSize >= 1 && c.batchSize <= MAX_BATCH)) {
    problems.push(`batch must be a whole number from 1 to ${MAX_BATCH} (got ${c.batchSize})`);
  }
  for (const [name, v] of [['evaluate every', c.evalEvery], ['measure every', c.measureEvery], ['checkpoint every', c.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY], ['sample every', c.sampleEvery], ['samples', c.samples]] as const) {
    if (!(Number.isInteger(v) && v >= 0)) problems.push(`${name} must be a whole number ≥ 0 (got ${v})`);
  }
  if (c.samples > 32) problems.push(`samples must be at most 32 (got ${c.samples})`);
  try {
    // The vocabulary size does not affect validity; any positive value stands in for the dataset's.
    validateRunConfig(runConfigFor(c, 64));
  } catch (e) {
    if (e instanceof ConfigError) problems.push(...e.message.split('; '));
    else throw e;
  }
  return problems;
}

/** One line naming the numeric scheme, with the effective quantizers of the quantized precisions. */
export function describePrecision(c: Pick<PageConfig, 'precision' | 'forwardQuantizer' | 'backwardQuantizer' | 'bits' | 'hadamardBlock'>): string {
  const q = quantizerChoice({ ...DEFAULT_TRAIN, precision: c.precision, forwardQuantizer: c.forwardQuantizer, backwardQuantizer: c.backwardQuantizer, bits: c.bits });
  if (!q) return c.precision;
  const hq = q.forward !== 'hq' ? '' : c.hadamardBlock === 'auto' ? ', Hadamard block searched per layer' : `, Hadamard block ≤ ${c.hadamardBlock}`;
  return `${c.precision} (forward ${q.forward}${hq}, backward ${q.backward}, ${q.bits} bits)`;
}

/** A short name for a run in legends and tables. */
export function runLabel(c: PageConfig): string {
  const q = quantizerChoice({ ...DEFAULT_TRAIN, precision: c.precision, forwardQuantizer: c.forwardQuantizer, backwardQuantizer: c.backwardQuantizer, bits: c.bits });
  const preset = QUANTIZED_PRECISIONS[c.precision];
  let name: string = c.precision;
  if (q && preset && (q.forward !== preset.forward || q.backward !== preset.backward || q.bits !== preset.bits)) {
    name += ` [${q.forward}/${q.backward}/${q.bits}b]`;
  }
  return `${name} · ${c.dataset} · ${c.preset} · seed ${c.seed}`;
}

const DIFF_FIELDS: { key: keyof PageConfig; label: string }[] = [
  { key: 'dataset', label: 'dataset' },
  { key: 'preset', label: 'model' },
  { key: 'precision', label: 'precision' },
  { key: 'forwardQuantizer', label: 'forward quantizer' },
  { key: 'backwardQuantizer', label: 'backward quantizer' },
  { key: 'bits', label: 'bits' },
  { key: 'hadamardBlock', label: 'Hadamard block' },
  { key: 'lr', label: 'learning rate' },
  { key: 'batchSize', label: 'batch' },
  { key: 'steps', label: 'steps' },
  { key: 'seed', label: 'seed' },
];

/** How config `b` differs from `a`, one "field: a → b" entry per difference (quantizer fields compared
 *  by their effective values, so int4 vs int4 with forward=hq spelled out is no difference). */
export function configDifferences(a: PageConfig, b: PageConfig): string[] {
  const eff = (c: PageConfig): Record<string, unknown> => {
    const q = quantizerChoice({ ...DEFAULT_TRAIN, precision: c.precision, forwardQuantizer: c.forwardQuantizer, backwardQuantizer: c.backwardQuantizer, bits: c.bits });
    const d = presetDefaults(c.preset);
    return {
      ...c,
      forwardQuantizer: q?.forward ?? '—',
      backwardQuantizer: q?.backward ?? '—',
      bits: q?.bits ?? '—',
      // Hadamard block only matters where HQ runs.
      hadamardBlock: q?.forward === 'hq' ? c.hadamardBlock : '—',
      lr: c.lr ?? d.lr,
      batchSize: c.batchSize ?? d.batchSize,
    };
  };
  const ea = eff(a), eb = eff(b);
  return DIFF_FIELDS.filter(({ key }) => ea[key] !== eb[key]).map(({ key, label }) => `${label}: ${String(ea[key])} → ${String(eb[key])}`);
}

/** Comparison entries: a precision with optional quantizer overrides. `int4:bitsplit` is the paper's
 *  method as the official code runs it (every non-zero bit-split row kept). */
export const COMPARISON_CHOICES = ['fp32', 'fp16', 'int8', 'int4', 'int4:bitsplit', 'int4-lsq-luq', 'int4-minmax'] as const;
export type ComparisonChoice = (typeof COMPARISON_CHOICES)[number];
export const DEFAULT_COMPARISON: ComparisonChoice[] = ['fp32', 'fp16', 'int8', 'int4'];

/** The config of one comparison entry: the base config's data, model, seed and schedule, with the
 *  entry's precision and none of the base's quantizer overrides except where the entry names one. */
export function comparisonConfig(base: PageConfig, choice: ComparisonChoice): PageConfig {
  const [precision, backward] = choice.split(':') as [Precision, BackwardQuantizer | undefined];
  const c: PageConfig = { ...base, precision };
  delete c.forwardQuantizer;
  delete c.backwardQuantizer;
  delete c.bits;
  if (backward) c.backwardQuantizer = backward;
  return c;
}
