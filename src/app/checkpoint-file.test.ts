import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, modelConfigFromPreset } from '../engine/config';
import { CheckpointError, encodeSafetensors } from '../engine/train/checkpoint';
import { checkpointTensorShapes } from '../engine/train/run-checkpoint';
import { inspectCheckpoint, MAX_CHECKPOINT_BYTES } from './checkpoint-file';

const MODEL = modelConfigFromPreset('tiny', 54);
/** 54 distinct characters: the tokenizer of a vocabulary-54 model. */
const CHARS = Array.from({ length: 54 }, (_, i) => String.fromCharCode(0x41 + i));
const SHAPES = [...checkpointTensorShapes(MODEL)];

function checkpoint(dataset: string, drop: string | null = null): Uint8Array {
  return encodeSafetensors({
    tensors: SHAPES.filter(([name]) => name !== drop).map(([name, shape]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) })),
    metadata: {
      format: 'pt',
      model_config: JSON.stringify(MODEL),
      train_config: JSON.stringify({ ...DEFAULT_TRAIN, precision: 'int4' }),
      tokenizer: JSON.stringify({ type: 'char', chars: CHARS }),
      dataset,
      step: '12',
    },
  });
}

describe('inspectCheckpoint', () => {
  it('summarises a usable checkpoint', () => {
    const s = inspectCheckpoint('m.safetensors', checkpoint('names'));
    expect(s.dataset).toBe('names');
    expect(s.step).toBe(12);
    expect(s.precision).toBe('int4');
    expect(s.parameterCount).toBe(SHAPES.reduce((a, [, shape]) => a + shape.reduce((x, y) => x * y, 1), 0));
  });

  it('refuses empty, too large, binary and foreign files with a message', () => {
    expect(() => inspectCheckpoint('e.safetensors', new Uint8Array(0))).toThrow(/empty/);
    expect(() => inspectCheckpoint('big.bin', new Uint8Array(MAX_CHECKPOINT_BYTES + 1))).toThrow(/MiB/);
    const noise = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256);
    expect(() => inspectCheckpoint('noise.bin', noise)).toThrow(CheckpointError);
    expect(() => inspectCheckpoint('text.txt', new TextEncoder().encode('hello, this is not a checkpoint'))).toThrow(CheckpointError);
    expect(() => inspectCheckpoint('other.safetensors', checkpoint('/home/me/corpus.txt'))).toThrow(/trained on dataset/);
    // A file whose tensors contradict its own model config is refused before any model is built.
    expect(() => inspectCheckpoint('cut.safetensors', checkpoint('names', 'lm_head.weight'))).toThrow(/has no tensor lm_head.weight/);
  });
});
