// The benchmark panel's worker runs runKernelBenches with groups f32 and int; here the same call on this
// machine's adapter (lavapipe on CI) at a tiny size: the kernels it announces are the ones the panel
// plans (so the progress bar counts right), each row is streamed as it is measured, every row passes its
// check, each row keeps the fastest of its path's kernels (built-in and generated) and says which, and
// nothing outside the two groups runs.
import { describe, expect, it } from 'vitest';
import { PATH_KERNELS, runKernelBenches } from '../bench/kernels';
import { describeDot4Tiling, dot4TilingProblem } from '../engine/ops/intmatmul-dot4';
import { describeTileConfig, tileConfigProblem } from '../engine/ops/matmul-tiled';
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
      bestOfPath: true,
      onKernel: (k) => started.push(k),
      onRow: (r) => streamed.push(r),
    });
    const paths = intMatmulPaths(gpu.capabilities).map(intMatmulPathName);
    expect(started).toEqual(plannedKernels(sizes, paths, gpu.limits.maxStorageBufferBindingSize));
    expect(streamed).toEqual(result.rows);
    expect(result.rows).toHaveLength(started.length);
    for (const r of result.rows) expect(r.checked, `${r.name} ${r.path}: ${r.check}`).toBe(true);
    // Every candidate this device can build was timed: f32 the built-in and both generated tiles; dot4 the
    // built-in and its three generated tilings; plain integer only its own.
    const limits = gpu.device.limits;
    const timed: Record<string, string[]> = {
      'f32 tiles': ['built-in kernel', ...PATH_KERNELS.f32.filter((c) => tileConfigProblem(c, limits) === null).map(describeTileConfig)],
      dot4I8Packed: ['built-in kernel', ...PATH_KERNELS.dot4.filter((t) => dot4TilingProblem(t, limits) === null).map(describeDot4Tiling)],
      'plain integer': ['built-in kernel'],
    };
    expect(timed['f32 tiles']).toHaveLength(3);
    expect(timed.dot4I8Packed).toHaveLength(4);
    for (const r of result.rows) {
      const candidates = timed[r.path];
      if (!candidates) continue; // subgroup matrices, where an adapter offers them
      expect(r.extra?.kernelsTimed, `${r.name} ${r.path}`).toBe(candidates.length);
      expect(candidates, `${r.name} ${r.path}`).toContain(r.extra?.kernel);
    }
    expect(result.rows.every((r) => r.name.startsWith('matmul f32') || r.name.startsWith('intMatmul'))).toBe(true);
    expect(result.skipped.filter((s) => /f16|hadamard|lsq/.test(s.name))).toEqual([]);
    const chart = benchChartData(result.rows);
    expect(chart.failed).toEqual([]);
    expect(chart.series).toHaveLength(3 + 2 * paths.length);
  });
});
