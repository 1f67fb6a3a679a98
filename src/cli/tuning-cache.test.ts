// --tuning-cache's file store: what one run saves, the next reads; entries of other keys survive; a file
// that is not a tuning cache is refused (before any GPU work) rather than overwritten.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileTuningStore } from './tuning-cache';

const dir = mkdtempSync(join(tmpdir(), 'tuning-cache-'));

describe('fileTuningStore', () => {
  it('a missing file reads as empty; saves land in the file and a new store (a later run) reads them', async () => {
    const path = join(dir, 'a.json');
    const first = fileTuningStore(path);
    expect(await first.load('k1')).toBeNull();
    expect(existsSync(path)).toBe(false);
    await first.save('k1', { version: 1, chosen: { NT: 'x' } });
    await first.save('k2', { version: 1, chosen: ['dot4', null] });
    await first.save('k1', { version: 1, chosen: { NT: 'y' } });
    const later = fileTuningStore(path);
    expect(await later.load('k1')).toEqual({ version: 1, chosen: { NT: 'y' } });
    expect(await later.load('k2')).toEqual({ version: 1, chosen: ['dot4', null] });
    expect(await later.load('k3')).toBeNull();
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')))).toEqual(['k1', 'k2']);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  it('refuses a file that is not a JSON object, and leaves it alone', () => {
    for (const text of ['not json', '[]', '42', 'null']) {
      const path = join(dir, `bad-${text.length}.json`);
      writeFileSync(path, text);
      expect(() => fileTuningStore(path), text).toThrow(/not a tuning cache/);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });
});
