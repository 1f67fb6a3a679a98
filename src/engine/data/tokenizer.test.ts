import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CharTokenizer } from './tokenizer';

// The test (not the engine) reads the bundled file; the engine only ever receives text.
const namesText = readFileSync(new URL('../../../public/datasets/names.txt', import.meta.url), 'utf8');

describe('CharTokenizer', () => {
  it('builds the vocabulary as the distinct characters sorted by code point', () => {
    // U+1F600 (an astral emoji, two UTF-16 units starting 0xD83D) sorts after U+FFFF by code point,
    // although a UTF-16 code-unit sort would put it first.
    const tokenizer = CharTokenizer.fromText('b\u{1F600}a\uFFFF\u00E9\nab\u{1F600}');
    expect(tokenizer.chars).toEqual(['\n', 'a', 'b', '\u00E9', '\uFFFF', '\u{1F600}']);
    expect(tokenizer.vocabSize).toBe(6);
  });

  it('encodes one token per code point and decodes back to the same text', () => {
    const text = 'héllo 😀 wörld\n— ∑ 𝔸 e\u0301';
    const tokenizer = CharTokenizer.fromText(text);
    const ids = tokenizer.encode(text);
    expect(ids).toBeInstanceOf(Int32Array);
    expect(ids.length).toBe(Array.from(text).length);
    expect(ids.length).toBeLessThan(text.length); // astral characters are single tokens
    expect(tokenizer.decode(ids)).toBe(text);
    expect(tokenizer.decode(Array.from(ids))).toBe(text);
    expect(tokenizer.encode('')).toEqual(new Int32Array(0));
    // ids are positions in the vocabulary
    expect(Array.from(tokenizer.encode('😀'))).toEqual([tokenizer.chars.indexOf('😀')]);
  });

  it('throws on an unknown character, naming it', () => {
    const tokenizer = CharTokenizer.fromText('abc');
    expect(() => tokenizer.encode('abz')).toThrow(/"z".*U\+007A/);
    expect(() => tokenizer.encode('a\n')).toThrow(/"\\n"/);
  });

  it('throws on ids outside the vocabulary', () => {
    const tokenizer = CharTokenizer.fromText('abc');
    expect(() => tokenizer.decode([0, 3])).toThrow(/position 1/);
    expect(() => tokenizer.decode([-1])).toThrow(Error);
    expect(() => tokenizer.decode([0.5])).toThrow(Error);
  });

  it('round-trips through JSON', () => {
    const tokenizer = CharTokenizer.fromText('the quick 😀 fox\n');
    const json = JSON.parse(JSON.stringify(tokenizer.toJSON()));
    expect(json.type).toBe('char');
    const restored = CharTokenizer.fromJSON(json);
    expect(restored.chars).toEqual(tokenizer.chars);
    expect(restored.decode(tokenizer.encode('quick fox'))).toBe('quick fox');
  });

  it('rejects malformed JSON with a clear message', () => {
    const cases: [unknown, RegExp][] = [
      [null, /expected an object/],
      ['char', /expected an object/],
      [['a'], /expected an object/],
      [{ type: 'bpe', chars: ['a'] }, /only 'char'/],
      [{ type: 'char' }, /chars must be an array/],
      [{ type: 'char', chars: 'abc' }, /chars must be an array/],
      [{ type: 'char', chars: [] }, /empty/],
      [{ type: 'char', chars: ['a', 'bc'] }, /entry 1.*not a single character/],
      [{ type: 'char', chars: ['a', 7] }, /entry 1.*not a single character/],
      [{ type: 'char', chars: ['a', 'b', 'a'] }, /"a".*twice/],
    ];
    for (const [value, message] of cases) {
      expect(() => CharTokenizer.fromJSON(value), JSON.stringify(value)).toThrow(message);
    }
  });
});

describe('public/datasets/names.txt', () => {
  it('has one name per line, a trailing newline, no duplicates, sorted', () => {
    expect(namesText.endsWith('\n')).toBe(true);
    const lines = namesText.slice(0, -1).split('\n');
    expect(lines.length).toBeGreaterThan(8000);
    expect(lines.every((line) => /^[A-Za-z][A-Za-z-]*$/.test(line))).toBe(true);
    expect(new Set(lines).size).toBe(lines.length);
    expect([...lines].sort()).toEqual(lines); // ASCII: code-unit order is code-point order
  });

  it('has a vocabulary of 54 characters: 52 letters, the hyphen and the line break', () => {
    const tokenizer = CharTokenizer.fromText(namesText);
    expect(tokenizer.vocabSize).toBe(54);
    expect(tokenizer.has('\n')).toBe(true);
    expect(tokenizer.has('-')).toBe(true);
    for (const letter of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz') {
      expect(tokenizer.has(letter)).toBe(true);
    }
    expect(tokenizer.decode(tokenizer.encode(namesText))).toBe(namesText);
  });
});
