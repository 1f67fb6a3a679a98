// The training loop. Each step writes the batch and the step's uniforms, records forward, loss,
// backward and the optimizer into ONE command encoder and submits it. Nothing is allocated in the loop
// and nothing waits for a readback: per-step metrics are written on the GPU into a ring of records that
// is copied out every `logEvery` steps and mapped asynchronously.
import type { RunConfig } from '../config';
import { attentionKernelFor, ConfigError, validateRunConfig } from '../config';
import { datasetArchitectureError } from '../data/open';
import type { Dataset } from '../data/dataset';
import { Rng } from '../data/rng';
import type { GpuContext } from '../gpu/device';
import { type Dispatch, Kernels, recordDispatches } from '../gpu/kernels';
import type { DispatchProfiler, DispatchTime } from '../gpu/profiler';
import { GpuMemory, readBytes, readTensor, writeTensor } from '../gpu/memory';
import { CHECKPOINT_STAGING, checkpointStagingFloats, checkRunFitsDevice, type MemoryEstimate, sharedScratchPlan } from '../limits';
import { planScratch } from '../gpu/scratch';
import { setMatmulTuning } from '../ops/matmul';
import type { MatmulTuning } from '../ops/matmul-tune';
import { matmulTuningSkipped, startupIntTuning, startupMatmulTuning, summarizeMatmulTuning } from './startup-tuning';
import { type IntMatmulTuning, summarizeIntTuning } from '../ops/intmatmul-tune';
import { setIntMatmulChoice } from '../ops/quant';
import { type LinearScheme, linearSchemeFor } from '../linear';
import { buildModel, type Model } from '../model/build';
import { optimizerStep, packAdamWStep } from '../ops/optimizer';
import type { Tensor } from '../tensor';
import { type AttentionExample, type AttentionMap, attentionMaps, type ClassificationReport, classifyValidation, type ForwardRunner, greedyTranslate, requireTranslation, type TranslationReport, translationExactMatch } from './inference';
import type { MeasurementSnapshot } from './measurements';
import { learningRateAt } from './schedule';
import { type TrainerExtras, trainingPlugin } from '../sparsity/plugin';
import type { PluginSteps, TrainerPlugin } from './plugin';

export interface StepMetrics {
  step: number;
  /** Mean training loss of the step's batch (unscaled). */
  loss: number;
  /** Global gradient norm before clipping (unscaled). */
  gradNorm: number;
  /** The loss scale the step ran with (1 without dynamic loss scaling). */
  lossScale: number;
  /** The step overflowed under dynamic loss scaling and did not update the parameters. */
  skipped: boolean;
  lr: number;
  /** Throughput over the window of steps this record was read back with. */
  tokensPerSecond: number;
  elapsedSeconds: number;
}

/** Floats per step record in the metrics ring: [loss, gradient norm, loss scale, skipped]. */
const RECORD = 4;
/** Dynamic loss scaling: the starting scale and the clean steps before it doubles (the usual defaults
 *  of mixed-precision training). */
const INITIAL_LOSS_SCALE = 65536;
const LOSS_SCALE_GROWTH_INTERVAL = 2000;
/** Staging buffers for metric readbacks in flight. */
const STAGING = 4;
/** Staging buffers for measurement snapshots in flight. More than the steps in flight, so a snapshot
 *  only waits for a free one when measurements are due more often than every few steps. */
const MEASURE_STAGING = 4;
/** Submitted steps allowed to be queued ahead of the GPU. */
const MAX_STEPS_IN_FLIGHT = 3;
/** Everything a run needs to continue bit for bit where it was (TrainConfig.checkpointEvery): taken
 *  after the optimizer of step `step`, in that step's own command buffer, so it is one consistent state. */
export interface TrainerCheckpoint {
  /** Steps done when it was taken (the next step is step + 1). */
  step: number;
  /** The flat parameter buffer in the model's layout (padding included), and AdamW's moments. */
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** Dynamic loss scaling's [loss scale, overflow-free steps, skipped steps]. */
  lossScaler: Float32Array;
  /** The data stream's position: its xoshiro128** state after the batch of step `step` (Rng.state()). */
  dataRng: [number, number, number, number];
  /** Training time up to the checkpoint, so elapsed times carry on after a resume. */
  elapsedSeconds: number;
}

/** The GPU device was lost (driver reset, device.destroy(), a browser reclaiming the GPU). The trainer
 *  cannot go on; train/session.ts builds a new one on a new device from the last checkpoint. */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
  constructor(
    /** GPUDeviceLostInfo.reason: 'destroyed' or 'unknown'. */
    readonly reason: string,
    readonly detail: string,
    /** Steps submitted when the loss was noticed. */
    readonly step: number,
  ) {
    super(`the GPU device was lost at step ${step} (${reason}${detail ? `: ${detail}` : ''})`);
  }
}

/** A step produced a non-finite loss or gradient. The optimizer skipped that step (the parameters are
 *  those of the step before), and the run stops with where the values went bad. */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
  constructor(
    message: string,
    /** The 1-based step whose loss or gradient was not finite. */
    readonly step: number,
    /** The first forward activation holding a NaN or ±∞ on that step's batch, if any. */
    readonly activation: string | null,
    /** Parameter gradients holding a NaN or ±∞. */
    readonly gradients: string[],
  ) {
    super(message);
  }
}

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export class Trainer {
  readonly config: RunConfig;
  readonly dataset: Dataset;
  readonly model: Model;
  readonly memory: GpuMemory;
  readonly kernels: Kernels;
  /** Steps taken so far. */
  stepsDone = 0;

  private readonly device: GPUDevice;
  private readonly scheme: LinearScheme;
  private readonly scaler: Tensor;
  private readonly stepState: Tensor;
  /** The schemes' one-time initialisation (first-batch step sizes) has run, or was loaded. */
  private initialized = false;
  /** Not readonly: restore() moves it to a checkpoint's position. */
  private dataRng: Rng;
  private readonly metrics: Tensor;
  private readonly valMetrics: Tensor;
  private readonly stepUniforms: GPUBuffer;
  private readonly optimizer;
  private readonly ringSteps: number;
  private readonly staging: GPUBuffer[] = [];
  private readonly stagingBusy: (Promise<void> | null)[] = [];
  private nextStaging = 0;
  private readonly inflight: Promise<unknown>[] = [];
  private readonly lrs: number[] = [];
  private windowStart: { step: number; time: number };
  /** Not readonly: restore() moves it back by the checkpoint's elapsed time. */
  private startTime: number;
  /** The step this trainer started from (a restored checkpoint's): the metrics ring holds nothing before it. */
  private resumedFrom = 0;
  private readonly adamM: Tensor;
  private readonly adamV: Tensor;
  private readonly checkpointListeners: ((c: TrainerCheckpoint) => void)[] = [];
  private readonly checkpointStaging: GPUBuffer[] = [];
  private readonly checkpointBusy: (Promise<void> | null)[] = [];
  private nextCheckpointStaging = 0;
  /** Set once the device is lost; every later step() or flush() throws DeviceLostError. */
  private lostInfo: { reason: string; message: string } | null = null;
  /** What the device.lost handler reaches the trainer through; destroy() cuts it, so a device that
   *  outlives many trainers (a page's worker) does not keep them all alive. */
  private readonly lostWatch: { trainer: Trainer | null } = { trainer: this };
  private readonly listeners: ((m: StepMetrics[]) => void)[] = [];
  private readonly measureListeners: ((s: MeasurementSnapshot) => void)[] = [];
  private readonly measureStaging: GPUBuffer[] = [];
  private readonly measureBusy: (Promise<void> | null)[] = [];
  private nextMeasureStaging = 0;
  private failure: unknown = undefined;
  /** A non-finite step has been found (its report may still be being located). */
  private nonFiniteSeen = false;

  /** 2:4 sparsity and distillation (sparsity/plugin.ts), when the config asks for them. */
  private readonly plugin: TrainerPlugin | null;
  private readonly pluginSteps: PluginSteps = {};

  /** The start-up tuning of the f32 products (null: built-in kernel; matmulSkipped says why). */
  readonly matmulTuning: MatmulTuning | null;
  /** The start-up choice of the integer products' kernel (quantized runs; null: the default). */
  readonly intTuning: IntMatmulTuning | null;
  private readonly matmulSkipped: string | null;

  private constructor(readonly gpu: GpuContext, config: RunConfig, dataset: Dataset, extras: TrainerExtras, memoryEstimate: MemoryEstimate, tuning: { f32: MatmulTuning | null; int: IntMatmulTuning | null }) {
    this.config = validateRunConfig(config);
    this.dataset = dataset;
    this.device = gpu.device;
    const t = config.train;
    const mismatch = datasetArchitectureError(config.model, dataset);
    if (mismatch) throw new ConfigError(mismatch);
    if (config.model.vocabSize !== dataset.tokenizer.vocabSize) {
      throw new Error(`model vocabulary (${config.model.vocabSize}) differs from dataset ${dataset.name} (${dataset.tokenizer.vocabSize})`);
    }
    this.memory = new GpuMemory(this.device);
    this.kernels = new Kernels(this.device, this.memory, gpu.capabilities);
    this.matmulTuning = tuning.f32;
    this.intTuning = tuning.int;
    this.matmulSkipped = matmulTuningSkipped(gpu, config);
    if (tuning.f32) setMatmulTuning(this.kernels, tuning.f32);
    if (tuning.int) setIntMatmulChoice(this.kernels, tuning.int.chosen);
    // One buffer per scratch role across the layers of every shape, sized as the estimate (checked against
    // the device's limits in create) says.
    planScratch(this.kernels, sharedScratchPlan(memoryEstimate));
    const plugin = trainingPlugin(this.config, extras);
    this.plugin = plugin;
    this.scheme = linearSchemeFor(t);
    this.scaler = this.memory.tensor([3], 'loss_scaler');
    this.stepState = this.memory.tensor([2], 'step_state');
    writeTensor(this.device, this.scaler, new Float32Array([this.scheme.usesLossScaling ? INITIAL_LOSS_SCALE : 1, 0, 0]));
    this.ringSteps = t.logEvery;
    this.metrics = this.memory.tensor([this.ringSteps * RECORD], 'metrics');
    this.valMetrics = this.memory.tensor([2], 'metrics.validation');
    this.model = buildModel(this.kernels, {
      config: config.model,
      batchSize: t.batchSize,
      scheme: this.scheme,
      metrics: this.metrics,
      valMetrics: this.valMetrics,
      lossScale: this.scaler,
      stepState: this.stepState,
      measure: (t.measureEvery ?? 0) > 0 ? { hadamardBlock: t.hadamardBlock } : null,
      headBackward: plugin?.headBackward ? (h) => plugin.headBackward!(this.kernels, h) : undefined,
      // The encoders mask padded keys; the lengths come from the uploaded tokens on the GPU.
      padToken: dataset.padToken,
      attentionKernel: attentionKernelFor(config.model, t),
    });
    const measurements = this.model.measurements;
    for (let i = 0; measurements && i < MEASURE_STAGING; i++) {
      this.measureStaging.push(this.memory.buffer(measurements.buffer.byteLength, GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ, `measurements.staging.${i}`));
      this.measureBusy.push(null);
    }
    const n = this.model.layout.totalFloats;
    this.stepUniforms = this.memory.buffer(64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'optimizer.step');
    this.adamM = this.memory.tensor([n], 'adam.m');
    this.adamV = this.memory.tensor([n], 'adam.v');
    this.optimizer = optimizerStep(this.kernels, {
      params: this.model.params,
      grads: this.model.grads,
      m: this.adamM,
      v: this.adamV,
      partials: this.memory.tensor([256], 'optimizer.partials'),
      state: this.memory.tensor([3], 'optimizer.state'),
      metrics: this.metrics,
      scaler: this.scaler,
    }, this.stepUniforms);
    if (plugin) this.pluginSteps = plugin.attach({ kernels: this.kernels, model: this.model, adam: { m: this.adamM, v: this.adamV } });
    for (let i = 0; i < STAGING; i++) {
      this.staging.push(this.memory.buffer(this.metrics.byteLength, GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ, `metrics.staging.${i}`));
      this.stagingBusy.push(null);
    }
    for (let i = 0; (t.checkpointEvery ?? 0) > 0 && i < CHECKPOINT_STAGING; i++) {
      this.checkpointStaging.push(this.memory.buffer(checkpointStagingFloats(n) * 4, GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ, `checkpoint.staging.${i}`));
      this.checkpointBusy.push(null);
    }
    // A WebGPU validation error makes a whole command buffer a no-op: the run would go on silently
    // without the step. Fail it loudly instead (the next step() or flush() throws).
    this.device.addEventListener('uncapturederror', this.onGpuError);
    // A lost device fails every later step the same way (its submits are silently dropped): say so.
    const watch = this.lostWatch;
    void this.device.lost.then((info) => {
      const trainer = watch.trainer;
      if (trainer) trainer.lostInfo ??= { reason: info.reason ?? 'unknown', message: info.message ?? '' };
    });
    // Independent streams: data order and parameter initialisation do not disturb each other.
    const root = new Rng(t.seed);
    this.dataRng = root.fork('data');
    writeTensor(this.device, this.model.params, this.model.layout.initialValues(root.fork('init')));
    this.startTime = now();
    this.windowStart = { step: 0, time: this.startTime };
  }

  static async create(gpu: GpuContext, config: RunConfig, dataset: Dataset, extras: TrainerExtras = {}): Promise<Trainer> {
    // Before any GPU work: a config too large for the adapter's buffers is a ConfigError with a fix.
    const memoryEstimate = checkRunFitsDevice(config, gpu.device);
    const valid = validateRunConfig(config);
    const tuning = { f32: await startupMatmulTuning(gpu, valid), int: await startupIntTuning(gpu, valid) };
    gpu.device.pushErrorScope('validation');
    gpu.device.pushErrorScope('out-of-memory');
    let trainer: Trainer;
    try {
      trainer = new Trainer(gpu, config, dataset, extras, memoryEstimate, tuning);
    } finally {
      const oom = await gpu.device.popErrorScope();
      const invalid = await gpu.device.popErrorScope();
      if (oom) throw new Error(`the GPU ran out of memory building the model (${oom.message}); use a smaller model or batch`);
      if (invalid) throw new Error(`WebGPU rejected the model build: ${invalid.message}`);
    }
    return trainer;
  }

  /** Called with every batch of step metrics as it is read back. */
  onMetrics(listener: (m: StepMetrics[]) => void): void {
    this.listeners.push(listener);
  }

  /** Called with every per-layer measurement snapshot (TrainConfig.measureEvery) as it is read back. */
  onMeasurements(listener: (s: MeasurementSnapshot) => void): void {
    this.measureListeners.push(listener);
  }

  /** Called with every training checkpoint (TrainConfig.checkpointEvery) as it is read back. */
  onCheckpoint(listener: (c: TrainerCheckpoint) => void): void {
    this.checkpointListeners.push(listener);
  }

  /** How the device was lost, or null while it works. */
  get deviceLost(): { reason: string; message: string } | null {
    return this.lostInfo;
  }

  /** Continues from a checkpoint of the same config (learning rate and step count may differ): the
   *  parameters, AdamW's moments, the loss scale, the data stream's position and the step count, so the
   *  next steps are those the checkpointed run took. Only on a trainer that has not stepped. */
  restore(c: TrainerCheckpoint): void {
    const n = this.model.layout.totalFloats;
    if (this.stepsDone !== 0 || this.resumedFrom !== 0) throw new Error('restore() needs a new trainer: this one has already trained');
    for (const [name, a] of [['parameters', c.params], ['m', c.m], ['v', c.v]] as const) {
      if (a.length !== n) throw new Error(`the checkpoint's ${name} hold ${a.length} values; this model's layout has ${n} (a checkpoint of another model or precision)`);
    }
    if (c.lossScaler.length !== 3) throw new Error(`the checkpoint's loss scaler holds ${c.lossScaler.length} values, not 3`);
    if (!(Number.isInteger(c.step) && c.step >= 1)) throw new Error(`a checkpoint's step must be a positive integer (got ${c.step})`);
    writeTensor(this.device, this.model.params, c.params);
    writeTensor(this.device, this.adamM, c.m);
    writeTensor(this.device, this.adamV, c.v);
    writeTensor(this.device, this.scaler, c.lossScaler);
    this.dataRng = Rng.fromState(c.dataRng);
    this.stepsDone = c.step;
    this.resumedFrom = c.step;
    // The first forward's one-time initialisation (step sizes, searched Hadamard blocks) is in the parameters.
    this.initialized = true;
    const t = now();
    this.startTime = t - c.elapsedSeconds * 1000;
    this.windowStart = { step: c.step, time: t };
  }

  get tokensPerStep(): number {
    // An encoder-decoder reads S source tokens per sequence on top of the T decoder tokens.
    return this.model.B * (this.model.T + ('S' in this.model ? this.model.S : 0));
  }

  /** The source length of an encoder-decoder (undefined for the other architectures). */
  private get sourceLength(): number | undefined {
    return 'S' in this.model ? this.model.S : undefined;
  }

  /** Writes a batch's tokens (and an encoder-decoder's sources) to the model. */
  private writeBatch(batch: { inputs: Int32Array; targets: Int32Array; sources?: Int32Array }): void {
    writeTensor(this.device, this.model.inputs, batch.inputs);
    writeTensor(this.device, this.model.targets, batch.targets);
    if (this.model.sources) {
      if (!batch.sources) throw new Error(`dataset ${this.dataset.name} gave no source sequences for the encoder`);
      writeTensor(this.device, this.model.sources, batch.sources);
    }
  }

  /** What a recipe plugin does to the run (2:4 sparsity, Sparse-QAT, distillation), or null. */
  get recipe(): string | null {
    return this.plugin?.describe() ?? null;
  }

  /** The kernel path the linear layers run on, for the user. */
  get kernelPath(): string {
    const attention = attentionKernelFor(this.config.model, this.config.train) === 'fused' ? 'attention fused (FlashAttention-style)' : 'attention as separate products';
    const integer = this.intTuning ? `; ${summarizeIntTuning(this.intTuning)}` : '';
    return `${this.scheme.kernelPath(this.gpu.capabilities)}; ${attention}; ${summarizeMatmulTuning(this.matmulTuning, this.matmulSkipped)}${integer}`;
  }

  /** The linear scheme trains with dynamic loss scaling (FP16). */
  get usesLossScaling(): boolean {
    return this.scheme.usesLossScaling;
  }

  get parameterCount(): number {
    return this.model.layout.count;
  }

  /** Records and submits one training step. Resolves once the step is queued; it only waits when the
   *  GPU is more than a few steps behind (back-pressure), never for data to come back. */
  async step(): Promise<void> {
    await this.runStep(null);
  }

  /** One training step like step(), with every dispatch in a pass of its own timed on the GPU
   *  (gpu/profiler.ts): the times of this step's kernels, in order. Waits for the step to finish. */
  async profileStep(profiler: DispatchProfiler): Promise<DispatchTime[]> {
    const read = await this.runStep(profiler);
    return read!();
  }

  private async runStep(profiler: DispatchProfiler | null): Promise<(() => Promise<DispatchTime[]>) | null> {
    this.throwIfFailed();
    const t = this.config.train;
    const step = this.stepsDone;
    // A recipe's work between steps (a pruning) is submitted before this step's command buffer.
    this.plugin?.beforeStep?.(step);
    const batch = this.dataset.trainBatch(this.dataRng, this.model.B, this.model.T, this.sourceLength);
    // Targets of −1 (not scored) read as 0xffffffff in the u32 buffer: the kernels' IGNORE value.
    this.writeBatch(batch);
    const lr = this.plugin?.learningRate?.(step) ?? learningRateAt(step, { maxLr: t.lr, minLr: t.lr * t.minLrRatio, warmupSteps: t.warmupSteps, totalSteps: t.steps });
    this.lrs[step] = lr;
    const slot = (step % this.ringSteps) * RECORD;
    this.device.queue.writeBuffer(this.stepUniforms, 0, packAdamWStep({
      lr, beta1: t.beta1, beta2: t.beta2, eps: t.eps, weightDecay: t.weightDecay, t: step + 1,
      maxGradNorm: t.gradClip, nParams: this.model.layout.totalFloats, decayEnd: this.model.layout.decayEnd, metricsSlot: slot + 1,
      dynamicLossScale: this.scheme.usesLossScaling, scaleGrowthInterval: LOSS_SCALE_GROWTH_INTERVAL,
      scaledStart: this.model.layout.quantizerStart, lrScale: t.quantizerLrScale ?? 1,
    }));
    this.device.queue.writeBuffer(this.model.trainLossUniforms, 8, new Uint32Array([slot]));
    this.device.queue.writeBuffer(this.stepState.buffer, 0, new Uint32Array([t.seed, step]));

    const encoder = this.device.createCommandEncoder({ label: `step ${step}` });
    // Only a due snapshot whose staging buffer is still being read waits (and only then is there an await).
    const measureSlot = this.measureSlotFor(step);
    if (measureSlot !== null && this.measureBusy[measureSlot]) await this.measureBusy[measureSlot];
    const checkpointSlot = this.checkpointSlotFor(step);
    if (checkpointSlot !== null && this.checkpointBusy[checkpointSlot]) await this.checkpointBusy[checkpointSlot];
    const extra = this.pluginSteps;
    const parts = [
      extra.beforeForward ?? [],
      this.initialized ? this.model.forward : this.model.firstForward,
      this.model.trainLoss,
      measureSlot === null ? this.model.backward : this.model.measuredBackward,
      extra.beforeOptimizer ?? [],
      this.optimizer,
      extra.afterOptimizer ?? [],
    ];
    this.initialized = true;
    let readProfile: (() => Promise<DispatchTime[]>) | null = null;
    if (profiler) readProfile = profiler.record(encoder, parts.flat());
    else {
      const pass = encoder.beginComputePass({ label: 'train step' });
      for (const part of parts) recordDispatches(pass, part);
      pass.end();
    }
    this.stepsDone = step + 1;
    if (measureSlot !== null) this.copyMeasurements(encoder, measureSlot);
    // The checkpoint is copied after the optimizer in this same command buffer: the state after this
    // step, whatever later steps do to the buffers before the copy is read.
    if (checkpointSlot !== null) this.copyCheckpoint(encoder, checkpointSlot);
    const windowEnd = this.stepsDone % this.ringSteps === 0 || this.stepsDone === t.steps;
    let staging: GPUBuffer | null = null;
    if (windowEnd) {
      const i = this.nextStaging;
      this.nextStaging = (i + 1) % STAGING;
      if (this.stagingBusy[i]) await this.stagingBusy[i];
      staging = this.staging[i];
      encoder.copyBufferToBuffer(this.metrics.buffer, 0, staging, 0, this.metrics.byteLength);
      this.device.queue.submit([encoder.finish()]);
      const first = Math.max(this.resumedFrom, step - (step % this.ringSteps));
      // A failed readback (or a listener that throws) is kept and re-thrown by the next step() or
      // flush(), never left as an unhandled rejection.
      this.stagingBusy[i] = this.collect(staging, first, this.stepsDone)
        .catch((e: unknown) => {
          this.failure ??= e;
        })
        .finally(() => {
          this.stagingBusy[i] = null;
        });
    } else {
      this.device.queue.submit([encoder.finish()]);
    }
    if (measureSlot !== null) this.mapMeasurements(measureSlot, this.stepsDone);
    if (checkpointSlot !== null) this.mapCheckpoint(checkpointSlot, this.stepsDone, this.dataRng.state(), (now() - this.startTime) / 1000);
    this.inflight.push(this.device.queue.onSubmittedWorkDone());
    if (this.inflight.length > MAX_STEPS_IN_FLIGHT) await this.inflight.shift();
    return readProfile;
  }

  /** The staging slot for this step's measurements, or null when none is due. Which steps are measured
   *  depends on the config only, never on timing: a due snapshot waits for a free slot. */
  private measureSlotFor(step: number): number | null {
    const every = this.config.train.measureEvery ?? 0;
    if (!this.model.measurements || every <= 0) return null;
    const due = step === 0 || (step + 1) % every === 0 || step + 1 === this.config.train.steps;
    if (!due) return null;
    const slot = this.nextMeasureStaging;
    this.nextMeasureStaging = (slot + 1) % MEASURE_STAGING;
    return slot;
  }

  /** The staging slot for a checkpoint after this step, or null when none is due (every
   *  checkpointEvery steps, counted from the run's start so a resumed run checkpoints the same steps). */
  private checkpointSlotFor(step: number): number | null {
    const every = this.config.train.checkpointEvery ?? 0;
    if (every <= 0 || (step + 1) % every !== 0) return null;
    const slot = this.nextCheckpointStaging;
    this.nextCheckpointStaging = (slot + 1) % CHECKPOINT_STAGING;
    return slot;
  }

  private copyCheckpoint(encoder: GPUCommandEncoder, slot: number): void {
    const n = this.model.layout.totalFloats;
    const staging = this.checkpointStaging[slot];
    const parts: Tensor[] = [this.model.params, this.adamM, this.adamV];
    parts.forEach((t, i) => encoder.copyBufferToBuffer(t.buffer, t.offsetBytes, staging, i * n * 4, n * 4));
    encoder.copyBufferToBuffer(this.scaler.buffer, this.scaler.offsetBytes, staging, 3 * n * 4, 3 * 4);
  }

  /** Maps a checkpoint copied by the step just submitted and hands it to the listeners; the step loop
   *  goes on meanwhile. `dataRng` and `elapsedSeconds` are the CPU side of the same moment. */
  private mapCheckpoint(slot: number, step: number, dataRng: [number, number, number, number], elapsedSeconds: number): void {
    const n = this.model.layout.totalFloats;
    const staging = this.checkpointStaging[slot];
    this.checkpointBusy[slot] = staging
      .mapAsync(GPUMapMode.READ)
      .then(() => {
        const range = staging.getMappedRange();
        // One copy per part, so a listener may transfer or keep each without the others.
        const part = (i: number, count: number) => new Float32Array(range, i * n * 4, count).slice();
        const checkpoint: TrainerCheckpoint = { step, params: part(0, n), m: part(1, n), v: part(2, n), lossScaler: part(3, 3), dataRng, elapsedSeconds };
        staging.unmap();
        for (const l of this.checkpointListeners) l(checkpoint);
      })
      .catch((e: unknown) => {
        this.failure ??= e;
      })
      .finally(() => {
        this.checkpointBusy[slot] = null;
      });
  }

  /** Copies the measurements out after the step, in its command buffer. */
  private copyMeasurements(encoder: GPUCommandEncoder, slot: number): void {
    const buffer = this.model.measurements!.buffer;
    encoder.copyBufferToBuffer(buffer.buffer, buffer.offsetBytes, this.measureStaging[slot], 0, buffer.byteLength);
  }

  /** Maps a snapshot copied by the step just submitted (a buffer pending a map may not be used by a
   *  submit, so this comes after it) and hands it to the listeners. */
  private mapMeasurements(slot: number, stepsDone: number): void {
    const measurements = this.model.measurements!;
    const staging = this.measureStaging[slot];
    this.measureBusy[slot] = staging
      .mapAsync(GPUMapMode.READ)
      .then(() => {
        const data = new Float32Array(staging.getMappedRange().slice(0));
        staging.unmap();
        const snapshot = measurements.decode(data, stepsDone);
        for (const l of this.measureListeners) l(snapshot);
      })
      .catch((e: unknown) => {
        this.failure ??= e;
      })
      .finally(() => {
        this.measureBusy[slot] = null;
      });
  }

  private async collect(staging: GPUBuffer, first: number, end: number): Promise<void> {
    await staging.mapAsync(GPUMapMode.READ);
    const data = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    const time = now();
    const tokens = (end - this.windowStart.step) * this.tokensPerStep;
    const tokensPerSecond = tokens / Math.max(1e-9, (time - this.windowStart.time) / 1000);
    this.windowStart = { step: end, time };
    const out: StepMetrics[] = [];
    for (let s = first; s < end; s++) {
      const slot = (s % this.ringSteps) * RECORD;
      out.push({
        step: s + 1, loss: data[slot], gradNorm: data[slot + 1], lossScale: data[slot + 2], skipped: data[slot + 3] !== 0,
        lr: this.lrs[s], tokensPerSecond, elapsedSeconds: (time - this.startTime) / 1000,
      });
    }
    for (const l of this.listeners) l(out);
    // The numerics guard: without loss scaling a skipped step means a non-finite gradient (the
    // optimizer did not apply it); a non-finite loss is the same failure seen earlier.
    // Readbacks resolve in step order, so the first window with a bad step claims the report.
    const bad = out.find((m) => !Number.isFinite(m.loss) || (m.skipped && !this.scheme.usesLossScaling));
    if (bad && !this.nonFiniteSeen) {
      this.nonFiniteSeen = true;
      const located = await this.locateNonFinite(bad);
      this.failure ??= located;
    }
  }

  /** Where a step went non-finite: the first activation of the latest forward (the parameters stay at
   *  their last finite values, so every later step fails the same way) and the parameter gradients that
   *  hold a NaN or ±∞. Reads buffers back: only after a failure. */
  private async locateNonFinite(m: StepMetrics): Promise<NonFiniteError> {
    const finite = (a: Float32Array) => a.every((v) => Number.isFinite(v));
    const grads = await readTensor(this.device, this.model.grads);
    const badGradients = this.model.layout.slots.filter((s) => !finite(grads.subarray(s.offset, s.offset + s.size))).map((s) => s.spec.name);
    let activation: string | null = null;
    for (const a of this.model.activations) {
      if (!finite(await readTensor(this.device, a.tensor))) {
        activation = a.name;
        break;
      }
    }
    const params = await readTensor(this.device, this.model.params);
    const where = [
      `the loss was ${m.loss}`,
      activation ? `the first non-finite activation of the forward: ${activation}` : 'the activations of the forward are finite',
      badGradients.length ? `non-finite gradients in ${badGradients.length} of ${this.model.layout.slots.length} tensors (first: ${badGradients[0]})` : 'the gradients are finite',
    ].join('; ');
    const kept = finite(params) ? `the parameters are those after step ${m.step - 1} (this step was not applied)` : 'some parameters are already non-finite';
    return new NonFiniteError(`training hit a NaN or infinity at step ${m.step}: ${where}; ${kept}. Lower the learning rate (now ${m.lr.toExponential(2)}) or keep gradient clipping on, and restart or load a checkpoint.`, m.step, activation, badGradients);
  }

  /** Waits for every submitted step and metric readback. */
  async flush(): Promise<void> {
    await this.settle();
    this.throwIfFailed();
  }

  /** Waits for the GPU and the readbacks without raising a failure they recorded. */
  private async settle(): Promise<void> {
    await Promise.all(this.inflight.splice(0));
    await Promise.all(this.stagingBusy.filter(Boolean));
    await Promise.all(this.measureBusy.filter(Boolean));
    await Promise.all(this.checkpointBusy.filter(Boolean));
  }

  private readonly onGpuError = (e: Event) => {
    const error = (e as GPUUncapturedErrorEvent).error;
    this.failure ??= new Error(`the GPU rejected a training step: ${error?.message?.split('\n')[0] ?? 'unknown error'}`);
  };

  private throwIfFailed(): void {
    // A lost device also fails the readbacks in flight (their maps abort): the loss is the cause to report.
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.message, this.stepsDone);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Mean loss over the fixed validation set. */
  async evaluate(): Promise<number> {
    const t = this.config.train;
    const batches = this.dataset.valBatches(t.valBatches, this.model.B, this.model.T, this.sourceLength);
    const clear = this.device.createCommandEncoder();
    clear.clearBuffer(this.valMetrics.buffer);
    this.device.queue.submit([clear.finish()]);
    for (const batch of batches) {
      this.writeBatch(batch);
      const encoder = this.device.createCommandEncoder({ label: 'validation' });
      const pass = encoder.beginComputePass();
      recordDispatches(pass, this.forwardOnce());
      recordDispatches(pass, this.model.valLoss);
      pass.end();
      this.device.queue.submit([encoder.finish()]);
    }
    const [sum, count] = await readTensor(this.device, this.valMetrics);
    return sum / count;
  }

  /** The forward to record now: the first one initialises the schemes (from whatever batch it sees). */
  private forwardOnce(): Dispatch[] {
    const first = !this.initialized;
    this.initialized = true;
    return first ? this.model.firstForward : this.model.forward;
  }

  /** Every parameter, by name, in PyTorch shapes. Works after a failed step too: after a NonFiniteError
   *  these are the last finite parameters, worth saving. */
  async exportParameters(): Promise<NamedTensor[]> {
    await this.settle();
    const all = await readTensor(this.device, this.model.params);
    return this.model.layout.slots.map((s) => ({ name: s.spec.name, shape: s.spec.shape, data: all.slice(s.offset, s.offset + s.size) }));
  }

  /** Replaces every parameter. The names and shapes must match this model exactly. */
  importParameters(tensors: readonly NamedTensor[]): void {
    const byName = new Map(tensors.map((t) => [t.name, t]));
    const all = new Float32Array(this.model.layout.totalFloats);
    for (const s of this.model.layout.slots) {
      const t = byName.get(s.spec.name);
      if (!t) throw new Error(`checkpoint has no tensor ${s.spec.name}`);
      if (t.shape.join(',') !== s.spec.shape.join(',')) {
        throw new Error(`checkpoint tensor ${s.spec.name} has shape [${t.shape}], the model needs [${s.spec.shape}]`);
      }
      all.set(t.data, s.offset);
      byName.delete(s.spec.name);
    }
    if (byName.size) throw new Error(`checkpoint has tensors this model does not: ${[...byName.keys()].slice(0, 3).join(', ')}`);
    writeTensor(this.device, this.model.params, all);
    // Loaded step sizes are trained ones: no first-batch initialisation over them.
    this.initialized = true;
  }

  /** Generates up to `count` samples by ancestral sampling (temperature 1), each starting from the
   *  dataset's start token and ending at its end token or the context length. */
  async sample(count: number, rng: Rng): Promise<string[]> {
    const start = this.dataset.sampleStart();
    return this.generate(Array.from({ length: count }, () => Int32Array.of(start)), rng);
  }

  /** Synthetic tasks: the model's greedy completions of `count` problems drawn with rng from the
   *  task's validation distribution, scored against the answers (exact match). */
  async solveTasks(count: number, rng: Rng): Promise<{ accuracy: number; results: { prompt: string; answer: string; output: string; correct: boolean }[] }> {
    const task = this.dataset.task;
    if (!task) throw new Error(`dataset ${this.dataset.name} is not a task with answers to check`);
    const problems = Array.from({ length: count }, () => task.prompt(rng, this.model.T));
    const start = this.dataset.sampleStart();
    const prefixes = problems.map((p) => Int32Array.from([start, ...this.dataset.tokenizer.encode(p.prompt)]));
    const outputs = await this.generate(prefixes, null);
    const results = problems.map((p, i) => ({ ...p, output: outputs[i], correct: outputs[i] === p.answer }));
    return { accuracy: results.filter((r) => r.correct).length / Math.max(1, count), results };
  }

  /** Continues each prefix (token ids, at least one) until the dataset's end token or the context
   *  length: sampling from softmax(logits) with rng, or greedy (argmax) when rng is null. Returns the
   *  generated text of each, without its prefix. Reads logits back every position: for the end of a
   *  run or the occasional sample, not the step loop. */
  async generate(prefixes: readonly Int32Array[], rng: Rng | null): Promise<string[]> {
    const arch = this.config.model.architecture;
    if (arch !== 'decoder') throw new Error(`generating text needs a decoder; this model is an ${arch} (use classify() or translate())`);
    await this.flush();
    const { B, T } = this.model;
    const V = this.config.model.vocabSize;
    for (const p of prefixes) {
      if (p.length < 1 || p.length >= T) throw new Error(`a prompt of ${p.length - 1} tokens does not fit the context of ${T}`);
    }
    const out: string[] = [];
    for (let first = 0; first < prefixes.length; first += B) {
      const rows = prefixes.slice(first, first + B);
      const tokens = new Int32Array(B * T).fill(this.dataset.sampleStart());
      rows.forEach((p, b) => tokens.set(p, b * T));
      const generated: number[][] = rows.map(() => []);
      // The position whose logits predict each row's next token.
      const at = rows.map((p) => p.length - 1);
      const done = rows.map(() => false);
      while (done.some((d) => !d)) {
        writeTensor(this.device, this.model.inputs, tokens);
        const encoder = this.device.createCommandEncoder({ label: 'generate' });
        const pass = encoder.beginComputePass();
        recordDispatches(pass, this.forwardOnce());
        pass.end();
        this.device.queue.submit([encoder.finish()]);
        for (let b = 0; b < rows.length; b++) {
          if (done[b]) continue;
          const logits = new Float32Array(await readBytes(this.device, this.model.logits.buffer, (b * T + at[b]) * V * 4, V * 4));
          const next = rng ? sampleCategorical(logits, rng) : argmax(logits);
          if (this.dataset.isSampleEnd(next)) done[b] = true;
          else {
            generated[b].push(next);
            at[b]++;
            if (at[b] >= T - 1) done[b] = true;
            else tokens[b * T + at[b]] = next;
          }
        }
      }
      for (const g of generated) out.push(this.dataset.tokenizer.decode(Int32Array.from(g)));
    }
    return out;
  }

  /** What the on-demand forward passes of ./inference.ts need. */
  private get runner(): ForwardRunner {
    return { device: this.device, model: this.model, dataset: this.dataset, forward: () => this.forwardOnce() };
  }

  /** Encoder classifier: accuracy on the fixed validation examples (`batches` batches, default the
   *  config's valBatches) against the majority-class baseline of the same examples. */
  async classify(batches = this.config.train.valBatches): Promise<ClassificationReport> {
    await this.flush();
    return classifyValidation(this.runner, batches);
  }

  /** Encoder-decoder: greedy translations of `sources`. */
  async translate(sources: readonly string[]): Promise<string[]> {
    await this.flush();
    return greedyTranslate(this.runner, sources);
  }

  /** Encoder-decoder: exact match of greedy translations on `count` pairs of the task's validation
   *  distribution drawn with rng. */
  async translationAccuracy(count: number, rng: Rng): Promise<TranslationReport> {
    await this.flush();
    const d = requireTranslation(this.dataset);
    return translationExactMatch(this.runner, Array.from({ length: count }, () => d.problem(rng)));
  }

  /** Every attention layer's probabilities (per layer, per head; self-attention, the encoder's and
   *  cross-attention) for one example, from a forward pass of its own: not part of the step loop. */
  async attentionMaps(example: AttentionExample): Promise<AttentionMap[]> {
    await this.flush();
    return attentionMaps(this.runner, example);
  }

  /** Restarts the throughput window, e.g. after a pause, so tokens/s does not count the idle time. */
  resetThroughputWindow(): void {
    this.windowStart = { step: this.stepsDone, time: now() };
  }

  destroy(): void {
    this.lostWatch.trainer = null;
    this.device.removeEventListener('uncapturederror', this.onGpuError);
    this.memory.destroy();
  }
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Draws an index from softmax(logits). */
export function sampleCategorical(logits: Float32Array, rng: Rng): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  const p = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] - max);
  let u = rng.nextFloat() * sum;
  for (let i = 0; i < p.length; i++) {
    u -= p[i];
    if (u <= 0) return i;
  }
  return p.length - 1;
}

function now(): number {
  return globalThis.performance?.now() ?? Date.now();
}
