// Messages between the scaling-sweep panel (page) and the sweep Web Worker (src/app/sweep-worker.ts), which
// trains a ladder of model widths one after the other on its own GPU device. One worker runs one sweep:
// the page starts a new worker per sweep and terminates it when the sweep ends or is stopped.
import type { Precision } from '../engine/config';
import type { LossPoint } from '../engine/train/spikes';

/** What the user asked for: the ladder's widths (d_model of each rung, the rest of the tiny preset's
 *  shape follows the scaling ladder) and one training recipe for every rung, on the bundled names corpus. */
export interface SweepRequest {
  precision: Precision;
  widths: number[];
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
}

export type ToSweepWorker = { type: 'run'; request: SweepRequest; baseUrl: string };

/** One rung as the worker planned it with the dataset's real vocabulary. */
export interface SweepRungPlan {
  label: string;
  dModel: number;
  nLayer: number;
  nHead: number;
  dFF: number;
  parameters: number;
  steps: number;
  tokens: number;
  /** Training FLOPs of the whole rung (forward and backward, scaling.ts's count). */
  flops: number;
}

/** Why a sweep could not run or stopped: no WebGPU, a ladder the adapter cannot hold or the engine
 *  refuses (both before any training), the dataset, the GPU's memory or device, anything else. */
export type SweepErrorKind = 'unavailable' | 'config' | 'limits' | 'dataset' | 'out-of-memory' | 'device-lost' | 'failed';

export type FromSweepWorker =
  /** The device is ready (describeGpu) and the ladder passed every check: the rungs it will train. */
  | { type: 'plan'; adapter: string; rungs: SweepRungPlan[] }
  | { type: 'rung-start'; index: number; kernelPath: string }
  /** Training losses of rung `index` read back since the last message, in step order. */
  | { type: 'rung-metrics'; index: number; points: LossPoint[] }
  | { type: 'rung-evaluating'; index: number }
  | { type: 'rung-done'; index: number; valLoss: number; seconds: number }
  /** The rung could not finish (a NaN, say); the sweep goes on with the next one and leaves it out of the fit. */
  | { type: 'rung-failed'; index: number; message: string }
  | { type: 'done'; seconds: number }
  | { type: 'error'; kind: SweepErrorKind; message: string };
