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
//
// Across processes (the app: across page loads), a TuningStore remembers each full tuning's choices per
// adapter, shape list and candidate list. A remembered choice is not trusted blindly: it is checked
// against float64 (exactly, for the integer kernels) and timed again next to the default kernel, which
// costs a few kernels instead of every candidate (at d_model 2048 on an H200 the full tuning took about
// 18 s of a 25.6 s start-up). If the remembered kernel fails its check, the full tuning runs again. It is
// kept unless it now times more than 10% slower than the default (REMEMBERED_MIN_SPEEDUP): at small,
// dispatch-bound shapes the timings are noisy, and re-deciding on every load would make the same page
// run different kernels from one load to the next.
import { quantizerChoice, type RunConfig } from '../config';
import { type IntMatmulTuning, type IntProductShape, intMatmulCandidates, tuneIntMatmul } from '../ops/intmatmul-tune';
import { type IntMatmulChoice, intChoiceKey } from '../ops/quant';
import type { GpuContext } from '../gpu/device';
import { GpuMemory } from '../gpu/memory';
import { Kernels } from '../gpu/kernels';
import { describeTileConfig, MATMUL_TILE_CANDIDATES, type MatmulTileConfig, tileConfigId } from '../ops/matmul-tiled';
import { linearLayersTuningShapes, type MatmulTuning, shouldTune, TUNED_LAYOUTS, type TunedLayout, tuneMatmul } from '../ops/matmul-tune';

/** Where start-up tunings are remembered between processes or page loads (the app: IndexedDB). Values are
 *  plain JSON. A store that fails (quota, private mode) only costs the full tuning. */
export interface TuningStore {
  load(key: string): Promise<unknown>;
  save(key: string, value: unknown): Promise<void>;
}

let tuningStore: TuningStore | null = null;

/** The store later start-up tunings of this process (or worker) use; null: none (the default). */
export function setTuningStore(store: TuningStore | null): void {
  tuningStore = store;
}

/** A remembered kernel stays chosen unless it times below this fraction of the default's speed. */
export const REMEMBERED_MIN_SPEEDUP = 0.9;

/** Bumped when what a remembered record means changes: older records are then ignored. */
const REMEMBERED_VERSION = 1;

interface Remembered<T> {
  version: number;
  /** When the full tuning ran (ISO date). */
  savedAt: string;
  chosen: T;
}

function storeKey(what: string, gpu: GpuContext, details: unknown): string {
  const a = gpu.adapterInfo;
  return `${what}|${a.vendor}|${a.architecture}|${a.device}|${a.description}|${JSON.stringify(details)}`;
}

async function loadRemembered(key: string): Promise<Remembered<unknown> | null> {
  try {
    const v = (await tuningStore?.load(key)) as Partial<Remembered<unknown>> | null | undefined;
    if (!v || typeof v !== 'object' || v.version !== REMEMBERED_VERSION || typeof v.savedAt !== 'string' || v.chosen === undefined) return null;
    return v as Remembered<unknown>;
  } catch {
    return null;
  }
}

async function saveRemembered(key: string, chosen: unknown, log?: (line: string) => void): Promise<void> {
  try {
    const record: Remembered<unknown> = { version: REMEMBERED_VERSION, savedAt: new Date().toISOString(), chosen };
    await tuningStore?.save(key, record);
  } catch (e) {
    log?.(`could not remember the tuning: ${(e as Error).message}`);
  }
}

/** The tuning behind `key`: the remembered choice checked and timed again where the store has a usable
 *  record and that choice still passes its check; else the full tuning, whose choice is then remembered. */
async function rememberedOrFull<C, T extends { remembered?: string }>(key: string, what: string, o: {
  /** The candidates a record's choice names, or null if the record does not fit this candidate list. */
  restore: (chosen: unknown) => C | null;
  /** Checks and times those candidates; `failed` says whether the remembered kernel failed its check. */
  again: (candidates: C) => Promise<T>;
  failed: (t: T) => boolean;
  full: () => Promise<T>;
  /** What to remember of a full tuning (plain JSON). */
  chosen: (t: T) => unknown;
  log?: (line: string) => void;
}): Promise<T> {
  const remembered = await loadRemembered(key);
  const candidates = remembered ? o.restore(remembered.chosen) : null;
  if (remembered && candidates) {
    const again = await o.again(candidates);
    if (!o.failed(again)) return { ...again, remembered: remembered.savedAt };
    o.log?.(`the remembered ${what} kernel failed its check: tuning again`);
  }
  const tuning = await o.full();
  await saveRemembered(key, o.chosen(tuning), o.log);
  return tuning;
}

/** The remembered f32 choices as one-candidate lists per layout (empty: the built-in kernel), or null
 *  when the record names a layout or config that the candidate list does not have. */
function rememberedTileCandidates(chosen: unknown, pool: readonly MatmulTileConfig[]): Record<TunedLayout, MatmulTileConfig[]> | null {
  if (!chosen || typeof chosen !== 'object') return null;
  const out = {} as Record<TunedLayout, MatmulTileConfig[]>;
  for (const { layout } of TUNED_LAYOUTS) {
    const id = (chosen as Record<string, unknown>)[layout];
    const config = pool.find((c) => tileConfigId(c) === id);
    if (id !== null && !config) return null;
    out[layout] = config ? [config] : [];
  }
  return out;
}

/** The remembered integer kernel among the device's candidates (the default first), or null. */
function rememberedIntCandidates(chosen: unknown, candidates: readonly IntMatmulChoice[]): IntMatmulChoice[] | null {
  const same = (c: IntMatmulChoice) => JSON.stringify(intChoiceKey(c)) === JSON.stringify(chosen);
  const found = candidates.find(same);
  if (!found || candidates.length === 0) return null;
  return found === candidates[0] ? [found] : [candidates[0], found];
}

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
  return tunedOnce(intCache, gpu, JSON.stringify(shapes), 'integer product', (k) => {
    const all = intMatmulCandidates(k);
    return rememberedOrFull(storeKey('int-matmul', gpu, [shapes, all.map(intChoiceKey)]), 'integer', {
      restore: (chosen) => rememberedIntCandidates(chosen, all),
      again: (candidates) => tuneIntMatmul(k, { shapes, candidates, minSpeedup: REMEMBERED_MIN_SPEEDUP, log: o.log }),
      failed: (t) => t.candidates.some((c) => c.dropped !== undefined),
      full: () => tuneIntMatmul(k, { shapes, log: o.log }),
      chosen: (t) => intChoiceKey(t.chosen),
      log: o.log,
    });
  }, o.log);
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
  const pool = o.candidates ?? MATMUL_TILE_CANDIDATES;
  const remember = storeKey('f32-matmul', gpu, [shapes, pool.map(tileConfigId)]);
  // Three timed passes of ≈10 ms per candidate and layout: seconds at start-up, not minutes.
  const tune = (k: Kernels, candidates: readonly MatmulTileConfig[] | Record<TunedLayout, MatmulTileConfig[]>, minSpeedup?: number) =>
    tuneMatmul(k, { shapes, candidates, repeats: 3, timing: { targetPassSeconds: 0.01 }, minSpeedup, log });
  return tunedOnce(cache, gpu, key, 'f32 matmul', (k) =>
    rememberedOrFull(remember, 'f32 tile', {
      restore: (chosen) => rememberedTileCandidates(chosen, pool),
      again: (candidates) => tune(k, candidates, REMEMBERED_MIN_SPEEDUP),
      failed: (t) => TUNED_LAYOUTS.some(({ layout }) => t.layouts[layout]?.candidates.some((c) => c.config !== null && c.dropped !== undefined)),
      full: () => tune(k, pool),
      chosen: (t) => Object.fromEntries(TUNED_LAYOUTS.map(({ layout }) => [layout, t.layouts[layout]?.chosen ? tileConfigId(t.layouts[layout]!.chosen!) : null])),
      log,
    }), log);
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
  const remembered = t.remembered ? ` (the choices of a tuning on ${t.remembered.slice(0, 10)}, checked and timed again)` : '';
  return `f32 products tuned at start-up: ${parts.join('; ')}${remembered}`;
}
