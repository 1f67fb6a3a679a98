// A trained run as a safetensors file: the weights under nanoGPT names, and in the metadata what is
// needed to rebuild the model (model config, tokenizer) and to say where it came from.
import { type ModelConfig, modelConfigErrors, type RunConfig } from '../config';
import type { Dataset } from '../data/dataset';
import { CharTokenizer } from '../data/tokenizer';
import { CheckpointError, type CheckpointTensor, decodeSafetensors, encodeSafetensors } from './checkpoint';

export const CHECKPOINT_FORMAT = 'int4-train-playground/1';

/** Tensors of a training checkpoint that are not model weights (AdamW's moments, the loss scaler:
 *  train/training-state.ts) are named under this prefix; runFromCheckpoint keeps them out of `tensors`,
 *  so every loader of weights reads such a file as a plain checkpoint. */
export const TRAINING_STATE_PREFIX = 'optimizer.';

/** `extraMetadata`: more header entries (a training checkpoint's state, a run file's record). */
export function checkpointFromRun(config: RunConfig, dataset: Dataset, tensors: CheckpointTensor[], step: number, extraMetadata: Record<string, string> = {}): Uint8Array {
  return encodeSafetensors({
    tensors,
    metadata: {
      ...extraMetadata,
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
  if (m.architecture === 'encoder-decoder') return encDecTensorShapes(m);
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
  // The encoder classifier has a classification head (with bias) where the decoder has lm_head.
  if (m.architecture === 'encoder') shapes.set('classifier.weight', [m.numClasses ?? 0, m.dModel]).set('classifier.bias', [m.numClasses ?? 0]);
  else shapes.set('lm_head.weight', [m.vocabSize, m.dModel]);
  return shapes;
}

/** An encoder-decoder's tensors (model/encdec.ts): `encoder.` and `transformer.` stacks, the decoder's
 *  blocks with ln_cross and cross_attn.{c_q, c_kv, c_proj}, and lm_head. */
function encDecTensorShapes(m: ModelConfig): Map<string, number[]> {
  const C = m.dModel;
  const shapes = new Map<string, number[]>();
  const linear = (name: string, out: number, inF: number) => shapes.set(`${name}.weight`, [out, inF]).set(`${name}.bias`, [out]);
  const norm = (name: string) => shapes.set(`${name}.weight`, [C]).set(`${name}.bias`, [C]);
  for (const [stack, length] of [['encoder', m.sourceLength ?? 0], ['transformer', m.contextLength]] as const) {
    shapes.set(`${stack}.wte.weight`, [m.vocabSize, C]);
    if (m.positionalEncoding === 'learned') shapes.set(`${stack}.wpe.weight`, [length, C]);
    for (let i = 0; i < m.nLayer; i++) {
      const p = `${stack}.h.${i}`;
      norm(`${p}.ln_1`);
      linear(`${p}.attn.c_attn`, 3 * C, C);
      linear(`${p}.attn.c_proj`, C, C);
      if (stack === 'transformer') {
        norm(`${p}.ln_cross`);
        linear(`${p}.cross_attn.c_q`, C, C);
        linear(`${p}.cross_attn.c_kv`, 2 * C, C);
        linear(`${p}.cross_attn.c_proj`, C, C);
      }
      norm(`${p}.ln_2`);
      linear(`${p}.mlp.c_fc`, m.dFF, C);
      linear(`${p}.mlp.c_proj`, C, m.dFF);
    }
    norm(`${stack}.ln_f`);
  }
  shapes.set('lm_head.weight', [m.vocabSize, C]);
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
  // Checkpoints from before the encoder architectures carry no architecture: they are decoders.
  if (!('architecture' in model)) (model as Record<string, unknown>).architecture = 'decoder';
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
  const tensors = c.tensors.filter((t) => !t.name.startsWith(TRAINING_STATE_PREFIX));
  return { model: m, tokenizer: { type: 'char', chars: [...tokenizer.chars] }, tensors, step };
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
