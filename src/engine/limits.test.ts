// The memory a run needs, checked against per-buffer limits before any GPU work (no device needed here;
// the estimate against real builds: limits.gpu.test.ts).
import { describe, expect, it } from 'vitest';
import { ConfigError, type RunConfig } from './config';
import { checkMemoryLimits, estimateRunMemory, MemoryLimitError } from './limits';
import { tinyRunConfig } from './test-configs';

const config = tinyRunConfig;

describe('checkMemoryLimits', () => {
  it('names the largest buffer: the logits or the attention scores, as the shape says', () => {
    const wideVocab = estimateRunMemory(config({ batchSize: 8 }, { vocabSize: 5000 }));
    expect(wideVocab.largest.label).toBe('logits (batch·context × vocab)');
    expect(wideVocab.largest.bytes).toBe(8 * 16 * 5000 * 4);
    const longContext = estimateRunMemory(config({ batchSize: 8, attentionKernel: 'separate' }, { contextLength: 512, nHead: 8 }));
    expect(longContext.largest.label).toBe('attention scores (batch·heads × context × context)');
    expect(longContext.largest.bytes).toBe(8 * 8 * 512 * 512 * 4);
    // The fused kernel keeps nothing of size context²: no attention buffer is the largest, and the run
    // saves at least the scores and probabilities of each layer and the two shared score gradients.
    const fused = estimateRunMemory(config({ batchSize: 8, attentionKernel: 'fused' }, { contextLength: 512, nHead: 8 }));
    expect(fused.largest.label).not.toMatch(/attention/);
    expect(fused.totalBytes).toBeLessThan(longContext.totalBytes - 4 * 8 * 8 * 512 * 512 * 4);
  });

  it('passes a config that fits, returning the estimate', () => {
    expect(checkMemoryLimits(config({}), { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 }).totalBytes).toBeGreaterThan(0);
  });

  it('rejects a config over a small binding limit with the largest batch that fits', () => {
    const c = config({ batchSize: 64 }, { vocabSize: 1000 });
    // logits: 64·16·1000·4 bytes = 3.9 MiB; a 1 MiB binding limit holds 16 sequences of 16 tokens (64,000 bytes each).
    const limits = { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 20 };
    let error: unknown;
    try {
      checkMemoryLimits(c, limits);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MemoryLimitError);
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as MemoryLimitError;
    expect(e.suggestedBatchSize).toBe(16);
    expect(e.neededBytes).toBe(64 * 16 * 1000 * 4);
    expect(e.availableBytes).toBe(2 ** 20);
    expect(e.message).toMatch(/needs a 3\.9 MiB buffer for the logits \(batch·context × vocab\), but this GPU allows 1\.0 MiB per buffer \(maxStorageBufferBindingSize\); about [\d.]+ MiB of GPU memory in all; the largest batch size that fits is 16 \(batch 64 now\)/);
    expect(e.message).not.toContain('\n');
    // The suggestion does fit, and one more sequence does not.
    expect(() => checkMemoryLimits({ ...c, train: { ...c.train, batchSize: 16 } }, limits)).not.toThrow();
    expect(() => checkMemoryLimits({ ...c, train: { ...c.train, batchSize: 17 } }, limits)).toThrow(MemoryLimitError);
  });

  it('says to shrink the model when not even one sequence fits', () => {
    const c = config({ batchSize: 4 }, { nLayer: 8, dModel: 256, dFF: 1024 });
    // Parameters alone: ~6.4 M floats, 25 MiB per flat buffer.
    expect(() => checkMemoryLimits(c, { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 16 * 2 ** 20 })).toThrow(
      /for the parameters, but this GPU allows 16\.0 MiB per buffer .*even batch size 1 does not fit: use a smaller model/,
    );
    expect(() => checkMemoryLimits(config({ batchSize: 2, attentionKernel: 'separate' }, { contextLength: 2048 }), { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 32 * 2 ** 20 })).toThrow(
      /attention scores.*even batch size 1 does not fit: use a shorter context or fewer heads/,
    );
    // The fused kernel trains that context within the same limit.
    expect(checkMemoryLimits(config({ batchSize: 2, attentionKernel: 'fused' }, { contextLength: 2048 }), { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 32 * 2 ** 20 }).totalBytes).toBeGreaterThan(0);
  });

  it('checks maxBufferSize too', () => {
    expect(() => checkMemoryLimits(config({ batchSize: 64 }, { vocabSize: 1000 }), { maxBufferSize: 2 ** 20, maxStorageBufferBindingSize: 2 ** 30 })).toThrow(/\(maxBufferSize\); .*largest batch size that fits is 16/);
  });

  it('grows with the batch, exactly in the batch-sized buffers', () => {
    const one = estimateRunMemory(config({ batchSize: 1 }));
    const two = estimateRunMemory(config({ batchSize: 2 }));
    const three = estimateRunMemory(config({ batchSize: 3 }));
    expect(two.totalBytes).toBeGreaterThan(one.totalBytes);
    expect(two.parameterFloats).toBe(one.parameterFloats);
    // Linear in B, up to the 16-byte rounding of small buffers.
    expect(Math.abs(three.totalBytes - 2 * two.totalBytes + one.totalBytes)).toBeLessThan(4096);
  });

  it('counts the training checkpoints\' staging copies (two, of parameters and both AdamW moments) only when they are on', () => {
    const off = estimateRunMemory(config({ checkpointEvery: 0 }));
    const on = estimateRunMemory(config({ checkpointEvery: 10 }));
    const P = off.parameterFloats;
    expect(on.totalBytes - off.totalBytes).toBe(2 * Math.ceil(((3 * P + 4) * 4) / 16) * 16);
    expect(on.buffers.find((b) => b.label === 'checkpoint.staging')).toMatchObject({ count: 2, storage: false });
    expect(estimateRunMemory(config({})).totalBytes).toBe(off.totalBytes);
  });

  it('a checkpoint staging copy over maxBufferSize: says to turn training checkpoints off (no batch helps)', () => {
    const c = config({ batchSize: 4, checkpointEvery: 10 }, { nLayer: 8, dModel: 256, dFF: 1024 });
    // Parameters ~6.4 M floats (25 MiB a buffer); the staging copy holds them and both moments (~76 MiB).
    expect(() => checkMemoryLimits(c, { maxBufferSize: 64 * 2 ** 20, maxStorageBufferBindingSize: 64 * 2 ** 20 })).toThrow(
      /for the checkpoint\.staging, .*\(maxBufferSize\).*even batch size 1 does not fit: use a smaller model, or no training checkpoints/,
    );
    expect(() => checkMemoryLimits({ ...c, train: { ...c.train, checkpointEvery: 0 } }, { maxBufferSize: 64 * 2 ** 20, maxStorageBufferBindingSize: 64 * 2 ** 20 })).not.toThrow();
  });

  it('refuses an invalid config with its ConfigError, not an estimate', () => {
    expect(() => estimateRunMemory(config({ batchSize: 0 }))).toThrow(/batch must be a positive integer/);
  });
});
