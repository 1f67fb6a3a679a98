// What the page does when the browser's storage quota is full: metrics and configs of runs are small and
// are what the user came for; checkpoints (weights, optimizer state) are large and can be made again.
// So a write refused for quota makes room by deleting stored checkpoints, the oldest run's first, and
// tries again. The policy is pure over a small storage interface so that it is unit-tested with a fake
// store (quota.test.ts); persist.ts implements the interface on IndexedDB.

/** The storage operations the policy needs. */
export interface CheckpointStorage {
  /** Run ids that have a stored checkpoint. */
  checkpointIds(): Promise<string[]>;
  deleteCheckpoint(runId: string): Promise<void>;
}

/** A write refused because storage is full: DOMException QuotaExceededError (IndexedDB reports it on
 *  the request or the aborted transaction), or Firefox's older NS_ERROR_DOM_QUOTA_REACHED. */
export function isQuotaError(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const name = (e as { name?: unknown }).name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED' || (e as { code?: unknown }).code === 22;
}

export interface QuotaOutcome {
  /** The write went through (possibly after dropping checkpoints). */
  saved: boolean;
  /** Runs whose stored checkpoint was deleted to make room, in the order they were deleted. */
  dropped: string[];
}

/**
 * Runs `write`. When it fails for quota, deletes one stored checkpoint at a time and retries: those of
 * other runs first, oldest run first (by `createdAt`; runs no longer listed, first of all), and the
 * checkpoint of `forRun` (the run being written, whose old checkpoint a new one replaces) only when none
 * is left. Errors other than quota are thrown. Never touches run records.
 */
export async function writeWithinQuota(storage: CheckpointStorage, write: () => Promise<void>, forRun: string | null, createdAt: ReadonlyMap<string, number>): Promise<QuotaOutcome> {
  const dropped: string[] = [];
  let candidates: string[] | null = null;
  for (;;) {
    try {
      await write();
      return { saved: true, dropped };
    } catch (e) {
      if (!isQuotaError(e)) throw e;
    }
    candidates ??= dropOrder(await storage.checkpointIds(), forRun, createdAt);
    const next = candidates.shift();
    if (next === undefined) return { saved: false, dropped };
    await storage.deleteCheckpoint(next);
    dropped.push(next);
  }
}

/** The order checkpoints are dropped in (see writeWithinQuota). */
export function dropOrder(ids: readonly string[], forRun: string | null, createdAt: ReadonlyMap<string, number>): string[] {
  const age = (id: string) => createdAt.get(id) ?? -Infinity;
  const others = ids.filter((id) => id !== forRun).sort((a, b) => age(a) - age(b));
  return ids.includes(forRun ?? '') && forRun !== null ? [...others, forRun] : others;
}
