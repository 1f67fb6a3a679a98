// What every dataset offers the trainer: training batches drawn from a seeded generator, a fixed
// validation set, and the tokens that start and end a generated sample.

import type { Rng } from './rng';
import type { CharTokenizer } from './tokenizer';

/** The target value of a position whose prediction is not scored (prompt characters and padding
 *  of synthetic tasks, already-scored overlap of validation windows). */
export const UNSCORED_TARGET = -1;

/** B sequences of T tokens, row-major ([b * T + t]). targets[i] is the token that should follow
 *  inputs[i], or UNSCORED_TARGET (-1) where the position is not scored. */
export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
  /** Translation datasets (encoder-decoder): B source sequences of S tokens, row-major. */
  sources?: Int32Array;
}

/** What a dataset trains: next-token prediction (the decoder), classification from a CLS token (the
 *  encoder-only classifier, data/classify.ts), or translation (the encoder-decoder, data/translate.ts). */
export type DatasetKind = 'language-model' | 'classification' | 'translation';

/** A prompt and its correct completion. The completion is followed by '\n' in training, so
 *  generation stops at the dataset's sample end. */
export interface TaskProblem {
  prompt: string;
  answer: string;
}

export interface Dataset {
  name: string;
  /** Absent: 'language-model'. */
  kind?: DatasetKind;
  description: string;
  tokenizer: CharTokenizer;
  /** A fresh training batch of B sequences of length T, drawn with rng (deterministic for a given rng
   *  state). Translation datasets also fill `sources` with B sequences of S tokens. */
  trainBatch(rng: Rng, B: number, T: number, S?: number): Batch;
  /** The fixed validation set: `count` batches, identical on every call with the same arguments (independent of any run seed). */
  valBatches(count: number, B: number, T: number, S?: number): Batch[];
  /** The token that fills a sequence after its end, up to the batch's length (classification and
   *  translation datasets pad this way; absent where sequences are never padded). The encoder's
   *  self-attention and cross-attention give no weight to the keys past a sequence's last token that
   *  is not this one (the key padding mask: model/gpt.ts, model/encdec.ts). */
  padToken?: number;
  /** For generation: the token that starts a sample, and whether a token ends one. */
  sampleStart(): number;
  isSampleEnd(token: number): boolean;
  /** Synthetic tasks: problems whose generated completion can be scored against `answer`;
   *  undefined for plain corpora. contextLength is the T the model was trained with: problem sizes
   *  depend on it (omitted: the default preset's context length). */
  task?: { prompt(rng: Rng, contextLength?: number): TaskProblem };
}

/** A problem with a dataset that the user can fix: the message says what is wrong and what to do. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** Tokens in one batch above which no typed array is allocated (2^28 tokens: 1 GiB per Int32Array).
 *  Far beyond any model that trains in a browser; a config this large is a typo, and without the check
 *  it would surface as a RangeError from the Int32Array constructor. */
export const MAX_BATCH_TOKENS = 2 ** 28;

/** Checks the batch shape arguments every dataset method takes. */
export function checkBatchShape(datasetName: string, batchSize: number, contextLength: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DatasetError(
      `dataset "${datasetName}": batch size must be a positive integer, got ${batchSize}`,
    );
  }
  if (!Number.isInteger(contextLength) || contextLength < 1) {
    throw new DatasetError(
      `dataset "${datasetName}": context length must be a positive integer, got ${contextLength}`,
    );
  }
  if (batchSize * contextLength > MAX_BATCH_TOKENS) {
    throw new DatasetError(
      `dataset "${datasetName}": batch ${batchSize} × context ${contextLength} = ${batchSize * contextLength} tokens per batch is more than ${MAX_BATCH_TOKENS}; use a smaller batch or context`,
    );
  }
}

export function checkBatchCount(datasetName: string, count: number): void {
  if (!Number.isInteger(count) || count < 0) {
    throw new DatasetError(
      `dataset "${datasetName}": the number of validation batches must be a non-negative integer, got ${count}`,
    );
  }
}
