// A trained run as a safetensors file: the weights under nanoGPT names, and in the metadata what is
// needed to rebuild the model (model config, tokenizer) and to say where it came from.
import { type ModelConfig, modelConfigErrors, type RunConfig } from '../config';
import type { Dataset } from '../data/dataset';
import { CheckpointError, type CheckpointTensor, decodeSafetensors, encodeSafetensors } from './checkpoint';

export const CHECKPOINT_FORMAT = 'int4-train-playground/1';

export function checkpointFromRun(config: RunConfig, dataset: Dataset, tensors: CheckpointTensor[], step: number): Uint8Array {
  return encodeSafetensors({
    tensors,
    metadata: {
      format: 'pt', // read by tools that expect PyTorch-saved safetensors
      producer: CHECKPOINT_FORMAT,
      model_config: JSON.stringify(config.model),
      train_config: JSON.stringify(config.train),
      tokenizer: JSON.stringify(dataset.tokenizer.toJSON()),
      dataset: config.dataset,
      step: String(step),
    },
  });
}

export interface LoadedRun {
  model: ModelConfig;
  tokenizer: { type: 'char'; chars: string[] };
  tensors: CheckpointTensor[];
  step: number;
}

export function runFromCheckpoint(bytes: Uint8Array, source: string): LoadedRun {
  const c = decodeSafetensors(bytes, source);
  const parse = <T>(key: string): T => {
    const raw = c.metadata[key];
    if (raw === undefined) throw new CheckpointError(`${source} has no "${key}" in its metadata; was it saved by this tool (npm run train -- --save)?`);
    try {
      return JSON.parse(raw) as T;
    } catch {
      throw new CheckpointError(`${source}: metadata "${key}" is not valid JSON`);
    }
  };
  const model = parse<ModelConfig>('model_config');
  const errs = modelConfigErrors(model);
  if (errs.length) throw new CheckpointError(`${source}: its model config is invalid: ${errs.join('; ')}`);
  const tokenizer = parse<{ type: 'char'; chars: string[] }>('tokenizer');
  if (!tokenizer || !Array.isArray(tokenizer.chars)) throw new CheckpointError(`${source}: metadata "tokenizer" is malformed`);
  return { model, tokenizer, tensors: c.tensors, step: Number(c.metadata.step ?? 0) };
}
