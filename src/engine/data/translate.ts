// Translation tasks for the encoder-decoder (architecture 'encoder-decoder'), generated in code: a
// source string goes to the encoder, and the decoder produces the target one character at a time.
//   reverse  a random lowercase string, reversed:        "hello" → "olleh"
//   sort     a random digit string, its digits sorted:  "3141" → "1134"
//   numbers  digits spelled out, a toy language pair:    "307" → "three zero seven"
// Training is teacher-forced: the decoder reads START + target (shifted right) and is scored on
// predicting target + END at every position; padding is not scored. Evaluation decodes greedily from
// START until END (Trainer.translate) and scores exact matches.
import {
  type Batch,
  type Dataset,
  DatasetError,
  UNSCORED_TARGET,
  checkBatchCount,
  checkBatchShape,
} from './dataset';
import { Rng } from './rng';
import { CharTokenizer } from './tokenizer';

/** Starts the decoder's input and ends every target (the start token doubles as the end token, as
 *  GPT-2's <|endoftext|> does). */
export const TRANSLATE_BOUNDARY = '\n';
/** Fills sources and targets up to S and T; never scored. */
export const TRANSLATE_PAD = '_';

export const TRANSLATE_VALIDATION_SEED = 0x7e1a7e;

export interface TranslationPair {
  source: string;
  target: string;
}

export interface TranslationDataset extends Dataset {
  kind: 'translation';
  /** The shortest source length S that fits every source. */
  readonly minSourceLength: number;
  /** The shortest decoder context T that fits every target and its END token. */
  readonly minContextLength: number;
  readonly startToken: number;
  readonly endToken: number;
  /** The id of TRANSLATE_PAD, which fills sources after their end (and decoder rows after the target). */
  readonly padToken: number;
  /** A source as S token ids (padded). */
  encodeSource(source: string, S: number): Int32Array;
  /** A pair of the validation distribution, drawn with rng. */
  problem(rng: Rng): TranslationPair;
}

export function isTranslationDataset(d: Dataset): d is TranslationDataset {
  return d.kind === 'translation';
}

interface TranslationSpec {
  name: string;
  description: string;
  alphabet: string;
  maxSourceLength: number;
  maxTargetLength: number;
  pair(rng: Rng): TranslationPair;
}

function translationDataset(spec: TranslationSpec): TranslationDataset {
  const tokenizer = CharTokenizer.fromText(spec.alphabet + TRANSLATE_BOUNDARY + TRANSLATE_PAD);
  const boundary = tokenizer.idOf(TRANSLATE_BOUNDARY);
  const pad = tokenizer.idOf(TRANSLATE_PAD);
  const minSourceLength = spec.maxSourceLength;
  const minContextLength = spec.maxTargetLength + 1;
  const requireShape = (T: number, S: number) => {
    const errs: string[] = [];
    if (T < minContextLength) errs.push(`the decoder context must be at least ${minContextLength} (targets of up to ${spec.maxTargetLength} characters and the end token), got ${T}; use --context ${minContextLength} or more`);
    if (!Number.isInteger(S) || S < minSourceLength) errs.push(`the source length must be at least ${minSourceLength} (sources of up to ${spec.maxSourceLength} characters), got ${S}; use --source-length ${minSourceLength} or more`);
    if (errs.length) throw new DatasetError(`translation task "${spec.name}": ${errs.join('; ')}`);
  };
  const encodeSource = (source: string, S: number): Int32Array => {
    const ids = tokenizer.encode(source);
    if (ids.length > S) throw new DatasetError(`source "${source}" is longer than the source length ${S}`);
    const out = new Int32Array(S).fill(pad);
    out.set(ids);
    return out;
  };
  const batchOf = (pairs: TranslationPair[], T: number, S: number): Batch => {
    const B = pairs.length;
    const batch = { inputs: new Int32Array(B * T).fill(pad), targets: new Int32Array(B * T).fill(UNSCORED_TARGET), sources: new Int32Array(B * S) };
    pairs.forEach((p, b) => {
      batch.sources.set(encodeSource(p.source, S), b * S);
      const target = tokenizer.encode(p.target);
      // Teacher forcing: input START, t1 … tn predicts t1 … tn, END.
      batch.inputs[b * T] = boundary;
      batch.inputs.set(target, b * T + 1);
      batch.targets.set(target, b * T);
      batch.targets[b * T + target.length] = boundary;
    });
    return batch;
  };
  return {
    name: spec.name,
    kind: 'translation',
    description: spec.description,
    tokenizer,
    minSourceLength,
    minContextLength,
    startToken: boundary,
    endToken: boundary,
    padToken: pad,
    encodeSource,
    problem: spec.pair,
    trainBatch(rng: Rng, B: number, T: number, S = minSourceLength): Batch {
      checkBatchShape(spec.name, B, T);
      requireShape(T, S);
      return batchOf(Array.from({ length: B }, () => spec.pair(rng)), T, S);
    },
    valBatches(count: number, B: number, T: number, S = minSourceLength): Batch[] {
      checkBatchCount(spec.name, count);
      checkBatchShape(spec.name, B, T);
      requireShape(T, S);
      const rng = new Rng(TRANSLATE_VALIDATION_SEED).fork(`validation:${spec.name}`);
      return Array.from({ length: count }, () => batchOf(Array.from({ length: B }, () => spec.pair(rng)), T, S));
    },
    sampleStart: () => boundary,
    isSampleEnd: (token: number) => token === boundary,
  };
}

const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
/** Longest source of reverse and sort. */
const MAX_STRING = 8;

function randomString(rng: Rng, alphabet: string, maxLength: number): string {
  const length = 1 + rng.nextInt(maxLength);
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[rng.nextInt(alphabet.length)];
  return s;
}

export function reverseTranslation(): TranslationDataset {
  return translationDataset({
    name: 'reverse',
    description: `Reverse a lowercase string of 1 to ${MAX_STRING} letters: the encoder reads "hello", the decoder writes "olleh".`,
    alphabet: LOWERCASE,
    maxSourceLength: MAX_STRING,
    maxTargetLength: MAX_STRING,
    pair(rng) {
      const source = randomString(rng, LOWERCASE, MAX_STRING);
      return { source, target: [...source].reverse().join('') };
    },
  });
}

export function sortTranslation(): TranslationDataset {
  return translationDataset({
    name: 'sort',
    description: `Sort the digits of a string of 1 to ${MAX_STRING} digits: "3141" → "1134".`,
    alphabet: DIGITS,
    maxSourceLength: MAX_STRING,
    maxTargetLength: MAX_STRING,
    pair(rng) {
      const source = randomString(rng, DIGITS, MAX_STRING);
      return { source, target: [...source].sort().join('') };
    },
  });
}

const MAX_NUMBER_DIGITS = 3;

export function numbersTranslation(): TranslationDataset {
  const longestWord = Math.max(...DIGIT_WORDS.map((w) => w.length));
  return translationDataset({
    name: 'numbers',
    description: `Spell out 1 to ${MAX_NUMBER_DIGITS} digits in English words, a toy language pair whose target is longer than its source: "307" → "three zero seven".`,
    alphabet: DIGITS + DIGIT_WORDS.join(' '),
    maxSourceLength: MAX_NUMBER_DIGITS,
    maxTargetLength: MAX_NUMBER_DIGITS * longestWord + MAX_NUMBER_DIGITS - 1,
    pair(rng) {
      const source = randomString(rng, DIGITS, MAX_NUMBER_DIGITS);
      return { source, target: [...source].map((d) => DIGIT_WORDS[Number(d)]).join(' ') };
    },
  });
}

export interface TranslationTaskEntry {
  description: string;
  create(): TranslationDataset;
}

export const TRANSLATION_TASKS: Record<string, TranslationTaskEntry> = {
  reverse: { description: 'reverse a lowercase string', create: reverseTranslation },
  sort: { description: 'sort the digits of a string', create: sortTranslation },
  numbers: { description: 'spell out digits in English words', create: numbersTranslation },
};

/** Throws DatasetError unless the dataset's source and decoder lengths fit (for callers that check a
 *  config before any GPU work). */
export function checkTranslationFits(d: TranslationDataset, T: number, S: number): void {
  d.trainBatch(new Rng(0), 1, T, S);
}

