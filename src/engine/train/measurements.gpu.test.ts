// Per-layer measurements through the Trainer (TrainConfig.measureEvery): the snapshot of the first
// step against the float64 reference's X and ∇Y of every block linear layer, loss scaling divided
// out under FP16, and the quantized schemes' extra fields (errors, step sizes, LSS kept fractions).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type ModelConfig, type RunConfig, type TrainConfig } from '../config';
import { namesDataset, type TextCorpusDataset } from '../data/corpus';
import { Rng } from '../data/rng';
import type { GpuContext } from '../gpu/device';
import { setScratchSharing } from '../gpu/scratch';
import { testGpu } from '../gpu/test-device';
import { expectClose } from '../gpu/test-utils';
import { type RefLinearTrace, type RefParams, refGptBackward, refGptForward } from '../reference';
import { blockHadamard } from '../reference/quant/hadamard';
import { columnAbsMax, outlierSummary, rowL2Norms, rowNormBin, rowNormHistogram } from '../reference/stats';
import { GRAD_HISTOGRAM, type MeasurementSnapshot } from './measurements';
import { Trainer } from './trainer';

const namesText = readFileSync(fileURLToPath(new URL('../../../public/datasets/names.txt', import.meta.url)), 'utf8');

const model: ModelConfig = {
  architecture: 'decoder', nLayer: 2, dModel: 32, nHead: 2, dFF: 64, contextLength: 8, vocabSize: 54,
  activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5,
};
const train: TrainConfig = { ...DEFAULT_TRAIN, steps: 5, batchSize: 8, lr: 1e-2, warmupSteps: 1, logEvery: 5, valBatches: 2, seed: 3, measureEvery: 2, hadamardBlock: 16 };
const LAYERS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'];

let gpu: GpuContext;
let dataset: TextCorpusDataset;
const trainers: Trainer[] = [];

beforeAll(async () => {
  gpu = await testGpu();
  dataset = namesDataset(namesText);
});

afterAll(() => {
  for (const t of trainers) t.destroy();
});

async function run(t: Partial<TrainConfig>): Promise<{ trainer: Trainer; snapshots: MeasurementSnapshot[] }> {
  const config: RunConfig = { model, train: { ...train, ...t }, dataset: 'names' };
  const trainer = await Trainer.create(gpu, config, dataset);
  trainers.push(trainer);
  const snapshots: MeasurementSnapshot[] = [];
  trainer.onMeasurements((s) => snapshots.push(s));
  return { trainer, snapshots };
}

async function trainAll(trainer: Trainer): Promise<void> {
  while (trainer.stepsDone < trainer.config.train.steps) await trainer.step();
  await trainer.flush();
}

describe('measurements through the Trainer', () => {
  it('are taken at the first step, every measureEvery steps and the last; none when measureEvery is 0', async () => {
    const { trainer, snapshots } = await run({});
    await trainAll(trainer);
    expect(snapshots.map((s) => s.step)).toEqual([1, 2, 4, 5]);
    expect(snapshots[0].layers.map((l) => l.name)).toEqual([0, 1].flatMap((b) => LAYERS.map((w) => `transformer.h.${b}.${w}`)));
    const off = await run({ measureEvery: 0 });
    await trainAll(off.trainer);
    expect(off.snapshots).toEqual([]);
  });

  it('fp32: the first snapshot equals the float64 reference of every layer (row-norm histogram, shares, channel maxima before and after H)', async () => {
    const { trainer, snapshots } = await run({ steps: 1 });
    const params: RefParams = Object.fromEntries((await trainer.exportParameters()).map((t) => [t.name, Float64Array.from(t.data)]));
    const batch = dataset.trainBatch(new Rng(train.seed).fork('data'), train.batchSize, model.contextLength);
    await trainAll(trainer);
    const forward = refGptForward(params, model, batch.inputs, batch.targets, train.batchSize, model.contextLength);
    const traces: Record<string, RefLinearTrace> = {};
    refGptBackward(params, model, forward.cache, traces);
    expect(snapshots).toHaveLength(1);
    const N = train.batchSize * model.contextLength;
    for (const layer of snapshots[0].layers) {
      const ref = traces[layer.name];
      const { inFeatures: D, outFeatures: C } = layer;
      expect(ref.x.length, layer.name).toBe(N * D);
      expect(ref.dy.length, layer.name).toBe(N * C);
      const hist = rowNormHistogram(ref.dy, N, C, GRAD_HISTOGRAM);
      const bins = GRAD_HISTOGRAM.bins;
      // Counts may differ only for rows whose norm lies within f32 rounding of a bin edge.
      const norms = rowL2Norms(ref.dy, N, C);
      const nearEdge = Array.from(norms).filter((v) => v > 0 && rowNormBin(v * (1 + 1e-5), GRAD_HISTOGRAM) !== rowNormBin(v * (1 - 1e-5), GRAD_HISTOGRAM)).length;
      const countDiff = layer.gradRows.counts.reduce((s, c, b) => s + Math.abs(c - hist[b]), 0);
      expect(countDiff, `${layer.name} histogram counts`).toBeLessThanOrEqual(2 * nearEdge);
      expect(layer.gradRows.counts.reduce((a, b) => a + b, 0) + layer.gradRows.zeroRows, layer.name).toBe(N);
      expectClose(`${layer.name} top-1%/10% shares and ‖∇Y‖²`, [layer.gradRows.top1Share, layer.gradRows.top10Share, layer.gradRows.totalSquared], hist.subarray(bins + 1), 1e-4);
      expectClose(`${layer.name} channel max |X|`, layer.channelMaxX, columnAbsMax(ref.x, N, D), 1e-4);
      expect(layer.hadamardBlock, layer.name).toBe(16);
      expectClose(`${layer.name} channel max |XH|`, layer.channelMaxXH, columnAbsMax(blockHadamard(ref.x, N, D, 16), N, D), 1e-4);
      const cx = outlierSummary(columnAbsMax(ref.x, N, D));
      expectClose(`${layer.name} outliers of X`, [layer.outliersX.max, layer.outliersX.median, layer.outliersX.ratio], cx, 1e-4);
      // FP32 quantizes nothing: no errors, step sizes or kept fractions.
      expect([layer.errorX, layer.errorW, layer.errorGrad, layer.stepX, layer.stepW, layer.keptW, layer.keptX]).toEqual([null, null, null, null, null, null, null]);
    }
  });

  it('fp16: ∇Y carries the loss scale (65536), the histogram does not: same totals as the fp32 run of the same step', async () => {
    const a = await run({ steps: 1 });
    const b = await run({ steps: 1, precision: 'fp16' });
    await trainAll(a.trainer);
    await trainAll(b.trainer);
    const [fp32, fp16] = [a.snapshots[0], b.snapshots[0]];
    for (const [i, l] of fp16.layers.entries()) {
      // binary16 operands: ∇Y agrees to ~1e-3, so ‖∇Y‖² to a few 1e-3; a missing unscale would be off by 2^32.
      const reference = fp32.layers[i].gradRows.totalSquared;
      expect(reference, l.name).toBeGreaterThan(0);
      expect(Math.abs(l.gradRows.totalSquared / reference - 1), `${l.name} ‖∇Y‖²`).toBeLessThan(2e-2);
      // The rows fall in the same bins (a row may cross an edge by the f16 rounding).
      const moved = l.gradRows.counts.reduce((s, c, b) => s + Math.abs(c - fp32.layers[i].gradRows.counts[b]), 0);
      expect(moved, `${l.name} rows in other bins`).toBeLessThanOrEqual(0.1 * l.rows);
    }
  });

  for (const backwardQuantizer of ['lss', 'bitsplit'] as const) {
    it(`int4 (HQ + ${backwardQuantizer}): quantization errors, positive step sizes and the kept fractions are measured`, async () => {
      const { trainer, snapshots } = await run({ precision: 'int4', backwardQuantizer });
      await trainAll(trainer);
      for (const s of snapshots) {
        for (const l of s.layers) {
          const what = `step ${s.step} ${l.name}`;
          // 4-bit LSQ codes of a Gaussian-like tensor lose roughly 5–30% of its norm; never 0, never all.
          for (const e of [l.errorX!, l.errorW!]) {
            expect(e, what).toBeGreaterThan(0.01);
            expect(e, what).toBeLessThan(0.6);
          }
          // The bit split acts like an INT8 code: its error is far below a single INT4 code's.
          expect(l.errorGrad!, what).toBeGreaterThan(0);
          expect(l.errorGrad!, what).toBeLessThan(0.05);
          expect(l.stepX!, what).toBeGreaterThan(0);
          expect(l.stepW!, what).toBeGreaterThan(0);
          expect(l.hadamardBlock, what).toBe(16);
          if (backwardQuantizer === 'lss') {
            // Σp = N of the 2N stacked rows: half are kept in expectation (Bernoulli draws, N = 64 rows).
            expect(Math.abs(l.keptW! - 0.5), what).toBeLessThan(0.15);
            expect(Math.abs(l.keptX! - 0.5), what).toBeLessThan(0.15);
          } else {
            // Every non-zero row: all of the high part's rows that are non-zero, and more.
            expect(l.keptX!, what).toBeGreaterThan(0.5);
            expect(l.keptX!, what).toBeLessThanOrEqual(1);
            expect(l.keptW!, what).toBe(l.keptX!);
          }
        }
      }
    });
  }

  it('int4 with the block search: each layer reports the block it chose, the one saved with its parameters', async () => {
    const { trainer, snapshots } = await run({ precision: 'int4', hadamardSearch: true, steps: 2 });
    await trainAll(trainer);
    const params = new Map((await trainer.exportParameters()).map((t) => [t.name, t.data[0]]));
    for (const s of snapshots) {
      for (const l of s.layers) {
        const saved = params.get(`${l.name}.hadamard_block`);
        expect(saved, l.name).toBeDefined();
        expect(l.hadamardBlock, l.name).toBe(saved);
        expect(l.inFeatures % l.hadamardBlock, `${l.name}: block ${l.hadamardBlock} divides the width`).toBe(0);
        expect(Math.log2(l.hadamardBlock) % 1, l.name).toBe(0);
      }
    }
  });

  it('int4-lsq-luq: LUQ gradient error is measured, no kept fractions; X·H is the transform HQ would apply', async () => {
    const { trainer, snapshots } = await run({ precision: 'int4-lsq-luq', steps: 1 });
    await trainAll(trainer);
    for (const l of snapshots[0].layers) {
      expect(l.errorGrad!, l.name).toBeGreaterThan(0.05); // 4-bit logarithmic codes: a coarse gradient
      expect([l.keptW, l.keptX], l.name).toEqual([null, null]);
      expect(l.stepX!, l.name).toBeGreaterThan(0);
    }
  });
});

describe('scratch shared between layers (gpu/scratch.ts)', () => {
  // Three blocks: four layer shapes, each repeated, so one scratch buffer per role serves layers of every
  // shape and later layers' passes overwrite earlier ones' scratch (the backward recomputes X·H and v).
  const cases = [
    { label: 'int4 (bitsplit)', precision: 'int4', backwardQuantizer: 'bitsplit' },
    { label: 'int4 (lss)', precision: 'int4', backwardQuantizer: 'lss' },
    { label: 'int4 (luq)', precision: 'int4-lsq-luq', backwardQuantizer: 'luq' },
    { label: 'int8', precision: 'int8', backwardQuantizer: undefined },
  ] as const;
  for (const { label, precision, backwardQuantizer } of cases) {
    it(`changes no number: ${label}, 3 blocks: losses, parameters and measurements equal a build without sharing`, async () => {
      const runOnce = async (share: boolean) => {
        setScratchSharing(share);
        try {
          const config: RunConfig = { model: { ...model, nLayer: 3 }, train: { ...train, steps: 3, logEvery: 1, measureEvery: 1, precision, backwardQuantizer }, dataset: 'names' };
          const trainer = await Trainer.create(gpu, config, dataset);
          trainers.push(trainer);
          const losses: number[] = [];
          const snapshots: MeasurementSnapshot[] = [];
          trainer.onMetrics((m) => losses.push(...m.map((r) => r.loss)));
          trainer.onMeasurements((s) => snapshots.push(s));
          await trainAll(trainer);
          return { losses, snapshots, params: (await trainer.exportParameters()).flatMap((t) => Array.from(t.data)), bytes: trainer.memory.bytes };
        } finally {
          setScratchSharing(true);
        }
      };
      const shared = await runOnce(true);
      const separate = await runOnce(false);
      expect(shared.bytes, 'sharing saves memory').toBeLessThan(separate.bytes);
      expect(shared.losses).toEqual(separate.losses);
      expect(shared.params).toEqual(separate.params);
      const numbers = (s: MeasurementSnapshot[]) => JSON.stringify(s.map((x) => x.layers.map((l) => [l.errorX, l.errorW, l.errorGrad, l.keptW, l.keptX, l.gradRows.counts])));
      expect(numbers(shared.snapshots)).toBe(numbers(separate.snapshots));
    });
  }
});
