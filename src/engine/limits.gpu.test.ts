// The memory estimate against real builds on the test device, and Trainer.create refusing a run that
// does not fit the device's per-buffer limits (the checks themselves: limits.test.ts).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunConfig } from './config';
import { namesDataset, type TextCorpusDataset } from './data/corpus';
import type { GpuContext } from './gpu/device';
import { testGpu } from './gpu/test-device';
import { estimateRunMemory, MemoryLimitError } from './limits';
import { TINY_MODEL, tinyRunConfig } from './test-configs';
import { Trainer } from './train/trainer';

const namesText = readFileSync(fileURLToPath(new URL('../../public/datasets/names.txt', import.meta.url)), 'utf8');

const tiny = TINY_MODEL;
const config = tinyRunConfig;

/** Configs across precisions, quantizer choices, measurements and shapes (incl. split-K weight gradients). */
const CASES: [string, RunConfig][] = [
  ['fp32 tiny', config({ precision: 'fp32' })],
  ['fp32 tiny, separate attention kernel', config({ precision: 'fp32', attentionKernel: 'separate' })],
  ['fp32 tiny, fused attention kernel', config({ precision: 'fp32', attentionKernel: 'fused' })],
  ['int4 tiny, separate attention kernel', config({ precision: 'int4', attentionKernel: 'separate' })],
  ['fp32 tiny, checkpoints every 5', config({ precision: 'fp32', checkpointEvery: 5 })],
  ['fp32 tiny, measured, sinusoidal, relu', config({ precision: 'fp32', measureEvery: 5 }, { positionalEncoding: 'sinusoidal', activation: 'relu' })],
  ['fp32, 1024 tokens per batch (split-K)', config({ precision: 'fp32', batchSize: 32, logEvery: 10 }, { contextLength: 32, dModel: 64, dFF: 256 })],
  ['fp16 tiny', config({ precision: 'fp16', f16Path: 'emulated' })],
  ['int8 per tensor', config({ precision: 'int8' })],
  ['int8 per row', config({ precision: 'int8', int8PerRow: true, batchSize: 16 })],
  ['int4 (hq + lss), measured', config({ precision: 'int4', measureEvery: 5 })],
  ['int4, Hadamard block search', config({ precision: 'int4', hadamardSearch: true })],
  ['int4 lsq + bitsplit, 8 bits', config({ precision: 'int4', forwardQuantizer: 'lsq', backwardQuantizer: 'bitsplit', bits: 8 })],
  ['int4 hq + bitsplit (integer backward products)', config({ precision: 'int4', backwardQuantizer: 'bitsplit' })],
  ['int4-minmax', config({ precision: 'int4-minmax' })],
  ['int4-lsq-luq, 4 layers', config({ precision: 'int4-lsq-luq' }, { nLayer: 4 })],
  ['int4 forward none, backward none', config({ precision: 'int4', forwardQuantizer: 'none', backwardQuantizer: 'none' })],
];

let gpu: GpuContext;
let dataset: TextCorpusDataset;

beforeAll(async () => {
  gpu = await testGpu();
  dataset = namesDataset(namesText);
});

describe('estimateRunMemory against real builds', () => {
  for (const [name, c] of CASES) {
    it(`${name}: within 2% of GpuMemory.bytes`, async () => {
      const estimate = estimateRunMemory(c, gpu.device.limits);
      const trainer = await Trainer.create(gpu, c, dataset);
      try {
        const real = trainer.memory.bytes;
        const ratio = estimate.totalBytes / real;
        if (process.env.GPU_TEST_REPORT) console.log(`[memory] ${name}: estimate ${estimate.totalBytes}, real ${real}, ratio ${ratio.toFixed(3)}`);
        expect(ratio).toBeGreaterThan(0.98);
        expect(ratio).toBeLessThan(1.02);
        // The parameter buffer is exact: the same layout the model builds.
        expect(estimate.parameterFloats).toBe(trainer.model.layout.totalFloats);
      } finally {
        trainer.destroy();
      }
    });
  }
});

describe('Trainer.create and the device limits', () => {
  it('Trainer.create refuses a run over the device limit before building anything', async () => {
    const limit = gpu.device.limits.maxStorageBufferBindingSize;
    // Logits of one sequence of 16 tokens take 64·V bytes: a vocabulary that overflows the limit at batch 8.
    const vocab = Math.ceil(limit / (8 * 16 * 4)) + 1;
    const c = config({ batchSize: 8 }, { vocabSize: vocab });
    const fakeDataset = { ...dataset, tokenizer: { ...dataset.tokenizer, vocabSize: vocab } } as unknown as TextCorpusDataset;
    await expect(Trainer.create(gpu, c, fakeDataset)).rejects.toThrow(MemoryLimitError);
    await expect(Trainer.create(gpu, c, fakeDataset)).rejects.toThrow(/the largest batch size that fits is 7/);
  });
});
