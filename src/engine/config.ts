// The configuration of a run: the model's shape and how it is trained. A run is fully determined by
// (RunConfig, seed): same data order, same initialisation, same random draws.
import { sparsityConfigErrors } from './sparsity/config';

/** The block arrangement: a decoder-only GPT (causal self-attention, next-token prediction), an
 *  encoder-only classifier (bidirectional self-attention, classified from a prepended CLS token's final
 *  state; model/gpt.ts), or an encoder-decoder (bidirectional encoder, decoder with causal
 *  self-attention and cross-attention to the encoder output; model/encdec.ts). */
export type Architecture = 'decoder' | 'encoder' | 'encoder-decoder';
export const ARCHITECTURES: readonly Architecture[] = ['decoder', 'encoder', 'encoder-decoder'];
export type Activation = 'gelu' | 'relu';
export type PositionalEncoding = 'learned' | 'sinusoidal';
/** The numeric scheme of every linear layer (see src/engine/linear). More values come with the
 *  quantized schemes. */
export type Precision = 'fp32' | 'fp16' | 'int8' | 'int4' | 'int4-minmax' | 'int4-lsq-luq';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8', 'int4', 'int4-minmax', 'int4-lsq-luq'];
/** Forward quantizer of X and W: Hadamard + LSQ (the paper's HQ, §3.3), LSQ alone, per-tensor min-max
 *  with stochastic rounding, or none. */
export type ForwardQuantizer = 'hq' | 'lsq' | 'minmax' | 'none';
export const FORWARD_QUANTIZERS: readonly ForwardQuantizer[] = ['hq', 'lsq', 'minmax', 'none'];
/** Backward quantizer of ∇Y: leverage-score sampling of the bit-split rows with 1/p rescaling (the
 *  paper's LSS, §4), the bit split keeping every non-zero row (what the official code runs), LUQ,
 *  min-max, or none. */
export type BackwardQuantizer = 'lss' | 'bitsplit' | 'luq' | 'minmax' | 'none';
export const BACKWARD_QUANTIZERS: readonly BackwardQuantizer[] = ['lss', 'bitsplit', 'luq', 'minmax', 'none'];
export type LssVariant = Extract<BackwardQuantizer, 'lss' | 'bitsplit'>;
export interface QuantizerChoice {
  forward: ForwardQuantizer;
  backward: BackwardQuantizer;
  /** Forward bit width, 2–8. */
  bits: number;
}
/** The quantized precisions as quantizer choices: the paper's method and its two main baselines. */
export const QUANTIZED_PRECISIONS: Partial<Record<Precision, QuantizerChoice>> = {
  int4: { forward: 'hq', backward: 'lss', bits: 4 },
  'int4-minmax': { forward: 'minmax', backward: 'minmax', bits: 4 },
  'int4-lsq-luq': { forward: 'lsq', backward: 'luq', bits: 4 },
};
export type F16Path = 'auto' | 'native' | 'emulated';
export const F16_PATHS: readonly F16Path[] = ['auto', 'native', 'emulated'];

export interface ModelConfig {
  architecture: Architecture;
  /** Transformer blocks. */
  nLayer: number;
  /** Width of the residual stream. */
  dModel: number;
  /** Attention heads; dModel must be divisible by it (head size d_k = dModel / nHead). */
  nHead: number;
  /** Hidden width of the MLP. */
  dFF: number;
  /** Longest sequence the model sees (T). */
  contextLength: number;
  vocabSize: number;
  activation: Activation;
  positionalEncoding: PositionalEncoding;
  layerNormEps: number;
  /** Encoder classifier: classes of its head (≥ 2). Absent for the other architectures. */
  numClasses?: number;
  /** Encoder-decoder: length of the source sequence the encoder reads (contextLength is the decoder's).
   *  Absent for the other architectures. */
  sourceLength?: number;
}

export interface TrainConfig {
  precision: Precision;
  /** FP16 kernels: native shader-f16 where the adapter offers it ('auto'), or forced either way. */
  f16Path: F16Path;
  /** Attention kernel (ops/attention.ts): 'fused' (FlashAttention-style: no B·heads·T² scores kept),
   *  'separate' (batched products with the softmax between them), 'auto' (fused where the head size
   *  allows, ≤ 128). Same values up to f32 rounding. Absent (configs saved before it existed): separate. */
  attentionKernel?: AttentionKernelChoice;
  /** f32 products: 'auto' checks and times generated tile shapes on the run's layer shapes at start-up
   *  and uses the fastest per layout (train/startup-tuning.ts; not on CPU adapters); 'off' keeps the
   *  built-in kernel. Absent (older configs): off. */
  matmulTuning?: MatmulTuningChoice;
  /** INT4 HQ: the largest block of the block-diagonal Hadamard transform (a power of two ≤ 1024);
   *  each layer uses the largest power of two up to it that divides its reduction dimension. The paper's
   *  typical value is 32 (k = 5, §3.3 / A.5). */
  hadamardBlock: number;
  /** INT4 HQ: choose each layer's block on the first batch by the official code's search (every power
   *  of two dividing the width up to 1024, the smallest product of X and W reconstruction errors) instead
   *  of `hadamardBlock`. */
  hadamardSearch?: boolean;
  /** Overrides of the quantized precision's choices (the ablations of the paper's Fig. 3). */
  forwardQuantizer?: ForwardQuantizer;
  backwardQuantizer?: BackwardQuantizer;
  bits?: number;
  /** INT8: one scale per row of X and of W instead of one per tensor. */
  int8PerRow: boolean;
  /** Learning rate of the quantizers' step sizes as a fraction of `lr` (absent: 1). Adam moves every
   *  parameter by about lr per step whatever its gradient's scale, so LSQ's gradient scale 1/√(Q_P·numel)
   *  (designed for SGD) has no effect, and at a from-scratch lr a step size of 0.005 is pushed around by
   *  half its own value every step (docs/results-precision.md). */
  quantizerLrScale?: number;
  steps: number;
  batchSize: number;
  /** Peak learning rate, reached after the warmup. */
  lr: number;
  /** The cosine decays to lr * minLrRatio at the last step. */
  minLrRatio: number;
  warmupSteps: number;
  /** Decoupled weight decay (AdamW), applied to matrices and embeddings, not to biases or LayerNorm. */
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global gradient-norm clip; 0 turns clipping off. */
  gradClip: number;
  seed: number;
  /** Steps between logged metrics (loss is read back asynchronously at this cadence). */
  logEvery: number;
  /** Steps between per-layer measurements (gradient row norms, activation outliers, quantization
   *  errors, step sizes, LSS kept fractions: train/measurements.ts), also taken at the first and last
   *  step; 0 or absent: none. */
  measureEvery?: number;
  /** Steps between training checkpoints (parameters, AdamW moments, loss scale, data position): copied
   *  on the GPU inside the step's command buffer and read back asynchronously, so a lost device or a
   *  NaN can resume from the last one (train/session.ts); 0 or absent: none. */
  checkpointEvery?: number;
  /** 2:4 structured sparsity of the block linear layers (src/engine/sparsity): 'oneshot' trains dense,
   *  prunes every group of 4 weights along the reduction dimension to its 2 largest |w| and retrains with
   *  the mask fixed; 'progressive' prunes to 25% (1 of 4), fine-tunes, then to 50% (2 of the remaining 3)
   *  and fine-tunes. Absent or 'dense': none. */
  sparsity?: SparsityRecipe;
  /** Phase lengths: oneshot [dense, 2:4], progressive [dense, 25%, 2:4], as fractions of `steps` (sum 1)
   *  or step counts (sum `steps`). Absent: the recipe's default (sparsity/config.ts). */
  sparsityPhases?: number[];
  /** Learning rate over the phases: 'restart' (default: each phase warms up and decays over its own steps,
   *  the article's "same optimizer and schedule" for the retraining) or 'continue' (the run's one schedule). */
  sparsitySchedule?: SparsitySchedule;
  /** Sparse-QAT: the block linear layers fake-quantize X and W to INT8 (scales calibrated to 99.99% of
   *  the values, straight-through estimator) on top of the sparsity; precision stays fp32. */
  sparseQat?: boolean;
  /** Distillation from a dense teacher run (its weights are given to the trainer): the loss gets a KL
   *  term on the logits and an MSE term on the final hidden state. */
  distill?: DistillConfig;
  /** Batches in the fixed validation set. */
  valBatches: number;
}

export type SparsityRecipe = 'dense' | 'oneshot' | 'progressive';
export const SPARSITY_RECIPES: readonly SparsityRecipe[] = ['dense', 'oneshot', 'progressive'];
export type SparsitySchedule = 'restart' | 'continue';
export const SPARSITY_SCHEDULES: readonly SparsitySchedule[] = ['restart', 'continue'];
/** L = (1 − alpha)·CE + alpha·T²·KL(teacher ‖ student at temperature T) + hiddenWeight·MSE(hidden). */
export interface DistillConfig {
  alpha: number;
  temperature: number;
  hiddenWeight: number;
}

export interface RunConfig {
  model: ModelConfig;
  train: TrainConfig;
  /** A bundled dataset name (`names`, a synthetic task) or, in Node, a path to a text file. */
  dataset: string;
}

export type ModelShape = Pick<ModelConfig, 'nLayer' | 'dModel' | 'nHead' | 'dFF' | 'contextLength'>;

/** Model sizes. `tiny` is small enough to train on a CPU Vulkan driver in tests; `small` is the
 *  teaching default. */
export const PRESETS: Record<string, ModelShape & { batchSize: number; lr: number }> = {
  tiny: { nLayer: 2, dModel: 48, nHead: 4, dFF: 192, contextLength: 16, batchSize: 32, lr: 3e-3 },
  small: { nLayer: 4, dModel: 128, nHead: 4, dFF: 512, contextLength: 32, batchSize: 32, lr: 2e-3 },
  medium: { nLayer: 6, dModel: 256, nHead: 8, dFF: 1024, contextLength: 64, batchSize: 32, lr: 1e-3 },
};
export const DEFAULT_PRESET = 'small';

export type AttentionKernelChoice = 'auto' | 'fused' | 'separate';
export type MatmulTuningChoice = 'auto' | 'off';
export const MATMUL_TUNING_CHOICES: readonly MatmulTuningChoice[] = ['auto', 'off'];
export const ATTENTION_KERNEL_CHOICES: readonly AttentionKernelChoice[] = ['auto', 'fused', 'separate'];
/** The largest head size the fused attention kernel is generated for (ops/flash-attention.ts). */
export const FUSED_ATTENTION_MAX_HEAD_SIZE = 128;

/** The attention kernel a run uses: its choice, with 'auto' resolved by the head size. */
export function attentionKernelFor(m: Pick<ModelConfig, 'dModel' | 'nHead'>, t: Pick<TrainConfig, 'attentionKernel'>): 'fused' | 'separate' {
  const choice = t.attentionKernel ?? 'separate';
  if (choice !== 'auto') return choice;
  return m.dModel / m.nHead <= FUSED_ATTENTION_MAX_HEAD_SIZE ? 'fused' : 'separate';
}

export const DEFAULT_TRAIN: TrainConfig = {
  precision: 'fp32',
  f16Path: 'auto',
  attentionKernel: 'auto',
  matmulTuning: 'auto',
  hadamardBlock: 32,
  int8PerRow: false,
  quantizerLrScale: 0.1,
  steps: 300,
  batchSize: 32,
  lr: 3e-3,
  minLrRatio: 0.1,
  warmupSteps: 20,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
  gradClip: 1.0,
  seed: 1,
  logEvery: 10,
  valBatches: 8,
};

export function modelConfigFromPreset(preset: string, vocabSize: number): ModelConfig {
  const shape = PRESETS[preset];
  if (!shape) throw new ConfigError(`unknown preset "${preset}"; choose one of: ${Object.keys(PRESETS).join(', ')}`);
  return {
    architecture: 'decoder',
    nLayer: shape.nLayer,
    dModel: shape.dModel,
    nHead: shape.nHead,
    dFF: shape.dFF,
    contextLength: shape.contextLength,
    vocabSize,
    activation: 'gelu',
    positionalEncoding: 'learned',
    layerNormEps: 1e-5,
  };
}

/** A configuration that cannot be run. The message says what is wrong and what to do. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A value as a message shows it. Configs arrive from URLs, JSON files and checkpoints, so a field may
 *  hold anything; a template literal would throw on a Symbol or an object without a prototype. */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined || v === null) return String(v);
  if (typeof v === 'symbol' || typeof v === 'function') return `a ${typeof v}`;
  return Array.isArray(v) ? 'an array' : 'an object';
}

/** Only real numbers pass: `'4' > 0` and `4n > 0` are true in JavaScript, and a Symbol throws. */
function isNumber(v: unknown): v is number {
  return typeof v === 'number';
}

function positiveInt(name: string, v: unknown): string | null {
  return Number.isInteger(v) && (v as number) > 0 ? null : `${name} must be a positive integer (got ${describeValue(v)})`;
}

/** Every problem with a model config, as messages a user can act on. Empty when it is valid. */
export function modelConfigErrors(c: ModelConfig): string[] {
  const errs: string[] = [];
  for (const [k, v] of [
    ['layers', c.nLayer], ['d_model', c.dModel], ['heads', c.nHead], ['d_ff', c.dFF],
    ['context', c.contextLength], ['vocab', c.vocabSize],
  ] as const) {
    const e = positiveInt(k, v);
    if (e) errs.push(e);
  }
  if (errs.length === 0 && c.dModel % c.nHead !== 0) {
    errs.push(`d_model (${c.dModel}) must be divisible by heads (${c.nHead}); try heads = ${divisorsNear(c.dModel, c.nHead)}`);
  }
  if (!(ARCHITECTURES as readonly unknown[]).includes(c.architecture)) {
    errs.push(`architecture must be one of ${ARCHITECTURES.join(', ')} (got ${describeValue(c.architecture)})`);
  } else if (c.architecture === 'encoder') {
    if (!(Number.isInteger(c.numClasses) && (c.numClasses as number) >= 2)) errs.push(`architecture "encoder" (a classifier) needs classes, an integer >= 2 (got ${describeValue(c.numClasses)}); train it on a classification dataset`);
  } else if (c.architecture === 'encoder-decoder') {
    const e = positiveInt('source length', c.sourceLength);
    if (e) errs.push(`architecture "encoder-decoder": ${e}`);
  }
  if (c.activation !== 'gelu' && c.activation !== 'relu') errs.push(`activation must be gelu or relu (got ${describeValue(c.activation)})`);
  if (c.positionalEncoding !== 'learned' && c.positionalEncoding !== 'sinusoidal') {
    errs.push(`positional encoding must be learned or sinusoidal (got ${describeValue(c.positionalEncoding)})`);
  }
  if (!(isNumber(c.layerNormEps) && c.layerNormEps > 0 && Number.isFinite(c.layerNormEps))) {
    errs.push(`layer-norm eps must be a finite number > 0 (got ${describeValue(c.layerNormEps)})`);
  }
  return errs;
}

/** Divisors of n above this are not searched for a suggestion: a head count is small, and walking
 *  every integer up to an absurd d_model (say 1e15) would hang the validation. */
const MAX_SUGGESTED_HEADS = 4096;

function divisorsNear(n: number, near: number): string {
  const ds: number[] = [];
  for (let d = 1; d <= Math.min(n, MAX_SUGGESTED_HEADS) && ds.length < 64; d++) if (n % d === 0) ds.push(d);
  ds.sort((a, b) => Math.abs(a - near) - Math.abs(b - near));
  return ds.slice(0, 3).sort((a, b) => a - b).join(' or ');
}

export function trainConfigErrors(t: TrainConfig): string[] {
  const errs: string[] = [];
  for (const [k, v] of [['batch', t.batchSize], ['log-every', t.logEvery], ['val-batches', t.valBatches]] as const) {
    const e = positiveInt(k, v);
    if (e) errs.push(e);
  }
  const qls = t.quantizerLrScale ?? 1;
  if (!(isNumber(qls) && Number.isFinite(qls) && qls >= 0)) errs.push(`quantizer-lr-scale must be a number >= 0 (got ${describeValue(qls)})`);
  const measureEvery = t.measureEvery ?? 0;
  if (!(Number.isInteger(measureEvery) && measureEvery >= 0)) errs.push(`measure-every must be a non-negative integer (got ${describeValue(measureEvery)}); 0 turns measurements off`);
  const checkpointEvery = t.checkpointEvery ?? 0;
  if (!(Number.isInteger(checkpointEvery) && checkpointEvery >= 0)) errs.push(`checkpoint-every must be a non-negative integer (got ${describeValue(checkpointEvery)}); 0 turns checkpoints off`);
  if (!(Number.isInteger(t.steps) && t.steps >= 0)) errs.push(`steps must be a non-negative integer (got ${describeValue(t.steps)})`);
  if (!(isNumber(t.lr) && t.lr > 0 && Number.isFinite(t.lr))) errs.push(`lr must be a positive number (got ${describeValue(t.lr)})`);
  if (!(isNumber(t.minLrRatio) && t.minLrRatio >= 0 && t.minLrRatio <= 1)) errs.push(`min-lr-ratio must be in [0, 1] (got ${describeValue(t.minLrRatio)})`);
  if (!(Number.isInteger(t.warmupSteps) && t.warmupSteps >= 0)) errs.push(`warmup must be a non-negative integer (got ${describeValue(t.warmupSteps)})`);
  if (!(isNumber(t.weightDecay) && t.weightDecay >= 0 && Number.isFinite(t.weightDecay))) errs.push(`weight-decay must be a finite number >= 0 (got ${describeValue(t.weightDecay)})`);
  if (!(isNumber(t.beta1) && t.beta1 >= 0 && t.beta1 < 1) || !(isNumber(t.beta2) && t.beta2 >= 0 && t.beta2 < 1)) {
    errs.push(`beta1 and beta2 must be in [0, 1) (got ${describeValue(t.beta1)} and ${describeValue(t.beta2)})`);
  }
  if (!(isNumber(t.eps) && t.eps > 0 && Number.isFinite(t.eps))) errs.push(`eps must be a finite number > 0 (got ${describeValue(t.eps)})`);
  if (!(isNumber(t.gradClip) && t.gradClip >= 0)) errs.push(`grad-clip must be >= 0 (got ${describeValue(t.gradClip)}); 0 turns clipping off`);
  if (!(Number.isInteger(t.seed) && t.seed >= 0 && t.seed <= 0xffffffff)) errs.push(`seed must be an integer in [0, 2^32) (got ${describeValue(t.seed)})`);
  if (!(PRECISIONS as readonly unknown[]).includes(t.precision)) errs.push(`precision must be one of ${PRECISIONS.join(', ')} (got ${describeValue(t.precision)})`);
  // Optional in older saved configs: absent means 'auto' / off, as the linear schemes read them.
  if (t.f16Path !== undefined && !(F16_PATHS as readonly unknown[]).includes(t.f16Path)) errs.push(`f16-path must be one of ${F16_PATHS.join(', ')} (got ${describeValue(t.f16Path)})`);
  if (t.attentionKernel !== undefined && !(ATTENTION_KERNEL_CHOICES as readonly unknown[]).includes(t.attentionKernel)) {
    errs.push(`attention-kernel must be one of ${ATTENTION_KERNEL_CHOICES.join(', ')} (got ${describeValue(t.attentionKernel)})`);
  }
  if (t.matmulTuning !== undefined && !(MATMUL_TUNING_CHOICES as readonly unknown[]).includes(t.matmulTuning)) {
    errs.push(`matmul-tuning must be one of ${MATMUL_TUNING_CHOICES.join(', ')} (got ${describeValue(t.matmulTuning)})`);
  }
  for (const [k, v] of [['int8-per-row', t.int8PerRow], ['hadamard-search', t.hadamardSearch]] as const) {
    if (v !== undefined && typeof v !== 'boolean') errs.push(`${k} must be true or false (got ${describeValue(v)})`);
  }
  return errs;
}

/** Largest power of two ≤ `limit` that divides `n` (the Hadamard block a layer of width n can use). */
export function hadamardBlockFor(n: number, limit: number): number {
  let b = 1;
  while (b * 2 <= limit && n % (b * 2) === 0) b *= 2;
  return b;
}

/** The quantizers a run uses: its precision's choices with the config's overrides; null for the
 *  float precisions and INT8, which have schemes of their own. */
export function quantizerChoice(t: TrainConfig): QuantizerChoice | null {
  const preset = QUANTIZED_PRECISIONS[t.precision];
  if (!preset) return null;
  return { forward: t.forwardQuantizer ?? preset.forward, backward: t.backwardQuantizer ?? preset.backward, bits: t.bits ?? preset.bits };
}

function quantizerConfigErrors(m: ModelConfig, t: TrainConfig): string[] {
  const errs: string[] = [];
  const b = t.hadamardBlock;
  const q = quantizerChoice(t);
  if (!(Number.isInteger(b) && b >= 1 && b <= 1024 && (b & (b - 1)) === 0)) {
    errs.push(`hadamard-block must be a power of two from 1 to 1024 (got ${describeValue(b)})`);
  } else if (q?.forward === 'hq' && b > m.dModel) {
    errs.push(`hadamard-block ${b} is larger than d_model ${m.dModel}: the transform acts on blocks of the reduction dimension; use at most ${hadamardBlockFor(m.dModel, 1024)}`);
  }
  const overrides = t.forwardQuantizer !== undefined || t.backwardQuantizer !== undefined || t.bits !== undefined;
  if (overrides && !q) {
    errs.push(`forward-quantizer, backward-quantizer and bits apply to the quantized precisions (${Object.keys(QUANTIZED_PRECISIONS).join(', ')}), not ${t.precision}`);
  }
  if (q) {
    if (!FORWARD_QUANTIZERS.includes(q.forward)) errs.push(`forward-quantizer must be one of ${FORWARD_QUANTIZERS.join(', ')} (got ${describeValue(q.forward)})`);
    if (!BACKWARD_QUANTIZERS.includes(q.backward)) errs.push(`backward-quantizer must be one of ${BACKWARD_QUANTIZERS.join(', ')} (got ${describeValue(q.backward)})`);
    if (!(Number.isInteger(q.bits) && q.bits >= 2 && q.bits <= 8)) errs.push(`bits must be an integer from 2 to 8 (got ${describeValue(q.bits)})`);
    if ((q.backward === 'lss' || q.backward === 'bitsplit') && q.forward !== 'hq' && q.forward !== 'lsq') {
      errs.push(`backward-quantizer ${q.backward} samples rows by the norms of the LSQ codes of X: use forward-quantizer hq or lsq with it`);
    }
  }
  return errs;
}

/** Throws a ConfigError listing every problem, or returns the config unchanged. */
export function validateRunConfig(c: RunConfig): RunConfig {
  // A config may come from a saved file or a message, not only from typed code.
  const isRecord = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isRecord(c)) throw new ConfigError(`a run config must be an object { model, train, dataset } (got ${describeValue(c)})`);
  const shapeErrs: string[] = [];
  if (!isRecord(c.model)) shapeErrs.push(`model config must be an object (got ${describeValue(c.model)})`);
  if (!isRecord(c.train)) shapeErrs.push(`train config must be an object (got ${describeValue(c.train)})`);
  if (typeof c.dataset !== 'string' || c.dataset === '') shapeErrs.push(`dataset must be a dataset name or file path (got ${describeValue(c.dataset)})`);
  if (shapeErrs.length) throw new ConfigError(shapeErrs.join('; '));
  const errs = [...modelConfigErrors(c.model), ...trainConfigErrors(c.train)];
  if (errs.length === 0) errs.push(...quantizerConfigErrors(c.model, c.train), ...sparsityConfigErrors(c.model, c.train));
  if (errs.length === 0 && c.train.attentionKernel === 'fused' && c.model.dModel / c.model.nHead > FUSED_ATTENTION_MAX_HEAD_SIZE) {
    errs.push(`the fused attention kernel handles heads up to ${FUSED_ATTENTION_MAX_HEAD_SIZE} wide, and d_model ${c.model.dModel} / ${c.model.nHead} heads = ${c.model.dModel / c.model.nHead}: use at least ${Math.ceil(c.model.dModel / FUSED_ATTENTION_MAX_HEAD_SIZE)} heads, or attention-kernel separate or auto`);
  }
  if (errs.length) throw new ConfigError(errs.join('; '));
  return c;
}
