// The numbers behind three teaching views: the sinusoidal positional encodings of "Attention Is All You
// Need", every matmul of one training step of the playground's GPT written as an einsum with its FLOPs,
// and one matmul A·B = C sharded over a 2×4 device mesh with the communication that sharding costs.
// Pure functions (no DOM, no GPU), tested in Node.
import { modelConfigFromPreset, PRESETS } from '../engine/config';
import type { DatasetChoice, PageConfig } from './config';

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

/** The shape of one training step of the GPT. */
export interface StepShape {
  layers: number;
  dModel: number;
  heads: number;
  dFF: number;
  /** Context length T. */
  context: number;
  batch: number;
  vocab: number;
  /** Learned positions add a [T, d] table to the parameters (no matmul). */
  learnedPositions: boolean;
}

/** Vocabulary sizes of the page's datasets (character tokenizers; the unit test checks them against the
 *  engine's datasets, which the page itself only loads in the worker). */
export const DATASET_VOCAB: Record<DatasetChoice, number> = { names: 54, reverse: 29, sort: 13, addmod: 14 };

export function stepShapeFor(preset: string, batch: number, vocab: number): StepShape {
  const m = modelConfigFromPreset(preset, vocab);
  return {
    layers: m.nLayer,
    dModel: m.dModel,
    heads: m.nHead,
    dFF: m.dFF,
    context: m.contextLength,
    batch,
    vocab,
    learnedPositions: m.positionalEncoding === 'learned',
  };
}

/** The step the page's config would train. */
export function stepShapeForPage(c: Pick<PageConfig, 'preset' | 'batchSize' | 'dataset'>): StepShape {
  return stepShapeFor(c.preset, c.batchSize ?? PRESETS[c.preset].batchSize, DATASET_VOCAB[c.dataset]);
}

export type Pass = 'forward' | 'backward';

export interface MatmulRow {
  /** Where the product sits, e.g. "scores Q·Kᵀ" or "MLP up ∂W" (the gradient it computes). */
  name: string;
  pass: Pass;
  /** Per block (counted once per layer) or once per step (the LM head). */
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

/** Letters of the einsums: b batch, t query position, s key position, h head, e head width d/h,
 *  d d_model, k = 3d (q, k and v stacked), f d_ff, v vocabulary. */
export function einsumSizes(s: StepShape): Record<string, number> {
  return { b: s.batch, t: s.context, s: s.context, h: s.heads, e: s.dModel / s.heads, d: s.dModel, k: 3 * s.dModel, f: s.dFF, v: s.vocab };
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

interface LinearSpec {
  name: string;
  /** x,w->y */
  x: string;
  w: string;
  y: string;
  perLayer: boolean;
}

const LINEARS: LinearSpec[] = [
  { name: 'QKV projection', x: 'btd', w: 'dk', y: 'btk', perLayer: true },
  { name: 'output projection', x: 'bhte', w: 'hed', y: 'btd', perLayer: true },
  { name: 'MLP up', x: 'btd', w: 'df', y: 'btf', perLayer: true },
  { name: 'MLP down', x: 'btf', w: 'fd', y: 'btd', perLayer: true },
  { name: 'LM head', x: 'btd', w: 'dv', y: 'btv', perLayer: false },
];

/** Every matmul of one training step in the order the step runs them: the forward pass block by block
 *  and the LM head, then the backward pass (∂X = ∂Y·Wᵀ and ∂W = Xᵀ·∂Y for each linear layer, two
 *  products for each of the two attention products). The attention square is counted in full, as the
 *  engine computes it (the causal mask is applied afterwards). */
export function stepMatmuls(s: StepShape): MatmulRow[] {
  const sizes = einsumSizes(s);
  const rows: MatmulRow[] = [];
  const add = (name: string, pass: Pass, perLayer: boolean, einsum: string) => {
    const d = einsumDims(einsum, sizes);
    rows.push({ name, pass, perLayer, einsum, ...d, flops: 2 * d.batch * d.M * d.N * d.K, count: perLayer ? s.layers : 1 });
  };
  const [qkv, out, up, down, head] = LINEARS;
  const fwd = (l: LinearSpec) => add(l.name, 'forward', l.perLayer, `${l.x},${l.w}->${l.y}`);
  fwd(qkv);
  add('scores Q·Kᵀ', 'forward', true, 'bhte,bhse->bhts');
  add('attention × V', 'forward', true, 'bhts,bhse->bhte');
  fwd(out);
  fwd(up);
  fwd(down);
  fwd(head);
  const bwd = (l: LinearSpec) => {
    add(`${l.name} ∂X`, 'backward', l.perLayer, `${l.y},${l.w}->${l.x}`);
    add(`${l.name} ∂W`, 'backward', l.perLayer, `${l.x},${l.y}->${l.w}`);
  };
  bwd(head);
  bwd(down);
  bwd(up);
  bwd(out);
  add('attention × V ∂P', 'backward', true, 'bhte,bhse->bhts');
  add('attention × V ∂V', 'backward', true, 'bhts,bhte->bhse');
  add('scores ∂Q', 'backward', true, 'bhts,bhse->bhte');
  add('scores ∂K', 'backward', true, 'bhts,bhte->bhse');
  bwd(qkv);
  return rows;
}

/** Parameters of the GPT as the engine lays them out (embeddings, positions, LayerNorms, biases). */
export function parameterCount(s: StepShape): number {
  const d = s.dModel, f = s.dFF;
  const block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * f + f) + (f * d + d);
  return s.vocab * d + (s.learnedPositions ? s.context * d : 0) + s.layers * block + 2 * d + s.vocab * d;
}

/** Weights that take part in a matmul: the four block matrices per layer and the LM head. */
export function matmulParameterCount(s: StepShape): number {
  const d = s.dModel, f = s.dFF;
  return s.layers * (4 * d * d + 2 * d * f) + d * s.vocab;
}

export interface StepFlops {
  forward: number;
  backward: number;
  total: number;
  /** Tokens per step: batch × context. */
  tokens: number;
  parameters: number;
  matmulParameters: number;
  /** 6·N·tokens with N = every parameter. */
  sixN: number;
  /** 6·N·tokens with N = the matmul weights only: exactly the linear layers' share of the total. */
  sixNMatmul: number;
  /** What the attention products (scores and × V, forward and backward) add on top: 12·L·B·T²·d. */
  attention: number;
}

export function stepFlops(s: StepShape, rows: MatmulRow[] = stepMatmuls(s)): StepFlops {
  const sum = (pass: Pass) => rows.filter((r) => r.pass === pass).reduce((a, r) => a + r.flops * r.count, 0);
  const forward = sum('forward'), backward = sum('backward');
  const tokens = s.batch * s.context;
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
    attention: 12 * s.layers * s.batch * s.context * s.context * s.dModel,
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
