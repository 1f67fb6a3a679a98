/// <reference lib="webworker" />
// The training Web Worker: the only part of the app that touches the GPU. It receives a queue of runs
// (one run, or a comparison of precisions), builds each RunConfig with the engine's validation, trains
// with the engine's TrainingSession (a Trainer that survives a lost GPU device by resuming from its last
// checkpoint on a new one) and posts metrics, validation losses, samples, measurement snapshots,
// checkpoints and the final weights back. Pause means: stop calling step() until resumed. A NaN halts
// the run until the page says how to go on ('recover': a lower learning rate, or back to the checkpoint).
// It trains every architecture: the GPT (samples), the encoder classifier (accuracy against the
// majority baseline) and the encoder-decoder (exact match of greedy translations), and takes attention
// maps of one example every few steps. The last run's model is kept after it ends, so its attention
// maps can be shown for other examples, until the next start.
import { type Architecture, ConfigError, type RunConfig, validateRunConfig } from '../engine/config';
import { DatasetError, Rng } from '../engine/data';
import type { Dataset } from '../engine/data/dataset';
import { acquireGpu, describeGpu, type GpuContext, GpuUnavailableError } from '../engine/gpu/device';
import { CheckpointError } from '../engine/train/checkpoint';
import type { MeasurementSnapshot } from '../engine/train/measurements';
import { checkCheckpointConsistent, checkpointFromRun, type LoadedRun, runFromCheckpoint } from '../engine/train/run-checkpoint';
import { type DeviceLossEvent, TrainingSession } from '../engine/train/session';
import { NonFiniteError, type Trainer } from '../engine/train/trainer';
import { encodeTrainingCheckpoint } from '../engine/train/training-state';
import { type ArchEvaluation, classificationEvaluation, exactMatchPairs, translationEvaluation } from './arch-results';
import { type AttentionExample, attentionExampleProblem, defaultAttentionExample, shownAttentionMap } from './attention';
import { architectureOf, DEFAULT_ATTENTION_EVERY, type PageConfig, pageWording, runConfigFor } from './config';
import type { AdapterSummary, ErrorKind, FromWorker, RecoverAction, RunSpec, ToWorker } from './messages';
import { loadBundledDataset, rememberTuningsInBrowser, yieldToEvents } from './worker-common';

rememberTuningsInBrowser();

declare const self: DedicatedWorkerGlobalScope;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

let gpuPromise: Promise<GpuContext> | null = null;
/** Set when the device reports an uncaptured error; the training loop stops on it. (A lost device is
 *  not a failure: the run's TrainingSession moves to a new one.) */
let gpuFailure: string | null = null;
/** The run being trained, for the test hook that loses its device. */
let activeSession: TrainingSession | null = null;
/** How a run halted by a NaN goes on: the page's 'recover', or 'stop'. */
type HaltDecision = { action: RecoverAction; lr?: number } | 'stop';
/** Resolves the wait of a run halted by a NaN. */
let haltDecided: ((d: HaltDecision) => void) | null = null;
let running = false;
let stopRequested = false;
let paused = false;
/** Resolves the wait of a paused loop (on resume or stop). */
let wake: (() => void) | null = null;
/** The run's loop is parked in a pause (its GPU work flushed): work on its model can run now. */
let parked = false;

/** What a run shows attention maps of. */
interface AttentionState {
  runId: string;
  architecture: Architecture;
  dataset: Dataset;
  model: RunConfig['model'];
  defaultExample: AttentionExample;
  /** The user's example; null: the default. */
  example: AttentionExample | null;
  /** The user asked for a new example: take maps at the next step. */
  pending: boolean;
}
/** The run in progress and its attention state. */
let activeAttention: { session: TrainingSession; state: AttentionState } | null = null;
/** The last run trained, kept with its model on the GPU for attention maps of other examples after it
 *  ended; released when the next run starts. */
let retained: { session: TrainingSession; state: AttentionState } | null = null;
/** Attention maps asked for outside the step loop (a paused run, the retained run): the loop waits for
 *  them before its next step, so no step overwrites the activations they read. */
let attentionWork: Promise<void> = Promise.resolve();

/** Acquires the GPU once per worker; later runs reuse the device, until it is lost. */
function getGpu(): Promise<GpuContext> {
  if (gpuPromise) return gpuPromise;
  const acquiring = acquireGpu(self.navigator.gpu, 'this browser').then((gpu) => {
    // Registered before any trainer's handler, so a run's recovery already gets a new device.
    gpu.device.lost.then(() => {
      if (gpuPromise === acquiring) gpuPromise = null;
      // A run in progress recovers by itself; between runs, get and report the next device now.
      if (!running) void probe();
    });
    gpu.device.addEventListener('uncapturederror', (event) => {
      gpuFailure ??= `WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`;
    });
    return gpu;
  });
  gpuPromise = acquiring;
  acquiring.catch(() => {
    if (gpuPromise === acquiring) gpuPromise = null;
  });
  return acquiring;
}

function adapterSummary(gpu: GpuContext): AdapterSummary {
  const c = gpu.capabilities;
  const features = [
    c.shaderF16 && 'shader-f16',
    c.subgroups && 'subgroups',
    c.packed4x8IntegerDotProduct && 'dot4I8Packed',
    c.subgroupMatrix && 'subgroup-matrix',
    c.timestampQuery && 'timestamp-query',
  ].filter((f): f is string => Boolean(f));
  return { ...gpu.adapterInfo, features };
}

async function probe(): Promise<void> {
  try {
    const gpu = await getGpu();
    post({ type: 'gpu', description: describeGpu(gpu), adapter: adapterSummary(gpu) });
  } catch (e) {
    postFailure(null, e);
  }
}

function errorKind(e: unknown): ErrorKind {
  if (e instanceof ConfigError) return 'config';
  if (e instanceof CheckpointError) return 'checkpoint';
  if (e instanceof DatasetError) return 'dataset';
  return 'run';
}

function postFailure(runId: string | null, e: unknown): void {
  if (e instanceof GpuUnavailableError) post({ type: 'gpu-unavailable', message: e.message });
  else post({ type: 'run-error', runId, kind: errorKind(e), message: e instanceof Error ? e.message : String(e) });
}

/** The engine config of a page config; a checkpoint fixes the model's shape. Throws ConfigError. */
function buildRunConfig(config: PageConfig, dataset: Dataset, loaded: LoadedRun | null): RunConfig {
  const run = runConfigFor(config, dataset.tokenizer.vocabSize);
  return validateRunConfig({ ...run, model: loaded?.model ?? run.model });
}

/** Surfaces dataset problems (a task that does not fit the context, a source longer than the source
 *  length) before the model is built, in the page's words. */
function checkDatasetFits(dataset: Dataset, contextLength: number, sourceLength: number | undefined): void {
  try {
    dataset.trainBatch(new Rng(0), 1, contextLength, sourceLength);
    dataset.valBatches(1, 1, contextLength, sourceLength);
  } catch (e) {
    if (e instanceof DatasetError) throw new DatasetError(pageWording(e.message));
    throw e;
  }
}

/** Takes the attention maps of the state's example and posts them. A lost device (guard → null) skips
 *  them: the run went back to its checkpoint and takes them again later. */
async function postAttention(s: TrainingSession, a: AttentionState): Promise<void> {
  const example = a.example ?? a.defaultExample;
  let maps: Awaited<ReturnType<Trainer['attentionMaps']>> | null;
  try {
    maps = await s.guard((t) => t.attentionMaps(example));
  } catch (e) {
    // A model that cannot show the example (checked before, so unexpected): the run goes on.
    if (e instanceof NonFiniteError) throw e;
    post({ type: 'attention-error', runId: a.runId, message: e instanceof Error ? e.message : String(e) });
    a.example = null;
    return;
  }
  if (maps === null) return;
  let shown = example;
  let targetFromModel = false;
  if ('source' in example && !example.target) {
    // The decoder read the model's own greedy translation: its self-attention queries after START.
    const self = maps.find((m) => m.kind === 'self');
    shown = { source: example.source, target: self ? self.queryTokens.slice(1).join('') : '' };
    targetFromModel = true;
  }
  const shownMaps = maps.map((m) => shownAttentionMap(m, a.architecture));
  post(
    { type: 'attention', runId: a.runId, snapshot: { step: s.stepsDone, architecture: a.architecture, example: shown, targetFromModel, isDefault: a.example === null, maps: shownMaps } },
    shownMaps.flatMap((m) => m.heads.map((h) => h.buffer)),
  );
}

/** The classifier's accuracy against the majority baseline, or the encoder-decoder's exact match on a
 *  fixed set of validation pairs (the same at every step, so the numbers are comparable). */
async function archEvaluation(t: Trainer, config: PageConfig): Promise<ArchEvaluation> {
  if (architectureOf(config) === 'encoder') return classificationEvaluation(await t.classify(), t.stepsDone, config.samples);
  const report = await t.translationAccuracy(exactMatchPairs(t.config.train.batchSize), new Rng(config.seed).fork('exact-match'));
  return translationEvaluation(report, t.stepsDone, config.samples);
}

function releaseRetained(): void {
  retained?.session.destroy();
  retained = null;
}

async function runOne(spec: RunSpec, baseUrl: string, checkpoint: { bytes: Uint8Array; name: string } | undefined): Promise<void> {
  const { id: runId, config } = spec;
  let session: TrainingSession | null = null;
  try {
    post({ type: 'run-phase', runId, phase: 'starting' });
    const gpu = await getGpu();
    const architecture = architectureOf(config);
    const dataset = await loadBundledDataset(config.dataset, baseUrl, architecture);
    let loaded: LoadedRun | null = null;
    if (checkpoint) {
      loaded = checkCheckpointConsistent(runFromCheckpoint(checkpoint.bytes, checkpoint.name), checkpoint.name);
      if (loaded.model.architecture !== architecture) {
        throw new CheckpointError(`${checkpoint.name} holds an ${loaded.model.architecture} model, but the page's architecture is ${architecture}; choose architecture ${loaded.model.architecture}`);
      }
      if (loaded.tokenizer.chars.join('') !== dataset.tokenizer.toJSON().chars.join('')) {
        throw new CheckpointError(`${checkpoint.name} was trained on a different character set than dataset ${config.dataset}; choose the dataset it was trained on`);
      }
    }
    const runConfig = buildRunConfig(config, dataset, loaded);
    checkDatasetFits(dataset, runConfig.model.contextLength, runConfig.model.sourceLength);
    try {
      session = await TrainingSession.start(getGpu, runConfig, dataset, { initialParameters: loaded?.tensors }, gpu);
    } catch (e) {
      if (e instanceof CheckpointError && checkpoint) throw new CheckpointError(`${checkpoint.name}: ${e.message}`);
      throw e;
    }
    const s: TrainingSession = session;
    activeSession = s;
    const trainer = s.current;
    const m = runConfig.model;
    post({
      type: 'run-started',
      runId,
      info: {
        model: `${m.architecture === 'decoder' ? '' : `${m.architecture}, `}${m.nLayer} layers, d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, context ${m.contextLength}${m.sourceLength ? `, source ${m.sourceLength}` : ''}${m.numClasses ? `, ${m.numClasses} classes` : ''}, vocab ${m.vocabSize}`,
        datasetName: dataset.name,
        datasetDescription: dataset.description,
        parameterCount: trainer.parameterCount,
        kernelPath: trainer.kernelPath,
        memoryBytes: trainer.memory.bytes,
        totalSteps: runConfig.train.steps,
        tokensPerStep: trainer.tokensPerStep,
        measurements: runConfig.train.measureEvery !== undefined && runConfig.train.measureEvery > 0,
        checkpoint: checkpoint?.name,
      },
    });
    s.onMetrics((records) => post({ type: 'metrics', runId, records }));
    s.onMeasurements((snapshot: MeasurementSnapshot) => post({ type: 'measurements', runId, snapshot }));
    // Every checkpoint goes to the page, which keeps the latest with the run (IndexedDB): a reload or a
    // crash of the tab leaves the weights and optimizer state of that step, not only the metrics.
    s.onCheckpoint((c) => {
      const bytes = encodeTrainingCheckpoint(s.config, dataset, s.layoutOf(c), c);
      post({ type: 'run-checkpoint', runId, step: c.step, bytes }, [bytes.buffer]);
    });
    let loss: DeviceLossEvent | null = null;
    s.onDeviceLost((e) => {
      loss = e;
      post({ type: 'run-phase', runId, phase: 'recovering' });
    });
    s.onRewind((e) => {
      post({ type: 'run-rewind', runId, step: e.step });
      const l = loss as DeviceLossEvent | null;
      if (e.cause === 'device-lost' && l) {
        const from = e.step > 0 ? `the checkpoint at step ${e.step}` : 'the start (there was no checkpoint yet)';
        post({ type: 'run-event', runId, event: { kind: 'device-lost', step: e.step, text: `The GPU device was lost at step ${l.lostAtStep} (${l.reason}${l.detail ? `: ${l.detail}` : ''}); the run resumed on a new device from ${from}.` } });
        loss = null;
      }
      s.current.resetThroughputWindow();
      post({ type: 'run-phase', runId, phase: 'training' });
    });
    post({ type: 'run-phase', runId, phase: 'training' });
    const attention: AttentionState = {
      runId, architecture, dataset, model: runConfig.model, defaultExample: defaultAttentionExample(dataset, runConfig.model), example: null, pending: false,
    };
    activeAttention = { session: s, state: attention };
    const attentionEvery = config.attentionEvery ?? DEFAULT_ATTENTION_EVERY;

    const steps = runConfig.train.steps;
    const start = performance.now();
    let pausedMs = 0;
    let stopped = false;
    let valLoss: number | null = null;
    /** Trains to the end of the run; true when the user stopped it. */
    const trainSteps = async (): Promise<boolean> => {
      while (s.stepsDone < steps) {
        if (paused && !stopRequested) {
          // Let the queued steps finish and their metrics arrive, so the chart is complete while paused.
          await s.flush();
          post({ type: 'run-phase', runId, phase: 'paused' });
          const pausedAt = performance.now();
          // An example chosen while the pause took effect; later ones are taken at once (parked).
          if (attention.pending) {
            attention.pending = false;
            await postAttention(s, attention);
          }
          parked = true;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          parked = false;
          pausedMs += performance.now() - pausedAt;
          s.current.resetThroughputWindow(); // tokens/s of the next readback must not count the pause
          if (!stopRequested) post({ type: 'run-phase', runId, phase: 'training' });
        }
        if (stopRequested) return true;
        if (gpuFailure) throw new Error(gpuFailure);
        await attentionWork;
        await s.step();
        const done = s.stepsDone;
        // Maps at the first step (attention still near uniform), every attentionEvery steps and when the
        // user chose another example; the last ones come after the end of training.
        if (done < steps && (attention.pending || (attentionEvery > 0 && (done === 1 || done % attentionEvery === 0)))) {
          attention.pending = false;
          await postAttention(s, attention);
        }
        // A null from guard(): the device was lost meanwhile and the run went back to its checkpoint.
        if (config.evalEvery > 0 && done % config.evalEvery === 0 && done < steps) {
          post({ type: 'run-phase', runId, phase: 'evaluating' });
          const v = await s.guard(async (t) => {
            await t.flush();
            return t.evaluate();
          });
          if (v !== null) post({ type: 'validation', runId, step: done, valLoss: v });
          post({ type: 'run-phase', runId, phase: 'training' });
        }
        if (architecture !== 'decoder' && config.sampleEvery > 0 && done % config.sampleEvery === 0 && done < steps) {
          post({ type: 'run-phase', runId, phase: 'evaluating' });
          const evaluation = await s.guard((t) => archEvaluation(t, config));
          if (evaluation !== null) post({ type: 'evaluation', runId, evaluation });
          post({ type: 'run-phase', runId, phase: 'training' });
        } else if (config.sampleEvery > 0 && config.samples > 0 && done % config.sampleEvery === 0 && done < steps) {
          post({ type: 'run-phase', runId, phase: 'sampling' });
          const samples = await s.guard((t) => drawSamples(t, config.samples, new Rng(config.seed).fork(`sample:${done}`)));
          if (samples !== null) post({ type: 'samples', runId, step: done, samples });
          post({ type: 'run-phase', runId, phase: 'training' });
        }
        // step() only waits when the GPU falls behind: yield so that pause and stop messages are seen.
        await yieldToEvents();
      }
      return false;
    };
    // Train, flush, evaluate; a recovery from a lost device anywhere in there puts the run back at its
    // checkpoint (stepsDone < steps, or a null from guard), and the loop trains on from there.
    for (;;) {
      try {
        if (await trainSteps()) {
          // The queued steps finish and their metrics arrive before the run reports stopped.
          await s.flush();
          stopped = true;
          break;
        }
        await s.flush();
        if (s.stepsDone < steps) continue;
        if (gpuFailure) throw new Error(gpuFailure);
        post({ type: 'run-phase', runId, phase: 'evaluating' });
        valLoss = await s.guard((t) => t.evaluate());
        if (valLoss === null) continue;
        post({ type: 'validation', runId, step: s.stepsDone, valLoss });
        if (architecture !== 'decoder') {
          // The classifier's and the encoder-decoder's result, whatever `samples` says (it only sets how
          // many examples are listed).
          const evaluation = await s.guard((t) => archEvaluation(t, config));
          if (evaluation === null) continue;
          post({ type: 'evaluation', runId, evaluation });
        } else if (config.samples > 0) {
          post({ type: 'run-phase', runId, phase: 'sampling' });
          const samples = await s.guard((t) => drawSamples(t, config.samples, new Rng(config.seed).fork('sample')));
          if (samples === null) continue;
          post({ type: 'samples', runId, step: s.stepsDone, samples });
        }
        await attentionWork;
        attention.pending = false;
        await postAttention(s, attention);
        break;
      } catch (e) {
        if (!(e instanceof NonFiniteError)) throw e;
        // The run halts (its history stays) until the page says how to go on.
        const from = s.lastCheckpoint(e.step);
        const lr = s.config.train.lr;
        post({ type: 'run-halted', runId, halt: { step: e.step, activation: e.activation, gradients: e.gradients, message: e.message, lr, checkpointStep: from?.step ?? null } });
        const decision = stopRequested ? 'stop' : await new Promise<HaltDecision>((resolve) => {
          haltDecided = resolve;
        });
        haltDecided = null;
        if (decision === 'stop') {
          stopped = true;
          break;
        }
        const newLr = decision.action === 'lower-lr' ? (decision.lr !== undefined && Number.isFinite(decision.lr) && decision.lr > 0 ? decision.lr : lr * 0.1) : lr;
        await s.restart(from, decision.action === 'lower-lr' ? { lr: newLr } : {});
        const where = from ? `the checkpoint at step ${from.step}` : 'the start (there was no checkpoint before the NaN)';
        const text = decision.action === 'lower-lr'
          ? `Training hit a NaN at step ${e.step}; it went on from ${where} with learning rate ${newLr.toExponential(2)} (was ${lr.toExponential(2)}).`
          : `Training hit a NaN at step ${e.step}; it rolled back to ${where} at the same learning rate.`;
        post({ type: 'run-event', runId, event: { kind: decision.action, step: from?.step ?? 0, text, ...(decision.action === 'lower-lr' ? { lr: newLr } : {}) } });
      }
    }
    if (stopped) {
      post({ type: 'run-stopped', runId, steps: s.stepsDone });
    } else {
      const seconds = (performance.now() - start - pausedMs) / 1000;
      post({ type: 'run-done', runId, valLoss: valLoss!, steps: s.stepsDone, seconds });
    }
    // After a NaN the parameters are the last finite ones; after a lost device, the checkpoint's.
    const params = (await s.guard((t) => t.exportParameters())) ?? (await s.current.exportParameters());
    const bytes = checkpointFromRun(s.config, dataset, params, s.current.stepsDone);
    post({ type: 'checkpoint', runId, bytes }, [bytes.buffer]);
    // Kept for attention maps of other examples until the next run starts.
    retained = { session: s, state: attention };
    session = null;
  } catch (e) {
    postFailure(runId, e);
  } finally {
    activeSession = null;
    activeAttention = null;
    parked = false;
    haltDecided = null;
    session?.destroy();
  }
}

/** The page asks for the attention maps of another example (or the default again). */
function chooseAttentionExample(runId: string, example: AttentionExample | null): void {
  const target = activeAttention?.state.runId === runId ? activeAttention : retained?.state.runId === runId ? retained : null;
  if (!target) {
    post({ type: 'attention-error', runId, message: 'the model of this run is no longer loaded: attention maps of a new example can be taken of the run in progress or of the last run trained (train it again to see them)' });
    return;
  }
  const { session, state } = target;
  if (example) {
    const problem = attentionExampleProblem(example, state.dataset, state.model);
    if (problem) {
      post({ type: 'attention-error', runId, message: problem });
      return;
    }
  }
  state.example = example;
  if (target === activeAttention && !parked) {
    // The step loop takes them after its next step (or as it parks for a pause), between GPU work of
    // its own: nothing else writes the model's inputs meanwhile.
    state.pending = true;
    return;
  }
  // A paused run parked in its loop, or the retained one: now; the loop waits for them before stepping.
  attentionWork = attentionWork.then(() => postAttention(session, state)).catch((e: unknown) => {
    post({ type: 'attention-error', runId, message: e instanceof Error ? e.message : String(e) });
  });
}

/** Samples to show: for a synthetic task, the model's greedy answers to problems of the task's
 *  validation distribution, written as prompt + answer ("abc>cba") so the page can score them; for a
 *  corpus, free samples from the start token. */
async function drawSamples(trainer: Trainer, count: number, rng: Rng): Promise<string[]> {
  if (!trainer.dataset.task) return trainer.sample(count, rng);
  const { results } = await trainer.solveTasks(count, rng);
  return results.map((r) => r.prompt + r.output);
}

async function runQueue(runs: RunSpec[], baseUrl: string, checkpoint: { bytes: Uint8Array; name: string } | undefined): Promise<void> {
  running = true;
  stopRequested = false;
  paused = false;
  gpuFailure = null;
  try {
    // Maps being taken of the retained model finish before it goes.
    await attentionWork;
    for (const spec of runs) {
      if (stopRequested) break;
      // A queue keeps one model at a time: the one before goes when the next run starts.
      releaseRetained();
      await runOne(spec, baseUrl, checkpoint);
      // A lost device fails every later run the same way: stop the queue.
      if (gpuFailure) break;
    }
  } finally {
    running = false;
    paused = false;
    post({ type: 'idle' });
  }
}

function wakeLoop(): void {
  const w = wake;
  wake = null;
  w?.();
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'probe':
      void probe();
      break;
    case 'start':
      if (running) {
        post({ type: 'run-error', runId: null, kind: 'run', message: 'a run is already in progress; stop it first' });
        return;
      }
      void runQueue(message.runs, message.baseUrl, message.checkpoint);
      break;
    case 'pause':
      if (running) paused = true;
      break;
    case 'resume':
      paused = false;
      wakeLoop();
      break;
    case 'stop':
      stopRequested = true;
      paused = false;
      wakeLoop();
      haltDecided?.('stop');
      break;
    case 'recover':
      haltDecided?.({ action: message.action, lr: message.lr });
      break;
    case 'attention-example':
      chooseAttentionExample(message.runId, message.example);
      break;
    case 'test-lose-device':
      // What a driver reset does to a device; the run in progress (if any) must survive it.
      if (activeSession) activeSession.current.gpu.device.destroy();
      else void gpuPromise?.then((gpu) => gpu.device.destroy());
      break;
  }
};
