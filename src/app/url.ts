// The run config in the page's URL, with readable keys, so a link reproduces a run:
//   ?dataset=names&preset=tiny&precision=int4&steps=200&seed=1
//   ?arch=encoder-decoder&dataset=reverse&preset=tiny&precision=int4&sourceLength=10
// `arch=` is written only when it is not the GPT, so links from before it read as the GPT they were.
// Only values that differ from the defaults are written. `hide=` names controls a teacher wants out of
// the way (?hide=precision,advanced), `compare=` the precisions of a comparison.
import {
  ATTENTION_KERNEL_CHOICES,
  type Architecture,
  ARCHITECTURES,
  BACKWARD_QUANTIZERS,
  COMPARISON_CHOICES,
  type ComparisonChoice,
  DATASET_CHOICES,
  DATASETS_BY_ARCHITECTURE,
  DEFAULT_COMPARISON,
  DEFAULT_CONFIG,
  DEFAULT_DATASET,
  FORWARD_QUANTIZERS,
  HADAMARD_BLOCKS,
  MATMUL_TUNING_CHOICES,
  MAX_BATCH,
  MAX_CONTEXT,
  MAX_SOURCE_LENGTH,
  MAX_STEPS,
  type PageConfig,
  PRECISIONS,
  PRESET_CHOICES,
} from './config';

/** Controls that `?hide=` can name. */
export const HIDEABLE_CONTROLS = [
  'architecture',
  'dataset',
  'preset',
  'precision',
  'advanced',
  'steps',
  'seed',
  'schedule',
  'compare',
  'import',
  'export',
  'runs',
  'measurements',
  // The attention-map view.
  'attention',
  'teaching',
  // The teaching views (also hidden by 'teaching'): positional encodings, matmuls as einsums, the mesh.
  'positions',
  'matmuls',
  'mesh',
] as const;
export type HideableControl = (typeof HIDEABLE_CONTROLS)[number];

export interface UrlState {
  config: PageConfig;
  hidden: HideableControl[];
  compare: ComparisonChoice[];
  /** Parameters that were present but unusable, as messages; the default is used for each. */
  problems: string[];
}

type Parser = (raw: string) => unknown;

function oneOf<T extends string>(choices: readonly T[]): Parser {
  return (raw) => {
    if (!(choices as readonly string[]).includes(raw)) throw new Error(`choose one of ${choices.join(', ')}`);
    return raw;
  };
}

function integer(min: number, max: number, allowed?: readonly number[]): Parser {
  return (raw) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`a whole number from ${min} to ${max}`);
    if (allowed && !allowed.includes(n)) throw new Error(`one of ${allowed.join(', ')}`);
    return n;
  };
}

function positiveNumber(max: number): Parser {
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) throw new Error(`a number in (0, ${max}]`);
    return n;
  };
}

/** The command line's short name of the encoder-decoder (--arch encdec) reads too. */
const ARCHITECTURE_ALIASES: Record<string, Architecture> = { encdec: 'encoder-decoder' };

function architecture(raw: string): Architecture {
  const a = ARCHITECTURE_ALIASES[raw] ?? raw;
  if (!(ARCHITECTURES as readonly string[]).includes(a)) throw new Error(`choose one of ${ARCHITECTURES.join(', ')} (or encdec)`);
  return a as Architecture;
}

/** URL key → config field and how to read it. The keys are what a person would type. */
const FIELDS: { key: string; field: keyof PageConfig; parse: Parser }[] = [
  { key: 'arch', field: 'architecture', parse: architecture },
  { key: 'dataset', field: 'dataset', parse: oneOf(DATASET_CHOICES) },
  { key: 'preset', field: 'preset', parse: oneOf(PRESET_CHOICES) },
  { key: 'context', field: 'contextLength', parse: integer(2, MAX_CONTEXT) },
  { key: 'sourceLength', field: 'sourceLength', parse: integer(1, MAX_SOURCE_LENGTH) },
  { key: 'precision', field: 'precision', parse: oneOf(PRECISIONS) },
  { key: 'forward', field: 'forwardQuantizer', parse: oneOf(FORWARD_QUANTIZERS) },
  { key: 'backward', field: 'backwardQuantizer', parse: oneOf(BACKWARD_QUANTIZERS) },
  { key: 'bits', field: 'bits', parse: integer(2, 8) },
  { key: 'hadamard', field: 'hadamardBlock', parse: (raw) => (raw === 'auto' ? 'auto' : integer(1, 128, HADAMARD_BLOCKS)(raw)) },
  { key: 'lr', field: 'lr', parse: positiveNumber(1) },
  { key: 'batch', field: 'batchSize', parse: integer(1, MAX_BATCH) },
  { key: 'steps', field: 'steps', parse: integer(1, MAX_STEPS) },
  { key: 'seed', field: 'seed', parse: integer(0, 0xffffffff) },
  { key: 'eval', field: 'evalEvery', parse: integer(0, MAX_STEPS) },
  { key: 'measure', field: 'measureEvery', parse: integer(0, MAX_STEPS) },
  { key: 'checkpoint', field: 'checkpointEvery', parse: integer(0, MAX_STEPS) },
  { key: 'samples', field: 'samples', parse: integer(0, 32) },
  { key: 'sampleEvery', field: 'sampleEvery', parse: integer(0, MAX_STEPS) },
  { key: 'attention', field: 'attentionEvery', parse: integer(0, MAX_STEPS) },
  { key: 'attentionKernel', field: 'attentionKernel', parse: oneOf(ATTENTION_KERNEL_CHOICES) },
  { key: 'tuning', field: 'matmulTuning', parse: oneOf(MATMUL_TUNING_CHOICES) },
];

/** A value as a problem quotes it: a pasted link may carry kilobytes in one parameter, and the message
 *  only needs enough to recognise it. */
function quoted(raw: string): string {
  return raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
}

function parseList<T extends string>(raw: string, choices: readonly T[], key: string, problems: string[]): T[] {
  const out: T[] = [];
  for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    if ((choices as readonly string[]).includes(item)) {
      if (!out.includes(item as T)) out.push(item as T);
    } else problems.push(`${key}: "${quoted(item)}" is not one of ${choices.join(', ')}`);
  }
  return out;
}

/** Reads a query string (with or without the leading '?'). Never throws: unusable values become problems. */
export function parseUrl(search: string): UrlState {
  const params = new URLSearchParams(search);
  const config: PageConfig = { ...DEFAULT_CONFIG };
  const problems: string[] = [];
  // testHooks=1 turns on the hooks the e2e tests drive (main.tsx); it is no part of the config.
  const known = new Set(['hide', 'compare', 'testHooks']);
  for (const { key, field, parse } of FIELDS) {
    known.add(key);
    const raw = params.get(key);
    if (raw === null) continue;
    try {
      (config as unknown as Record<string, unknown>)[field] = parse(raw.trim());
    } catch (e) {
      problems.push(`${key}=${quoted(raw)} was ignored: expected ${(e as Error).message}`);
    }
  }
  for (const key of params.keys()) if (!known.has(key)) problems.push(`unknown URL parameter "${quoted(key)}" was ignored`);
  // The dataset must be one the architecture trains on (reverse and sort are both the GPT's and the
  // encoder-decoder's); otherwise the architecture's own default dataset.
  const arch = config.architecture ?? 'decoder';
  const datasets = DATASETS_BY_ARCHITECTURE[arch];
  if (!datasets.includes(config.dataset) && (params.get('dataset') === null || problems.some((p) => p.startsWith('dataset=')))) {
    // No usable dataset= at all: the architecture's default, without a further message.
    config.dataset = DEFAULT_DATASET[arch];
  } else if (!datasets.includes(config.dataset)) {
    const fits = ARCHITECTURES.filter((a) => DATASETS_BY_ARCHITECTURE[a].includes(config.dataset));
    const hint = fits.length ? `; for ${config.dataset} add arch=${fits[0]}` : '';
    problems.push(`dataset=${quoted(config.dataset)} is not a dataset of arch=${arch} (${datasets.join(', ')}), so ${DEFAULT_DATASET[arch]} was used${hint}`);
    config.dataset = DEFAULT_DATASET[arch];
  }
  if (config.sourceLength !== undefined && arch !== 'encoder-decoder') {
    problems.push(`sourceLength=${config.sourceLength} was ignored: it applies to arch=encoder-decoder only`);
    delete config.sourceLength;
  }
  const hideRaw = params.get('hide');
  const hidden = hideRaw ? parseList(hideRaw, HIDEABLE_CONTROLS, 'hide', problems) : [];
  const compareRaw = params.get('compare');
  const compare = compareRaw ? parseList(compareRaw, COMPARISON_CHOICES, 'compare', problems) : [...DEFAULT_COMPARISON];
  return { config, hidden, compare, problems };
}

/** The query string (with '?', or '' when everything is default) for a state; parseUrl reads it back. */
export function toSearch(state: Omit<UrlState, 'problems'>): string {
  const params = new URLSearchParams();
  for (const { key, field } of FIELDS) {
    const v = state.config[field];
    // The three always-written keys make a shared link self-explanatory even where they are defaults.
    const always = key === 'dataset' || key === 'preset' || key === 'precision';
    if (v !== undefined && (always || v !== DEFAULT_CONFIG[field])) params.set(key, String(v));
  }
  const compareIsDefault = state.compare.length === DEFAULT_COMPARISON.length && state.compare.every((c, i) => c === DEFAULT_COMPARISON[i]);
  if (!compareIsDefault) params.set('compare', state.compare.join(','));
  if (state.hidden.length) params.set('hide', state.hidden.join(','));
  // URLSearchParams escapes ',' as %2C; lists read better with plain commas, which are legal in a query.
  const text = params.toString().replace(/%2C/g, ',');
  return text ? `?${text}` : '';
}
