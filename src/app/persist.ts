// Finished runs (config + metrics) and their final weights kept in this browser's IndexedDB, so a reload
// shows them again. The raw IndexedDB API, wrapped in a few promises. Where IndexedDB is missing
// (Node tests, some private modes) every call is a no-op and the page still works.
import type { RunRecord } from './runs';

const DB_NAME = 'int4-train-playground';
const DB_VERSION = 2;
const RUNS = 'runs';
const CHECKPOINTS = 'checkpoints';
/** Version 2: the start-up kernel tunings per adapter (engine/train/startup-tuning.ts, TuningStore). */
const TUNINGS = 'tunings';

let dbPromise: Promise<IDBDatabase | null> | null = null;

function requestToPromise<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

function openDb(): Promise<IDBDatabase | null> {
  if (typeof indexedDB === 'undefined') return Promise.resolve(null);
  dbPromise ??= new Promise<IDBDatabase | null>((resolve) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(RUNS)) db.createObjectStore(RUNS, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(CHECKPOINTS)) db.createObjectStore(CHECKPOINTS);
      if (!db.objectStoreNames.contains(TUNINGS)) db.createObjectStore(TUNINGS);
    };
    request.onsuccess = () => {
      const db = request.result;
      // A newer version opened elsewhere (another tab, or this page's worker after an update) waits for
      // this connection: close it, and open again on the next call.
      db.onversionchange = () => {
        db.close();
        dbPromise = null;
      };
      resolve(db);
    };
    // Storage refused (quota, private mode): runs are simply not kept.
    request.onerror = () => resolve(null);
    request.onblocked = () => resolve(null);
  });
  return dbPromise;
}

async function withStore<T>(name: string, mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T | null> {
  const db = await openDb();
  if (!db) return null;
  const tx = db.transaction(name, mode);
  const result = await requestToPromise(work(tx.objectStore(name)));
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
  return result;
}

export async function saveRun(run: RunRecord): Promise<void> {
  await withStore(RUNS, 'readwrite', (s) => s.put(run));
}

export async function loadRuns(): Promise<RunRecord[]> {
  const runs = (await withStore<RunRecord[]>(RUNS, 'readonly', (s) => s.getAll() as IDBRequest<RunRecord[]>)) ?? [];
  return runs.sort((a, b) => a.createdAt - b.createdAt);
}

export async function deleteRun(id: string): Promise<void> {
  await withStore(RUNS, 'readwrite', (s) => s.delete(id));
  await withStore(CHECKPOINTS, 'readwrite', (s) => s.delete(id));
}

export async function clearAll(): Promise<void> {
  await withStore(RUNS, 'readwrite', (s) => s.clear());
  await withStore(CHECKPOINTS, 'readwrite', (s) => s.clear());
}

export async function saveCheckpoint(runId: string, bytes: Uint8Array): Promise<void> {
  await withStore(CHECKPOINTS, 'readwrite', (s) => s.put(bytes, runId));
}

export async function loadCheckpoint(runId: string): Promise<Uint8Array | null> {
  const v = await withStore<unknown>(CHECKPOINTS, 'readonly', (s) => s.get(runId));
  return v instanceof Uint8Array ? v : null;
}

/** Run ids with a stored checkpoint (for the quota policy, quota.ts). */
export async function checkpointIds(): Promise<string[]> {
  const keys = (await withStore<IDBValidKey[]>(CHECKPOINTS, 'readonly', (s) => s.getAllKeys())) ?? [];
  return keys.filter((k): k is string => typeof k === 'string');
}

export async function deleteCheckpoint(runId: string): Promise<void> {
  await withStore(CHECKPOINTS, 'readwrite', (s) => s.delete(runId));
}

/** A remembered start-up tuning (the engine validates what it reads), or null. */
export async function loadTuning(key: string): Promise<unknown> {
  return (await withStore<unknown>(TUNINGS, 'readonly', (s) => s.get(key))) ?? null;
}

export async function saveTuning(key: string, value: unknown): Promise<void> {
  await withStore(TUNINGS, 'readwrite', (s) => s.put(value, key));
}

/** Forgets every remembered tuning: the next run on each adapter tunes from scratch. */
export async function forgetTunings(): Promise<void> {
  await withStore(TUNINGS, 'readwrite', (s) => s.clear());
}
