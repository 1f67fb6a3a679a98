// The soak benchmark: its quick variant runs in-process on this machine's adapter (CI proves it works
// and that even 200 steps allocate no GPU buffer per step), the verdict catches growth, and the flags
// refuse bad input.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CliError } from '../cli/args';
import { namesDataset } from '../engine/data/corpus';
import { acquireNodeGpu } from '../engine/gpu/node';
import { formatSoak, HEAP_NOISE_BYTES, parseSoakArgs, runSoak, type SoakSample, soakQuick, soakVerdict } from './soak';

const names = namesDataset(readFileSync(fileURLToPath(new URL('../../public/datasets/names.txt', import.meta.url)), 'utf8'));

describe('npm run bench -- soak --quick (in-process)', () => {
  it('trains 200 steps, samples every 50, and the GPU buffer count never moves', async () => {
    const gpu = await acquireNodeGpu();
    const o = soakQuick();
    const report = await runSoak(gpu, () => acquireNodeGpu(), names, o);
    expect(report.samples.map((s) => s.step)).toEqual([0, 50, 100, 150, 200]);
    // Everything is allocated when the model is built: not one buffer more or less per step, with
    // checkpoints, measurements and validation readbacks running.
    expect(new Set(report.samples.map((s) => s.liveBuffers)).size).toBe(1);
    expect(report.samples[0].liveBuffers).toBeGreaterThan(10);
    expect(report.verdict.buffers).toMatch(/^flat: \d+ live GPU buffers at every sample$/);
    for (const s of report.samples.slice(1)) {
      expect(Number.isFinite(s.valLoss)).toBe(true);
      expect(s.stepsPerSecond).toBeGreaterThan(0);
      expect(s.heapUsedBytes).toBeGreaterThan(0);
    }
    // It trained: validation loss fell from the first sample to the last.
    expect(report.samples[4].valLoss).toBeLessThan(report.samples[1].valLoss);
    expect(report.gcForced).toBe(true);
    const text = formatSoak(report);
    expect(text.split('\n').filter((l) => /^\|\s+\d+ \|/.test(l))).toHaveLength(5);
    expect(text).toMatch(/^verdict: (FLAT|GROWTH); buffers flat/m);
  }, 240_000);
});

describe('soak verdict', () => {
  const sample = (step: number, liveBuffers: number, heapMiB: number): SoakSample => ({ step, liveBuffers, heapUsedBytes: heapMiB * 2 ** 20, valLoss: 3, stepsPerSecond: step ? 10 : null });

  it('flat buffers and a heap within noise are flat', () => {
    const v = soakVerdict([sample(0, 90, 20), sample(1000, 90, 30), sample(2000, 90, 30.5), sample(3000, 90, 29.8), sample(4000, 90, 30.9)]);
    expect(v.flat).toBe(true);
    expect(v.heap).toMatch(/^flat/);
  });

  it('one buffer more anywhere, or the heap climbing past the noise allowance, is growth', () => {
    expect(soakVerdict([sample(0, 90, 20), sample(1000, 90, 30), sample(2000, 91, 30), sample(3000, 91, 30)]).flat).toBe(false);
    expect(soakVerdict([sample(0, 90, 20), sample(1000, 91, 30), sample(2000, 91, 30)]).buffers).toMatch(/GROWING: live GPU buffers went 90 → 91 → 91/);
    const growing = soakVerdict([sample(0, 90, 20), sample(1000, 90, 30), sample(2000, 90, 33), sample(3000, 90, 36), sample(4000, 90, 39)]);
    expect(growing.flat).toBe(false);
    expect(growing.heap).toMatch(/^GROWING/);
    // Just above the allowance on a small heap is growth too.
    const small = 10;
    const over = soakVerdict([sample(0, 5, 1), sample(1, 5, small), sample(2, 5, small + (HEAP_NOISE_BYTES / 2 ** 20) * 1.5)]);
    expect(over.flat).toBe(false);
  });

  it('too few samples do not pass as flat', () => {
    expect(soakVerdict([sample(0, 90, 20), sample(1000, 90, 20)]).flat).toBe(false);
  });
});

describe('soak flags', () => {
  it('defaults to 10,000 steps sampled every 1,000; --quick to 200 every 50', () => {
    expect(parseSoakArgs([])).toMatchObject({ steps: 10_000, sampleEvery: 1000, precision: 'fp32', quick: false });
    expect(parseSoakArgs(['--quick'])).toMatchObject({ steps: 200, sampleEvery: 50, quick: true });
    expect(parseSoakArgs(['--steps', '500', '--sample-every', '100', '--precision', 'int4', '--batch', '8', '--out', 'x.json'])).toMatchObject({ steps: 500, sampleEvery: 100, precision: 'int4', batchSize: 8, out: 'x.json' });
  });

  it('refuses bad input with what to change', () => {
    expect(() => parseSoakArgs(['--steps', '0'])).toThrow(CliError);
    expect(() => parseSoakArgs(['--steps', 'many'])).toThrow(/--steps takes an integer ≥ 1, got "many"/);
    expect(() => parseSoakArgs(['--precision', 'fp8'])).toThrow(/--precision must be one of fp32/);
    expect(() => parseSoakArgs(['--steps', '100', '--sample-every', '500'])).toThrow(/--sample-every 500 is more than the 100 steps/);
    expect(() => parseSoakArgs(['--nope'])).toThrow(/see npm run bench -- soak --help/);
  });
});
