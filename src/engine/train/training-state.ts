// A training checkpoint (trainer.ts TrainerCheckpoint: parameters, AdamW's moments, the loss scale, the
// data stream's position, the step) as a file, and between parameter layouts.
//
// The file is an ordinary checkpoint of this tool (run-checkpoint.ts: weights under nanoGPT names, the
// configs and tokenizer in the header) with the rest of the state on top: AdamW's m and v as two flat
// tensors `optimizer.adam_m` / `optimizer.adam_v` holding every parameter in the layout's slot order
// WITHOUT the layout's padding, the loss scaler as `optimizer.loss_scaler`, and the step, data position
// and elapsed time as JSON under the metadata key `training_state`. Padding depends on the device's
// storage-offset alignment, so the file does not: it restores on any adapter. Loaders of weights skip
// the `optimizer.` tensors (runFromCheckpoint), so the file also loads wherever a checkpoint does.
import type { RunConfig } from '../config';
import type { Dataset } from '../data/dataset';
import type { ParamLayout } from '../model/params';
import { CheckpointError, type CheckpointTensor, decodeSafetensors } from './checkpoint';
import { checkpointFromRun, TRAINING_STATE_PREFIX } from './run-checkpoint';
import type { TrainerCheckpoint } from './trainer';

export const TRAINING_STATE_KEY = 'training_state';
const ADAM_M = `${TRAINING_STATE_PREFIX}adam_m`;
const ADAM_V = `${TRAINING_STATE_PREFIX}adam_v`;
const LOSS_SCALER = `${TRAINING_STATE_PREFIX}loss_scaler`;

/** What of a ParamLayout these functions use (a layout can be built without a GPU: limits.ts). */
export type LayoutLike = Pick<ParamLayout, 'slots' | 'totalFloats' | 'count'>;

/** The values of a flat layout buffer in slot order, padding removed. */
function compact(flat: Float32Array, layout: LayoutLike): Float32Array {
  const out = new Float32Array(layout.count);
  let at = 0;
  for (const s of layout.slots) {
    out.set(flat.subarray(s.offset, s.offset + s.size), at);
    at += s.size;
  }
  return out;
}

/** The inverse of compact: a flat buffer of `layout` (zero padding). */
function scatter(values: Float32Array, layout: LayoutLike, what: string): Float32Array {
  if (values.length !== layout.count) throw new CheckpointError(`${what} holds ${values.length} values; this model has ${layout.count} parameters`);
  const out = new Float32Array(layout.totalFloats);
  let at = 0;
  for (const s of layout.slots) {
    out.set(values.subarray(at, at + s.size), s.offset);
    at += s.size;
  }
  return out;
}

/** The same checkpoint in another layout of the same parameters (a device with another offset
 *  alignment). Returns `c` itself when the layouts place every slot alike. */
export function relayoutCheckpoint(c: TrainerCheckpoint, from: LayoutLike, to: LayoutLike): TrainerCheckpoint {
  if (from.slots.length !== to.slots.length || from.slots.some((s, i) => s.spec.name !== to.slots[i].spec.name || s.size !== to.slots[i].size)) {
    throw new Error('the checkpoint was taken from a model with other parameters');
  }
  if (from.totalFloats === to.totalFloats && from.slots.every((s, i) => s.offset === to.slots[i].offset)) return c;
  const move = (a: Float32Array) => scatter(compact(a, from), to, 'the checkpoint');
  return { ...c, params: move(c.params), m: move(c.m), v: move(c.v) };
}

/** A training checkpoint as a safetensors file (see the top of this file). */
export function encodeTrainingCheckpoint(config: RunConfig, dataset: Dataset, layout: LayoutLike, c: TrainerCheckpoint): Uint8Array {
  const tensors: CheckpointTensor[] = layout.slots.map((s) => ({ name: s.spec.name, shape: [...s.spec.shape], data: c.params.slice(s.offset, s.offset + s.size) }));
  tensors.push(
    { name: ADAM_M, shape: [layout.count], data: compact(c.m, layout) },
    { name: ADAM_V, shape: [layout.count], data: compact(c.v, layout) },
    { name: LOSS_SCALER, shape: [3], data: c.lossScaler.slice(0, 3) },
  );
  const state = { step: c.step, data_rng: c.dataRng, elapsed_s: c.elapsedSeconds };
  return checkpointFromRun(config, dataset, tensors, c.step, { [TRAINING_STATE_KEY]: JSON.stringify(state) });
}

/** The optimizer state and position a file holds besides its weights. */
export interface SavedTrainingState {
  step: number;
  dataRng: [number, number, number, number];
  elapsedSeconds: number;
  /** In slot order without padding (see the top of this file). */
  m: Float32Array;
  v: Float32Array;
  lossScaler: Float32Array;
}

/** The training state of a checkpoint file, or null when it holds weights only. Throws CheckpointError
 *  with what is wrong for a file whose state is present but malformed. */
export function readTrainingState(bytes: Uint8Array, source: string): SavedTrainingState | null {
  const c = decodeSafetensors(bytes, source);
  const raw = c.metadata[TRAINING_STATE_KEY];
  if (raw === undefined) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new CheckpointError(`${source}: metadata "${TRAINING_STATE_KEY}" is not valid JSON`);
  }
  const o = (parsed ?? {}) as Record<string, unknown>;
  const rng = o.data_rng;
  if (!(Number.isInteger(o.step) && (o.step as number) >= 1)) throw new CheckpointError(`${source}: its training state has no valid step (got ${JSON.stringify(o.step)})`);
  if (!(Array.isArray(rng) && rng.length === 4 && rng.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32) && rng.some((w) => w !== 0))) {
    throw new CheckpointError(`${source}: its training state's data position is not four uint32 words`);
  }
  if (!(typeof o.elapsed_s === 'number' && Number.isFinite(o.elapsed_s) && o.elapsed_s >= 0)) throw new CheckpointError(`${source}: its training state's elapsed time is not a number of seconds`);
  const tensor = (name: string) => {
    const t = c.tensors.find((x) => x.name === name);
    if (!t) throw new CheckpointError(`${source} has a training state but no tensor ${name}`);
    return t.data;
  };
  const lossScaler = tensor(LOSS_SCALER);
  if (lossScaler.length !== 3) throw new CheckpointError(`${source}: ${LOSS_SCALER} must hold 3 values, not ${lossScaler.length}`);
  return { step: o.step as number, dataRng: rng as [number, number, number, number], elapsedSeconds: o.elapsed_s, m: tensor(ADAM_M), v: tensor(ADAM_V), lossScaler };
}

/** A TrainerCheckpoint for `layout` from a file's weights (by name) and training state. */
export function trainerCheckpointFrom(weights: readonly CheckpointTensor[], state: SavedTrainingState, layout: LayoutLike, source: string): TrainerCheckpoint {
  const byName = new Map(weights.map((t) => [t.name, t]));
  const params = new Float32Array(layout.totalFloats);
  for (const s of layout.slots) {
    const t = byName.get(s.spec.name);
    if (!t) throw new CheckpointError(`${source} has no tensor ${s.spec.name}`);
    if (t.data.length !== s.size || t.shape.join(',') !== s.spec.shape.join(',')) throw new CheckpointError(`${source}: tensor ${s.spec.name} has shape [${t.shape}], the model needs [${s.spec.shape}]`);
    params.set(t.data, s.offset);
  }
  return {
    step: state.step,
    params,
    m: scatter(state.m, layout, `${source}: ${ADAM_M}`),
    v: scatter(state.v, layout, `${source}: ${ADAM_V}`),
    lossScaler: state.lossScaler.slice(),
    dataRng: [...state.dataRng],
    elapsedSeconds: state.elapsedSeconds,
  };
}
