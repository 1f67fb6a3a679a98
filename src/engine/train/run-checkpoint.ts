// A trained run as a safetensors file: the weights under nanoGPT names, and in the metadata what is
// needed to rebuild the model (model config, tokenizer) and to say where it came from.
import { type ModelConfig, modelConfigErrors, type RunConfig } from '../config';
import type { Dataset } from '../data/dataset';
import { CharTokenizer } from '../data/tokenizer';
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

/** The tensors every checkpoint of this model config holds, with their PyTorch shapes (the table in
 *  README.md, "Checkpoints"). Written out here rather than taken from the model so that reading a file
 *  does not pull the GPU model into the page's main bundle; scheme parameters (LSQ step sizes) may come
 *  on top and are checked when they are imported. */
export function checkpointTensorShapes(m: ModelConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>([['transformer.wte.weight', [m.vocabSize, m.dModel]]]);
  if (m.positionalEncoding === 'learned') shapes.set('transformer.wpe.weight', [m.contextLength, m.dModel]);
  for (let i = 0; i < m.nLayer; i++) {
    const p = `transformer.h.${i}`;
    shapes.set(`${p}.ln_1.weight`, [m.dModel]).set(`${p}.ln_1.bias`, [m.dModel]);
    shapes.set(`${p}.attn.c_attn.weight`, [3 * m.dModel, m.dModel]).set(`${p}.attn.c_attn.bias`, [3 * m.dModel]);
    shapes.set(`${p}.attn.c_proj.weight`, [m.dModel, m.dModel]).set(`${p}.attn.c_proj.bias`, [m.dModel]);
    shapes.set(`${p}.ln_2.weight`, [m.dModel]).set(`${p}.ln_2.bias`, [m.dModel]);
    shapes.set(`${p}.mlp.c_fc.weight`, [m.dFF, m.dModel]).set(`${p}.mlp.c_fc.bias`, [m.dFF]);
    shapes.set(`${p}.mlp.c_proj.weight`, [m.dModel, m.dFF]).set(`${p}.mlp.c_proj.bias`, [m.dModel]);
  }
  shapes.set('transformer.ln_f.weight', [m.dModel]).set('transformer.ln_f.bias', [m.dModel]);
  shapes.set('lm_head.weight', [m.vocabSize, m.dModel]);
  return shapes;
}

export function runFromCheckpoint(bytes: Uint8Array, source: string): LoadedRun {
  const c = decodeSafetensors(bytes, source);
  const parse = (key: string): unknown => {
    const raw = c.metadata[key];
    if (raw === undefined) throw new CheckpointError(`${source} has no "${key}" in its metadata; was it saved by this tool (npm run train -- --save)?`);
    try {
      return JSON.parse(raw);
    } catch {
      throw new CheckpointError(`${source}: metadata "${key}" is not valid JSON`);
    }
  };
  const model = parse('model_config');
  if (!model || typeof model !== 'object' || Array.isArray(model)) throw new CheckpointError(`${source}: metadata "model_config" is not an object with the model's shape`);
  const errs = modelConfigErrors(model as ModelConfig);
  if (errs.length) throw new CheckpointError(`${source}: its model config is invalid: ${errs.join('; ')}`);
  let tokenizer: CharTokenizer;
  try {
    tokenizer = CharTokenizer.fromJSON(parse('tokenizer'));
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`${source}: metadata "tokenizer" is malformed: ${(e as Error).message}`);
  }
  const m = model as ModelConfig;
  const rawStep = c.metadata.step ?? '0';
  const step = Number(rawStep);
  if (rawStep.trim() === '' || !Number.isInteger(step) || step < 0) throw new CheckpointError(`${source}: metadata "step" must be a non-negative integer (got ${JSON.stringify(rawStep.slice(0, 20))})`);
  return { model: m, tokenizer: { type: 'char', chars: [...tokenizer.chars] }, tensors: c.tensors, step };
}

/** Throws CheckpointError where a loaded file contradicts itself: a tokenizer of another size than the
 *  model's vocabulary, or a tensor missing or shaped otherwise than its model config needs. Kept apart
 *  from runFromCheckpoint, which only reads the file, so that a caller can report these before the
 *  model is built (importing the tensors checks them again, against the built model). */
export function checkCheckpointConsistent(loaded: LoadedRun, source: string): LoadedRun {
  const m = loaded.model;
  if (loaded.tokenizer.chars.length !== m.vocabSize) {
    throw new CheckpointError(`${source}: its tokenizer has ${loaded.tokenizer.chars.length} characters but its model config has vocab ${m.vocabSize}; the file is inconsistent`);
  }
  const byName = new Map(loaded.tensors.map((t) => [t.name, t]));
  for (const [name, shape] of checkpointTensorShapes(m)) {
    const t = byName.get(name);
    if (!t) throw new CheckpointError(`${source} has no tensor ${name}, which its model config (${m.nLayer} layers, d_model ${m.dModel}) needs`);
    if (t.shape.join(',') !== shape.join(',')) {
      throw new CheckpointError(`${source}: tensor ${name} has shape [${t.shape}] but its model config needs [${shape}]`);
    }
  }
  return loaded;
}
