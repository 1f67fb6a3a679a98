// Forward passes on demand, off the training loop: classification accuracy of the encoder classifier,
// greedy decoding of the encoder-decoder, and attention maps of any architecture. Each records the
// model's forward into a command buffer of its own and reads back what it needs.
import { isClassificationDataset, majorityBaseline, type ClassificationDataset, type ClassificationExample } from '../data/classify';
import type { Dataset } from '../data/dataset';
import { isTranslationDataset, type TranslationDataset, type TranslationPair } from '../data/translate';
import { type Dispatch, recordDispatches } from '../gpu/kernels';
import { readBytes, readTensor, writeTensor } from '../gpu/memory';
import type { Model } from '../model/build';
import type { AttentionProbe } from '../model/gpt';

/** What the helpers need of a trainer: its device and model, and the forward to record now (the
 *  first one also initialises the schemes). */
export interface ForwardRunner {
  device: GPUDevice;
  model: Model;
  dataset: Dataset;
  forward(): Dispatch[];
}

async function runForward(r: ForwardRunner, label: string): Promise<void> {
  runDispatches(r.device, r.forward(), label);
}

function runDispatches(device: GPUDevice, dispatches: readonly Dispatch[], label: string): void {
  const encoder = device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass();
  recordDispatches(pass, dispatches);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

function argmax(values: ArrayLike<number>, from = 0, count = values.length - from): number {
  let best = 0;
  for (let i = 1; i < count; i++) if (values[from + i] > values[from + best]) best = i;
  return best;
}

export interface ClassificationResult extends ClassificationExample {
  predicted: number;
  correct: boolean;
}

export interface ClassificationReport {
  classes: readonly string[];
  /** Share of the validation examples classified correctly. */
  accuracy: number;
  correct: number;
  total: number;
  /** Always answering the most frequent class of the same examples. */
  baseline: { accuracy: number; label: number };
  results: ClassificationResult[];
}

export function requireClassification(d: Dataset): ClassificationDataset {
  if (!isClassificationDataset(d)) throw new Error(`dataset ${d.name} is not a classification dataset (the encoder classifier trains on one)`);
  return d;
}

export function requireTranslation(d: Dataset): TranslationDataset {
  if (!isTranslationDataset(d)) throw new Error(`dataset ${d.name} is not a translation dataset (the encoder-decoder trains on one)`);
  return d;
}

/** The encoder classifier on the fixed validation examples (`batches` batches): argmax of the class
 *  logits at each sequence's CLS position against the label. */
export async function classifyValidation(r: ForwardRunner, batches: number): Promise<ClassificationReport> {
  const d = requireClassification(r.dataset);
  const { B, T } = r.model;
  const K = d.classes.length;
  const examples = d.validationExamples(batches, B, T);
  const results: ClassificationResult[] = [];
  for (let first = 0; first < examples.length; first += B) {
    const rows = examples.slice(first, first + B);
    const inputs = new Int32Array(B * T).fill(d.clsToken);
    rows.forEach((e, b) => inputs.set(d.encode(e.text, T), b * T));
    writeTensor(r.device, r.model.inputs, inputs);
    await runForward(r, 'classify');
    const logits = await readTensor(r.device, r.model.logits);
    rows.forEach((e, b) => {
      const predicted = argmax(logits, b * T * K, K);
      results.push({ ...e, predicted, correct: predicted === e.label });
    });
  }
  const correct = results.filter((x) => x.correct).length;
  return {
    classes: d.classes,
    accuracy: correct / Math.max(1, results.length),
    correct,
    total: results.length,
    baseline: majorityBaseline(results.map((x) => x.label), K),
    results,
  };
}

/** Greedy decoding: each source through the encoder, then the decoder from the start token, the
 *  argmax token appended at every step, until the end token or the decoder context is full. */
export async function greedyTranslate(r: ForwardRunner, sources: readonly string[]): Promise<string[]> {
  const d = requireTranslation(r.dataset);
  const model = r.model;
  if (!model.sources || !('S' in model)) throw new Error('greedy translation needs an encoder-decoder model');
  const { B, T, S } = model;
  const V = d.tokenizer.vocabSize;
  const out: string[] = [];
  for (let first = 0; first < sources.length; first += B) {
    const rows = sources.slice(first, first + B);
    const src = new Int32Array(B * S).fill(d.startToken);
    rows.forEach((s, b) => src.set(d.encodeSource(s, S), b * S));
    writeTensor(r.device, model.sources, src);
    const tokens = new Int32Array(B * T).fill(d.startToken);
    const generated: number[][] = rows.map(() => []);
    const done = rows.map(() => false);
    for (let t = 0; t < T && done.some((x) => !x); t++) {
      writeTensor(r.device, model.inputs, tokens);
      await runForward(r, 'translate');
      // The causal decoder's logits at t depend on inputs 0 … t only: the rest of the row is unread.
      const logits = new Float32Array(await readBytes(r.device, model.logits.buffer, model.logits.offsetBytes, model.logits.byteLength));
      rows.forEach((_, b) => {
        if (done[b]) return;
        const next = argmax(logits, (b * T + t) * V, V);
        if (next === d.endToken) done[b] = true;
        else {
          generated[b].push(next);
          if (t + 1 < T) tokens[b * T + t + 1] = next;
          else done[b] = true;
        }
      });
    }
    for (const g of generated) out.push(d.tokenizer.decode(Int32Array.from(g)));
  }
  return out;
}

export interface TranslationReport {
  /** Share of the pairs decoded exactly. */
  exactMatch: number;
  correct: number;
  total: number;
  results: (TranslationPair & { output: string; correct: boolean })[];
}

export async function translationExactMatch(r: ForwardRunner, pairs: readonly TranslationPair[]): Promise<TranslationReport> {
  const outputs = await greedyTranslate(r, pairs.map((p) => p.source));
  const results = pairs.map((p, i) => ({ ...p, output: outputs[i], correct: outputs[i] === p.target }));
  const correct = results.filter((x) => x.correct).length;
  return { exactMatch: correct / Math.max(1, results.length), correct, total: results.length, results };
}

/** One attention layer's probabilities for one example: heads[h][q·Tk + k] is the weight query
 *  position q gives key position k. */
export interface AttentionMap {
  layer: number;
  kind: AttentionProbe['kind'];
  name: string;
  Tq: number;
  Tk: number;
  heads: Float32Array[];
  /** The tokens along each axis (as characters), of the real example (padding excluded). */
  queryTokens: string[];
  keyTokens: string[];
}

/** What to show attention on. Decoder: a text (the model reads START + text). Encoder: a text (read as
 *  CLS + text). Encoder-decoder: a source and the target the decoder reads (teacher-forced; omitted:
 *  the model's own greedy translation). */
export type AttentionExample = { text: string } | { source: string; target?: string };

/** Writes the example as row 0 of a batch (the other rows repeat it), runs one forward and reads
 *  every attention layer's probabilities of row 0 back. */
export async function attentionMaps(r: ForwardRunner, example: AttentionExample): Promise<AttentionMap[]> {
  const model = r.model;
  const d = r.dataset;
  const { B, T } = model;
  const tok = d.tokenizer;
  const chars = (ids: ArrayLike<number>) => Array.from(ids, (i) => tok.chars[i]);
  let decoderTokens: string[];
  let sourceTokens: string[] = [];
  if (model.config.architecture === 'encoder-decoder') {
    if (!('source' in example)) throw new Error('attention maps of an encoder-decoder need { source, target? }');
    const t = requireTranslation(d);
    if (!model.sources || !('S' in model)) throw new Error('an encoder-decoder model has sources');
    const S = model.S;
    const target = example.target ?? (await greedyTranslate(r, [example.source]))[0];
    const src = t.encodeSource(example.source, S);
    const ids = tok.encode(target);
    if (ids.length + 1 > T) throw new Error(`target "${target}" does not fit the decoder context ${T} after the start token`);
    const inputs = new Int32Array(T).fill(t.startToken);
    inputs.set(ids, 1);
    writeTensor(r.device, model.sources, repeatRows(src, B));
    writeTensor(r.device, model.inputs, repeatRows(inputs, B));
    sourceTokens = chars(tok.encode(example.source));
    decoderTokens = chars(inputs.subarray(0, ids.length + 1));
  } else {
    if (!('text' in example)) throw new Error(`attention maps of a ${model.config.architecture} need { text }`);
    let row: Int32Array;
    let length: number;
    if (model.config.architecture === 'encoder') {
      const c = requireClassification(d);
      row = c.encode(example.text, T);
      length = tok.encode(example.text).length + 1;
    } else {
      const ids = tok.encode(example.text);
      if (ids.length + 1 > T) throw new Error(`"${example.text}" does not fit the context ${T} after the start token`);
      row = new Int32Array(T).fill(d.sampleStart());
      row.set(ids, 1);
      length = ids.length + 1;
    }
    writeTensor(r.device, model.inputs, repeatRows(row, B));
    decoderTokens = chars(row.subarray(0, length));
  }
  await runForward(r, 'attention maps');
  const maps: AttentionMap[] = [];
  for (const p of model.attentionProbes) {
    const nh = model.config.nHead;
    const size = nh * p.Tq * p.Tk;
    // The fused attention kernel keeps no probabilities: they are recomputed from the forward's q, k and
    // row log-sum-exp into a buffer the layers share, so each is read before the next is written.
    const { probs, prepare } = p.map();
    if (prepare.length) runDispatches(r.device, prepare, `${p.name} probabilities`);
    // Row 0 of [B, nh, Tq, Tk] is the first nh·Tq·Tk values.
    const data = new Float32Array(await readBytes(r.device, probs.buffer, probs.offsetBytes, size * 4));
    const heads = Array.from({ length: nh }, (_, h) => data.slice(h * p.Tq * p.Tk, (h + 1) * p.Tq * p.Tk));
    const keys = p.kind === 'cross' || p.kind === 'encoder' ? sourceTokens : decoderTokens;
    const queries = p.kind === 'encoder' ? sourceTokens : decoderTokens;
    maps.push({ layer: p.layer, kind: p.kind, name: p.name, Tq: p.Tq, Tk: p.Tk, heads, queryTokens: queries, keyTokens: keys });
  }
  return maps;
}

function repeatRows(row: Int32Array, B: number): Int32Array {
  const out = new Int32Array(row.length * B);
  for (let b = 0; b < B; b++) out.set(row, b * row.length);
  return out;
}
