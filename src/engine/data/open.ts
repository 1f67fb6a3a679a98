// Opens a dataset by the name a run config gives: a synthetic task (generated in code), a bundled text
// corpus, or a user's text file. Reading files is the caller's: Node reads from disk, the browser
// fetches from the site, so this module stays free of I/O.
import { namesDataset, textCorpusDataset } from './corpus';
import type { Dataset } from './dataset';
import { SYNTHETIC_TASKS } from './synthetic';

/** Bundled corpora, as paths relative to the site root (public/ in the repository). */
export const BUNDLED_TEXT_FILES: Record<string, string> = { names: 'datasets/names.txt' };

export interface DatasetSource {
  /** The bundled corpus name, or the user's path as given. */
  name: string;
  bundled: boolean;
}

export async function openDataset(name: string, readText: (source: DatasetSource) => Promise<string>): Promise<Dataset> {
  // Own keys only: a file called "constructor" or "toString" is a user's file, not Object's method.
  const task = Object.hasOwn(SYNTHETIC_TASKS, name) ? SYNTHETIC_TASKS[name] : undefined;
  if (task) return task.create();
  if (name === 'names') return namesDataset(await readText({ name, bundled: true }));
  const label = name.split(/[\\/]/).pop() || name;
  return textCorpusDataset(label, await readText({ name, bundled: false }));
}
