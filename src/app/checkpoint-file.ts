// Checking an uploaded checkpoint before it goes to the worker: an empty, oversized or non-safetensors
// file gets a message that says what is wrong, and the page stays as it was.
import { CheckpointError, decodeSafetensors } from '../engine/train/checkpoint';
import { checkCheckpointConsistent, runFromCheckpoint } from '../engine/train/run-checkpoint';
import { DATASET_CHOICES, type DatasetChoice } from './config';

/** Larger than any model the page builds (small: ~0.8 M parameters, 3 MB) by a wide margin. */
export const MAX_CHECKPOINT_BYTES = 64 * 2 ** 20;

export interface CheckpointSummary {
  name: string;
  bytes: Uint8Array;
  dataset: DatasetChoice;
  step: number;
  model: string;
  parameterCount: number;
  precision: string | null;
}

/** Throws CheckpointError for a file size the page will not read (checked before reading the file). */
export function checkCheckpointSize(name: string, size: number): void {
  if (size === 0) throw new CheckpointError(`${name} is empty (0 bytes); choose a .safetensors file saved by this playground or by npm run train -- --save`);
  if (size > MAX_CHECKPOINT_BYTES) {
    throw new CheckpointError(`${name} is ${size.toLocaleString('en')} bytes, over the ${MAX_CHECKPOINT_BYTES / 2 ** 20} MiB (${MAX_CHECKPOINT_BYTES.toLocaleString('en')} bytes) the page loads; the checkpoints of the page's models are far smaller, so this is probably not one of them`);
  }
}

/** Throws CheckpointError with a readable message for anything the page cannot use. */
export function inspectCheckpoint(name: string, bytes: Uint8Array): CheckpointSummary {
  checkCheckpointSize(name, bytes.length);
  if (bytes.length < 8) throw new CheckpointError(`${name} is ${bytes.length} bytes: too short to be a safetensors file`);
  const loaded = checkCheckpointConsistent(runFromCheckpoint(bytes, name), name);
  const meta = decodeSafetensors(bytes, name).metadata;
  const dataset = meta.dataset as DatasetChoice;
  if (!(DATASET_CHOICES as readonly string[]).includes(dataset)) {
    throw new CheckpointError(`${name} was trained on dataset "${meta.dataset ?? '(none)'}"; the page has ${DATASET_CHOICES.join(', ')}`);
  }
  let precision: string | null = null;
  try {
    precision = (JSON.parse(meta.train_config ?? '{}') as { precision?: string }).precision ?? null;
  } catch {
    precision = null;
  }
  const m = loaded.model;
  return {
    name,
    bytes,
    dataset,
    step: loaded.step,
    model: `${m.nLayer} layers, d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, context ${m.contextLength}`,
    parameterCount: loaded.tensors.reduce((a, t) => a + t.data.length, 0),
    precision,
  };
}
