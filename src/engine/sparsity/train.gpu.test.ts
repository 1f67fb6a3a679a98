// Sparse training end to end on the names corpus with a small model (sparsity/plugin.ts through the
// trainer): the pruning is the reference top-2-of-4 (top-3 then top-2 of the remaining, progressive) of
// the weights it sees; after the pruning and after every later optimizer step every group of 4 of every
// sparse weight has ≥ 2 zeros (≥ 1 in the 25% phase), and Adam's moments are zero there too; the 2:4
// phase runs the compressed forward, which gives the dense forward's loss; an exported checkpoint, read
// back from its file, has the pattern; INT8 and Sparse-QAT with distillation train the same way; and
// the distillation's gradient kernels match the float64 reference.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_TRAIN, type ModelConfig, type RunConfig, type TrainConfig } from '../config';
import { namesDataset, type TextCorpusDataset } from '../data/corpus';
import type { GpuContext } from '../gpu/device';
import { testGpu } from '../gpu/test-device';
import { type GpuHarness, expectClose, gpuHarness, roundF32 } from '../gpu/test-utils';
import { distillRef, groupViolations, pruneMaskRef } from '../reference/sparsity';
import { SeededRandom } from '../reference/test-helpers';
import { decodeSafetensors } from '../train/checkpoint';
import { checkpointFromRun } from '../train/run-checkpoint';
import { type NamedTensor, Trainer, type TrainerCheckpoint } from '../train/trainer';
import { DEFAULT_DISTILL } from './config';
import { distillLossDispatches } from './distill';
import { compressedForwardOn } from './forward';

const namesText = readFileSync(fileURLToPath(new URL('../../../public/datasets/names.txt', import.meta.url)), 'utf8');

const model: ModelConfig = {
  architecture: 'decoder', nLayer: 1, dModel: 16, nHead: 2, dFF: 32, contextLength: 8, vocabSize: 54,
  activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5,
};
const baseTrain: TrainConfig = { ...DEFAULT_TRAIN, steps: 8, batchSize: 8, lr: 1e-2, warmupSteps: 1, logEvery: 4, valBatches: 2, seed: 3 };
const SPARSE = /^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

function config(t: Partial<TrainConfig>): RunConfig {
  return { model, train: { ...baseTrain, ...t }, dataset: 'names' };
}

let gpu: GpuContext;
let dataset: TextCorpusDataset;
const trainers: Trainer[] = [];
const dir = mkdtempSync(join(tmpdir(), 'sparsity-test-'));

beforeAll(async () => {
  gpu = await testGpu();
  dataset = namesDataset(namesText);
});
afterAll(() => {
  for (const t of trainers) t.destroy();
});

async function create(c: RunConfig, teacher?: NamedTensor[]): Promise<Trainer> {
  const t = await Trainer.create(gpu, c, dataset, teacher ? { teacher: { model: c.model, tensors: teacher } } : {});
  trainers.push(t);
  return t;
}

function sparseWeights(ps: readonly NamedTensor[]): NamedTensor[] {
  const out = ps.filter((p) => SPARSE.test(p.name));
  expect(out.length).toBe(4 * model.nLayer);
  return out;
}

/** Groups (of all sparse weights) with fewer than `minZeros` zeros. */
function violations(ps: readonly NamedTensor[], minZeros: number): number {
  return sparseWeights(ps).reduce((a, p) => a + groupViolations(p.data, p.shape[0], p.shape[1], minZeros), 0);
}

describe('one-shot: train dense, prune to 2:4, retrain with the mask fixed', () => {
  it('prunes to the reference top-2 of 4; every later step keeps ≥ 2 zeros per group, weights and moments', async () => {
    const trainer = await create(config({ sparsity: 'oneshot', sparsityPhases: [3, 5], checkpointEvery: 1 }));
    expect(trainer.recipe).toMatch(/oneshot: dense 3 steps → 2:4 \(50% sparse\) 5 steps/);
    expect(trainer.kernelPath).toMatch(/compressed 2:4 forward product/);
    const moments: TrainerCheckpoint[] = [];
    trainer.onCheckpoint((c) => moments.push(c));
    for (let s = 0; s < 3; s++) await trainer.step();
    const dense = await trainer.exportParameters();
    expect(violations(dense, 1), 'dense weights have no zero groups').toBeGreaterThan(0);
    expect(compressedForwardOn(trainer.kernels)).toBe(false);
    let previous = dense;
    for (let s = 3; s < 8; s++) {
      await trainer.step();
      const ps = await trainer.exportParameters();
      expect(violations(ps, 2), `step ${s + 1}: groups with < 2 zeros`).toBe(0);
      if (s === 3) {
        // The pruning kept exactly the reference's top-2 of each group of the weights it saw.
        for (const p of sparseWeights(ps)) {
          const before = previous.find((q) => q.name === p.name)!;
          const mask = pruneMaskRef(before.data, p.shape[0], p.shape[1], 2);
          for (let i = 0; i < mask.length; i++) {
            if (!mask[i]) expect(p.data[i], `${p.name}[${i}] pruned`).toBe(0);
            else expect(p.data[i], `${p.name}[${i}] kept and trained`).not.toBe(0);
          }
        }
      }
      // The mask is fixed: a zero stays zero.
      if (s > 3) for (const p of sparseWeights(ps)) {
        const q = previous.find((x) => x.name === p.name)!;
        for (let i = 0; i < p.data.length; i++) if (q.data[i] === 0) expect(p.data[i]).toBe(0);
      }
      previous = ps;
    }
    expect(compressedForwardOn(trainer.kernels)).toBe(true);
    await trainer.flush();
    // Adam's moments are masked too (the in-memory checkpoints hold them in the parameters' layout).
    const layout = trainer.model.layout;
    const last = moments[moments.length - 1];
    expect(last.step).toBe(8);
    for (const slot of layout.slots.filter((s) => SPARSE.test(s.spec.name))) {
      for (let i = slot.offset; i < slot.offset + slot.size; i++) {
        if (last.params[i] === 0) {
          expect(last.m[i], `${slot.spec.name} m`).toBe(0);
          expect(last.v[i], `${slot.spec.name} v`).toBe(0);
        }
      }
    }
    // Other parameters are not masked.
    const emb = (await trainer.exportParameters()).find((p) => p.name === 'transformer.wte.weight')!;
    expect(emb.data.filter((v) => v === 0).length).toBe(0);
  });

  it('the learning rate restarts its warmup and decay in the retraining (or follows one schedule)', async () => {
    const lrsOf = async (t: Partial<TrainConfig>) => {
      const trainer = await create(config({ sparsity: 'oneshot', sparsityPhases: [4, 4], warmupSteps: 2, ...t }));
      const lrs: number[] = [];
      trainer.onMetrics((m) => lrs.push(...m.map((r) => r.lr)));
      for (let s = 0; s < 8; s++) await trainer.step();
      await trainer.flush();
      return lrs;
    };
    const restart = await lrsOf({});
    expect(restart.slice(4)).toEqual(restart.slice(0, 4));
    expect(restart[4]).toBeGreaterThan(restart[3]); // warmed up again after decaying
    const continued = await lrsOf({ sparsitySchedule: 'continue' });
    expect(continued[4]).toBeLessThan(continued[2]);
    expect(continued.slice(4)).not.toEqual(continued.slice(0, 4));
  });
});

describe('progressive: 25% → fine-tune → 2:4 of the remaining → fine-tune', () => {
  it('keeps ≥ 1 zero per group in the 25% phase and ≥ 2 after, the second mask inside the first', async () => {
    const trainer = await create(config({ sparsity: 'progressive', sparsityPhases: [0.25, 0.25, 0.5] }));
    for (let s = 0; s < 2; s++) await trainer.step();
    const dense = await trainer.exportParameters();
    let quarter: NamedTensor[] = [];
    for (let s = 2; s < 8; s++) {
      await trainer.step();
      const ps = await trainer.exportParameters();
      if (s < 4) {
        expect(violations(ps, 1), `step ${s + 1}: groups without a zero`).toBe(0);
        expect(violations(ps, 2), `step ${s + 1}: 25% is not yet 2:4`).toBeGreaterThan(0);
        expect(compressedForwardOn(trainer.kernels)).toBe(false);
        if (s === 2) {
          for (const p of sparseWeights(ps)) {
            const mask = pruneMaskRef(dense.find((q) => q.name === p.name)!.data, p.shape[0], p.shape[1], 3);
            for (let i = 0; i < mask.length; i++) expect(p.data[i] === 0, `${p.name}[${i}]`).toBe(!mask[i]);
          }
        }
        quarter = ps;
      } else {
        expect(violations(ps, 2), `step ${s + 1}: groups with < 2 zeros`).toBe(0);
        expect(compressedForwardOn(trainer.kernels)).toBe(true);
        if (s === 4) {
          // 2 of the 3 remaining: the reference on the fine-tuned weights, within the 25% mask.
          for (const p of sparseWeights(ps)) {
            const q = quarter.find((x) => x.name === p.name)!;
            const mask3 = Float64Array.from(q.data, (v) => (v !== 0 ? 1 : 0));
            const mask = pruneMaskRef(q.data, p.shape[0], p.shape[1], 2, mask3);
            for (let i = 0; i < mask.length; i++) expect(p.data[i] === 0, `${p.name}[${i}]`).toBe(!mask[i]);
          }
        }
      }
    }
  });
});

describe('the compressed forward and the exported checkpoint', () => {
  it('the compressed forward gives the dense forward\'s loss on the same masked weights, and the saved file is 2:4', async () => {
    const c = config({ sparsity: 'oneshot', sparsityPhases: [0.5, 0.5] });
    const trainer = await create(c);
    for (let s = 0; s < 8; s++) await trainer.step();
    expect(compressedForwardOn(trainer.kernels)).toBe(true);
    const sparseVal = await trainer.evaluate();
    const weights = await trainer.exportParameters();
    const dense = await create(config({}));
    dense.importParameters(weights);
    expect(compressedForwardOn(dense.kernels)).toBe(null);
    const denseVal = await dense.evaluate();
    expect(Math.abs(sparseVal - denseVal)).toBeLessThan(1e-5 * Math.max(1, denseVal));
    // Safetensors: the masked weights in the dense layout, zeros kept; read back from the file.
    const path = join(dir, 'sparse.safetensors');
    writeFileSync(path, checkpointFromRun(c, dataset, weights, trainer.stepsDone));
    const file = decodeSafetensors(new Uint8Array(readFileSync(path)), path);
    const sparse = file.tensors.filter((t) => SPARSE.test(t.name));
    expect(sparse.length).toBe(4);
    for (const t of sparse) {
      expect(groupViolations(t.data, t.shape[0], t.shape[1], 2), t.name).toBe(0);
      expect(t.data.filter((v) => v === 0).length, `${t.name}: half zeros`).toBeGreaterThanOrEqual(t.data.length / 2);
    }
    expect(JSON.parse(file.metadata.train_config).sparsity).toBe('oneshot');
  });
});

describe('sparsity with the integer schemes and Sparse-QAT', () => {
  it('INT8 and INT4 (LSQ forward) train 2:4 on the compressed code products', async () => {
    for (const t of [{ precision: 'int8' as const }, { precision: 'int4-lsq-luq' as const }]) {
      const trainer = await create(config({ ...t, sparsity: 'oneshot', sparsityPhases: [2, 4], steps: 6 }));
      expect(trainer.kernelPath).toMatch(/compressed 2:4 forward product/);
      const losses: number[] = [];
      trainer.onMetrics((m) => losses.push(...m.map((r) => r.loss)));
      for (let s = 0; s < 6; s++) await trainer.step();
      await trainer.flush();
      expect(compressedForwardOn(trainer.kernels)).toBe(true);
      expect(violations(await trainer.exportParameters(), 2)).toBe(0);
      expect(losses.every(Number.isFinite)).toBe(true);
    }
  });

  it('INT4 with HQ trains 2:4 masks on its dense product (the Hadamard transform mixes the zeros in)', async () => {
    const trainer = await create(config({ precision: 'int4', hadamardBlock: 16, sparsity: 'oneshot', sparsityPhases: [2, 2], steps: 4 }));
    expect(trainer.kernelPath).toMatch(/dense forward product \(the Hadamard transform/);
    for (let s = 0; s < 4; s++) await trainer.step();
    expect(violations(await trainer.exportParameters(), 2)).toBe(0);
    expect(compressedForwardOn(trainer.kernels)).toBe(null);
  });

  it('Sparse-QAT distilled from a dense teacher trains 2:4; a teacher of another model is refused', async () => {
    const teacherRun = await create(config({ steps: 6 }));
    for (let s = 0; s < 6; s++) await teacherRun.step();
    const teacher = await teacherRun.exportParameters();
    const c = config({ sparsity: 'progressive', sparsityPhases: [2, 2, 4], sparseQat: true, distill: DEFAULT_DISTILL });
    const trainer = await create(c, teacher);
    expect(trainer.recipe).toMatch(/Sparse-QAT.*distillation/);
    const losses: number[] = [];
    trainer.onMetrics((m) => losses.push(...m.map((r) => r.loss)));
    for (let s = 0; s < 8; s++) await trainer.step();
    await trainer.flush();
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(violations(await trainer.exportParameters(), 2)).toBe(0);
    expect(compressedForwardOn(trainer.kernels)).toBe(true);
    // Distillation changes the training (same seed, same data): the losses differ from the undistilled run.
    const plain = await create(config({ sparsity: 'progressive', sparsityPhases: [2, 2, 4], sparseQat: true }));
    const plainLosses: number[] = [];
    plain.onMetrics((m) => plainLosses.push(...m.map((r) => r.loss)));
    for (let s = 0; s < 8; s++) await plain.step();
    await plain.flush();
    expect(plainLosses[0]).toBeCloseTo(losses[0], 5); // the same first forward
    expect(plainLosses[7]).not.toBeCloseTo(losses[7], 5);
    // A teacher with another model: a ConfigError before anything is built.
    const other = { ...model, dFF: 64 };
    await expect(Trainer.create(gpu, c, dataset, { teacher: { model: other, tensors: teacher } })).rejects.toThrow(ConfigError);
    await expect(Trainer.create(gpu, c, dataset, { teacher: { model: other, tensors: teacher } })).rejects.toThrow(/dFF 64 \(the student has 32\)/);
    await expect(Trainer.create(gpu, c, dataset)).rejects.toThrow(/needs the dense teacher/);
  });
});

describe('distillation gradients', () => {
  let h: GpuHarness;
  beforeAll(async () => {
    h = await gpuHarness();
  });

  it('KL on the logits and MSE on the hidden state update the gradients as the float64 reference', async () => {
    const [N, V, C] = [12, 30, 20];
    const rng = new SeededRandom(21);
    const zs = roundF32(rng.normalArray(N * V, 2));
    const zt = roundF32(rng.normalArray(N * V, 2));
    const hs = roundF32(rng.normalArray(N * C));
    const ht = roundF32(rng.normalArray(N * C));
    const ce = roundF32(rng.normalArray(N * V, 0.01));
    const dh = roundF32(rng.normalArray(N * C, 0.01));
    const targets = Int32Array.from({ length: N }, (_, i) => (i % 4 === 3 ? -1 : i % V));
    const d = { alpha: 0.3, temperature: 2.5, hiddenWeight: 0.7 };
    const t = {
      logits: h.upload([N, V], zs, 'zs'), teacherLogits: h.upload([N, V], zt, 'zt'), dLogits: h.upload([N, V], ce, 'dz'),
      hidden: h.upload([N, C], hs, 'hs'), teacherHidden: h.upload([N, C], ht, 'ht'), dHidden: h.upload([N, C], dh, 'dh'),
      targets: h.upload([N], targets, 'targets'), lossScale: h.upload([1], [1], 'scale'), N, V, C,
    };
    const k = distillLossDispatches(h.kernels, t, d);
    await h.run([...k.before, ...k.after]);
    const want = distillRef({ zs, zt, hs, ht, ceGrad: ce, targets: Array.from(targets), rows: N, vocab: V, width: C, alpha: d.alpha, temperature: d.temperature, beta: d.hiddenWeight });
    expectClose('∇logits', await h.read(t.dLogits), want.dLogits, 1e-5, 1e-3);
    const dhWant = Float64Array.from(dh, (v, i) => v + want.dHidden[i]);
    expectClose('∇hidden', await h.read(t.dHidden), dhWant, 1e-5, 1e-3);
    const kl = await h.read(k.kl);
    expectClose('Σ KL / count', [kl.reduce((a, b) => a + b, 0) / 9], [want.kl], 1e-5, 1e-3);
    // Unscored rows keep their (zero) CE gradient untouched.
    const got = await h.read(t.dLogits);
    for (let j = 0; j < V; j++) expect(got[3 * V + j]).toBe(Math.fround(ce[3 * V + j]));
  });
});
