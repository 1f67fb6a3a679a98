// Start-up tuning (train/startup-tuning.ts): skipped with a reason on CPU adapters and when off; where it
// runs (here with the adapter described as a discrete GPU and one small candidate, since this machine
// has only lavapipe), every layout gets a result, the run's products use the choice, and a second run on
// the same device and shapes reuses the same tuning.
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type RunConfig } from '../config';
import type { GpuContext } from '../gpu/device';
import { freshTestGpu, testGpu } from '../gpu/test-device';
import { GpuMemory } from '../gpu/memory';
import { Kernels } from '../gpu/kernels';
import { DOT4_TILINGS, describeDot4Tiling, dot4TilingProblem } from '../ops/intmatmul-dot4';
import { SGMAT_BASE_TILING } from '../ops/intmatmul-sgmat';
import { summarizeIntTuning, tuneIntMatmul } from '../ops/intmatmul-tune';
import { intMatmul, setIntMatmulChoice } from '../ops/quant';
import { tileConfigId } from '../ops/matmul-tiled';
import { matmulTuningSkipped, REMEMBERED_MIN_SPEEDUP, runIntShapes, runLinearShapes, setTuningStore, startupIntTuning, startupMatmulTuning, summarizeMatmulTuning, type TuningStore } from './startup-tuning';

let gpu: GpuContext;
/** The integer candidates here (no subgroup matrices): dot4's built-in kernel, its generated tilings that
 *  fit the device's limits, plain integer math. */
let intNames: string[];
beforeAll(async () => {
  gpu = await testGpu();
  const fits = DOT4_TILINGS.filter((t) => dot4TilingProblem(t, gpu.device.limits) === null);
  expect(fits.length).toBeGreaterThan(0);
  intNames = ['dot4I8Packed', ...fits.map((t) => `dot4I8Packed, ${describeDot4Tiling(t)}`), 'plain integer'];
});

const config: RunConfig = {
  model: { architecture: 'decoder', nLayer: 1, dModel: 64, nHead: 2, dFF: 128, contextLength: 16, vocabSize: 54, activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5 },
  train: { ...DEFAULT_TRAIN, batchSize: 4, matmulTuning: 'auto' },
  dataset: 'names',
};

describe('start-up tuning of the f32 products', () => {
  it('is skipped, with the reason shown, on a CPU adapter and when off', () => {
    expect(matmulTuningSkipped(gpu, config)).toBe('not tuned on a CPU adapter');
    expect(matmulTuningSkipped(gpu, { ...config, train: { ...config.train, matmulTuning: 'off' } })).toBe('tuning off');
    expect(summarizeMatmulTuning(null, 'tuning off')).toContain('built-in 64×64 tiles (tuning off)');
  });

  it('lists the three products of each linear layer of the run, head included', () => {
    const rows = 4 * 16;
    expect(runLinearShapes(config)).toEqual([
      { rows, dIn: 64, dOut: 192 },
      { rows, dIn: 64, dOut: 64 },
      { rows, dIn: 64, dOut: 128 },
      { rows, dIn: 128, dOut: 64 },
      { rows, dIn: 64, dOut: 54 },
    ]);
  });

  it('on a GPU adapter: times the built-in kernel and the candidates for every layout, and caches the result per device', async () => {
    const discrete: GpuContext = { ...gpu, adapterInfo: { ...gpu.adapterInfo, vendor: 'nvidia', architecture: 'hopper', device: 'H100', description: 'NVIDIA H100', isFallbackAdapter: false } };
    expect(matmulTuningSkipped(discrete, config)).toBeNull();
    const candidates = [{ tileM: 32, tileN: 32, tileK: 8, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: true }];
    const tuning = await startupMatmulTuning(discrete, config, { candidates });
    expect(tuning).not.toBeNull();
    for (const layout of ['NT', 'NN', 'TN'] as const) {
      const l = tuning!.layouts[layout]!;
      expect(l.candidates.map((c) => c.name)).toEqual(['built-in', '32x32x8_t4x4_v4_db']);
      // Both passed their float64 check and were timed.
      for (const c of l.candidates) {
        expect(c.dropped, `${layout} ${c.name}`).toBeUndefined();
        expect(c.tflops).toBeGreaterThan(0);
      }
      // The choice is the candidate only if it beat the built-in kernel by the margin.
      const [builtin, candidate] = l.candidates;
      expect(l.chosen === null).toBe(!(candidate.tflops! >= 1.02 * builtin.tflops!));
    }
    expect(summarizeMatmulTuning(tuning, null)).toMatch(/^f32 products tuned at start-up: NT .*; NN .*; TN /);
    // Same device and shapes: the same tuning object, not a second round of timing.
    expect(await startupMatmulTuning(discrete, config, { candidates })).toBe(tuning);
  }, 120_000);

  it('integer products: every path the device offers is checked exactly, then timed; the fastest by the margin is chosen and used', async () => {
    const discrete: GpuContext = { ...gpu, adapterInfo: { ...gpu.adapterInfo, vendor: 'nvidia', architecture: 'hopper', device: 'H100', description: 'NVIDIA H100', isFallbackAdapter: false } };
    const int4: RunConfig = { ...config, train: { ...config.train, precision: 'int4' } };
    expect(await startupIntTuning(discrete, { ...int4, train: { ...int4.train, precision: 'fp32' } })).toBeNull();
    expect(await startupIntTuning(gpu, int4)).toBeNull();
    // Forward products in 4-bit codes, ∇X's in int8 lanes, for the four block layers.
    expect(runIntShapes(int4)).toContainEqual({ M: 64, N: 128, K: 64, format: 'int4' });
    expect(runIntShapes(int4)).toContainEqual({ M: 64, N: 64, K: 128, format: 'int8' });
    const tuning = (await startupIntTuning(discrete, int4))!;
    const names = tuning.candidates.map((c) => c.name);
    // lavapipe offers dot4I8Packed and plain integer math, no subgroup matrices: the default (dot4's built-in
    // kernel) first, then dot4's generated tilings that fit the device, then plain.
    expect(names).toEqual(intNames);
    for (const c of tuning.candidates) {
      expect(c.dropped, c.name).toBeUndefined();
      expect(c.check).toMatch(/^exact on int4 and int8 codes/);
      expect(c.tops).toBeGreaterThan(0);
    }
    const [base, ...others] = tuning.candidates;
    const fastest = others.reduce((x, y) => (y.tops! > x.tops! ? y : x));
    expect(tuning.chosen).toBe(fastest.tops! >= 1.02 * base.tops! ? fastest.choice : base.choice);
    expect(summarizeIntTuning(tuning)).toMatch(/^integer products/);
    expect(await startupIntTuning(discrete, int4)).toBe(tuning);
  }, 120_000);

  it('integer products: a kernel the device cannot run is dropped with its reason and never chosen; a choice steers intMatmul', async () => {
    const memory = new GpuMemory(gpu.device);
    try {
      const k = new Kernels(gpu.device, memory, gpu.capabilities);
      const tuning = await tuneIntMatmul(k, {
        shapes: [{ M: 64, N: 64, K: 64, format: 'int4' }],
        candidates: [{ path: 'plain' }, { path: 'subgroup-matrix', tiling: SGMAT_BASE_TILING }],
        minSpeedup: 0,
      });
      expect(tuning.candidates[1].dropped).toMatch(/subgroup-matrix/);
      expect(tuning.chosen).toEqual({ path: 'plain' });
      // With a choice set, a product without an explicit path runs on it.
      const t = (n: number) => memory.tensor([n], 'x');
      const spec = { label: 'p', a: t(64 * 8), b: t(64 * 8), stepA: t(1), stepB: t(1), c: t(64 * 64), M: 64, N: 64, K: 64, format: 'int4' as const };
      setIntMatmulChoice(k, { path: 'plain' });
      expect(intMatmul(k, spec).pipeline.label).toContain('intmatmul_plain');
      setIntMatmulChoice(k, null);
      expect(intMatmul(k, spec).pipeline.label).not.toContain('intmatmul_plain');
    } finally {
      memory.destroy();
    }
  }, 120_000);
});

/** A TuningStore in memory, recording what was saved. */
function memoryStore(initial: Record<string, unknown> = {}): TuningStore & { values: Map<string, unknown>; saves: number } {
  const values = new Map(Object.entries(initial));
  const store = {
    values,
    saves: 0,
    load: async (key: string) => values.get(key) ?? null,
    save: async (key: string, value: unknown) => {
      store.saves++;
      values.set(key, JSON.parse(JSON.stringify(value)));
    },
  };
  return store;
}

/** A new device described as a discrete GPU: a new process, as far as the in-process cache knows. */
async function discreteGpu(): Promise<GpuContext> {
  const fresh = await freshTestGpu();
  return { ...fresh, adapterInfo: { ...fresh.adapterInfo, vendor: 'nvidia', architecture: 'hopper', device: 'H100', description: 'NVIDIA H100', isFallbackAdapter: false } };
}

describe('start-up tunings remembered across processes (a TuningStore)', () => {
  const C1 = { tileM: 32, tileN: 32, tileK: 8, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: true };
  const C2 = { tileM: 32, tileN: 64, tileK: 8, threadM: 4, threadN: 8, vectorLoads: true, doubleBuffer: true };
  // More workgroup memory than any device allows: always dropped ("not run").
  const TOO_BIG = { tileM: 64, tileN: 64, tileK: 4096, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: false };
  const pool = [C1, C2, TOO_BIG];
  const int4: RunConfig = { ...config, train: { ...config.train, precision: 'int4' } };
  const names = (t: Awaited<ReturnType<typeof startupMatmulTuning>>, layout: 'NT' | 'NN' | 'TN') => t!.layouts[layout]!.candidates.map((c) => c.name);
  const fullNames = ['built-in', ...pool.map(tileConfigId)];

  it('a full tuning is remembered; the next process checks and times only the remembered choices, and says so', async () => {
    const store = memoryStore();
    setTuningStore(store);
    try {
      const first = (await startupMatmulTuning(await discreteGpu(), config, { candidates: pool }))!;
      for (const layout of ['NT', 'NN', 'TN'] as const) expect(names(first, layout)).toEqual(fullNames);
      expect(first.remembered).toBeUndefined();
      expect(store.saves).toBe(1);
      const [[key, record]] = [...store.values];
      expect(key).toContain('NVIDIA H100');
      const chosen = (record as { chosen: Record<string, string | null> }).chosen;
      for (const layout of ['NT', 'NN', 'TN'] as const) expect(chosen[layout]).toBe(first.layouts[layout]!.chosen ? tileConfigId(first.layouts[layout]!.chosen!) : null);

      // Another process: a record choosing C2 for the forward, the built-in kernel for ∇X, C1 for ∇W.
      store.values.set(key, { ...(record as object), savedAt: '2026-01-02T03:04:05.000Z', chosen: { NT: tileConfigId(C2), NN: null, TN: tileConfigId(C1) } });
      const again = (await startupMatmulTuning(await discreteGpu(), config, { candidates: pool }))!;
      expect(names(again, 'NT')).toEqual(['built-in', tileConfigId(C2)]);
      expect(names(again, 'NN')).toEqual(['built-in']);
      expect(names(again, 'TN')).toEqual(['built-in', tileConfigId(C1)]);
      for (const layout of ['NT', 'TN'] as const) {
        const [builtin, candidate] = again.layouts[layout]!.candidates;
        expect(candidate.check).toMatch(/vs float64/);
        // Kept unless now more than 10% slower than the built-in kernel (no flip-flopping between loads).
        expect(again.layouts[layout]!.chosen === null).toBe(!(candidate.tflops! >= REMEMBERED_MIN_SPEEDUP * builtin.tflops!));
      }
      expect(again.remembered).toBe('2026-01-02T03:04:05.000Z');
      expect(summarizeMatmulTuning(again, null)).toContain('the choices of a tuning on 2026-01-02, checked and timed again');
      expect(store.saves).toBe(1);
    } finally {
      setTuningStore(null);
    }
  }, 240_000);

  it('a record that names an unknown kernel, one that fails its check, an old version or a failing store: the full tuning runs', async () => {
    const run = async (store: TuningStore) => {
      setTuningStore(store);
      try {
        return (await startupMatmulTuning(await discreteGpu(), config, { candidates: pool }))!;
      } finally {
        setTuningStore(null);
      }
    };
    const probe = memoryStore();
    await run(probe);
    const [[key, record]] = [...probe.values];
    const cases: [string, unknown][] = [
      ['unknown config', { ...(record as object), chosen: { NT: 'no-such-tile', NN: null, TN: null } }],
      ['fails its check', { ...(record as object), chosen: { NT: tileConfigId(TOO_BIG), NN: null, TN: null } }],
      ['old version', { ...(record as object), version: 0 }],
      ['not an object', 'garbage'],
    ];
    for (const [what, value] of cases) {
      const store = memoryStore({ [key]: value });
      const t = await run(store);
      for (const layout of ['NT', 'NN', 'TN'] as const) expect(names(t, layout), what).toEqual(fullNames);
      expect(t.remembered, what).toBeUndefined();
      expect(store.saves, `${what}: the new tuning replaces the record`).toBe(1);
    }
    const failing: TuningStore = { load: async () => { throw new Error('quota'); }, save: async () => { throw new Error('quota'); } };
    const t = await run(failing);
    expect(names(t, 'NT')).toEqual(fullNames);
  }, 600_000);

  it('integer products: the remembered kernel is checked exactly and timed next to the default', async () => {
    const store = memoryStore();
    setTuningStore(store);
    try {
      const first = (await startupIntTuning(await discreteGpu(), int4))!;
      expect(first.candidates.map((c) => c.name)).toEqual(intNames);
      const [[key, record]] = [...store.values];
      store.values.set(key, { ...(record as object), savedAt: '2026-03-04T00:00:00.000Z', chosen: ['plain', null] });
      const again = (await startupIntTuning(await discreteGpu(), int4))!;
      expect(again.candidates.map((c) => c.name)).toEqual(['dot4I8Packed', 'plain integer']);
      for (const c of again.candidates) expect(c.check).toMatch(/^exact on int4 and int8 codes/);
      const [dot4, plain] = again.candidates;
      expect(again.chosen).toBe(plain.tops! >= REMEMBERED_MIN_SPEEDUP * dot4.tops! ? plain.choice : dot4.choice);
      expect(again.remembered).toBe('2026-03-04T00:00:00.000Z');
      expect(summarizeIntTuning(again)).toContain('tuning on 2026-03-04, checked and timed again');
      // A generated dot4 tiling remembered: it and the default.
      const tiled = intNames[2];
      const remembered = DOT4_TILINGS.find((t) => `dot4I8Packed, ${describeDot4Tiling(t)}` === tiled)!;
      store.values.set(key, { ...(record as object), chosen: ['dot4', null, { ...remembered }] });
      const tiledAgain = (await startupIntTuning(await discreteGpu(), int4))!;
      expect(tiledAgain.candidates.map((c) => c.name)).toEqual(['dot4I8Packed', tiled]);
      expect(tiledAgain.remembered).toBeDefined();
      // The default remembered: only it runs.
      store.values.set(key, { ...(record as object), chosen: ['dot4', null] });
      const base = (await startupIntTuning(await discreteGpu(), int4))!;
      expect(base.candidates.map((c) => c.name)).toEqual(['dot4I8Packed']);
      // A kernel this device does not offer: the full tuning.
      store.values.set(key, { ...(record as object), chosen: ['subgroup-matrix', { subgroupsM: 1, subgroupsN: 1, sliceK: 32 }] });
      const full = (await startupIntTuning(await discreteGpu(), int4))!;
      expect(full.candidates.map((c) => c.name)).toEqual(intNames);
      expect(full.remembered).toBeUndefined();
    } finally {
      setTuningStore(null);
    }
  }, 240_000);
});

