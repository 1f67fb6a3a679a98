import { describe, expect, it } from 'vitest';
import { datasetNamesFor, openDataset } from '../engine/data/open';
import {
  architectureOf,
  ARCHITECTURES,
  comparisonConfig,
  configDifferences,
  configProblems,
  DATASETS_BY_ARCHITECTURE,
  DEFAULT_CONFIG,
  DEFAULT_DATASET,
  describePrecision,
  type PageConfig,
  runConfigFor,
  runLabel,
  trainConfigFor,
} from './config';

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

describe('architectures', () => {
  it("offers each architecture the engine's own dataset lists, and each opens as its architecture's kind", async () => {
    for (const a of ARCHITECTURES) {
      // The engine's list for messages, without the text file the page cannot read.
      expect(DATASETS_BY_ARCHITECTURE[a]).toEqual(datasetNamesFor(a).filter((n) => n !== 'a text file'));
      for (const name of DATASETS_BY_ARCHITECTURE[a]) {
        const d = await openDataset(name, async () => 'anna\nbob\ncarla\n', a);
        expect(d.kind ?? 'language-model').toBe(a === 'encoder' ? 'classification' : a === 'encoder-decoder' ? 'translation' : 'language-model');
      }
    }
    expect(DATASETS_BY_ARCHITECTURE.encoder).toEqual(['majority', 'sentiment']);
    expect(DATASETS_BY_ARCHITECTURE['encoder-decoder']).toEqual(['reverse', 'sort', 'numbers']);
  });

  it('builds the model each architecture needs: classes for the classifier, a source length for the encoder-decoder', () => {
    const enc = runConfigFor({ ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'majority' }, 7).model;
    // majority: which of a, b, c occurs most often — three classes.
    expect(enc).toMatchObject({ architecture: 'encoder', numClasses: 3, contextLength: 16 });
    expect(enc.sourceLength).toBeUndefined();
    expect(runConfigFor({ ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'sentiment', preset: 'small' }, 7).model.numClasses).toBe(2);
    // reverse: sources of 1 to 8 letters, so the encoder reads 8 positions unless told otherwise.
    const encdec = runConfigFor({ ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'reverse' }, 28).model;
    expect(encdec).toMatchObject({ architecture: 'encoder-decoder', sourceLength: 8, contextLength: 16 });
    expect(encdec.numClasses).toBeUndefined();
    expect(runConfigFor({ ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'numbers', sourceLength: 5, contextLength: 24 }, 28).model).toMatchObject({ sourceLength: 5, contextLength: 24 });
    // A config saved before architectures existed is the GPT.
    const old: PageConfig = { ...DEFAULT_CONFIG };
    delete old.architecture;
    expect(architectureOf(old)).toBe('decoder');
    expect(runConfigFor(old, 54).model.architecture).toBe('decoder');
    expect(configProblems(old)).toEqual([]);
  });

  it('has no problems with each architecture on its default dataset and the tiny model', () => {
    for (const a of ARCHITECTURES) expect(configProblems({ ...DEFAULT_CONFIG, architecture: a, dataset: DEFAULT_DATASET[a] })).toEqual([]);
  });

  it("gives the engine's dataset message, in the page's words, for a context too short for the task", () => {
    // sentiment: "<subject> was not very <adjective>" is up to 9 + 14 + 6 = 29 characters, plus CLS: 30.
    const p = configProblems({ ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'sentiment' });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/context must be at least 30, got 16/);
    expect(p[0]).toMatch(/set Context to 30 or more/);
    expect(p[0]).not.toMatch(/--/);
    expect(configProblems({ ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'sentiment', contextLength: 30 })).toEqual([]);
    expect(configProblems({ ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'sentiment', contextLength: 29 })).toHaveLength(1);
    expect(configProblems({ ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'sentiment', preset: 'small' })).toEqual([]);
    // numbers: three digits spelled out ("three zero seven" style) are up to 5·3 + 2 = 17 characters, plus END: 18.
    const n = configProblems({ ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'numbers' });
    expect(n.join(' ')).toMatch(/decoder context must be at least 18 .*got 16; set Context to 18 or more/);
    expect(configProblems({ ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'numbers', contextLength: 18 })).toEqual([]);
  });

  it('reports a source length below the longest source, a source length without the encoder-decoder, and a dataset of another architecture', () => {
    const short = configProblems({ ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'reverse', sourceLength: 5 });
    expect(short.join(' ')).toMatch(/source length must be at least 8 .*got 5; set Source length to 8 or more/);
    expect(configProblems({ ...DEFAULT_CONFIG, sourceLength: 8 })).toEqual(['source length applies to the encoder-decoder only; clear it']);
    const wrong = configProblems({ ...DEFAULT_CONFIG, architecture: 'decoder', dataset: 'majority' });
    expect(wrong).toHaveLength(1);
    expect(wrong[0]).toMatch(/majority is not one the decoder trains on \(names, reverse, sort, addmod\); it is a dataset of the encoder/);
    expect(configProblems({ ...DEFAULT_CONFIG, contextLength: 1 })[0]).toMatch(/context must be a whole number from 2/);
    expect(configProblems({ ...DEFAULT_CONFIG, attentionEvery: -1 })[0]).toMatch(/attention every/);
  });

  it('names the architecture in labels and differences, and comparisons keep it', () => {
    const encdec: PageConfig = { ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'reverse' };
    expect(runLabel(encdec)).toBe('int4 · reverse (enc-dec) · tiny · seed 1');
    expect(runLabel({ ...encdec, sourceLength: 10, contextLength: 20 })).toBe('int4 · reverse (enc-dec) · tiny, context 20, source 10 · seed 1');
    expect(configDifferences({ ...DEFAULT_CONFIG, dataset: 'reverse' }, encdec)).toEqual(['architecture: decoder → encoder-decoder', 'source length: — → 8']);
    // The preset's own context spelled out is no difference.
    expect(configDifferences(DEFAULT_CONFIG, { ...DEFAULT_CONFIG, contextLength: 16 })).toEqual([]);
    expect(comparisonConfig({ ...encdec, sourceLength: 9 }, 'fp32')).toEqual({ ...encdec, sourceLength: 9, precision: 'fp32' });
  });
});
