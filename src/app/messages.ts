// The typed protocol between the page (src/app) and the training Web Worker (worker.ts).
// The page sends what to run; the worker owns the GPU and answers with metrics and results.
import type { StepMetrics } from '../engine/train/trainer';

/** Datasets the page offers: the bundled names corpus and the synthetic tasks. */
export const DATASET_CHOICES = ['names', 'reverse', 'sort', 'addmod'] as const;
export type DatasetChoice = (typeof DATASET_CHOICES)[number];

/** Model sizes the page offers (kept to those that train in reasonable time in a browser). */
export const PRESET_CHOICES = ['tiny', 'small'] as const;
export type PresetChoice = (typeof PRESET_CHOICES)[number];

export interface RunRequest {
  dataset: DatasetChoice;
  preset: PresetChoice;
  steps: number;
}

export type ToWorker =
  /** Acquire the GPU (once) and report what it is, or why there is none. */
  | { type: 'probe' }
  /** Train one run. `baseUrl` is the page's base URL: bundled files are fetched relative to it, so the
   *  site works from any sub-path. */
  | { type: 'start'; run: RunRequest; baseUrl: string }
  /** Stop the current run after the step in progress. */
  | { type: 'stop' };

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
}

export type FromWorker =
  | { type: 'gpu'; description: string }
  /** No WebGPU or no adapter: the engine's GpuUnavailableError text, for the user. */
  | { type: 'gpu-unavailable'; message: string }
  | { type: 'started'; info: RunInfo }
  | { type: 'metrics'; records: StepMetrics[] }
  | { type: 'phase'; phase: 'evaluating' | 'sampling' }
  | { type: 'done'; valLoss: number; samples: string[]; steps: number; seconds: number }
  | { type: 'stopped'; steps: number }
  | { type: 'error'; message: string };
