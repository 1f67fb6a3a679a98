// A character-level tokenizer: one token per Unicode code point. Strings are iterated with for..of,
// which walks code points, so a character outside the Basic Multilingual Plane (an emoji, say) is
// one token rather than two UTF-16 surrogate halves.

import { DatasetError } from './dataset';

/** The serialised form, stored next to a checkpoint so that a model decodes with the exact ids it
 *  was trained with. */
export interface CharTokenizerJSON {
  type: 'char';
  chars: string[];
}

/** Orders single-character strings by code point. The default string sort compares UTF-16 code
 *  units, which puts astral characters (surrogates 0xD800–0xDFFF) before U+E000–U+FFFF. */
export function compareCodePoints(a: string, b: string): number {
  return (a.codePointAt(0) ?? 0) - (b.codePointAt(0) ?? 0);
}

/** How a character is shown in messages: JSON quoting makes '\n' or a space visible. */
function describeChar(char: string): string {
  const codePoint = char.codePointAt(0) ?? 0;
  return `${JSON.stringify(char)} (U+${codePoint.toString(16).toUpperCase().padStart(4, '0')})`;
}

function isSingleCodePoint(value: string): boolean {
  let count = 0;
  for (const _char of value) {
    if (++count > 1) return false;
  }
  return count === 1;
}

export class CharTokenizer {
  /** The vocabulary: token id i stands for chars[i]. */
  readonly chars: readonly string[];
  private readonly idByChar: Map<string, number>;

  /** A tokenizer over exactly these characters, in this order (id = index). Use fromText to build
   *  the vocabulary of a text. */
  constructor(chars: readonly string[]) {
    if (chars.length === 0) throw new DatasetError('CharTokenizer: the vocabulary is empty');
    const idByChar = new Map<string, number>();
    chars.forEach((char, id) => {
      if (typeof char !== 'string' || !isSingleCodePoint(char)) {
        throw new DatasetError(
          `CharTokenizer: vocabulary entry ${id} is ${JSON.stringify(char)}, not a single character`,
        );
      }
      const earlier = idByChar.get(char);
      if (earlier !== undefined) {
        throw new DatasetError(
          `CharTokenizer: character ${describeChar(char)} appears twice in the vocabulary (entries ${earlier} and ${id})`,
        );
      }
      idByChar.set(char, id);
    });
    this.chars = Object.freeze([...chars]);
    this.idByChar = idByChar;
  }

  /** The vocabulary of a text: its distinct characters sorted by code point. */
  static fromText(text: string): CharTokenizer {
    const distinct = new Set<string>();
    for (const char of text) distinct.add(char);
    if (distinct.size === 0) throw new DatasetError('CharTokenizer.fromText: the text is empty');
    return new CharTokenizer([...distinct].sort(compareCodePoints));
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  has(char: string): boolean {
    return this.idByChar.has(char);
  }

  /** The id of one character; throws if it is not in the vocabulary. */
  idOf(char: string): number {
    const id = this.idByChar.get(char);
    if (id === undefined) {
      throw new DatasetError(
        `CharTokenizer: character ${describeChar(char)} is not in the vocabulary of ${this.vocabSize} characters`,
      );
    }
    return id;
  }

  encode(text: string): Int32Array {
    // text.length (UTF-16 units) bounds the number of code points; trim to the real count after.
    const ids = new Int32Array(text.length);
    let count = 0;
    for (const char of text) ids[count++] = this.idOf(char);
    return count === ids.length ? ids : ids.slice(0, count);
  }

  decode(ids: ArrayLike<number>): string {
    const chars: string[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new DatasetError(
          `CharTokenizer.decode: token ${id} at position ${i} is not an id in [0, ${this.vocabSize})`,
        );
      }
      chars[i] = this.chars[id];
    }
    return chars.join('');
  }

  toJSON(): CharTokenizerJSON {
    return { type: 'char', chars: [...this.chars] };
  }

  static fromJSON(value: unknown): CharTokenizer {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DatasetError(
        `invalid tokenizer JSON: expected an object { type: 'char', chars: [...] }, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
      );
    }
    const record = value as Record<string, unknown>;
    if (record.type !== 'char') {
      throw new DatasetError(
        `invalid tokenizer JSON: type is ${JSON.stringify(record.type)}, only 'char' is supported`,
      );
    }
    if (!Array.isArray(record.chars)) {
      throw new DatasetError('invalid tokenizer JSON: chars must be an array of single characters');
    }
    try {
      return new CharTokenizer(record.chars as string[]);
    } catch (error) {
      throw new DatasetError(`invalid tokenizer JSON: ${(error as Error).message}`);
    }
  }
}
