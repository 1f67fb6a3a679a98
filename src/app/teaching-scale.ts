// The numbers behind three teaching views: the sinusoidal positional encodings of "Attention Is All You
// Need", every matmul of one training step of the playground's model (the GPT, the encoder classifier or
// the encoder-decoder with its cross-attention) written as an einsum with its FLOPs,
// and one matmul A·B = C sharded over a 2×4 device mesh with the communication that sharding costs.
// Pure functions (no DOM, no GPU), tested in Node.
import { type Architecture, type ModelConfig, modelConfigErrors, modelConfigFromPreset, PRESETS } from '../engine/config';
import { architectureOf, DATASETS_BY_ARCHITECTURE, generatedDataset, modelConfigFor, type PageConfig } from './config';

// ---------------------------------------------------------------------------------------------------
// Positional encodings
// ---------------------------------------------------------------------------------------------------

/** Angular frequency of column pair i (columns 2i and 2i+1): ω_i = 1 / 10000^(2i/d). */
export function peFrequency(i: number, d: number): number {
  return 1 / Math.pow(10000, (2 * i) / d);
}

/** One row of the table: PE(t)[2i] = sin(ω_i·t), PE(t)[2i+1] = cos(ω_i·t). t need not be an integer
 *  nor lie inside the context: the formula is defined for every position. */
export function peVector(t: number, d: number): Float64Array {
  const v = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const angle = t * peFrequency(Math.floor(j / 2), d);
    v[j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
  }
  return v;
}

/** The [T, d] table, row-major (row t is position t), as the engine's sinusoidal positions use it. */
export function sinusoidalTable(T: number, d: number): Float64Array {
  const out = new Float64Array(T * d);
  for (let t = 0; t < T; t++) out.set(peVector(t, d), t * d);
  return out;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** PE(t)·PE(t+k), computed from the two vectors. */
export function peDot(t: number, k: number, d: number): number {
  return dot(peVector(t, d), peVector(t + k, d));
}

/** The same product in closed form for an even d: each pair contributes
 *  sin(ωt)·sin(ω(t+k)) + cos(ωt)·cos(ω(t+k)) = cos(ω·k), whatever t is. */
export function peDotByOffset(k: number, d: number): number {
  if (d % 2 === 1) throw new Error('peDotByOffset: d must be even (an odd d ends on an unpaired sine column)');
  let s = 0;
  for (let i = 0; i < d / 2; i++) s += Math.cos(peFrequency(i, d) * k);
  return s;
}

/** Wavelength in positions of column pair i: 2π/ω_i. */
export function peWavelength(i: number, d: number): number {
  return (2 * Math.PI) / peFrequency(i, d);
}

/** PE(t+k) as the rotation of PE(t) by the angle ω_i·k in every pair: the map depends on k only. */
export function rotatePe(v: ArrayLike<number>, k: number, d: number): Float64Array {
  if (d % 2 === 1) throw new Error('rotatePe: d must be even');
  const out = new Float64Array(d);
  for (let i = 0; i < d / 2; i++) {
    const a = peFrequency(i, d) * k;
    const s = v[2 * i], c = v[2 * i + 1];
    // (sin x, cos x) → (sin(x+a), cos(x+a)) = (s·cos a + c·sin a, c·cos a − s·sin a)
    out[2 * i] = s * Math.cos(a) + c * Math.sin(a);
    out[2 * i + 1] = c * Math.cos(a) - s * Math.sin(a);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Matmuls of one training step as einsums
// ---------------------------------------------------------------------------------------------------

/** The shape of one training step of the page's model, of any of the three architectures. */
export interface StepShape {
  architecture: Architecture;
  layers: number;
  dModel: number;
  heads: number;
  dFF: number;
  /** T: the decoder's context (the GPT's, the encoder-decoder's target positions) or the encoder
   *  classifier's input length. */
  context: number;
  /** S: the source positions the encoder of an encoder-decoder reads (0 for the other architectures). */
  source: number;
  /** The encoder classifier's classes, the outputs of its head (0 for the other architectures). */
  classes: number;
  batch: number;
  vocab: number;
  /** Learned positions add [T, d] tables (and [S, d] for the encoder) to the parameters (no matmul). */
  learnedPositions: boolean;
}

/** The bundled names corpus' vocabulary (its characters and the start/end token). The page reads the
 *  corpus only in the worker, so this one number is kept by hand; teaching-scale.test.ts checks it
 *  against the bundled file. (sweep.ts keeps the same number for its plan; it is not imported from
 *  there because that module pulls the engine's GPU limits, and with them WGSL sources, into whatever
 *  imports it.) */
export const NAMES_VOCAB = 54;

/** The vocabulary of a dataset of the config's architecture, as the worker's tokenizer will have it:
 *  the generated tasks are opened here the way the config panel opens them (config.ts's
 *  generatedDataset, the engine's own constructors, so GPT and encoder-decoder versions of `reverse`
 *  and `sort` each get their own); the names corpus, which only the worker fetches, is the one number
 *  kept by hand (NAMES_VOCAB, checked against the bundled file by teaching-scale.test.ts).
 *  null for a dataset the architecture does not train on. */
export function datasetVocabSize(c: Pick<PageConfig, 'architecture' | 'dataset'>): number | null {
  if (architectureOf(c) === 'decoder' && c.dataset === 'names') return NAMES_VOCAB;
  return generatedDataset(c)?.tokenizer.vocabSize ?? null;
}

/** The step shape of an engine model config trained on batches of `batch` sequences. */
export function stepShapeOf(m: ModelConfig, batch: number): StepShape {
  return {
    architecture: m.architecture,
    layers: m.nLayer,
    dModel: m.dModel,
    heads: m.nHead,
    dFF: m.dFF,
    context: m.contextLength,
    source: m.architecture === 'encoder-decoder' ? (m.sourceLength ?? 0) : 0,
    classes: m.architecture === 'encoder' ? (m.numClasses ?? 0) : 0,
    batch,
    vocab: m.vocabSize,
    learnedPositions: m.positionalEncoding === 'learned',
  };
}

/** A preset's GPT (the decoder at the preset's context). */
export function stepShapeFor(preset: string, batch: number, vocab: number): StepShape {
  return stepShapeOf(modelConfigFromPreset(preset, vocab), batch);
}

/** The step the page's config would train, resolved as the worker resolves it (config.ts's
 *  modelConfigFor: the preset's shape, the config's context or the preset's, the config's source length
 *  or the task's longest source, the classifier's classes from its dataset), optionally with another
 *  preset's shape; or why there is none (a dataset of another architecture, a shape the engine refuses). */
export function pageStepShape(c: PageConfig, preset: string = c.preset): { shape: StepShape } | { problem: string } {
  const architecture = architectureOf(c);
  const vocab = datasetVocabSize(c);
  if (vocab === null) return { problem: `dataset ${c.dataset} is not one the ${architecture} trains on; choose one of ${DATASETS_BY_ARCHITECTURE[architecture]?.join(', ') ?? 'its datasets'} in the config` };
  const model = modelConfigFor({ ...c, preset: preset as PageConfig['preset'] }, vocab);
  const errors = modelConfigErrors(model);
  if (errors.length) return { problem: `${errors.join('; ')}; fix the config` };
  return { shape: stepShapeOf(model, c.batchSize ?? PRESETS[c.preset].batchSize) };
}

export type Pass = 'forward' | 'backward';
/** Which part of the model a product belongs to: the encoder's blocks (the encoder-decoder's encoder,
 *  or the whole encoder classifier), the decoder's blocks (the GPT's, or the encoder-decoder's decoder),
 *  or the head on top (the LM head or the classifier). */
export type Stack = 'encoder' | 'decoder' | 'head';
/** A product with a weight matrix (a linear layer), or one of attention's two products of activations
 *  (Q·Kᵀ and P·V), whose cost grows with the square of the positions rather than with the parameters. */
export type ProductKind = 'linear' | 'attention';

export interface MatmulRow {
  /** Where the product sits, e.g. "scores Q·Kᵀ" or "MLP up ∂W" (the gradient it computes). */
  name: string;
  pass: Pass;
  stack: Stack;
  kind: ProductKind;
  /** Self-attention, or the encoder-decoder's cross-attention (queries from the decoder, keys and values
   *  from the encoder's output); undefined for the MLP and the head. */
  attention?: 'self' | 'cross';
  /** Per block (counted once per layer) or once per step (the head). */
  perLayer: boolean;
  /** einsum spec: "inputs->output" with one letter per axis. */
  einsum: string;
  /** Shapes of the two operands and the result, in the spec's letter order. */
  shapes: [number[], number[], number[]];
  /** As one (batched) matrix product: batch × [M, K]·[K, N]. */
  batch: number;
  M: number;
  N: number;
  K: number;
  /** 2·batch·M·N·K (one multiply and one add per term). */
  flops: number;
  /** How many times the step runs it (layers, or 1). */
  count: number;
}

/** Letters of the einsums: b batch, h head, e head width d/h, d d_model, k = 3d (q, k and v stacked),
 *  j = 2d (cross-attention's k and v stacked), f d_ff, v vocabulary, c classes; positions: t the query
 *  position and s the key position of the GPT's or the classifier's attention (both T); in the
 *  encoder-decoder t is a target position (T), u a target key position of the decoder's masked
 *  self-attention (T), s a source position (S) and r a source key position of the encoder's
 *  self-attention (S), so cross-attention, queries at t and keys at s, is T × S. */
export function einsumSizes(s: StepShape): Record<string, number> {
  const sizes: Record<string, number> = { b: s.batch, h: s.heads, e: s.dModel / s.heads, d: s.dModel, k: 3 * s.dModel, f: s.dFF, v: s.vocab, t: s.context };
  if (s.architecture === 'encoder-decoder') return { ...sizes, j: 2 * s.dModel, u: s.context, s: s.source, r: s.source };
  if (s.architecture === 'encoder') return { ...sizes, s: s.context, c: s.classes };
  return { ...sizes, s: s.context };
}

/** Reads "ab,bc->ac" into the sizes of its batch (in all three), M (first operand and result), N
 *  (second operand and result) and K (both operands, summed) axes. Every letter must have a size. */
export function einsumDims(spec: string, sizes: Record<string, number>): { batch: number; M: number; N: number; K: number; shapes: [number[], number[], number[]] } {
  const m = /^([a-z]+),([a-z]+)->([a-z]+)$/.exec(spec);
  if (!m) throw new Error(`einsum "${spec}" is not of the form xy,yz->xz`);
  const [a, b, c] = [m[1], m[2], m[3]];
  const size = (l: string) => {
    const n = sizes[l];
    if (!(n > 0)) throw new Error(`einsum "${spec}": no size for axis ${l}`);
    return n;
  };
  let batch = 1, M = 1, N = 1, K = 1;
  for (const l of new Set(a + b + c)) {
    const inA = a.includes(l), inB = b.includes(l), inC = c.includes(l);
    if (inA && inB && inC) batch *= size(l);
    else if (inA && inC) M *= size(l);
    else if (inB && inC) N *= size(l);
    else if (inA && inB) K *= size(l);
    else throw new Error(`einsum "${spec}": axis ${l} appears in only one place`);
  }
  const shape = (x: string) => [...x].map(size);
  return { batch, M, N, K, shapes: [shape(a), shape(b), shape(c)] };
}

/** One forward product A·B = C: a linear layer (A the activations X, B the weight W) or an attention
 *  product (Q·Kᵀ, or the probabilities P times V). */
interface Product {
  name: string;
  /** What the backward rows are called after, e.g. "scores" for "scores Q·Kᵀ". */
  short: string;
  stack: Stack;
  kind: ProductKind;
  attention?: 'self' | 'cross';
  perLayer: boolean;
  a: string;
  b: string;
  c: string;
  /** The operands' names, for the backward rows' ∂A and ∂B. */
  operands: [string, string];
}

/** Renames axis letters all at once (t→s and s→r together), to write a block over other positions. */
function renameAxes(spec: string, map: Record<string, string>): string {
  return [...spec].map((l) => map[l] ?? l).join('');
}

/** The products of one pre-LayerNorm block's self-attention over positions `t` (keys `s`), and its MLP
 *  when `withMlp`: the fused QKV projection, the scores, × V, the output projection, the MLP's two
 *  layers. A causal mask changes no product (it is applied to the full square of scores). */
function selfAttentionBlock(stack: Stack, prefix: string, t: string, s: string, withMlp: boolean): Product[] {
  const ax = (spec: string) => renameAxes(spec, { t, s });
  const p = (name: string) => (prefix ? `${prefix} ${name}` : name);
  const out: Product[] = [
    { name: p('QKV projection'), short: p('QKV projection'), stack, kind: 'linear', attention: 'self', perLayer: true, a: ax('btd'), b: 'dk', c: ax('btk'), operands: ['X', 'W'] },
    { name: p('scores Q·Kᵀ'), short: p('scores'), stack, kind: 'attention', attention: 'self', perLayer: true, a: ax('bhte'), b: ax('bhse'), c: ax('bhts'), operands: ['Q', 'K'] },
    { name: p('attention × V'), short: p('attention × V'), stack, kind: 'attention', attention: 'self', perLayer: true, a: ax('bhts'), b: ax('bhse'), c: ax('bhte'), operands: ['P', 'V'] },
    { name: p('output projection'), short: p('output projection'), stack, kind: 'linear', attention: 'self', perLayer: true, a: ax('bhte'), b: 'hed', c: ax('btd'), operands: ['X', 'W'] },
  ];
  if (withMlp) out.push(...mlp(stack, prefix, t));
  return out;
}

function mlp(stack: Stack, prefix: string, t: string): Product[] {
  const ax = (spec: string) => renameAxes(spec, { t });
  const p = (name: string) => (prefix ? `${prefix} ${name}` : name);
  return [
    { name: p('MLP up'), short: p('MLP up'), stack, kind: 'linear', perLayer: true, a: ax('btd'), b: 'df', c: ax('btf'), operands: ['X', 'W'] },
    { name: p('MLP down'), short: p('MLP down'), stack, kind: 'linear', perLayer: true, a: ax('btf'), b: 'fd', c: ax('btd'), operands: ['X', 'W'] },
  ];
}

/** The encoder-decoder's cross-attention ("Attention Is All You Need" §3.2.3): queries from the
 *  decoder's T positions, keys and values from the encoder output's S positions, so the scores are
 *  [B, h, T, S]. The engine fuses K and V into one projection of the encoder output (cross_attn.c_kv,
 *  d × 2d) and runs it in every decoder layer. */
function crossAttention(): Product[] {
  const x = (name: string, short: string, kind: ProductKind, a: string, b: string, c: string, operands: [string, string]): Product => ({ name: `cross-attention ${name}`, short: `cross-attention ${short}`, stack: 'decoder', kind, attention: 'cross', perLayer: true, a, b, c, operands });
  return [
    x('Q projection (decoder)', 'Q projection', 'linear', 'btd', 'dhe', 'bhte', ['X', 'W']),
    x('K,V projection (encoder output)', 'K,V projection', 'linear', 'bsd', 'dj', 'bsj', ['X', 'W']),
    x('scores Q·Kᵀ', 'scores', 'attention', 'bhte', 'bhse', 'bhts', ['Q', 'K']),
    x('attention × V', 'attention × V', 'attention', 'bhts', 'bhse', 'bhte', ['P', 'V']),
    x('output projection', 'output projection', 'linear', 'bhte', 'hed', 'btd', ['X', 'W']),
  ];
}

/** The forward products in the order the engine runs them (model/gpt.ts, model/encdec.ts). */
function forwardProducts(s: StepShape): Product[] {
  const head = (name: string, w: string, y: string): Product => ({ name, short: name, stack: 'head', kind: 'linear', perLayer: false, a: 'btd', b: w, c: y, operands: ['X', 'W'] });
  if (s.architecture === 'decoder') return [...selfAttentionBlock('decoder', '', 't', 's', true), head('LM head', 'dv', 'btv')];
  // The classifier's head computes class logits at every position (model/gpt.ts); only [CLS]'s are
  // scored, but all are multiplied.
  if (s.architecture === 'encoder') return [...selfAttentionBlock('encoder', '', 't', 's', true), head('classifier head', 'dc', 'btc')];
  return [
    // Encoder over the S source positions (keys r), no causal mask.
    ...selfAttentionBlock('encoder', 'encoder', 's', 'r', true),
    // Decoder over the T target positions: masked self-attention (keys u), cross-attention, MLP.
    ...selfAttentionBlock('decoder', 'decoder self-attention', 't', 'u', false),
    ...crossAttention(),
    ...mlp('decoder', 'decoder', 't'),
    head('LM head', 'dv', 'btv'),
  ];
}

/** Every matmul of one training step in the order the step runs them: the forward pass (the encoder's
 *  blocks, the decoder's blocks, the head), then the backward pass in reverse, each forward product
 *  C = A·B giving two, ∂A = ∂C·Bᵀ and ∂B = Aᵀ·∂C (∂X and ∂W of a linear layer, ∂Q and ∂K of the scores,
 *  ∂P and ∂V of × V). The attention squares are counted in full, as the engine computes them (the
 *  causal mask is applied afterwards). */
export function stepMatmuls(s: StepShape): MatmulRow[] {
  const sizes = einsumSizes(s);
  const rows: MatmulRow[] = [];
  const add = (p: Product, name: string, pass: Pass, einsum: string) => {
    const d = einsumDims(einsum, sizes);
    rows.push({ name, pass, stack: p.stack, kind: p.kind, ...(p.attention ? { attention: p.attention } : {}), perLayer: p.perLayer, einsum, ...d, flops: 2 * d.batch * d.M * d.N * d.K, count: p.perLayer ? s.layers : 1 });
  };
  const forward = forwardProducts(s);
  for (const p of forward) add(p, p.name, 'forward', `${p.a},${p.b}->${p.c}`);
  for (const p of [...forward].reverse()) {
    add(p, `${p.short} ∂${p.operands[0]}`, 'backward', `${p.c},${p.b}->${p.a}`);
    add(p, `${p.short} ∂${p.operands[1]}`, 'backward', `${p.a},${p.c}->${p.b}`);
  }
  return rows;
}

/** Parameters of the model as the engine lays them out (embeddings, positions, LayerNorms, biases;
 *  model/gpt.ts and model/encdec.ts). */
export function parameterCount(s: StepShape): number {
  const d = s.dModel, f = s.dFF, norm = 2 * d;
  const block = norm + (3 * d * d + 3 * d) + (d * d + d) + norm + (d * f + f) + (f * d + d);
  const positions = (n: number) => (s.learnedPositions ? n * d : 0);
  if (s.architecture === 'decoder') return s.vocab * d + positions(s.context) + s.layers * block + norm + s.vocab * d;
  if (s.architecture === 'encoder') return s.vocab * d + positions(s.context) + s.layers * block + norm + s.classes * (d + 1);
  // ln_cross, c_q (d² + d), c_kv (2d² + 2d), cross c_proj (d² + d) in every decoder block.
  const cross = norm + (d * d + d) + (2 * d * d + 2 * d) + (d * d + d);
  const encoder = s.vocab * d + positions(s.source) + s.layers * block + norm;
  const decoder = s.vocab * d + positions(s.context) + s.layers * (block + cross) + norm;
  return encoder + decoder + s.vocab * d;
}

/** Weights that take part in a matmul: the block matrices of every layer and the head. */
export function matmulParameterCount(s: StepShape): number {
  const d = s.dModel, f = s.dFF;
  const block = 4 * d * d + 2 * d * f;
  if (s.architecture === 'decoder') return s.layers * block + d * s.vocab;
  if (s.architecture === 'encoder') return s.layers * block + d * s.classes;
  return s.layers * block + s.layers * (block + 4 * d * d) + d * s.vocab;
}

export interface StepFlops {
  forward: number;
  backward: number;
  total: number;
  /** Tokens per step: batch × (context + source), as the engine's tokensPerStep counts them. */
  tokens: number;
  parameters: number;
  matmulParameters: number;
  /** 6·N·tokens with N = every parameter. */
  sixN: number;
  /** 6·N·tokens with N = the matmul weights only: exactly the linear layers' share of the total when
   *  every weight sees every token (the GPT and the classifier); in the encoder-decoder the encoder's
   *  weights see only the S source tokens and the decoder's only the T target tokens. */
  sixNMatmul: number;
  /** The linear layers' products, forward and backward. */
  linear: number;
  /** The attention products (scores and × V, forward and backward): 12·L·B·T²·d for the GPT. */
  attention: number;
}

export function stepFlops(s: StepShape, rows: MatmulRow[] = stepMatmuls(s)): StepFlops {
  const sum = (pick: (r: MatmulRow) => boolean) => rows.filter(pick).reduce((a, r) => a + r.flops * r.count, 0);
  const forward = sum((r) => r.pass === 'forward'), backward = sum((r) => r.pass === 'backward');
  const tokens = s.batch * (s.context + s.source);
  const parameters = parameterCount(s), matmulParameters = matmulParameterCount(s);
  return {
    forward,
    backward,
    total: forward + backward,
    tokens,
    parameters,
    matmulParameters,
    sixN: 6 * parameters * tokens,
    sixNMatmul: 6 * matmulParameters * tokens,
    linear: sum((r) => r.kind === 'linear'),
    attention: sum((r) => r.kind === 'attention'),
  };
}

/** 1234567 → "1.23 M" (SI prefixes, three significant digits). */
export function formatSi(n: number, unit = ''): string {
  const prefixes = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && i < prefixes.length - 1) {
    v /= 1000;
    i++;
  }
  const text = i === 0 ? String(Math.round(v * 1000) / 1000) : v.toPrecision(3);
  return `${text} ${prefixes[i]}${unit}`.trim();
}

// ---------------------------------------------------------------------------------------------------
// One matmul sharded over a 2×4 mesh
// ---------------------------------------------------------------------------------------------------

export type MeshAxis = 'data' | 'model';
/** A tensor axis is split over one mesh axis, or replicated (null). */
export type Shard = MeshAxis | null;
export const MESH_AXES: readonly MeshAxis[] = ['data', 'model'];
/** Devices along each mesh axis: 2 × 4 = 8. */
export const MESH: Record<MeshAxis, number> = { data: 2, model: 4 };
export const DEVICE_COUNT = MESH.data * MESH.model;
export const BYTES_F32 = 4;

/** Layout of A[M,K] and B[K,N] across the mesh, and how partial sums of C are combined. */
export interface MatmulSharding {
  aRows: Shard;
  aCols: Shard;
  bRows: Shard;
  bCols: Shard;
  /** Used only when K is split: all-reduce leaves each device its whole C block, reduce-scatter a slice. */
  reduce: 'all-reduce' | 'reduce-scatter';
}

export interface MatmulDims {
  M: number;
  K: number;
  N: number;
}

export const STRATEGIES = {
  replicated: { label: 'Replicated: every device holds all of A and B', sharding: { aRows: null, aCols: null, bRows: null, bCols: null } },
  data: { label: 'Data parallel: A rows by data, B replicated', sharding: { aRows: 'data', aCols: null, bRows: null, bCols: null } },
  'data-model': { label: 'Data + model: A rows by data, B columns by model', sharding: { aRows: 'data', aCols: null, bRows: null, bCols: 'model' } },
  'fully-sharded': { label: 'Fully sharded storage: gather A and B before the matmul', sharding: { aRows: 'data', aCols: 'model', bRows: 'data', bCols: 'model' } },
  'k-sharded': { label: 'K split by model: partial sums, then reduce', sharding: { aRows: 'data', aCols: 'model', bRows: 'model', bCols: null } },
} as const satisfies Record<string, { label: string; sharding: Omit<MatmulSharding, 'reduce'> }>;
export type StrategyName = keyof typeof STRATEGIES;

/** The named strategy a sharding is, or 'custom'. */
export function strategyOf(s: MatmulSharding): StrategyName | 'custom' {
  for (const [name, { sharding }] of Object.entries(STRATEGIES)) {
    if (sharding.aRows === s.aRows && sharding.aCols === s.aCols && sharding.bRows === s.bRows && sharding.bCols === s.bCols) return name as StrategyName;
  }
  return 'custom';
}

export type ShardField = 'aRows' | 'aCols' | 'bRows' | 'bCols';
const PARTNER: Record<ShardField, ShardField> = { aRows: 'aCols', aCols: 'aRows', bRows: 'bCols', bCols: 'bRows' };

/** Sets one axis of A or B. A mesh axis can split only one axis of a tensor, so if the other axis of the
 *  same tensor used it, that one becomes replicated. */
export function setShard(s: MatmulSharding, field: ShardField, value: Shard): MatmulSharding {
  const next = { ...s, [field]: value };
  if (value !== null && next[PARTNER[field]] === value) next[PARTNER[field]] = null;
  return next;
}

function ways(axis: Shard): number {
  return axis === null ? 1 : MESH[axis];
}

/** A device's coordinates on the mesh: device = data·4 + model. */
export interface DeviceCoord {
  data: number;
  model: number;
}

export function deviceCoord(device: number): DeviceCoord {
  return { data: Math.floor(device / MESH.model), model: device % MESH.model };
}

/** [start, end) of the part of an axis of the given size that a device holds when it is split over
 *  `axis` (the whole axis when null). */
export function sliceOf(axis: Shard, coord: DeviceCoord, size: number): [number, number] {
  if (axis === null) return [0, size];
  const n = MESH[axis], i = coord[axis];
  return [(i * size) / n, ((i + 1) * size) / n];
}

/** A block of a matrix: rows and columns, each split over a mesh axis or whole. */
export interface BlockLayout {
  rows: Shard;
  cols: Shard;
}

export interface ShardPlan {
  sharding: MatmulSharding;
  dims: MatmulDims;
  /** How each stored tensor is laid out, and what each device needs for its local matmul. */
  a: { stored: BlockLayout; needed: BlockLayout };
  b: { stored: BlockLayout; needed: BlockLayout };
  /** The local matmuls: C rows split like M, columns like N, and K (summed) split over `k`. */
  compute: { m: Shard; n: Shard; k: Shard };
  /** C after the step on each device. */
  c: BlockLayout;
  /** Mesh axes A and B are all-gathered over before the matmul (per matrix axis, null = none). */
  gatherA: BlockLayout;
  gatherB: BlockLayout;
  /** Reduction of the partial sums of C over this axis (null when K is not split). */
  reduce: { axis: MeshAxis; kind: MatmulSharding['reduce'] } | null;
  /** Shape of the local product on every device: [m, k]·[k, n]. */
  local: { m: number; k: number; n: number };
  /** Bytes each device receives (ring collectives, f32). All devices move the same amount. */
  bytes: { gatherA: number; gatherB: number; reduce: number; total: number };
  flops: { total: number; perDevice: number; sumOverDevices: number; redundancy: number };
  /** Why each communication is there, in words. */
  notes: string[];
}

/** Elements a device receives when it all-gathers a block of `full` elements held in `parts` equal
 *  pieces, one of them its own: (parts − 1)/parts of the block. */
export function allGatherElements(full: number, parts: number): number {
  return (full * (parts - 1)) / parts;
}

/** Elements a device receives in a ring reduce-scatter of a `full`-element buffer over `parts` devices:
 *  (parts − 1)/parts of it; an all-reduce is a reduce-scatter then an all-gather, twice that. */
export function reduceScatterElements(full: number, parts: number): number {
  return (full * (parts - 1)) / parts;
}

export function allReduceElements(full: number, parts: number): number {
  return 2 * reduceScatterElements(full, parts);
}

function describe(axis: Shard): string {
  return axis === null ? 'replicated' : `split by ${axis}`;
}

/** How the matmul runs with A and B stored as `s` says. The rules, applied in order:
 *  1. C's rows are split like A's rows and its columns like B's columns, unless both use the same mesh
 *     axis (a device cannot own a row slice and a column slice along one axis): then B is gathered
 *     along N.
 *  2. If A and B split K over the same mesh axis, each device multiplies its K slices and gets a partial
 *     sum of its C block; the partial sums are then reduced over that axis. If they split K differently
 *     (or only one does), the split operand is all-gathered along K first. */
export function planShardedMatmul(s: MatmulSharding, dims: MatmulDims, bytesPerElement = BYTES_F32): ShardPlan {
  for (const [x, y, name] of [[s.aRows, s.aCols, 'A'], [s.bRows, s.bCols, 'B']] as const) {
    if (x !== null && x === y) throw new Error(`${name} splits both of its axes over "${x}"; a mesh axis can split only one`);
  }
  for (const [k, v] of Object.entries(dims)) {
    if (!(Number.isInteger(v) && v > 0 && v % DEVICE_COUNT === 0)) throw new Error(`${k} must be a positive multiple of ${DEVICE_COUNT} (got ${v})`);
  }
  const { M, K, N } = dims;
  const notes: string[] = [];
  const m: Shard = s.aRows;
  let n: Shard = s.bCols;
  const gatherB: BlockLayout = { rows: null, cols: null };
  const gatherA: BlockLayout = { rows: null, cols: null };
  if (m !== null && n === m) {
    n = null;
    gatherB.cols = s.bCols;
    notes.push(`A's rows and B's columns are both split by ${m}: each device all-gathers B's columns over ${m}.`);
  }
  let k: Shard = null;
  if (s.aCols === s.bRows) {
    k = s.aCols;
  } else {
    if (s.aCols !== null) {
      gatherA.cols = s.aCols;
      notes.push(`A's K axis is split by ${s.aCols} but B's is ${describe(s.bRows)}: each device all-gathers its row block of A over ${s.aCols}.`);
    }
    if (s.bRows !== null) {
      gatherB.rows = s.bRows;
      notes.push(`B's K axis is split by ${s.bRows} but A's is ${describe(s.aCols)}: each device all-gathers its column block of B over ${s.bRows}.`);
    }
  }
  const localM = M / ways(m), localN = N / ways(n), localK = K / ways(k);
  const aHeld = (M / ways(s.aRows)) * (K / ways(s.aCols));
  const bHeld = (K / ways(s.bRows)) * (N / ways(s.bCols));
  const aNeeded = localM * localK, bNeeded = localK * localN;
  let reduceElements = 0;
  let reduce: ShardPlan['reduce'] = null;
  let c: BlockLayout = { rows: m, cols: n };
  if (k !== null) {
    reduce = { axis: k, kind: s.reduce };
    const partial = localM * localN;
    if (s.reduce === 'all-reduce') {
      reduceElements = allReduceElements(partial, MESH[k]);
      notes.push(`K is split by ${k}: every device holds a partial sum of its C block, and an all-reduce over ${k} adds them up on every device.`);
    } else {
      reduceElements = reduceScatterElements(partial, MESH[k]);
      // The reduced block is left split over k along the axis of C that no mesh axis splits yet.
      c = n === null ? { rows: m, cols: k } : { rows: k, cols: n };
      notes.push(`K is split by ${k}: a reduce-scatter over ${k} adds the partial sums and leaves each device 1/${MESH[k]} of its C block.`);
    }
  }
  if (notes.length === 0) notes.push('Every device already holds the blocks of A and B it needs: no communication.');
  const total = 2 * M * N * K;
  const perDevice = 2 * localM * localN * localK;
  const bytes = {
    gatherA: (aNeeded - Math.min(aHeld, aNeeded)) * bytesPerElement,
    gatherB: (bNeeded - Math.min(bHeld, bNeeded)) * bytesPerElement,
    reduce: reduceElements * bytesPerElement,
    total: 0,
  };
  bytes.total = bytes.gatherA + bytes.gatherB + bytes.reduce;
  return {
    sharding: s,
    dims,
    a: { stored: { rows: s.aRows, cols: s.aCols }, needed: { rows: m, cols: k } },
    b: { stored: { rows: s.bRows, cols: s.bCols }, needed: { rows: k, cols: n } },
    compute: { m, n, k },
    c,
    gatherA,
    gatherB,
    reduce,
    local: { m: localM, k: localK, n: localN },
    bytes,
    flops: { total, perDevice, sumOverDevices: perDevice * DEVICE_COUNT, redundancy: (perDevice * DEVICE_COUNT) / total },
    notes,
  };
}

/** The rectangle [r0, r1) × [c0, c1) of a matrix (rows × cols in elements) that a layout gives a device. */
export function blockOf(layout: BlockLayout, coord: DeviceCoord, rows: number, cols: number): { r: [number, number]; c: [number, number] } {
  return { r: sliceOf(layout.rows, coord, rows), c: sliceOf(layout.cols, coord, cols) };
}

/** Index of the shard a cell belongs to under a layout (row shard × column shard), for colouring:
 *  cells of one shard get one colour on every device that holds them. `frac` are cell centres in [0, 1). */
export function shardIndex(layout: BlockLayout, rowFrac: number, colFrac: number): number {
  const r = Math.floor(rowFrac * ways(layout.rows));
  const c = Math.floor(colFrac * ways(layout.cols));
  return r * ways(layout.cols) + c;
}
