// The sparsity flags of the train CLI: what they put in the config, and bad input that ends with one line
// `error: …` and exit code 2 before any GPU work (a reduction dimension that does not split into groups
// of 4, phases that do not fit the step budget, a teacher of another model, Sparse-QAT without one).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ModelConfig, modelConfigFromPreset, DEFAULT_TRAIN } from '../engine/config';
import { namesDataset } from '../engine/data/corpus';
import { checkpointFromRun, checkpointTensorShapes } from '../engine/train/run-checkpoint';
import { CliError, parseTrainArgs } from './args';

const dir = mkdtempSync(join(tmpdir(), 'sparsity-cli-test-'));
const names = namesDataset(readFileSync('public/datasets/names.txt', 'utf8'));

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

/** A checkpoint of `model` (zero weights) as --save writes it. */
function checkpointFile(model: ModelConfig, file: string): string {
  const tensors = [...checkpointTensorShapes(model)].map(([name, shape]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
  const path = join(dir, file);
  writeFileSync(path, checkpointFromRun({ model, train: DEFAULT_TRAIN, dataset: 'names' }, names, tensors, 10));
  return path;
}

beforeAll(() => {
  execFileSync('node', ['scripts/build-node.mjs', '--quiet']);
});

describe('sparsity flags', () => {
  it('reach the config: recipe, phases as fractions, percentages or steps, schedule, Sparse-QAT, distillation', () => {
    expect(parseTrainArgs([]).train.sparsity).toBeUndefined();
    const o = parseTrainArgs(['--sparsity', 'oneshot', '--sparsity-phases', '0.4,0.6', '--sparsity-schedule', 'continue']);
    expect(o.train).toMatchObject({ sparsity: 'oneshot', sparsityPhases: [0.4, 0.6], sparsitySchedule: 'continue' });
    expect(o.train.distill).toBeUndefined();
    expect(parseTrainArgs(['--sparsity-phases', '50%,25%, 25%']).train.sparsityPhases).toEqual([0.5, 0.25, 0.25]);
    expect(parseTrainArgs(['--sparsity-phases', '100,200']).train.sparsityPhases).toEqual([100, 200]);
    const q = parseTrainArgs(['--sparse-qat', '--teacher', 'dense.safetensors', '--distill-alpha', '0.7']);
    expect(q.train).toMatchObject({ sparsity: 'progressive', sparseQat: true, distill: { alpha: 0.7, temperature: 2, hiddenWeight: 1 } });
    expect(q.teacherPath).toBe('dense.safetensors');
    expect(parseTrainArgs(['--sparse-qat', '--sparsity', 'oneshot']).train.sparsity).toBe('oneshot');
    expect(parseTrainArgs(['--distill-hidden', '2']).distillFlagsWithoutTeacher).toEqual(['--distill-hidden']);
    expect(() => parseTrainArgs(['--sparsity-phases', '0.5,half'])).toThrow(CliError);
    expect(() => parseTrainArgs(['--sparsity-phases', '0.5,-0.5'])).toThrow(/--sparsity-phases takes comma-separated/);
    expect(() => parseTrainArgs(['--sparsity', 'random'])).toThrow(/--sparsity must be one of dense, oneshot, progressive/);
  });
});

describe('train CLI: bad sparsity input, before any GPU work', () => {
  it('a layer whose reduction dimension is not a multiple of 4', () => {
    expectOneLineError(train(['--preset', 'tiny', '--sparsity', 'oneshot', '--d-ff', '190']), /mlp.c_proj has 190 inputs, not a multiple of 4; use --d-ff 192/);
  });

  it('phases that do not fit the step budget', () => {
    expectOneLineError(train(['--preset', 'tiny', '--sparsity', 'progressive', '--steps', '10', '--sparsity-phases', '5,5,5']), /sparsity-phases 5,5,5 do not fit the budget of 10 steps/);
    expectOneLineError(train(['--preset', 'tiny', '--sparsity', 'oneshot', '--steps', '1', '--sparsity-phases', '0.9,0.1']), /2:4 \(50% sparse\) phase gets 0 of the 1 steps/);
  });

  it('a teacher of another architecture or config, and Sparse-QAT or distillation flags without a teacher', () => {
    const tiny = modelConfigFromPreset('tiny', names.tokenizer.vocabSize);
    const wide = checkpointFile({ ...tiny, dModel: 64 }, 'wide.safetensors');
    expectOneLineError(train(['--preset', 'tiny', '--sparse-qat', '--teacher', wide, '--steps', '4']), /teacher .*wide.safetensors: the teacher run has another model than the student: dModel 64 \(the student has 48\); distillation needs the same architecture and config/);
    const relu = checkpointFile({ ...tiny, activation: 'relu' }, 'relu.safetensors');
    expectOneLineError(train(['--preset', 'tiny', '--teacher', relu, '--steps', '4']), /activation "relu" \(the student has "gelu"\)/);
    expectOneLineError(train(['--preset', 'tiny', '--sparse-qat', '--steps', '4']), /--sparse-qat distills from the dense model: give --teacher/);
    expectOneLineError(train(['--preset', 'tiny', '--distill-alpha', '0.3', '--steps', '4']), /--distill-alpha set the distillation from a teacher: give --teacher/);
    expectOneLineError(train(['--preset', 'tiny', '--teacher', join(dir, 'missing.safetensors'), '--steps', '4']), /teacher checkpoint not found/);
    expectOneLineError(train(['--preset', 'tiny', '--sparse-qat', '--precision', 'int4', '--teacher', wide]), /leave --precision at fp32/);
  });
});
