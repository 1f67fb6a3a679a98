/// <reference lib="webworker" />
// The training Web Worker: the only part of the app that touches the GPU. It receives a queue of runs
// (one run, or a comparison of precisions), builds each RunConfig with the engine's validation, trains
// with the engine's Trainer and posts metrics, validation losses, samples, measurement snapshots and the
// final weights back. Pause means: stop calling trainer.step() until resumed.
import { ConfigError, modelConfigFromPreset, type RunConfig, validateRunConfig } from '../engine/config';
import { DatasetError, Rng } from '../engine/data';
import type { Dataset } from '../engine/data/dataset';
import { BUNDLED_TEXT_FILES, openDataset } from '../engine/data/open';
import { acquireGpu, describeGpu, type GpuContext, GpuUnavailableError } from '../engine/gpu/device';
import { CheckpointError } from '../engine/train/checkpoint';
import type { MeasurementSnapshot } from '../engine/train/measurements';
import { checkCheckpointConsistent, checkpointFromRun, type LoadedRun, runFromCheckpoint } from '../engine/train/run-checkpoint';
import { Trainer } from '../engine/train/trainer';
import { type PageConfig, trainConfigFor } from './config';
import type { AdapterSummary, ErrorKind, FromWorker, RunSpec, ToWorker } from './messages';

declare const self: DedicatedWorkerGlobalScope;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

let gpuPromise: Promise<GpuContext> | null = null;
/** Set when the device is lost or reports an uncaptured error; the training loop stops on it. */
let gpuFailure: string | null = null;
let running = false;
let stopRequested = false;
let paused = false;
/** Resolves the wait of a paused loop (on resume or stop). */
let wake: (() => void) | null = null;

/** Acquires the GPU once per worker; later runs reuse the device. */
function getGpu(): Promise<GpuContext> {
  gpuPromise ??= acquireGpu(self.navigator.gpu, 'this browser').then((gpu) => {
    gpu.device.lost.then((info) => {
      gpuFailure = `the GPU device was lost (${info.reason}): ${info.message || 'no details'}. Reload the page to try again.`;
      gpuPromise = null;
      if (!running) post({ type: 'run-error', runId: null, kind: 'gpu', message: gpuFailure });
    });
    gpu.device.addEventListener('uncapturederror', (event) => {
      gpuFailure ??= `WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`;
    });
    return gpu;
  });
  gpuPromise.catch(() => {
    gpuPromise = null;
  });
  return gpuPromise;
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

async function loadDataset(name: string, baseUrl: string): Promise<Dataset> {
  return openDataset(name, async (source) => {
    const path = BUNDLED_TEXT_FILES[source.name];
    if (!source.bundled || !path) throw new DatasetError(`dataset "${source.name}" is not bundled with this site`);
    // Relative to the page, never '/datasets/…': the site may be served from a sub-path.
    const url = new URL(path, baseUrl);
    const response = await fetch(url);
    if (!response.ok) throw new DatasetError(`could not fetch ${url} (HTTP ${response.status})`);
    return response.text();
  });
}

/** The engine config of a page config; a checkpoint fixes the model's shape. Throws ConfigError. */
function buildRunConfig(config: PageConfig, dataset: Dataset, loaded: LoadedRun | null): RunConfig {
  return validateRunConfig({
    model: loaded?.model ?? modelConfigFromPreset(config.preset, dataset.tokenizer.vocabSize),
    train: trainConfigFor(config),
    dataset: config.dataset,
  });
}

/** Surfaces dataset problems (a task that does not fit the context) before the model is built. */
function checkDatasetFits(dataset: Dataset, contextLength: number): void {
  dataset.trainBatch(new Rng(0), 1, contextLength);
  dataset.valBatches(1, 1, contextLength);
}

async function runOne(spec: RunSpec, baseUrl: string, checkpoint: { bytes: Uint8Array; name: string } | undefined): Promise<void> {
  const { id: runId, config } = spec;
  let trainer: Trainer | null = null;
  try {
    post({ type: 'run-phase', runId, phase: 'starting' });
    const gpu = await getGpu();
    const dataset = await loadDataset(config.dataset, baseUrl);
    let loaded: LoadedRun | null = null;
    if (checkpoint) {
      loaded = checkCheckpointConsistent(runFromCheckpoint(checkpoint.bytes, checkpoint.name), checkpoint.name);
      if (loaded.tokenizer.chars.join('') !== dataset.tokenizer.toJSON().chars.join('')) {
        throw new CheckpointError(`${checkpoint.name} was trained on a different character set than dataset ${config.dataset}; choose the dataset it was trained on`);
      }
    }
    const runConfig = buildRunConfig(config, dataset, loaded);
    checkDatasetFits(dataset, runConfig.model.contextLength);
    trainer = await Trainer.create(gpu, runConfig, dataset);
    if (loaded) {
      try {
        trainer.importParameters(loaded.tensors);
      } catch (e) {
        throw new CheckpointError(`${checkpoint?.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const m = runConfig.model;
    post({
      type: 'run-started',
      runId,
      info: {
        model: `${m.nLayer} layers, d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, context ${m.contextLength}, vocab ${m.vocabSize}`,
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
    let diverged: string | null = null;
    trainer.onMetrics((records) => {
      post({ type: 'metrics', runId, records });
      const bad = records.find((r) => !Number.isFinite(r.loss));
      if (bad) diverged ??= `training diverged: the loss became ${bad.loss} at step ${bad.step}`;
    });
    trainer.onMeasurements((snapshot: MeasurementSnapshot) => post({ type: 'measurements', runId, snapshot }));
    post({ type: 'run-phase', runId, phase: 'training' });

    const steps = runConfig.train.steps;
    const start = performance.now();
    let pausedMs = 0;
    for (let s = 0; s < steps; s++) {
      if (paused && !stopRequested) {
        // Let the queued steps finish and their metrics arrive, so the chart is complete while paused.
        await trainer.flush();
        post({ type: 'run-phase', runId, phase: 'paused' });
        const pausedAt = performance.now();
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        pausedMs += performance.now() - pausedAt;
        trainer.resetThroughputWindow(); // tokens/s of the next readback must not count the pause
        if (!stopRequested) post({ type: 'run-phase', runId, phase: 'training' });
      }
      if (stopRequested || gpuFailure || diverged) break;
      await trainer.step();
      const done = s + 1;
      if (config.evalEvery > 0 && done % config.evalEvery === 0 && done < steps) {
        post({ type: 'run-phase', runId, phase: 'evaluating' });
        await trainer.flush();
        post({ type: 'validation', runId, step: done, valLoss: await trainer.evaluate() });
        post({ type: 'run-phase', runId, phase: 'training' });
      }
      if (config.sampleEvery > 0 && config.samples > 0 && done % config.sampleEvery === 0 && done < steps) {
        post({ type: 'run-phase', runId, phase: 'sampling' });
        post({ type: 'samples', runId, step: done, samples: await drawSamples(trainer, config.samples, new Rng(config.seed).fork(`sample:${done}`)) });
        post({ type: 'run-phase', runId, phase: 'training' });
      }
      // step() only waits when the GPU falls behind: yield so that pause and stop messages are seen.
      await yieldToEvents();
    }
    await trainer.flush();
    if (gpuFailure) throw new Error(gpuFailure);
    if (diverged) throw new Error(diverged);
    if (stopRequested) {
      post({ type: 'run-stopped', runId, steps: trainer.stepsDone });
    } else {
      const seconds = (performance.now() - start - pausedMs) / 1000;
      post({ type: 'run-phase', runId, phase: 'evaluating' });
      const valLoss = await trainer.evaluate();
      post({ type: 'validation', runId, step: trainer.stepsDone, valLoss });
      if (config.samples > 0) {
        post({ type: 'run-phase', runId, phase: 'sampling' });
        post({ type: 'samples', runId, step: trainer.stepsDone, samples: await drawSamples(trainer, config.samples, new Rng(config.seed).fork('sample')) });
      }
      if (gpuFailure) throw new Error(gpuFailure);
      post({ type: 'run-done', runId, valLoss, steps: trainer.stepsDone, seconds });
    }
    const bytes = checkpointFromRun(runConfig, dataset, await trainer.exportParameters(), trainer.stepsDone);
    post({ type: 'checkpoint', runId, bytes }, [bytes.buffer]);
  } catch (e) {
    postFailure(runId, e);
  } finally {
    trainer?.destroy();
  }
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
    for (const spec of runs) {
      if (stopRequested) break;
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

/** Resolves after pending events (messages) have been handled; a MessageChannel is not clamped the way
 *  nested setTimeout(0) is. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
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
      break;
  }
};
