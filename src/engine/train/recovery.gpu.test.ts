// Training checkpoints and what they are for: a checkpoint is the exact state after its step; a run
// restored from one (in memory or through its safetensors file) takes the same steps as the run that
// never stopped; a run whose GPU device is destroyed mid-way resumes on a new device from its last
// checkpoint and ends with the uninterrupted run's losses and parameters; a run stopped by a NaN
// restarts with a lower learning rate. Tiny model on the names corpus, as trainer.gpu.test.ts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type ModelConfig, type RunConfig, type TrainConfig } from '../config';
import { namesDataset, type TextCorpusDataset } from '../data/corpus';
import { Rng } from '../data/rng';
import type { GpuContext } from '../gpu/device';
import { liveBufferCount } from '../gpu/memory';
import { freshTestGpu, testGpu } from '../gpu/test-device';
import { runFromCheckpoint } from './run-checkpoint';
import { type DeviceLossEvent, MAX_RECOVERIES_WITHOUT_PROGRESS, type RewindEvent, TrainingSession } from './session';
import { encodeTrainingCheckpoint, readTrainingState, trainerCheckpointFrom } from './training-state';
import { type NamedTensor, NonFiniteError, type StepMetrics, Trainer, type TrainerCheckpoint } from './trainer';

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

const train: TrainConfig = { ...DEFAULT_TRAIN, steps: 30, batchSize: 8, lr: 1e-2, warmupSteps: 2, logEvery: 4, valBatches: 2, seed: 3, checkpointEvery: 10 };

function runConfig(t: Partial<TrainConfig> = {}): RunConfig {
  return { model, train: { ...train, ...t }, dataset: 'names' };
}

let gpu: GpuContext;
let dataset: TextCorpusDataset;
const trainers: Trainer[] = [];
const devices: GPUDevice[] = [];

beforeAll(async () => {
  gpu = await testGpu();
  dataset = namesDataset(namesText);
});

afterAll(() => {
  for (const t of trainers) t.destroy();
  for (const d of devices) d.destroy();
});

interface Run {
  trainer: Trainer;
  metrics: StepMetrics[];
  checkpoints: TrainerCheckpoint[];
}

async function create(config: RunConfig): Promise<Run> {
  const trainer = await Trainer.create(gpu, config, dataset);
  trainers.push(trainer);
  const run: Run = { trainer, metrics: [], checkpoints: [] };
  trainer.onMetrics((m) => run.metrics.push(...m));
  trainer.onCheckpoint((c) => run.checkpoints.push(c));
  return run;
}

async function trainTo(trainer: Trainer, steps: number): Promise<void> {
  while (trainer.stepsDone < steps) await trainer.step();
  await trainer.flush();
}

function flat(tensors: readonly NamedTensor[]): number[] {
  return tensors.flatMap((t) => Array.from(t.data));
}

/** The named parameters inside a checkpoint's flat buffer. */
function checkpointParams(trainer: Trainer, c: TrainerCheckpoint): number[] {
  return trainer.model.layout.slots.flatMap((s) => Array.from(c.params.subarray(s.offset, s.offset + s.size)));
}

// The run that is never interrupted, which the others must reproduce.
let baseline: (Run & { params: number[] }) | null = null;
async function uninterrupted(): Promise<Run & { params: number[] }> {
  if (!baseline) {
    const run = await create(runConfig());
    await trainTo(run.trainer, train.steps);
    baseline = { ...run, params: flat(await run.trainer.exportParameters()) };
  }
  return baseline;
}

describe('training checkpoints', () => {
  it('are taken every checkpointEvery steps and hold the state after their step: parameters and data position', async () => {
    const run = await create(runConfig({ checkpointEvery: 5 }));
    await trainTo(run.trainer, 10);
    expect(run.checkpoints.map((c) => c.step)).toEqual([5, 10]);
    // Nothing has stepped since step 10: the checkpoint's parameters are the trainer's.
    const c = run.checkpoints[1];
    expect(checkpointParams(run.trainer, c)).toEqual(flat(await run.trainer.exportParameters()));
    expect(checkpointParams(run.trainer, run.checkpoints[0])).not.toEqual(checkpointParams(run.trainer, c));
    // AdamW has moved: the moments are not zero; fp32 runs without loss scaling (scale 1).
    expect(c.m.some((v) => v !== 0) && c.v.some((v) => v > 0)).toBe(true);
    expect(Array.from(c.lossScaler)).toEqual([1, 0, 0]);
    // The data position is the data stream's after ten batches.
    const data = new Rng(train.seed).fork('data');
    for (let i = 0; i < 10; i++) dataset.trainBatch(data, train.batchSize, model.contextLength);
    expect(c.dataRng).toEqual(data.state());
    expect(c.elapsedSeconds).toBeGreaterThan(0);
  });

  it('without checkpointEvery none are taken and no staging memory is allocated', async () => {
    const withCheckpoints = await create(runConfig());
    const without = await create(runConfig({ checkpointEvery: 0 }));
    await trainTo(without.trainer, 10);
    expect(without.checkpoints).toEqual([]);
    const P = without.trainer.model.layout.totalFloats;
    expect(withCheckpoints.trainer.memory.bytes - without.trainer.memory.bytes).toBe(2 * Math.ceil(((3 * P + 4) * 4) / 16) * 16);
  });

  it('a run restored from a checkpoint takes the same steps as the uninterrupted run, in memory and through its file', async () => {
    const a = await uninterrupted();
    const c10 = a.checkpoints.find((c) => c.step === 10)!;
    expect(c10).toBeDefined();

    const inMemory = await create(runConfig());
    inMemory.trainer.restore(c10);
    expect(inMemory.trainer.stepsDone).toBe(10);
    await trainTo(inMemory.trainer, train.steps);

    const bytes = encodeTrainingCheckpoint(runConfig(), dataset, a.trainer.model.layout, c10);
    const loaded = runFromCheckpoint(bytes, 'c10.safetensors');
    // Read as a plain checkpoint, the file holds the weights only.
    expect(loaded.tensors.map((t) => t.name)).toEqual(a.trainer.model.layout.slots.map((s) => s.spec.name));
    expect(loaded.step).toBe(10);
    const state = readTrainingState(bytes, 'c10.safetensors')!;
    const fromFile = await create(runConfig());
    fromFile.trainer.restore(trainerCheckpointFrom(loaded.tensors, state, fromFile.trainer.model.layout, 'c10.safetensors'));
    await trainTo(fromFile.trainer, train.steps);

    const after10 = a.metrics.filter((m) => m.step > 10);
    for (const r of [inMemory, fromFile]) {
      expect(r.metrics.map((m) => m.step)).toEqual(after10.map((m) => m.step));
      expect(r.metrics.map((m) => m.loss)).toEqual(after10.map((m) => m.loss));
      expect(r.metrics.map((m) => m.gradNorm)).toEqual(after10.map((m) => m.gradNorm));
      expect(flat(await r.trainer.exportParameters())).toEqual(a.params);
      // Elapsed time carries on from the checkpoint's.
      expect(r.metrics[0].elapsedSeconds).toBeGreaterThanOrEqual(c10.elapsedSeconds);
    }
    // The resumed run's own checkpoint at step 20 is the uninterrupted run's, moments included.
    const a20 = a.checkpoints.find((c) => c.step === 20)!;
    const r20 = inMemory.checkpoints.find((c) => c.step === 20)!;
    expect(Array.from(r20.params)).toEqual(Array.from(a20.params));
    expect(Array.from(r20.m)).toEqual(Array.from(a20.m));
    expect(Array.from(r20.v)).toEqual(Array.from(a20.v));
    expect(r20.dataRng).toEqual(a20.dataRng);
    // Restoring the moments matters: the same weights with fresh moments train otherwise.
    const freshMoments = await create(runConfig());
    freshMoments.trainer.restore({ ...c10, m: new Float32Array(c10.m.length), v: new Float32Array(c10.v.length) });
    await trainTo(freshMoments.trainer, 20);
    expect(freshMoments.metrics[0].loss).toBe(after10[0].loss); // step 11's forward uses the same weights
    expect(Array.from(freshMoments.checkpoints.find((c) => c.step === 20)!.params)).not.toEqual(Array.from(a20.params));
  });

  it('restore refuses a checkpoint of another model and a trainer that has stepped', async () => {
    const a = await uninterrupted();
    const c10 = a.checkpoints.find((c) => c.step === 10)!;
    const wider = await Trainer.create(gpu, { ...runConfig(), model: { ...model, dModel: 32, dFF: 64 } }, dataset);
    trainers.push(wider);
    expect(() => wider.restore(c10)).toThrow(/layout has \d+/);
    const stepped = await create(runConfig());
    await stepped.trainer.step();
    expect(() => stepped.trainer.restore(c10)).toThrow(/already trained/);
  });
});

describe('TrainingSession: device loss', () => {
  it('destroying the device mid-run: the run resumes on a new device from the last checkpoint and ends as if never interrupted', async () => {
    const a = await uninterrupted();
    const first = await freshTestGpu();
    const acquired: GpuContext[] = [];
    const session = await TrainingSession.start(async () => {
      const g = await freshTestGpu();
      acquired.push(g);
      devices.push(g.device);
      return g;
    }, runConfig(), dataset, {}, first);
    const history: StepMetrics[] = [];
    const beforeLoss: StepMetrics[] = [];
    const losses: DeviceLossEvent[] = [];
    const rewinds: RewindEvent[] = [];
    session.onMetrics((m) => history.push(...m));
    session.onDeviceLost((e) => {
      losses.push(e);
      beforeLoss.push(...history);
    });
    session.onRewind((e) => {
      rewinds.push(e);
      history.splice(0, history.length, ...history.filter((m) => m.step <= e.step));
    });
    const destroyAt = 27;
    let destroyed = false;
    // The loop a caller writes: train to the end, flush, and train on if a recovery rewound the run.
    for (;;) {
      while (session.stepsDone < train.steps) {
        await session.step();
        if (!destroyed && session.stepsDone === destroyAt) {
          // The checkpoint of step 20 is read back asynchronously; give it the moment it needs.
          for (let i = 0; i < 100 && session.lastCheckpoint()?.step !== 20; i++) await new Promise((r) => setTimeout(r, 20));
          expect(session.lastCheckpoint()?.step).toBe(20);
          first.device.destroy();
          destroyed = true;
        }
      }
      await session.flush();
      if (session.stepsDone >= train.steps) break;
    }
    expect(losses).toHaveLength(1);
    expect(losses[0]).toMatchObject({ resumeStep: 20, reason: 'destroyed' });
    expect(losses[0].lostAtStep).toBeGreaterThanOrEqual(destroyAt);
    // Steps lost (taken again): from the checkpoint to where the device went, at most the interval.
    expect(destroyAt - losses[0].resumeStep).toBeLessThanOrEqual(train.checkpointEvery!);
    expect(rewinds).toEqual([{ step: 20, cause: 'device-lost' }]);
    expect(acquired).toHaveLength(1);
    expect(session.current.gpu.device).toBe(acquired[0].device);
    expect(session.current.gpu.device).not.toBe(first.device);

    // The history continues from the checkpoint: every step once, with the uninterrupted run's numbers.
    expect(history.map((m) => m.step)).toEqual(a.metrics.map((m) => m.step));
    expect(history.map((m) => m.loss)).toEqual(a.metrics.map((m) => m.loss));
    expect(history.map((m) => m.gradNorm)).toEqual(a.metrics.map((m) => m.gradNorm));
    // Steps taken before the loss and again after it agree.
    const redone = beforeLoss.filter((m) => m.step > 20);
    expect(redone.length).toBeGreaterThan(0);
    for (const m of redone) expect(history[m.step - 1].loss).toBe(m.loss);
    expect(flat(await session.current.exportParameters())).toEqual(a.params);
    session.destroy();
  });

  it('gives up with a clear error when every new device is lost before the run gets past its checkpoint', async () => {
    const first = await freshTestGpu();
    devices.push(first.device);
    // Each replacement device dies at once.
    const session = await TrainingSession.start(async () => {
      const g = await freshTestGpu();
      g.device.destroy();
      return g;
    }, runConfig(), dataset, {}, first);
    const losses: DeviceLossEvent[] = [];
    session.onDeviceLost((e) => losses.push(e));
    await session.step();
    await session.step();
    first.device.destroy();
    let error: unknown = null;
    try {
      for (let i = 0; i < 50; i++) await session.step();
      await session.flush();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(new RegExp(`lost ${MAX_RECOVERIES_WITHOUT_PROGRESS + 1} times without getting past step 0`));
    expect(losses).toHaveLength(MAX_RECOVERIES_WITHOUT_PROGRESS);
    session.destroy();
  });
});

describe('TrainingSession: restart after a NaN', () => {
  it('an absurd learning rate stops the run; restarting with a lower one trains as a fresh run at that rate', async () => {
    const absurd = { lr: 1e30, gradClip: 0, warmupSteps: 0, steps: 12, logEvery: 1, checkpointEvery: 5 };
    const session = await TrainingSession.start(async () => gpu, runConfig(absurd), dataset, {}, gpu);
    const history: StepMetrics[] = [];
    const rewinds: RewindEvent[] = [];
    session.onMetrics((m) => history.push(...m));
    session.onRewind((e) => {
      rewinds.push(e);
      history.splice(0, history.length, ...history.filter((m) => m.step <= e.step));
    });
    let halted: NonFiniteError | null = null;
    for (;;) {
      try {
        while (session.stepsDone < 12) await session.step();
        await session.flush();
        break;
      } catch (e) {
        if (!(e instanceof NonFiniteError) || halted) throw e;
        halted = e;
        // No checkpoint before the bad step: the restart goes back to the start.
        expect(session.lastCheckpoint(e.step)).toBeNull();
        await session.restart(session.lastCheckpoint(e.step), { lr: 1e-2 });
      }
    }
    expect(halted).not.toBeNull();
    expect(halted!.step).toBeLessThanOrEqual(3);
    expect(rewinds).toEqual([{ step: 0, cause: 'restart' }]);
    expect(session.config.train.lr).toBe(1e-2);
    const fresh = await create(runConfig({ ...absurd, lr: 1e-2 }));
    await trainTo(fresh.trainer, 12);
    expect(history.map((m) => m.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(history.map((m) => m.loss)).toEqual(fresh.metrics.map((m) => m.loss));
    expect(history.every((m) => Number.isFinite(m.loss))).toBe(true);
    session.destroy();
  });

  it('destroying trainers returns every buffer they created', async () => {
    const before = liveBufferCount();
    const run = await Trainer.create(gpu, runConfig({ measureEvery: 3 }), dataset);
    expect(liveBufferCount()).toBeGreaterThan(before);
    await trainTo(run, 6);
    await run.evaluate();
    run.destroy();
    expect(liveBufferCount()).toBe(before);
  });
});
