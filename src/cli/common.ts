// What the Node commands share: finding bundled data, opening datasets, the model config from a preset
// and flags, and the exit-code contract (0 done, 2 bad input with one line saying what to change,
// 1 anything else, such as no GPU adapter).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Architecture, ConfigError, type ModelConfig, modelConfigFromPreset } from '../engine/config';
import { isClassificationDataset } from '../engine/data/classify';
import { isTranslationDataset } from '../engine/data/translate';
import { DatasetError, Rng } from '../engine/data';
import type { Dataset } from '../engine/data/dataset';
import { BUNDLED_TEXT_FILES, openDataset } from '../engine/data/open';
import { CheckpointError } from '../engine/train/checkpoint';
import { CliError, type CliOptions } from './args';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: dist-node/ (bundled) or src/cli/ (sources) sit below it. */
const root = [resolve(here, '..'), resolve(here, '../..')].find((d) => existsSync(resolve(d, 'public/datasets'))) ?? process.cwd();

/** The run's architecture: --arch, else a loaded checkpoint's, else the decoder. A --arch that
 *  contradicts the checkpoint is an error. */
export function architectureOf(o: CliOptions, fromCheckpoint: ModelConfig | null): Architecture {
  if (o.architecture && fromCheckpoint && o.architecture !== fromCheckpoint.architecture) {
    throw new CliError(`--arch ${o.architecture === 'encoder-decoder' ? 'encdec' : o.architecture} contradicts the checkpoint, which holds an ${fromCheckpoint.architecture} model; leave --arch out to use the checkpoint's`);
  }
  return o.architecture ?? fromCheckpoint?.architecture ?? 'decoder';
}

/** Opens a dataset as the architecture trains on it (a decoder's corpus or task, a classification
 *  task, a translation task); a dataset of another architecture is a DatasetError that says which. */
export async function loadDataset(name: string, architecture: Architecture = 'decoder'): Promise<Dataset> {
  return openDataset(name, async (spec) => {
    const path = spec.bundled ? resolve(root, 'public', BUNDLED_TEXT_FILES[spec.name]) : resolve(spec.name);
    if (!existsSync(path)) throw new DatasetError(`dataset file not found: ${path} (give a bundled name such as names, reverse, sort, addmod, or an existing text file)`);
    if (statSync(path).isDirectory()) throw new DatasetError(`dataset path ${path} is a directory; give a text file`);
    return readFileSync(path, 'utf8');
  }, architecture);
}

/** Surfaces dataset problems (a task that does not fit the context, a corpus too short) before the GPU
 *  is acquired and the model built. */
export function checkDatasetFits(dataset: Dataset, contextLength: number, sourceLength?: number): void {
  dataset.trainBatch(new Rng(0), 1, contextLength, sourceLength);
  dataset.valBatches(1, 1, contextLength, sourceLength);
}

export function modelConfig(o: CliOptions, dataset: Dataset, fromCheckpoint: ModelConfig | null): ModelConfig {
  const architecture = architectureOf(o, fromCheckpoint);
  const base = fromCheckpoint ?? modelConfigFromPreset(o.preset, dataset.tokenizer.vocabSize);
  const { sourceLength, ...overrides } = o.modelOverrides;
  const m: ModelConfig = { ...base, ...overrides, architecture };
  if (architecture === 'encoder' && isClassificationDataset(dataset)) m.numClasses = dataset.classes.length;
  if (architecture === 'encoder-decoder' && isTranslationDataset(dataset)) m.sourceLength = sourceLength ?? fromCheckpoint?.sourceLength ?? dataset.minSourceLength;
  else if (sourceLength !== undefined) throw new CliError('--source-length applies to --arch encdec (the encoder-decoder) only');
  return m;
}

function isUserError(e: unknown): boolean {
  return e instanceof CliError || e instanceof ConfigError || e instanceof DatasetError || e instanceof CheckpointError;
}

/** Runs a command's main and exits with the contract's code. (Exiting explicitly also ends Dawn's
 *  background threads, which would otherwise keep Node alive.) */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      // A progress bar may own the terminal's current line: start the message on a fresh one.
      process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}error: ${msg.split('\n')[0]}\n`);
      process.exit(isUserError(e) ? 2 : 1);
    },
  );
}
