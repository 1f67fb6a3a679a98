// Run files: a run (config, metrics, samples, events) and its latest checkpoint in one safetensors file,
// read back exactly; every way a file can be wrong gives a RunFileError that says what.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { modelConfigFromPreset } from '../engine/config';
import { CLASSIFICATION_TASKS } from '../engine/data/classify';
import { namesDataset } from '../engine/data/corpus';
import type { Dataset } from '../engine/data/dataset';
import { SYNTHETIC_TASKS } from '../engine/data/synthetic';
import { TRANSLATION_TASKS } from '../engine/data/translate';
import { decodeSafetensors, encodeSafetensors } from '../engine/train/checkpoint';
import { checkpointFromRun, checkpointTensorShapes, runFromCheckpoint } from '../engine/train/run-checkpoint';
import type { ClassificationEvaluation, TranslationEvaluation } from './arch-results';
import { DEFAULT_ATTENTION_EVERY, DEFAULT_CONFIG, modelConfigFor, type PageConfig, trainConfigFor } from './config';
import { decodeRunFile, encodeRunFile, MAX_RUN_FILE_BYTES, RUN_FILE_KEY, RunFileError, runFileName } from './run-file';
import { newRun, type RunRecord, toStepPoint } from './runs';

const names = namesDataset(readFileSync(fileURLToPath(new URL('../../public/datasets/names.txt', import.meta.url)), 'utf8'));
const model = modelConfigFromPreset('tiny', names.tokenizer.vocabSize);

function checkpoint(drop?: string): Uint8Array {
  const tensors = [...checkpointTensorShapes(model)]
    .filter(([name]) => name !== drop)
    .map(([name, shape], i) => ({ name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, j) => Math.sin(i + j)) }));
  return checkpointFromRun({ model, train: trainConfigFor(DEFAULT_CONFIG), dataset: 'names' }, names, tensors, 3);
}

function run(): RunRecord {
  const r = newRun('run-1', { ...DEFAULT_CONFIG, lr: 1e30, steps: 3 }, 'group-1', 100);
  const point = (step: number, loss: number) => toStepPoint({ step, loss, gradNorm: step === 2 ? Infinity : 1.5, lossScale: 1, skipped: step === 2, lr: 1e-3, tokensPerSecond: 90, elapsedSeconds: step / 2 });
  return {
    ...r,
    status: 'stopped',
    label: 'int4 · names, "quoted" · seed 1',
    info: { model: '2 layers', datasetName: 'names', datasetDescription: 'names', parameterCount: 62592, kernelPath: 'k', memoryBytes: 1024, totalSteps: 3, tokensPerStep: 64, measurements: true },
    points: [point(1, 4), point(2, NaN), point(3, 3.5)],
    validation: [{ step: 3, valLoss: 3.4 }],
    samples: [{ step: 3, samples: ['ann', 'bo'] }],
    events: [{ kind: 'lower-lr', step: 0, text: 'went on with 3e-3', lr: 3e-3 }],
    checkpointStep: 3,
  };
}

/** A checkpoint of the model a page config builds on a dataset (the weights' values do not matter). */
function checkpointOf(config: PageConfig, dataset: Dataset): Uint8Array {
  const m = modelConfigFor(config, dataset.tokenizer.vocabSize);
  const tensors = [...checkpointTensorShapes(m)].map(([name, shape], i) => ({ name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, j) => Math.cos(i + j)) }));
  return checkpointFromRun({ model: m, train: trainConfigFor(config), dataset: config.dataset }, dataset, tensors, 3);
}

const ENCODER: PageConfig = { ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'majority', contextLength: 20, attentionEvery: 5, samples: 2, steps: 3 };
const ENCDEC: PageConfig = { ...DEFAULT_CONFIG, architecture: 'encoder-decoder', dataset: 'reverse', contextLength: 12, sourceLength: 10, attentionEvery: 0, samples: 1, steps: 3 };

function classification(step: number, correct: number): ClassificationEvaluation {
  return {
    kind: 'classification', step, accuracy: correct / 8, correct, total: 8, baselineAccuracy: 0.375, baselineClass: 'b', classes: ['a', 'b', 'c'],
    examples: [{ text: 'abba', predicted: 'b', expected: 'b', correct: true }, { text: 'cca', predicted: 'a', expected: 'c', correct: false }],
  };
}

function translation(step: number, correct: number): TranslationEvaluation {
  return { kind: 'translation', step, exactMatch: correct / 4, correct, total: 4, examples: [{ source: 'abc', output: 'cba', target: 'cba', correct: true }] };
}

/** A finished run of another architecture: its accuracy or exact match in place of samples. */
function archRun(config: PageConfig, evaluations: RunRecord['evaluations']): RunRecord {
  return { ...run(), config, label: `int4 · ${config.dataset} · ${config.architecture}`, samples: [], evaluations };
}

/** What comes back of a run: the same record under a new id, created now, outside any group. */
function expectSameRun(back: RunRecord, original: RunRecord): void {
  expect(back).toEqual({ ...original, id: 'new', createdAt: 5, groupId: null, label: `${original.label} (imported)`, halt: null });
}

describe('run files', () => {
  it('round trip with a checkpoint: the record (NaN and ∞ included) and the weights come back; the file is itself a checkpoint', () => {
    const bytes = encodeRunFile(run(), checkpoint());
    const back = decodeRunFile('a.run.safetensors', bytes, 'new', 5);
    expectSameRun(back.run, run());
    expect(Number.isNaN(back.run.points[1].loss)).toBe(true);
    expect(back.run.points[1].gradNorm).toBe(Infinity);
    // The checkpoint comes back without the run record in its header, with every tensor as it was.
    const c = decodeSafetensors(back.checkpoint!);
    expect(c.metadata[RUN_FILE_KEY]).toBeUndefined();
    expect(c.tensors).toEqual(decodeSafetensors(checkpoint()).tensors);
    expect(c.metadata.model_config).toBe(JSON.stringify(model));
    // Anything that reads checkpoints reads the run file too.
    expect(runFromCheckpoint(bytes, 'a.run.safetensors').tensors).toHaveLength(checkpointTensorShapes(model).size);
  });

  it('round trip without weights (a run that failed before training)', () => {
    const failed: RunRecord = { ...run(), status: 'error', error: { kind: 'gpu', message: 'no adapter' }, points: [], samples: [], validation: [] };
    const back = decodeRunFile('f.run.safetensors', encodeRunFile(failed, null), 'new', 5);
    expectSameRun(back.run, failed);
    expect(back.checkpoint).toBeNull();
  });

  it('a run exported while training comes back stopped', () => {
    const back = decodeRunFile('t.run.safetensors', encodeRunFile({ ...run(), status: 'training' }, null), 'new', 5);
    expect(back.run.status).toBe('stopped');
  });

  it('round trip of an encoder classifier: architecture, context, attention interval and accuracies come back, with its weights', () => {
    const majority = CLASSIFICATION_TASKS.majority.create();
    const original = archRun(ENCODER, [classification(2, 5), classification(3, 7)]);
    const back = decodeRunFile('e.run.safetensors', encodeRunFile(original, checkpointOf(ENCODER, majority)), 'new', 5);
    expectSameRun(back.run, original);
    expect(back.run.config).toMatchObject({ architecture: 'encoder', contextLength: 20, attentionEvery: 5 });
    expect((back.run.evaluations![1] as ClassificationEvaluation).accuracy).toBe(7 / 8);
    expect(decodeSafetensors(back.checkpoint!).tensors.map((t) => t.name)).toContain('classifier.weight');
  });

  it('round trip of an encoder-decoder: source length, context and exact matches come back, with its weights', () => {
    const reverse = TRANSLATION_TASKS.reverse.create();
    const original = archRun(ENCDEC, [translation(3, 1)]);
    const back = decodeRunFile('t.run.safetensors', encodeRunFile(original, checkpointOf(ENCDEC, reverse)), 'new', 5);
    expectSameRun(back.run, original);
    expect(back.run.config).toMatchObject({ architecture: 'encoder-decoder', contextLength: 12, sourceLength: 10, attentionEvery: 0 });
    expect(runFromCheckpoint(back.checkpoint!, 't').model).toMatchObject({ architecture: 'encoder-decoder', sourceLength: 10, contextLength: 12 });
    // Without weights too.
    expectSameRun(decodeRunFile('t.run.safetensors', encodeRunFile(original, null), 'new', 5).run, original);
  });

  it('an old file, written before architectures, context, source length, attention interval and evaluations, loads as a decoder', () => {
    const bytes = encodeRunFile(run(), checkpoint());
    const c = decodeSafetensors(bytes);
    const top = JSON.parse(c.metadata[RUN_FILE_KEY]);
    for (const key of ['architecture', 'contextLength', 'sourceLength', 'attentionEvery']) delete top.run.config[key];
    delete top.run.evaluations;
    expect(Object.keys(top.run.config)).not.toContain('architecture');
    const old = encodeSafetensors({ tensors: c.tensors, metadata: { ...c.metadata, [RUN_FILE_KEY]: JSON.stringify(top) } });
    const back = decodeRunFile('old.run.safetensors', old, 'new', 5);
    expect(back.run.config.architecture).toBe('decoder');
    expect(back.run.config.attentionEvery).toBe(DEFAULT_ATTENTION_EVERY);
    expect(back.run.config.contextLength).toBeUndefined();
    expect(back.run.config.sourceLength).toBeUndefined();
    expect('evaluations' in back.run).toBe(false);
    expectSameRun(back.run, { ...run(), config: { ...run().config, architecture: 'decoder', attentionEvery: DEFAULT_ATTENTION_EVERY } });
  });

  it('file names are safe to save', () => {
    expect(runFileName('int4 · names / tiny: seed 1')).toBe('int4_names_tiny_seed_1.run.safetensors');
    expect(runFileName('···')).toBe('run.run.safetensors');
  });
});

describe('bad run files', () => {
  const bad = (bytes: Uint8Array, name = 'x.run.safetensors') => () => decodeRunFile(name, bytes, 'new', 5);
  /** A file whose run record is replaced by `mutate`'s output. */
  const edited = (mutate: (r: Record<string, unknown>) => unknown, withCheckpoint = false) => {
    const bytes = encodeRunFile(run(), withCheckpoint ? checkpoint() : null);
    const c = decodeSafetensors(bytes);
    const top = JSON.parse(c.metadata[RUN_FILE_KEY]);
    top.run = mutate(top.run);
    return encodeSafetensors({ tensors: c.tensors, metadata: { ...c.metadata, [RUN_FILE_KEY]: JSON.stringify(top) } });
  };

  it('empty, oversized and non-safetensors files', () => {
    expect(bad(new Uint8Array(0))).toThrow(/empty \(0 bytes\)/);
    expect(bad({ length: MAX_RUN_FILE_BYTES + 1 } as Uint8Array)).toThrow(/over the 80 MiB/);
    expect(bad(new TextEncoder().encode('step,loss\n1,4\n'))).toThrow(/x\.run\.safetensors is not a run file: .*truncated or not a safetensors file/);
    for (const b of [new Uint8Array(0), new TextEncoder().encode('nonsense!')]) expect(bad(b)).toThrow(RunFileError);
  });

  it('a model checkpoint, a file without a run, a run of another format or not JSON', () => {
    expect(bad(checkpoint(), 'model.safetensors')).toThrow(/model\.safetensors is a model checkpoint, not a run file: load it under "Load a checkpoint"/);
    expect(bad(encodeSafetensors({ tensors: [], metadata: { a: 'b' } }))).toThrow(/holds no run/);
    const withRecord = (raw: string) => encodeSafetensors({ tensors: [], metadata: { [RUN_FILE_KEY]: raw } });
    expect(bad(withRecord('{"format": "int4-train-playground-run/9", "run": {}}'))).toThrow(/run format "int4-train-playground-run\/9"; this page reads int4-train-playground-run\/1/);
    expect(bad(withRecord('{nope'))).toThrow(/its run record is not valid JSON/);
  });

  it('fields that are missing, of the wrong kind, out of order or out of range are named', () => {
    expect(bad(edited((r) => ({ ...r, points: 'many' })))).toThrow(/points must be a list/);
    expect(bad(edited((r) => ({ ...r, points: [{ ...(r.points as object[])[0], loss: 'low' }] })))).toThrow(/points\[0\]\.loss must be a number \(got "low"\)/);
    expect(bad(edited((r) => ({ ...r, points: [...(r.points as object[])].reverse() })))).toThrow(/points must be in step order/);
    expect(bad(edited((r) => ({ ...r, config: { ...(r.config as object), precision: 'fp8' } })))).toThrow(/config\.precision must be one of fp32/);
    expect(bad(edited((r) => ({ ...r, config: { ...(r.config as object), steps: 0 } })))).toThrow(/its config cannot run here: steps must be a whole number from 1/);
    expect(bad(edited((r) => ({ ...r, config: { ...(r.config as object), lr: 'Infinity' } })))).toThrow(/config\.lr must be a finite number/);
    expect(bad(edited((r) => ({ ...r, samples: [{ step: 1, samples: [7] }] })))).toThrow(/samples\[0\]\.samples\[0\] must be text/);
    expect(bad(edited((r) => ({ ...r, status: 'winning' })))).toThrow(/status must be one of done/);
    expect(bad(edited((r) => ({ ...r, label: 'x'.repeat(400) })))).toThrow(/label is 400 characters long/);
    expect(bad(edited(() => [1, 2])) ).toThrow(/run must be an object/);
  });

  it('architectures, context and source lengths that are unknown, out of range or of the wrong architecture are named', () => {
    const config = (change: object) => edited((r) => ({ ...r, config: { ...(r.config as object), ...change } }));
    expect(bad(config({ architecture: 'transformer' }))).toThrow(/config\.architecture must be one of decoder, encoder, encoder-decoder \(got "transformer"\)/);
    expect(bad(config({ architecture: 'encoder' }))).toThrow(/its config cannot run here: dataset names is not one the encoder trains on \(majority, sentiment\)/);
    expect(bad(config({ contextLength: 'long' }))).toThrow(/config\.contextLength must be a number \(got "long"\)/);
    expect(bad(config({ contextLength: 2.5 }))).toThrow(/config\.contextLength must be a whole number/);
    expect(bad(config({ contextLength: 1 }))).toThrow(/its config cannot run here: context must be a whole number from 2 to 256 \(got 1\)/);
    expect(bad(config({ sourceLength: 8 }))).toThrow(/source length applies to the encoder-decoder only; clear it/);
    expect(bad(config({ attentionEvery: -1 }))).toThrow(/attention every must be a whole number ≥ 0 \(got -1\)/);
    const encdec = (change: object) => edited((r) => ({ ...r, config: { ...ENCDEC, ...change }, samples: [] }));
    expect(bad(encdec({ sourceLength: 300 }))).toThrow(/source length must be a whole number from 1 to 256 \(got 300\)/);
    // The task's own check, in the page's words: reverse has sources of up to 8 characters.
    expect(bad(encdec({ sourceLength: 4 }))).toThrow(/set Source length to 8 or more/);
  });

  it('evaluations of the wrong kind, inconsistent or out of order are named', () => {
    const withEvaluations = (config: PageConfig, evaluations: unknown) => edited((r) => ({ ...r, config, samples: [], evaluations }));
    const enc = (e: object[]) => withEvaluations(ENCODER, e);
    expect(bad(withEvaluations(DEFAULT_CONFIG, [classification(3, 5)]))).toThrow(/evaluations\[0\] is a classification result, but the run is a decoder \(GPT\), which reports samples/);
    expect(bad(withEvaluations(ENCDEC, [classification(3, 5)]))).toThrow(/evaluations\[0\] is a classification result, but the run's encoder-decoder reports translation results/);
    expect(bad(withEvaluations(ENCDEC, 'all right'))).toThrow(/evaluations must be a list/);
    expect(bad(enc([{ ...classification(3, 5), kind: 'regression' }]))).toThrow(/evaluations\[0\]\.kind must be one of classification, translation/);
    expect(bad(enc([{ ...classification(3, 5), accuracy: 1.5 }]))).toThrow(/evaluations\[0\]\.accuracy must be a fraction from 0 to 1 \(got 1\.5\)/);
    expect(bad(enc([{ ...classification(3, 5), accuracy: 0.9 }]))).toThrow(/evaluations\[0\]\.accuracy is 0\.9 but 5\/8 = 0\.625; the file is inconsistent/);
    expect(bad(enc([{ ...classification(3, 5), correct: 9, accuracy: 1 }]))).toThrow(/evaluations\[0\]\.correct \(9\) is more than evaluations\[0\]\.total \(8\)/);
    expect(bad(enc([{ ...classification(3, 5), baselineClass: 'z' }]))).toThrow(/evaluations\[0\]\.baselineClass must be one of a, b, c \(got "z"\)/);
    expect(bad(enc([{ ...classification(3, 5), examples: [{ text: 'ab', predicted: 'a', expected: 'b', correct: 'no' }] }]))).toThrow(/evaluations\[0\]\.examples\[0\]\.correct must be true or false/);
    expect(bad(enc([classification(3, 5), classification(2, 5)]))).toThrow(/evaluations must be in step order \(step 2 follows 3\)/);
    expect(bad(withEvaluations(ENCDEC, [{ ...translation(3, 1), examples: [{ source: 'abc', output: 7, target: 'cba', correct: false }] }]))).toThrow(/evaluations\[0\]\.examples\[0\]\.output must be text/);
    expect(bad(withEvaluations(ENCDEC, [{ ...translation(3, 1), step: 30000 }]))).toThrow(/evaluations\[0\]\.step must be a step from 0 to 20000/);
  });

  it('a checkpoint of another architecture than the run\'s (reverse is a dataset of both the GPT and the encoder-decoder)', () => {
    const gptReverse = { ...DEFAULT_CONFIG, dataset: 'reverse', contextLength: 32 };
    const file = encodeRunFile(archRun(ENCDEC, []), checkpointOf(gptReverse, SYNTHETIC_TASKS.reverse.create()));
    expect(() => decodeRunFile('x.run.safetensors', file, 'new', 5)).toThrow(/x\.run\.safetensors: its checkpoint holds a decoder model but the run is of an encoder-decoder; the file is inconsistent/);
  });

  it('a checkpoint that contradicts its model config or the run\'s dataset', () => {
    const broken = encodeRunFile(run(), checkpoint('lm_head.weight'));
    expect(bad(broken)).toThrow(/its checkpoint is not usable: .*no tensor lm_head\.weight/);
    expect(bad(edited((r) => ({ ...r, config: { ...(r.config as object), dataset: 'sort' } }), true))).toThrow(/trained on "names" but the run is on "sort"/);
  });
});
