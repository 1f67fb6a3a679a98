// What a run needs of the GPU, known before any GPU work: every buffer the engine allocates for a
// RunConfig (model/gpt.ts, the linear schemes in linear/, train/trainer.ts), so that a config too large
// for the adapter is refused with a message that says what to change, instead of a RangeError from
// GpuMemory halfway through the build or an out-of-memory error from the driver.
//
// The list follows the build; small fixed-size buffers (uniforms, reduction scratch of a few hundred
// floats) are left out or approximated, so the total is an estimate (tested within ±15% of
// GpuMemory.bytes after a real build, limits.gpu.test.ts) and the sizes of the large buffers are exact.
import { attentionKernelFor, ConfigError, quantizerChoice, type RunConfig, validateRunConfig } from './config';
import { linearSchemeFor } from './linear';
import { modelParamSpecs } from './model/build';
import { headOutputs } from './model/gpt';
import { ParamLayout } from './model/params';
import { BASELINE_STATS, baselinePartials } from './ops/baselines';
import { hadamardSearchScratch } from './ops/hadamard-search';
import { splitCodeShape } from './ops/intgrad';
import { absmaxPartials, int8CodeShape, scaleCount } from './ops/int8';
import { REDUCTION_PARTIALS } from './ops/lss';
import { weightGradientSplits } from './ops/matmul';
import { packedWordsPerRow } from './ops/quant';
import { linearStatsLayout, relativeErrorPartials } from './ops/stats';
import { GRAD_HISTOGRAM } from './train/measurements';

/** One kind of buffer of a run: its size as GpuMemory allocates it, and how many there are. */
export interface BufferNeed {
  label: string;
  bytes: number;
  count: number;
  /** Bound as a storage buffer (limited by maxStorageBufferBindingSize); staging and uniform buffers are not. */
  storage: boolean;
}

export interface MemoryEstimate {
  /** Sum over every buffer. */
  totalBytes: number;
  /** The largest single buffer, which the per-buffer limits apply to. */
  largest: BufferNeed;
  buffers: BufferNeed[];
  /** Floats of the flat parameter buffer (parameters, padding included); grads and Adam's m and v match it. */
  parameterFloats: number;
}

/** The adapter limits a run must fit (GPUSupportedLimits has these fields). */
export interface MemoryLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** Parameter slices are aligned to it (default 256, WebGPU's usual value). */
  minStorageBufferOffsetAlignment?: number;
}

/** A run whose buffers exceed what the GPU allows. A ConfigError, so the CLI exits with code 2 and the
 *  page shows it with the other config problems. */
export class MemoryLimitError extends ConfigError {
  override name = 'MemoryLimitError';
  constructor(
    message: string,
    readonly neededBytes: number,
    readonly availableBytes: number,
    /** The largest batch size that fits with everything else unchanged; null when even 1 does not. */
    readonly suggestedBatchSize: number | null,
  ) {
    super(message);
  }
}

/** GpuMemory's rounding: at least 16 bytes, a multiple of 16. */
function allocated(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

/** Rows per chunk of the column sums behind the bias and LayerNorm gradients (ops/matmul.ts, colsum.wgsl CHUNK). */
const COLSUM_CHUNK = 256;
/** Staging buffers the trainer keeps for metric and measurement readbacks (train/trainer.ts). */
const METRICS_STAGING = 4;
const MEASURE_STAGING = 4;
/** Staging buffers of training checkpoints in flight (TrainConfig.checkpointEvery; train/trainer.ts
 *  uses these). Two, so a checkpoint every step still finds one free while the last is being mapped. */
export const CHECKPOINT_STAGING = 2;

/** Floats of one checkpoint staging buffer: parameters, AdamW's m and v (each the flat layout with its
 *  padding), then the loss scaler's 3 values and one of padding. */
export function checkpointStagingFloats(parameterFloats: number): number {
  return 3 * parameterFloats + 4;
}
/** Floats per record of the trainer's metrics ring. */
const METRICS_RECORD = 4;

/** Label prefix of the shared scratch roles in an estimate (sharedScratchPlan reads them back). */
const SHARED = 'shared ';

class BufferList {
  readonly buffers: BufferNeed[] = [];
  private readonly sharedRoles = new Map<string, BufferNeed>();
  f32(label: string, floats: number, count = 1): void {
    this.add(label, floats * 4, count, true);
  }
  /** Scratch shared by every layer asking for the same role (gpu/scratch.ts): one buffer, as large as
   *  the largest request. */
  shared(role: string, shape: number[]): void {
    const bytes = allocated(shape.reduce((a, b) => a * b, 1) * 4);
    const known = this.sharedRoles.get(role);
    if (known) {
      known.bytes = Math.max(known.bytes, bytes);
      return;
    }
    const need: BufferNeed = { label: `${SHARED}${role}`, bytes, count: 1, storage: true };
    this.sharedRoles.set(role, need);
    this.buffers.push(need);
  }
  add(label: string, bytes: number, count: number, storage: boolean): void {
    if (count > 0) this.buffers.push({ label, bytes: allocated(bytes), count, storage });
  }
}

/** The scratch one linear layer's scheme allocates on top of the model's activations: what each
 *  scheme's build() in linear/ creates, for a layer of `rows` tokens, `inF` inputs and `outF` outputs. */
function linearLayerBuffers(list: BufferList, config: RunConfig, name: string, rows: number, inF: number, outF: number, bias: boolean, fp32: boolean): void {
  const N = rows;
  const D = inF;
  const C = outF;
  const t = config.train;
  const f32 = (what: string, floats: number) => list.f32(`${name}.${what}`, floats);
  const biasPartials = () => bias && list.shared('colsum.partials', [Math.ceil(N / COLSUM_CHUNK) * C]);
  const splitPartials = (M: number, Ncols: number, K: number) => {
    const splits = weightGradientSplits(M, Ncols, K);
    if (splits > 1) list.shared('split_k.partials', [splits * M * Ncols]);
  };

  const precision = fp32 ? 'fp32' : t.precision;
  if (precision === 'fp32' || precision === 'fp16') {
    splitPartials(C, D, N);
    biasPartials();
    return;
  }
  if (precision === 'int8') {
    const perRow = t.int8PerRow;
    const fs = perRow ? 'row' : 'tensor';
    const bs = perRow ? 'column' : 'tensor';
    const words = (shape: [number, number]) => shape[0] * shape[1];
    // linear/int8.ts: codes and partials are scratch shared by the layers; the scales are per layer.
    const shared = (what: string, floats: number) => list.shared(`int8.${what}`, [floats]);
    shared('partials', Math.max(absmaxPartials(N, D, fs), absmaxPartials(C, D, fs), absmaxPartials(N, C, 'tensor'), absmaxPartials(N, D, bs), absmaxPartials(C, D, bs), 1));
    f32('scale_x', scaleCount(N, D, fs));
    f32('scale_w', scaleCount(C, D, fs));
    shared('codes_x', words(int8CodeShape(N, D)));
    shared('codes_w', words(int8CodeShape(C, D)));
    if (perRow) f32('one', 1);
    f32('scale_grad', 1);
    shared('codes_grad', words(int8CodeShape(N, C)));
    shared('codes_grad_t', words(int8CodeShape(N, C, true)));
    shared('codes_w_t', words(int8CodeShape(C, D, true)));
    shared('codes_x_t', words(int8CodeShape(N, D, true)));
    if (perRow) {
      f32('scale_w_t', D);
      f32('scale_x_t', D);
    }
    biasPartials();
    return;
  }
  // The quantized precisions (linear/quantized.ts). Backward-only (and forward-only) temporaries are
  // shared by the layers.
  const q = quantizerChoice(t)!;
  const format = q.bits <= 4 ? 'int4' : 'int8';
  const lsq = q.forward === 'hq' || q.forward === 'lsq';
  const shared = (what: string, shape: number[]) => list.shared(`quantized.${what}`, shape);
  const codeShape = (rows: number) => [rows, packedWordsPerRow(D, format)];
  f32('partials', 2 * REDUCTION_PARTIALS);
  const baselineScratch = () => f32('baseline_partials', baselinePartials(Math.max(N * D, C * D, N * C)));
  if (lsq) {
    // X·H, W·H and v are computed again in the backward (linear/quantized.ts): scratch too.
    if (q.forward === 'hq') {
      shared('xh_or_sampled_grad_w_or_grad_x_masked', [N, D]);
      shared('wh_or_grad_w_masked', [C, D]);
    } else shared('w_copy', [C, D]);
    shared('v_x', [N, D]);
    shared('v_w', [C, D]);
    shared('codes_x', codeShape(N));
    shared('codes_w', codeShape(C));
    // X̂ shares its buffer with the raw ∇X (never live together).
    shared('x_dequantized_or_grad_x_raw', [N, D]);
    shared('w_dequantized', [C, D]);
    if (q.forward === 'hq' && t.hadamardSearch) {
      const sizes = hadamardSearchScratch(N, C, D);
      f32('search_step', 1);
      f32('search_partials', sizes.partials);
      f32('search_errors', sizes.errors);
    }
    shared('grad_w_raw', [C, D]);
  } else if (q.forward === 'minmax') {
    f32('x_dequantized', N * D);
    f32('w_dequantized', C * D);
    f32('minmax_stats', BASELINE_STATS);
    baselineScratch();
  }
  // linear/quantized.ts: integer backward products with 4-bit LSQ codes (ops/intgrad.ts).
  const integerBackward = lsq && format === 'int4' && (q.backward === 'lss' || q.backward === 'bitsplit');
  // The sampled ∇Y for ∇W shares its buffer with X·H and the masked ∇X where the layer has them (HQ).
  const sampledGradW = lsq && q.forward === 'hq' ? 'xh_or_sampled_grad_w_or_grad_x_masked' : 'sampled_grad_w';
  let weightGradientInF32 = true;
  if (q.backward === 'lss' || q.backward === 'bitsplit') {
    // LSS with integer products keeps the split only as packed codes (grad_hi_codes / grad_lo_codes below).
    if (!(integerBackward && q.backward === 'lss')) for (const what of ['grad_hi', 'grad_lo']) shared(what, [N, C]);
    shared('split_state', [4]);
    for (const [what, floats] of [['split_row_norms', 2 * N], ['x_row_norms', N], ['probs_w', 2 * N], ['probs_x', 2 * N], ['kept_w', 1], ['kept_x', 1], ['weights_hi', N], ['weights_lo', N]] as const) shared(what, [floats]);
    if (!integerBackward) {
      for (const what of [sampledGradW, 'sampled_grad_x']) shared(what, [N, C]);
    } else {
      shared('codes_w_t', splitCodeShape(C, D, true));
      if (q.backward === 'bitsplit') {
        shared('grad_codes', splitCodeShape(N, C));
        shared('grad_codes_t', splitCodeShape(N, C, true));
        shared('codes_x_t', splitCodeShape(N, D, true));
        weightGradientInF32 = false;
      } else {
        shared(sampledGradW, [N, C]);
        for (const what of ['grad_hi_codes', 'grad_lo_codes']) shared(what, splitCodeShape(N, C));
      }
    }
  } else if (q.backward === 'minmax' || q.backward === 'luq') {
    shared('grad_y_quantized', [N, C]);
    f32('grad_stats', BASELINE_STATS);
    baselineScratch();
  }
  if (weightGradientInF32) splitPartials(C, D, N);
  if (lsq && q.forward === 'hq') {
    shared('xh_or_sampled_grad_w_or_grad_x_masked', [N, D]);
    shared('wh_or_grad_w_masked', [C, D]);
  }
  biasPartials();
}

/** Every buffer Trainer.create allocates for a config (it must be valid: validateRunConfig). */
function runBuffers(config: RunConfig, alignFloats: number): { list: BufferList; parameterFloats: number } {
  const m = config.model;
  const t = config.train;
  const B = t.batchSize;
  const T = m.contextLength;
  const N = B * T;
  const C = m.dModel;
  const F = m.dFF;
  const V = m.vocabSize;
  const L = m.nLayer;
  const square = B * m.nHead * T * T;
  const list = new BufferList();
  const f32 = (label: string, floats: number, count = 1) => list.f32(label, floats, count);

  // Trainer: loss scaler, step state, metrics ring, validation sums.
  f32('loss_scaler', 3);
  f32('step_state', 2);
  f32('metrics', t.logEvery * METRICS_RECORD);
  f32('metrics.validation', 2);
  list.add('metrics.staging', t.logEvery * METRICS_RECORD * 4, METRICS_STAGING, false);

  // Model: the flat parameter buffer and its gradients, AdamW's moments of the same layout.
  const scheme = linearSchemeFor(t);
  const layout = new ParamLayout(modelParamSpecs(m, scheme), alignFloats);
  const P = layout.totalFloats;
  f32('parameters', P);
  f32('gradients', P);
  f32('AdamW moments', P, 2);
  f32('input and target tokens', N, 2);
  // The encoder classifier's and the encoder-decoder's key padding mask: one length per sequence.
  if (m.architecture !== 'decoder') f32('attention key lengths (one per sequence)', B);

  // Activations of each block (kept for the backward), the embedding and the head.
  // Per block: LayerNorm outputs; q, k, v and y by head (the separate attention kernel only: the fused one
  // works in the qkv and output tensors themselves); attention output and projection, the middle
  // residual, the MLP projection and the block output (all batch·context × d_model).
  const fused = attentionKernelFor(m, t) === 'fused';
  const perHead = fused ? 0 : 4;
  f32('activations (batch·context × d_model)', N * C, 1 + 2 * L + perHead * L + 5 * L + 1);
  f32('LayerNorm statistics', N, 4 * L + 2);
  // Each LayerNorm backward sums ∇γ and ∇β over the tokens in two passes (ops/layernorm.ts).
  list.shared('colsum.partials', [2 * Math.ceil(N / COLSUM_CHUNK) * C]); // every LayerNorm's γ/β gradient sums
  f32('attention q·k·v input (batch·context × 3·d_model)', 3 * N * C, L);
  // The separate attention kernel keeps scores and probabilities; the fused one each row's log-sum-exp
  // (attention maps recompute one layer's probabilities of one sequence into a buffer allocated when a
  // map is first asked for, not counted here: model/gpt.ts mapTensor checks it then).
  const rowsByHead = B * m.nHead * T;
  if (fused) f32('attention row log-sum-exp (batch·heads × context)', rowsByHead, L);
  else f32('attention scores (batch·heads × context × context)', square, 2 * L);
  f32('MLP activations (batch·context × d_ff)', N * F, 2 * L);
  f32('logits (batch·context × vocab)', N * headOutputs(m));

  // Gradient scratch, shared by the blocks.
  f32('activation gradients (batch·context × d_model)', N * C, L + 1 + 3 + perHead);
  f32('attention q·k·v input gradient (batch·context × 3·d_model)', 3 * N * C);
  f32('MLP activation gradients (batch·context × d_ff)', N * F, 2);
  if (fused) f32('attention backward row statistics (batch·heads × context × 2)', 2 * rowsByHead);
  else f32('attention score gradients (batch·heads × context × context)', square, 2);
  f32('logit gradients (batch·context × vocab)', N * headOutputs(m));

  // Per-layer measurements and their staging copies.
  if ((t.measureEvery ?? 0) > 0) {
    const inputs = [C, C, C, F];
    const recordFloats = L * inputs.reduce((a, d) => a + linearStatsLayout(GRAD_HISTOGRAM.bins, d).size, 0);
    f32('measurements', recordFloats);
    f32('measurements.row_norms', N);
    f32('measurements.partials', relativeErrorPartials(Math.max(N, F, 3 * C) * Math.max(C, F, 3 * C)));
    f32('measurements.xh', N * Math.max(C, F));
    list.add('measurements.staging', recordFloats * 4, MEASURE_STAGING, false);
  }
  if ((t.checkpointEvery ?? 0) > 0) list.add('checkpoint.staging', checkpointStagingFloats(P) * 4, CHECKPOINT_STAGING, false);

  // The schemes' scratch: four linear layers per block, and lm_head, which stays f32.
  for (let l = 0; l < L; l++) {
    const p = `transformer.h.${l}`;
    linearLayerBuffers(list, config, `${p}.attn.c_attn`, N, C, 3 * C, true, false);
    linearLayerBuffers(list, config, `${p}.attn.c_proj`, N, C, C, true, false);
    linearLayerBuffers(list, config, `${p}.mlp.c_fc`, N, C, F, true, false);
    linearLayerBuffers(list, config, `${p}.mlp.c_proj`, N, F, C, true, false);
  }
  linearLayerBuffers(list, config, 'lm_head', N, C, V, false, true);
  if (scheme.embedding) {
    const q = quantizerChoice(t)!;
    f32('embedding.out_f32', N * C);
    f32('d_embedding', N * C);
    f32('embedding.lsq_v', N * C);
    f32('embedding.codes', N * packedWordsPerRow(C, q.bits <= 4 ? 'int4' : 'int8'));
    f32('embedding.partials', REDUCTION_PARTIALS);
  }

  if (m.architecture === 'encoder-decoder') encoderDecoderBuffers(list, config, !!scheme.embedding);

  // Loss, optimizer.
  f32('loss.scored', 1);
  f32('loss.per_position', N);
  list.add('loss.reduce.uniforms', 16, 2, false);
  f32('optimizer.partials', 256);
  f32('optimizer.state', 3);
  list.add('optimizer.step', 64, 1, false);
  // Kernels: a placeholder binding; each dispatch's uniform buffer (16–32 bytes) is left out.
  f32('placeholder', 4);
  return { list, parameterFloats: P };
}

/** What an encoder-decoder (model/encdec.ts) allocates on top of the decoder counted by runBuffers: the
 *  encoder stack over B·S source tokens, and each decoder block's cross-attention sub-layer. */
function encoderDecoderBuffers(list: BufferList, config: RunConfig, quantizedEmbedding: boolean): void {
  const m = config.model;
  const B = config.train.batchSize;
  const T = m.contextLength;
  const S = m.sourceLength ?? T;
  const N = B * T;
  const NS = B * S;
  const C = m.dModel;
  const F = m.dFF;
  const L = m.nLayer;
  const f32 = (label: string, floats: number, count = 1) => list.f32(label, floats, count);
  // Encoder: as the decoder's blocks, over NS tokens, plus its output norm.
  const fused = attentionKernelFor(m, config.train) === 'fused';
  const perHead = fused ? 0 : 4;
  f32('encoder activations (batch·source × d_model)', NS * C, 2 + 2 * L + perHead * L + 5 * L + 1);
  f32('encoder LayerNorm statistics', NS, 4 * L + 2);
  f32('encoder q·k·v input (batch·source × 3·d_model)', 3 * NS * C, L + 1);
  if (fused) f32('encoder attention row log-sum-exp and backward statistics (batch·heads × source)', B * m.nHead * S, L + 2);
  else f32('encoder attention scores (batch·heads × source × source)', B * m.nHead * S * S, 2 * L + 2);
  f32('encoder MLP activations (batch·source × d_ff)', NS * F, 2 * L + 2);
  f32('encoder activation gradients (batch·source × d_model)', NS * C, L + 4 + perHead);
  if (quantizedEmbedding) f32('encoder embedding quantizer', NS * C, 4);
  // Cross-attention per decoder block: ln_cross, q, outputs, k/v of the encoder output, scores.
  f32('cross-attention activations (batch·context × d_model)', N * C, 8 * L + 3);
  f32('cross-attention k·v (batch·source × 2·d_model)', 2 * NS * C, 2 * L + 1);
  if (fused) f32('cross-attention row log-sum-exp and backward statistics (batch·heads × context)', B * m.nHead * T, L + 2);
  else f32('cross-attention scores (batch·heads × context × source)', B * m.nHead * T * S, 2 * L + 2);
  f32('cross-attention LayerNorm statistics', N, 2 * L);
  for (let l = 0; l < L; l++) {
    for (const [which, inF, outF] of [['attn.c_attn', C, 3 * C], ['attn.c_proj', C, C], ['mlp.c_fc', C, F], ['mlp.c_proj', F, C]] as const) {
      linearLayerBuffers(list, config, `encoder.h.${l}.${which}`, NS, inF, outF, true, false);
    }
    const p = `transformer.h.${l}.cross_attn`;
    linearLayerBuffers(list, config, `${p}.c_q`, N, C, C, true, false);
    linearLayerBuffers(list, config, `${p}.c_kv`, NS, C, 2 * C, true, false);
    linearLayerBuffers(list, config, `${p}.c_proj`, N, C, C, true, false);
  }
}

/** The GPU memory a run needs, computed from its config alone. Throws ConfigError for an invalid config. */
export function estimateRunMemory(config: RunConfig, limits: Pick<MemoryLimits, 'minStorageBufferOffsetAlignment'> = {}): MemoryEstimate {
  validateRunConfig(config);
  const align = Math.max(1, (limits.minStorageBufferOffsetAlignment ?? 256) / 4);
  const { list, parameterFloats } = runBuffers(config, align);
  let totalBytes = 0;
  let largest = list.buffers[0];
  for (const b of list.buffers) {
    totalBytes += b.bytes * b.count;
    if (b.bytes > largest.bytes) largest = b;
  }
  return { totalBytes, largest, buffers: list.buffers, parameterFloats };
}

/** The shared scratch of a run, role → floats (gpu/scratch.ts planScratch): the estimate's own sizes,
 *  so the build allocates what was checked against the limits. */
export function sharedScratchPlan(estimate: MemoryEstimate): Map<string, number> {
  const plan = new Map<string, number>();
  for (const b of estimate.buffers) if (b.label.startsWith(SHARED)) plan.set(b.label.slice(SHARED.length), b.bytes / 4);
  return plan;
}

/** The first limit the estimate breaks, or null. */
function brokenLimit(e: MemoryEstimate, limits: MemoryLimits): { buffer: BufferNeed; limit: number; name: string } | null {
  for (const b of [...e.buffers].sort((x, y) => y.bytes - x.bytes)) {
    if (b.bytes > limits.maxBufferSize) return { buffer: b, limit: limits.maxBufferSize, name: 'maxBufferSize' };
    if (b.storage && b.bytes > limits.maxStorageBufferBindingSize) return { buffer: b, limit: limits.maxStorageBufferBindingSize, name: 'maxStorageBufferBindingSize' };
  }
  return null;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}

/** What to change when the batch is not the problem: the model dimension the buffer grows with. */
function shrinkHint(label: string): string {
  if (/attention score/.test(label)) return 'a shorter context or fewer heads';
  if (/logit/.test(label)) return 'a shorter context or a smaller vocabulary';
  if (['parameters', 'gradients', 'AdamW moments'].includes(label)) return 'a smaller model (fewer layers, a smaller d_model or d_ff)';
  // The copy of weights and AdamW moments that training checkpoints are read back through.
  if (/^checkpoint\.staging/.test(label)) return 'a smaller model, or no training checkpoints (checkpoint every 0 steps)';
  return 'a shorter context or a smaller model';
}

/**
 * Checks a run against the adapter's per-buffer limits before anything is allocated. Returns the
 * estimate, or throws MemoryLimitError naming the buffer that does not fit, how large it is against
 * the limit, and the largest batch size that fits (everything else unchanged).
 */
export function checkMemoryLimits(config: RunConfig, limits: MemoryLimits): MemoryEstimate {
  const estimate = estimateRunMemory(config, limits);
  const broken = brokenLimit(estimate, limits);
  if (!broken) return estimate;
  // Every buffer grows with the batch or not at all, so the batches that fit are 1..b: bisect for b.
  const fits = (batchSize: number) => brokenLimit(estimateRunMemory({ ...config, train: { ...config.train, batchSize } }, limits), limits) === null;
  let suggested: number | null = null;
  if (fits(1)) {
    let lo = 1;
    let hi = config.train.batchSize - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    suggested = lo;
  }
  const { buffer, limit, name } = broken;
  const what = `this run needs a ${formatBytes(buffer.bytes)} buffer for the ${buffer.label}, but this GPU allows ${formatBytes(limit)} per buffer (${name}); about ${formatBytes(estimate.totalBytes)} of GPU memory in all`;
  const fix = suggested !== null
    ? `the largest batch size that fits is ${suggested} (batch ${config.train.batchSize} now)`
    : `even batch size 1 does not fit: use ${shrinkHint(buffer.label)}`;
  throw new MemoryLimitError(`${what}; ${fix}`, buffer.bytes, limit, suggested);
}

/** Checked in Trainer.create: the device's own limits. */
export function checkRunFitsDevice(config: RunConfig, device: GPUDevice): MemoryEstimate {
  return checkMemoryLimits(config, device.limits);
}
