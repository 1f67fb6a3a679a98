// Fuzz tests of the page's URL state: a link can hold anything (hand-edited, truncated, mangled by a
// chat client), and parseUrl must never throw, keep every field inside the range the controls offer,
// and list each unusable parameter by name.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  architectureOf,
  ARCHITECTURES,
  BACKWARD_QUANTIZERS,
  COMPARISON_CHOICES,
  configProblems,
  DATASET_CHOICES,
  DATASETS_BY_ARCHITECTURE,
  DEFAULT_CONFIG,
  FORWARD_QUANTIZERS,
  HADAMARD_BLOCKS,
  MAX_BATCH,
  MAX_CONTEXT,
  MAX_SOURCE_LENGTH,
  MAX_STEPS,
  type PageConfig,
  PRECISIONS,
  PRESET_CHOICES,
} from './config';
import { HIDEABLE_CONTROLS, parseUrl, toSearch, type UrlState } from './url';

const RUNS = { numRuns: 1000 };

const isIntIn = (v: unknown, min: number, max: number) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** Every field holds a value its control can show. */
function expectInDomain(c: PageConfig): void {
  expect(ARCHITECTURES).toContain(architectureOf(c));
  // The dataset is always one the architecture trains on.
  expect(DATASETS_BY_ARCHITECTURE[architectureOf(c)]).toContain(c.dataset);
  if (c.contextLength !== undefined) expect(isIntIn(c.contextLength, 2, MAX_CONTEXT)).toBe(true);
  if (c.sourceLength !== undefined) {
    expect(architectureOf(c)).toBe('encoder-decoder');
    expect(isIntIn(c.sourceLength, 1, MAX_SOURCE_LENGTH)).toBe(true);
  }
  if (c.attentionEvery !== undefined) expect(isIntIn(c.attentionEvery, 0, MAX_STEPS)).toBe(true);
  expect(PRESET_CHOICES).toContain(c.preset);
  expect(PRECISIONS).toContain(c.precision);
  if (c.forwardQuantizer !== undefined) expect(FORWARD_QUANTIZERS).toContain(c.forwardQuantizer);
  if (c.backwardQuantizer !== undefined) expect(BACKWARD_QUANTIZERS).toContain(c.backwardQuantizer);
  if (c.bits !== undefined) expect(isIntIn(c.bits, 2, 8)).toBe(true);
  expect(c.hadamardBlock === 'auto' || (HADAMARD_BLOCKS as readonly number[]).includes(c.hadamardBlock)).toBe(true);
  if (c.lr !== undefined) expect(c.lr > 0 && c.lr <= 1).toBe(true);
  if (c.batchSize !== undefined) expect(isIntIn(c.batchSize, 1, MAX_BATCH)).toBe(true);
  expect(isIntIn(c.steps, 1, MAX_STEPS)).toBe(true);
  expect(isIntIn(c.seed, 0, 0xffffffff)).toBe(true);
  for (const v of [c.evalEvery, c.measureEvery, c.checkpointEvery ?? 0, c.sampleEvery]) expect(isIntIn(v, 0, MAX_STEPS)).toBe(true);
  expect(isIntIn(c.samples, 0, 32)).toBe(true);
}

function parseSafely(search: string): UrlState {
  let s: UrlState;
  try {
    s = parseUrl(search);
  } catch (e) {
    throw new Error(`parseUrl(${JSON.stringify(search)}) threw ${String(e)}; it must list problems instead`);
  }
  expectInDomain(s.config);
  // A problem quotes at most a short prefix of the value, whatever the link carries.
  for (const p of s.problems) expect(typeof p === 'string' && p.trim() !== '' && p.length < 400).toBe(true);
  for (const h of s.hidden) expect(HIDEABLE_CONTROLS).toContain(h);
  for (const c of s.compare) expect(COMPARISON_CHOICES).toContain(c);
  // What the panel shows next: its own checks must not throw on a parsed config either.
  expect(Array.isArray(configProblems(s.config))).toBe(true);
  return s;
}

const KEYS = ['arch', 'context', 'sourceLength', 'attention', 'dataset', 'preset', 'precision', 'forward', 'backward', 'bits', 'hadamard', 'lr', 'batch', 'steps', 'seed', 'eval', 'measure', 'checkpoint', 'samples', 'sampleEvery'];

/** Text as it may appear in a query: any code units (lone surrogates included), '%' escapes that do not
 *  decode, '+', '&', '=', '#'. */
const queryText = fc.oneof(
  fc.string({ maxLength: 16, unit: 'binary' }),
  fc.string({ minLength: 100, maxLength: 2000, unit: fc.constantFrom('a', '9', ',', '%') }),
  fc.string({ maxLength: 16, unit: fc.constantFrom('%', '2', 'C', 'F', 'E', '0', '+', '&', '=', '#', '?', ',', 'a', '-', '.', 'e', '\ud800', '\u0000') }),
);

/** Values each key must refuse. */
const BAD_VALUES: Record<string, fc.Arbitrary<string>> = {
  arch: fc.constantFrom('gpt', 'Decoder', 'encoder_decoder', 'enc-dec', '', 'bert'),
  context: fc.oneof(fc.integer({ min: MAX_CONTEXT + 1, max: 1e9 }).map(String), fc.constantFrom('0', '1', '-4', '16.5', 'long', '')),
  sourceLength: fc.oneof(fc.integer({ min: MAX_SOURCE_LENGTH + 1, max: 1e9 }).map(String), fc.constantFrom('0', '-1', '8.0', 'eight', '')),
  attention: fc.constantFrom('-1', 'often', String(MAX_STEPS + 1), '2.5'),
  dataset: fc.string({ maxLength: 10 }).filter((s) => !(DATASET_CHOICES as readonly string[]).includes(s.trim())),
  preset: fc.constantFrom('medium', 'huge', 'TINY', ''),
  precision: fc.constantFrom('int3', 'fp64', 'FP32', 'int4:bitsplit', '', '%00'),
  forward: fc.constantFrom('lss', 'HQ', 'none,hq', ''),
  backward: fc.constantFrom('hq', 'LSS', ''),
  bits: fc.oneof(fc.integer({ min: -100, max: 1 }).map(String), fc.integer({ min: 9, max: 1e9 }).map(String), fc.constantFrom('4.0', '4e0', '0x4', 'four', '', '٤')),
  hadamard: fc.oneof(fc.integer({ min: 0, max: 5000 }).filter((b) => !(HADAMARD_BLOCKS as readonly number[]).includes(b)).map(String), fc.constantFrom('AUTO', '-32', '32.5', '')),
  lr: fc.oneof(fc.double({ max: 0, noNaN: true }).map(String), fc.double({ min: 1.0000001, noNaN: true }).map(String), fc.constantFrom('NaN', 'Infinity', '', 'fast', '1e-3x')),
  batch: fc.oneof(fc.integer({ min: MAX_BATCH + 1, max: 1e9 }).map(String), fc.constantFrom('0', '-1', '1.5', '')),
  steps: fc.oneof(fc.integer({ min: MAX_STEPS + 1, max: 1e12 }).map(String), fc.constantFrom('0', '-5', '1e3', '10 steps', '9'.repeat(400), '')),
  seed: fc.oneof(fc.integer({ min: 2 ** 32, max: 2 ** 53 }).map(String), fc.constantFrom('-1', '1.5', 'abc', '')),
  eval: fc.constantFrom('-1', String(MAX_STEPS + 1), 'x'),
  measure: fc.constantFrom('-1', String(MAX_STEPS + 1), '1/2'),
  checkpoint: fc.constantFrom('-1', String(MAX_STEPS + 1), '1e2', 'off'),
  samples: fc.oneof(fc.integer({ min: 33, max: 1e6 }).map(String), fc.constantFrom('-1', 'all')),
  sampleEvery: fc.constantFrom('-3', 'never', String(MAX_STEPS + 1)),
};

const encode = (pairs: [string, string][]) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

describe('parseUrl (fuzz)', () => {
  it('never throws on an arbitrary query string, and keeps every field in range', () => {
    const raw = fc.oneof(
      queryText,
      fc.array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS, 'hide', 'compare'), queryText), queryText), { maxLength: 6 }).map(
        (pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`,
      ),
    );
    fc.assert(fc.property(raw, (search) => void parseSafely(search)), RUNS);
  });

  it('keeps the default for every unusable value and names it in a problem', () => {
    const bad = fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 5 }).chain((keys) =>
      fc.tuple(...keys.map((k) => BAD_VALUES[k].map((v) => [k, v] as [string, string]))),
    );
    fc.assert(
      fc.property(bad, (pairs) => {
        const s = parseSafely(encode(pairs));
        expect(s.config).toEqual(DEFAULT_CONFIG);
        expect(s.problems).toHaveLength(pairs.length);
        for (const [k] of pairs) expect(s.problems.some((p) => p.startsWith(`${k}=`) && /expected \S/.test(p))).toBe(true);
      }),
      RUNS,
    );
  });

  it('names unknown parameters and unknown list entries', () => {
    const unknownKey = fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !KEYS.includes(k) && k !== 'hide' && k !== 'compare' && k !== 'testHooks');
    const unknownItem = fc.stringMatching(/^[a-z0-9:-]{1,10}$/).filter((x) => !(HIDEABLE_CONTROLS as readonly string[]).includes(x) && !(COMPARISON_CHOICES as readonly string[]).includes(x));
    fc.assert(
      fc.property(unknownKey, unknownItem, fc.constantFrom('hide', 'compare'), (key, item, list) => {
        const s = parseSafely(encode([[key, '1'], [list, `fp32,${item}`]]));
        expect(s.problems.some((p) => p.includes(`unknown URL parameter "${key}"`))).toBe(true);
        expect(s.problems.some((p) => p.startsWith(`${list}: "${item}" is not one of`))).toBe(true);
      }),
      RUNS,
    );
  });

  it('reads back every state it writes', () => {
    // The architecture first: its dataset and (encoder-decoder) source length follow from it.
    const shape = fc.constantFrom(...ARCHITECTURES).chain((architecture) =>
      fc.record(
        {
          architecture: fc.constant(architecture),
          dataset: fc.constantFrom(...DATASETS_BY_ARCHITECTURE[architecture]),
          ...(architecture === 'encoder-decoder' ? { sourceLength: fc.integer({ min: 1, max: MAX_SOURCE_LENGTH }) } : {}),
        },
        { requiredKeys: ['architecture', 'dataset'] },
      ),
    );
    const rest = fc.record(
      {
        preset: fc.constantFrom(...PRESET_CHOICES),
        contextLength: fc.integer({ min: 2, max: MAX_CONTEXT }),
        attentionEvery: fc.integer({ min: 0, max: MAX_STEPS }),
        precision: fc.constantFrom(...PRECISIONS),
        forwardQuantizer: fc.constantFrom(...FORWARD_QUANTIZERS),
        backwardQuantizer: fc.constantFrom(...BACKWARD_QUANTIZERS),
        bits: fc.integer({ min: 2, max: 8 }),
        hadamardBlock: fc.oneof(fc.constant('auto' as const), fc.constantFrom(...HADAMARD_BLOCKS)),
        lr: fc.double({ min: 1e-9, max: 1, noNaN: true }),
        batchSize: fc.integer({ min: 1, max: MAX_BATCH }),
        steps: fc.integer({ min: 1, max: MAX_STEPS }),
        seed: fc.integer({ min: 0, max: 0xffffffff }),
        evalEvery: fc.integer({ min: 0, max: MAX_STEPS }),
        measureEvery: fc.integer({ min: 0, max: MAX_STEPS }),
        checkpointEvery: fc.integer({ min: 0, max: MAX_STEPS }),
        samples: fc.integer({ min: 0, max: 32 }),
        sampleEvery: fc.integer({ min: 0, max: MAX_STEPS }),
      },
      { requiredKeys: ['preset', 'precision', 'hadamardBlock', 'steps', 'seed', 'evalEvery', 'measureEvery', 'samples', 'sampleEvery'] },
    );
    const config: fc.Arbitrary<PageConfig> = fc.tuple(shape, rest).map(([a, b]) => ({ ...b, ...a }) as PageConfig);
    const state = fc.record({
      config,
      hidden: fc.uniqueArray(fc.constantFrom(...HIDEABLE_CONTROLS)),
      compare: fc.uniqueArray(fc.constantFrom(...COMPARISON_CHOICES), { minLength: 1 }),
    });
    fc.assert(
      fc.property(state, (s) => {
        const back = parseSafely(toSearch(s));
        expect(back.problems).toEqual([]);
        expect(back.config).toEqual({ ...DEFAULT_CONFIG, ...s.config });
        expect(back.hidden).toEqual(s.hidden);
        expect(back.compare).toEqual(s.compare);
      }),
      RUNS,
    );
  });
});
