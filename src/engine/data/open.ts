// Opens a dataset by the name a run config gives: a synthetic task (generated in code), a bundled text
// corpus, or a user's text file. Reading files is the caller's: Node reads from disk, the browser
// fetches from the site, so this module stays free of I/O.
import type { Architecture, ModelConfig } from '../config';
import { CLASSIFICATION_TASKS, isClassificationDataset } from './classify';
import { namesDataset, textCorpusDataset } from './corpus';
import { type Dataset, DatasetError } from './dataset';
import { SYNTHETIC_TASKS } from './synthetic';
import { TRANSLATION_TASKS } from './translate';

/** Bundled corpora, as paths relative to the site root (public/ in the repository). */
export const BUNDLED_TEXT_FILES: Record<string, string> = { names: 'datasets/names.txt' };

export interface DatasetSource {
  /** The bundled corpus name, or the user's path as given. */
  name: string;
  bundled: boolean;
}

/** What is wrong with training a model of this config on this dataset (null: nothing): the dataset's
 *  kind must be the architecture's, a classifier's classes the dataset's. */
export function datasetArchitectureError(model: Pick<ModelConfig, 'architecture' | 'numClasses'>, dataset: Dataset): string | null {
  const kind = dataset.kind ?? 'language-model';
  const wanted = model.architecture === 'encoder' ? 'classification' : model.architecture === 'encoder-decoder' ? 'translation' : 'language-model';
  if (kind !== wanted) return `dataset ${dataset.name} is a ${kind} dataset, but architecture ${model.architecture} trains on a ${wanted} dataset (${datasetNamesFor(model.architecture).join(', ')})`;
  if (isClassificationDataset(dataset) && model.numClasses !== dataset.classes.length) {
    return `the classifier has ${String(model.numClasses)} classes but dataset ${dataset.name} has ${dataset.classes.length}`;
  }
  return null;
}

/** The datasets an architecture trains on, for messages. */
export function datasetNamesFor(architecture: Architecture): string[] {
  if (architecture === 'encoder') return Object.keys(CLASSIFICATION_TASKS);
  if (architecture === 'encoder-decoder') return Object.keys(TRANSLATION_TASKS);
  return ['names', ...Object.keys(SYNTHETIC_TASKS), 'a text file'];
}

/** Opens `name` as the kind of dataset the architecture trains on: a language-model corpus or task for
 *  the decoder, a classification task for the encoder, a translation task for the encoder-decoder. A
 *  name that exists only for another architecture is a DatasetError that says which one. */
export async function openDataset(name: string, readText: (source: DatasetSource) => Promise<string>, architecture: Architecture = 'decoder'): Promise<Dataset> {
  const own = <T>(table: Record<string, T>) => (Object.hasOwn(table, name) ? table[name] : undefined);
  if (architecture === 'encoder' || architecture === 'encoder-decoder') {
    const entry = architecture === 'encoder' ? own(CLASSIFICATION_TASKS) : own(TRANSLATION_TASKS);
    if (entry) return entry.create();
    const what = architecture === 'encoder' ? 'an encoder classifier trains on a classification dataset' : 'an encoder-decoder trains on a translation dataset';
    throw new DatasetError(`dataset "${name}" does not fit architecture ${architecture}: ${what} (${datasetNamesFor(architecture).join(', ')})`);
  }
  if (own(CLASSIFICATION_TASKS) && !own(SYNTHETIC_TASKS)) {
    throw new DatasetError(`dataset "${name}" is a classification task: train it with architecture encoder (--arch encoder)`);
  }
  if (own(TRANSLATION_TASKS) && !own(SYNTHETIC_TASKS)) {
    throw new DatasetError(`dataset "${name}" is a translation task: train it with architecture encoder-decoder (--arch encdec)`);
  }
  // Own keys only: a file called "constructor" or "toString" is a user's file, not Object's method.
  const task = Object.hasOwn(SYNTHETIC_TASKS, name) ? SYNTHETIC_TASKS[name] : undefined;
  if (task) return task.create();
  if (name === 'names') return namesDataset(await readText({ name, bundled: true }));
  const label = name.split(/[\\/]/).pop() || name;
  return textCorpusDataset(label, await readText({ name, bundled: false }));
}
