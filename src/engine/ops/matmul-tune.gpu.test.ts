// Matmul autotuning (matmul-tune.ts) and matmul() with a tuning set (matmul.ts). On lavapipe the timings
// say nothing about speed; what is tested is that candidates are checked before they are timed, that a
// wrong or uncompilable one is dropped and never chosen, that the choice rule never takes something
// slower than the built-in kernel, and that matmul() then runs the chosen kernel with the right results.
import { beforeAll, describe, expect, it } from 'vitest';
import { testGpu } from '../gpu/test-device';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, roundF32 } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { matmul, matmulTuning, setMatmulTuning } from './matmul';
import { type MatmulTileConfig, tileConfigId, tiledMatmulShader } from './matmul-tiled';
import { type CandidateResult, type MatmulTuning, chooseTileConfig, describeMatmulTuning, linearLayersTuningShapes, linearTuningShapes, shouldTune, tuneMatmul } from './matmul-tune';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

const GOOD: MatmulTileConfig = { tileM: 16, tileN: 16, tileK: 4, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: true };
/** Generated correctly, then corrupted by the test's generator: its first output row is scaled by 1.5. */
const WRONG: MatmulTileConfig = { tileM: 16, tileN: 32, tileK: 4, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: false };
/** Generated, then given a line that is not WGSL. */
const UNCOMPILABLE: MatmulTileConfig = { tileM: 32, tileN: 16, tileK: 4, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: false };

describe('shouldTune', () => {
  const gpu = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', isFallbackAdapter: false };
  it('tunes on a GPU, never on a CPU adapter', async () => {
    expect(shouldTune(gpu)).toBe(true);
    expect(shouldTune({ ...gpu, isFallbackAdapter: true })).toBe(false);
    expect(shouldTune({ vendor: 'mesa', architecture: '', device: '', description: 'llvmpipe (LLVM 15.0.7, 256 bits)', isFallbackAdapter: false })).toBe(false);
    expect(shouldTune({ vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader Device (Subzero)', isFallbackAdapter: false })).toBe(false);
    // The adapter these tests run on is lavapipe: tuning would only cost compile time there.
    expect(shouldTune((await testGpu()).adapterInfo)).toBe(false);
  });
});

describe('linearLayersTuningShapes', () => {
  it('gives each layer\'s forward, ∇X and ∇W products once per distinct shape', () => {
    // A block's fc (d → 4d) and proj (4d → d), and a second fc with the same shape.
    const s = linearLayersTuningShapes([{ rows: 512, dIn: 64, dOut: 256 }, { rows: 512, dIn: 256, dOut: 64 }, { rows: 512, dIn: 64, dOut: 256 }]);
    expect(s.NT).toEqual([{ M: 512, N: 256, K: 64 }, { M: 512, N: 64, K: 256 }]);
    expect(s.NN).toEqual([{ M: 512, N: 64, K: 256 }, { M: 512, N: 256, K: 64 }]);
    expect(s.TN).toEqual([{ M: 256, N: 64, K: 512 }, { M: 64, N: 256, K: 512 }]);
  });
});

describe('chooseTileConfig', () => {
  const r = (config: MatmulTileConfig | null, tflops: number | null, dropped?: string): CandidateResult => ({ config, name: config ? tileConfigId(config) : 'built-in', tflops, seconds: tflops ? 1 / tflops : null, dropped });
  it('takes the fastest checked candidate only if it beats the built-in kernel by the margin', () => {
    expect(chooseTileConfig([r(null, 10), r(GOOD, 12), r(WRONG, 11)], 1.02)).toBe(GOOD);
    expect(chooseTileConfig([r(null, 10), r(GOOD, 10.1)], 1.02)).toBeNull();
    expect(chooseTileConfig([r(null, 10), r(GOOD, 9)], 0.5)).toBe(GOOD);
    // A dropped candidate is never chosen, whatever its number; nothing is chosen if the built-in failed.
    expect(chooseTileConfig([r(null, 10), r(WRONG, 50, 'wrong result'), r(GOOD, 11)], 1.02)).toBe(GOOD);
    expect(chooseTileConfig([r(null, 10), r(WRONG, 50, 'wrong result')], 1.02)).toBeNull();
    expect(chooseTileConfig([r(null, null, 'failed'), r(GOOD, 11)], 1.02)).toBeNull();
  });
});

describe('tuneMatmul', () => {
  it('checks every candidate first, drops the wrong and the uncompilable with their reasons, never chooses them', async () => {
    // Tiles deep enough to need more workgroup memory than this device has: skipped before compiling.
    const limit = h.device.limits.maxComputeWorkgroupStorageSize;
    const TOO_BIG: MatmulTileConfig = { tileM: 64, tileN: 64, tileK: 4 * Math.ceil(limit / (128 * 16)) + 4, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: false };
    const generate = (c: MatmulTileConfig, v: Parameters<typeof tiledMatmulShader>[1]) => {
      const s = tiledMatmulShader(c, v);
      if (c === WRONG) return { name: `${s.name}_wrong`, code: s.code.replaceAll('p.alpha * acc_0_0', '1.5 * p.alpha * acc_0_0') };
      if (c === UNCOMPILABLE) return { name: `${s.name}_bad`, code: `${s.code}\nthis is not WGSL;` };
      return s;
    };
    const lines: string[] = [];
    // Operands stored [rows, d]: rows 80 (not a multiple of the 64 tile), d_in 68, d_out 52.
    const tuning = await tuneMatmul(h.kernels, {
      shapes: linearTuningShapes(80, 68, 52),
      // Two of the three layouts (each costs lavapipe seconds of compilation): one stages A transposed.
      layouts: ['NN', 'TN'],
      candidates: [WRONG, GOOD, UNCOMPILABLE, TOO_BIG],
      repeats: 2,
      timing: { warmups: 0, targetPassSeconds: 0, maxPerPass: 1 },
      // Any candidate that runs correctly beats this margin: the broken ones must still not be chosen.
      minSpeedup: 0,
      generate,
      log: (l) => lines.push(l),
    });
    if (process.env.GPU_TEST_REPORT) console.log(`[tune] ${tuning.seconds.toFixed(1)} s\n${lines.join('\n')}\n${describeMatmulTuning(tuning)}`);
    expect(['wall', 'timestamp']).toContain(tuning.method);
    expect(Object.keys(tuning.layouts).sort()).toEqual(['NN', 'TN']);
    for (const layout of ['NN', 'TN'] as const) {
      const l = tuning.layouts[layout]!;
      const by = (c: MatmulTileConfig | null) => l.candidates.find((x) => x.config === c)!;
      expect(l.candidates.map((c) => c.name)).toEqual(['built-in', ...[WRONG, GOOD, UNCOMPILABLE, TOO_BIG].map(tileConfigId)]);
      for (const ok of [by(null), by(GOOD)]) {
        expect(ok.dropped, `${layout} ${ok.name}`).toBeUndefined();
        expect(ok.tflops! > 0 && Number.isFinite(ok.tflops!), `${layout} ${ok.name}: ${ok.tflops}`).toBe(true);
        expect(ok.check).toMatch(/vs float64/);
      }
      expect(l.builtinTflops).toBe(by(null).tflops);
      expect(by(WRONG).dropped).toMatch(/wrong result/);
      expect(by(WRONG).tflops).toBeNull();
      expect(by(UNCOMPILABLE).dropped).toBeDefined();
      expect(by(UNCOMPILABLE).tflops).toBeNull();
      expect(by(TOO_BIG).dropped).toMatch(new RegExp(`not run: \\d+ bytes of workgroup memory, the device allows ${limit}`));
      // With minSpeedup 0 the one correct candidate is taken; the broken ones never are.
      expect(l.chosen).toBe(GOOD);
    }
    expect(describeMatmulTuning(tuning).split('\n')).toHaveLength(2);
  });

  it('refuses shapes that are not positive integers, and a layout without shapes, before any GPU work', async () => {
    await expect(tuneMatmul(h.kernels, { shapes: [{ M: 0, N: 4, K: 4 }] })).rejects.toThrow(/M must be a positive integer/);
    await expect(tuneMatmul(h.kernels, { shapes: { NT: [{ M: 4, N: 4, K: 4 }] } })).rejects.toThrow(/no shapes for layout NN/);
  });
});

describe('matmul() with a tuning set', () => {
  /** A tuning that chose TILED for the forward layout only (as tuneMatmul would return it). */
  const TILED: MatmulTileConfig = { tileM: 32, tileN: 16, tileK: 4, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: true };
  const tuning = (): MatmulTuning => ({
    method: 'wall',
    seconds: 0,
    layouts: {
      NT: { layout: 'NT', use: 'forward', shapes: [], chosen: TILED, builtinTflops: 1, candidates: [] },
      NN: { layout: 'NN', use: '∇X', shapes: [], chosen: null, builtinTflops: 1, candidates: [] },
    },
  });

  it('runs the chosen kernel for its layout (right results), the built-in one elsewhere, and stops when unset', async () => {
    const [batch, M, N, K] = [2, 67, 53, 29];
    const rng = new SeededRandom(8100);
    const a = roundF32(rng.normalArray(batch * M * K));
    const b = roundF32(rng.normalArray(batch * N * K));
    const bias = roundF32(rng.normalArray(N));
    const c0 = roundF32(rng.normalArray(batch * M * N));
    const alpha = Math.fround(0.3);
    const ta = h.upload([a.length], a, 'a');
    const tb = h.upload([b.length], b, 'b');
    const tbias = h.upload([N], bias, 'bias');
    const tc = h.upload([c0.length], c0, 'c');
    const spec = { label: 'fwd', a: ta, b: tb, c: tc, M, N, K, transB: true, batch, alpha, accumulate: true, bias: tbias };
    expect(matmulTuning(h.kernels)).toBeUndefined();
    const builtin = matmul(h.kernels, spec);
    setMatmulTuning(h.kernels, tuning());
    try {
      expect(matmulTuning(h.kernels)?.layouts.NT?.chosen).toBe(TILED);
      const tuned = await buildChecked(h.device, () => matmul(h.kernels, spec));
      // The grid says which kernel runs: TILED's 32×16 tiles, the built-in's 64×64.
      expect(tuned.workgroups).toEqual([Math.ceil(N / 16), Math.ceil(M / 32), batch]);
      expect(builtin.workgroups).toEqual([Math.ceil(N / 64), Math.ceil(M / 64), batch]);
      await h.run([tuned]);
      const expected = new Float64Array(batch * M * N);
      for (let z = 0; z < batch; z++) {
        const p = ref.matmul(a.subarray(z * M * K, (z + 1) * M * K), b.subarray(z * N * K, (z + 1) * N * K), M, K, N, false, true);
        for (let i = 0; i < M * N; i++) expected[z * M * N + i] = c0[z * M * N + i] + alpha * p[i] + bias[i % N];
      }
      expectClose('tuned C', await h.read(tc), expected, 1e-5);
      // Layouts without a chosen config, small products and f16 products keep the built-in kernels.
      expect(matmul(h.kernels, { ...spec, transB: false }).workgroups).toEqual(builtin.workgroups);
      expect(matmul(h.kernels, { ...spec, N: 40 }).workgroups).toEqual([Math.ceil(40 / 16), Math.ceil(M / 16), batch]); // main_small
      expect(matmul(h.kernels, { ...spec, f16: 'emulated' }).workgroups).toEqual(builtin.workgroups);
    } finally {
      setMatmulTuning(h.kernels, null);
    }
    expect(matmulTuning(h.kernels)).toBeUndefined();
    expect(matmul(h.kernels, spec).workgroups).toEqual(builtin.workgroups);
  });
});
