// The panel's "fastest of the path's kernels" (runKernelBenches with bestOfPath): which measurement wins.
import { describe, expect, it } from 'vitest';
import { beats } from './kernels';

describe('beats: the row keeps the fastest kernel that passed its check', () => {
  it('a passing kernel beats a failing one whatever their times', () => {
    expect(beats({ ok: true, seconds: 9 }, { ok: false, seconds: 1 })).toBe(true);
    expect(beats({ ok: false, seconds: 1 }, { ok: true, seconds: 9 })).toBe(false);
  });
  it('between two passing kernels the faster wins; a tie keeps the earlier (the built-in kernel is timed first)', () => {
    expect(beats({ ok: true, seconds: 1 }, { ok: true, seconds: 2 })).toBe(true);
    expect(beats({ ok: true, seconds: 2 }, { ok: true, seconds: 1 })).toBe(false);
    expect(beats({ ok: true, seconds: 1 }, { ok: true, seconds: 1 })).toBe(false);
  });
});
