// --tuning-cache FILE: the start-up kernel tunings (engine/train/startup-tuning.ts) remembered in a JSON
// file between CLI runs, as the app remembers them in IndexedDB. One JSON object, one entry per adapter,
// shape list and candidate list; the engine validates each entry it reads and re-checks the kernel.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { TuningStore } from '../engine/train/startup-tuning';
import { CliError } from './args';

function readCache(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CliError(`--tuning-cache ${path}: not a tuning cache (${(e as Error).message}); delete the file or name another one`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CliError(`--tuning-cache ${path}: not a tuning cache (expected a JSON object); delete the file or name another one`);
  }
  return parsed as Record<string, unknown>;
}

/** A TuningStore over `path`. Throws a CliError at once if the file exists and is not a tuning cache, so a
 *  wrong path is reported before any GPU work rather than overwritten. */
export function fileTuningStore(path: string): TuningStore {
  readCache(path);
  return {
    load: async (key) => readCache(path)[key] ?? null,
    save: async (key, value) => {
      const all = readCache(path);
      all[key] = value;
      // Written whole to a temporary file, then renamed: an interrupted write never leaves half a cache.
      writeFileSync(`${path}.tmp`, JSON.stringify(all, null, 1));
      renameSync(`${path}.tmp`, path);
    },
  };
}
