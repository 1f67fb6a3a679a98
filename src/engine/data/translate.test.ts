import { describe, expect, it } from 'vitest';
import { Rng } from './rng';
import { numbersTranslation, reverseTranslation, sortTranslation, TRANSLATE_BOUNDARY, TRANSLATE_PAD } from './translate';

describe('translation tasks', () => {
  it('pairs follow their rules', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 50; i++) {
      const r = reverseTranslation().problem(rng);
      expect(r.target).toBe([...r.source].reverse().join(''));
      const s = sortTranslation().problem(rng);
      expect(s.target).toBe([...s.source].sort().join(''));
    }
    expect(numbersTranslation().problem(new Rng(1)).target).toMatch(/^(zero|one|two|three|four|five|six|seven|eight|nine)( (zero|one|two|three|four|five|six|seven|eight|nine)){0,2}$/);
  });

  it('teacher forcing: the decoder reads START + target and is scored on target + END; sources padded', () => {
    const d = reverseTranslation();
    const T = 10;
    const S = 8;
    const b = d.trainBatch(new Rng(2), 3, T, S);
    const tok = d.tokenizer;
    for (let row = 0; row < 3; row++) {
      const source = tok.decode(b.sources!.subarray(row * S, (row + 1) * S)).replace(/_+$/, '');
      const target = [...source].reverse().join('');
      const inputs = b.inputs.subarray(row * T, (row + 1) * T);
      const targets = b.targets.subarray(row * T, (row + 1) * T);
      expect(tok.decode(inputs)).toBe((TRANSLATE_BOUNDARY + target).padEnd(T, TRANSLATE_PAD));
      expect(tok.decode(targets.subarray(0, target.length + 1))).toBe(target + TRANSLATE_BOUNDARY);
      expect(targets.subarray(target.length + 1).every((x) => x === -1)).toBe(true);
    }
  });

  it('refuses a decoder context shorter than the longest target plus END, and a short source', () => {
    const d = numbersTranslation();
    expect(() => d.trainBatch(new Rng(1), 1, d.minContextLength - 1, d.minSourceLength)).toThrow(/decoder context must be at least 18/);
    expect(() => d.valBatches(1, 1, d.minContextLength, d.minSourceLength - 1)).toThrow(/source length must be at least 3/);
    expect(() => d.trainBatch(new Rng(1), 1, d.minContextLength, d.minSourceLength)).not.toThrow();
  });
});
