// A whole run as one file, to move it between browsers or keep it: its config, info, metrics,
// validation losses, samples and events, plus its latest checkpoint. The file is a safetensors
// checkpoint of this tool (the weights under nanoGPT names, and a training checkpoint's optimizer state
// when that is the latest the page holds) with the run record as JSON under the metadata key
// `playground_run`, so it also loads wherever a checkpoint does (the CLI's --load, PyTorch). A run
// without weights (one that failed before training) is a safetensors file with no tensors.
//
// Reading one back checks everything a hand-edited or foreign file could get wrong and says what, in a
// RunFileError; nothing from the file reaches the page unchecked.
import { CheckpointError, decodeSafetensors, encodeSafetensors } from '../engine/train/checkpoint';
import { checkCheckpointConsistent, type LoadedRun, runFromCheckpoint } from '../engine/train/run-checkpoint';
import { MAX_CHECKPOINT_BYTES } from './checkpoint-file';
import type { ArchEvaluation, ClassificationEvaluation, TranslationEvaluation } from './arch-results';
import { ARCHITECTURES, architectureOf, BACKWARD_QUANTIZERS, configProblems, DATASET_CHOICES, DEFAULT_CONFIG, FORWARD_QUANTIZERS, HADAMARD_BLOCKS, MAX_STEPS, type PageConfig, PRECISIONS, PRESET_CHOICES } from './config';
import type { RunEvent } from './messages';
import { isFinished, type RunRecord, type RunStatus, type StepPoint } from './runs';

export const RUN_FILE_FORMAT = 'int4-train-playground-run/1';
export const RUN_FILE_KEY = 'playground_run';
/** A checkpoint's limit plus room for the metrics of the longest run (20,000 steps ≈ 4 MB of JSON). */
export const MAX_RUN_FILE_BYTES = MAX_CHECKPOINT_BYTES + 16 * 2 ** 20;
const MAX_SAMPLE_SETS = 1000;
const MAX_TEXT = 10_000;
/** Examples kept with one evaluation: the config's samples (at most 32). */
const MAX_EXAMPLES = 32;
/** A classifier's classes (the engine's tasks have 2 and 3). */
const MAX_CLASSES = 1000;

/** A file that is not a usable run file; the message says what is wrong with it. */
export class RunFileError extends Error {
  override name = 'RunFileError';
}

/** The name a run file gets when downloaded. */
export function runFileName(label: string): string {
  const base = label.replace(/[^a-z0-9._-]+/gi, '_').replace(/^_+|_+$/g, '').slice(0, 80) || 'run';
  return `${base}.run.safetensors`;
}

/** JSON has no NaN or ±∞ (a diverged run's losses): they travel as strings. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

/** The run and its latest checkpoint (or null) as one file. */
export function encodeRunFile(run: RunRecord, checkpoint: Uint8Array | null): Uint8Array {
  const record = JSON.stringify({ format: RUN_FILE_FORMAT, run: { ...run, status: isFinished(run.status) ? run.status : 'stopped', halt: null } }, replacer);
  if (!checkpoint) return encodeSafetensors({ tensors: [], metadata: { format: 'pt', producer: RUN_FILE_FORMAT, [RUN_FILE_KEY]: record } });
  const c = decodeSafetensors(checkpoint, 'the run\'s checkpoint');
  return encodeSafetensors({ tensors: c.tensors, metadata: { ...c.metadata, [RUN_FILE_KEY]: record } });
}

/** Reads a run file: the run (under a new id, created now, in no comparison group) and its checkpoint
 *  without the run record in its header, or null. Throws RunFileError saying what is wrong. */
export function decodeRunFile(name: string, bytes: Uint8Array, newId: string, now: number): { run: RunRecord; checkpoint: Uint8Array | null } {
  checkRunFileSize(name, bytes.length);
  let metadata: Record<string, string>;
  let tensors;
  try {
    ({ metadata, tensors } = decodeSafetensors(bytes, name));
  } catch (e) {
    throw new RunFileError(`${name} is not a run file: ${e instanceof Error ? e.message : String(e)}`);
  }
  const raw = metadata[RUN_FILE_KEY];
  if (raw === undefined) {
    throw new RunFileError(metadata.model_config !== undefined
      ? `${name} is a model checkpoint, not a run file: load it under "Load a checkpoint" to evaluate it or train on from it`
      : `${name} holds no run (no "${RUN_FILE_KEY}" in its header); export one with the Run button of the runs list`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new RunFileError(`${name}: its run record is not valid JSON`);
  }
  const top = record(parsed, 'the run file');
  if (top.format !== RUN_FILE_FORMAT) throw new RunFileError(`${name} has run format ${JSON.stringify(top.format)}; this page reads ${RUN_FILE_FORMAT}`);
  let run: RunRecord;
  try {
    run = readRun(top.run, newId, now);
  } catch (e) {
    if (e instanceof FieldError) throw new RunFileError(`${name}: ${e.message}`);
    throw e;
  }
  if (tensors.length === 0) return { run, checkpoint: null };
  // The weights must be a consistent checkpoint of this tool, of the run's dataset.
  let loaded: LoadedRun;
  try {
    loaded = checkCheckpointConsistent(runFromCheckpoint(bytes, name), name);
  } catch (e) {
    if (e instanceof CheckpointError) throw new RunFileError(`${name}: its checkpoint is not usable: ${e.message}`);
    throw e;
  }
  if (metadata.dataset !== run.config.dataset) throw new RunFileError(`${name}: its checkpoint was trained on "${metadata.dataset}" but the run is on "${run.config.dataset}"; the file is inconsistent`);
  // The weights must be of the run's architecture (reverse and sort are datasets of both the GPT and the
  // encoder-decoder, so the dataset alone does not tell them apart). Only the architecture: a run trained
  // on from a loaded checkpoint has that checkpoint's shape, whatever its config's preset and context.
  const architecture = architectureOf(run.config);
  if (loaded.model.architecture !== architecture) {
    throw new RunFileError(`${name}: its checkpoint holds ${withArticle(loaded.model.architecture)} model but the run is of ${withArticle(architecture)}; the file is inconsistent`);
  }
  const checkpointMeta = { ...metadata };
  delete checkpointMeta[RUN_FILE_KEY];
  return { run, checkpoint: encodeSafetensors({ tensors, metadata: checkpointMeta }) };
}

function withArticle(architecture: string): string {
  return `${/^[aeiou]/.test(architecture) ? 'an' : 'a'} ${architecture}`;
}

/** Throws RunFileError for a size the page will not read (checked before reading the file). */
export function checkRunFileSize(name: string, size: number): void {
  if (size === 0) throw new RunFileError(`${name} is empty (0 bytes); choose a .run.safetensors file exported from the runs list`);
  if (size > MAX_RUN_FILE_BYTES) {
    throw new RunFileError(`${name} is ${size.toLocaleString('en')} bytes, over the ${MAX_RUN_FILE_BYTES / 2 ** 20} MiB a run file of this page can have; it is not one of them`);
  }
}

/** A field of the run record that is missing or of the wrong kind (the message names it). */
class FieldError extends Error {}

function record(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FieldError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function list(v: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw new FieldError(`${what} must be a list`);
  if (v.length > max) throw new FieldError(`${what} has ${v.length} entries, more than the ${max} a run can have`);
  return v;
}

function text(v: unknown, what: string, max = MAX_TEXT): string {
  if (typeof v !== 'string') throw new FieldError(`${what} must be text`);
  if (v.length > max) throw new FieldError(`${what} is ${v.length} characters long, more than ${max}`);
  return v;
}

/** A number, or the strings the writer uses for NaN and ±∞. */
function num(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
  throw new FieldError(`${what} must be a number (got ${JSON.stringify(v)?.slice(0, 20)})`);
}

function finite(v: unknown, what: string): number {
  const n = num(v, what);
  if (!Number.isFinite(n)) throw new FieldError(`${what} must be a finite number`);
  return n;
}

function stepOf(v: unknown, what: string): number {
  const n = num(v, what);
  if (!(Number.isInteger(n) && n >= 0 && n <= MAX_STEPS)) throw new FieldError(`${what} must be a step from 0 to ${MAX_STEPS} (got ${n})`);
  return n;
}

function oneOf<T extends string>(v: unknown, choices: readonly T[], what: string): T {
  if (!(choices as readonly unknown[]).includes(v)) throw new FieldError(`${what} must be one of ${choices.join(', ')} (got ${JSON.stringify(v)?.slice(0, 30)})`);
  return v as T;
}

/** The page config of a run: only the fields the page knows, each checked, then the page's own checks. */
function readConfig(v: unknown): PageConfig {
  const c = record(v, 'config');
  const int = (k: string) => {
    const n = num(c[k], `config.${k}`);
    if (!Number.isInteger(n)) throw new FieldError(`config.${k} must be a whole number`);
    return n;
  };
  const config: PageConfig = {
    ...DEFAULT_CONFIG,
    // Runs saved before the page offered architectures have none: they are GPTs.
    architecture: c.architecture === undefined ? 'decoder' : oneOf(c.architecture, ARCHITECTURES, 'config.architecture'),
    dataset: oneOf(c.dataset, DATASET_CHOICES, 'config.dataset'),
    preset: oneOf(c.preset, PRESET_CHOICES, 'config.preset'),
    precision: oneOf(c.precision, PRECISIONS, 'config.precision'),
    hadamardBlock: c.hadamardBlock === 'auto' ? 'auto' : (oneOf(String(c.hadamardBlock), HADAMARD_BLOCKS.map(String), 'config.hadamardBlock'), Number(c.hadamardBlock)),
    steps: int('steps'),
    seed: int('seed'),
    evalEvery: int('evalEvery'),
    measureEvery: int('measureEvery'),
    samples: int('samples'),
    sampleEvery: int('sampleEvery'),
  };
  if (c.checkpointEvery !== undefined) config.checkpointEvery = int('checkpointEvery');
  if (c.attentionEvery !== undefined) config.attentionEvery = int('attentionEvery');
  // Ranges and whether the architecture takes them (a source length is the encoder-decoder's only) are
  // configProblems' checks below.
  if (c.contextLength !== undefined) config.contextLength = int('contextLength');
  if (c.sourceLength !== undefined) config.sourceLength = int('sourceLength');
  if (c.forwardQuantizer !== undefined) config.forwardQuantizer = oneOf(c.forwardQuantizer, FORWARD_QUANTIZERS, 'config.forwardQuantizer');
  if (c.backwardQuantizer !== undefined) config.backwardQuantizer = oneOf(c.backwardQuantizer, BACKWARD_QUANTIZERS, 'config.backwardQuantizer');
  if (c.bits !== undefined) config.bits = int('bits');
  if (c.batchSize !== undefined) config.batchSize = int('batchSize');
  // The learning rate may be one the page's field would not take (a recovery's, or an absurd one that
  // diverged); the engine's check (finite, > 0) applies.
  if (c.lr !== undefined) config.lr = finite(c.lr, 'config.lr');
  const problems = configProblems(config);
  if (problems.length) throw new FieldError(`its config cannot run here: ${problems.join('; ')}`);
  return config;
}

function readPoint(v: unknown, i: number): StepPoint {
  const p = record(v, `points[${i}]`);
  const at = `points[${i}]`;
  if (typeof p.skipped !== 'boolean') throw new FieldError(`${at}.skipped must be true or false`);
  const step = stepOf(p.step, `${at}.step`);
  if (step < 1) throw new FieldError(`${at}.step must be at least 1`);
  return {
    step, loss: num(p.loss, `${at}.loss`), gradNorm: num(p.gradNorm, `${at}.gradNorm`), lr: num(p.lr, `${at}.lr`),
    tokensPerSecond: num(p.tokensPerSecond, `${at}.tokensPerSecond`), elapsedSeconds: num(p.elapsedSeconds, `${at}.elapsedSeconds`),
    lossScale: num(p.lossScale, `${at}.lossScale`), skipped: p.skipped,
  };
}

/** A share of the examples, 0 to 1. */
function fraction(v: unknown, what: string): number {
  const n = finite(v, what);
  if (!(n >= 0 && n <= 1)) throw new FieldError(`${what} must be a fraction from 0 to 1 (got ${n})`);
  return n;
}

function count(v: unknown, what: string): number {
  const n = num(v, what);
  if (!(Number.isInteger(n) && n >= 0)) throw new FieldError(`${what} must be a whole number ≥ 0 (got ${n})`);
  return n;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new FieldError(`${what} must be true or false`);
  return v;
}

/** correct of total, and the share given for them. */
function score(o: Record<string, unknown>, share: string, at: string): { value: number; correct: number; total: number } {
  const value = fraction(o[share], `${at}.${share}`), correct = count(o.correct, `${at}.correct`), total = count(o.total, `${at}.total`);
  if (correct > total) throw new FieldError(`${at}.correct (${correct}) is more than ${at}.total (${total})`);
  // The worker writes correct / total; a share that is not it (beyond rounding) is an edited file.
  if (total > 0 && Math.abs(value - correct / total) > 1e-6) throw new FieldError(`${at}.${share} is ${value} but ${correct}/${total} = ${correct / total}; the file is inconsistent`);
  return { value, correct, total };
}

/** One accuracy or exact-match result (arch-results.ts), of the kind the run's architecture reports. */
function readEvaluation(v: unknown, i: number, architecture: PageConfig['architecture']): ArchEvaluation {
  const at = `evaluations[${i}]`;
  const o = record(v, at);
  const kind = oneOf(o.kind, ['classification', 'translation'] as const, `${at}.kind`);
  const wanted = architecture === 'encoder' ? 'classification' : architecture === 'encoder-decoder' ? 'translation' : null;
  if (kind !== wanted) {
    throw new FieldError(wanted === null
      ? `${at} is a ${kind} result, but the run is a decoder (GPT), which reports samples, not evaluations`
      : `${at} is a ${kind} result, but the run's ${architecture} reports ${wanted} results`);
  }
  const step = stepOf(o.step, `${at}.step`);
  if (kind === 'classification') {
    const { value, correct, total } = score(o, 'accuracy', at);
    const classes = list(o.classes, `${at}.classes`, MAX_CLASSES).map((x, j) => text(x, `${at}.classes[${j}]`, 200));
    const aClass = (x: unknown, what: string) => oneOf(text(x, what, 200), classes, what);
    const e: ClassificationEvaluation = {
      kind, step, accuracy: value, correct, total,
      baselineAccuracy: fraction(o.baselineAccuracy, `${at}.baselineAccuracy`),
      baselineClass: aClass(o.baselineClass, `${at}.baselineClass`),
      classes,
      examples: list(o.examples, `${at}.examples`, MAX_EXAMPLES).map((x, j) => {
        const w = `${at}.examples[${j}]`;
        const ex = record(x, w);
        return { text: text(ex.text, `${w}.text`), predicted: aClass(ex.predicted, `${w}.predicted`), expected: aClass(ex.expected, `${w}.expected`), correct: bool(ex.correct, `${w}.correct`) };
      }),
    };
    return e;
  }
  const { value, correct, total } = score(o, 'exactMatch', at);
  const e: TranslationEvaluation = {
    kind, step, exactMatch: value, correct, total,
    examples: list(o.examples, `${at}.examples`, MAX_EXAMPLES).map((x, j) => {
      const w = `${at}.examples[${j}]`;
      const ex = record(x, w);
      return { source: text(ex.source, `${w}.source`), output: text(ex.output, `${w}.output`), target: text(ex.target, `${w}.target`), correct: bool(ex.correct, `${w}.correct`) };
    }),
  };
  return e;
}

const STATUSES: readonly RunStatus[] = ['done', 'stopped', 'error', 'queued', 'starting', 'training', 'paused', 'evaluating', 'sampling', 'recovering'];

function readRun(v: unknown, id: string, now: number): RunRecord {
  const r = record(v, 'run');
  const config = readConfig(r.config);
  const status = oneOf(r.status, STATUSES, 'status');
  const points = list(r.points, 'points', MAX_STEPS).map(readPoint);
  for (let i = 1; i < points.length; i++) if (points[i].step <= points[i - 1].step) throw new FieldError(`points must be in step order (step ${points[i].step} follows ${points[i - 1].step})`);
  const validation = list(r.validation, 'validation', MAX_STEPS).map((x, i) => {
    const o = record(x, `validation[${i}]`);
    return { step: stepOf(o.step, `validation[${i}].step`), valLoss: num(o.valLoss, `validation[${i}].valLoss`) };
  });
  const samples = list(r.samples, 'samples', MAX_SAMPLE_SETS).map((x, i) => {
    const o = record(x, `samples[${i}]`);
    return { step: stepOf(o.step, `samples[${i}].step`), samples: list(o.samples, `samples[${i}].samples`, 32).map((t, j) => text(t, `samples[${i}].samples[${j}]`)) };
  });
  let result: RunRecord['result'] = null;
  if (r.result !== null && r.result !== undefined) {
    const o = record(r.result, 'result');
    result = { valLoss: num(o.valLoss, 'result.valLoss'), steps: stepOf(o.steps, 'result.steps'), seconds: finite(o.seconds, 'result.seconds') };
  }
  let error: RunRecord['error'] = null;
  if (r.error !== null && r.error !== undefined) {
    const o = record(r.error, 'error');
    error = { kind: oneOf(o.kind, ['config', 'checkpoint', 'dataset', 'gpu', 'run'] as const, 'error.kind'), message: text(o.message, 'error.message') };
  }
  let info: RunRecord['info'] = null;
  if (r.info !== null && r.info !== undefined) {
    const o = record(r.info, 'info');
    info = {
      model: text(o.model, 'info.model', 500), datasetName: text(o.datasetName, 'info.datasetName', 200), datasetDescription: text(o.datasetDescription, 'info.datasetDescription', 2000),
      parameterCount: finite(o.parameterCount, 'info.parameterCount'), kernelPath: text(o.kernelPath, 'info.kernelPath', 500), memoryBytes: finite(o.memoryBytes, 'info.memoryBytes'),
      totalSteps: stepOf(o.totalSteps, 'info.totalSteps'), tokensPerStep: finite(o.tokensPerStep, 'info.tokensPerStep'),
      measurements: o.measurements === true, ...(o.checkpoint !== undefined ? { checkpoint: text(o.checkpoint, 'info.checkpoint', 500) } : {}),
    };
  }
  // Absent in runs saved before the page offered other architectures, and in a GPT's.
  let evaluations: ArchEvaluation[] | undefined;
  if (r.evaluations !== undefined) {
    evaluations = list(r.evaluations, 'evaluations', MAX_SAMPLE_SETS).map((x, i) => readEvaluation(x, i, config.architecture));
    for (let i = 1; i < evaluations.length; i++) {
      if (evaluations[i].step <= evaluations[i - 1].step) throw new FieldError(`evaluations must be in step order (step ${evaluations[i].step} follows ${evaluations[i - 1].step})`);
    }
  }
  const events: RunEvent[] = r.events === undefined ? [] : list(r.events, 'events', 1000).map((x, i) => {
    const o = record(x, `events[${i}]`);
    return {
      kind: oneOf(o.kind, ['device-lost', 'lower-lr', 'rollback'] as const, `events[${i}].kind`), step: stepOf(o.step, `events[${i}].step`), text: text(o.text, `events[${i}].text`),
      ...(o.lr !== undefined ? { lr: finite(o.lr, `events[${i}].lr`) } : {}),
    };
  });
  return {
    id, label: `${text(r.label, 'label', 300)} (imported)`, config, groupId: null, createdAt: now,
    // A run exported while it trained comes back as what it now is: stopped.
    status: isFinished(status) ? status : 'stopped',
    info, points, validation, samples, result, error, halt: null, events,
    ...(r.checkpointStep !== undefined ? { checkpointStep: stepOf(r.checkpointStep, 'checkpointStep') } : {}),
    ...(evaluations !== undefined ? { evaluations } : {}),
  };
}
