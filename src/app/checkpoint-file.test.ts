import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, modelConfigFromPreset } from '../engine/config';
import { CheckpointError, encodeSafetensors } from '../engine/train/checkpoint';
import { inspectCheckpoint, MAX_CHECKPOINT_BYTES } from './checkpoint-file';

function checkpoint(dataset: string): Uint8Array {
  return encodeSafetensors({
    tensors: [{ name: 'lm_head.weight', shape: [2, 3], data: new Float32Array(6) }],
    metadata: {
      format: 'pt',
      model_config: JSON.stringify(modelConfigFromPreset('tiny', 54)),
      train_config: JSON.stringify({ ...DEFAULT_TRAIN, precision: 'int4' }),
      tokenizer: JSON.stringify({ type: 'char', chars: ['a', 'b'] }),
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
    expect(s.parameterCount).toBe(6);
  });

  it('refuses empty, too large, binary and foreign files with a message', () => {
    expect(() => inspectCheckpoint('e.safetensors', new Uint8Array(0))).toThrow(/empty/);
    expect(() => inspectCheckpoint('big.bin', new Uint8Array(MAX_CHECKPOINT_BYTES + 1))).toThrow(/MiB/);
    const noise = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256);
    expect(() => inspectCheckpoint('noise.bin', noise)).toThrow(CheckpointError);
    expect(() => inspectCheckpoint('text.txt', new TextEncoder().encode('hello, this is not a checkpoint'))).toThrow(CheckpointError);
    expect(() => inspectCheckpoint('other.safetensors', checkpoint('/home/me/corpus.txt'))).toThrow(/trained on dataset/);
  });
});
