// --arch on the command line: the architecture picks the kind of dataset, and every mismatch or shape
// that cannot work ends with one line and exit code 2 before any GPU work (node dist-node/train.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type ModelConfig } from '../engine/config';
import { majorityDataset } from '../engine/data/classify';
import { checkpointFromRun, checkpointTensorShapes } from '../engine/train/run-checkpoint';
import { parseTrainArgs } from './args';

const dir = mkdtempSync(join(tmpdir(), 'cli-arch-test-'));

function train(args: string[]) {
  const r = spawnSync('node', ['dist-node/train.mjs', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

function expectOneLineError(r: ReturnType<typeof train>, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
}

beforeAll(() => {
  execFileSync('node', ['scripts/build-node.mjs', '--quiet']);
});

describe('--arch parsing', () => {
  it('maps decoder, encoder, encdec to the architectures and leaves it unset when not given', () => {
    expect(parseTrainArgs(['--arch', 'decoder']).architecture).toBe('decoder');
    expect(parseTrainArgs(['--arch', 'encoder']).architecture).toBe('encoder');
    expect(parseTrainArgs(['--arch', 'encdec', '--source-length', '9']).architecture).toBe('encoder-decoder');
    expect(parseTrainArgs(['--arch', 'encdec', '--source-length', '9']).modelOverrides.sourceLength).toBe(9);
    expect(parseTrainArgs([]).architecture).toBeUndefined();
  });
});

describe('train CLI: architectures and datasets that do not fit', () => {
  it('an unknown architecture', () => {
    expectOneLineError(train(['--arch', 'transformer']), /--arch must be one of decoder, encoder, encdec/);
  });

  it('a language-model corpus for the encoder or the encoder-decoder', () => {
    expectOneLineError(train(['--arch', 'encoder', '--dataset', 'names', '--steps', '1']), /"names" does not fit architecture encoder: .*classification dataset \(majority, sentiment\)/);
    expectOneLineError(train(['--arch', 'encdec', '--dataset', 'names', '--steps', '1']), /"names" does not fit architecture encoder-decoder: .*translation dataset \(reverse, sort, numbers\)/);
    expectOneLineError(train(['--arch', 'encoder', '--dataset', 'reverse', '--steps', '1']), /"reverse" does not fit architecture encoder/);
  });

  it('a classification or translation task for the decoder', () => {
    expectOneLineError(train(['--dataset', 'majority', '--steps', '1']), /"majority" is a classification task: .*--arch encoder/);
    expectOneLineError(train(['--arch', 'decoder', '--dataset', 'numbers', '--steps', '1']), /"numbers" is a translation task: .*--arch encdec/);
  });

  it('a decoder context shorter than the task\'s outputs, a source too short, a context too short for a text', () => {
    expectOneLineError(train(['--arch', 'encdec', '--dataset', 'reverse', '--preset', 'tiny', '--context', '6', '--steps', '1']), /decoder context must be at least 9 .*got 6/);
    expectOneLineError(train(['--arch', 'encdec', '--dataset', 'numbers', '--preset', 'tiny', '--steps', '1']), /decoder context must be at least 18 .*got 16/);
    expectOneLineError(train(['--arch', 'encdec', '--dataset', 'reverse', '--preset', 'tiny', '--source-length', '5', '--steps', '1']), /source length must be at least 8 .*got 5/);
    expectOneLineError(train(['--arch', 'encoder', '--dataset', 'sentiment', '--preset', 'tiny', '--steps', '1']), /context must be at least 30, got 16/);
  });

  it('--source-length without the encoder-decoder, and heads that do not divide d_model', () => {
    expectOneLineError(train(['--dataset', 'reverse', '--source-length', '8', '--steps', '1']), /--source-length applies to --arch encdec/);
    expectOneLineError(train(['--arch', 'encoder', '--dataset', 'majority', '--preset', 'tiny', '--heads', '5', '--steps', '1']), /d_model \(48\) must be divisible by heads \(5\)/);
    expectOneLineError(train(['--arch', 'encdec', '--dataset', 'reverse', '--preset', 'tiny', '--heads', '5', '--steps', '1']), /d_model \(48\) must be divisible by heads \(5\)/);
  });

  it('a --arch that contradicts a loaded checkpoint', () => {
    const d = majorityDataset();
    const model: ModelConfig = { architecture: 'encoder', numClasses: 3, nLayer: 1, dModel: 8, nHead: 2, dFF: 16, contextLength: 13, vocabSize: d.tokenizer.vocabSize, activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5 };
    const tensors = [...checkpointTensorShapes(model)].map(([name, shape]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
    const p = join(dir, 'encoder.safetensors');
    writeFileSync(p, checkpointFromRun({ model, train: DEFAULT_TRAIN, dataset: 'majority' }, d, tensors, 0));
    expectOneLineError(train(['--arch', 'decoder', '--dataset', 'majority', '--load', p, '--steps', '0']), /--arch decoder contradicts the checkpoint, which holds an encoder model/);
  });
});
