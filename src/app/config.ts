// The page's description of one run: what the config panel edits, what the URL carries and what the
// worker turns into the engine's RunConfig. Pure data and functions, no DOM, so it is unit-tested in Node.
import {
  ATTENTION_KERNEL_CHOICES,
  type AttentionKernelChoice,
  type Architecture,
  ARCHITECTURES,
  BACKWARD_QUANTIZERS,
  type BackwardQuantizer,
  ConfigError,
  MATMUL_TUNING_CHOICES,
  type MatmulTuningChoice,
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
  type ModelConfig,
  validateRunConfig,
} from '../engine/config';
import { CLASSIFICATION_TASKS, isClassificationDataset } from '../engine/data/classify';
import { type Dataset, DatasetError } from '../engine/data/dataset';
import { Rng } from '../engine/data/rng';
import { SYNTHETIC_TASKS } from '../engine/data/synthetic';
import { isTranslationDataset, TRANSLATION_TASKS } from '../engine/data/translate';

export { ARCHITECTURES };
export type { Architecture };

/** A dataset name the page offers. The engine's tables (below) are the lists; a name is checked against
 *  the list of the config's architecture (configProblems, parseUrl), so it is a plain string here. */
export type DatasetChoice = string;

/** The datasets each architecture trains on, from the engine's own tables: the bundled names corpus and
 *  the synthetic tasks for the GPT, the classification tasks for the encoder, the translation tasks for
 *  the encoder-decoder (the engine's datasetNamesFor, without the user's text file the page cannot
 *  read). `reverse` and `sort` exist for both the GPT (prompt>answer in one sequence) and the
 *  encoder-decoder (source → target). */
export const DATASETS_BY_ARCHITECTURE: Record<Architecture, readonly DatasetChoice[]> = {
  decoder: ['names', ...Object.keys(SYNTHETIC_TASKS)],
  encoder: Object.keys(CLASSIFICATION_TASKS),
  'encoder-decoder': Object.keys(TRANSLATION_TASKS),
};

/** Every dataset name of any architecture (what a URL's dataset= may hold before the architecture
 *  check). */
export const DATASET_CHOICES: readonly DatasetChoice[] = [...new Set(ARCHITECTURES.flatMap((a) => DATASETS_BY_ARCHITECTURE[a]))];

/** The dataset an architecture starts on when it is chosen. */
export const DEFAULT_DATASET: Record<Architecture, DatasetChoice> = { decoder: 'names', encoder: 'majority', 'encoder-decoder': 'reverse' };

export const ARCHITECTURE_LABELS: Record<Architecture, string> = {
  decoder: 'decoder: GPT (next-token prediction)',
  encoder: 'encoder: classifier (BERT-like, [CLS])',
  'encoder-decoder': 'encoder-decoder: translation',
};

/** A config's architecture; runs saved before the page offered architectures have none: the GPT. */
export function architectureOf(c: Pick<PageConfig, 'architecture'>): Architecture {
  return c.architecture ?? 'decoder';
}

/** How the page describes a dataset of an architecture: the engine's own one-line description. */
export function datasetDescription(architecture: Architecture, name: DatasetChoice): string {
  const own = <T extends { description: string }>(table: Record<string, T>) => (Object.hasOwn(table, name) ? table[name].description : undefined);
  if (architecture === 'encoder') return own(CLASSIFICATION_TASKS) ?? name;
  if (architecture === 'encoder-decoder') return own(TRANSLATION_TASKS) ?? name;
  if (name === 'names') return 'invent first names';
  return own(SYNTHETIC_TASKS) ?? name;
}

/** Model sizes the page offers (kept to those that train in reasonable time in a browser). */
export const PRESET_CHOICES = ['tiny', 'small'] as const;
export type PresetChoice = (typeof PRESET_CHOICES)[number];

export { BACKWARD_QUANTIZERS, FORWARD_QUANTIZERS, PRECISIONS };
export type { BackwardQuantizer, ForwardQuantizer, Precision };

export const MAX_STEPS = 20_000;
export const MAX_BATCH = 256;
export const HADAMARD_BLOCKS = [1, 2, 4, 8, 16, 32, 64, 128] as const;
/** Longest decoder context and encoder source the page builds (the presets have 16 and 32). */
export const MAX_CONTEXT = 256;
export const MAX_SOURCE_LENGTH = 256;
/** Steps between attention-map snapshots unless the config says otherwise. */
export const DEFAULT_ATTENTION_EVERY = 25;
/** Steps between training checkpoints unless the config says otherwise: on a slow adapter a few
 *  minutes of training at most is taken again after a lost device. */
export const DEFAULT_CHECKPOINT_EVERY = 100;

export interface PageConfig {
  /** The block arrangement (engine ModelConfig.architecture). Absent in runs saved before the page
   *  offered it: the decoder. */
  architecture?: Architecture;
  /** One of DATASETS_BY_ARCHITECTURE[architecture]. */
  dataset: DatasetChoice;
  preset: PresetChoice;
  /** The decoder's context (the encoder's for the classifier); undefined = the preset's. */
  contextLength?: number;
  /** Encoder-decoder only: positions the encoder reads; undefined = what the task needs (its longest
   *  source). */
  sourceLength?: number;
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
  /** Steps between sample generations during training (0 = only at the end). For the classifier and
   *  the encoder-decoder: their accuracy on validation examples, of which `samples` are listed. */
  sampleEvery: number;
  /** Steps between attention-map snapshots of the shown example (0 = only at the end); absent in runs
   *  saved before it existed: the default. */
  attentionEvery?: number;
  /** GPU kernels (TrainConfig): absent = the engine's default ('auto' both). */
  attentionKernel?: AttentionKernelChoice;
  matmulTuning?: MatmulTuningChoice;
}

export { ATTENTION_KERNEL_CHOICES, MATMUL_TUNING_CHOICES };
export const ATTENTION_KERNEL_LABELS: Record<AttentionKernelChoice, string> = {
  auto: 'auto: fused where heads are ≤ 128 wide',
  fused: 'fused (FlashAttention-style)',
  separate: 'separate products (scores kept)',
};
export const MATMUL_TUNING_LABELS: Record<MatmulTuningChoice, string> = {
  auto: 'auto: time tile shapes on this GPU',
  off: 'off: built-in kernel',
};

export const DEFAULT_CONFIG: PageConfig = {
  architecture: 'decoder',
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
  attentionEvery: DEFAULT_ATTENTION_EVERY,
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
  if (c.attentionKernel !== undefined) train.attentionKernel = c.attentionKernel;
  if (c.matmulTuning !== undefined) train.matmulTuning = c.matmulTuning;
  if (c.forwardQuantizer !== undefined) train.forwardQuantizer = c.forwardQuantizer;
  if (c.backwardQuantizer !== undefined) train.backwardQuantizer = c.backwardQuantizer;
  if (c.bits !== undefined) train.bits = c.bits;
  return train;
}

const generatedDatasets = new Map<string, Dataset>();

/** The dataset of a config when it is generated in code (every task of every architecture), else null
 *  (the names corpus, which only the worker fetches, and names no list has). Cached: the config panel
 *  asks on every render. */
export function generatedDataset(c: Pick<PageConfig, 'architecture' | 'dataset'>): Dataset | null {
  const architecture = architectureOf(c);
  const key = `${architecture}:${c.dataset}`;
  const cached = generatedDatasets.get(key);
  if (cached) return cached;
  const table: Record<string, { create(): Dataset }> = architecture === 'encoder' ? CLASSIFICATION_TASKS : architecture === 'encoder-decoder' ? TRANSLATION_TASKS : SYNTHETIC_TASKS;
  if (!Object.hasOwn(table, c.dataset)) return null;
  const d = table[c.dataset].create();
  generatedDatasets.set(key, d);
  return d;
}

/** The engine's model config of a page config: the preset's shape with the page's context, and what
 *  the architecture needs from its dataset (the classifier's classes, the encoder's source length). */
export function modelConfigFor(c: PageConfig, vocabSize: number): ModelConfig {
  const architecture = architectureOf(c);
  const m: ModelConfig = { ...modelConfigFromPreset(c.preset, vocabSize), architecture };
  if (c.contextLength !== undefined) m.contextLength = c.contextLength;
  const d = architecture === 'decoder' ? null : generatedDataset(c);
  // A dataset of another architecture leaves these at 0, which the engine's validation names.
  if (architecture === 'encoder') m.numClasses = d && isClassificationDataset(d) ? d.classes.length : 0;
  if (architecture === 'encoder-decoder') m.sourceLength = c.sourceLength ?? (d && isTranslationDataset(d) ? d.minSourceLength : 0);
  return m;
}

export function runConfigFor(c: PageConfig, vocabSize: number): RunConfig {
  return { model: modelConfigFor(c, vocabSize), train: trainConfigFor(c), dataset: c.dataset };
}

/** The engine's dataset messages name the command line's flags; on the page the same fix is a field. */
export function pageWording(message: string): string {
  return message
    .replace(/use --context (\d+) or more/g, 'set Context to $1 or more (or choose a model with a longer context)')
    .replace(/use a longer --context/g, 'set a longer Context')
    .replace(/use --source-length (\d+) or more/g, 'set Source length to $1 or more');
}

/** Every problem the page can see before a run starts, as messages a user can act on: the engine's own
 *  validation (the same ConfigError the worker would throw) plus the page's ranges. */
export function configProblems(c: PageConfig): string[] {
  const problems: string[] = [];
  if (!(Number.isInteger(c.steps) && c.steps >= 1 && c.steps <= MAX_STEPS)) problems.push(`steps must be a whole number from 1 to ${MAX_STEPS} (got ${c.steps})`);
  if (c.batchSize !== undefined && !(Number.isInteger(c.batchSize) && c.batchSize >= 1 && c.batchSize <= MAX_BATCH)) {
    problems.push(`batch must be a whole number from 1 to ${MAX_BATCH} (got ${c.batchSize})`);
  }
  for (const [name, v] of [['evaluate every', c.evalEvery], ['measure every', c.measureEvery], ['checkpoint every', c.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY], ['sample every', c.sampleEvery], ['samples', c.samples], ['attention every', c.attentionEvery ?? DEFAULT_ATTENTION_EVERY]] as const) {
    if (!(Number.isInteger(v) && v >= 0)) problems.push(`${name} must be a whole number ≥ 0 (got ${v})`);
  }
  if (c.samples > 32) problems.push(`samples must be at most 32 (got ${c.samples})`);
  const architecture = architectureOf(c);
  if (!ARCHITECTURES.includes(architecture)) {
    // Nothing else can be checked without knowing what the model is.
    problems.push(`architecture must be one of ${ARCHITECTURES.join(', ')} (got ${String(architecture)})`);
    return problems;
  }
  const datasets = DATASETS_BY_ARCHITECTURE[architecture];
  if (!datasets.includes(c.dataset)) {
    const fits = ARCHITECTURES.filter((a) => DATASETS_BY_ARCHITECTURE[a].includes(c.dataset));
    problems.push(`dataset ${c.dataset} is not one the ${ARCHITECTURE_LABELS[architecture].split(':')[0]} trains on (${datasets.join(', ')})${fits.length ? `; it is a dataset of the ${fits.join(' and the ')}` : ''}`);
    return problems;
  }
  if (c.contextLength !== undefined && !(Number.isInteger(c.contextLength) && c.contextLength >= 2 && c.contextLength <= MAX_CONTEXT)) {
    problems.push(`context must be a whole number from 2 to ${MAX_CONTEXT} (got ${c.contextLength})`);
  }
  if (c.sourceLength !== undefined) {
    if (architecture !== 'encoder-decoder') problems.push('source length applies to the encoder-decoder only; clear it');
    else if (!(Number.isInteger(c.sourceLength) && c.sourceLength >= 1 && c.sourceLength <= MAX_SOURCE_LENGTH)) problems.push(`source length must be a whole number from 1 to ${MAX_SOURCE_LENGTH} (got ${c.sourceLength})`);
  }
  if (problems.length) return problems;
  let run: RunConfig;
  try {
    // The vocabulary size does not affect validity; any positive value stands in for the dataset's.
    run = validateRunConfig(runConfigFor(c, 64));
  } catch (e) {
    if (e instanceof ConfigError) problems.push(...e.message.split('; '));
    else throw e;
    return problems;
  }
  // The dataset's own shape checks (a context too short for the task's outputs, a source length below
  // the task's longest source), the same the worker makes before any GPU work, in the page's words.
  const d = generatedDataset(c);
  if (d) {
    try {
      d.trainBatch(new Rng(0), 1, run.model.contextLength, run.model.sourceLength);
    } catch (e) {
      if (e instanceof DatasetError) problems.push(pageWording(e.message));
      else throw e;
    }
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
  const architecture = architectureOf(c);
  const data = architecture === 'decoder' ? c.dataset : `${c.dataset} (${ARCHITECTURE_SHORT[architecture]})`;
  const shape = [c.preset, c.contextLength !== undefined ? `context ${c.contextLength}` : '', c.sourceLength !== undefined ? `source ${c.sourceLength}` : ''].filter(Boolean).join(', ');
  return `${name} · ${data} · ${shape} · seed ${c.seed}`;
}

export const ARCHITECTURE_SHORT: Record<Architecture, string> = { decoder: 'GPT', encoder: 'encoder', 'encoder-decoder': 'enc-dec' };

const DIFF_FIELDS: { key: keyof PageConfig; label: string }[] = [
  { key: 'architecture', label: 'architecture' },
  { key: 'dataset', label: 'dataset' },
  { key: 'preset', label: 'model' },
  { key: 'contextLength', label: 'context' },
  { key: 'sourceLength', label: 'source length' },
  { key: 'precision', label: 'precision' },
  { key: 'forwardQuantizer', label: 'forward quantizer' },
  { key: 'backwardQuantizer', label: 'backward quantizer' },
  { key: 'bits', label: 'bits' },
  { key: 'hadamardBlock', label: 'Hadamard block' },
  { key: 'attentionKernel', label: 'attention kernel' },
  { key: 'matmulTuning', label: 'f32 tile tuning' },
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
      architecture: architectureOf(c),
      contextLength: c.contextLength ?? PRESETS[c.preset].contextLength,
      sourceLength: architectureOf(c) === 'encoder-decoder' ? modelConfigFor(c, 1).sourceLength : '—',
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
