// Text classification tasks for the encoder-only classifier (architecture 'encoder'), generated in code
// by rules, so their labels are exact and nothing has to be downloaded or licensed:
//   majority   which of a, b, c occurs most often in a random string (3 classes; no ties)
//   sentiment  short reviews built from word lists, with negation: "the film is not very dull" (2 classes)
// Each sequence is [CLS] + text, padded to T; only position 0 (the CLS token) is scored, with the class
// index as its target: the model classifies from the CLS token's final hidden state.
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

/** The token every sequence starts with; the head reads its final hidden state. */
export const CLS = '^';
/** Fills a sequence after the text up to T characters. */
export const CLASSIFY_PAD = '_';

/** Seed of the validation examples: fixed, not the run seed, so every run is validated on the same set. */
export const CLASSIFY_VALIDATION_SEED = 0xc1a55e5;

export interface ClassificationExample {
  text: string;
  label: number;
}

export interface ClassificationDataset extends Dataset {
  kind: 'classification';
  /** Class names; a label is an index into them. */
  readonly classes: readonly string[];
  /** The id of the CLS token. */
  readonly clsToken: number;
  /** The id of CLASSIFY_PAD, which fills a sequence after its text. */
  readonly padToken: number;
  /** The shortest T (CLS included) that fits every text. */
  readonly minContextLength: number;
  /** The input ids of a text: [CLS] + text + padding, T tokens. */
  encode(text: string, T: number): Int32Array;
  /** The fixed validation examples behind valBatches(count, B, T), in batch order. */
  validationExamples(count: number, B: number, T: number): ClassificationExample[];
}

interface ClassificationSpec {
  name: string;
  description: string;
  classes: string[];
  /** Every character a text may hold. */
  alphabet: string;
  /** Longest text (characters). */
  maxLength: number;
  example(rng: Rng): ClassificationExample;
}

export function isClassificationDataset(d: Dataset): d is ClassificationDataset {
  return d.kind === 'classification';
}

function classificationDataset(spec: ClassificationSpec): ClassificationDataset {
  const tokenizer = CharTokenizer.fromText(spec.alphabet + CLS + CLASSIFY_PAD);
  const clsToken = tokenizer.idOf(CLS);
  const minContextLength = spec.maxLength + 1;
  const requireContext = (T: number) => {
    if (T < minContextLength) {
      throw new DatasetError(`classification task "${spec.name}" has texts of up to ${spec.maxLength} characters after the CLS token: the context must be at least ${minContextLength}, got ${T}; use --context ${minContextLength} or more`);
    }
  };
  const encode = (text: string, T: number): Int32Array => {
    const ids = tokenizer.encode(CLS + text);
    if (ids.length > T) throw new DatasetError(`"${text}" does not fit a context of ${T} with its CLS token`);
    const out = new Int32Array(T).fill(tokenizer.idOf(CLASSIFY_PAD));
    out.set(ids);
    return out;
  };
  const batchOf = (examples: ClassificationExample[], T: number): Batch => {
    const B = examples.length;
    const batch = { inputs: new Int32Array(B * T), targets: new Int32Array(B * T).fill(UNSCORED_TARGET) };
    examples.forEach((e, b) => {
      batch.inputs.set(encode(e.text, T), b * T);
      batch.targets[b * T] = e.label;
    });
    return batch;
  };
  const validationExamples = (count: number, B: number, T: number): ClassificationExample[] => {
    checkBatchCount(spec.name, count);
    checkBatchShape(spec.name, B, T);
    requireContext(T);
    const rng = new Rng(CLASSIFY_VALIDATION_SEED).fork(`validation:${spec.name}`);
    return Array.from({ length: count * B }, () => spec.example(rng));
  };
  return {
    name: spec.name,
    kind: 'classification',
    description: spec.description,
    tokenizer,
    classes: spec.classes,
    clsToken,
    padToken: tokenizer.idOf(CLASSIFY_PAD),
    minContextLength,
    encode,
    validationExamples,
    trainBatch(rng: Rng, B: number, T: number): Batch {
      checkBatchShape(spec.name, B, T);
      requireContext(T);
      return batchOf(Array.from({ length: B }, () => spec.example(rng)), T);
    },
    valBatches(count: number, B: number, T: number): Batch[] {
      const all = validationExamples(count, B, T);
      return Array.from({ length: count }, (_, i) => batchOf(all.slice(i * B, (i + 1) * B), T));
    },
    // A classifier generates nothing; these keep the Dataset contract.
    sampleStart: () => clsToken,
    isSampleEnd: () => true,
  };
}

export function majorityDataset(): ClassificationDataset {
  const letters = 'abc';
  return classificationDataset({
    name: 'majority',
    description: 'Which of a, b, c occurs most often in a random string of 3 to 12 of them (never a tie), e.g. "cabcb" → b.',
    classes: ['a', 'b', 'c'],
    alphabet: letters,
    maxLength: 12,
    example(rng) {
      for (;;) {
        const length = 3 + rng.nextInt(10);
        let text = '';
        const counts = [0, 0, 0];
        for (let i = 0; i < length; i++) {
          const c = rng.nextInt(3);
          counts[c]++;
          text += letters[c];
        }
        const top = Math.max(...counts);
        if (counts.filter((n) => n === top).length === 1) return { text, label: counts.indexOf(top) };
      }
    },
  });
}

const SUBJECTS = ['the film', 'this book', 'the food', 'our trip', 'the show', 'the song'];
const POSITIVE = ['good', 'great', 'fun', 'superb', 'lovely', 'nice'];
const NEGATIVE = ['bad', 'dull', 'awful', 'poor', 'boring', 'weak'];

export function sentimentDataset(): ClassificationDataset {
  const longest = (words: string[]) => Math.max(...words.map((w) => w.length));
  // "<subject> was not very <adjective>"
  const maxLength = longest(SUBJECTS) + ' was not very '.length + longest([...POSITIVE, ...NEGATIVE]);
  return classificationDataset({
    name: 'sentiment',
    description: 'Is a short review positive or negative: "<subject> is|was [not] [very|so] <adjective>", six positive and six negative adjectives, "not" flips the label, e.g. "the film was not dull" → positive.',
    classes: ['negative', 'positive'],
    alphabet: [...SUBJECTS, ...POSITIVE, ...NEGATIVE, 'is was not very so '].join(''),
    maxLength,
    example(rng) {
      const positive = rng.nextInt(2) === 1;
      const adjective = (positive ? POSITIVE : NEGATIVE)[rng.nextInt(6)];
      const negated = rng.nextInt(2) === 1;
      const intensifier = ['', 'very ', 'so '][rng.nextInt(3)];
      const text = `${SUBJECTS[rng.nextInt(SUBJECTS.length)]} ${rng.nextInt(2) ? 'is' : 'was'} ${negated ? 'not ' : ''}${intensifier}${adjective}`;
      return { text, label: positive !== negated ? 1 : 0 };
    },
  });
}

export interface ClassificationTaskEntry {
  description: string;
  create(): ClassificationDataset;
}

export const CLASSIFICATION_TASKS: Record<string, ClassificationTaskEntry> = {
  majority: { description: 'which of a, b, c occurs most often in a random string (3 classes)', create: majorityDataset },
  sentiment: { description: 'positive or negative review from word lists, with negation (2 classes)', create: sentimentDataset },
};

/** The share of the most frequent label: the accuracy of always answering the majority class. */
export function majorityBaseline(labels: readonly number[], classes: number): { accuracy: number; label: number } {
  const counts = new Array<number>(classes).fill(0);
  for (const l of labels) counts[l]++;
  const top = Math.max(...counts);
  return { accuracy: labels.length ? top / labels.length : 0, label: counts.indexOf(top) };
}
