// Timing GPU work the way docs/gpu-measurement.md asks: warm up first, put many dispatches in one
// compute pass (one submit), wait for the queue, and report the median of repeats. Where the device has
// 'timestamp-query', the pass is timed on the GPU by timestamp writes at its start and end (the queue's
// wall clock then also counts the submit and the wake-up of the waiting thread); else by the wall clock
// around submit → onSubmittedWorkDone.
import { type Dispatch, recordDispatches } from './kernels';

export type TimingMethod = 'timestamp' | 'wall';

export interface PassTiming {
  /** Median seconds of one repetition of the recorded work (a pass / `perPass`). */
  seconds: number;
  method: TimingMethod;
  /** Repetitions of the work inside each timed pass, and timed passes. */
  perPass: number;
  repeats: number;
  /** Seconds of one repetition in each timed pass, in the order they ran (the spread the median hides:
   *  a kernel that is slow in one process and fast in the next shows here whether it changes mid-run). */
  samples: number[];
}

export interface TimingOptions {
  /** Untimed passes first: pipeline compilation, first touch of the buffers, clock ramp-up. */
  warmups: number;
  repeats: number;
  /** Each timed pass repeats the work until it takes about this long (at least once, at most
   *  `maxPerPass` times), so launch overhead and timer granularity stay small against it. */
  targetPassSeconds: number;
  maxPerPass: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function now(): number {
  return performance.now() / 1000;
}

/** Times passes of dispatches; one query set and staging buffer reused for every measurement. */
export class PassTimer {
  private readonly querySet: GPUQuerySet | null;
  private readonly resolve: GPUBuffer | null;
  private readonly staging: GPUBuffer | null;
  /** Set when the device offered timestamps but they came back unusable (zero or backwards). */
  private timestampsBroken = false;

  constructor(private readonly device: GPUDevice, useTimestamps: boolean) {
    if (useTimestamps && device.features.has('timestamp-query')) {
      this.querySet = device.createQuerySet({ type: 'timestamp', count: 2, label: 'bench.timestamps' });
      this.resolve = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'bench.timestamps.resolve' });
      this.staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'bench.timestamps.staging' });
    } else {
      this.querySet = this.resolve = this.staging = null;
    }
  }

  get method(): TimingMethod {
    return this.querySet && !this.timestampsBroken ? 'timestamp' : 'wall';
  }

  /** Runs `work` `perPass` times in one pass; returns [GPU seconds or NaN, wall seconds]. */
  private async runPass(work: readonly Dispatch[], perPass: number): Promise<[number, number]> {
    const encoder = this.device.createCommandEncoder({ label: 'bench' });
    const timestamped = this.querySet !== null && !this.timestampsBroken;
    const pass = encoder.beginComputePass(
      timestamped ? { label: 'bench', timestampWrites: { querySet: this.querySet!, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : { label: 'bench' },
    );
    for (let i = 0; i < perPass; i++) recordDispatches(pass, work);
    pass.end();
    if (timestamped) {
      encoder.resolveQuerySet(this.querySet!, 0, 2, this.resolve!, 0);
      encoder.copyBufferToBuffer(this.resolve!, 0, this.staging!, 0, 16);
    }
    const commands = encoder.finish();
    const start = now();
    this.device.queue.submit([commands]);
    await this.device.queue.onSubmittedWorkDone();
    const wall = now() - start;
    if (!timestamped) return [NaN, wall];
    await this.staging!.mapAsync(GPUMapMode.READ);
    const [begin, end] = new BigUint64Array(this.staging!.getMappedRange().slice(0));
    this.staging!.unmap();
    const gpu = Number(end - begin) / 1e9;
    if (!(gpu > 0) || end < begin) {
      this.timestampsBroken = true;
      return [NaN, wall];
    }
    return [gpu, wall];
  }

  /** Median seconds of one run of `work` (a list of dispatches recorded back to back). */
  async time(work: readonly Dispatch[], o: TimingOptions): Promise<PassTiming> {
    for (let i = 0; i < o.warmups; i++) await this.runPass(work, 1);
    // Calibrate with one more single run: how many fit in the target pass time.
    const [gpuOnce, wallOnce] = await this.runPass(work, 1);
    const once = Number.isFinite(gpuOnce) ? gpuOnce : wallOnce;
    const perPass = Math.max(1, Math.min(o.maxPerPass, Math.round(o.targetPassSeconds / Math.max(once, 1e-7))));
    const gpuTimes: number[] = [];
    const wallTimes: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      const [gpu, wall] = await this.runPass(work, perPass);
      gpuTimes.push(gpu);
      wallTimes.push(wall);
    }
    const useGpu = this.method === 'timestamp' && gpuTimes.every(Number.isFinite);
    const samples = (useGpu ? gpuTimes : wallTimes).map((t) => t / perPass);
    return { seconds: median(samples), method: useGpu ? 'timestamp' : 'wall', perPass, repeats: o.repeats, samples };
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolve?.destroy();
    this.staging?.destroy();
  }
}
