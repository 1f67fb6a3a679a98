// The per-dispatch profiler: a profiled training step is a real step (same losses as an unprofiled
// run) and times every one of its dispatches; the summary groups the blocks' kernels.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type RunConfig } from '../config';
import { namesDataset } from '../data/corpus';
import { Trainer } from '../train/trainer';
import { DispatchProfiler, kernelGroup, summarizeProfile } from './profiler';
import { testGpu } from './test-device';

const namesText = readFileSync(fileURLToPath(new URL('../../../public/datasets/names.txt', import.meta.url)), 'utf8');

describe('kernelGroup and summarizeProfile', () => {
  it('folds layer indices and sums per group, median over steps, largest first', () => {
    expect(kernelGroup('transformer.h.12.attn.c_attn.forward')).toBe('h.*.attn.c_attn.forward');
    expect(kernelGroup('lm_head.dw')).toBe('lm_head.dw');
    const step = (a: number, b: number) => [
      { label: 'transformer.h.0.mlp.c_fc.forward', seconds: a },
      { label: 'transformer.h.1.mlp.c_fc.forward', seconds: a },
      { label: 'loss', seconds: b },
    ];
    const { groups, stepSeconds } = summarizeProfile([step(1, 5), step(2, 1), step(3, 2)]);
    expect(groups).toEqual([
      { group: 'h.*.mlp.c_fc.forward', count: 2, seconds: 4 },
      { group: 'loss', count: 1, seconds: 2 },
    ]);
    expect(stepSeconds).toBe(6);
  });
});

describe('Trainer.profileStep', () => {
  it('times every dispatch of a real step: the losses equal an unprofiled run', async () => {
    const gpu = await testGpu();
    if (!gpu.device.features.has('timestamp-query')) throw new Error('the test device has no timestamp-query: the profiler cannot be tested here');
    const dataset = namesDataset(namesText);
    const config: RunConfig = {
      model: { architecture: 'decoder', nLayer: 1, dModel: 16, nHead: 2, dFF: 32, contextLength: 8, vocabSize: 54, activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5 },
      train: { ...DEFAULT_TRAIN, steps: 3, batchSize: 4, logEvery: 3, seed: 4 },
      dataset: 'names',
    };
    const losses = async (profile: boolean) => {
      const trainer = await Trainer.create(gpu, config, dataset);
      const out: number[] = [];
      trainer.onMetrics((m) => out.push(...m.map((r) => r.loss)));
      const profiler = new DispatchProfiler(gpu.device);
      const times = [];
      for (let s = 0; s < 3; s++) {
        if (profile) times.push(await trainer.profileStep(profiler));
        else await trainer.step();
      }
      await trainer.flush();
      profiler.destroy();
      trainer.destroy();
      return { out, times };
    };
    const plain = await losses(false);
    const profiled = await losses(true);
    expect(profiled.out).toEqual(plain.out);
    // Step 1 runs the first-batch forward; steps 2 and 3 the same list.
    expect(profiled.times[1].length).toBe(profiled.times[2].length);
    expect(profiled.times[1].length).toBeGreaterThan(50);
    for (const t of profiled.times.flat()) {
      expect(t.label).not.toBe('');
      expect(t.seconds, t.label).toBeGreaterThanOrEqual(0);
    }
    expect(profiled.times[2].some((t) => t.label === 'transformer.h.0.attn.c_attn.forward')).toBe(true);
  });
});
