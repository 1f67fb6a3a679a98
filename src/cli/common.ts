// What the Node commands share: finding bundled data, opening datasets, the model config from a preset
// and flags, and the exit-code contract (0 done, 2 bad input with one line saying what to change,
// 1 anything else, such as no GPU adapter).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ModelConfig, modelConfigFromPreset } from '../engine/config';
import { DatasetError, Rng } from '../engine/data';
import type { Dataset } from '../engine/data/dataset';
import { BUNDLED_TEXT_FILES, openDataset } from '../engine/data/open';
import { CheckpointError } from '../engine/train/checkpoint';
import { CliError, type CliOptions } from './args';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: dist-node/ (bundled) or src/cli/ (sources) sit below it. */
const root = [resolve(here, '..'), resolve(here, '../..')].find((d) => existsSync(resolve(d, 'public/datasets'))) ?? process.cwd();

export async function loadDataset(name: string): Promise<Dataset> {
  return openDataset(name, async (spec) => {
    const path = spec.bundled ? resolve(root, 'public', BUNDLED_TEXT_FILES[spec.name]) : resolve(spec.name);
    if (!existsSync(path)) throw new DatasetError(`dataset file not found: ${path} (give a bundled name such as names, reverse, sort, addmod, or an existing text file)`);
    if (statSync(path).isDirectory()) throw new DatasetError(`dataset path ${path} is a directory; give a text file`);
    return readFileSync(path, 'utf8');
  });
}

/** Surfaces dataset problems (a task that does not fit the context, a corpus too short) before the GPU
 *  is acquired and the model built. */
export function checkDatasetFits(dataset: Dataset, contextLength: number): void {
  dataset.trainBatch(new Rng(0), 1, contextLength);
  dataset.valBatches(1, 1, contextLength);
}

export function modelConfig(o: CliOptions, dataset: Dataset, fromCheckpoint: ModelConfig | null): ModelConfig {
  const base = fromCheckpoint ?? modelConfigFromPreset(o.preset, dataset.tokenizer.vocabSize);
  return { ...base, ...o.modelOverrides };
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
