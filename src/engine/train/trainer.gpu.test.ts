// The training loop on the names corpus with a tiny model: determinism, learning, one step against the
// float64 reference (forward, backward, clipping, AdamW, schedule), and checkpoints.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type ModelConfig, type RunConfig, type TrainConfig } from '../config';
import { namesDataset, type TextCorpusDataset } from '../data/corpus';
import { reverseDataset } from '../data/synthetic';
import { Rng } from '../data/rng';
import type { GpuContext } from '../gpu/device';
import { testGpu } from '../gpu/test-device';
import { expectClose, relativeError, worstIndex } from '../gpu/test-utils';
import { type RefParams, adamwStep, gradNormClipScale, learningRate, refGptBackward, refGptForward, refParamNames } from '../reference';
import { CheckpointError } from './checkpoint';
import { checkpointFromRun, runFromCheckpoint } from './run-checkpoint';
import { type NamedTensor, NonFiniteError, type StepMetrics, Trainer } from './trainer';

const namesText = readFileSync(fileURLToPath(new URL('../../../public/datasets/names.txt', import.meta.url)), 'utf8');

const model: ModelConfig = {
  architecture: 'decoder',
  nLayer: 1,
  dModel: 16,
  nHead: 2,
  dFF: 32,
  contextLength: 8,
  vocabSize: 54,
  activation: 'gelu',
  positionalEncoding: 'learned',
  layerNormEps: 1e-5,
};

const train: TrainConfig = {
  ...DEFAULT_TRAIN,
  steps: 12,
  batchSize: 8,
  lr: 1e-2,
  warmupSteps: 2,
  logEvery: 4,
  valBatches: 4,
  seed: 1,
};

function runConfig(t: Partial<TrainConfig> = {}, m: Partial<ModelConfig> = {}): RunConfig {
  return { model: { ...model, ...m }, train: { ...train, ...t }, dataset: 'names' };
}

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

async function create(config: RunConfig): Promise<{ trainer: Trainer; metrics: StepMetrics[] }> {
  const trainer = await Trainer.create(gpu, config, dataset);
  trainers.push(trainer);
  const metrics: StepMetrics[] = [];
  trainer.onMetrics((m) => metrics.push(...m));
  return { trainer, metrics };
}

async function trainAll(trainer: Trainer): Promise<void> {
  while (trainer.stepsDone < trainer.config.train.steps) await trainer.step();
  await trainer.flush();
}

function flat(tensors: readonly NamedTensor[]): number[] {
  return tensors.flatMap((t) => Array.from(t.data));
}

function toRef(tensors: readonly NamedTensor[]): RefParams {
  const out: RefParams = {};
  for (const t of tensors) out[t.name] = Float64Array.from(t.data);
  return out;
}

// Shared by (a), (b) and (d): the run with seed 1, trained for all its steps.
let runA: { trainer: Trainer; metrics: StepMetrics[]; initialVal: number; finalVal: number; params: NamedTensor[] } | null = null;
async function baselineRun() {
  if (!runA) {
    const { trainer, metrics } = await create(runConfig());
    const initialVal = await trainer.evaluate();
    await trainAll(trainer);
    const finalVal = await trainer.evaluate();
    runA = { trainer, metrics, initialVal, finalVal, params: await trainer.exportParameters() };
  }
  return runA;
}

describe('Trainer on the names corpus', () => {
  it('the dataset has the vocabulary the model is built for', () => {
    expect(dataset.tokenizer.vocabSize).toBe(model.vocabSize);
  });

  it('(a) is deterministic: same config and seed give bit-identical losses and parameters; another seed does not', async () => {
    const a = await baselineRun();
    const b = await create(runConfig());
    await trainAll(b.trainer);
    const c = await create(runConfig({ seed: 2 }));
    await trainAll(c.trainer);

    const lossesA = a.metrics.map((m) => m.loss);
    expect(a.metrics.map((m) => m.step)).toEqual(Array.from({ length: train.steps }, (_, i) => i + 1));
    expect(b.metrics.map((m) => m.loss)).toEqual(lossesA);
    expect(b.metrics.map((m) => m.gradNorm)).toEqual(a.metrics.map((m) => m.gradNorm));
    const paramsB = await b.trainer.exportParameters();
    expect(paramsB.map((t) => t.name)).toEqual(a.params.map((t) => t.name));
    expect(flat(paramsB)).toEqual(flat(a.params));

    const lossesC = c.metrics.map((m) => m.loss);
    expect(lossesC).toHaveLength(train.steps);
    expect(lossesC).not.toEqual(lossesA);
    expect(lossesC[0]).not.toBe(lossesA[0]);
    expect(flat(await c.trainer.exportParameters())).not.toEqual(flat(a.params));
  });

  it('(b) learns: the first loss is ≈ ln(vocab), the loss falls, and validation loss ends below where it started', async () => {
    const a = await baselineRun();
    const losses = a.metrics.map((m) => m.loss);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(Math.abs(losses[0] - Math.log(model.vocabSize))).toBeLessThan(0.15);
    expect(Math.abs(a.initialVal - Math.log(model.vocabSize))).toBeLessThan(0.15);
    if (process.env.GPU_TEST_REPORT) console.log(`[losses] ${losses.map((l) => l.toFixed(3)).join(' ')}; val ${a.initialVal} → ${a.finalVal}`);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(losses.slice(-4))).toBeLessThan(mean(losses.slice(0, 4)) - 0.1);
    expect(a.finalVal).toBeLessThan(a.initialVal - 0.1);
  });

  // eps = 1e-3 keeps the first AdamW step, ≈ lr·g/(|g| + eps), well conditioned: with the usual 1e-8 it is
  // ≈ lr·sign(g), so a gradient at the level of f32 noise (the key bias's is exactly 0 in float64, since
  // softmax ignores a per-row constant) moves by an arbitrary fraction of lr (with eps 1e-8 this test
  // measures 3e-3 on mlp.c_proj.weight). The clip is set so that it acts.
  it('(c) one step from known parameters equals the reference forward/backward → clip → AdamW with the schedule’s lr', async () => {
    const config = runConfig({ eps: 1e-3, gradClip: 0.5, logEvery: 1, warmupSteps: 3, seed: 7 });
    const t = config.train;
    const { trainer, metrics } = await create(config);
    const before = await trainer.exportParameters();

    // The batch the trainer draws first: its data stream is the 'data' fork of the seed's generator.
    const batch = dataset.trainBatch(new Rng(t.seed).fork('data'), t.batchSize, model.contextLength);
    await trainer.step();
    await trainer.flush();
    const after = await trainer.exportParameters();

    const params = toRef(before);
    const names = refParamNames(config.model);
    expect(before.map((x) => x.name).sort()).toEqual(names.map((n) => n.name).sort());
    const forward = refGptForward(params, config.model, batch.inputs, batch.targets, t.batchSize, model.contextLength);
    const grads = refGptBackward(params, config.model, forward.cache);
    const clip = gradNormClipScale(names.map((n) => grads[n.name]), t.gradClip);
    if (process.env.GPU_TEST_REPORT) console.log(`[clip] norm ${clip.norm}, scale ${clip.scale}`);
    expect(clip.scale, 'the clip is active in this test').toBeLessThan(0.95);
    const lr = learningRate(0, { maxLr: t.lr, minLr: t.lr * t.minLrRatio, warmupSteps: t.warmupSteps, totalSteps: t.steps });
    expect(lr).toBeCloseTo(t.lr / 3, 15);

    expect(metrics).toHaveLength(1);
    expect(metrics[0].step).toBe(1);
    expect(metrics[0].lr).toBe(lr);
    expectClose('loss of step 1', [metrics[0].loss], [forward.loss], 1e-5);
    expectClose('gradient norm of step 1', [metrics[0].gradNorm], [clip.norm], 1e-5, 0);

    const failures: string[] = [];
    const afterByName = new Map(after.map((x) => [x.name, x]));
    for (const { name } of names) {
      const p = Float64Array.from(params[name]);
      const decayed = name.endsWith('.weight') && !/\.ln_(1|2|f)\.weight$/.test(name);
      adamwStep(p, grads[name], new Float64Array(p.length), new Float64Array(p.length), {
        lr, beta1: t.beta1, beta2: t.beta2, eps: t.eps, step: 1, gradScale: clip.scale,
        weightDecay: decayed ? t.weightDecay : 0,
      });
      const gpuDelta = Array.from(afterByName.get(name)!.data, (x, i) => x - params[name][i]);
      const refDelta = Array.from(p, (x, i) => x - params[name][i]);
      // Relative to lr, the size of a full Adam step. The floor of this error is the f32 rounding of the
      // stored parameter: half an ulp of 1 (the LayerNorm gains) is 6e-8, i.e. 2e-5 of lr = 3.3e-3.
      const err = relativeError(gpuDelta, refDelta, lr);
      if (process.env.GPU_TEST_REPORT) console.log(`[error] ${name}: ${err.toExponential(2)}`);
      if (!(err <= 1e-4)) failures.push(`${name}: error ${err} (relative to lr); ${worstIndex(gpuDelta, refDelta)}`);
    }
    expect(failures).toEqual([]);
  });

  it('(d) checkpoint round trip: export → safetensors → load → import into a new trainer gives the same validation loss', async () => {
    const a = await baselineRun();
    const config = runConfig();
    const bytes = checkpointFromRun(config, dataset, a.params, a.trainer.stepsDone);
    const loaded = runFromCheckpoint(bytes, 'round-trip.safetensors');
    expect(loaded.model).toEqual(config.model);
    expect(loaded.step).toBe(train.steps);
    expect(loaded.tokenizer.chars).toEqual(dataset.tokenizer.toJSON().chars);
    expect(loaded.tensors.map((t) => t.name)).toEqual(a.params.map((t) => t.name));
    expect(flat(loaded.tensors)).toEqual(flat(a.params));

    // A different seed, so that before the import its weights differ from the trained ones.
    const { trainer } = await create({ ...config, model: loaded.model, train: { ...config.train, seed: 99 } });
    const valBefore = await trainer.evaluate();
    expect(valBefore).not.toBe(a.finalVal);
    trainer.importParameters(loaded.tensors);
    expect(await trainer.evaluate()).toBe(a.finalVal);
    expect(flat(await trainer.exportParameters())).toEqual(flat(a.params));
  });

  it('(e) a truncated checkpoint throws CheckpointError saying it is truncated', async () => {
    const a = await baselineRun();
    const bytes = checkpointFromRun(runConfig(), dataset, a.params, a.trainer.stepsDone);
    expect(() => runFromCheckpoint(bytes, 'full.safetensors')).not.toThrow();
    for (const cut of [bytes.length - 1, bytes.length - 1000, 200, 12, 5]) {
      const truncated = bytes.slice(0, cut);
      let error: unknown = null;
      try {
        runFromCheckpoint(truncated, 'cut.safetensors');
      } catch (e) {
        error = e;
      }
      expect(error, `cut at ${cut} bytes`).toBeInstanceOf(CheckpointError);
      if (cut >= 8) expect((error as Error).message, `cut at ${cut} bytes`).toMatch(/truncated/);
    }
  });
});

describe('fp16 training', () => {
  it('trains with dynamic loss scaling: scale reported, no skipped steps, losses close to fp32 but not identical', async () => {
    const run = async (config: RunConfig) => {
      const r = await create(config);
      await trainAll(r.trainer);
      return r;
    };
    const f32 = await run(runConfig());
    const f16 = await run(runConfig({ precision: 'fp16' }));
    expect(f16.metrics.map((m) => m.lossScale)).toEqual(f16.metrics.map(() => 65536));
    expect(f16.metrics.some((m) => m.skipped)).toBe(false);
    expect(f32.metrics.every((m) => m.lossScale === 1)).toBe(true);
    const diffs = f16.metrics.map((m, i) => Math.abs(m.loss - f32.metrics[i].loss));
    // binary16 operands (11-bit significands) change the losses in the 4th-5th digit, no more.
    expect(Math.max(...diffs)).toBeLessThan(2e-2);
    expect(Math.max(...diffs)).toBeGreaterThan(0);
    expect(f16.metrics[f16.metrics.length - 1].loss).toBeLessThan(f16.metrics[0].loss - 0.1);
  });
});

describe('every precision trains through the Trainer', () => {
  for (const precision of ['fp16', 'int8', 'int4', 'int4-minmax', 'int4-lsq-luq'] as const) {
    it(`${precision}: steps run without GPU errors, losses stay finite and fall, LSQ step sizes are initialised`, async () => {
      const { trainer, metrics } = await create(runConfig({ precision, steps: 6, logEvery: 3, hadamardBlock: 16 }));
      await trainAll(trainer); // throws if the GPU rejected a command buffer
      expect(metrics).toHaveLength(6);
      expect(metrics.every((m) => Number.isFinite(m.loss))).toBe(true);
      expect(metrics[5].loss).toBeLessThan(metrics[0].loss);
      const steps = (await trainer.exportParameters()).filter((t) => t.name.endsWith('_step'));
      if (precision === 'int4' || precision === 'int4-lsq-luq') {
        // 4 linear layers × (input, weight) and the embedding output; initialised from the first batch
        // and then trained, so none is still at its placeholder value of 1.
        expect(steps).toHaveLength(9);
        expect(steps.map((s) => s.name)).toContain('transformer.wte.output_step');
        for (const s of steps) expect(Math.abs(s.data[0] - 1), s.name).toBeGreaterThan(1e-3);
      } else expect(steps).toHaveLength(0);
    });
  }
});

describe('generation', () => {
  it('solveTasks: greedy completions of task prompts equal a float64 greedy decode of the same parameters, scored by exact match', async () => {
    const task = reverseDataset();
    const m = { ...model, vocabSize: task.tokenizer.vocabSize, contextLength: 16 };
    const trainer = await Trainer.create(gpu, { model: m, train: { ...train, steps: 0 }, dataset: 'reverse' }, task);
    trainers.push(trainer);
    const params = toRef(await trainer.exportParameters());
    const { accuracy, results } = await trainer.solveTasks(3, new Rng(5));
    // The same problems the task draws with that generator.
    const rng = new Rng(5);
    expect(results.map((r) => r.prompt)).toEqual([0, 1, 2].map(() => task.task!.prompt(rng, m.contextLength).prompt));
    expect(accuracy).toBe(results.filter((r) => r.output === r.answer).length / 3);
    const T = m.contextLength;
    for (const r of results) {
      const tokens = [task.sampleStart(), ...task.tokenizer.encode(r.prompt)];
      const generated: number[] = [];
      while (tokens.length < T) {
        const padded = Int32Array.from({ length: T }, (_, i) => tokens[i] ?? task.sampleStart());
        const { logits } = refGptForward(params, m, padded, new Int32Array(T).fill(-1), 1, T);
        const row = Array.from(logits.subarray((tokens.length - 1) * m.vocabSize, tokens.length * m.vocabSize));
        const sorted = [...row].sort((a, b) => b - a);
        expect(sorted[0] - sorted[1], 'no near-tie for the argmax (else f32 rounding decides)').toBeGreaterThan(1e-4);
        const next = row.indexOf(sorted[0]);
        if (task.isSampleEnd(next)) break;
        generated.push(next);
        tokens.push(next);
      }
      expect(r.output, r.prompt).toBe(task.tokenizer.decode(Int32Array.from(generated)));
    }
  });
});

describe('numerics guard', () => {
  it('an absurd learning rate: the run stops at the first non-finite step, says where, and keeps the last finite parameters', async () => {
    const { trainer, metrics } = await create(runConfig({ lr: 1e30, gradClip: 0, warmupSteps: 0, steps: 12, logEvery: 1 }));
    let error: unknown = null;
    try {
      await trainAll(trainer);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteError);
    const e = error as NonFiniteError;
    // The step it names is the first whose loss or gradient norm was not finite.
    const first = metrics.find((m) => !Number.isFinite(m.loss) || !Number.isFinite(m.gradNorm));
    expect(first, 'the run did go non-finite').toBeDefined();
    expect(e.step).toBe(first!.step);
    expect(e.message).toContain(`at step ${e.step}`);
    expect(e.gradients.length).toBeGreaterThan(0);
    expect(e.message).toMatch(/Lower the learning rate/);
    // The guard skipped the non-finite update: every parameter is still finite.
    const params = flat(await trainer.exportParameters());
    expect(params.every((v) => Number.isFinite(v))).toBe(true);
  });
});
