// Fuzz tests of run-config validation: configs arrive from URLs, saved files, checkpoints and CLI flags,
// so validateRunConfig must turn anything into either the config itself or one ConfigError that names
// what to change, never a TypeError or a hang.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BACKWARD_QUANTIZERS,
  ConfigError,
  DEFAULT_TRAIN,
  FORWARD_QUANTIZERS,
  type ModelConfig,
  PRECISIONS,
  QUANTIZED_PRECISIONS,
  type RunConfig,
  type TrainConfig,
  validateRunConfig,
} from './config';

const RUNS = { numRuns: 1000 };

/** What validation returns or throws, with anything other than a ConfigError failing the property. */
function outcome(c: unknown): { ok: true } | { ok: false; message: string } {
  let returned: unknown;
  try {
    returned = validateRunConfig(c as RunConfig);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw new Error(`validateRunConfig threw ${String(e)} instead of a ConfigError`);
    expect(e.message.trim()).not.toBe('');
    return { ok: false, message: e.message };
  }
  expect(returned).toBe(c);
  return { ok: true };
}

// ---- well-formed configs ----

const modelArb: fc.Arbitrary<ModelConfig> = fc
  .record({
    nLayer: fc.integer({ min: 1, max: 12 }),
    nHead: fc.integer({ min: 1, max: 16 }),
    headSize: fc.integer({ min: 1, max: 64 }),
    dFF: fc.integer({ min: 1, max: 4096 }),
    contextLength: fc.integer({ min: 1, max: 1024 }),
    vocabSize: fc.integer({ min: 1, max: 5000 }),
    activation: fc.constantFrom('gelu' as const, 'relu' as const),
    positionalEncoding: fc.constantFrom('learned' as const, 'sinusoidal' as const),
    layerNormEps: fc.double({ min: 1e-12, max: 1, noNaN: true }),
  })
  .map(({ headSize, ...m }) => ({ architecture: 'decoder' as const, ...m, dModel: m.nHead * headSize }));

const powerOfTwo = (maxExp: number) => fc.integer({ min: 0, max: maxExp }).map((k) => 2 ** k);

function trainArb(m: ModelConfig): fc.Arbitrary<TrainConfig> {
  const base = fc.record({
    precision: fc.constantFrom(...PRECISIONS),
    f16Path: fc.constantFrom('auto' as const, 'native' as const, 'emulated' as const),
    hadamardSearch: fc.boolean(),
    int8PerRow: fc.boolean(),
    quantizerLrScale: fc.double({ min: 0, max: 10, noNaN: true }),
    steps: fc.integer({ min: 0, max: 1e6 }),
    batchSize: fc.integer({ min: 1, max: 512 }),
    lr: fc.double({ min: 1e-8, max: 1, noNaN: true }),
    minLrRatio: fc.double({ min: 0, max: 1, noNaN: true }),
    warmupSteps: fc.integer({ min: 0, max: 1000 }),
    weightDecay: fc.double({ min: 0, max: 1, noNaN: true }),
    beta1: fc.double({ min: 0, max: 0.999, noNaN: true }),
    beta2: fc.double({ min: 0, max: 0.9999, noNaN: true }),
    eps: fc.double({ min: 1e-12, max: 1e-3, noNaN: true }),
    gradClip: fc.double({ min: 0, max: 10, noNaN: true }),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
    logEvery: fc.integer({ min: 1, max: 100 }),
    measureEvery: fc.integer({ min: 0, max: 100 }),
    valBatches: fc.integer({ min: 1, max: 16 }),
    // The largest block an hq layer can take is bounded by d_model.
    hadamardBlock: powerOfTwo(Math.min(10, Math.floor(Math.log2(m.dModel)))),
    bits: fc.integer({ min: 2, max: 8 }),
    forward: fc.constantFrom(...FORWARD_QUANTIZERS),
    backward: fc.constantFrom(...BACKWARD_QUANTIZERS),
    override: fc.boolean(),
  });
  return base.map(({ bits, forward, backward, override, ...t }) => {
    const train: TrainConfig = { ...DEFAULT_TRAIN, ...t };
    if (override && QUANTIZED_PRECISIONS[t.precision]) {
      // LSS and the bit split need LSQ codes of X: pair them only with hq or lsq.
      const needsLsq = backward === 'lss' || backward === 'bitsplit';
      train.forwardQuantizer = needsLsq && forward !== 'hq' && forward !== 'lsq' ? 'lsq' : forward;
      train.backwardQuantizer = backward;
      train.bits = bits;
    }
    return train;
  });
}

const runArb: fc.Arbitrary<RunConfig> = modelArb.chain((model) =>
  trainArb(model).map((train) => ({ model, train, dataset: 'names' })),
);

// ---- values that are wrong for a field ----

const wrongTypes = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom(null, undefined, true, false, [], {}, [4], { n: 4 }, '4', '', Symbol('x'), 4n, -1n, () => 4, Object.create(null)),
);
const nonFinite = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
const fractional = fc.double({ min: -1e6, max: 1e6, noNaN: true }).filter((x) => !Number.isInteger(x));
const notPositiveInt = fc.oneof(fc.integer({ min: -1e9, max: 0 }), fractional, nonFinite, wrongTypes);
const notNonNegativeInt = fc.oneof(fc.integer({ min: -1e9, max: -1 }), fractional, nonFinite, wrongTypes);
const notPositiveNumber = fc.oneof(fc.double({ max: 0, noNaN: true }), nonFinite, wrongTypes);
const notNonNegativeNumber = fc.oneof(fc.double({ max: -Number.MIN_VALUE, noNaN: true }), fc.constant(Number.NaN), wrongTypes);
const notUnitInterval = fc.oneof(fc.double({ min: 1.000001, noNaN: true }), fc.double({ max: -Number.MIN_VALUE, noNaN: true }), nonFinite, wrongTypes);
const notHalfOpenUnit = fc.oneof(fc.double({ min: 1, noNaN: true }), fc.double({ max: -Number.MIN_VALUE, noNaN: true }), nonFinite, wrongTypes);
/** Optional fields read with `??`: null and undefined both mean "the default", so neither is wrong. */
const present = (v: unknown) => v !== undefined && v !== null;
const unknownString = (known: readonly string[]) =>
  fc.oneof(fc.string({ maxLength: 12 }).filter((s) => !known.includes(s)), fc.constantFrom('FP32', 'int3', 'int4 ', 'fp64', '__proto__', 'constructor'), wrongTypes);

interface Mutation {
  /** What the message must mention. */
  says: RegExp;
  /** Breaks one thing in a valid config (in place). */
  apply: (c: RunConfig, bad: unknown) => void;
  bad: fc.Arbitrary<unknown>;
}

const setModel = (k: keyof ModelConfig) => (c: RunConfig, v: unknown) => ((c.model as unknown as Record<string, unknown>)[k] = v);
const setTrain = (k: keyof TrainConfig) => (c: RunConfig, v: unknown) => ((c.train as unknown as Record<string, unknown>)[k] = v);

/** Field mutations whose message appears whatever else is wrong (the basic checks run together). */
const FIELD_MUTATIONS: Mutation[] = [
  { says: /layers must be a positive integer/, apply: setModel('nLayer'), bad: notPositiveInt },
  { says: /d_model must be a positive integer/, apply: setModel('dModel'), bad: notPositiveInt },
  { says: /heads must be a positive integer/, apply: setModel('nHead'), bad: notPositiveInt },
  { says: /d_ff must be a positive integer/, apply: setModel('dFF'), bad: notPositiveInt },
  { says: /context must be a positive integer/, apply: setModel('contextLength'), bad: notPositiveInt },
  { says: /vocab must be a positive integer/, apply: setModel('vocabSize'), bad: notPositiveInt },
  { says: /architecture/, apply: setModel('architecture'), bad: unknownString(['decoder']) },
  { says: /activation must be gelu or relu/, apply: setModel('activation'), bad: unknownString(['gelu', 'relu']) },
  { says: /positional encoding must be learned or sinusoidal/, apply: setModel('positionalEncoding'), bad: unknownString(['learned', 'sinusoidal']) },
  { says: /layer-norm eps must be/, apply: setModel('layerNormEps'), bad: notPositiveNumber },
  { says: /batch must be a positive integer/, apply: setTrain('batchSize'), bad: notPositiveInt },
  { says: /log-every must be a positive integer/, apply: setTrain('logEvery'), bad: notPositiveInt },
  { says: /val-batches must be a positive integer/, apply: setTrain('valBatches'), bad: notPositiveInt },
  { says: /steps must be a non-negative integer/, apply: setTrain('steps'), bad: notNonNegativeInt },
  { says: /warmup must be a non-negative integer/, apply: setTrain('warmupSteps'), bad: notNonNegativeInt },
  { says: /measure-every must be a non-negative integer/, apply: setTrain('measureEvery'), bad: notNonNegativeInt.filter(present) },
  { says: /quantizer-lr-scale must be a number >= 0/, apply: setTrain('quantizerLrScale'), bad: fc.oneof(notNonNegativeNumber, nonFinite).filter(present) },
  { says: /lr must be a positive number/, apply: setTrain('lr'), bad: notPositiveNumber },
  { says: /min-lr-ratio must be in \[0, 1\]/, apply: setTrain('minLrRatio'), bad: notUnitInterval },
  { says: /weight-decay must be/, apply: setTrain('weightDecay'), bad: fc.oneof(notNonNegativeNumber, nonFinite) },
  { says: /beta1 and beta2 must be in \[0, 1\)/, apply: setTrain('beta1'), bad: notHalfOpenUnit },
  { says: /beta1 and beta2 must be in \[0, 1\)/, apply: setTrain('beta2'), bad: notHalfOpenUnit },
  { says: /eps must be a finite number > 0/, apply: setTrain('eps'), bad: notPositiveNumber },
  { says: /grad-clip must be >= 0/, apply: setTrain('gradClip'), bad: notNonNegativeNumber },
  { says: /seed must be an integer in \[0, 2\^32\)/, apply: setTrain('seed'), bad: fc.oneof(notNonNegativeInt, fc.integer({ min: 2 ** 32, max: 2 ** 53 })) },
  { says: /precision must be one of fp32, fp16/, apply: setTrain('precision'), bad: unknownString(PRECISIONS) },
  { says: /f16-path must be one of auto, native, emulated/, apply: setTrain('f16Path'), bad: unknownString(['auto', 'native', 'emulated']).filter((v) => v !== undefined) },
  { says: /int8-per-row must be true or false/, apply: setTrain('int8PerRow'), bad: wrongTypes.filter((v) => v !== undefined && typeof v !== 'boolean') },
];

/** Mutations of the cross-field checks, which run only once every field is valid on its own. */
const CROSS_MUTATIONS: Mutation[] = [
  {
    says: /d_model \(\d+\) must be divisible by heads \(\d+\); try heads = \d/,
    apply: (c, bad) => {
      const [dModel, nHead] = bad as [number, number];
      c.model.dModel = dModel;
      c.model.nHead = nHead;
    },
    bad: fc.tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 2, max: 4096 })).filter(([d, h]) => d % h !== 0),
  },
  {
    says: /hadamard-block must be a power of two from 1 to 1024/,
    apply: (c, bad) => {
      c.train.precision = 'int4';
      c.train.hadamardBlock = bad as number;
    },
    bad: fc.oneof(fc.integer({ min: -4096, max: 4096 }).filter((b) => !(b >= 1 && b <= 1024 && (b & (b - 1)) === 0)), powerOfTwo(30).filter((b) => b > 1024), fractional, nonFinite, wrongTypes),
  },
  {
    says: /hadamard-block \d+ is larger than d_model \d+.*use at most \d+/,
    apply: (c, bad) => {
      c.train.precision = 'int4';
      c.train.forwardQuantizer = undefined;
      c.model.nHead = 1;
      c.model.dModel = bad as number;
      c.train.hadamardBlock = 1024;
    },
    bad: fc.integer({ min: 1, max: 1023 }),
  },
  {
    says: /bits must be an integer from 2 to 8/,
    apply: (c, bad) => {
      c.train.precision = 'int4-minmax';
      c.train.bits = bad as number;
    },
    bad: fc.oneof(fc.integer({ min: -100, max: 1 }), fc.integer({ min: 9, max: 1e6 }), fractional, nonFinite, wrongTypes.filter(present)),
  },
  {
    says: /forward-quantizer must be one of hq, lsq, minmax, none/,
    apply: (c, bad) => {
      c.train.precision = 'int4-minmax';
      c.train.backwardQuantizer = 'minmax';
      c.train.forwardQuantizer = bad as never;
    },
    bad: unknownString(FORWARD_QUANTIZERS).filter(present),
  },
  {
    says: /backward-quantizer must be one of lss, bitsplit, luq, minmax, none/,
    apply: (c, bad) => {
      c.train.precision = 'int4-lsq-luq';
      c.train.backwardQuantizer = bad as never;
    },
    bad: unknownString(BACKWARD_QUANTIZERS).filter(present),
  },
  {
    says: /apply to the quantized precisions/,
    apply: (c, bad) => {
      c.train.precision = bad as never;
      c.train.bits = 4;
    },
    bad: fc.constantFrom('fp32', 'fp16', 'int8'),
  },
  {
    says: /use forward-quantizer hq or lsq with it/,
    apply: (c, bad) => {
      c.train.precision = 'int4';
      c.train.forwardQuantizer = bad as never;
      c.train.backwardQuantizer = 'lss';
    },
    bad: fc.constantFrom('minmax', 'none'),
  },
];

const clone = (c: RunConfig): RunConfig => ({ model: { ...c.model }, train: { ...c.train }, dataset: c.dataset });

describe('validateRunConfig (fuzz)', () => {
  it('accepts well-formed configs unchanged', () => {
    fc.assert(fc.property(runArb, (c) => {
      expect(outcome(c)).toEqual({ ok: true });
    }), RUNS);
  });

  it('rejects one or more bad fields with a ConfigError naming each of them', () => {
    const mutations = fc.uniqueArray(fc.integer({ min: 0, max: FIELD_MUTATIONS.length - 1 }), { minLength: 1, maxLength: 4 }).chain((picked) =>
      fc.tuple(...picked.map((i) => FIELD_MUTATIONS[i].bad.map((bad) => ({ m: FIELD_MUTATIONS[i], bad })))),
    );
    fc.assert(
      fc.property(runArb, mutations, (valid, applied) => {
        const c = clone(valid);
        for (const { m, bad } of applied) m.apply(c, bad);
        const r = outcome(c);
        expect(r.ok).toBe(false);
        for (const { m } of applied) expect(r.ok === false && r.message).toMatch(m.says);
      }),
      RUNS,
    );
  });

  it('rejects broken combinations of otherwise valid fields (heads, Hadamard block, bits, quantizers)', () => {
    const mutation = fc.integer({ min: 0, max: CROSS_MUTATIONS.length - 1 }).chain((i) => CROSS_MUTATIONS[i].bad.map((bad) => ({ m: CROSS_MUTATIONS[i], bad })));
    fc.assert(
      fc.property(runArb, mutation, (valid, { m, bad }) => {
        const c = clone(valid);
        // Cross checks assume valid fields; keep the ones a mutation does not set consistent.
        c.train.forwardQuantizer = c.train.backwardQuantizer = c.train.bits = undefined;
        c.train.hadamardBlock = 1;
        m.apply(c, bad);
        const r = outcome(c);
        expect(r.ok).toBe(false);
        expect(r.ok === false && r.message).toMatch(m.says);
      }),
      RUNS,
    );
  });

  it('survives anything cast in as a config, a model, a train config or a field (huge values included)', () => {
    const anything = fc.anything({ maxDepth: 2, maxKeys: 4, withBigInt: true, withNullPrototype: true, withBoxedValues: true, withSparseArray: true });
    const huge = fc.constantFrom(2 ** 31, 2 ** 53 - 1, 1e15, 1e300, Number.MAX_VALUE, Number.MAX_SAFE_INTEGER);
    const field = fc.oneof(anything, huge, nonFinite, wrongTypes);
    const shaped = fc.tuple(runArb, fc.array(fc.tuple(fc.boolean(), fc.string({ maxLength: 20 }), field), { maxLength: 4 })).map(([valid, edits]) => {
      const c = clone(valid);
      const modelKeys = Object.keys(c.model);
      const trainKeys = Object.keys(c.train);
      for (const [inModel, pick, v] of edits) {
        const keys = inModel ? modelKeys : trainKeys;
        const key = keys[pick.length % keys.length];
        ((inModel ? c.model : c.train) as unknown as Record<string, unknown>)[key] = v;
      }
      return c;
    });
    const whole = fc.oneof(
      anything,
      fc.record({ model: anything, train: anything, dataset: anything }),
      runArb.chain((c) => fc.record({ model: fc.oneof(fc.constant(c.model), anything), train: fc.oneof(fc.constant(c.train), anything), dataset: fc.oneof(fc.constant(c.dataset), anything) })),
    );
    fc.assert(
      fc.property(fc.oneof(shaped, whole), (c) => {
        const started = performance.now();
        outcome(c);
        expect(performance.now() - started).toBeLessThan(200);
      }),
      RUNS,
    );
  });

  it('suggests head counts for an odd d_model quickly, even for an absurd one', () => {
    const c = clone({ model: { architecture: 'decoder', nLayer: 1, dModel: 2 ** 53 - 1, nHead: 2, dFF: 4, contextLength: 4, vocabSize: 4, activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5 }, train: { ...DEFAULT_TRAIN }, dataset: 'names' });
    expect(() => validateRunConfig(c)).toThrow(/divisible by heads \(2\); try heads = 1$/);
  });
});
