// The comparison of sparse recipes (recipes-run.ts) end to end on lavapipe with a small model on the names
// corpus: the configs are checked before any GPU work (the engine's messages), the recipes run in the
// comparison's order with the dense run teaching Sparse-QAT, and after every sparse recipe every group of
// 4 of every sparse weight holds ≥ 2 zeros (checked with the float64 reference groupViolations on the
// exported weights, not with the module's own counts). Also: a sparse run resumed from a training
// checkpoint file (train/training-state.ts) keeps its mask, and trains on exactly as without the break.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_TRAIN, type ModelConfig, type RunConfig, type TrainConfig } from '../config';
import { namesDataset, type TextCorpusDataset } from '../data/corpus';
import type { GpuContext } from '../gpu/device';
import { testGpu } from '../gpu/test-device';
import { groupViolations } from '../reference/sparsity';
import { runFromCheckpoint } from '../train/run-checkpoint';
import { type NamedTensor, type StepMetrics, Trainer, type TrainerCheckpoint } from '../train/trainer';
import { encodeTrainingCheckpoint, readTrainingState, trainerCheckpointFrom } from '../train/training-state';
import { DEFAULT_DISTILL } from './config';
import { orderRecipes, planRecipeRuns, type RecipeResult, recipeTrainConfig, runRecipes } from './recipes-run';

const namesText = readFileSync(fileURLToPath(new URL('../../../public/datasets/names.txt', import.meta.url)), 'utf8');

const model: ModelConfig = {
  architecture: 'decoder', nLayer: 1, dModel: 16, nHead: 2, dFF: 32, contextLength: 8, vocabSize: 54,
  activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5,
};
const base: TrainConfig = { ...DEFAULT_TRAIN, steps: 8, batchSize: 8, lr: 1e-2, warmupSteps: 1, logEvery: 4, valBatches: 2, seed: 3 };
const options = { oneshotPhases: [0.5, 0.5], progressivePhases: [0.25, 0.25, 0.5], distill: DEFAULT_DISTILL };
/** The block linear layers of one layer, by hand: c_attn [3·16, 16], c_proj [16, 16], c_fc [32, 16], mlp c_proj [16, 32]. */
const SPARSE_SHAPES: Record<string, [number, number]> = {
  'transformer.h.0.attn.c_attn.weight': [48, 16],
  'transformer.h.0.attn.c_proj.weight': [16, 16],
  'transformer.h.0.mlp.c_fc.weight': [32, 16],
  'transformer.h.0.mlp.c_proj.weight': [16, 32],
};
const GROUPS = Object.values(SPARSE_SHAPES).reduce((a, [r, c]) => a + (r * c) / 4, 0);

let gpu: GpuContext;
let dataset: TextCorpusDataset;

beforeAll(async () => {
  gpu = await testGpu();
  dataset = namesDataset(namesText);
});

function sparseOf(params: readonly NamedTensor[]): NamedTensor[] {
  return params.filter((p) => p.name in SPARSE_SHAPES);
}

describe('planning, before any GPU work', () => {
  it('orders the recipes and adds the dense teacher of Sparse-QAT unless a teacher is given', () => {
    expect(orderRecipes(['sparse-qat', 'oneshot'])).toEqual(['dense', 'oneshot', 'sparse-qat']);
    expect(orderRecipes(['sparse-qat', 'oneshot'], true)).toEqual(['oneshot', 'sparse-qat']);
    expect(orderRecipes(['progressive', 'dense', 'progressive'])).toEqual(['dense', 'progressive']);
    expect(() => orderRecipes(['dense', 'random' as never])).toThrow(/unknown sparsity recipe "random"; choose from dense, oneshot, progressive, sparse-qat/);
  });

  it('gives each recipe its sparsity fields and nothing of the base\'s', () => {
    const b: TrainConfig = { ...base, sparsity: 'progressive', sparsityPhases: [1, 1, 6], sparseQat: true, distill: DEFAULT_DISTILL, sparsitySchedule: 'continue' };
    // Dense has no phases, so no rule between them (the engine refuses one on a dense run).
    expect(recipeTrainConfig('dense', b, options)).toMatchObject({ sparsity: undefined, sparsityPhases: undefined, sparseQat: undefined, distill: undefined, sparsitySchedule: undefined, steps: 8 });
    expect(recipeTrainConfig('oneshot', b, options)).toMatchObject({ sparsity: 'oneshot', sparsityPhases: [0.5, 0.5], sparseQat: undefined, distill: undefined, sparsitySchedule: 'continue' });
    expect(() => planRecipeRuns(model, b, 'names', ['dense', 'oneshot'], [1], options)).not.toThrow();
    expect(recipeTrainConfig('sparse-qat', b, options)).toMatchObject({ sparsity: 'progressive', sparsityPhases: [0.25, 0.25, 0.5], sparseQat: true, distill: DEFAULT_DISTILL });
  });

  it('reports a phase schedule that does not fit the budget, and a reduction dimension not in 4s, as ConfigError', () => {
    const plan = (m: ModelConfig, o = options) => planRecipeRuns(m, base, 'names', ['dense', 'oneshot', 'progressive'], [1], o);
    expect(() => plan(model, { ...options, progressivePhases: [5, 5, 5] })).toThrow(ConfigError);
    expect(() => plan(model, { ...options, progressivePhases: [5, 5, 5] })).toThrow(/sparsity-phases 5,5,5 do not fit the budget of 8 steps/);
    expect(() => plan(model, { ...options, oneshotPhases: [1, 0] })).toThrow(/the 2:4 \(50% sparse\) phase gets 0 of the 8 steps/);
    expect(() => plan({ ...model, dFF: 30 })).toThrow(/mlp.c_proj has 30 inputs, not a multiple of 4; use --d-ff 32/);
    const runs = planRecipeRuns(model, base, 'names', ['dense', 'oneshot'], [1, 2], options);
    expect(runs.map((r) => `${r.recipe}:${r.seed}:${r.config.train.seed}`)).toEqual(['dense:1:1', 'oneshot:1:1', 'dense:2:2', 'oneshot:2:2']);
  });
});

describe('runRecipes on the GPU', () => {
  let results: RecipeResult[];
  const events: string[] = [];
  const records = new Map<string, StepMetrics[]>();

  beforeAll(async () => {
    const runs = planRecipeRuns(model, base, 'names', orderRecipes(['oneshot', 'progressive', 'sparse-qat']), [3], options);
    results = await runRecipes(gpu, runs, dataset, {
      hooks: {
        onStart: (run) => events.push(`start ${run.recipe}`),
        onMetrics: (run, m) => records.set(run.recipe, [...(records.get(run.recipe) ?? []), ...m]),
        afterStep: (run, _t, done) => {
          events.push(`${run.recipe} ${done}`);
        },
        onResult: (r) => {
          events.push(`result ${r.recipe}`);
        },
      },
    });
  });

  it('trains every recipe for the whole budget in order, calling the hooks', () => {
    expect(results.map((r) => r.recipe)).toEqual(['dense', 'oneshot', 'progressive', 'sparse-qat']);
    const expected = ['dense', 'oneshot', 'progressive', 'sparse-qat'].flatMap((r) => [`start ${r}`, ...Array.from({ length: 8 }, (_, i) => `${r} ${i + 1}`), `result ${r}`]);
    expect(events).toEqual(expected);
    for (const r of results) {
      expect(r.stepsDone).toBe(8);
      expect(r.losses).toHaveLength(8);
      expect(r.losses.every(Number.isFinite)).toBe(true);
      expect(records.get(r.recipe)!.map((m) => m.loss)).toEqual(r.losses);
      expect(r.trainLoss).toBe(r.losses[7]);
      expect(Number.isFinite(r.valLoss)).toBe(true);
      expect(r.accuracy).toBeNull(); // names is not a task
    }
  });

  it('reports the phases: prune points at the resolved boundaries', () => {
    const [dense, oneshot, progressive, qat] = results;
    expect(dense.phases).toEqual([]);
    // 0.5,0.5 of 8 steps; 0.25,0.25,0.5 of 8 steps (boundaries at 2 and 4).
    expect(oneshot.phases.map((p) => [p.start, p.steps, p.keep])).toEqual([[0, 4, 4], [4, 4, 2]]);
    expect(progressive.phases.map((p) => [p.start, p.steps, p.keep])).toEqual([[0, 2, 4], [2, 2, 3], [4, 4, 2]]);
    expect(qat.phases).toEqual(progressive.phases);
    expect(qat.recipeDescription).toMatch(/Sparse-QAT.*distillation/);
  });

  it('after the sparse recipes every group of 4 of every sparse weight holds ≥ 2 zeros (reference check)', () => {
    for (const r of results.slice(1)) {
      const sparse = sparseOf(r.params);
      expect(sparse.map((p) => p.name).sort()).toEqual(Object.keys(SPARSE_SHAPES).sort());
      for (const p of sparse) {
        expect(p.shape).toEqual(SPARSE_SHAPES[p.name]);
        expect(groupViolations(p.data, p.shape[0], p.shape[1], 2), `${r.recipe} ${p.name}`).toBe(0);
        const zeros = p.data.filter((v) => v === 0).length;
        const layer = r.layers.find((l) => l.name === p.name)!;
        expect(layer.zeros).toBe(zeros);
        expect(layer.share).toBe(zeros / p.data.length);
        // Exactly half pruned (a kept weight landing on 0.0 exactly would add one).
        expect(zeros).toBeGreaterThanOrEqual(p.data.length / 2);
        expect(zeros).toBeLessThan(p.data.length / 2 + 4);
      }
      expect(r.groupsViolating).toBe(0);
      expect(r.zeroShare).toBeGreaterThanOrEqual(0.5);
      expect(r.zeroShare).toBeLessThan(0.501);
      expect(r.compressedForward).toBe(true);
    }
  });

  it('the dense run keeps every weight: no zeros, every group counted as violating 2:4', () => {
    const dense = results[0];
    expect(dense.zeroShare).toBe(0);
    expect(dense.groupsViolating).toBe(GROUPS);
    expect(dense.layers.map((l) => l.share)).toEqual([0, 0, 0, 0]);
    expect(dense.compressedForward).toBeNull();
  });

  it('Sparse-QAT learns from the dense run before it: the same teacher given explicitly gives the same losses, another one does not', async () => {
    const [dense, oneshot, , qat] = results;
    const run = planRecipeRuns(model, base, 'names', ['sparse-qat'], [3], options);
    const same = await runRecipes(gpu, run, dataset, { teacher: { model, tensors: dense.params } });
    expect(same[0].losses).toEqual(qat.losses);
    const other = await runRecipes(gpu, run, dataset, { teacher: { model, tensors: oneshot.params } });
    expect(other[0].losses[0]).toBe(qat.losses[0]); // the same first forward
    expect(other[0].losses.slice(1)).not.toEqual(qat.losses.slice(1));
  });

  it('refuses Sparse-QAT without a teacher, and a teacher of another architecture, before training', async () => {
    const run = planRecipeRuns(model, base, 'names', ['sparse-qat'], [3], options);
    await expect(runRecipes(gpu, run, dataset)).rejects.toThrow(/sparse-qat distills from a dense teacher: run dense with seed 3 before it, or give a finished dense run of the same model/);
    const wide = { ...model, dModel: 32 };
    await expect(runRecipes(gpu, run, dataset, { teacher: { model: wide, tensors: results[0].params } })).rejects.toThrow(ConfigError);
    await expect(runRecipes(gpu, run, dataset, { teacher: { model: wide, tensors: results[0].params } })).rejects.toThrow(/the teacher run has another model than the student: dModel 32 \(the student has 16\)/);
  });
});

describe('resuming a sparse run from a training checkpoint file', () => {
  // The file (training-state.ts) holds weights, AdamW moments, loss scaler, data position and step, not
  // the mask: the trainer's first step rebuilds it from the weights (plugin.ts beforeStep: the kept
  // values are the non-zeros). These runs show that this keeps the mask and the training bit for bit.
  async function trainTo(trainer: Trainer, steps: number, out: StepMetrics[], checkpoints: TrainerCheckpoint[] = []) {
    trainer.onMetrics((m) => out.push(...m));
    trainer.onCheckpoint((c) => checkpoints.push(c));
    const zeroSets: Set<number>[] = [];
    while (trainer.stepsDone < steps) {
      await trainer.step();
      const ps = await trainer.exportParameters();
      zeroSets.push(new Set(sparseOf(ps).flatMap((p, j) => Array.from(p.data.keys()).filter((i) => p.data[i] === 0).map((i) => j * 1e6 + i))));
    }
    await trainer.flush();
    return zeroSets;
  }

  for (const { name, train, at } of [
    { name: 'one-shot, resumed in its 2:4 phase', train: { sparsity: 'oneshot' as const, sparsityPhases: [3, 5] }, at: 5 },
    { name: 'progressive, resumed in its 25% phase (the 2:4 pruning comes after the resume)', train: { sparsity: 'progressive' as const, sparsityPhases: [2, 3, 3] }, at: 3 },
  ]) {
    it(name, async () => {
      const config: RunConfig = { model, train: { ...base, ...train, checkpointEvery: 1 }, dataset: 'names' };
      const a = await Trainer.create(gpu, config, dataset);
      const aMetrics: StepMetrics[] = [];
      const aCheckpoints: TrainerCheckpoint[] = [];
      const aZeros = await trainTo(a, 8, aMetrics, aCheckpoints);
      const c = aCheckpoints.find((x) => x.step === at)!;
      const bytes = encodeTrainingCheckpoint(config, dataset, a.model.layout, c);
      const aParams = await a.exportParameters();
      a.destroy();

      const b = await Trainer.create(gpu, config, dataset);
      const loaded = runFromCheckpoint(bytes, 'sparse.safetensors');
      b.restore(trainerCheckpointFrom(loaded.tensors, readTrainingState(bytes, 'sparse.safetensors')!, b.model.layout, 'sparse.safetensors'));
      const bMetrics: StepMetrics[] = [];
      const bZeros = await trainTo(b, 8, bMetrics);
      const bParams = await b.exportParameters();
      b.destroy();

      // The pruned positions after every resumed step are those of the uninterrupted run.
      expect(bZeros.length).toBe(8 - at);
      for (let i = 0; i < bZeros.length; i++) expect([...bZeros[i]].sort(), `step ${at + i + 1}`).toEqual([...aZeros[at + i]].sort());
      expect(bMetrics.map((m) => m.loss)).toEqual(aMetrics.filter((m) => m.step > at).map((m) => m.loss));
      for (const p of sparseOf(bParams)) expect(groupViolations(p.data, p.shape[0], p.shape[1], 2), p.name).toBe(0);
      expect(bParams.map((p) => Array.from(p.data))).toEqual(aParams.map((p) => Array.from(p.data)));
    });
  }
});
