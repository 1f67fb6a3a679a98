import { describe, expect, it } from 'vitest';
import { CLASSIFY_PAD, CLS, majorityBaseline, majorityDataset, sentimentDataset } from './classify';
import { DatasetError } from './dataset';
import { Rng } from './rng';

describe('classification tasks', () => {
  it('majority: the label is the most frequent letter, never a tie', () => {
    const d = majorityDataset();
    for (const e of d.validationExamples(4, 32, d.minContextLength)) {
      const counts = [...'abc'].map((c) => [...e.text].filter((x) => x === c).length);
      const top = Math.max(...counts);
      expect(counts.filter((n) => n === top)).toHaveLength(1);
      expect(e.label).toBe(counts.indexOf(top));
      expect(e.text.length).toBeGreaterThanOrEqual(3);
      expect(e.text.length).toBeLessThanOrEqual(12);
    }
  });

  it('sentiment: "not" flips the adjective\'s polarity', () => {
    const d = sentimentDataset();
    const positive = ['good', 'great', 'fun', 'superb', 'lovely', 'nice'];
    const examples = d.validationExamples(4, 32, d.minContextLength);
    for (const e of examples) {
      const adjective = e.text.split(' ').pop()!;
      const negated = e.text.includes(' not ');
      expect(e.label, e.text).toBe(positive.includes(adjective) !== negated ? 1 : 0);
    }
    // Both classes and both polarities of negation occur.
    expect(new Set(examples.map((e) => `${e.label}${e.text.includes(' not ')}`)).size).toBe(4);
  });

  it('batches: CLS first, padding after the text, only the CLS position scored with the class index', () => {
    const d = majorityDataset();
    const T = 16;
    const b = d.trainBatch(new Rng(1), 4, T);
    const pad = d.tokenizer.idOf(CLASSIFY_PAD);
    for (let row = 0; row < 4; row++) {
      const ids = b.inputs.subarray(row * T, (row + 1) * T);
      expect(ids[0]).toBe(d.tokenizer.idOf(CLS));
      const text = d.tokenizer.decode(ids).slice(1).replace(new RegExp(`${CLASSIFY_PAD}+$`), '');
      expect(ids.subarray(1 + text.length).every((x) => x === pad)).toBe(true);
      const targets = b.targets.subarray(row * T, (row + 1) * T);
      expect(targets[0]).toBeGreaterThanOrEqual(0);
      expect(targets[0]).toBeLessThan(3);
      expect(targets.subarray(1).every((x) => x === -1)).toBe(true);
    }
    // The validation set is fixed: the same on every call, whatever happened before.
    expect(d.valBatches(2, 4, T)).toEqual(d.valBatches(2, 4, T));
  });

  it('a context shorter than CLS + the longest text is refused with the length to use', () => {
    const d = sentimentDataset();
    expect(() => d.trainBatch(new Rng(1), 2, d.minContextLength - 1)).toThrow(DatasetError);
    expect(() => d.trainBatch(new Rng(1), 2, d.minContextLength - 1)).toThrow(new RegExp(`--context ${d.minContextLength}`));
  });

  it('majority baseline: the share of the most frequent label', () => {
    expect(majorityBaseline([0, 1, 1, 2], 3)).toEqual({ accuracy: 0.5, label: 1 });
    expect(majorityBaseline([], 2).accuracy).toBe(0);
  });
});
