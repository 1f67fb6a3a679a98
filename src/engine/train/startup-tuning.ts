// Start-up tuning of the f32 matrix products (ops/matmul-tune.ts) and, for the quantized precisions, of
// the integer products' kernel (ops/intmatmul-tune.ts: path and subgroup-matrix tiling, each checked for
// exact results first). For the f32 products: before a run builds its model, the
// generated tile configurations are checked against float64 and timed on the run's own linear-layer
// shapes, on this adapter, next to the built-in kernel; matmul() then uses the fastest for each layout
// (forward X·Wᵀ, ∇X, ∇W). The fast-engine issue asks for tile shapes chosen per adapter at start-up and
// shown to the user: Trainer.kernelPath says what was chosen and how fast.
//
// CPU adapters (lavapipe, SwiftShader, the fallback adapter) skip it: there the generated kernels would only
// cost compile time. The choice depends on timings, so two runs on the same GPU may pick different tiles,
// which changes only the order of f32 additions; TrainConfig.matmulTuning 'off' keeps the built-in kernel
// for runs that must repeat bit for bit across processes. Within a process, tunings are cached per device
// and shape list, so every later run on the same device and shapes gets the same choice.
import { quantizerChoice, type RunConfig } from '../config';
import { type IntMatmulTuning, type IntProductShape, tuneIntMatmul } from '../ops/intmatmul-tune';
import type { GpuContext } from '../gpu/device';
import { GpuMemory } from '../gpu/memory';
import { Kernels } from '../gpu/kernels';
import { describeTileConfig, type MatmulTileConfig } from '../ops/matmul-tiled';
import { linearLayersTuningShapes, type MatmulTuning, shouldTune, TUNED_LAYOUTS, tuneMatmul } from '../ops/matmul-tune';

const cache = new WeakMap<GPUDevice, Map<string, Promise<MatmulTuning>>>();
const intCache = new WeakMap<GPUDevice, Map<string, Promise<IntMatmulTuning>>>();

/** One tuning per device and key, run once (on kernels of its own, freed after); a failure is logged, not
 *  cached, and leaves the default (null): tuning never stops a run. */
async function tunedOnce<T>(caches: WeakMap<GPUDevice, Map<string, Promise<T>>>, gpu: GpuContext, key: string, what: string, tune: (k: Kernels) => Promise<T>, log?: (line: string) => void): Promise<T | null> {
  let perDevice = caches.get(gpu.device);
  if (!perDevice) {
    perDevice = new Map();
    caches.set(gpu.device, perDevice);
  }
  let tuning = perDevice.get(key);
  if (!tuning) {
    const memory = new GpuMemory(gpu.device);
    tuning = tune(new Kernels(gpu.device, memory, gpu.capabilities)).finally(() => memory.destroy());
    perDevice.set(key, tuning);
  }
  try {
    return await tuning;
  } catch (e) {
    perDevice.delete(key);
    log?.(`${what} tuning failed, keeping the default kernel: ${(e as Error).message}`);
    return null;
  }
}

/** The integer products of a quantized run's block linear layers: the forward's (4- or 8-bit codes) and
 *  ∇X's (the bit-split gradient as int8 lanes). */
export function runIntShapes(config: RunConfig): IntProductShape[] {
  const q = quantizerChoice(config.train);
  const format = (q?.bits ?? 8) <= 4 ? 'int4' : 'int8';
  return runLinearShapes(config).slice(0, 4).flatMap(({ rows, dIn, dOut }) => [
    { M: rows, N: dOut, K: dIn, format },
    { M: rows, N: dIn, K: dOut, format: 'int8' as const },
  ]);
}

/** The integer kernel a quantized run uses (null: not tuned; the default path then). Cached per device and
 *  shapes like the f32 tuning; a failure leaves the default. */
export async function startupIntTuning(gpu: GpuContext, config: RunConfig, o: { log?: (line: string) => void } = {}): Promise<IntMatmulTuning | null> {
  if (matmulTuningSkipped(gpu, config) !== null) return null;
  const q = quantizerChoice(config.train);
  const integer = config.train.precision === 'int8' || (q !== null && (q.forward === 'hq' || q.forward === 'lsq'));
  if (!integer) return null;
  const shapes = runIntShapes(config);
  return tunedOnce(intCache, gpu, JSON.stringify(shapes), 'integer product', (k) => tuneIntMatmul(k, { shapes, log: o.log }), o.log);
}

/** Why a run keeps the built-in f32 kernel without tuning, or null when it tunes. */
export function matmulTuningSkipped(gpu: Pick<GpuContext, 'adapterInfo'>, config: RunConfig): string | null {
  if ((config.train.matmulTuning ?? 'off') === 'off') return 'tuning off';
  if (!shouldTune(gpu.adapterInfo)) return 'not tuned on a CPU adapter';
  return null;
}

/** The linear layers of a run (rows, in, out) whose three products the tuning times. */
export function runLinearShapes(config: RunConfig): { rows: number; dIn: number; dOut: number }[] {
  const m = config.model;
  const rows = config.train.batchSize * m.contextLength;
  const C = m.dModel;
  const head = m.architecture === 'encoder' ? m.numClasses ?? m.vocabSize : m.vocabSize;
  return [
    { rows, dIn: C, dOut: 3 * C },
    { rows, dIn: C, dOut: C },
    { rows, dIn: C, dOut: m.dFF },
    { rows, dIn: m.dFF, dOut: C },
    { rows, dIn: C, dOut: head },
  ];
}

/** The run's tuning (null when matmulTuningSkipped says why not). Errors of the tuning itself (a device
 *  that fails every candidate) leave the built-in kernel: tuning never stops a run. */
export async function startupMatmulTuning(gpu: GpuContext, config: RunConfig, o: { log?: (line: string) => void; candidates?: readonly MatmulTileConfig[] } = {}): Promise<MatmulTuning | null> {
  const log = o.log;
  if (matmulTuningSkipped(gpu, config) !== null) return null;
  const shapes = linearLayersTuningShapes(runLinearShapes(config));
  const key = JSON.stringify([shapes, o.candidates ?? null]);
  // Three timed passes of ≈10 ms per candidate and layout: seconds at start-up, not minutes.
  return tunedOnce(cache, gpu, key, 'f32 matmul', (k) => tuneMatmul(k, { shapes, candidates: o.candidates, repeats: 3, timing: { targetPassSeconds: 0.01 }, log }), log);
}

/** One line for the kernel path: what each tuned layout runs and its speed against the built-in kernel. */
export function summarizeMatmulTuning(t: MatmulTuning | null, skipped: string | null): string {
  if (!t) return `f32 products: built-in 64×64 tiles (${skipped ?? 'not tuned'})`;
  const parts = TUNED_LAYOUTS.flatMap(({ layout }) => {
    const l = t.layouts[layout];
    if (!l) return [];
    const best = l.chosen ? l.candidates.find((c) => c.config === l.chosen) : null;
    const speed = (x: number | null | undefined) => (x !== null && x !== undefined && Number.isFinite(x) ? `${x.toPrecision(3)} TFLOP/s` : '?');
    return [best ? `${layout} ${describeTileConfig(l.chosen!).split(',').slice(0, 2).join(',')} (${speed(best.tflops)} vs built-in ${speed(l.builtinTflops)})` : `${layout} built-in (${speed(l.builtinTflops)}, fastest)`];
  });
  return `f32 products tuned at start-up: ${parts.join('; ')}`;
}
