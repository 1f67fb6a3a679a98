// Fuzz tests of the train CLI's flag parsing: whatever a user types, parseTrainArgs returns options
// whose numbers have the flag's kind, or throws one CliError naming the flag (exit code 2), never a
// TypeError from node:util's parser or a value that slips through as NaN.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BACKWARD_QUANTIZERS, FORWARD_QUANTIZERS, PRECISIONS, PRESETS } from '../engine/config';
import { CliError, type CliOptions, FLAG_NAMES, type FlagName, parseTrainArgs } from './args';

const RUNS = { numRuns: 1000 };

function outcome(argv: string[]): { ok: true; options: CliOptions } | { ok: false; message: string } {
  let options: CliOptions;
  try {
    options = parseTrainArgs(argv);
  } catch (e) {
    if (!(e instanceof CliError)) throw new Error(`parseTrainArgs(${JSON.stringify(argv)}) threw ${String(e)} instead of a CliError`);
    expect(e.message.trim()).not.toBe('');
    return { ok: false, message: e.message };
  }
  return { ok: true, options };
}

const uint = fc.integer({ min: 0, max: 0xffffffff }).map(String);
const posInt = fc.integer({ min: 1, max: 0xffffffff }).map(String);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map(String);
const path = fc.stringMatching(/^[A-Za-z0-9_./-]{1,20}$/).filter((s) => !s.startsWith('-'));

type Kind = 'int' | 'uint' | 'number' | 'choice' | 'free' | 'flag';
const choice = (...choices: string[]) => ({ choices, valid: fc.constantFrom(...choices) });
/** Every flag with its kind and the values it takes; the test below fails when a flag is added
 *  without being listed here. */
const FLAG_VALUES: Record<FlagName, { kind: Kind; valid?: fc.Arbitrary<string>; choices?: readonly string[] }> = {
  arch: { kind: 'choice', ...choice('decoder', 'encoder', 'encdec') },
  dataset: { kind: 'free', valid: fc.oneof(fc.constantFrom('names', 'reverse', 'sort', 'addmod'), path) },
  preset: { kind: 'choice', ...choice(...Object.keys(PRESETS)) },
  layers: { kind: 'int', valid: posInt },
  'd-model': { kind: 'int', valid: posInt },
  heads: { kind: 'int', valid: posInt },
  'd-ff': { kind: 'int', valid: posInt },
  context: { kind: 'int', valid: posInt },
  'source-length': { kind: 'int', valid: posInt },
  activation: { kind: 'choice', ...choice('gelu', 'relu') },
  positional: { kind: 'choice', ...choice('learned', 'sinusoidal') },
  precision: { kind: 'choice', ...choice(...PRECISIONS) },
  'f16-path': { kind: 'choice', ...choice('auto', 'native', 'emulated') },
  'attention-kernel': { kind: 'choice', ...choice('auto', 'fused', 'separate') },
  'matmul-tuning': { kind: 'choice', ...choice('auto', 'off') },
  'hadamard-block': { kind: 'free', valid: fc.oneof(fc.constant('auto'), posInt) },
  'forward-quantizer': { kind: 'choice', ...choice(...FORWARD_QUANTIZERS) },
  'backward-quantizer': { kind: 'choice', ...choice(...BACKWARD_QUANTIZERS) },
  bits: { kind: 'int', valid: posInt },
  'quantizer-lr-scale': { kind: 'number', valid: finite },
  'int8-per-row': { kind: 'flag' },
  steps: { kind: 'uint', valid: uint },
  batch: { kind: 'int', valid: posInt },
  lr: { kind: 'number', valid: finite },
  'min-lr-ratio': { kind: 'number', valid: finite },
  warmup: { kind: 'uint', valid: uint },
  'weight-decay': { kind: 'number', valid: finite },
  beta1: { kind: 'number', valid: finite },
  beta2: { kind: 'number', valid: finite },
  'grad-clip': { kind: 'number', valid: finite },
  seed: { kind: 'uint', valid: uint },
  'log-every': { kind: 'int', valid: posInt },
  'eval-every': { kind: 'uint', valid: uint },
  'val-batches': { kind: 'int', valid: posInt },
  metrics: { kind: 'free', valid: path },
  'tuning-cache': { kind: 'free', valid: path },
  'experimental-features': { kind: 'choice', ...choice('on', 'off') },
  'measure-every': { kind: 'uint', valid: uint },
  'checkpoint-every': { kind: 'uint', valid: uint },
  sparsity: { kind: 'choice', ...choice('dense', 'oneshot', 'progressive') },
  'sparsity-phases': { kind: 'free', valid: fc.constantFrom('0.5,0.5', '0.5,0.25,0.25', '50%,50%', '100,200,100', '0') },
  'sparsity-schedule': { kind: 'choice', ...choice('restart', 'continue') },
  'sparse-qat': { kind: 'flag' },
  teacher: { kind: 'free', valid: path },
  'distill-alpha': { kind: 'number', valid: finite },
  'distill-temperature': { kind: 'number', valid: finite },
  'distill-hidden': { kind: 'number', valid: finite },
  save: { kind: 'free', valid: path },
  load: { kind: 'free', valid: path },
  profile: { kind: 'uint', valid: uint },
  sample: { kind: 'uint', valid: uint },
  memory: { kind: 'flag' },
  quiet: { kind: 'flag' },
  help: { kind: 'flag' },
};

const flagNames = fc.constantFrom(...FLAG_NAMES);

/** One flag with a valid value, in one of the spellings a shell passes: `--f v` or `--f=v`. */
interface GivenFlag {
  name: FlagName;
  raw: string | undefined;
  argv: string[];
}
const validFlag: fc.Arbitrary<GivenFlag> = flagNames.chain((name): fc.Arbitrary<GivenFlag> => {
  const { kind, valid } = FLAG_VALUES[name];
  if (kind === 'flag') return fc.constant({ name, raw: undefined, argv: [`--${name}`] });
  return fc.tuple(valid!, fc.boolean()).map(([raw, joined]) => ({ name, raw, argv: joined ? [`--${name}=${raw}`] : [`--${name}`, raw] }));
});

/** Values a flag of this kind must refuse. */
function invalidValue({ kind, choices }: (typeof FLAG_VALUES)[FlagName]): fc.Arbitrary<string> {
  const junk = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('NaN', 'Infinity', '-Infinity', 'one', ' ', '1,5', '0x', '--', '1e', '\u0000', '\ud800'));
  const notNumber = junk.filter((s) => s.trim() === '' || !Number.isFinite(Number(s)));
  switch (kind) {
    case 'int':
      return fc.oneof(notNumber, fc.constantFrom('0', '-0', '-1', '1.5', '-3', '4294967296', '1e20'), fc.double({ noNaN: true }).filter((x) => !Number.isInteger(x) || x < 1 || x > 0xffffffff).map(String));
    case 'uint':
      return fc.oneof(notNumber, fc.constantFrom('-1', '0.5', '-7', '4294967296', '1e300'), fc.double({ noNaN: true }).filter((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff).map(String));
    case 'number':
      return fc.oneof(notNumber, fc.constantFrom('1e400', '-1e400'));
    case 'choice':
      return fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom(...choices!.map((c) => c.toUpperCase()), ...choices!.map((c) => ` ${c}`))).filter((s) => !choices!.includes(s));
    default:
      return fc.constant('');
  }
}

/** Checks what an accepted parse holds against the flags' kinds. */
function expectWellTyped(o: CliOptions): void {
  const t = o.train;
  for (const v of [t.steps, t.warmupSteps, t.seed, o.evalEvery, o.samples, t.measureEvery ?? 0, t.checkpointEvery ?? 0]) expect(Number.isInteger(v) && v >= 0 && v <= 0xffffffff).toBe(true);
  for (const v of [t.batchSize, t.logEvery, t.valBatches, t.hadamardBlock, t.bits ?? 2, ...Object.values(o.modelOverrides).filter((x) => typeof x === 'number')]) {
    expect(Number.isInteger(v) && (v as number) >= 1).toBe(true);
  }
  for (const v of [t.lr, t.minLrRatio, t.weightDecay, t.beta1, t.beta2, t.gradClip, t.quantizerLrScale ?? 0]) expect(Number.isFinite(v)).toBe(true);
  expect(PRECISIONS).toContain(t.precision);
  expect(Object.keys(PRESETS)).toContain(o.preset);
  expect(o.dataset).not.toBe('');
}

describe('parseTrainArgs (fuzz)', () => {
  it('lists every flag of the CLI', () => {
    expect(Object.keys(FLAG_VALUES).sort()).toEqual([...FLAG_NAMES].sort());
  });

  it('accepts any set of well-formed flags and reads each value back', () => {
    fc.assert(
      fc.property(fc.uniqueArray(validFlag, { selector: (f) => f.name, maxLength: 8 }), (flags) => {
        const r = outcome(flags.flatMap((f) => f.argv));
        expect(r).toMatchObject({ ok: true });
        if (!r.ok) return;
        expectWellTyped(r.options);
        for (const f of flags) {
          const { kind } = FLAG_VALUES[f.name];
          if (f.name === 'steps') expect(r.options.train.steps).toBe(Number(f.raw));
          if (f.name === 'lr') expect(r.options.train.lr).toBe(Number(f.raw));
          if (f.name === 'dataset') expect(r.options.dataset).toBe(f.raw);
          if (f.name === 'd-model') expect(r.options.modelOverrides.dModel).toBe(Number(f.raw));
          if (kind === 'flag' && f.name === 'quiet') expect(r.options.quiet).toBe(true);
          if (kind === 'flag' && f.name === 'memory') expect(r.options.memoryOnly).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('rejects a bad value among good flags with a CliError naming the flag', () => {
    const bad = flagNames
      .filter((name) => FLAG_VALUES[name].kind !== 'flag')
      .chain((name) => fc.tuple(fc.constant(name), invalidValue(FLAG_VALUES[name]), fc.boolean()));
    fc.assert(
      fc.property(fc.uniqueArray(validFlag, { selector: (f) => f.name, maxLength: 4 }), bad, fc.nat(), (good, [name, raw, joined], at) => {
        const flags = good.filter((f) => f.name !== name).map((f) => f.argv);
        flags.splice(at % (flags.length + 1), 0, joined ? [`--${name}=${raw}`] : [`--${name}`, raw]);
        const r = outcome(flags.flat());
        expect(r.ok).toBe(false);
        // The value may itself look like a flag (`--steps --`), which the parser reports instead.
        if (!r.ok && !(raw.startsWith('-') && !/^-[\d.]/.test(raw))) expect(r.message).toContain(`--${name}`);
      }),
      RUNS,
    );
  });

  it('rejects unknown flags, positionals and values on switches', () => {
    const unknown = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/).filter((s) => !(FLAG_NAMES as string[]).includes(s));
    const bad = fc.oneof(
      unknown.map((s) => [`--${s}`]),
      unknown.map((s) => [`--${s}=1`]),
      fc.constantFrom(['positional'], ['-x'], ['--', 'a'], ['--quiet=yes'], ['--help=1'], ['-'], ['--__proto__'], ['--constructor', '1'], ['--toString']),
    );
    fc.assert(
      fc.property(fc.uniqueArray(validFlag, { selector: (f) => f.name, maxLength: 3 }), bad, (good, wrong) => {
        const r = outcome([...good.flatMap((f) => f.argv), ...wrong]);
        expect(r.ok).toBe(false);
        expect(!r.ok && r.message).toMatch(/see --help/);
      }),
      RUNS,
    );
  });

  it('never throws anything but a CliError on arbitrary argv, and what it accepts is well typed', () => {
    const token = fc.oneof(
      fc.string({ maxLength: 12, unit: 'binary' }),
      flagNames.map((n) => `--${n}`),
      fc.tuple(flagNames, fc.string({ maxLength: 8 })).map(([n, v]) => `--${n}=${v}`),
      fc.constantFrom('-1', '-.5', '-1e9', '0', '1', '1e3', 'NaN', '--', '-', '=', '--=', '---steps', '\u0000', '\ud800'),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 10 }), (argv) => {
        const r = outcome(argv);
        if (r.ok) expectWellTyped(r.options);
      }),
      RUNS,
    );
  });
});
