// Per-dispatch GPU times: each dispatch in a compute pass of its own with timestamp writes at its
// start and end, so a training step can be broken down kernel by kernel (which kernel to make faster
// first). Needs the 'timestamp-query' feature; Dawn rounds timestamps to ~65 µs unless its
// 'timestamp_quantization' toggle is disabled (src/cli passes that flag with --profile).
//
// One pass per dispatch adds a little overhead between dispatches, so the sum of the times is the GPU
// work of the step, not its wall time; the profile is for ranking kernels, not for throughput numbers.
import type { Dispatch } from './kernels';

/** Timestamps per query set: WebGPU's limit is 4096 queries in one set, two per dispatch. */
const DISPATCHES_PER_SET = 2048;

export interface DispatchTime {
  label: string;
  seconds: number;
}

/** Holds the query sets and buffers of profiled passes; reused for every profiled step. */
export class DispatchProfiler {
  private sets: { querySet: GPUQuerySet; resolve: GPUBuffer; staging: GPUBuffer }[] = [];

  constructor(private readonly device: GPUDevice) {
    if (!device.features.has('timestamp-query')) {
      throw new Error("profiling needs the 'timestamp-query' feature, which this GPU adapter does not offer");
    }
  }

  private ensure(count: number): void {
    while (this.sets.length * DISPATCHES_PER_SET < count) {
      const bytes = DISPATCHES_PER_SET * 2 * 8;
      this.sets.push({
        querySet: this.device.createQuerySet({ type: 'timestamp', count: DISPATCHES_PER_SET * 2, label: 'profile.timestamps' }),
        resolve: this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profile.resolve' }),
        staging: this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'profile.staging' }),
      });
    }
  }

  /** Records the dispatches, each in its own timestamped pass, into the encoder; `read` (after the
   *  encoder's submit) returns their times in order. */
  record(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[]): () => Promise<DispatchTime[]> {
    this.ensure(dispatches.length);
    dispatches.forEach((d, i) => {
      const set = this.sets[Math.floor(i / DISPATCHES_PER_SET)];
      const q = (i % DISPATCHES_PER_SET) * 2;
      const pass = encoder.beginComputePass({ label: d.label, timestampWrites: { querySet: set.querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
      pass.end();
    });
    const used = Math.ceil(dispatches.length / DISPATCHES_PER_SET);
    for (let s = 0; s < used; s++) {
      const count = Math.min(DISPATCHES_PER_SET, dispatches.length - s * DISPATCHES_PER_SET) * 2;
      encoder.resolveQuerySet(this.sets[s].querySet, 0, count, this.sets[s].resolve, 0);
      encoder.copyBufferToBuffer(this.sets[s].resolve, 0, this.sets[s].staging, 0, count * 8);
    }
    return async () => {
      const out: DispatchTime[] = [];
      for (let s = 0; s < used; s++) {
        const staging = this.sets[s].staging;
        await staging.mapAsync(GPUMapMode.READ);
        const ticks = new BigUint64Array(staging.getMappedRange().slice(0));
        staging.unmap();
        const n = Math.min(DISPATCHES_PER_SET, dispatches.length - s * DISPATCHES_PER_SET);
        for (let j = 0; j < n; j++) {
          const begin = ticks[2 * j];
          const end = ticks[2 * j + 1];
          // A timestamp pair out of order (a driver reset of the counter) counts as unknown, not negative.
          out.push({ label: dispatches[s * DISPATCHES_PER_SET + j].label, seconds: end >= begin ? Number(end - begin) * 1e-9 : NaN });
        }
      }
      return out;
    };
  }

  destroy(): void {
    for (const s of this.sets) {
      s.querySet.destroy();
      s.resolve.destroy();
      s.staging.destroy();
    }
    this.sets = [];
  }
}

/** The label with layer indices replaced by '*', so the same kernel of every block adds up. */
export function kernelGroup(label: string): string {
  return label.replace(/\bh\.\d+\./g, 'h.*.').replace(/^transformer\./, '');
}

export interface KernelTotal {
  group: string;
  /** Dispatches per step in the group. */
  count: number;
  /** Median over the profiled steps of the group's summed time per step. */
  seconds: number;
}

/** Per-group totals over several profiled steps (median per group), largest first. */
export function summarizeProfile(steps: readonly DispatchTime[][]): { groups: KernelTotal[]; stepSeconds: number } {
  const perStep = steps.map((times) => {
    const m = new Map<string, { count: number; seconds: number }>();
    for (const t of times) {
      const g = kernelGroup(t.label);
      const e = m.get(g) ?? { count: 0, seconds: 0 };
      e.count++;
      e.seconds += t.seconds;
      m.set(g, e);
    }
    return m;
  });
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const names = new Set(perStep.flatMap((m) => [...m.keys()]));
  const groups = [...names].map((group) => ({
    group,
    count: perStep[perStep.length - 1].get(group)?.count ?? 0,
    seconds: median(perStep.map((m) => m.get(group)?.seconds ?? 0)),
  }));
  groups.sort((a, b) => b.seconds - a.seconds);
  return { groups, stepSeconds: groups.reduce((a, g) => a + g.seconds, 0) };
}
