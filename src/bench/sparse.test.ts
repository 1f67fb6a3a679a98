// The compressed 2:4 benchmark's quick path (bench/sparse.ts), in-process on this machine's adapter:
// every dense and compressed row runs, passes its correctness check against the CPU, and has a finite
// throughput. Nothing here asserts a speed.
import { beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../engine/gpu/device';
import { acquireNodeGpu } from '../engine/gpu/node';
import { BENCH_DAWN_FLAGS } from './run';
import { runSparseBenches } from './sparse';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireNodeGpu(BENCH_DAWN_FLAGS);
});

describe('bench:sparse --quick (in-process)', () => {
  it('dense and compressed products, f32, INT8 and INT4, each checked', async () => {
    const r = await runSparseBenches(gpu, { sizes: [64], timing: { warmups: 0, repeats: 1, targetPassSeconds: 0, maxPerPass: 1 }, checkSamples: 0, seed: 1 });
    expect(r.skipped.filter((s) => !/subgroup|packed_4x8/.test(s.reason))).toEqual([]);
    const names = r.rows.map((x) => x.name);
    for (const n of ['matmul f32 transB (dense, masked W)', 'sparse24 f32 (W compressed once)', 'sparse24 f32 (compress + product)', 'sparse24 int8 (W compressed once)', 'sparse24 int4 (compress + product)']) expect(names).toContain(n);
    for (const row of r.rows) {
      expect(row.checked, `${row.name}: ${row.check}`).toBe(true);
      expect(Number.isFinite(row.value) && row.value > 0).toBe(true);
    }
    expect(r.rows.filter((x) => x.name.startsWith('sparse24')).every((x) => typeof x.extra?.ratio === 'string')).toBe(true);
  });
});
