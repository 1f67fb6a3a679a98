// Messages between the benchmark panel (page) and the benchmark Web Worker (src/app/bench-worker.ts), which
// runs the kernel benchmark of src/bench/kernels.ts on its own GPU device. One worker runs one benchmark:
// the page starts a new worker per run and terminates it when the run ends or is cancelled.
import type { BenchRow, SkippedBench } from '../bench/rows';

export type ToBenchWorker = { type: 'run'; sizes: number[] };

/** Why a benchmark could not run (or stopped): no WebGPU, the GPU ran out of memory, the device was lost,
 *  or anything else. */
export type BenchErrorKind = 'unavailable' | 'out-of-memory' | 'device-lost' | 'failed';

/** A kernel about to run: its bench name (`matmul f32 transB`, `intMatmul int4`), size (`1024³`) and path. */
export interface BenchKernel {
  name: string;
  size: string;
  path: string;
}

export type FromBenchWorker =
  /** The device is ready: the adapter (describeGpu), the integer paths it offers, whether GPU timestamps
   *  time the passes, and the kernels the run will go through. */
  | { type: 'adapter'; description: string; intPaths: string[]; timestamps: boolean; planned: BenchKernel[] }
  | { type: 'kernel'; kernel: BenchKernel }
  | { type: 'row'; row: BenchRow }
  | { type: 'done'; rows: BenchRow[]; skipped: SkippedBench[]; seconds: number; warnings: string[] }
  | { type: 'error'; kind: BenchErrorKind; message: string };
