import { describe, expect, it } from 'vitest';
import { comparisonConfig, configDifferences, configProblems, DEFAULT_CONFIG, describePrecision, runConfigFor, runLabel, trainConfigFor } from './config';

describe('page config → engine config', () => {
  it('uses the preset for lr and batch unless overridden, logs every step and passes measureEvery', () => {
    const t = trainConfigFor({ ...DEFAULT_CONFIG, preset: 'small', steps: 100 });
    expect(t.lr).toBe(2e-3);
    expect(t.batchSize).toBe(32);
    expect(t.logEvery).toBe(1);
    expect(t.measureEvery).toBe(DEFAULT_CONFIG.measureEvery);
    expect(t.forwardQuantizer).toBeUndefined();
    const o = trainConfigFor({ ...DEFAULT_CONFIG, lr: 0.01, batchSize: 4, forwardQuantizer: 'lsq', bits: 3 });
    expect([o.lr, o.batchSize, o.forwardQuantizer, o.bits]).toEqual([0.01, 4, 'lsq', 3]);
    expect(runConfigFor(DEFAULT_CONFIG, 54).model.vocabSize).toBe(54);
  });

  it('keeps the warmup shorter than a short run', () => {
    expect(trainConfigFor({ ...DEFAULT_CONFIG, steps: 4 }).warmupSteps).toBe(0);
    expect(trainConfigFor({ ...DEFAULT_CONFIG, steps: 300 }).warmupSteps).toBe(20);
  });
});

describe('configProblems', () => {
  it('is empty for the defaults', () => {
    expect(configProblems(DEFAULT_CONFIG)).toEqual([]);
  });

  it("reports the engine's ConfigError messages, split into items", () => {
    const p = configProblems({ ...DEFAULT_CONFIG, precision: 'fp32', forwardQuantizer: 'hq' });
    expect(p.join(' ')).toMatch(/apply to the quantized precisions/);
    const lss = configProblems({ ...DEFAULT_CONFIG, precision: 'int4', forwardQuantizer: 'minmax', backwardQuantizer: 'lss' });
    expect(lss.join(' ')).toMatch(/use forward-quantizer hq or lsq/);
    // The tiny preset's d_model is 48: a Hadamard block of 64 does not fit.
    expect(configProblems({ ...DEFAULT_CONFIG, hadamardBlock: 64 }).join(' ')).toMatch(/larger than d_model 48/);
  });

  it("reports the page's own ranges", () => {
    expect(configProblems({ ...DEFAULT_CONFIG, steps: 0 })).toHaveLength(1);
    expect(configProblems({ ...DEFAULT_CONFIG, batchSize: 1000 })[0]).toMatch(/batch/);
  });
});

describe('labels and differences', () => {
  it('names overridden quantizers in labels and descriptions', () => {
    expect(runLabel(DEFAULT_CONFIG)).toBe('int4 · names · tiny · seed 1');
    expect(runLabel({ ...DEFAULT_CONFIG, backwardQuantizer: 'bitsplit' })).toBe('int4 [hq/bitsplit/4b] · names · tiny · seed 1');
    expect(describePrecision(DEFAULT_CONFIG)).toBe('int4 (forward hq, Hadamard block ≤ 32, backward lss, 4 bits)');
    expect(describePrecision({ ...DEFAULT_CONFIG, precision: 'fp16' })).toBe('fp16');
  });

  it('lists effective differences only', () => {
    const fp32 = { ...DEFAULT_CONFIG, precision: 'fp32' as const };
    expect(configDifferences(fp32, fp32)).toEqual([]);
    // Spelling out int4's own quantizers is no difference.
    expect(configDifferences(DEFAULT_CONFIG, { ...DEFAULT_CONFIG, forwardQuantizer: 'hq', backwardQuantizer: 'lss', bits: 4 })).toEqual([]);
    expect(configDifferences(fp32, DEFAULT_CONFIG)).toEqual([
      'precision: fp32 → int4',
      'forward quantizer: — → hq',
      'backward quantizer: — → lss',
      'bits: — → 4',
      'Hadamard block: — → 32',
    ]);
    expect(configDifferences(DEFAULT_CONFIG, { ...DEFAULT_CONFIG, lr: 3e-3 })).toEqual([]);
    expect(configDifferences(DEFAULT_CONFIG, { ...DEFAULT_CONFIG, lr: 1e-3 })).toEqual(['learning rate: 0.003 → 0.001']);
  });

  it('builds comparison entries from the base config without its overrides', () => {
    const base = { ...DEFAULT_CONFIG, forwardQuantizer: 'lsq' as const, bits: 3, steps: 50, seed: 9 };
    expect(comparisonConfig(base, 'fp32')).toEqual({ ...DEFAULT_CONFIG, precision: 'fp32', steps: 50, seed: 9 });
    expect(comparisonConfig(base, 'int4:bitsplit')).toEqual({ ...DEFAULT_CONFIG, precision: 'int4', backwardQuantizer: 'bitsplit', steps: 50, seed: 9 });
  });
});
