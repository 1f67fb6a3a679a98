// End-to-end training benchmarks: the engine's Trainer on a synthetic task (no files needed), one run per
// (model, precision), timed over whole steps with the queue drained at both ends of each window; and the
// peer, the same GPT in TF.js on its WebGPU backend, with the same batches.
import { type AttentionKernelChoice, DEFAULT_TRAIN, type MatmulTuningChoice, type ModelConfig, type ModelShape, type Precision, PRESETS, type RunConfig, validateRunConfig } from '../engine/config';
import { reverseDataset, Rng } from '../engine/data';
import type { Dataset } from '../engine/data/dataset';
import type { GpuContext } from '../engine/gpu/device';
import { type NamedTensor, Trainer } from '../engine/train/trainer';
import type { BenchResults } from './kernels';
import { adapterName, type BenchRow } from './rows';
import { TfjsGpt, type TfjsTrainOptions, TfjsUnavailableError, loadTfjsWebgpu } from './tfjs-gpt';
import { median } from '../engine/gpu/timing';

export interface TrainBenchModel extends ModelShape {
  name: string;
  batchSize: number;
}

/** 8,192 tokens per step (32 sequences of 256), d_ff = 4·d_model, heads of 64 (GPT-2's head size). The
 *  d2048 model has 2 blocks so that its parameters, gradients and AdamW moments (4 × 0.4 GB) fit next to
 *  its activations on one GPU; bench/torch_bench.py uses the same table. */
export const TRAIN_MODELS: Record<string, TrainBenchModel> = {
  d256: { name: 'd256', nLayer: 4, dModel: 256, nHead: 4, dFF: 1024, contextLength: 256, batchSize: 32 },
  d1024: { name: 'd1024', nLayer: 4, dModel: 1024, nHead: 16, dFF: 4096, contextLength: 256, batchSize: 32 },
  d2048: { name: 'd2048', nLayer: 2, dModel: 2048, nHead: 32, dFF: 8192, contextLength: 256, batchSize: 32 },
  // The page's default model as the user trains it (1,024 tokens per step).
  small: { name: 'small', ...PRESETS.small },
};

/** --quick: a model small enough for a CPU Vulkan driver to take a few steps in seconds. */
export const QUICK_TRAIN_MODELS: Record<string, TrainBenchModel> = {
  quick: { name: 'quick', nLayer: 2, dModel: 32, nHead: 2, dFF: 128, contextLength: 16, batchSize: 4 },
};

export const TRAIN_PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8', 'int4'];

export interface TrainBenchOptions {
  models: TrainBenchModel[];
  precisions: readonly Precision[];
  /** Untimed steps first (pipeline compilation, first-batch quantizer initialisation). */
  warmupSteps: number;
  /** Steps per timed window, and windows (the median window is reported). */
  stepsPerWindow: number;
  windows: number;
  /** Also run the TF.js peer (per model, fp32). */
  tfjs: boolean;
  seed: number;
  /** The engine's kernel choices (TrainConfig), for comparing them; default DEFAULT_TRAIN's. */
  attentionKernel?: AttentionKernelChoice;
  matmulTuning?: MatmulTuningChoice;
  log?: (line: string) => void;
}

export function describeModel(m: TrainBenchModel): string {
  return `d${m.dModel} L${m.nLayer} H${m.nHead} B${m.batchSize}×T${m.contextLength}`;
}

function modelConfig(m: TrainBenchModel, vocabSize: number): ModelConfig {
  return {
    architecture: 'decoder', nLayer: m.nLayer, dModel: m.dModel, nHead: m.nHead, dFF: m.dFF, contextLength: m.contextLength,
    vocabSize, activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5,
  };
}

function runConfig(m: TrainBenchModel, dataset: Dataset, precision: Precision, o: TrainBenchOptions): RunConfig {
  const steps = o.warmupSteps + o.windows * o.stepsPerWindow;
  return validateRunConfig({
    model: modelConfig(m, dataset.tokenizer.vocabSize),
    train: {
      ...DEFAULT_TRAIN, precision, steps, batchSize: m.batchSize, lr: 1e-3, warmupSteps: Math.min(DEFAULT_TRAIN.warmupSteps, steps),
      seed: o.seed, logEvery: o.stepsPerWindow, valBatches: 1,
      attentionKernel: o.attentionKernel ?? DEFAULT_TRAIN.attentionKernel,
      matmulTuning: o.matmulTuning ?? DEFAULT_TRAIN.matmulTuning,
    },
    dataset: dataset.name,
  });
}

/** Forward + backward FLOPs of a step, counting the matrix products only (linear layers, lm_head, the
 *  two attention products over the full T×T square): 3 × the forward's 2·(multiply-adds). */
export function modelFlopsPerStep(m: TrainBenchModel, vocabSize: number): number {
  const d = m.dModel;
  const tokens = m.batchSize * m.contextLength;
  const linearPerToken = m.nLayer * (4 * d * d + 2 * d * m.dFF) + d * vocabSize;
  const attentionPerToken = m.nLayer * 2 * m.contextLength * d;
  return 3 * 2 * tokens * (linearPerToken + attentionPerToken);
}

/** Losses must be finite, and the first near ln(vocab) (a freshly initialised GPT predicts ~uniformly). */
function checkLosses(losses: readonly number[], vocabSize: number): { ok: boolean; text: string } {
  const expected = Math.log(vocabSize);
  const finite = losses.every(Number.isFinite);
  const first = losses[0];
  const startOk = first !== undefined && Math.abs(first - expected) <= 0.25 * expected;
  return {
    ok: finite && startOk && losses.length > 0,
    text: `${losses.length} step losses ${finite ? 'finite' : 'NOT finite'}, first ${first?.toFixed(3)} vs ln(V) = ${expected.toFixed(3)}`,
  };
}

function now(): number {
  return performance.now() / 1000;
}

async function benchEngine(ctx: GpuContext, m: TrainBenchModel, dataset: Dataset, precision: Precision, o: TrainBenchOptions): Promise<BenchRow> {
  const config = runConfig(m, dataset, precision, o);
  // What a user waits for before the first step: buffers, pipelines and the start-up kernel tuning (the
  // tuning is cached per device and shapes, so a later row with the same shapes in this process skips it).
  const createStart = now();
  const trainer = await Trainer.create(ctx, config, dataset);
  const startupSeconds = now() - createStart;
  try {
    const losses: number[] = [];
    trainer.onMetrics((records) => losses.push(...records.map((r) => r.loss)));
    for (let s = 0; s < o.warmupSteps; s++) await trainer.step();
    await trainer.flush();
    const windows: number[] = [];
    for (let w = 0; w < o.windows; w++) {
      const start = now();
      for (let s = 0; s < o.stepsPerWindow; s++) await trainer.step();
      await trainer.flush();
      windows.push(now() - start);
    }
    const secondsPerStep = median(windows) / o.stepsPerWindow;
    const check = checkLosses(losses, dataset.tokenizer.vocabSize);
    const flops = modelFlopsPerStep(m, dataset.tokenizer.vocabSize);
    return {
      section: 'train', device: adapterName(ctx), name: `train ${precision}`, size: `${m.name}: ${describeModel(m)}`, path: trainer.kernelPath,
      metric: 'tokens/s', value: trainer.tokensPerStep / secondsPerStep, seconds: secondsPerStep, timing: 'wall',
      checked: check.ok, check: check.text, stepsPerSecond: 1 / secondsPerStep, gpuMemoryBytes: trainer.memory.bytes,
      extra: { parameters: trainer.parameterCount, tokensPerStep: trainer.tokensPerStep, modelTflops: Number((flops / secondsPerStep / 1e12).toPrecision(4)), startupSeconds: Number(startupSeconds.toPrecision(3)) },
    };
  } finally {
    trainer.destroy();
  }
}

/** The engine's fp32 model at initialisation: its parameters and its loss on one validation batch, so
 *  the peer can be checked to compute the same function before it is timed. */
async function engineReference(ctx: GpuContext, m: TrainBenchModel, dataset: Dataset, o: TrainBenchOptions) {
  const trainer = await Trainer.create(ctx, runConfig(m, dataset, 'fp32', o), dataset);
  try {
    const params = await trainer.exportParameters();
    const loss = await trainer.evaluate();
    return { params, loss };
  } finally {
    trainer.destroy();
  }
}

async function benchTfjs(ctx: GpuContext, m: TrainBenchModel, dataset: Dataset, o: TrainBenchOptions): Promise<BenchRow> {
  const { tf, adapter } = await loadTfjsWebgpu();
  const config = modelConfig(m, dataset.tokenizer.vocabSize);
  // Where the engine cannot build the model, the peer still runs (on its own initialisation) and is
  // checked by its losses only.
  let reference: { params: NamedTensor[]; loss: number | null; why?: string };
  try {
    reference = await engineReference(ctx, m, dataset, o);
  } catch (e) {
    reference = { params: TfjsGpt.initialParameters(config, o.seed), loss: null, why: (e as Error).message.split('\n')[0] };
  }
  const t = DEFAULT_TRAIN;
  const train: TfjsTrainOptions = { lr: 1e-3, beta1: t.beta1, beta2: t.beta2, eps: t.eps, weightDecay: t.weightDecay, gradClip: t.gradClip };
  const gpt = new TfjsGpt(tf, config, m.batchSize, reference.params, train);
  gpt.watchErrors();
  try {
    const [val] = dataset.valBatches(1, m.batchSize, m.contextLength);
    const peerLoss = await gpt.evaluate(val.inputs, val.targets);
    const sameLoss = reference.loss === null || Math.abs(peerLoss - reference.loss) <= 1e-3 * Math.max(1, reference.loss);
    const lossText = reference.loss === null
      ? `not compared with the engine (it could not build this model: ${reference.why})`
      : `loss on the engine's initial weights ${peerLoss.toFixed(5)} vs engine ${reference.loss.toFixed(5)} (≤ 1e-3 rel)`;
    const rng = new Rng(o.seed).fork('data');
    const losses: number[] = [];
    const steps = async (n: number) => {
      const out: TfjsCoreScalar[] = [];
      for (let s = 0; s < n; s++) {
        const b = dataset.trainBatch(rng, m.batchSize, m.contextLength);
        out.push(gpt.step(b.inputs, b.targets));
      }
      // Reading the last loss waits for every step queued before it.
      await out[out.length - 1].data();
      return out;
    };
    const collect = async (ls: TfjsCoreScalar[]) => {
      for (const l of ls) {
        losses.push((await l.data())[0]);
        l.dispose();
      }
    };
    if (o.warmupSteps > 0) await collect(await steps(o.warmupSteps));
    const windows: number[] = [];
    for (let w = 0; w < o.windows; w++) {
      const start = now();
      const ls = await steps(o.stepsPerWindow);
      windows.push(now() - start);
      await collect(ls);
    }
    const secondsPerStep = median(windows) / o.stepsPerWindow;
    const lossCheck = checkLosses(losses, dataset.tokenizer.vocabSize);
    const tokensPerStep = m.batchSize * m.contextLength;
    return {
      section: 'peer', device: adapterName(ctx), name: 'tfjs-webgpu fp32', size: `${m.name}: ${describeModel(m)}`,
      path: `TF.js ${tf.version_core} WebGPU backend (${adapter}), fused matMul+bias, Adam + decoupled decay`,
      metric: 'tokens/s', value: tokensPerStep / secondsPerStep, seconds: secondsPerStep, timing: 'wall',
      checked: sameLoss && lossCheck.ok && gpt.gpuErrors.length === 0,
      check: `${lossText}; ${lossCheck.text}; ` +
        `${gpt.gpuErrors.length} WebGPU errors${gpt.gpuErrors.length ? ` (first: ${gpt.gpuErrors[0]})` : ''}`,
      stepsPerSecond: 1 / secondsPerStep, gpuMemoryBytes: gpt.peakLiveBytes,
      extra: { tokensPerStep, modelTflops: Number((modelFlopsPerStep(m, dataset.tokenizer.vocabSize) / secondsPerStep / 1e12).toPrecision(4)) },
    };
  } finally {
    gpt.dispose();
  }
}

type TfjsCoreScalar = ReturnType<TfjsGpt['step']>;

/** Every (model, precision) run, then the peer per model; a run that cannot be built is skipped with
 *  the reason (e.g. a buffer over the device's binding limit). */
export async function runTrainBenches(ctx: GpuContext, o: TrainBenchOptions): Promise<BenchResults> {
  const out: BenchResults = { rows: [], skipped: [] };
  const dataset = reverseDataset();
  let tfjsMissing: string | null = null;
  for (const m of o.models) {
    const size = `${m.name}: ${describeModel(m)}`;
    for (const precision of o.precisions) {
      try {
        const row = await benchEngine(ctx, m, dataset, precision, o);
        out.rows.push(row);
        o.log?.(`train ${precision} ${size}: ${Math.round(row.value)} tokens/s (${row.checked ? 'checked' : 'CHECK FAILED'})`);
      } catch (e) {
        out.skipped.push({ section: 'train', name: `train ${precision}`, size, reason: (e as Error).message.split('\n')[0] });
      }
    }
    if (!o.tfjs) continue;
    if (tfjsMissing) {
      out.skipped.push({ section: 'peer', name: 'tfjs-webgpu fp32', size, reason: tfjsMissing });
      continue;
    }
    try {
      const row = await benchTfjs(ctx, m, dataset, o);
      const ours = out.rows.find((r) => r.section === 'train' && r.size === size && r.name === 'train fp32');
      if (ours) row.extra = { ...row.extra, ratio: `ours fp32 / TF.js = ${(ours.value / row.value).toFixed(2)}×` };
      out.rows.push(row);
      o.log?.(`peer tfjs-webgpu ${size}: ${Math.round(row.value)} tokens/s (${row.checked ? 'checked' : 'CHECK FAILED'})`);
    } catch (e) {
      const reason = (e as Error).message.split('\n')[0];
      if (e instanceof TfjsUnavailableError) tfjsMissing = reason;
      out.skipped.push({ section: 'peer', name: 'tfjs-webgpu fp32', size, reason });
    }
  }
  return out;
}
