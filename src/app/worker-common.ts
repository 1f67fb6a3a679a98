// What the page's Web Workers (worker.ts, sweep-worker.ts, sparsity-worker.ts) share: opening a bundled
// dataset over the network and yielding to pending messages between steps.
import type { Architecture } from '../engine/config';
import { type Dataset, DatasetError } from '../engine/data';
import { BUNDLED_TEXT_FILES, openDataset } from '../engine/data/open';
import { setTuningStore } from '../engine/train/startup-tuning';
import { loadTuning, saveTuning } from './persist';

/** Start-up kernel tunings remembered in this browser's IndexedDB, so a reload re-checks the chosen
 *  kernels instead of timing every candidate again (where IndexedDB is missing, nothing is remembered). */
export function rememberTuningsInBrowser(): void {
  setTuningStore({ load: loadTuning, save: saveTuning });
}

/** A bundled dataset, its text fetched relative to the page: never '/datasets/…', since the site may be
 *  served from a sub-path. The architecture decides what a name opens (e.g. `reverse` as a GPT task or
 *  as a translation task). */
export async function loadBundledDataset(name: string, baseUrl: string, architecture: Architecture = 'decoder'): Promise<Dataset> {
  return openDataset(name, async (source) => {
    const path = BUNDLED_TEXT_FILES[source.name];
    if (!source.bundled || !path) throw new DatasetError(`dataset "${source.name}" is not bundled with this site`);
    const url = new URL(path, baseUrl);
    const response = await fetch(url);
    if (!response.ok) throw new DatasetError(`could not fetch ${url} (HTTP ${response.status})`);
    return response.text();
  }, architecture);
}

/** Resolves after pending events (messages) have been handled; a MessageChannel is not clamped the way
 *  nested setTimeout(0) is. */
export function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
