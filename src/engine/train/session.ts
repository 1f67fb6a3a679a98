// A run that survives its GPU: the Trainer of the moment plus the last training checkpoints it read
// back (TrainConfig.checkpointEvery). When the device is lost (a driver reset, the browser reclaiming
// the GPU, device.destroy()), step(), flush() and guard() acquire a new device, build a new Trainer,
// restore the last checkpoint into it (parameters, AdamW's moments, loss scale, data position, step)
// and go on: the steps after that checkpoint are taken again, with the same batches and so the same
// numbers, and onRewind tells the caller to drop them from its history. restart() does the same on
// purpose, e.g. after a NonFiniteError with a lower learning rate.
//
// Used by the page's worker, the CLI, the soak benchmark and the tests alike; nothing here touches a DOM.
import type { RunConfig, TrainConfig } from '../config';
import type { Dataset } from '../data/dataset';
import type { GpuContext } from '../gpu/device';
import type { ParamLayout } from '../model/params';
import { CheckpointError } from './checkpoint';
import type { MeasurementSnapshot } from './measurements';
import { relayoutCheckpoint } from './training-state';
import { DeviceLostError, type NamedTensor, type StepMetrics, Trainer, type TrainerCheckpoint } from './trainer';
import type { TrainerExtras } from '../sparsity/plugin';

/** Checkpoints kept: a NaN found a few steps late must still find one from before it. */
const KEPT_CHECKPOINTS = 4;
/** Device losses in a row that resume from the same step before the run gives up. */
export const MAX_RECOVERIES_WITHOUT_PROGRESS = 3;
/** Tries at a new device after a loss, and the pause before each retry (a GPU reset takes a moment). */
const ACQUIRE_TRIES = 3;
const ACQUIRE_RETRY_MS = 500;

export interface DeviceLossEvent {
  /** Steps submitted when the loss was noticed. */
  lostAtStep: number;
  /** The step the run goes on from: the last checkpoint's, or 0 without one. */
  resumeStep: number;
  reason: string;
  detail: string;
}

export interface RewindEvent {
  /** Metrics, validation losses and samples of later steps are void: those steps run again. */
  step: number;
  cause: 'device-lost' | 'restart';
}

export interface SessionOptions {
  /** Weights to start from (a loaded checkpoint) instead of the seed's initialisation; a restart or a
   *  recovery without a checkpoint starts from them again. */
  initialParameters?: readonly NamedTensor[];
  /** A checkpoint to continue from (e.g. read back from storage). */
  resumeFrom?: TrainerCheckpoint;
  /** The layout `resumeFrom` was taken in, when it may differ from this device's. */
  resumeLayout?: ParamLayout;
  /** What every trainer of the session is given beyond the config (a distillation teacher's weights). */
  extras?: TrainerExtras;
}

interface Kept {
  checkpoint: TrainerCheckpoint;
  layout: ParamLayout;
}

export class TrainingSession {
  private trainer!: Trainer;
  private kept: Kept[] = [];
  /** Bumped with every new trainer: callbacks of a replaced one are ignored. */
  private generation = 0;
  private lastResumeStep = -1;
  private recoveriesInARow = 0;
  private readonly metricListeners: ((m: StepMetrics[]) => void)[] = [];
  private readonly measureListeners: ((s: MeasurementSnapshot) => void)[] = [];
  private readonly checkpointListeners: ((c: TrainerCheckpoint) => void)[] = [];
  private readonly lossListeners: ((e: DeviceLossEvent) => void)[] = [];
  private readonly rewindListeners: ((e: RewindEvent) => void)[] = [];

  private constructor(
    private readonly acquire: () => Promise<GpuContext>,
    readonly dataset: Dataset,
    private readonly options: SessionOptions,
  ) {}

  /** Builds the first trainer on `gpu` (or a device from `acquire`). */
  static async start(acquire: () => Promise<GpuContext>, config: RunConfig, dataset: Dataset, options: SessionOptions = {}, gpu?: GpuContext): Promise<TrainingSession> {
    const session = new TrainingSession(acquire, dataset, options);
    const resume = options.resumeFrom ? { checkpoint: options.resumeFrom, layout: options.resumeLayout ?? null } : null;
    session.trainer = await session.build(gpu ?? (await acquire()), config, resume);
    return session;
  }

  /** The trainer of the moment; replaced after a device loss or a restart. */
  get current(): Trainer {
    return this.trainer;
  }

  get config(): RunConfig {
    return this.trainer.config;
  }

  get stepsDone(): number {
    return this.trainer.stepsDone;
  }

  /** The newest checkpoint read back whose step is below `before` (default: any), or null. */
  lastCheckpoint(before = Infinity): TrainerCheckpoint | null {
    for (let i = this.kept.length - 1; i >= 0; i--) if (this.kept[i].checkpoint.step < before) return this.kept[i].checkpoint;
    return null;
  }

  /** The parameter layout of the trainer that took `c` (to name its tensors: training-state.ts). */
  layoutOf(c: TrainerCheckpoint): ParamLayout {
    return this.kept.find((k) => k.checkpoint === c)?.layout ?? this.trainer.model.layout;
  }

  onMetrics(l: (m: StepMetrics[]) => void): void {
    this.metricListeners.push(l);
  }

  onMeasurements(l: (s: MeasurementSnapshot) => void): void {
    this.measureListeners.push(l);
  }

  onCheckpoint(l: (c: TrainerCheckpoint) => void): void {
    this.checkpointListeners.push(l);
  }

  /** The device was lost; called before a new one is acquired. */
  onDeviceLost(l: (e: DeviceLossEvent) => void): void {
    this.lossListeners.push(l);
  }

  /** A new trainer goes on from an earlier step (after a device loss or a restart). */
  onRewind(l: (e: RewindEvent) => void): void {
    this.rewindListeners.push(l);
  }

  /** trainer.step(), recovering from a lost device. Other errors (NonFiniteError, …) are thrown. */
  async step(): Promise<void> {
    await this.guard((t) => t.step());
  }

  /** trainer.flush(), recovering from a lost device. */
  async flush(): Promise<void> {
    await this.guard((t) => t.flush());
  }

  /** Runs `work` on the current trainer. If the device is lost meanwhile, recovers and returns null:
   *  the run is back at its last checkpoint, so the caller trains on before it asks again. */
  async guard<T>(work: (t: Trainer) => Promise<T>): Promise<T | null> {
    const trainer = this.trainer;
    try {
      return await work(trainer);
    } catch (e) {
      // A readback aborted by the loss may reject before the trainer hears of it: ask the device.
      const lost = e instanceof DeviceLostError ? e : trainer.deviceLost ? new DeviceLostError(trainer.deviceLost.reason, trainer.deviceLost.message, trainer.stepsDone) : null;
      if (!lost) throw e;
      await this.recover(lost);
      return null;
    }
  }

  /** A new trainer from `from` (or from the start, with the initial weights), with `patch` applied to
   *  the train config: e.g. a lower learning rate after a NonFiniteError. Same device unless it is lost. */
  async restart(from: TrainerCheckpoint | null, patch: Partial<TrainConfig> = {}): Promise<void> {
    const old = this.trainer;
    const config: RunConfig = { ...old.config, train: { ...old.config.train, ...patch } };
    const layout = from ? this.layoutOf(from) : null;
    const gpu = old.deviceLost ? await this.newDevice() : old.gpu;
    this.generation++;
    old.destroy();
    this.trainer = await this.build(gpu, config, from ? { checkpoint: from, layout } : null);
    // Checkpoints after the one resumed from belong to the abandoned continuation.
    const step = from?.step ?? 0;
    this.kept = this.kept.filter((k) => k.checkpoint.step <= step);
    for (const l of this.rewindListeners) l({ step, cause: 'restart' });
  }

  private async recover(lost: DeviceLostError): Promise<void> {
    const kept = this.kept[this.kept.length - 1] ?? null;
    const resumeStep = kept?.checkpoint.step ?? 0;
    this.recoveriesInARow = resumeStep > this.lastResumeStep ? 1 : this.recoveriesInARow + 1;
    this.lastResumeStep = resumeStep;
    if (this.recoveriesInARow > MAX_RECOVERIES_WITHOUT_PROGRESS) {
      throw new Error(`${lost.message}; the GPU was lost ${this.recoveriesInARow} times without getting past step ${resumeStep}, so the run stops (the last checkpoint is kept)`);
    }
    for (const l of this.lossListeners) l({ lostAtStep: lost.step, resumeStep, reason: lost.reason, detail: lost.detail });
    this.generation++;
    this.trainer.destroy();
    const gpu = await this.newDevice();
    this.trainer = await this.build(gpu, this.trainer.config, kept);
    for (const l of this.rewindListeners) l({ step: resumeStep, cause: 'device-lost' });
  }

  private async newDevice(): Promise<GpuContext> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.acquire();
      } catch (e) {
        if (attempt >= ACQUIRE_TRIES) throw e;
        await new Promise((r) => setTimeout(r, ACQUIRE_RETRY_MS * attempt));
      }
    }
  }

  private async build(gpu: GpuContext, config: RunConfig, from: { checkpoint: TrainerCheckpoint; layout: ParamLayout | null } | null): Promise<Trainer> {
    const trainer = await Trainer.create(gpu, config, this.dataset, this.options.extras);
    try {
      if (from) trainer.restore(from.layout ? relayoutCheckpoint(from.checkpoint, from.layout, trainer.model.layout) : from.checkpoint);
      else if (this.options.initialParameters) {
        try {
          trainer.importParameters(this.options.initialParameters);
        } catch (e) {
          // Weights that do not fit the model are a problem of the file the user chose.
          throw new CheckpointError(e instanceof Error ? e.message : String(e));
        }
      }
    } catch (e) {
      trainer.destroy();
      throw e;
    }
    const generation = ++this.generation;
    const live = () => generation === this.generation;
    trainer.onMetrics((m) => {
      if (live()) for (const l of this.metricListeners) l(m);
    });
    trainer.onMeasurements((s) => {
      if (live()) for (const l of this.measureListeners) l(s);
    });
    trainer.onCheckpoint((c) => {
      if (!live()) return;
      this.kept.push({ checkpoint: c, layout: trainer.model.layout });
      if (this.kept.length > KEPT_CHECKPOINTS) this.kept.shift();
      for (const l of this.checkpointListeners) l(c);
    });
    return trainer;
  }

  destroy(): void {
    this.generation++;
    this.trainer.destroy();
  }
}
