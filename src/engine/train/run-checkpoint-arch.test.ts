// The architecture travels in a checkpoint's model config; files from before it existed are decoders.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type ModelConfig } from '../config';
import { reverseTranslation } from '../data/translate';
import { encodeSafetensors } from './checkpoint';
import { checkCheckpointConsistent, checkpointFromRun, checkpointTensorShapes, runFromCheckpoint } from './run-checkpoint';

const d = reverseTranslation();
const encdec: ModelConfig = { architecture: 'encoder-decoder', sourceLength: 8, nLayer: 2, dModel: 8, nHead: 2, dFF: 16, contextLength: 9, vocabSize: d.tokenizer.vocabSize, activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5 };
const zeros = (m: ModelConfig) => [...checkpointTensorShapes(m)].map(([name, shape]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));

describe('checkpoints and architectures', () => {
  it('an encoder-decoder checkpoint reads back with its architecture and source length', () => {
    const bytes = checkpointFromRun({ model: encdec, train: DEFAULT_TRAIN, dataset: 'reverse' }, d, zeros(encdec), 5);
    const loaded = checkCheckpointConsistent(runFromCheckpoint(bytes, 'x'), 'x');
    expect(loaded.model).toEqual(encdec);
    expect(loaded.tensors.map((t) => t.name)).toContain('transformer.h.1.cross_attn.c_kv.weight');
    expect(loaded.tensors.map((t) => t.name)).toContain('encoder.wpe.weight');
  });

  it('an encoder-decoder checkpoint missing a cross-attention tensor is refused', () => {
    const tensors = zeros(encdec).filter((t) => t.name !== 'transformer.h.0.cross_attn.c_q.bias');
    const bytes = checkpointFromRun({ model: encdec, train: DEFAULT_TRAIN, dataset: 'reverse' }, d, tensors, 5);
    expect(() => checkCheckpointConsistent(runFromCheckpoint(bytes, 'x'), 'x')).toThrow(/has no tensor transformer\.h\.0\.cross_attn\.c_q\.bias/);
  });

  it('a checkpoint without an architecture in its model config is a decoder', () => {
    const { architecture: _, ...old } = { ...encdec, architecture: 'decoder' as const, sourceLength: undefined };
    const decoder: ModelConfig = { ...old, architecture: 'decoder' };
    const tensors = zeros(decoder);
    const metadata = { format: 'pt', model_config: JSON.stringify(old), tokenizer: JSON.stringify(d.tokenizer.toJSON()), step: '0' };
    expect(JSON.parse(metadata.model_config).architecture).toBeUndefined();
    const loaded = checkCheckpointConsistent(runFromCheckpoint(encodeSafetensors({ tensors, metadata }), 'old'), 'old');
    expect(loaded.model.architecture).toBe('decoder');
  });

  it('an encoder config without classes, or an encoder-decoder without a source length, is invalid', () => {
    const metadata = (m: object) => ({ format: 'pt', model_config: JSON.stringify(m), tokenizer: JSON.stringify(d.tokenizer.toJSON()), step: '0' });
    expect(() => runFromCheckpoint(encodeSafetensors({ tensors: [], metadata: metadata({ ...encdec, architecture: 'encoder' }) }), 'x')).toThrow(/needs classes/);
    expect(() => runFromCheckpoint(encodeSafetensors({ tensors: [], metadata: metadata({ ...encdec, sourceLength: undefined }) }), 'x')).toThrow(/source length must be a positive integer/);
  });
});
