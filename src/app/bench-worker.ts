/// <reference lib="webworker" />
// The benchmark Web Worker: runs the kernel benchmark of `npm run bench` (src/bench/kernels.ts: FP32
// matmuls in the three layouts of a linear layer, INT8 and INT4 integer products on every path the
// adapter offers, each checked against a CPU computation before it is timed) on its own GPU device, apart
// from the training worker. One worker runs one benchmark: the page posts 'run', this worker posts the
// adapter, each kernel as it starts, each row as it is measured, then 'done' or 'error'. Cancel is the
// page terminating the worker.
import { runKernelBenches } from '../bench/kernels';
import { acquireGpu, describeGpu, type GpuContext, GpuUnavailableError } from '../engine/gpu/device';
import { intMatmulPathName, intMatmulPaths } from '../engine/ops/quant';
import { BENCH_CHECK_SAMPLES, BENCH_SEED, BENCH_TIMING, classifyError, normalizeSizes, plannedKernels } from './bench';
import type { FromBenchWorker, ToBenchWorker } from './bench-messages';

declare const self: DedicatedWorkerGlobalScope;

function post(message: FromBenchWorker): void {
  self.postMessage(message);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

let started = false;

async function run(sizes: number[]): Promise<void> {
  let gpu: GpuContext;
  try {
    gpu = await acquireGpu(self.navigator.gpu, 'this browser');
  } catch (e) {
    post({ type: 'error', kind: e instanceof GpuUnavailableError ? 'unavailable' : classifyError(messageOf(e)), message: messageOf(e) });
    return;
  }
  let finished = false;
  const warnings: string[] = [];
  gpu.device.lost.then((info) => {
    if (finished) return;
    finished = true;
    post({ type: 'error', kind: 'device-lost', message: `The GPU device was lost (${info.reason}): ${info.message || 'no reason given'}. Results measured after that would be wrong; run again.` });
    self.close();
  });
  gpu.device.addEventListener('uncapturederror', (event) => {
    const text = (event as GPUUncapturedErrorEvent).error.message.split('\n')[0];
    if (warnings.length < 10 && !warnings.includes(text)) warnings.push(text);
  });
  const intPaths = intMatmulPaths(gpu.capabilities).map(intMatmulPathName);
  const planned = plannedKernels(sizes, intPaths, gpu.limits.maxStorageBufferBindingSize);
  post({ type: 'adapter', description: describeGpu(gpu), intPaths, timestamps: gpu.capabilities.timestampQuery, planned });
  const start = performance.now();
  try {
    const result = await runKernelBenches(gpu, {
      sizes,
      timing: BENCH_TIMING,
      checkSamples: BENCH_CHECK_SAMPLES,
      hadamardBlock: 32,
      seed: BENCH_SEED,
      groups: ['f32', 'int'],
      bestOfPath: true,
      onKernel: (kernel) => post({ type: 'kernel', kernel }),
      onRow: (row) => post({ type: 'row', row }),
    });
    if (finished) return;
    finished = true;
    post({ type: 'done', rows: result.rows, skipped: result.skipped, seconds: (performance.now() - start) / 1000, warnings });
  } catch (e) {
    if (finished) return;
    finished = true;
    post({ type: 'error', kind: classifyError(messageOf(e)), message: messageOf(e) });
  } finally {
    // The device's buffers are freed with it; the page terminates this worker next.
    finished = true;
    gpu.device.destroy();
  }
}

self.onmessage = (event: MessageEvent<ToBenchWorker>) => {
  const message = event.data;
  if (message?.type !== 'run' || started) return;
  started = true;
  run(normalizeSizes(message.sizes)).catch((e: unknown) => post({ type: 'error', kind: 'failed', message: messageOf(e) }));
};
