// The benchmark panel's worker runs runKernelBenches with groups f32 and int; here the same call on this
// machine's adapter (lavapipe on CI) at a tiny size: the kernels it announces are the ones the panel
// plans (so the progress bar counts right), each row is streamed as it is measured, every row passes its
// check, and nothing outside the two groups runs.
import { describe, expect, it } from 'vitest';
import { runKernelBenches } from '../bench/kernels';
import type { BenchRow } from '../bench/rows';
import { testGpu } from '../engine/gpu/test-device';
import { intMatmulPathName, intMatmulPaths } from '../engine/ops/quant';
import { benchChartData, plannedKernels } from './bench';
import type { BenchKernel } from './bench-messages';

describe('the benchmark panel\'s kernel run', () => {
  it('announces the planned kernels, streams checked rows, and runs only FP32 and integer products', async () => {
    const gpu = await testGpu();
    const sizes = [64];
    const started: BenchKernel[] = [];
    const streamed: BenchRow[] = [];
    const result = await runKernelBenches(gpu, {
      sizes,
      timing: { warmups: 1, repeats: 1, targetPassSeconds: 0, maxPerPass: 1 },
      checkSamples: 0,
      hadamardBlock: 32,
      seed: 1,
      groups: ['f32', 'int'],
      onKernel: (k) => started.push(k),
      onRow: (r) => streamed.push(r),
    });
    const paths = intMatmulPaths(gpu.capabilities).map(intMatmulPathName);
    expect(started).toEqual(plannedKernels(sizes, paths, gpu.limits.maxStorageBufferBindingSize));
    expect(streamed).toEqual(result.rows);
    expect(result.rows).toHaveLength(started.length);
    for (const r of result.rows) expect(r.checked, `${r.name} ${r.path}: ${r.check}`).toBe(true);
    expect(result.rows.every((r) => r.name.startsWith('matmul f32') || r.name.startsWith('intMatmul'))).toBe(true);
    expect(result.skipped.filter((s) => /f16|hadamard|lsq/.test(s.name))).toEqual([]);
    const chart = benchChartData(result.rows);
    expect(chart.failed).toEqual([]);
    expect(chart.series).toHaveLength(3 + 2 * paths.length);
  });
});
