import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Architecture, ModelConfig } from '../engine/config';
import { CLASSIFICATION_TASKS } from '../engine/data/classify';
import { namesDataset } from '../engine/data/corpus';
import { Rng } from '../engine/data/rng';
import { SYNTHETIC_TASKS } from '../engine/data/synthetic';
import { TRANSLATION_TASKS } from '../engine/data/translate';
import type { AttentionMap } from '../engine/train/inference';
import { attentionExampleProblem, columnsOf, defaultAttentionExample, isCausal, isMasked, maskedCellCount, shownAttentionMap, tokenLabel } from './attention';

/** An engine map of random probabilities: each row a softmax of seeded normals, with the causal mask
 *  (−∞ scores above the diagonal) where asked. */
function engineMap(kind: AttentionMap['kind'], Tq: number, Tk: number, heads: number, causal: boolean, queryTokens: string[], keyTokens: string[], seed = 1): AttentionMap {
  const rng = new Rng(seed);
  const h = Array.from({ length: heads }, () => {
    const p = new Float32Array(Tq * Tk);
    for (let q = 0; q < Tq; q++) {
      const scores = Array.from({ length: Tk }, (_, k) => (causal && k > q ? -Infinity : 3 * (rng.nextFloat() - 0.5)));
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const sum = e.reduce((a, b) => a + b, 0);
      e.forEach((v, k) => (p[q * Tk + k] = v / sum));
    }
    return p;
  });
  return { layer: 1, kind, name: 'x.attn', Tq, Tk, heads: h, queryTokens, keyTokens };
}

describe('shownAttentionMap', () => {
  it('cuts a causal map to the example, with n(n−1)/2 masked cells of probability 0', () => {
    const tokens = ['\n', 'k', 'a', 'y', 'l', 'a'];
    const m = shownAttentionMap(engineMap('self', 16, 16, 4, true, tokens, tokens), 'decoder');
    expect(m.causal).toBe(true);
    expect([m.queries.length, columnsOf(m), m.padKeys]).toEqual([6, 6, 0]);
    expect(maskedCellCount(m)).toBe((6 * 5) / 2);
    for (const h of m.heads) {
      for (let q = 0; q < 6; q++) {
        let row = 0;
        for (let k = 0; k < 6; k++) {
          row += h[q * 6 + k];
          if (isMasked(m, q, k)) expect(h[q * 6 + k]).toBe(0);
        }
        // Causal: a real query's row lies entirely within the real keys.
        expect(row).toBeCloseTo(1, 5);
      }
    }
  });

  it('sums the padding keys of an unmasked map into one last column, drawn masked (the key padding mask), so rows still sum to 1', () => {
    const engine = engineMap('encoder', 8, 8, 2, false, ['a', 'b', 'c'], ['a', 'b', 'c'], 7);
    const m = shownAttentionMap(engine, 'encoder-decoder');
    expect(m.causal).toBe(false);
    expect([m.queries.length, m.keys.length, m.padKeys, columnsOf(m)]).toEqual([3, 3, 5, 4]);
    // One masked cell per query: the padding column, and no key of the example.
    expect(maskedCellCount(m)).toBe(3);
    for (let q = 0; q < 3; q++) for (let k = 0; k < 4; k++) expect(isMasked(m, q, k)).toBe(k === 3);
    for (let h = 0; h < 2; h++) {
      for (let q = 0; q < 3; q++) {
        let pad = 0;
        for (let k = 3; k < 8; k++) pad += engine.heads[h][q * 8 + k];
        expect(m.heads[h][q * 4 + 3]).toBeCloseTo(pad, 6);
        for (let k = 0; k < 3; k++) expect(m.heads[h][q * 4 + k]).toBe(engine.heads[h][q * 8 + k]);
        expect(m.heads[h].slice(q * 4, q * 4 + 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
    }
    // Cross-attention: decoder queries over source keys.
    const cross = shownAttentionMap(engineMap('cross', 16, 8, 1, false, ['\n', 'c', 'b'], ['b', 'c']), 'encoder-decoder');
    expect([cross.queries.length, cross.keys.length, cross.padKeys]).toEqual([3, 2, 6]);
    expect(maskedCellCount(cross)).toBe(3);
    // Without padding, an unmasked map has no masked cell.
    expect(maskedCellCount(shownAttentionMap(engineMap('encoder', 3, 3, 1, false, ['a', 'b', 'c'], ['a', 'b', 'c']), 'encoder-decoder'))).toBe(0);
  });

  it("knows which layers are causal: the GPT's and the decoder's self-attention, not the encoder's or cross-attention", () => {
    const cases: [Architecture, AttentionMap['kind'], boolean][] = [
      ['decoder', 'self', true], ['encoder', 'self', false], ['encoder-decoder', 'self', true], ['encoder-decoder', 'encoder', false], ['encoder-decoder', 'cross', false],
    ];
    for (const [a, k, causal] of cases) expect(isCausal(a, k)).toBe(causal);
    expect(tokenLabel('\n', 'decoder')).toBe('⏎');
    expect(tokenLabel('^', 'encoder')).toBe('CLS');
    expect(tokenLabel(' ', 'encoder')).toBe('␣');
  });
});

const names = namesDataset(readFileSync(new URL('../../public/datasets/names.txt', import.meta.url), 'utf8'));

function model(architecture: Architecture, contextLength: number, sourceLength?: number): Pick<ModelConfig, 'architecture' | 'contextLength' | 'sourceLength'> {
  return { architecture, contextLength, sourceLength };
}

describe('defaultAttentionExample', () => {
  it('takes a validation name that fits after the start token', () => {
    const e = defaultAttentionExample(names, model('decoder', 16));
    expect('text' in e && names.validationDocuments.includes(e.text)).toBe(true);
    expect(attentionExampleProblem(e, names, model('decoder', 16))).toBeNull();
    // The same example every time.
    expect(defaultAttentionExample(names, model('decoder', 16))).toEqual(e);
  });

  it("takes a GPT task's prompt and its correct answer", () => {
    const reverse = SYNTHETIC_TASKS.reverse.create();
    const e = defaultAttentionExample(reverse, model('decoder', 16));
    if (!('text' in e)) throw new Error('a text example');
    const [prompt, answer] = e.text.split('>');
    expect([...prompt].reverse().join('')).toBe(answer);
    expect([...e.text].length).toBeLessThanOrEqual(15);
    expect(attentionExampleProblem(e, reverse, model('decoder', 16))).toBeNull();
  });

  it('takes a validation text of a classification task, and a source with its correct target of a translation task', () => {
    const majority = CLASSIFICATION_TASKS.majority.create();
    const text = defaultAttentionExample(majority, model('encoder', 16));
    expect('text' in text && /^[abc]{3,12}$/.test(text.text)).toBe(true);
    expect(attentionExampleProblem(text, majority, model('encoder', 16))).toBeNull();
    const reverse = TRANSLATION_TASKS.reverse.create();
    const pair = defaultAttentionExample(reverse, model('encoder-decoder', 16, 8));
    if (!('source' in pair)) throw new Error('a pair');
    expect(pair.target).toBe([...pair.source].reverse().join(''));
    expect(attentionExampleProblem(pair, reverse, model('encoder-decoder', 16, 8))).toBeNull();
    const numbers = TRANSLATION_TASKS.numbers.create();
    const spelled = defaultAttentionExample(numbers, model('encoder-decoder', 18, 3));
    if (!('source' in spelled)) throw new Error('a pair');
    const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
    expect(spelled.target).toBe([...spelled.source].map((d) => words[Number(d)]).join(' '));
  });
});

describe('attentionExampleProblem', () => {
  it('names characters outside the vocabulary, and texts or sources that do not fit', () => {
    expect(attentionExampleProblem({ text: 'Zoë' }, names, model('decoder', 16))).toMatch(/"ë", not in the vocabulary of names/);
    expect(attentionExampleProblem({ text: 'a'.repeat(16) }, names, model('decoder', 16))).toMatch(/16 characters; 15 fit the context of 16 after the start token/);
    expect(attentionExampleProblem({ text: '' }, names, model('decoder', 16))).toMatch(/type a text/);
    const reverse = TRANSLATION_TASKS.reverse.create();
    expect(attentionExampleProblem({ source: 'abcdefghi' }, reverse, model('encoder-decoder', 16, 8))).toMatch(/9 characters; the encoder reads at most 8/);
    expect(attentionExampleProblem({ source: 'abc', target: 'CBA' }, reverse, model('encoder-decoder', 16, 8))).toMatch(/the target has "C", "B", "A"/);
    // Without a target the model translates by itself: no target to check.
    expect(attentionExampleProblem({ source: 'abc' }, reverse, model('encoder-decoder', 16, 8))).toBeNull();
    expect(attentionExampleProblem({ text: 'abc' }, reverse, model('encoder-decoder', 16, 8))).toMatch(/needs a source/);
  });
});
