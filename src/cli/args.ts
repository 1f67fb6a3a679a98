// Command-line flags of `npm run train`: one table drives parsing, validation and --help, so the help
// always lists every flag. Pure (no I/O), so it is tested directly.
import { parseArgs } from 'node:util';
import { type Activation, type Architecture, BACKWARD_QUANTIZERS, type BackwardQuantizer, DEFAULT_PRESET, type F16Path, type AttentionKernelChoice, type MatmulTuningChoice, FORWARD_QUANTIZERS, type ForwardQuantizer, DEFAULT_TRAIN, PRECISIONS, PRESETS, type PositionalEncoding, type Precision, SPARSITY_RECIPES, SPARSITY_SCHEDULES, type SparsityRecipe, type SparsitySchedule, type TrainConfig } from '../engine/config';
import { DEFAULT_DISTILL } from '../engine/sparsity/config';

/** Steps between per-layer measurements when --metrics is given without --measure-every. */
const DEFAULT_MEASURE_EVERY = 50;
/** Steps between training checkpoints kept in memory: a lost GPU device costs at most this many steps. */
export const DEFAULT_CHECKPOINT_EVERY = 100;

/** --arch values and the architectures they name. */
const ARCH_FLAG = { decoder: 'decoder', encoder: 'encoder', encdec: 'encoder-decoder' } as const satisfies Record<string, Architecture>;

export class CliError extends Error {
  override name = 'CliError';
}

type Kind = 'int' | 'uint' | 'number' | 'string' | 'path' | 'flag';
interface Flag {
  kind: Kind;
  help: string;
  choices?: readonly string[];
  default?: string;
}

const FLAGS = {
  arch: { kind: 'string', help: 'architecture: decoder (GPT, next-token prediction), encoder (classifier from a CLS token: datasets majority, sentiment), encdec (encoder-decoder translation: datasets reverse, sort, numbers); default decoder, or a loaded checkpoint\'s', choices: ['decoder', 'encoder', 'encdec'] },
  dataset: { kind: 'string', help: 'bundled dataset (names, reverse, sort, addmod; with --arch encoder: majority, sentiment; with --arch encdec: reverse, sort, numbers) or a path to a UTF-8 text file, one document per line', default: 'names' },
  preset: { kind: 'string', help: 'model size', choices: Object.keys(PRESETS), default: DEFAULT_PRESET },
  layers: { kind: 'int', help: 'Transformer blocks (overrides the preset)' },
  'd-model': { kind: 'int', help: 'residual width (overrides the preset)' },
  heads: { kind: 'int', help: 'attention heads; must divide d-model (overrides the preset)' },
  'd-ff': { kind: 'int', help: 'MLP hidden width (overrides the preset)' },
  context: { kind: 'int', help: 'context length T (overrides the preset); the decoder\'s with --arch encdec' },
  'source-length': { kind: 'int', help: '--arch encdec: source positions the encoder reads (default: what the task needs)' },
  activation: { kind: 'string', help: 'MLP activation', choices: ['gelu', 'relu'], default: 'gelu' },
  positional: { kind: 'string', help: 'positional encoding', choices: ['learned', 'sinusoidal'], default: 'learned' },
  precision: { kind: 'string', help: 'numeric scheme of the linear layers', choices: PRECISIONS, default: 'fp32' },
  'f16-path': { kind: 'string', help: 'fp16 kernels: native shader-f16 where offered (auto), or forced', choices: ['auto', 'native', 'emulated'], default: 'auto' },
  'matmul-tuning': { kind: 'string', help: 'f32 products: auto checks and times generated tile shapes on this GPU at start-up and uses the fastest (not on CPU adapters); off keeps the built-in kernel (bit-repeatable runs)', choices: ['auto', 'off'], default: 'auto' },
  'attention-kernel': { kind: 'string', help: 'attention: fused (FlashAttention-style, no B·heads·T² scores kept), separate (matmul, softmax, matmul), or auto (fused where heads are ≤ 128 wide)', choices: ['auto', 'fused', 'separate'], default: 'auto' },
  'hadamard-block': { kind: 'string', help: 'int4: "auto" searches each layer\'s block on the first batch (the official code\'s choice); N fixes the largest block (a power of two; each layer uses the largest one dividing its width)', default: DEFAULT_TRAIN.hadamardSearch ? 'auto' : String(DEFAULT_TRAIN.hadamardBlock) },
  'forward-quantizer': { kind: 'string', help: 'quantized precisions: override the forward quantizer of X and W (Hadamard+LSQ, LSQ, min-max, none)', choices: FORWARD_QUANTIZERS },
  'backward-quantizer': { kind: 'string', help: 'quantized precisions: override the quantizer of ∇Y (lss: the paper\'s sampling; bitsplit: every non-zero row, as the official code)', choices: BACKWARD_QUANTIZERS },
  bits: { kind: 'int', help: 'quantized precisions: forward bit width, 2–8 (default 4)' },
  'quantizer-lr-scale': { kind: 'number', help: 'quantized precisions: learning rate of the LSQ step sizes as a fraction of --lr', default: String(DEFAULT_TRAIN.quantizerLrScale ?? 1) },
  'int8-per-row': { kind: 'flag', help: 'int8: one scale per row of X and W instead of one per tensor' },
  steps: { kind: 'uint', help: 'optimizer steps (0: only evaluate, e.g. a loaded checkpoint)', default: String(DEFAULT_TRAIN.steps) },
  batch: { kind: 'int', help: 'sequences per step (default: the preset\'s)' },
  lr: { kind: 'number', help: 'peak learning rate (default: the preset\'s)' },
  'min-lr-ratio': { kind: 'number', help: 'final learning rate as a fraction of the peak (cosine decay)', default: String(DEFAULT_TRAIN.minLrRatio) },
  warmup: { kind: 'uint', help: 'linear warmup steps', default: String(DEFAULT_TRAIN.warmupSteps) },
  'weight-decay': { kind: 'number', help: 'AdamW decoupled weight decay (matrices and embeddings only)', default: String(DEFAULT_TRAIN.weightDecay) },
  beta1: { kind: 'number', help: 'AdamW β1', default: String(DEFAULT_TRAIN.beta1) },
  beta2: { kind: 'number', help: 'AdamW β2', default: String(DEFAULT_TRAIN.beta2) },
  'grad-clip': { kind: 'number', help: 'clip the global gradient norm to this (0: off)', default: String(DEFAULT_TRAIN.gradClip) },
  seed: { kind: 'uint', help: 'seed of data order, initialisation and sampling', default: String(DEFAULT_TRAIN.seed) },
  'log-every': { kind: 'int', help: 'steps per metrics readback and log line', default: String(DEFAULT_TRAIN.logEvery) },
  'eval-every': { kind: 'uint', help: 'steps between validation runs (0: only at the end)', default: '0' },
  'val-batches': { kind: 'int', help: 'batches in the fixed validation set', default: String(DEFAULT_TRAIN.valBatches) },
  metrics: { kind: 'path', help: 'write metrics as JSON Lines to this file' },
  'experimental-features': { kind: 'string', help: 'on: ask Dawn for its experimental WebGPU features (allow_unsafe_apis), as the bench does: i8 subgroup matrices run the INT4/INT8 products on tensor cores where the GPU has them (each integer kernel is checked exactly at start-up before it is used); off: standard WebGPU only (dot4I8Packed at best)', choices: ['on', 'off'], default: 'on' },
  'tuning-cache': { kind: 'path', help: 'remember the start-up kernel tunings in this JSON file: a later run on the same GPU and shapes checks and times only the remembered kernels (seconds instead of tens of seconds at d_model 2048)' },
  'measure-every': { kind: 'uint', help: 'steps between per-layer measurements (∇Y row norms, outlier channels, quantization errors, step sizes, LSS kept rows) written to --metrics; 0: none (default 50 with --metrics, else 0)' },
  'checkpoint-every': { kind: 'uint', help: 'steps between training checkpoints (weights, AdamW moments, data position) copied on the GPU and kept in memory; if the GPU device is lost the run resumes from the last one on a new device (0: none, a loss restarts the run)', default: String(DEFAULT_CHECKPOINT_EVERY) },
  sparsity: { kind: 'string', help: '2:4 structured sparsity of the block linear layers (2 of every 4 weights along the input dimension kept): oneshot trains dense, prunes to the 2 largest |w| per group and retrains with the mask fixed; progressive prunes to 25%, fine-tunes, then to 2:4 and fine-tunes (default dense; progressive with --sparse-qat)', choices: SPARSITY_RECIPES },
  'sparsity-phases': { kind: 'string', help: 'phase lengths: oneshot DENSE,SPARSE, progressive DENSE,25%,2:4, as fractions of --steps (0.5,0.5), percentages (50%,50%) or step counts summing to --steps (default 0.5,0.5 and 0.5,0.25,0.25)' },
  'sparsity-schedule': { kind: 'string', help: 'learning rate over the sparsity phases: restart (warmup and cosine decay again each phase: the retraining repeats the dense schedule) or continue (one schedule for the run) (default restart)', choices: SPARSITY_SCHEDULES },
  'sparse-qat': { kind: 'flag', help: 'Sparse-QAT: the sparse layers fake-quantize X and W to INT8 (scales covering 99.99% of the values, straight-through estimator) and distill from --teacher' },
  teacher: { kind: 'path', help: 'distill from this dense run (a .safetensors file saved with --save, same model): KL on the logits, MSE on the final hidden state' },
  'distill-alpha': { kind: 'number', help: 'with --teacher: weight of the KL term (the cross-entropy gets 1 − alpha)', default: String(DEFAULT_DISTILL.alpha) },
  'distill-temperature': { kind: 'number', help: 'with --teacher: softmax temperature of the KL term', default: String(DEFAULT_DISTILL.temperature) },
  'distill-hidden': { kind: 'number', help: 'with --teacher: weight of the hidden-state MSE', default: String(DEFAULT_DISTILL.hiddenWeight) },
  save: { kind: 'path', help: 'save the trained model to this .safetensors file' },
  load: { kind: 'path', help: 'start from this .safetensors checkpoint (its model config is used)' },
  profile: { kind: 'uint', help: 'time every kernel of the last N training steps on the GPU (timestamp queries) and print the kernels by total time', default: '0' },
  sample: { kind: 'uint', help: 'print this many generated samples at the end (synthetic tasks: answers to that many problems, with the accuracy)', default: '0' },
  memory: { kind: 'flag', help: 'print the GPU memory the run would allocate (total, largest buffer, by group, against the usual adapter limits) and exit without touching the GPU' },
  quiet: { kind: 'flag', help: 'no progress output' },
  help: { kind: 'flag', help: 'show this help' },
} satisfies Record<string, Flag>;

export type FlagName = keyof typeof FLAGS;
export const FLAG_NAMES = Object.keys(FLAGS) as FlagName[];

export interface CliOptions {
  dataset: string;
  preset: string;
  /** Model fields given on the command line (they override the preset or a loaded checkpoint). */
  modelOverrides: { nLayer?: number; dModel?: number; nHead?: number; dFF?: number; contextLength?: number; activation?: Activation; positionalEncoding?: PositionalEncoding; sourceLength?: number };
  /** --arch, when given (otherwise a loaded checkpoint's, else the decoder). */
  architecture?: Architecture;
  train: TrainConfig;
  evalEvery: number;
  metricsPath?: string;
  /** --experimental-features: Dawn's allow_unsafe_apis (subgroup matrices). */
  experimentalFeatures: boolean;
  /** --tuning-cache: where start-up tunings are remembered between runs. */
  tuningCachePath?: string;
  savePath?: string;
  loadPath?: string;
  /** --teacher: the dense run to distill from. */
  teacherPath?: string;
  /** --distill-* flags given without --teacher (they would do nothing: train.ts refuses them). */
  distillFlagsWithoutTeacher: string[];
  samples: number;
  profileSteps: number;
  /** --memory: print the run's memory estimate and exit. */
  memoryOnly: boolean;
  quiet: boolean;
  help: boolean;
}

export function helpText(): string {
  const lines = ['Usage: npm run train -- [flags]', '', 'Trains a GPT on WebGPU (Node, Dawn). Flags:'];
  for (const [name, f] of Object.entries(FLAGS) as [string, Flag][]) {
    const arg = f.kind === 'flag' ? '' : f.choices ? ` ${f.choices.join('|')}` : f.kind === 'path' ? ' FILE' : ' N';
    const def = f.default !== undefined ? ` (default ${f.default})` : '';
    lines.push(`  --${name}${arg}`.padEnd(34) + f.help + def);
  }
  lines.push('', 'Example: npm run train -- --dataset names --preset tiny --steps 300 --seed 1 --metrics m.jsonl');
  return lines.join('\n');
}

function parseValue(name: string, f: Flag, raw: string): number | string {
  if (f.choices && !f.choices.includes(raw)) throw new CliError(`--${name} must be one of ${f.choices.join(', ')} (got "${raw}")`);
  switch (f.kind) {
    case 'int':
    case 'uint': {
      const v = Number(raw);
      const min = f.kind === 'int' ? 1 : 0;
      if (raw.trim() === '' || !Number.isInteger(v) || v < min) {
        throw new CliError(`--${name} must be ${f.kind === 'int' ? 'a positive' : 'a non-negative'} integer (got "${raw}")`);
      }
      if (v > 0xffffffff) throw new CliError(`--${name} is too large (got ${raw})`);
      return v;
    }
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw new CliError(`--${name} must be a number (got "${raw}")`);
      return v;
    }
    default:
      if (raw === '') throw new CliError(`--${name} needs a value`);
      return raw;
  }
}

function hadamardChoice(raw: string): Pick<TrainConfig, 'hadamardBlock' | 'hadamardSearch'> {
  if (raw === 'auto') return { hadamardBlock: DEFAULT_TRAIN.hadamardBlock, hadamardSearch: true };
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < 1) throw new CliError(`--hadamard-block must be "auto" or a positive integer (got "${raw}")`);
  return { hadamardBlock: v, hadamardSearch: false };
}

/** Phase lengths: comma-separated fractions, percentages or step counts (resolved against --steps by
 *  the engine's validation, sparsity/config.ts). */
function phaseLengths(raw: string): number[] {
  return raw.split(',').map((part) => {
    const t = part.trim();
    const v = t.endsWith('%') ? Number(t.slice(0, -1)) / 100 : Number(t);
    if (t === '' || t === '%' || !Number.isFinite(v) || v < 0) throw new CliError(`--sparsity-phases takes comma-separated fractions (0.5,0.5), percentages (50%,50%) or step counts (got "${raw}")`);
    return v;
  });
}

const DISTILL_FLAGS = ['distill-alpha', 'distill-temperature', 'distill-hidden'] as const;

function sparsityChoice(values: Record<string, string | boolean | undefined>, get: <T extends number | string>(name: FlagName) => T | undefined): Partial<TrainConfig> {
  const sparseQat = Boolean(values['sparse-qat']);
  const out: Partial<TrainConfig> = {};
  const recipe = get<string>('sparsity') as SparsityRecipe | undefined;
  if (recipe !== undefined || sparseQat) out.sparsity = recipe ?? 'progressive';
  const phases = get<string>('sparsity-phases');
  if (phases !== undefined) out.sparsityPhases = phaseLengths(phases);
  const schedule = get<string>('sparsity-schedule') as SparsitySchedule | undefined;
  if (schedule !== undefined) out.sparsitySchedule = schedule;
  if (sparseQat) out.sparseQat = true;
  // Parsed whether or not --teacher is given, so a malformed value is reported either way.
  const distill = { alpha: get<number>('distill-alpha')!, temperature: get<number>('distill-temperature')!, hiddenWeight: get<number>('distill-hidden')! };
  if (values.teacher !== undefined) out.distill = distill;
  return out;
}

export function parseTrainArgs(argv: readonly string[]): CliOptions {
  // `--steps -1` would read as two flags; join values that look like negative numbers so the value
  // check (not the parser) reports them.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    if (a.startsWith('--') && !a.includes('=') && next !== undefined && /^-\d|^-\./.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    const options: Record<string, { type: 'string' | 'boolean' }> = {};
    for (const [name, f] of Object.entries(FLAGS) as [string, Flag][]) options[name] = { type: f.kind === 'flag' ? 'boolean' : 'string' };
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: false });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new CliError(`${msg} (see --help)`);
  }
  const get = <T extends number | string>(name: FlagName): T | undefined => {
    const f = FLAGS[name] as Flag;
    const raw = values[name];
    if (raw === undefined) return f.default === undefined ? undefined : (parseValue(name, f, f.default) as T);
    return parseValue(name, f, String(raw)) as T;
  };
  const preset = get<string>('preset')!;
  const p = PRESETS[preset];
  const train: TrainConfig = {
    ...DEFAULT_TRAIN,
    precision: get<string>('precision') as Precision,
    f16Path: get<string>('f16-path') as F16Path,
    attentionKernel: get<string>('attention-kernel') as AttentionKernelChoice,
    matmulTuning: get<string>('matmul-tuning') as MatmulTuningChoice,
    ...hadamardChoice(get<string>('hadamard-block')!),
    forwardQuantizer: get<string>('forward-quantizer') as ForwardQuantizer | undefined,
    backwardQuantizer: get<string>('backward-quantizer') as BackwardQuantizer | undefined,
    bits: get<number>('bits'),
    int8PerRow: Boolean(values['int8-per-row']),
    quantizerLrScale: get<number>('quantizer-lr-scale')!,
    steps: get<number>('steps')!,
    batchSize: get<number>('batch') ?? p.batchSize,
    lr: get<number>('lr') ?? p.lr,
    minLrRatio: get<number>('min-lr-ratio')!,
    warmupSteps: get<number>('warmup')!,
    weightDecay: get<number>('weight-decay')!,
    beta1: get<number>('beta1')!,
    beta2: get<number>('beta2')!,
    gradClip: get<number>('grad-clip')!,
    seed: get<number>('seed')!,
    logEvery: get<number>('log-every')!,
    valBatches: get<number>('val-batches')!,
    measureEvery: get<number>('measure-every') ?? (values.metrics !== undefined ? DEFAULT_MEASURE_EVERY : 0),
    checkpointEvery: get<number>('checkpoint-every')!,
    ...sparsityChoice(values, get),
  };
  const overrides: CliOptions['modelOverrides'] = {};
  const set = <K extends keyof CliOptions['modelOverrides']>(k: K, v: CliOptions['modelOverrides'][K] | undefined) => {
    if (v !== undefined) overrides[k] = v;
  };
  set('nLayer', get<number>('layers'));
  set('dModel', get<number>('d-model'));
  set('nHead', get<number>('heads'));
  set('dFF', get<number>('d-ff'));
  set('contextLength', get<number>('context'));
  set('sourceLength', get<number>('source-length'));
  if (values.activation !== undefined) set('activation', get<string>('activation') as Activation);
  if (values.positional !== undefined) set('positionalEncoding', get<string>('positional') as PositionalEncoding);
  return {
    architecture: values.arch === undefined ? undefined : ARCH_FLAG[get<string>('arch') as keyof typeof ARCH_FLAG],
    dataset: get<string>('dataset')!,
    preset,
    modelOverrides: overrides,
    train,
    evalEvery: get<number>('eval-every')!,
    metricsPath: get<string>('metrics'),
    tuningCachePath: get<string>('tuning-cache'),
    experimentalFeatures: get<string>('experimental-features') !== 'off',
    savePath: get<string>('save'),
    loadPath: get<string>('load'),
    teacherPath: get<string>('teacher'),
    distillFlagsWithoutTeacher: values.teacher === undefined ? DISTILL_FLAGS.filter((f) => values[f] !== undefined).map((f) => `--${f}`) : [],
    samples: get<number>('sample')!,
    profileSteps: get<number>('profile')!,
    memoryOnly: Boolean(values.memory),
    quiet: Boolean(values.quiet),
    help: Boolean(values.help),
  };
}
