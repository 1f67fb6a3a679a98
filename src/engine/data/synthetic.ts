// Synthetic tasks: small algorithmic problems generated in code. Each training sequence is
// `prompt + answer + '\n'`, padded with '_' to T+1 characters, and only the answer characters and the
// final '\n' are scored: the model is graded on solving the problem, not on predicting random
// prompts. A generated completion can then be checked exactly (task.prompt), which gives an accuracy
// that is easier to read than a loss.

import { DEFAULT_PRESET, PRESETS } from '../config';
import {
  type Batch,
  type Dataset,
  DatasetError,
  type TaskProblem,
  UNSCORED_TARGET,
  checkBatchCount,
  checkBatchShape,
} from './dataset';
import { Rng } from './rng';
import { CharTokenizer } from './tokenizer';

/** Ends every answer; generation stops there. */
export const ANSWER_END = '\n';
/** Fills a sequence after the answer's end up to T+1 characters; never scored. */
export const PAD = '_';

/** Seed of the validation problems (and of the addmod train/validation split): fixed, not the run
 *  seed, so that every run on a task is validated on the same problems. */
export const SYNTHETIC_VALIDATION_SEED = 0x7a5c0de5;

/** Context length assumed by task.prompt when the caller does not give one. */
const DEFAULT_TASK_CONTEXT_LENGTH = PRESETS[DEFAULT_PRESET].contextLength;

const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';

/** What distinguishes one task from another; syntheticDataset does the rest. */
interface SyntheticTaskSpec {
  name: string;
  description: string;
  /** Every character prompts and answers use (ANSWER_END and PAD are added). */
  alphabet: string;
  /** The shortest T for which every problem fits in T+1 characters. */
  minContextLength: number;
  /** A problem whose sequence fits in contextLength+1 characters. */
  trainProblem(rng: Rng, contextLength: number): TaskProblem;
  /** Problems of the validation set and of task.prompt. The same distribution as trainProblem,
   *  except where a task holds problems out of training (addmod). */
  validationProblem(rng: Rng, contextLength: number): TaskProblem;
}

function codePointLength(text: string): number {
  let count = 0;
  for (const _char of text) count++;
  return count;
}

function syntheticDataset(spec: SyntheticTaskSpec): Dataset {
  const tokenizer = CharTokenizer.fromText(spec.alphabet + ANSWER_END + PAD);
  const endId = tokenizer.idOf(ANSWER_END);

  function requireContext(contextLength: number): void {
    if (contextLength < spec.minContextLength) {
      throw new DatasetError(
        `task "${spec.name}" needs a context of at least ${spec.minContextLength} characters to fit its problems, got ${contextLength}; use a longer --context`,
      );
    }
  }

  /** Writes one problem as row `row` of a batch. */
  function writeRow(problem: TaskProblem, T: number, row: number, batch: Batch): void {
    const sequence = problem.prompt + problem.answer + ANSWER_END;
    const sequenceLength = codePointLength(sequence);
    if (sequenceLength > T + 1) {
      throw new Error(
        `task "${spec.name}" made a ${sequenceLength}-character problem for context ${T}; its size rule is wrong`,
      );
    }
    const ids = tokenizer.encode(sequence + PAD.repeat(T + 1 - sequenceLength));
    const promptLength = codePointLength(problem.prompt);
    // Input position t predicts sequence[t + 1]; score the predictions of answer characters and
    // of the final ANSWER_END, i.e. sequence positions promptLength .. sequenceLength-1.
    const firstScored = promptLength - 1;
    const lastScored = sequenceLength - 2;
    const base = row * T;
    for (let t = 0; t < T; t++) {
      batch.inputs[base + t] = ids[t];
      batch.targets[base + t] = t >= firstScored && t <= lastScored ? ids[t + 1] : UNSCORED_TARGET;
    }
  }

  function trainBatch(rng: Rng, B: number, T: number): Batch {
    checkBatchShape(spec.name, B, T);
    requireContext(T);
    const batch = { inputs: new Int32Array(B * T), targets: new Int32Array(B * T) };
    for (let row = 0; row < B; row++) writeRow(spec.trainProblem(rng, T), T, row, batch);
    return batch;
  }

  function valBatches(count: number, B: number, T: number): Batch[] {
    checkBatchCount(spec.name, count);
    checkBatchShape(spec.name, B, T);
    requireContext(T);
    const rng = new Rng(SYNTHETIC_VALIDATION_SEED).fork(`validation:${spec.name}`);
    const batches: Batch[] = [];
    for (let index = 0; index < count; index++) {
      const batch = { inputs: new Int32Array(B * T), targets: new Int32Array(B * T) };
      for (let row = 0; row < B; row++) writeRow(spec.validationProblem(rng, T), T, row, batch);
      batches.push(batch);
    }
    return batches;
  }

  return {
    name: spec.name,
    description: spec.description,
    tokenizer,
    trainBatch,
    valBatches,
    // Samples of a task start from a prompt (task.prompt); the separator is the nearest thing to a
    // start token and keeps the contract the same as for corpora.
    sampleStart: () => endId,
    isSampleEnd: (token: number) => token === endId,
    task: {
      prompt(rng: Rng, contextLength: number = DEFAULT_TASK_CONTEXT_LENGTH): TaskProblem {
        requireContext(contextLength);
        return spec.validationProblem(rng, contextLength);
      },
    },
  };
}

/** The longest string of a `string>answer` task that fits: 2L + 2 ≤ T + 1 (string, '>', answer of
 *  the same length, '\n'). */
function longestStringFor(contextLength: number): number {
  return Math.floor((contextLength - 1) / 2);
}

function randomString(rng: Rng, alphabet: string, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet[rng.nextInt(alphabet.length)];
  return text;
}

/** A string of uniformly random length 1..L and uniformly random characters. */
function randomStringFor(rng: Rng, alphabet: string, contextLength: number): string {
  return randomString(rng, alphabet, 1 + rng.nextInt(longestStringFor(contextLength)));
}

export const REVERSE_DESCRIPTION =
  'Reverse a random lowercase string: abc>cba. Strings are 1 to (T-1)/2 letters long.';

export function reverseDataset(): Dataset {
  const reverseProblem = (rng: Rng, contextLength: number): TaskProblem => {
    const text = randomStringFor(rng, LOWERCASE, contextLength);
    let reversed = '';
    for (let i = text.length - 1; i >= 0; i--) reversed += text[i];
    return { prompt: `${text}>`, answer: reversed };
  };
  return syntheticDataset({
    name: 'reverse',
    description: REVERSE_DESCRIPTION,
    alphabet: `${LOWERCASE}>`,
    minContextLength: 3, // 'a>a\n'
    trainProblem: reverseProblem,
    validationProblem: reverseProblem,
  });
}

export const SORT_DESCRIPTION =
  'Sort the digits of a random digit string: 3141>1134. Strings are 1 to (T-1)/2 digits long.';

export function sortDataset(): Dataset {
  const sortProblem = (rng: Rng, contextLength: number): TaskProblem => {
    const digits = randomStringFor(rng, DIGITS, contextLength);
    // Counting sort: the answer is each digit repeated as often as it occurs, in digit order.
    const counts = new Array<number>(10).fill(0);
    for (const digit of digits) counts[digit.charCodeAt(0) - 48]++;
    const sorted = counts.map((count, digit) => String(digit).repeat(count)).join('');
    return { prompt: `${digits}>`, answer: sorted };
  };
  return syntheticDataset({
    name: 'sort',
    description: SORT_DESCRIPTION,
    alphabet: `${DIGITS}>`,
    minContextLength: 3, // '7>7\n'
    trainProblem: sortProblem,
    validationProblem: sortProblem,
  });
}

export const DEFAULT_MODULUS = 97;
/** Bounds the pair table (modulus² entries). */
export const MAX_MODULUS = 1000;
/** Share of the modulus² (a, b) pairs held out of training. */
export const ADDMOD_VALIDATION_FRACTION = 0.1;

export interface AddModOptions {
  /** P in a + b = (a + b) mod P; default 97. */
  modulus?: number;
}

export function addModDescription(modulus: number): string {
  return (
    `Modular addition: a+b=c with a, b in [0, ${modulus}) and c = (a + b) mod ${modulus}, e.g. ` +
    `${modulus - 1}+2=1. ${Math.round(ADDMOD_VALIDATION_FRACTION * 100)}% of the pairs are never ` +
    'trained on; validation and task prompts use only those, so they measure generalisation.'
  );
}

export function addModDataset(opts: AddModOptions = {}): Dataset {
  const modulus = opts.modulus ?? DEFAULT_MODULUS;
  if (!Number.isInteger(modulus) || modulus < 2 || modulus > MAX_MODULUS) {
    throw new DatasetError(
      `task "addmod": modulus must be an integer in [2, ${MAX_MODULUS}], got ${modulus}`,
    );
  }
  // There are only modulus² problems, so a training run sees all of them many times over; a
  // validation set drawn from the same pairs would measure memorisation. Hold a fixed share of the
  // pairs out instead (pair index = a * modulus + b).
  const pairs = new Int32Array(modulus * modulus);
  for (let i = 0; i < pairs.length; i++) pairs[i] = i;
  new Rng(SYNTHETIC_VALIDATION_SEED).fork('split:addmod').shuffle(pairs);
  const validationCount = Math.min(
    pairs.length - 1,
    Math.max(1, Math.round(ADDMOD_VALIDATION_FRACTION * pairs.length)),
  );
  const validationPairs = pairs.subarray(0, validationCount);
  const trainPairs = pairs.subarray(validationCount);

  const problemOfPair = (pair: number): TaskProblem => {
    const a = Math.floor(pair / modulus);
    const b = pair % modulus;
    return { prompt: `${a}+${b}=`, answer: String((a + b) % modulus) };
  };
  const largest = String(modulus - 1);
  return syntheticDataset({
    name: 'addmod',
    description: addModDescription(modulus),
    alphabet: `${DIGITS}+=`,
    // The longest sequence, 'a+b=c\n' with three numbers of the most digits, must fit in T+1.
    minContextLength: `${largest}+${largest}=${largest}${ANSWER_END}`.length - 1,
    trainProblem: (rng) => problemOfPair(trainPairs[rng.nextInt(trainPairs.length)]),
    validationProblem: (rng) => problemOfPair(validationPairs[rng.nextInt(validationPairs.length)]),
  });
}

export interface SyntheticTaskEntry {
  description: string;
  create(): Dataset;
}

/** The synthetic tasks by dataset name, with their default settings. */
export const SYNTHETIC_TASKS: Record<string, SyntheticTaskEntry> = {
  reverse: { description: REVERSE_DESCRIPTION, create: reverseDataset },
  sort: { description: SORT_DESCRIPTION, create: sortDataset },
  addmod: { description: addModDescription(DEFAULT_MODULUS), create: () => addModDataset() },
};

/** Names a run config may use for a built-in dataset: the bundled names corpus and the tasks. */
export function bundledDatasetNames(): string[] {
  return ['names', ...Object.keys(SYNTHETIC_TASKS)];
}
