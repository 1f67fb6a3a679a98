import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { namesDataset, splitDocuments, textCorpusDataset } from './corpus';
import { type Batch, DatasetError } from './dataset';
import { Rng } from './rng';

const namesText = readFileSync(new URL('../../../public/datasets/names.txt', import.meta.url), 'utf8');

/** `count` (< 676) distinct short documents of lowercase letters. */
function makeDocuments(count: number): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return Array.from({ length: count }, (_, i) => `${letters[i % 26]}${letters[Math.floor(i / 26) % 26]}${'xyz'.slice(0, (i % 3) + 1)}`);
}

function rows(batch: Batch, T: number): { inputs: number[]; targets: number[] }[] {
  const result = [];
  for (let start = 0; start < batch.inputs.length; start += T) {
    result.push({
      inputs: Array.from(batch.inputs.subarray(start, start + T)),
      targets: Array.from(batch.targets.subarray(start, start + T)),
    });
  }
  return result;
}

describe('splitDocuments', () => {
  it('normalises line ends and drops blank lines', () => {
    expect(splitDocuments('\uFEFFab\r\ncd\r\n\r\n   \n\tef\rgh\n')).toEqual(['ab', 'cd', '\tef', 'gh']);
  });
});

describe('textCorpusDataset', () => {
  const documents = makeDocuments(200);
  const text = documents.join('\n') + '\n';

  it('splits documents 90/10 into disjoint sets covering the whole corpus', () => {
    const dataset = textCorpusDataset('toy', text);
    expect(dataset.validationDocuments.length).toBe(20); // 10% of 200
    expect(dataset.trainDocuments.length).toBe(180);
    const validation = new Set(dataset.validationDocuments);
    expect(dataset.trainDocuments.some((doc) => validation.has(doc))).toBe(false);
    expect([...dataset.trainDocuments, ...dataset.validationDocuments].sort()).toEqual([...documents].sort());
  });

  it('keeps at least one document on each side of small corpora', () => {
    for (const count of [2, 3, 4]) {
      const dataset = textCorpusDataset('small', makeDocuments(count).join('\n'));
      expect(dataset.validationDocuments.length).toBe(1);
      expect(dataset.trainDocuments.length).toBe(count - 1);
    }
  });

  it('splits deterministically: the same text always gives the same split and validation set', () => {
    const first = textCorpusDataset('toy', text);
    // Training draws in between must not influence anything the second instance produces.
    first.trainBatch(new Rng(1), 8, 16);
    const second = textCorpusDataset('toy', text);
    expect(second.validationDocuments).toEqual(first.validationDocuments);
    expect(second.trainDocuments).toEqual(first.trainDocuments);
    expect(second.valBatches(3, 4, 16)).toEqual(first.valBatches(3, 4, 16));
    expect(first.valBatches(3, 4, 16)).toEqual(first.valBatches(3, 4, 16));
  });

  it('never puts a validation document into a training batch, whatever the run seed', () => {
    const dataset = textCorpusDataset('toy', text);
    const validation = new Set(dataset.validationDocuments);
    const train = new Set(dataset.trainDocuments);
    const T = 24;
    for (const seed of [0, 1, 2, 12345, 0xffffffff]) {
      const rng = new Rng(seed);
      for (let step = 0; step < 20; step++) {
        for (const row of rows(dataset.trainBatch(rng, 8, T), T)) {
          const window = dataset.tokenizer.decode([...row.inputs, row.targets[T - 1]]);
          const pieces = window.split('\n');
          // Pieces between two separators are whole documents.
          for (const piece of pieces.slice(1, -1)) {
            expect(validation.has(piece)).toBe(false);
            expect(train.has(piece)).toBe(true);
          }
        }
      }
    }
  });

  it('training targets are the inputs shifted by one, from a window of the training stream', () => {
    const dataset = textCorpusDataset('toy', text);
    const trainDocs = dataset.trainDocuments;
    const T = 16;
    const batch = dataset.trainBatch(new Rng(42), 32, T);
    expect(batch.inputs.length).toBe(32 * T);
    expect(batch.targets.length).toBe(32 * T);
    for (const row of rows(batch, T)) {
      for (let t = 0; t < T - 1; t++) expect(row.targets[t]).toBe(row.inputs[t + 1]);
      expect(row.targets[T - 1]).toBeGreaterThanOrEqual(0);
      const pieces = dataset.tokenizer.decode([...row.inputs, row.targets[T - 1]]).split('\n');
      // A window cut from the stream begins inside (the end of) a document and ends inside (the
      // start of) one.
      expect(trainDocs.some((doc) => doc.endsWith(pieces[0]))).toBe(true);
      expect(trainDocs.some((doc) => doc.startsWith(pieces[pieces.length - 1]))).toBe(true);
    }
  });

  it('draws training batches deterministically from the rng', () => {
    const dataset = textCorpusDataset('toy', text);
    expect(dataset.trainBatch(new Rng(9), 4, 16)).toEqual(dataset.trainBatch(new Rng(9), 4, 16));
    expect(dataset.trainBatch(new Rng(9), 4, 16)).not.toEqual(dataset.trainBatch(new Rng(10), 4, 16));
  });

  it('validation windows tile the validation stream, score each character once, then wrap', () => {
    const dataset = textCorpusDataset('toy', text);
    const stream = '\n' + dataset.validationDocuments.map((doc) => doc + '\n').join('');
    const T = 7;
    const windowsPerPass = Math.ceil((stream.length - 1) / T);
    const batches = dataset.valBatches(windowsPerPass + 2, 1, T);
    let scored = '';
    for (const batch of batches.slice(0, windowsPerPass)) {
      const [row] = rows(batch, T);
      for (let t = 0; t < T - 1; t++) {
        if (row.targets[t] !== -1) expect(row.targets[t]).toBe(row.inputs[t + 1]);
      }
      scored += dataset.tokenizer.decode(row.targets.filter((id) => id !== -1));
    }
    expect(scored).toBe(stream.slice(1));
    expect(batches[windowsPerPass]).toEqual(batches[0]);
    expect(batches[windowsPerPass + 1]).toEqual(batches[1]);
    expect(dataset.tokenizer.decode(rows(batches[0], T)[0].inputs)).toBe(stream.slice(0, T));
  });

  it('normalises \\r\\n and keeps \\n (not \\r) in the vocabulary', () => {
    const dataset = textCorpusDataset('crlf', 'ab\r\ncd\r\n\r\nef\r\n');
    expect(dataset.tokenizer.chars).toEqual(['\n', 'a', 'b', 'c', 'd', 'e', 'f']);
    expect([...dataset.trainDocuments, ...dataset.validationDocuments].sort()).toEqual(['ab', 'cd', 'ef']);
  });

  it('starts and ends samples at the line break', () => {
    const dataset = textCorpusDataset('toy', text);
    expect(dataset.tokenizer.decode([dataset.sampleStart()])).toBe('\n');
    expect(dataset.isSampleEnd(dataset.tokenizer.idOf('\n'))).toBe(true);
    expect(dataset.isSampleEnd(dataset.tokenizer.idOf('a'))).toBe(false);
    expect(dataset.task).toBeUndefined();
  });

  it('rejects empty text', () => {
    for (const empty of ['', '\n\n', '\r\n  \n\t\n']) {
      expect(() => textCorpusDataset('blank', empty)).toThrow(DatasetError);
      expect(() => textCorpusDataset('blank', empty)).toThrow(/dataset "blank" is empty/);
    }
    expect(() => textCorpusDataset('one', 'just one line\n')).toThrow(DatasetError);
  });

  it('rejects a context too long for the text, saying how long each part is', () => {
    // 20 one-letter documents: 2 for validation ('\na\na\n' = 5 characters), 18 for training
    // (1 + 18 * 2 = 37 characters).
    const dataset = textCorpusDataset('tiny', 'a\n'.repeat(20));
    expect(() => dataset.valBatches(1, 1, 10)).toThrow(DatasetError);
    expect(() => dataset.valBatches(1, 1, 10)).toThrow(
      'dataset "tiny" has 5 characters of validation text but context 10 needs 11; use a larger file or a shorter --context',
    );
    expect(() => dataset.valBatches(1, 1, 4)).not.toThrow();
    expect(() => dataset.trainBatch(new Rng(0), 1, 37)).toThrow(/37 characters of training text but context 37 needs 38/);
    expect(() => dataset.trainBatch(new Rng(0), 1, 36)).not.toThrow();
  });

  it('rejects invalid batch shapes', () => {
    const dataset = textCorpusDataset('toy', text);
    expect(() => dataset.trainBatch(new Rng(0), 0, 8)).toThrow(DatasetError);
    expect(() => dataset.trainBatch(new Rng(0), 2, 1.5)).toThrow(DatasetError);
    expect(() => dataset.valBatches(-1, 2, 8)).toThrow(DatasetError);
  });
});

describe('namesDataset', () => {
  const dataset = namesDataset(namesText);

  it('is the names corpus with a 54-character vocabulary', () => {
    expect(dataset.name).toBe('names');
    expect(dataset.description).toMatch(/first names/);
    expect(dataset.tokenizer.vocabSize).toBe(54);
    const total = dataset.trainDocuments.length + dataset.validationDocuments.length;
    expect(total).toBe(namesText.trim().split('\n').length);
    expect(dataset.validationDocuments.length).toBe(Math.round(total / 10));
  });

  it('draws validation names from across the alphabet and shuffles the training stream', () => {
    // names.txt is sorted: a split that took the first or last 10% of lines would validate on names
    // starting with one or two letters only.
    const initials = new Set(dataset.validationDocuments.map((name) => name[0]));
    expect(initials.size).toBeGreaterThan(15);
    const sorted = [...dataset.trainDocuments].sort();
    const inPlace = dataset.trainDocuments.filter((name, i) => name === sorted[i]).length;
    expect(inPlace).toBeLessThan(dataset.trainDocuments.length / 100);
  });

  it('gives shifted targets on the real corpus', () => {
    const T = 32;
    const batch = dataset.trainBatch(new Rng(1), 16, T);
    for (const row of rows(batch, T)) {
      for (let t = 0; t < T - 1; t++) expect(row.targets[t]).toBe(row.inputs[t + 1]);
    }
  });
});
