// The typed protocol between the page (src/app) and the training Web Worker (worker.ts).
// The page sends what to run; the worker owns the GPU and answers with metrics and results. Every
// message about a run carries its runId, so a queue of runs (a comparison) reports unambiguously.
import type { MeasurementSnapshot } from '../engine/train/measurements';
import type { StepMetrics } from '../engine/train/trainer';
import type { ArchEvaluation } from './arch-results';
import type { AttentionExample, AttentionSnapshot } from './attention';
import type { PageConfig } from './config';

export { DATASET_CHOICES, type DatasetChoice, PRESET_CHOICES, type PresetChoice } from './config';

export interface RunSpec {
  id: string;
  config: PageConfig;
}

export type ToWorker =
  /** Acquire the GPU (once) and report what it is, or why there is none. */
  | { type: 'probe' }
  /** Train the runs one after the other. `baseUrl` is the page's base URL: bundled files are fetched
   *  relative to it, so the site works from any sub-path. With `checkpoint`, every run starts from those
   *  weights (the model shape comes from the checkpoint; steps may then be 0: evaluate only). */
  | { type: 'start'; runs: RunSpec[]; baseUrl: string; checkpoint?: { bytes: Uint8Array; name: string } }
  /** Stop calling trainer.step() until resumed. */
  | { type: 'pause' }
  | { type: 'resume' }
  /** Stop the current run after the step in progress, and drop the queued ones. */
  | { type: 'stop' }
  /** The answer to a run halted by a NaN (run-halted): go on from the last checkpoint before it (or the
   *  start) with learning rate `lr` ('lower-lr'), or at the same rate ('rollback'). */
  | { type: 'recover'; action: RecoverAction; lr?: number }
  /** Show attention maps of this example (null: the run's default example) for run `runId`: the run in
   *  progress (at its next step), or the last run trained, whose model the worker keeps until the next
   *  start (at once). */
  | { type: 'attention-example'; runId: string; example: AttentionExample | null }
  /** Test-only (the page sends it with ?testHooks=1): destroy the worker's GPU device, as a driver
   *  reset would lose it, to show that the run survives. */
  | { type: 'test-lose-device' };

export type RecoverAction = 'lower-lr' | 'rollback';

/** Where a run went non-finite (the engine's NonFiniteError), and what it can go back to. */
export interface NumericsHalt {
  /** The 1-based step whose loss or gradient was not finite. */
  step: number;
  /** The first forward activation holding a NaN or ±∞, if any. */
  activation: string | null;
  /** Parameter tensors whose gradients hold a NaN or ±∞. */
  gradients: string[];
  message: string;
  /** The learning rate the run had. */
  lr: number;
  /** The checkpoint a recovery goes back to; null: the start of the run. */
  checkpointStep: number | null;
}

/** Something that happened to a run and changed its course: a lost device it survived, or a recovery
 *  from a NaN chosen by the user. Kept with the run and shown. */
export interface RunEvent {
  kind: 'device-lost' | RecoverAction;
  /** The step the run went on from. */
  step: number;
  text: string;
  /** The learning rate from then on, when it changed. */
  lr?: number;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
}

export interface RunInfo {
  /** One line describing the model, e.g. "2 layers, d_model 48, 4 heads, …". */
  model: string;
  datasetName: string;
  datasetDescription: string;
  parameterCount: number;
  kernelPath: string;
  memoryBytes: number;
  totalSteps: number;
  tokensPerStep: number;
  /** Whether the engine offers per-layer measurements (trainer.onMeasurements). */
  measurements: boolean;
  /** Set when the run started from an uploaded checkpoint. */
  checkpoint?: string;
}

/** 'recovering': the GPU device was lost and a new one is being set up (the run then goes on). */
export type RunPhase = 'starting' | 'training' | 'paused' | 'evaluating' | 'sampling' | 'recovering';

/** How an error should be read: a config the user can fix, a bad upload, or a failure of the GPU/run. */
export type ErrorKind = 'config' | 'checkpoint' | 'dataset' | 'gpu' | 'run';

export type FromWorker =
  | { type: 'gpu'; description: string; adapter: AdapterSummary }
  /** No WebGPU or no adapter: the engine's GpuUnavailableError text, for the user. */
  | { type: 'gpu-unavailable'; message: string }
  | { type: 'run-started'; runId: string; info: RunInfo }
  | { type: 'run-phase'; runId: string; phase: RunPhase }
  | { type: 'metrics'; runId: string; records: StepMetrics[] }
  | { type: 'validation'; runId: string; step: number; valLoss: number }
  | { type: 'samples'; runId: string; step: number; samples: string[] }
  | { type: 'measurements'; runId: string; snapshot: MeasurementSnapshot }
  /** Attention maps of the run's example (every attentionEvery steps, at the end, and when the example
   *  changes). */
  | { type: 'attention'; runId: string; snapshot: AttentionSnapshot }
  /** The example asked for could not be shown (the run goes on; the maps stay of the last example). */
  | { type: 'attention-error'; runId: string; message: string }
  /** The classifier's accuracy or the encoder-decoder's exact match (at sampleEvery steps and the end). */
  | { type: 'evaluation'; runId: string; evaluation: ArchEvaluation }
  | { type: 'run-done'; runId: string; valLoss: number; steps: number; seconds: number }
  | { type: 'run-stopped'; runId: string; steps: number }
  /** The run's final weights as a safetensors file (sent after run-done / run-stopped). */
  | { type: 'checkpoint'; runId: string; bytes: Uint8Array }
  /** The latest training checkpoint (weights, AdamW moments, data position: engine
   *  train/training-state.ts) as a safetensors file, every checkpointEvery steps. */
  | { type: 'run-checkpoint'; runId: string; step: number; bytes: Uint8Array }
  /** The run went back to `step` (a lost device, a recovery from a NaN): its records of later steps
   *  are void, those steps run again. */
  | { type: 'run-rewind'; runId: string; step: number }
  /** The run stopped on a NaN and waits for a 'recover' or 'stop'. */
  | { type: 'run-halted'; runId: string; halt: NumericsHalt }
  | { type: 'run-event'; runId: string; event: RunEvent }
  | { type: 'run-error'; runId: string | null; kind: ErrorKind; message: string }
  /** Every queued run has finished, stopped or failed. */
  | { type: 'idle' };
