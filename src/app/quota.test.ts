// The quota policy against a fake store with a byte budget: a full store drops checkpoints, oldest run
// first, until the write fits; run records (metrics and configs) are never dropped.
import { describe, expect, it } from 'vitest';
import { type CheckpointStorage, dropOrder, isQuotaError, writeWithinQuota } from './quota';

/** An in-memory store that refuses, as IndexedDB does, a write that would exceed its quota. */
class FakeStore implements CheckpointStorage {
  runs = new Map<string, number>();
  checkpoints = new Map<string, number>();
  deletes: string[] = [];
  constructor(private readonly quota: number) {}

  private used(): number {
    let n = 0;
    for (const v of this.runs.values()) n += v;
    for (const v of this.checkpoints.values()) n += v;
    return n;
  }

  private put(map: Map<string, number>, id: string, bytes: number): Promise<void> {
    // A replaced value frees its old size (the check is on the store after the write).
    if (this.used() - (map.get(id) ?? 0) + bytes > this.quota) return Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError'));
    map.set(id, bytes);
    return Promise.resolve();
  }

  saveRun(id: string, bytes: number): Promise<void> {
    return this.put(this.runs, id, bytes);
  }

  saveCheckpoint(id: string, bytes: number): Promise<void> {
    return this.put(this.checkpoints, id, bytes);
  }

  async checkpointIds(): Promise<string[]> {
    return [...this.checkpoints.keys()];
  }

  async deleteCheckpoint(id: string): Promise<void> {
    this.deletes.push(id);
    this.checkpoints.delete(id);
  }
}

/** Runs a..d created in that order; c's checkpoint was stored first, so storage order is not age order. */
function filled(quota: number): { store: FakeStore; createdAt: Map<string, number> } {
  const store = new FakeStore(quota);
  const createdAt = new Map([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
  for (const id of ['a', 'b', 'c', 'd']) store.runs.set(id, 10);
  for (const id of ['c', 'a', 'b']) store.checkpoints.set(id, 100);
  return { store, createdAt };
}

describe('writeWithinQuota', () => {
  it('writes without dropping anything while there is room', async () => {
    const { store, createdAt } = filled(1000);
    const out = await writeWithinQuota(store, () => store.saveCheckpoint('d', 100), 'd', createdAt);
    expect(out).toEqual({ saved: true, dropped: [] });
    expect(store.deletes).toEqual([]);
  });

  it('a full store drops the oldest runs\' checkpoints first, only as many as needed, and keeps every run record', async () => {
    const { store, createdAt } = filled(40 + 300 + 50); // four records, three checkpoints, 50 bytes free
    const out = await writeWithinQuota(store, () => store.saveCheckpoint('d', 220), 'd', createdAt);
    // 220 needs 170 more: dropping a (oldest) frees 100, then b: 200. c, newer, stays.
    expect(out).toEqual({ saved: true, dropped: ['a', 'b'] });
    expect([...store.checkpoints.keys()].sort()).toEqual(['c', 'd']);
    expect([...store.runs.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a run record that does not fit makes room the same way (metrics outrank weights)', async () => {
    const { store, createdAt } = filled(40 + 300);
    const out = await writeWithinQuota(store, () => store.saveRun('a', 60), 'a', createdAt);
    // Run a's own checkpoint goes last: b (the oldest other run) is dropped first.
    expect(out).toEqual({ saved: true, dropped: ['b'] });
    expect(store.runs.get('a')).toBe(60);
    expect(store.checkpoints.has('a')).toBe(true);
  });

  it('gives up, saying so, when nothing is left to drop', async () => {
    const { store, createdAt } = filled(40 + 300);
    const out = await writeWithinQuota(store, () => store.saveCheckpoint('d', 10_000), 'd', createdAt);
    expect(out.saved).toBe(false);
    expect(out.dropped).toEqual(['a', 'b', 'c']);
    expect(store.runs.size).toBe(4);
  });

  it('other errors are not quota problems: they are thrown, and nothing is dropped', async () => {
    const { store, createdAt } = filled(1000);
    await expect(writeWithinQuota(store, () => Promise.reject(new DOMException('gone', 'InvalidStateError')), 'd', createdAt)).rejects.toThrow('gone');
    expect(store.deletes).toEqual([]);
  });
});

describe('quota helpers', () => {
  it('recognises the ways browsers report a full store', () => {
    expect(isQuotaError(new DOMException('x', 'QuotaExceededError'))).toBe(true);
    expect(isQuotaError({ name: 'NS_ERROR_DOM_QUOTA_REACHED' })).toBe(true);
    expect(isQuotaError({ code: 22 })).toBe(true);
    expect(isQuotaError(new Error('QuotaExceededError'))).toBe(false);
    expect(isQuotaError(null)).toBe(false);
  });

  it('drop order: unknown runs, then oldest first, the run being written last', () => {
    const createdAt = new Map([['a', 1], ['b', 2], ['c', 3]]);
    expect(dropOrder(['c', 'b', 'zombie', 'a'], 'b', createdAt)).toEqual(['zombie', 'a', 'c', 'b']);
    expect(dropOrder(['c', 'a'], 'b', createdAt)).toEqual(['a', 'c']);
    expect(dropOrder(['c', 'a'], null, createdAt)).toEqual(['a', 'c']);
  });
});
