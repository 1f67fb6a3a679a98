import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from './config';
import { CSV_COLUMNS, fileNameFor, parseCsv, runsToCsv, runsToJson } from './export';
import { newRun, type RunRecord } from './runs';

function run(id: string, losses: number[], validation: { step: number; valLoss: number }[]): RunRecord {
  return {
    ...newRun(id, DEFAULT_CONFIG, null, 1),
    status: 'done',
    points: losses.map((loss, i) => ({ step: i + 1, loss, gradNorm: 0.5, lr: 1e-3, tokensPerSecond: 1000, elapsedSeconds: i, lossScale: 1, skipped: false })),
    validation,
  };
}

describe('CSV export', () => {
  it('writes one row per step with the validation loss where it was measured, and parses back', () => {
    const runs = [run('a', [4, 3.5, 3], [{ step: 3, valLoss: 3.1 }]), run('b', [Number.NaN], [{ step: 0, valLoss: 2.9 }])];
    const rows = parseCsv(runsToCsv(runs));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows.slice(1).map((r) => [r[0], r[2], r[3], r[8]])).toEqual([
      ['a', '1', '4', ''],
      ['a', '2', '3.5', ''],
      ['a', '3', '3', '3.1'],
      // A diverged (non-finite) loss is an empty field, not "NaN".
      ['b', '1', '', ''],
      // A validation with no training step of its own (a checkpoint evaluated) gets its own row.
      ['b', '0', '', '2.9'],
    ]);
  });

  it('quotes fields holding commas and quotes', () => {
    const r = { ...run('a', [1], []), label: 'say "hi", then go' };
    const rows = parseCsv(runsToCsv([r]));
    expect(rows[1][1]).toBe('say "hi", then go');
    expect(rows[1]).toHaveLength(CSV_COLUMNS.length);
  });
});

describe('JSON export', () => {
  it('has every run with its config and series, non-finite numbers as null', () => {
    const parsed = JSON.parse(runsToJson([run('a', [4, Number.POSITIVE_INFINITY], [])]));
    expect(parsed.runs).toHaveLength(1);
    expect(parsed.runs[0].config).toEqual(DEFAULT_CONFIG);
    expect(parsed.runs[0].points[1].loss).toBeNull();
  });

  it('keeps a classifier run\'s evaluations (accuracy, baseline, examples); a run without them has an empty list', () => {
    const evaluation = { kind: 'classification' as const, step: 4, accuracy: 0.75, correct: 3, total: 4, baselineAccuracy: 0.5, baselineClass: 'a', classes: ['a', 'b', 'c'], examples: [{ text: 'aab', predicted: 'a', expected: 'a', correct: true }] };
    const parsed = JSON.parse(runsToJson([{ ...run('a', [4], []), evaluations: [evaluation] }, run('b', [4], [])]));
    expect(parsed.runs[0].evaluations).toEqual([evaluation]);
    expect(parsed.runs[1].evaluations).toEqual([]);
  });

  it('makes safe file names', () => {
    expect(fileNameFor('int4 · names · tiny · seed 1', 'csv')).toBe('int4-names-tiny-seed-1.csv');
    expect(fileNameFor('···', 'json')).toBe('run.json');
  });
});
