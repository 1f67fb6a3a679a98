// Fuzz tests of the character tokenizer on user text and on vocabularies read from checkpoints: it
// round-trips any text it was built from, and refuses anything else with a DatasetError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DatasetError } from './dataset';
import { CharTokenizer } from './tokenizer';

const RUNS = { numRuns: 1000 };

function expectDatasetError(run: () => unknown, says: RegExp): void {
  let error: unknown = null;
  try {
    run();
  } catch (e) {
    error = e;
  }
  if (!(error instanceof DatasetError)) throw new Error(`expected a DatasetError matching ${says}, got ${String(error)}`);
  expect(error.message).toMatch(says);
}

const anyText = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }));

describe('CharTokenizer (fuzz)', () => {
  it('round-trips any text through the vocabulary built from it, one id per code point', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const t = CharTokenizer.fromText(text);
        const ids = t.encode(text);
        expect(ids).toHaveLength([...text].length);
        expect(t.decode(ids)).toBe(text);
        expect(CharTokenizer.fromJSON(JSON.parse(JSON.stringify(t.toJSON()))).chars).toEqual(t.chars);
      }),
      RUNS,
    );
  });

  it('names the first character of a text that is not in the vocabulary', () => {
    fc.assert(
      fc.property(anyText, anyText, (known, other) => {
        const t = CharTokenizer.fromText(known);
        const missing = [...other].find((c) => !t.has(c));
        if (missing === undefined) expect(t.decode(t.encode(other))).toBe(other);
        else expectDatasetError(() => t.encode(other), new RegExp(`U\\+${missing.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}\\) is not in the vocabulary`));
      }),
      RUNS,
    );
  });

  it('refuses ids outside the vocabulary when decoding', () => {
    const badId = fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 3, max: 2 ** 31 }), fc.double().filter((x) => !Number.isInteger(x)));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 5 }), badId, fc.nat(), (good, bad, at) => {
        const ids = [...good];
        const i = at % (ids.length + 1);
        ids.splice(i, 0, bad);
        expectDatasetError(() => CharTokenizer.fromText('abc').decode(ids), new RegExp(`at position ${i} is not an id in \\[0, 3\\)`));
      }),
      RUNS,
    );
  });

  it('refuses vocabularies that are empty, repeat a character, or hold something other than single characters', () => {
    const notAChar = fc.oneof(
      fc.string({ minLength: 2, maxLength: 4 }).filter((s) => [...s].length > 1),
      fc.constantFrom('', 1, null, undefined, {}, ['a'], true),
    );
    const chars = fc.uniqueArray(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), { minLength: 1, maxLength: 6 });
    const bad = fc.oneof(
      fc.constant({ chars: [] as unknown[], says: /vocabulary is empty/ }),
      fc.tuple(chars, fc.nat()).map(([cs, i]) => ({ chars: [...cs, cs[i % cs.length]] as unknown[], says: /appears twice in the vocabulary/ })),
      fc.tuple(chars, notAChar, fc.nat()).map(([cs, x, i]) => {
        const out: unknown[] = [...cs];
        out.splice(i % (cs.length + 1), 0, x);
        return { chars: out, says: /not a single character/ };
      }),
    );
    fc.assert(
      fc.property(bad, fc.boolean(), ({ chars: cs, says }, viaJson) => {
        expectDatasetError(() => (viaJson ? CharTokenizer.fromJSON({ type: 'char', chars: cs }) : new CharTokenizer(cs as string[])), says);
      }),
      RUNS,
    );
  });

  it('reads any JSON value as a tokenizer or says what is wrong with it', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ type: fc.oneof(fc.constant('char'), fc.jsonValue({ maxDepth: 1 })), chars: fc.jsonValue({ maxDepth: 1 }) })), (value) => {
        try {
          CharTokenizer.fromJSON(value);
        } catch (e) {
          if (!(e instanceof DatasetError)) throw new Error(`fromJSON(${JSON.stringify(value)}) threw ${String(e)} instead of a DatasetError`);
          expect(e.message).toMatch(/^invalid tokenizer JSON: \S/);
        }
      }),
      RUNS,
    );
  });

  it('refuses an empty text', () => {
    expectDatasetError(() => CharTokenizer.fromText(''), /the text is empty/);
  });
});
