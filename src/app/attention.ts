// Attention maps as the page shows them: the engine's per-layer, per-head probabilities of one example
// (Trainer.attentionMaps, engine train/inference.ts) cut to the example's real tokens, with whether a
// cell is masked by causality, and the example a run shows by default. Pure data and functions: the
// worker builds snapshots with them, the view (components/AttentionView.tsx) draws them, and they are
// unit-tested in Node.
import type { Architecture, ModelConfig } from '../engine/config';
import { isClassificationDataset } from '../engine/data/classify';
import type { TextCorpusDataset } from '../engine/data/corpus';
import type { Dataset } from '../engine/data/dataset';
import { Rng } from '../engine/data/rng';
import { isTranslationDataset } from '../engine/data/translate';
import type { AttentionExample, AttentionMap } from '../engine/train/inference';

export type { AttentionExample };
export type AttentionKind = AttentionMap['kind'];

/** One attention layer of one example, as shown. */
export interface ShownAttentionMap {
  layer: number;
  kind: AttentionKind;
  /** The engine's parameter prefix, e.g. `transformer.h.0.attn`. */
  name: string;
  /** Query q sees keys 0 … q only (the GPT's self-attention and the encoder-decoder's decoder
   *  self-attention): the cells k > q are masked, their probability 0 by construction. */
  causal: boolean;
  /** Token of each query (row) and key (column) position, as characters of the vocabulary. */
  queries: string[];
  keys: string[];
  /** Padding positions after the example's keys (encoder and cross-attention). The key padding mask gives
   *  them −∞ before the softmax, so their probability is 0; they are shown as one extra last column (their
   *  summed probability) drawn masked. 0: no such column. */
  padKeys: number;
  /** heads[h][q · columns + k], columns = keys.length (+ 1 with a padding column). */
  heads: Float32Array[];
}

export interface AttentionSnapshot {
  /** Steps trained when the maps were taken. */
  step: number;
  architecture: Architecture;
  /** The example the maps are of. For the encoder-decoder, `target` is what the decoder read: the one
   *  given, or the model's own greedy translation (targetFromModel). */
  example: AttentionExample;
  targetFromModel: boolean;
  /** The run's default example, drawn from the dataset (not one the user typed). */
  isDefault: boolean;
  maps: ShownAttentionMap[];
}

/** Whether a layer's self-attention is causal: the GPT's and the encoder-decoder's decoder 'self'
 *  layers are, the encoder classifier's 'self' layers are not (it reads the whole text at once). */
export function isCausal(architecture: Architecture, kind: AttentionKind): boolean {
  return kind === 'self' && architecture !== 'encoder';
}

/** Cuts an engine map to the example's tokens: rows are the real queries; columns the real keys (a
 *  causal map needs no more: later keys are masked for every real query) plus, in an unmasked map, one
 *  column summing the padding keys. */
export function shownAttentionMap(map: AttentionMap, architecture: Architecture): ShownAttentionMap {
  const causal = isCausal(architecture, map.kind);
  const queries = map.queryTokens.slice(0, map.Tq);
  const keys = map.keyTokens.slice(0, map.Tk);
  const nq = queries.length, nk = keys.length;
  const padKeys = causal ? 0 : map.Tk - nk;
  const columns = nk + (padKeys > 0 ? 1 : 0);
  const heads = map.heads.map((h) => {
    const out = new Float32Array(nq * columns);
    for (let q = 0; q < nq; q++) {
      for (let k = 0; k < nk; k++) out[q * columns + k] = h[q * map.Tk + k];
      if (padKeys > 0) {
        let sum = 0;
        for (let k = nk; k < map.Tk; k++) sum += h[q * map.Tk + k];
        out[q * columns + nk] = sum;
      }
    }
    return out;
  });
  return { layer: map.layer, kind: map.kind, name: map.name, causal, queries, keys, padKeys, heads };
}

export function columnsOf(m: Pick<ShownAttentionMap, 'keys' | 'padKeys'>): number {
  return m.keys.length + (m.padKeys > 0 ? 1 : 0);
}

/** Whether the cell (query q, key k) is masked: a key after the query in a causal map, or the padding
 *  column of an unmasked one (the key padding mask). */
export function isMasked(m: Pick<ShownAttentionMap, 'causal' | 'keys' | 'padKeys'>, q: number, k: number): boolean {
  return (m.causal && k > q) || (m.padKeys > 0 && k >= m.keys.length);
}

/** Masked cells of one head of a map: n(n−1)/2 for a causal map of n tokens; one per query (the padding
 *  column) for a padded unmasked map; 0 otherwise. */
export function maskedCellCount(m: Pick<ShownAttentionMap, 'causal' | 'queries' | 'keys' | 'padKeys'>): number {
  let n = 0;
  for (let q = 0; q < m.queries.length; q++) for (let k = 0; k < columnsOf(m); k++) if (isMasked(m, q, k)) n++;
  return n;
}

/** What the page calls a kind of attention layer in an architecture. */
export function kindLabel(architecture: Architecture, kind: AttentionKind): string {
  if (kind === 'cross') return 'cross-attention (decoder queries, encoder keys)';
  if (kind === 'encoder') return 'encoder self-attention (no causal mask)';
  if (architecture === 'encoder') return 'self-attention (bidirectional, no causal mask)';
  if (architecture === 'encoder-decoder') return 'decoder masked self-attention';
  return 'masked (causal) self-attention';
}

/** A token as an axis label: the start/end token, spaces and the classifier's CLS made visible. */
export function tokenLabel(token: string, architecture: Architecture): string {
  if (token === '\n') return '⏎';
  if (token === ' ') return '␣';
  if (token === '^' && architecture === 'encoder') return 'CLS';
  return token;
}

/** Draws of the default example; fixed, so every run of a dataset shows the same one. */
const EXAMPLE_SEED = 0xa77e;
const EXAMPLE_DRAWS = 20;

function codePoints(s: string): number {
  return [...s].length;
}

/** The longest of a few fixed draws that fits (ties: the first), so the map has rows to look at. */
function longestFitting<T>(draws: T[], length: (x: T) => number, fits: (x: T) => boolean): T | null {
  let best: T | null = null;
  for (const x of draws) if (fits(x) && (best === null || length(x) > length(best))) best = x;
  return best;
}

/** The example a run shows until the user types another: a problem of the task's validation
 *  distribution (the GPT's tasks: prompt and answer, "abc>cba"), a validation name, a validation text
 *  of a classification task, or a validation pair of a translation task (source and its correct
 *  target, read teacher-forced). */
export function defaultAttentionExample(dataset: Dataset, model: Pick<ModelConfig, 'architecture' | 'contextLength' | 'sourceLength'>): AttentionExample {
  const T = model.contextLength;
  const rng = new Rng(EXAMPLE_SEED).fork(`attention:${dataset.name}`);
  if (model.architecture === 'encoder-decoder' && isTranslationDataset(dataset)) {
    const S = model.sourceLength ?? dataset.minSourceLength;
    const draws = Array.from({ length: EXAMPLE_DRAWS }, () => dataset.problem(rng));
    const p = longestFitting(draws, (x) => codePoints(x.source) + codePoints(x.target), (x) => codePoints(x.source) <= S && codePoints(x.target) + 1 <= T) ?? draws[0];
    return { source: p.source, target: p.target };
  }
  // The GPT reads START + text, the classifier CLS + text: T − 1 characters fit.
  const fits = (text: string) => codePoints(text) >= 1 && codePoints(text) <= T - 1;
  if (model.architecture === 'encoder' && isClassificationDataset(dataset)) {
    const texts = dataset.validationExamples(1, EXAMPLE_DRAWS, Math.max(T, dataset.minContextLength)).map((e) => e.text);
    return { text: longestFitting(texts, codePoints, fits) ?? [...texts[0]].slice(0, T - 1).join('') };
  }
  if (dataset.task) {
    const task = dataset.task;
    const texts = Array.from({ length: EXAMPLE_DRAWS }, () => {
      const p = task.prompt(rng, T);
      return p.prompt + p.answer;
    });
    return { text: longestFitting(texts, codePoints, fits) ?? [...texts[0]].slice(0, T - 1).join('') };
  }
  const documents = 'validationDocuments' in dataset ? (dataset as TextCorpusDataset).validationDocuments : undefined;
  if (documents) {
    // A name of a few letters reads better than the longest one that fits.
    const named = documents.find((d) => codePoints(d) >= 5 && fits(d)) ?? documents.find(fits);
    if (named) return { text: named };
  }
  // A corpus without documents: the start of its first validation window, up to the end token.
  const row = dataset.valBatches(1, 1, T)[0].inputs;
  const ids: number[] = [];
  for (let i = 1; i < row.length && ids.length < T - 1 && !dataset.isSampleEnd(row[i]); i++) ids.push(row[i]);
  return { text: dataset.tokenizer.decode(ids) || dataset.tokenizer.chars.find((c) => c !== '\n') || 'a' };
}

/** Why an example cannot be shown (characters outside the vocabulary, too long for the model, empty),
 *  as a message that says what to type instead; null when it can. */
export function attentionExampleProblem(example: AttentionExample, dataset: Dataset, model: Pick<ModelConfig, 'architecture' | 'contextLength' | 'sourceLength'>): string | null {
  const T = model.contextLength;
  const vocabulary = () => dataset.tokenizer.chars.filter((c) => c !== '\n').map((c) => (c === ' ' ? '␣' : c)).join('');
  const unknown = (text: string) => [...new Set([...text].filter((c) => !dataset.tokenizer.has(c) || c === '\n'))];
  const charsProblem = (what: string, text: string): string | null => {
    const bad = unknown(text);
    return bad.length ? `${what} has ${bad.map((c) => JSON.stringify(c)).join(', ')}, not in the vocabulary of ${dataset.name}; use only: ${vocabulary()}` : null;
  };
  if (model.architecture === 'encoder-decoder') {
    if (!('source' in example)) return 'the encoder-decoder needs a source';
    const S = model.sourceLength ?? 0;
    if (codePoints(example.source) === 0) return 'type a source for the encoder';
    if (codePoints(example.source) > S) return `the source has ${codePoints(example.source)} characters; the encoder reads at most ${S} (the source length)`;
    const sourceProblem = charsProblem('the source', example.source);
    if (sourceProblem) return sourceProblem;
    if (example.target !== undefined && example.target !== '') {
      if (codePoints(example.target) > T - 1) return `the target has ${codePoints(example.target)} characters; the decoder reads at most ${T - 1} after its start token (context ${T})`;
      return charsProblem('the target', example.target);
    }
    return null;
  }
  if (!('text' in example)) return `the ${model.architecture} needs a text`;
  if (codePoints(example.text) === 0) return 'type a text';
  const first = model.architecture === 'encoder' ? 'its CLS token' : 'the start token';
  if (codePoints(example.text) > T - 1) return `the text has ${codePoints(example.text)} characters; ${T - 1} fit the context of ${T} after ${first}`;
  return charsProblem('the text', example.text);
}

/** The example as one line, e.g. `"abc" → "cba"` or `"kayla"`. */
export function describeExample(example: AttentionExample): string {
  if ('source' in example) return `${JSON.stringify(example.source)} → ${JSON.stringify(example.target ?? '')}`;
  return JSON.stringify(example.text);
}
