// The typed protocol between the page (src/app) and the training Web Worker (worker.ts).
// The page sends what to run; the worker owns the GPU and answers with metrics and results. Every
// message about a run carries its runId, so a queue of runs (a comparison) reports unambiguously.
import type { MeasurementSnapshot } from '../engine/train/measurements';
import type { StepMetrics } from '../engine/train/trainer';
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
  | { type: 'stop' };

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

export type RunPhase = 'starting' | 'training' | 'paused' | 'evaluating' | 'sampling';

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
  | { type: 'run-done'; runId: string; valLoss: number; steps: number; seconds: number }
  | { type: 'run-stopped'; runId: string; steps: number }
  /** The run's final weights as a safetensors file (sent after run-done / run-stopped). */
  | { type: 'checkpoint'; runId: string; bytes: Uint8Array }
  | { type: 'run-error'; runId: string | null; kind: ErrorKind; message: string }
  /** Every queued run has finished, stopped or failed. */
  | { type: 'idle' };
