/// <reference lib="webworker" />
// The scaling-sweep Web Worker: trains the rungs of a width ladder (sweep.ts) one after the other with the
// engine's Trainer on its own GPU device, apart from the training worker, and posts each rung's training
// losses and final validation loss. Before any training it checks the whole ladder again, now against
// this device's buffer limits, so a ladder too large for the adapter is refused with a message and no
// rung starts. One worker runs one sweep; Stop is the page terminating the worker.
import { ConfigError } from '../engine/config';
import { DatasetError } from '../engine/data';
import { acquireGpu, describeGpu, type GpuContext, GpuUnavailableError } from '../engine/gpu/device';
import type { MemoryLimits } from '../engine/limits';
import type { LossPoint } from '../engine/train/spikes';
import { NonFiniteError, Trainer } from '../engine/train/trainer';
import { classifyError } from './bench';
import { planOf, rungRunConfig, SWEEP_DATASET, sweepLadder, sweepLimitError, sweepProblems } from './sweep';
import type { FromSweepWorker, SweepErrorKind, SweepRequest, ToSweepWorker } from './sweep-messages';
import { loadBundledDataset, rememberTuningsInBrowser, yieldToEvents } from './worker-common';

rememberTuningsInBrowser();

declare const self: DedicatedWorkerGlobalScope;

function post(message: FromSweepWorker): void {
  self.postMessage(message);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function kindOf(e: unknown): SweepErrorKind {
  if (e instanceof GpuUnavailableError) return 'unavailable';
  if (e instanceof ConfigError) return 'config';
  if (e instanceof DatasetError) return 'dataset';
  return classifyError(messageOf(e));
}

function memoryLimits(gpu: GpuContext): MemoryLimits {
  return {
    maxBufferSize: gpu.limits.maxBufferSize ?? gpu.device.limits.maxBufferSize,
    maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize ?? gpu.device.limits.maxStorageBufferBindingSize,
    minStorageBufferOffsetAlignment: gpu.limits.minStorageBufferOffsetAlignment ?? gpu.device.limits.minStorageBufferOffsetAlignment,
  };
}

/** Losses are posted at most this often (a fast GPU reads back hundreds of steps a second). */
const POST_INTERVAL_MS = 100;

let started = false;

async function run(request: SweepRequest, baseUrl: string): Promise<void> {
  let gpu: GpuContext;
  try {
    gpu = await acquireGpu(self.navigator.gpu, 'this browser');
  } catch (e) {
    post({ type: 'error', kind: kindOf(e), message: messageOf(e) });
    return;
  }
  let finished = false;
  let gpuFailure: string | null = null;
  gpu.device.lost.then((info) => {
    if (finished) return;
    finished = true;
    post({ type: 'error', kind: 'device-lost', message: `The GPU device was lost (${info.reason}): ${info.message || 'no reason given'}. The rungs finished so far are kept; start the sweep again for the rest.` });
    self.close();
  });
  gpu.device.addEventListener('uncapturederror', (event) => {
    gpuFailure ??= `WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message.split('\n')[0]}`;
  });
  const start = performance.now();
  try {
    const dataset = await loadBundledDataset(SWEEP_DATASET, baseUrl);
    const vocab = dataset.tokenizer.vocabSize;
    // The page checked the request already (a message is not typed code: check again), and here the
    // adapter's limits join in, before any rung trains.
    const problems = sweepProblems(request, vocab);
    if (problems.length) {
      finished = true;
      post({ type: 'error', kind: 'config', message: problems.join('; ') });
      return;
    }
    const rungs = sweepLadder(request, vocab);
    const tooLarge = sweepLimitError(request, rungs, memoryLimits(gpu));
    if (tooLarge) {
      finished = true;
      post({ type: 'error', kind: 'limits', message: tooLarge });
      return;
    }
    post({ type: 'plan', adapter: describeGpu(gpu), rungs: rungs.map(planOf) });
    for (const [index, rung] of rungs.entries()) {
      if (finished) return;
      const config = rungRunConfig(request, rung);
      const trainer = await Trainer.create(gpu, config, dataset);
      const rungStart = performance.now();
      let pending: LossPoint[] = [];
      let lastPost = 0;
      const flushLosses = () => {
        if (pending.length === 0) return;
        post({ type: 'rung-metrics', index, points: pending });
        pending = [];
        lastPost = performance.now();
      };
      trainer.onMetrics((records) => {
        for (const r of records) if (!r.skipped) pending.push({ step: r.step, loss: r.loss });
        if (performance.now() - lastPost >= POST_INTERVAL_MS) flushLosses();
      });
      post({ type: 'rung-start', index, kernelPath: trainer.kernelPath });
      try {
        for (let s = 0; s < config.train.steps; s++) {
          if (gpuFailure) throw new Error(gpuFailure);
          await trainer.step();
          // step() waits only when the GPU falls behind: let the metric readbacks through.
          await yieldToEvents();
        }
        await trainer.flush();
        flushLosses();
        if (gpuFailure) throw new Error(gpuFailure);
        post({ type: 'rung-evaluating', index });
        const valLoss = await trainer.evaluate();
        const seconds = (performance.now() - rungStart) / 1000;
        if (Number.isFinite(valLoss)) post({ type: 'rung-done', index, valLoss, seconds });
        else post({ type: 'rung-failed', index, message: `the validation loss is ${valLoss}: the rung diverged; try a lower learning rate` });
      } catch (e) {
        // A NaN ends this rung only: the others still give points for the fit.
        if (!(e instanceof NonFiniteError)) throw e;
        flushLosses();
        post({ type: 'rung-failed', index, message: `${e.message}; try a lower learning rate` });
      } finally {
        trainer.destroy();
      }
    }
    if (finished) return;
    finished = true;
    post({ type: 'done', seconds: (performance.now() - start) / 1000 });
  } catch (e) {
    if (finished) return;
    finished = true;
    post({ type: 'error', kind: kindOf(e), message: messageOf(e) });
  } finally {
    finished = true;
    gpu.device.destroy();
  }
}

self.onmessage = (event: MessageEvent<ToSweepWorker>) => {
  const message = event.data;
  if (message?.type !== 'run' || started) return;
  started = true;
  run(message.request, message.baseUrl).catch((e: unknown) => post({ type: 'error', kind: 'failed', message: messageOf(e) }));
};
