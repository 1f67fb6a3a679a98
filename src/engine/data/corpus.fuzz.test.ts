// Fuzz tests of reading a user's text into a dataset (corpus.ts, open.ts): any file a user points the
// CLI at (empty, binary, in the wrong encoding, one enormous line, too short for the context) must
// either give a dataset whose batches hold valid token ids, or one DatasetError that says what to fix.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { textCorpusDataset } from './corpus';
import { type Batch, type Dataset, DatasetError, UNSCORED_TARGET } from './dataset';
import { openDataset } from './open';
import { Rng } from './rng';

const RUNS = { numRuns: 1000 };

function datasetError(run: () => unknown): DatasetError | null {
  try {
    run();
    return null;
  } catch (e) {
    if (!(e instanceof DatasetError)) throw new Error(`threw ${String(e)} instead of a DatasetError`);
    expect(e.message.trim()).not.toBe('');
    return e;
  }
}

function expectDatasetError(run: () => unknown, says: RegExp): void {
  const e = datasetError(run);
  expect(e, `expected a DatasetError matching ${says}`).not.toBeNull();
  expect(e!.message).toMatch(says);
}

function expectValidBatch(b: Batch, B: number, T: number, vocabSize: number): void {
  expect(b.inputs).toHaveLength(B * T);
  expect(b.targets).toHaveLength(B * T);
  // One expect per batch, not per token: a huge-line batch holds tens of thousands.
  const badInput = b.inputs.findIndex((id) => !(id >= 0 && id < vocabSize));
  const badTarget = b.targets.findIndex((id) => !(id === UNSCORED_TARGET || (id >= 0 && id < vocabSize)));
  expect([badInput, badTarget]).toEqual([-1, -1]);
}

/** Draws batches of a shape; returns the DatasetError if the dataset refuses that shape. */
function tryBatches(d: Dataset, B: number, T: number): DatasetError | null {
  return datasetError(() => {
    expectValidBatch(d.trainBatch(new Rng(1), B, T), B, T, d.tokenizer.vocabSize);
    for (const b of d.valBatches(2, B, T)) expectValidBatch(b, B, T, d.tokenizer.vocabSize);
  });
}

const codePoints = (s: string) => [...s].length;

/** A line of real text: any Unicode characters (astral ones included), none that ends a line or marks
 *  a file as not text, and not blank. */
const textLine = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 24 })
  .map((s) => s.replace(/[\n\r\u0000\uFFFD\u2028\u2029]/g, 'x'))
  .filter((s) => s.trim() !== '');
const lineEnd = fc.constantFrom('\n', '\r\n', '\r');
/** Lines joined the ways editors write them, with blank lines and a trailing newline here and there. */
const textFile = fc
  .tuple(fc.array(fc.tuple(textLine, lineEnd, fc.boolean()), { minLength: 2, maxLength: 16 }), fc.boolean())
  .map(([lines, bom]) => ({
    lines: lines.map(([l]) => l),
    text: (bom ? '\uFEFF' : '') + lines.map(([l, end, blank]) => l + end + (blank ? ' \t' + end : '')).join(''),
  }));

/** Lengths of the two token streams: '\n' + each document + '\n'. */
function streamLengths(d: ReturnType<typeof textCorpusDataset>): { train: number; validation: number } {
  const length = (docs: readonly string[]) => 1 + docs.reduce((a, doc) => a + codePoints(doc) + 1, 0);
  return { train: length(d.trainDocuments), validation: length(d.validationDocuments) };
}

describe('textCorpusDataset (fuzz)', () => {
  it('reads any text file of two or more lines, and serves batches for every context it holds', () => {
    fc.assert(
      fc.property(textFile, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 400 }), ({ lines, text }, B, T) => {
        const d = textCorpusDataset('user.txt', text);
        expect(d.trainDocuments.length + d.validationDocuments.length).toBe(lines.length);
        const { train, validation } = streamLengths(d);
        const refused = tryBatches(d, B, T);
        if (T + 1 <= Math.min(train, validation)) expect(refused).toBeNull();
        else expect(refused?.message).toMatch(/characters of (training|validation) text but context \d+ needs \d+; use a larger file or a shorter --context/);
      }),
      RUNS,
    );
  });

  it('never throws anything but a DatasetError on arbitrary text, and its batches hold valid ids', () => {
    const arbitrary = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: fc.constantFrom('a', 'b', '\n', '\r', ' ', '\t', '\u0000', '\uFEFF', '\uFFFD', '\uD800', '\uDC00', '😀'), maxLength: 60 }),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => new TextDecoder().decode(bytes)),
    );
    fc.assert(
      fc.property(arbitrary, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 16 }), (text, B, T) => {
        let d: Dataset | null = null;
        datasetError(() => (d = textCorpusDataset('any.bin', text)));
        if (d) tryBatches(d, B, T);
      }),
      RUNS,
    );
  });

  it('rejects empty and single-line files, saying how many lines it needs', () => {
    const blank = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\r\n', '\uFEFF', '\u00a0'), maxLength: 20 });
    const single = fc.tuple(blank, textLine, blank).map(([a, line, b]) => a.replace(/[^\n\r]/g, '') + line + b.replace(/[^\n\r]/g, ''));
    fc.assert(
      fc.property(fc.oneof(blank.map((t) => ({ t, empty: true })), single.map((t) => ({ t, empty: false }))), ({ t, empty }) => {
        expectDatasetError(() => textCorpusDataset('short.txt', t), empty ? /dataset "short.txt" is empty: it has no non-empty lines/ : /has only 1 non-empty line, but at least 2 are needed/);
      }),
      RUNS,
    );
  });

  it('rejects binary files, text that is not UTF-8 and unpaired surrogates, naming the line', () => {
    const bad = fc.constantFrom(
      { insert: '\u0000', says: /looks like a binary file, not text: it has a NUL character on line (\d+)/ },
      { insert: '\uFFFD', says: /is not valid UTF-8: line (\d+) has bytes that do not decode/ },
      { insert: '\uD83D', says: /is not valid Unicode text: line (\d+) has an unpaired surrogate U\+D[89AB]/ },
      { insert: '\uDE00', says: /is not valid Unicode text: line (\d+) has an unpaired surrogate U\+D[C-F]/ },
    );
    fc.assert(
      fc.property(textFile, bad, fc.nat(), ({ text }, { insert, says }, at) => {
        // Keep astral characters whole so the inserted unit is the only broken one.
        const units = [...text];
        const i = at % (units.length + 1);
        const broken = [...units.slice(0, i), insert, ...units.slice(i)].join('');
        const e = datasetError(() => textCorpusDataset('upload.bin', broken));
        expect(e?.message).toMatch(says);
        const lineOfInsert = units.slice(0, i).join('').split('\n').length;
        // A '\r' line end counts as a line break for documents but not for the line number; only
        // check the number where the file uses '\n'.
        if (!text.includes('\r')) expect(Number(says.exec(e!.message)![1])).toBe(lineOfInsert);
      }),
      RUNS,
    );
  });

  it('reads huge lines, and refuses a context longer than the text', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 20_000 }), fc.integer({ min: 1, max: 50 }), fc.constantFrom('a', 'é', '😀'), (n, m, ch) => {
        const d = textCorpusDataset('long.txt', `${ch.repeat(n)}\n${'b'.repeat(m)}\n`);
        const { train, validation } = streamLengths(d);
        expect(Math.max(train, validation)).toBeGreaterThan(n);
        expect(tryBatches(d, 1, Math.min(train, validation) - 1)).toBeNull();
        expectDatasetError(() => d.trainBatch(new Rng(0), 1, train), /context \d+ needs \d+/);
      }),
      RUNS,
    );
    // One line of 4 million characters: a single document still needs a second one.
    const huge = 'x'.repeat(4_000_000);
    expectDatasetError(() => textCorpusDataset('huge.txt', huge), /only 1 non-empty line/);
    expect(textCorpusDataset('huge.txt', `${huge}\nyz\n`).tokenizer.vocabSize).toBe(4);
  });

  it('refuses batch shapes that are not positive integers or too large to allocate', () => {
    const d = textCorpusDataset('shapes.txt', 'hello\nworld\nagain\n');
    const badInt = fc.oneof(fc.integer({ max: 0 }), fc.double({ noNaN: false }).filter((x) => !Number.isInteger(x)), fc.constant(Number.POSITIVE_INFINITY));
    const shape = fc.oneof(
      fc.tuple(badInt, fc.integer({ min: 1, max: 4 })),
      fc.tuple(fc.integer({ min: 1, max: 4 }), badInt),
      fc.tuple(fc.integer({ min: 2 ** 15, max: 2 ** 20 }), fc.integer({ min: 2 ** 14, max: 2 ** 20 })),
    );
    fc.assert(
      fc.property(shape, fc.boolean(), ([B, T], validation) => {
        expectDatasetError(() => (validation ? d.valBatches(1, B, T) : d.trainBatch(new Rng(0), B, T)), /batch size must be|context length must be|tokens per batch is more than/);
      }),
      RUNS,
    );
  });
});

describe('openDataset (fuzz)', () => {
  it('opens bundled names, tasks and user files by any name, or says why not', async () => {
    const name = fc.oneof(
      fc.constantFrom('names', 'reverse', 'sort', 'addmod', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '', '/', 'a/b\\c.txt'),
      fc.string({ maxLength: 12 }),
    );
    const text = fc.oneof(textFile.map((f) => f.text), fc.string({ unit: 'binary', maxLength: 40 }));
    await fc.assert(
      fc.asyncProperty(name, text, async (n, t) => {
        try {
          const d = await openDataset(n, async () => t);
          expect(d.tokenizer.vocabSize).toBeGreaterThan(0);
        } catch (e) {
          if (!(e instanceof DatasetError)) throw new Error(`openDataset(${JSON.stringify(n)}) threw ${String(e)} instead of a DatasetError`);
          expect(e.message.trim()).not.toBe('');
        }
      }),
      RUNS,
    );
  });
});
