// The CLI's contract on bad input: one clear line on stderr and exit code 2, before any training.
// Runs the bundled CLI as a user would (node dist-node/train.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../engine/train/checkpoint';
import { detectLossSpikes } from '../engine/train/spikes';
import { FLAG_NAMES, helpText, parseTrainArgs } from './args';

const dir = mkdtempSync(join(tmpdir(), 'cli-test-'));

function train(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('node', ['dist-node/train.mjs', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** The one line a user sees: stderr holds nothing but "error: …". */
function expectOneLineError(r: ReturnType<typeof train>, pattern: RegExp) {
  expect(r.code).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
}

beforeAll(() => {
  execFileSync('node', ['scripts/build-node.mjs', '--quiet']);
});

describe('train CLI: bad input', () => {
  it('a missing dataset file', () => {
    expectOneLineError(train(['--dataset', join(dir, 'no-such-file.txt'), '--steps', '1']), /not found.*no-such-file/);
  });

  it('an empty dataset file', () => {
    const p = join(dir, 'empty.txt');
    writeFileSync(p, '\n\n');
    expectOneLineError(train(['--dataset', p, '--steps', '1']), /empty/);
  });

  it('--steps -1', () => {
    expectOneLineError(train(['--steps', '-1']), /--steps must be a non-negative integer/);
  });

  it('--d-model 30 --heads 4', () => {
    expectOneLineError(train(['--preset', 'tiny', '--d-model', '30', '--heads', '4']), /d_model \(30\) must be divisible by heads \(4\)/);
  });

  it('a truncated safetensors file', () => {
    const full = encodeSafetensors({ tensors: [{ name: 'w', shape: [4, 4], data: new Float32Array(16).fill(1) }], metadata: { a: 'b' } });
    const p = join(dir, 'cut.safetensors');
    writeFileSync(p, full.subarray(0, full.length - 10));
    expectOneLineError(train(['--load', p, '--steps', '0']), /truncated/);
  });

  it('a --tuning-cache file that is not a tuning cache (left as it is)', () => {
    const p = join(dir, 'not-a-cache.json');
    writeFileSync(p, '[1, 2');
    expectOneLineError(train(['--preset', 'tiny', '--steps', '1', '--tuning-cache', p]), /--tuning-cache .*not-a-cache\.json: not a tuning cache .*delete the file or name another one/);
    writeFileSync(p, '[1, 2]');
    expectOneLineError(train(['--preset', 'tiny', '--steps', '1', '--tuning-cache', p]), /not a tuning cache \(expected a JSON object\)/);
    expect(readFileSync(p, 'utf8')).toBe('[1, 2]');
  });

  it('--profile with --experimental-features off (exact timestamps need allow_unsafe_apis)', () => {
    expectOneLineError(train(['--preset', 'tiny', '--steps', '2', '--profile', '1', '--experimental-features', 'off']), /--profile needs Dawn's allow_unsafe_apis/);
  });

  it('an unknown flag and a malformed number', () => {
    expectOneLineError(train(['--nope']), /Unknown option '--nope'/);
    expectOneLineError(train(['--lr', 'fast']), /--lr must be a number/);
    expectOneLineError(train(['--preset', 'huge']), /--preset must be one of tiny, small, medium/);
  });
});

describe('train CLI: a run too large for the GPU', () => {
  it('ends with one line saying what is needed against the limit and the largest batch that fits, exit code 2', () => {
    const r = train(['--preset', 'tiny', '--batch', '200000', '--steps', '1', '--quiet']);
    expect(r.code).toBe(2);
    // Dawn may print its own "Warning:" lines on acquiring the adapter; the CLI's output is one line.
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Warning: '));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: this run needs a [\d.]+ GiB buffer for the .*, but this GPU allows [\d.]+ (MiB|GiB) per buffer \(max\w+\); .*the largest batch size that fits is \d+ \(batch 200000 now\)$/);
  });
});

describe('train CLI: bad quantizer settings', () => {
  it('an unknown precision, a Hadamard block larger than d_model or not a power of two, bits outside 2–8, incompatible quantizers', () => {
    expectOneLineError(train(['--precision', 'int3']), /--precision must be one of fp32, fp16, int8, int4, int4-minmax, int4-lsq-luq/);
    expectOneLineError(train(['--preset', 'tiny', '--precision', 'int4', '--hadamard-block', '64']), /hadamard-block 64 is larger than d_model 48.*at most 16/);
    expectOneLineError(train(['--precision', 'int4', '--hadamard-block', '24']), /hadamard-block must be a power of two from 1 to 1024/);
    expectOneLineError(train(['--precision', 'int4', '--hadamard-block', 'big']), /--hadamard-block must be "auto" or a positive integer \(got "big"\)/);
    expectOneLineError(train(['--backward-quantizer', 'uniform']), /--backward-quantizer must be one of lss, bitsplit, luq, minmax, none/);
    expectOneLineError(train(['--precision', 'int4', '--bits', '9']), /bits must be an integer from 2 to 8 \(got 9\)/);
    expectOneLineError(train(['--precision', 'int4', '--bits', '1']), /bits must be an integer from 2 to 8 \(got 1\)/);
    expectOneLineError(train(['--precision', 'int4', '--forward-quantizer', 'none']), /backward-quantizer lss samples rows by the norms of the LSQ codes of X/);
    expectOneLineError(train(['--precision', 'fp32', '--bits', '4']), /apply to the quantized precisions/);
  });
});

describe('train CLI: arguments', () => {
  it('--help lists every flag', () => {
    const r = train(['--help']);
    expect(r.code).toBe(0);
    for (const f of FLAG_NAMES) expect(r.stdout).toContain(`--${f}`);
    expect(r.stdout).toBe(helpText() + '\n');
  });

  it('model flags override the preset and training flags reach the config', () => {
    const o = parseTrainArgs(['--preset', 'tiny', '--d-model', '64', '--heads', '8', '--steps', '7', '--lr', '0.01', '--batch', '5', '--seed', '9']);
    expect(o.preset).toBe('tiny');
    expect(o.modelOverrides).toEqual({ dModel: 64, nHead: 8 });
    expect(o.train).toMatchObject({ steps: 7, lr: 0.01, batchSize: 5, seed: 9, precision: 'fp32' });
  });

  it('--hadamard-block auto searches the block per layer, N fixes it; --metrics turns measurements on unless --measure-every says otherwise', () => {
    expect(parseTrainArgs(['--hadamard-block', 'auto']).train).toMatchObject({ hadamardSearch: true });
    expect(parseTrainArgs(['--hadamard-block', '16']).train).toMatchObject({ hadamardSearch: false, hadamardBlock: 16 });
    expect(parseTrainArgs([]).train.measureEvery).toBe(0);
    expect(parseTrainArgs(['--metrics', 'm.jsonl']).train.measureEvery).toBeGreaterThan(0);
    expect(parseTrainArgs(['--metrics', 'm.jsonl', '--measure-every', '0']).train.measureEvery).toBe(0);
    expect(parseTrainArgs(['--measure-every', '7']).train.measureEvery).toBe(7);
  });

  it('--checkpoint-every: 100 by default, 0 turns checkpoints off', () => {
    expect(parseTrainArgs([]).train.checkpointEvery).toBe(100);
    expect(parseTrainArgs(['--checkpoint-every', '0']).train.checkpointEvery).toBe(0);
    expect(parseTrainArgs(['--checkpoint-every', '25']).train.checkpointEvery).toBe(25);
  });
});

describe('train CLI: a lost GPU device', () => {
  it('resumes from the last in-memory checkpoint with a one-line notice, and ends with the uninterrupted run\'s numbers', () => {
    const args = (metrics: string) => ['--preset', 'tiny', '--precision', 'fp32', '--batch', '2', '--steps', '12', '--checkpoint-every', '5', '--log-every', '1', '--seed', '4', '--metrics', metrics];
    const steps = (path: string) =>
      readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number; loss?: number; final?: boolean; val_loss?: number }).filter((r) => r.loss !== undefined);
    const plainPath = join(dir, 'plain.jsonl');
    const plain = train(args(plainPath));
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).not.toMatch(/notice:/);

    // The test hook destroys the device once, after step 8: the checkpoint of step 5 is the last one.
    const lostPath = join(dir, 'lost.jsonl');
    const lost = train(args(lostPath), { PLAYGROUND_TEST_LOSE_DEVICE_AT: '8' });
    expect(lost.code, lost.stderr).toBe(0);
    const notices = lost.stderr.split('\n').filter((l) => l.startsWith('notice:'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^notice: the GPU device was lost at step \d+ \(destroyed.*\); resumed on a new device from the checkpoint at step 5$/);
    // One record per step in the metrics file, and every number as in the run that was not interrupted.
    expect(steps(lostPath).map((r) => r.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(steps(lostPath).map((r) => r.loss)).toEqual(steps(plainPath).map((r) => r.loss));
    expect(lost.stdout.split('\n')[0].split('  ')[0]).toBe(plain.stdout.split('\n')[0].split('  ')[0]); // "val_loss X"
    // The loss-spike report is the spike rule over the per-step losses of the file: one record per step,
    // the rewound steps' first tries not counted.
    for (const [path, out] of [[plainPath, plain.stdout], [lostPath, lost.stdout]] as const) {
      const final = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { final?: boolean; loss_spikes?: { step: number }[] }).find((r) => r.final);
      const expected = detectLossSpikes(steps(path).map((r) => ({ step: r.step!, loss: r.loss! })));
      expect(final?.loss_spikes?.map((x) => x.step)).toEqual(expected.map((x) => x.step));
      expect(out).toMatch(expected.length === 0 ? /^loss spikes: none$/m : new RegExp(`^loss spikes: ${expected.length} `, 'm'));
    }
  });
});

describe('train CLI: --memory', () => {
  it('prints what the run would allocate and exits without acquiring a GPU; INT4 adds its quantizer buffers to FP32\'s', () => {
    const args = ['--preset', 'tiny', '--checkpoint-every', '0', '--memory'];
    const fp32 = train([...args, '--precision', 'fp32']);
    const int4 = train([...args, '--precision', 'int4']);
    for (const r of [fp32, int4]) {
      expect(r.code).toBe(0);
      // "GPU: …" is the first thing a run logs after acquiring the adapter.
      expect(r.stderr).not.toMatch(/GPU:/);
      expect(r.stdout).toMatch(/^total [\d.]+ (KiB|MiB|GiB) in \d+ buffers/m);
    }
    const total = (out: string) => {
      const [, v, unit] = /^total ([\d.]+) (KiB|MiB|GiB)/m.exec(out)!;
      return Number(v) * { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }[unit as 'KiB' | 'MiB' | 'GiB'];
    };
    expect(total(int4.stdout)).toBeGreaterThan(total(fp32.stdout));
    expect(int4.stdout).toMatch(/shared quantized\./);
    expect(fp32.stdout).not.toMatch(/quantized/);
  });
});
