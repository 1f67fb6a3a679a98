import { describe, expect, it } from 'vitest';
import { type Batch, type Dataset, DatasetError } from './dataset';
import { Rng } from './rng';
import { SYNTHETIC_TASKS, addModDataset, bundledDatasetNames } from './synthetic';

/** Each task's rule, computed here independently of the implementation, and the shape of a valid
 *  prompt. */
const oracles: Record<string, { promptPattern: RegExp; solve(prompt: string): string }> = {
  reverse: {
    promptPattern: /^[a-z]+>$/,
    solve: (prompt) => Array.from(prompt.slice(0, -1)).reverse().join(''),
  },
  sort: {
    promptPattern: /^[0-9]+>$/,
    solve: (prompt) => Array.from(prompt.slice(0, -1)).sort().join(''),
  },
  addmod: {
    // Decimal without leading zeros, both operands below 97.
    promptPattern: /^(0|[1-9][0-9]?)\+(0|[1-9][0-9]?)=$/,
    solve: (prompt) => {
      const [a, b] = prompt.slice(0, -1).split('+').map(Number);
      expect(a).toBeLessThan(97);
      expect(b).toBeLessThan(97);
      const sum = a + b;
      return String(sum >= 97 ? sum - 97 : sum);
    },
  },
};

/** Checks every row of a batch: the input is prompt + answer + '\n' + '_' padding, and exactly the
 *  predictions of the answer characters and of the '\n' are scored, with the right characters.
 *  Returns the prompts. */
function checkBatch(dataset: Dataset, batch: Batch, B: number, T: number): string[] {
  const oracle = oracles[dataset.name];
  const { tokenizer } = dataset;
  expect(batch.inputs.length).toBe(B * T);
  expect(batch.targets.length).toBe(B * T);
  const prompts: string[] = [];
  for (let row = 0; row < B; row++) {
    const inputs = batch.inputs.subarray(row * T, (row + 1) * T);
    const targets = batch.targets.subarray(row * T, (row + 1) * T);
    const text = tokenizer.decode(inputs);
    const promptLength = text.search(/[>=]/) + 1;
    expect(promptLength).toBeGreaterThan(1);
    const prompt = text.slice(0, promptLength);
    expect(prompt).toMatch(oracle.promptPattern);
    const answer = oracle.solve(prompt);
    const sequence = (prompt + answer + '\n').padEnd(T + 1, '_');
    expect(sequence.length).toBe(T + 1); // the problem fits the context
    expect(text).toBe(sequence.slice(0, T));
    const scored = [];
    for (let t = 0; t < T; t++) {
      const predicted = t + 1; // input position t predicts sequence[t + 1]
      const shouldScore = predicted >= promptLength && predicted <= promptLength + answer.length;
      if (shouldScore) {
        expect(targets[t]).toBe(tokenizer.idOf(sequence[predicted]));
        scored.push(targets[t]);
      } else {
        expect(targets[t]).toBe(-1);
      }
    }
    expect(tokenizer.decode(scored)).toBe(answer + '\n');
    prompts.push(prompt);
  }
  return prompts;
}

describe('synthetic tasks', () => {
  it('are listed with the names corpus as bundled datasets', () => {
    expect(bundledDatasetNames()).toEqual(['names', 'reverse', 'sort', 'addmod']);
    for (const [name, entry] of Object.entries(SYNTHETIC_TASKS)) {
      const dataset = entry.create();
      expect(dataset.name).toBe(name);
      expect(dataset.description).toBe(entry.description);
      expect(dataset.task).toBeDefined();
    }
  });

  it('have small fixed vocabularies with the line break and the pad', () => {
    const expected: Record<string, string> = {
      reverse: '\n>_abcdefghijklmnopqrstuvwxyz',
      sort: '\n0123456789>_',
      addmod: '\n+0123456789=_',
    };
    for (const [name, entry] of Object.entries(SYNTHETIC_TASKS)) {
      const dataset = entry.create();
      expect(dataset.tokenizer.chars.join('')).toBe(expected[name]);
      expect(dataset.tokenizer.decode([dataset.sampleStart()])).toBe('\n');
      expect(dataset.isSampleEnd(dataset.tokenizer.idOf('\n'))).toBe(true);
      expect(dataset.isSampleEnd(dataset.tokenizer.idOf('_'))).toBe(false);
    }
  });

  for (const name of Object.keys(SYNTHETIC_TASKS)) {
    describe(name, () => {
      const dataset = SYNTHETIC_TASKS[name].create();

      it('training batches spell the correct answer in exactly the scored targets', () => {
        const rng = new Rng(2024);
        for (const T of [8, 9, 16, 33]) {
          for (let step = 0; step < 10; step++) checkBatch(dataset, dataset.trainBatch(rng, 16, T), 16, T);
        }
      });

      it('validation batches are correct and identical on every call and instance', () => {
        const batches = dataset.valBatches(4, 8, 16);
        for (const batch of batches) checkBatch(dataset, batch, 8, 16);
        dataset.trainBatch(new Rng(5), 8, 16);
        expect(dataset.valBatches(4, 8, 16)).toEqual(batches);
        expect(SYNTHETIC_TASKS[name].create().valBatches(4, 8, 16)).toEqual(batches);
        // A longer validation set extends the shorter one.
        expect(dataset.valBatches(5, 8, 16).slice(0, 4)).toEqual(batches);
      });

      it('draws training batches deterministically from the rng', () => {
        expect(dataset.trainBatch(new Rng(3), 8, 16)).toEqual(dataset.trainBatch(new Rng(3), 8, 16));
        expect(dataset.trainBatch(new Rng(3), 8, 16)).not.toEqual(dataset.trainBatch(new Rng(4), 8, 16));
      });

      it('task.prompt gives problems with correct answers that fit the context', () => {
        const rng = new Rng(77);
        for (const T of [9, 32, undefined]) {
          for (let i = 0; i < 200; i++) {
            const { prompt, answer } = dataset.task!.prompt(rng, T);
            expect(prompt).toMatch(oracles[name].promptPattern);
            expect(answer).toBe(oracles[name].solve(prompt));
            expect(prompt.length + answer.length + 1).toBeLessThanOrEqual((T ?? 32) + 1);
          }
        }
      });
    });
  }

  it('reverse and sort use every string length from 1 to the longest that fits', () => {
    // T = 9: 2L + 2 <= 10 allows L = 4; L = 5 would need 12 characters.
    for (const name of ['reverse', 'sort']) {
      const dataset = SYNTHETIC_TASKS[name].create();
      const lengths = new Set<number>();
      const rng = new Rng(1);
      for (let step = 0; step < 20; step++) {
        for (const prompt of checkBatch(dataset, dataset.trainBatch(rng, 16, 9), 16, 9)) {
          lengths.add(prompt.length - 1);
        }
      }
      expect([...lengths].sort()).toEqual([1, 2, 3, 4]);
    }
  });

  it('addmod never trains on the pairs it validates on', () => {
    const dataset = SYNTHETIC_TASKS.addmod.create();
    const pairOf = (prompt: string) => prompt.slice(0, -1);
    const validationPairs = new Set<string>();
    for (const batch of dataset.valBatches(50, 32, 8)) {
      for (const prompt of checkBatch(dataset, batch, 32, 8)) validationPairs.add(pairOf(prompt));
    }
    const promptRng = new Rng(6);
    for (let i = 0; i < 1000; i++) validationPairs.add(pairOf(dataset.task!.prompt(promptRng, 8).prompt));
    const trainPairs = new Set<string>();
    const rng = new Rng(8);
    for (let step = 0; step < 300; step++) {
      const batch = dataset.trainBatch(rng, 32, 8);
      // Rows are checked in full by the other tests; here only their prompts are collected.
      for (let row = 0; row < 32; row++) {
        const text = dataset.tokenizer.decode(batch.inputs.subarray(row * 8, row * 8 + 8));
        trainPairs.add(text.slice(0, text.indexOf('=')));
      }
    }
    // 9,600 draws from ~8,468 training pairs reach most of them; the held-out share is ~10%.
    expect(trainPairs.size).toBeGreaterThan(5000);
    expect(validationPairs.size).toBeGreaterThan(500);
    expect(validationPairs.size).toBeLessThanOrEqual(Math.round(0.1 * 97 * 97));
    expect([...validationPairs].filter((pair) => trainPairs.has(pair))).toEqual([]);
  });

  it('addmod works for other moduli and rejects bad ones', () => {
    const dataset = addModDataset({ modulus: 7 });
    const rng = new Rng(0);
    for (let i = 0; i < 100; i++) {
      const { prompt, answer } = dataset.task!.prompt(rng, 8);
      const [a, b] = prompt.slice(0, -1).split('+').map(Number);
      expect(a < 7 && b < 7).toBe(true);
      expect(Number(answer)).toBe((a + b) % 7);
    }
    for (const bad of [1, 2.5, 100_000]) expect(() => addModDataset({ modulus: bad })).toThrow(DatasetError);
  });

  it('reject a context too short for the task, naming the minimum', () => {
    // reverse/sort: 'a>a\n' needs T + 1 >= 4. addmod (97): '96+96=95\n' needs T + 1 >= 9.
    const minimum: Record<string, number> = { reverse: 3, sort: 3, addmod: 8 };
    for (const [name, entry] of Object.entries(SYNTHETIC_TASKS)) {
      const dataset = entry.create();
      const tooShort = minimum[name] - 1;
      expect(() => dataset.trainBatch(new Rng(0), 2, tooShort)).toThrow(DatasetError);
      expect(() => dataset.trainBatch(new Rng(0), 2, tooShort)).toThrow(
        new RegExp(`at least ${minimum[name]}.*got ${tooShort}`),
      );
      expect(() => dataset.valBatches(1, 2, tooShort)).toThrow(DatasetError);
      expect(() => dataset.task!.prompt(new Rng(0), tooShort)).toThrow(DatasetError);
      checkBatch(dataset, dataset.trainBatch(new Rng(0), 64, minimum[name]), 64, minimum[name]);
    }
  });
});
