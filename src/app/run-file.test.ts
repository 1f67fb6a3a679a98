// Run files: a run (config, metrics, samples, events) and its latest checkpoint in one safetensors file,
// read back exactly; every way a file can be wrong gives a RunFileError that says what.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { modelConfigFromPreset } from '../engine/config';
import { namesDataset } from '../engine/data/corpus';
import { decodeSafetensors, encodeSafetensors } from '../engine/train/checkpoint';
import { checkpointFromRun, checkpointTensorShapes, runFromCheckpoint } from '../engine/train/run-checkpoint';
import { DEFAULT_CONFIG, trainConfigFor } from './config';
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

  it('a checkpoint that contradicts its model config or the run\'s dataset', () => {
    const broken = encodeRunFile(run(), checkpoint('lm_head.weight'));
    expect(bad(broken)).toThrow(/its checkpoint is not usable: .*no tensor lm_head\.weight/);
    expect(bad(edited((r) => ({ ...r, config: { ...(r.config as object), dataset: 'sort' } }), true))).toThrow(/trained on "names" but the run is on "sort"/);
  });
});
