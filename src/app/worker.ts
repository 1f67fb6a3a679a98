/// <reference lib="webworker" />
// The training Web Worker: the only part of the app that touches the GPU. It receives a RunRequest,
// builds the run config from the preset, trains with the engine's Trainer and posts metrics back.
import { DEFAULT_TRAIN, modelConfigFromPreset, PRESETS, type RunConfig, validateRunConfig } from '../engine/config';
import { Rng } from '../engine/data';
import type { Dataset } from '../engine/data/dataset';
import { BUNDLED_TEXT_FILES, openDataset } from '../engine/data/open';
import { acquireGpu, describeGpu, type GpuContext, GpuUnavailableError } from '../engine/gpu/device';
import { Trainer } from '../engine/train/trainer';
import type { FromWorker, RunRequest, ToWorker } from './messages';

declare const self: DedicatedWorkerGlobalScope;

const SAMPLE_COUNT = 5;

function post(message: FromWorker): void {
  self.postMessage(message);
}

let gpuPromise: Promise<GpuContext> | null = null;
/** Set when the device is lost or reports an uncaptured error; the training loop stops on it. */
let gpuFailure: string | null = null;
let running = false;
let stopRequested = false;

/** Acquires the GPU once per worker; later runs reuse the device. */
function getGpu(): Promise<GpuContext> {
  gpuPromise ??= acquireGpu(self.navigator.gpu, 'this browser').then((gpu) => {
    gpu.device.lost.then((info) => {
      gpuFailure = `the GPU device was lost (${info.reason}): ${info.message || 'no details'}. Reload the page to try again.`;
      gpuPromise = null;
      if (!running) post({ type: 'error', message: gpuFailure });
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

async function probe(): Promise<void> {
  try {
    const gpu = await getGpu();
    post({ type: 'gpu', description: describeGpu(gpu) });
  } catch (e) {
    postFailure(e);
  }
}

function postFailure(e: unknown): void {
  if (e instanceof GpuUnavailableError) post({ type: 'gpu-unavailable', message: e.message });
  else post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}

async function loadDataset(name: string, baseUrl: string): Promise<Dataset> {
  return openDataset(name, async (source) => {
    const path = BUNDLED_TEXT_FILES[source.name];
    if (!source.bundled || !path) throw new Error(`dataset "${source.name}" is not bundled with this site`);
    // Relative to the page, never '/datasets/…': the site may be served from a sub-path.
    const url = new URL(path, baseUrl);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`could not fetch ${url} (HTTP ${response.status})`);
    return response.text();
  });
}

function runConfig(run: RunRequest, dataset: Dataset): RunConfig {
  const preset = PRESETS[run.preset];
  if (!preset) throw new Error(`unknown preset "${run.preset}"`);
  return validateRunConfig({
    model: modelConfigFromPreset(run.preset, dataset.tokenizer.vocabSize),
    // logEvery 1: the chart gets every step as soon as it is read back. The readback is asynchronous (a
    // ring of staging buffers), so this costs no stall, and on a slow adapter (a CPU driver takes
    // seconds per step) the page shows progress from the first step instead of after ten.
    train: { ...DEFAULT_TRAIN, steps: run.steps, batchSize: preset.batchSize, lr: preset.lr, logEvery: 1 },
    dataset: run.dataset,
  });
}

async function train(run: RunRequest, baseUrl: string): Promise<void> {
  running = true;
  stopRequested = false;
  gpuFailure = null;
  let trainer: Trainer | null = null;
  try {
    const gpu = await getGpu();
    post({ type: 'gpu', description: describeGpu(gpu) });
    const dataset = await loadDataset(run.dataset, baseUrl);
    const config = runConfig(run, dataset);
    trainer = await Trainer.create(gpu, config, dataset);
    const m = config.model;
    post({
      type: 'started',
      info: {
        model: `${m.nLayer} layers, d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, context ${m.contextLength}, vocab ${m.vocabSize}`,
        datasetName: dataset.name,
        datasetDescription: dataset.description,
        parameterCount: trainer.parameterCount,
        kernelPath: trainer.kernelPath,
        memoryBytes: trainer.memory.bytes,
        totalSteps: config.train.steps,
        tokensPerStep: trainer.tokensPerStep,
      },
    });
    let diverged: string | null = null;
    trainer.onMetrics((records) => {
      post({ type: 'metrics', records });
      const bad = records.find((r) => !Number.isFinite(r.loss));
      if (bad) diverged ??= `training diverged: the loss became ${bad.loss} at step ${bad.step}`;
    });
    const start = performance.now();
    for (let s = 0; s < config.train.steps; s++) {
      if (stopRequested || gpuFailure || diverged) break;
      await trainer.step();
      // step() only waits when the GPU falls behind; yield now and then so a Stop message is seen.
      if (s % 8 === 7) await yieldToEvents();
    }
    await trainer.flush();
    if (gpuFailure) throw new Error(gpuFailure);
    if (diverged) throw new Error(diverged);
    if (stopRequested) {
      post({ type: 'stopped', steps: trainer.stepsDone });
      return;
    }
    const seconds = (performance.now() - start) / 1000;
    post({ type: 'phase', phase: 'evaluating' });
    const valLoss = await trainer.evaluate();
    let samples: string[] = [];
    if (run.dataset === 'names' && !stopRequested) {
      post({ type: 'phase', phase: 'sampling' });
      samples = await trainer.sample(SAMPLE_COUNT, new Rng(config.train.seed).fork('sample'));
    }
    if (gpuFailure) throw new Error(gpuFailure);
    post({ type: 'done', valLoss, samples, steps: trainer.stepsDone, seconds });
  } catch (e) {
    postFailure(e);
  } finally {
    trainer?.destroy();
    running = false;
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

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'probe':
      void probe();
      break;
    case 'start':
      if (running) {
        post({ type: 'error', message: 'a run is already in progress; stop it first' });
        return;
      }
      void train(message.run, message.baseUrl);
      break;
    case 'stop':
      stopRequested = true;
      break;
  }
};
