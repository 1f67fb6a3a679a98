import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ARCHITECTURES, type ModelConfig, modelConfigFromPreset, PRESETS } from '../engine/config';
import { CLASSIFICATION_TASKS } from '../engine/data/classify';
import { namesDataset } from '../engine/data/corpus';
import { openDataset } from '../engine/data/open';
import { SYNTHETIC_TASKS } from '../engine/data/synthetic';
import { TRANSLATION_TASKS } from '../engine/data/translate';
import { fp32Scheme } from '../engine/linear/fp32';
import { modelParamSpecs } from '../engine/model/build';
import { sinusoidalPositionalEncoding } from '../engine/reference/embedding';
import { parameterCounts, tokensPerSequence, trainingFlopsPerToken } from '../engine/train/scaling';
import { DATASETS_BY_ARCHITECTURE, DEFAULT_CONFIG, modelConfigFor, type PageConfig } from './config';
import {
  allGatherElements,
  allReduceElements,
  BYTES_F32,
  blockOf,
  datasetVocabSize,
  DEVICE_COUNT,
  deviceCoord,
  einsumDims,
  einsumSizes,
  formatSi,
  type MatmulSharding,
  MESH,
  NAMES_VOCAB,
  pageStepShape,
  parameterCount,
  peDot,
  peDotByOffset,
  peVector,
  planShardedMatmul,
  reduceScatterElements,
  rotatePe,
  type Shard,
  setShard,
  sinusoidalTable,
  STRATEGIES,
  type StepShape,
  stepFlops,
  stepMatmuls,
  stepShapeOf,
  strategyOf,
} from './teaching-scale';

describe('sinusoidal positional encodings', () => {
  it('match PE(t, 2i) = sin(t/10000^(2i/d)), PE(t, 2i+1) = cos(t/10000^(2i/d)), written out independently', () => {
    for (const [T, d] of [[16, 48], [32, 128], [7, 10]]) {
      const table = sinusoidalTable(T, d);
      expect(table.length).toBe(T * d);
      for (let t = 0; t < T; t++) {
        for (let i = 0; 2 * i < d; i++) {
          // 10000^(2i/d) through exp/log rather than Math.pow, and the division as in the paper.
          const denom = Math.exp(((2 * i) / d) * Math.log(10000));
          expect(table[t * d + 2 * i]).toBeCloseTo(Math.sin(t / denom), 12);
          if (2 * i + 1 < d) expect(table[t * d + 2 * i + 1]).toBeCloseTo(Math.cos(t / denom), 12);
        }
      }
    }
  });

  it('is the table the engine uses for sinusoidal positions', () => {
    const ours = sinusoidalTable(32, 128), engine = sinusoidalPositionalEncoding(32, 128);
    for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i] - engine[i])).toBeLessThan(1e-12);
  });

  it('PE(t)·PE(t+k) depends on k only (within 1e-9), and equals Σ cos(ω_i·k)', () => {
    for (const d of [16, 48, 128, 256]) {
      for (const k of [0, 1, 2, 5, 17, 63, 200]) {
        const ref = peDot(0, k, d);
        expect(ref).toBeCloseTo(peDotByOffset(k, d), 9);
        for (const t of [1, 3, 10, 31, 100, 1000]) expect(Math.abs(peDot(t, k, d) - ref)).toBeLessThan(1e-9);
      }
      // |PE(t)|² = d/2: every pair is a unit vector.
      expect(peDot(7, 0, d)).toBeCloseTo(d / 2, 12);
    }
  });

  it('PE(t+k) is PE(t) rotated by ω_i·k in every pair', () => {
    const d = 48;
    for (const [t, k] of [[0, 3], [5, 11], [20, -4]]) {
      const rotated = rotatePe(peVector(t, d), k, d), direct = peVector(t + k, d);
      for (let j = 0; j < d; j++) expect(rotated[j]).toBeCloseTo(direct[j], 12);
    }
    expect(() => peDotByOffset(1, 7)).toThrow(/even/);
  });
});

/** Small models whose FLOPs are counted by hand below. */
const SMALL: StepShape = { architecture: 'decoder', layers: 2, dModel: 8, heads: 2, dFF: 32, context: 4, source: 0, classes: 0, batch: 3, vocab: 10, learnedPositions: true };
const SMALL_ENCODER: StepShape = { ...SMALL, architecture: 'encoder', classes: 3 };
const SMALL_ENCDEC: StepShape = { ...SMALL, architecture: 'encoder-decoder', source: 5 };
const ARCH_SHAPES = [SMALL, SMALL_ENCODER, SMALL_ENCDEC];

/** The engine's model config of a shape (the inverse of stepShapeOf), for the engine's own counts. */
function modelOf(s: StepShape): ModelConfig {
  return {
    architecture: s.architecture, nLayer: s.layers, dModel: s.dModel, nHead: s.heads, dFF: s.dFF, contextLength: s.context, vocabSize: s.vocab,
    activation: 'gelu', positionalEncoding: s.learnedPositions ? 'learned' : 'sinusoidal', layerNormEps: 1e-5,
    ...(s.architecture === 'encoder' ? { numClasses: s.classes } : {}), ...(s.architecture === 'encoder-decoder' ? { sourceLength: s.source } : {}),
  };
}

/** Shapes of every architecture at every preset the view offers, on a dataset of each. */
function presetShapes(): StepShape[] {
  const out: StepShape[] = [];
  for (const preset of ['tiny', 'small', 'medium']) {
    const gpt = modelConfigFromPreset(preset, 54);
    out.push(stepShapeOf(gpt, 32));
    out.push(stepShapeOf({ ...gpt, architecture: 'encoder', vocabSize: 25, contextLength: 30, numClasses: 2 }, 16));
    out.push(stepShapeOf({ ...gpt, architecture: 'encoder-decoder', vocabSize: 28, sourceLength: 8 }, 8));
  }
  return out;
}

describe('matmuls of one training step', () => {
  it('count FLOPs as a hand count does for a small config', () => {
    // B·T = 12 tokens, head width e = 4.
    //   QKV       2·12·8·24   = 4608
    //   scores    2·(3·2)·4·4·4 = 768
    //   × V       2·(3·2)·4·4·4 = 768
    //   out proj  2·12·8·8    = 1536
    //   MLP up    2·12·8·32   = 6144
    //   MLP down  2·12·32·8   = 6144   → 19968 per layer, 39936 for two
    //   LM head   2·12·8·10   = 1920   → forward 41856
    const rows = stepMatmuls(SMALL);
    const fwd = rows.filter((r) => r.pass === 'forward');
    expect(fwd.map((r) => r.flops)).toEqual([4608, 768, 768, 1536, 6144, 6144, 1920]);
    expect(fwd.map((r) => r.count)).toEqual([2, 2, 2, 2, 2, 2, 1]);
    const f = stepFlops(SMALL, rows);
    expect(f.forward).toBe(41856);
    expect(f.backward).toBe(2 * 41856);
    expect(f.total).toBe(125568);
    expect(f.tokens).toBe(12);
  });

  it('the classifier has the same blocks and a head of 2·B·T·d·classes at every position', () => {
    const fwd = stepMatmuls(SMALL_ENCODER).filter((r) => r.pass === 'forward');
    // The blocks as the GPT's (no product changes without the mask); the head 2·12·8·3 = 576.
    expect(fwd.map((r) => r.flops)).toEqual([4608, 768, 768, 1536, 6144, 6144, 576]);
    expect(fwd.map((r) => r.stack)).toEqual(['encoder', 'encoder', 'encoder', 'encoder', 'encoder', 'encoder', 'head']);
    expect(fwd[6]).toMatchObject({ name: 'classifier head', einsum: 'btd,dc->btc', shapes: [[3, 4, 8], [8, 3], [3, 4, 3]] });
  });

  it('counts the encoder-decoder\'s cross-attention by hand: queries from the decoder\'s T, keys and values from the encoder\'s S', () => {
    // B = 3, T = 4, S = 5, d = 8, h = 2, e = 4, 2 layers.
    //   Q projection        2·B·T·d·d    = 2·3·4·8·8    = 1536
    //   K,V projection      2·B·S·d·2d   = 2·3·5·8·16   = 3840
    //   scores Q·Kᵀ         2·B·h·T·S·e  = 2·3·2·4·5·4  = 960
    //   × V                 2·B·h·T·S·e                 = 960
    //   output projection   2·B·T·d·d                   = 1536   → 8832 forward per layer
    const rows = stepMatmuls(SMALL_ENCDEC);
    const cross = rows.filter((r) => r.attention === 'cross');
    const fwd = cross.filter((r) => r.pass === 'forward');
    expect(fwd.map((r) => r.flops)).toEqual([1536, 3840, 960, 960, 1536]);
    expect(fwd.every((r) => r.stack === 'decoder' && r.count === 2)).toBe(true);
    const scores = fwd.find((r) => r.name === 'cross-attention scores Q·Kᵀ')!;
    expect(scores.shapes).toEqual([[3, 2, 4, 4], [3, 2, 5, 4], [3, 2, 4, 5]]);
    expect(scores).toMatchObject({ batch: 6, M: 4, N: 5, K: 4 });
    expect(fwd.find((r) => r.name.includes('K,V projection'))!.shapes).toEqual([[3, 5, 8], [8, 16], [3, 5, 16]]);
    // Forward and the two backward products of each, in both layers.
    expect(cross.reduce((a, r) => a + r.flops * r.count, 0)).toBe(3 * 2 * 8832);
    // The encoder runs over S: its scores are B·h·S·S.
    expect(rows.find((r) => r.name === 'encoder scores Q·Kᵀ')!.shapes[2]).toEqual([3, 2, 5, 5]);
    expect(rows.find((r) => r.name === 'decoder self-attention scores Q·Kᵀ')!.shapes[2]).toEqual([3, 2, 4, 4]);
    // Every attention product: 12·L·B·(S² + T² + T·S)·d.
    expect(stepFlops(SMALL_ENCDEC, rows).attention).toBe(12 * 2 * 3 * (25 + 16 + 20) * 8);
    expect(stepFlops(SMALL_ENCDEC, rows).tokens).toBe(3 * (4 + 5));
  });

  it('list two backward products per forward product, each as costly as it, for every architecture', () => {
    for (const s of ARCH_SHAPES) {
      const rows = stepMatmuls(s);
      const fwd = rows.filter((r) => r.pass === 'forward'), bwd = rows.filter((r) => r.pass === 'backward');
      expect(bwd).toHaveLength(2 * fwd.length);
      const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
      expect(sorted(bwd.map((r) => r.flops))).toEqual(sorted(fwd.flatMap((r) => [r.flops, r.flops])));
      expect(new Set(rows.map((r) => `${r.pass} ${r.name}`)).size).toBe(rows.length);
      // Every row is 2 × the product of the sizes of its distinct axes, and its shapes multiply out.
      const sizes = einsumSizes(s);
      for (const r of rows) {
        const letters = new Set(r.einsum.replace(/[,>-]/g, ''));
        expect(r.flops).toBe(2 * [...letters].reduce((p, l) => p * sizes[l], 1));
        expect(r.shapes[2].reduce((a, b) => a * b, 1)).toBe(r.batch * r.M * r.N);
      }
    }
    expect(stepMatmuls(SMALL_ENCDEC).filter((r) => r.pass === 'forward')).toHaveLength(6 + 4 + 5 + 2 + 1);
  });

  it('reads einsums into batch, M, N and K', () => {
    expect(einsumDims('bhte,bhse->bhts', { b: 2, h: 3, t: 5, s: 5, e: 7 })).toMatchObject({ batch: 6, M: 5, N: 5, K: 7 });
    expect(einsumDims('btd,btk->dk', { b: 2, t: 5, d: 4, k: 12 })).toMatchObject({ batch: 1, M: 4, N: 12, K: 10 });
    expect(einsumDims('bhte,hed->btd', { b: 2, t: 5, h: 3, e: 4, d: 12 })).toMatchObject({ batch: 1, M: 10, N: 12, K: 12, shapes: [[2, 3, 5, 4], [3, 4, 12], [2, 5, 12]] });
    expect(() => einsumDims('ab,cd->ad', { a: 1, b: 1, c: 1, d: 1 })).toThrow(/only one place/);
  });

  it('sum to the engine\'s training FLOPs per token (scaling.ts) times the tokens of a step, for every architecture', () => {
    for (const s of [...ARCH_SHAPES, ...presetShapes()]) {
      const model = modelOf(s);
      const engine = trainingFlopsPerToken(model) * tokensPerSequence(model) * s.batch;
      const f = stepFlops(s);
      expect(f.tokens).toBe(tokensPerSequence(model) * s.batch);
      expect(Math.abs(f.total - engine) / engine).toBeLessThan(1e-12);
    }
  });

  it('is 6·N·tokens for the matmul weights plus the attention products where every weight sees every token', () => {
    for (const s of [SMALL, SMALL_ENCODER, ...presetShapes().filter((x) => x.architecture !== 'encoder-decoder')]) {
      const f = stepFlops(s);
      expect(f.linear).toBe(f.sixNMatmul);
      expect(f.attention).toBe(12 * s.layers * s.batch * s.context * s.context * s.dModel);
      expect(f.total).toBe(f.sixNMatmul + f.attention);
      expect(f.sixN).toBeGreaterThan(f.sixNMatmul);
    }
    // In the encoder-decoder the encoder's weights see S tokens and the decoder's T: 6·N·(S + T) overcounts.
    const f = stepFlops(SMALL_ENCDEC);
    expect(f.total).toBe(f.linear + f.attention);
    expect(f.sixNMatmul).toBeGreaterThan(f.linear);
  });

  it('counts parameters as the engine lays them out, for every architecture', () => {
    for (const s of [...ARCH_SHAPES, { ...SMALL_ENCDEC, learnedPositions: false }, ...presetShapes()]) {
      const engine = modelParamSpecs(modelOf(s), fp32Scheme).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
      expect(parameterCount(s)).toBe(engine);
      expect(stepFlops(s).parameters).toBe(parameterCounts(modelOf(s)).total);
    }
  });

  it('knows the vocabulary of every dataset of every architecture from the engine\'s own datasets', async () => {
    const namesText = readFileSync(new URL('../../public/datasets/names.txt', import.meta.url), 'utf8');
    // The one number kept by hand: the names corpus, which the page only fetches in the worker.
    expect(NAMES_VOCAB).toBe(namesDataset(namesText).tokenizer.vocabSize);
    const seen = new Map<string, number>();
    for (const architecture of ARCHITECTURES) {
      for (const dataset of DATASETS_BY_ARCHITECTURE[architecture]) {
        // Opened the way the worker opens it (engine/data/open.ts).
        const engine = (await openDataset(dataset, async () => namesText, architecture)).tokenizer.vocabSize;
        expect(datasetVocabSize({ architecture, dataset }), `${architecture} ${dataset}`).toBe(engine);
        seen.set(`${architecture} ${dataset}`, engine);
      }
    }
    // The GPT's reverse and sort mark the end of an answer; the translation tasks' sequences have a
    // boundary token of their own: the two versions are different datasets.
    expect(seen.get('decoder reverse')).not.toBe(seen.get('encoder-decoder reverse'));
    expect(datasetVocabSize({ architecture: 'encoder', dataset: 'names' })).toBeNull();
  });

  it('resolves the page\'s config as the worker does: context, source length and classes', () => {
    const shape = (c: PageConfig, preset?: string) => {
      const r = pageStepShape(c, preset);
      if (!('shape' in r)) throw new Error(r.problem);
      return r.shape;
    };
    expect(shape(DEFAULT_CONFIG)).toEqual({ architecture: 'decoder', layers: 2, dModel: 48, heads: 4, dFF: 192, context: 16, source: 0, classes: 0, batch: 32, vocab: NAMES_VOCAB, learnedPositions: true });
    expect(shape({ ...DEFAULT_CONFIG, preset: 'small', batchSize: 8, dataset: 'sort' })).toMatchObject({ layers: 4, dModel: 128, context: 32, batch: 8, vocab: SYNTHETIC_TASKS.sort.create().tokenizer.vocabSize });
    expect(shape({ ...DEFAULT_CONFIG, contextLength: 24 }).context).toBe(24);
    // The view's other presets keep the page's architecture, dataset, context and batch.
    expect(shape({ ...DEFAULT_CONFIG, contextLength: 24, batchSize: 8 }, 'medium')).toMatchObject({ layers: 6, dModel: 256, context: 24, batch: 8 });
    const reverse = TRANSLATION_TASKS.reverse.create();
    const encdec = { ...DEFAULT_CONFIG, architecture: 'encoder-decoder' as const, dataset: 'reverse' };
    expect(shape(encdec)).toMatchObject({ architecture: 'encoder-decoder', context: PRESETS.tiny.contextLength, source: reverse.minSourceLength, vocab: reverse.tokenizer.vocabSize });
    expect(shape({ ...encdec, sourceLength: 12, contextLength: 10 })).toMatchObject({ context: 10, source: 12 });
    const majority = CLASSIFICATION_TASKS.majority.create();
    expect(shape({ ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'majority' })).toMatchObject({ architecture: 'encoder', classes: majority.classes.length, vocab: majority.tokenizer.vocabSize, source: 0 });
    // Every shape the page can resolve sums to the engine's count of the model the worker would build.
    for (const c of [DEFAULT_CONFIG, encdec, { ...encdec, sourceLength: 12 }, { ...DEFAULT_CONFIG, architecture: 'encoder' as const, dataset: 'sentiment', contextLength: 30 }]) {
      const model = modelConfigFor(c, datasetVocabSize(c)!);
      const s = shape(c);
      expect(stepFlops(s).total).toBeCloseTo(trainingFlopsPerToken(model) * tokensPerSequence(model) * s.batch, -1);
    }
    expect(pageStepShape({ ...DEFAULT_CONFIG, architecture: 'encoder', dataset: 'names' })).toEqual({ problem: expect.stringMatching(/dataset names is not one the encoder trains on; choose one of majority, sentiment/) });
    expect(pageStepShape({ ...DEFAULT_CONFIG, contextLength: 2.5 })).toEqual({ problem: expect.stringMatching(/context must be a positive integer \(got 2\.5\)/) });
  });

  it('formats counts with SI prefixes', () => {
    expect(formatSi(125568, 'FLOP')).toBe('126 kFLOP');
    expect(formatSi(999)).toBe('999');
    expect(formatSi(3.2e12, 'B')).toBe('3.20 TB');
  });
});

const DIMS = { M: 1024, K: 512, N: 2048 };
const withReduce = (s: Omit<MatmulSharding, 'reduce'>, reduce: MatmulSharding['reduce'] = 'all-reduce'): MatmulSharding => ({ ...s, reduce });

describe('collectives', () => {
  it('an all-gather of a tensor split 4 ways brings 3/4 of it into each device', () => {
    expect(allGatherElements(1000, 4)).toBe(750);
    expect(allGatherElements(1000, 2)).toBe(500);
    expect(allGatherElements(1000, 1)).toBe(0);
    expect(reduceScatterElements(1000, 4)).toBe(750);
    expect(allReduceElements(1000, 4)).toBe(1500);
  });
});

describe('one matmul on a 2×4 mesh', () => {
  it('data + model parallel needs no communication and splits the work 8 ways', () => {
    const p = planShardedMatmul(withReduce(STRATEGIES['data-model'].sharding), DIMS);
    expect(p.bytes.total).toBe(0);
    expect(p.local).toEqual({ m: 512, k: 512, n: 512 });
    expect(p.flops.perDevice * DEVICE_COUNT).toBe(p.flops.total);
    expect(p.flops.sumOverDevices).toBe(2 * 1024 * 512 * 2048);
    expect(p.flops.redundancy).toBe(1);
    expect(p.c).toEqual({ rows: 'data', cols: 'model' });
  });

  it('fully sharded storage all-gathers the row block of A over model and the column block of B over data', () => {
    const p = planShardedMatmul(withReduce(STRATEGIES['fully-sharded'].sharding), DIMS);
    expect(p.gatherA).toEqual({ rows: null, cols: 'model' });
    expect(p.gatherB).toEqual({ rows: 'data', cols: null });
    // A's row block is M/2 × K; the device holds a quarter of it.
    expect(p.bytes.gatherA).toBe((3 / 4) * (1024 / 2) * 512 * BYTES_F32);
    // B's column block is K × N/4; the device holds half of it.
    expect(p.bytes.gatherB).toBe((1 / 2) * 512 * (2048 / 4) * BYTES_F32);
    expect(p.bytes.reduce).toBe(0);
    expect(p.flops.redundancy).toBe(1);
  });

  it('K split by model leaves partial sums that an all-reduce or a reduce-scatter combines', () => {
    const ar = planShardedMatmul(withReduce(STRATEGIES['k-sharded'].sharding, 'all-reduce'), DIMS);
    const rs = planShardedMatmul(withReduce(STRATEGIES['k-sharded'].sharding, 'reduce-scatter'), DIMS);
    const partial = (1024 / 2) * 2048; // each device's C block: M/2 × N
    expect(ar.bytes.gatherA + ar.bytes.gatherB).toBe(0);
    expect(ar.bytes.reduce).toBe(2 * (3 / 4) * partial * BYTES_F32);
    expect(rs.bytes.reduce).toBe((3 / 4) * partial * BYTES_F32);
    expect(ar.c).toEqual({ rows: 'data', cols: null });
    expect(rs.c).toEqual({ rows: 'data', cols: 'model' });
    expect(ar.local).toEqual({ m: 512, k: 128, n: 2048 });
    expect(ar.flops.perDevice * DEVICE_COUNT).toBe(ar.flops.total);
  });

  it('replicated operands cost nothing to move but every device does all the work', () => {
    const p = planShardedMatmul(withReduce(STRATEGIES.replicated.sharding), DIMS);
    expect(p.bytes.total).toBe(0);
    expect(p.flops.perDevice).toBe(p.flops.total);
    expect(p.flops.redundancy).toBe(8);
  });

  it('gathers B along N when A rows and B columns use the same mesh axis', () => {
    const p = planShardedMatmul(withReduce({ aRows: 'model', aCols: null, bRows: null, bCols: 'model' }), DIMS);
    expect(p.gatherB).toEqual({ rows: null, cols: 'model' });
    expect(p.bytes.gatherB).toBe(allGatherElements(512 * 2048, 4) * BYTES_F32);
    expect(p.c).toEqual({ rows: 'model', cols: null });
  });

  it('names the strategies and keeps a mesh axis on one axis per tensor', () => {
    for (const name of Object.keys(STRATEGIES) as (keyof typeof STRATEGIES)[]) expect(strategyOf(withReduce(STRATEGIES[name].sharding))).toBe(name);
    const s = withReduce(STRATEGIES['data-model'].sharding);
    const moved = setShard(s, 'aCols', 'data');
    expect(moved).toMatchObject({ aRows: null, aCols: 'data' });
    expect(strategyOf(moved)).toBe('custom');
    expect(setShard(s, 'bRows', 'model')).toMatchObject({ bRows: 'model', bCols: null });
    expect(() => planShardedMatmul(withReduce({ aRows: 'data', aCols: 'data', bRows: null, bCols: null }), DIMS)).toThrow(/only one/);
    expect(() => planShardedMatmul(withReduce(STRATEGIES.data.sharding), { M: 100, K: 8, N: 8 })).toThrow(/multiple of 8/);
  });

  // Every layout of A and B (and both reductions): run the plan on small random matrices device by
  // device and check that each device ends with the right values of C, that together they cover C, that
  // the work done adds up to the total (times the redundancy) and the gathers move needed − held.
  const AXES: Shard[] = [null, 'data', 'model'];
  const layouts: MatmulSharding[] = [];
  for (const aRows of AXES) for (const aCols of AXES) for (const bRows of AXES) for (const bCols of AXES) {
    if ((aRows && aRows === aCols) || (bRows && bRows === bCols)) continue;
    for (const reduce of ['all-reduce', 'reduce-scatter'] as const) layouts.push({ aRows, aCols, bRows, bCols, reduce });
  }

  it(`computes C correctly for all ${layouts.length} layouts`, () => {
    const M = 8, K = 16, N = 24;
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
    const A = Array.from({ length: M * K }, rand), B = Array.from({ length: K * N }, rand);
    const C = new Float64Array(M * N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) C[i * N + j] += A[i * K + k] * B[k * N + j];
    for (const s of layouts) {
      const p = planShardedMatmul(s, { M, K, N }, 1);
      // Local partial products per device.
      const partials: { r: [number, number]; c: [number, number]; v: Float64Array }[] = [];
      let flops = 0, gathered = 0;
      for (let dev = 0; dev < DEVICE_COUNT; dev++) {
        const coord = deviceCoord(dev);
        const aHeld = blockOf(p.a.stored, coord, M, K), aNeed = blockOf(p.a.needed, coord, M, K);
        const bHeld = blockOf(p.b.stored, coord, K, N), bNeed = blockOf(p.b.needed, coord, K, N);
        // What a device needs contains what it holds: the gather only adds.
        for (const [h, n] of [[aHeld, aNeed], [bHeld, bNeed]]) {
          expect(n.r[0] <= h.r[0] && h.r[1] <= n.r[1] && n.c[0] <= h.c[0] && h.c[1] <= n.c[1]).toBe(true);
          gathered += (n.r[1] - n.r[0]) * (n.c[1] - n.c[0]) - (h.r[1] - h.r[0]) * (h.c[1] - h.c[0]);
        }
        expect(aNeed.c).toEqual(bNeed.r);
        const r = aNeed.r, c = bNeed.c, ks = aNeed.c;
        const v = new Float64Array((r[1] - r[0]) * (c[1] - c[0]));
        for (let i = r[0]; i < r[1]; i++) for (let j = c[0]; j < c[1]; j++) for (let k = ks[0]; k < ks[1]; k++) v[(i - r[0]) * (c[1] - c[0]) + j - c[0]] += A[i * K + k] * B[k * N + j];
        flops += 2 * v.length * (ks[1] - ks[0]);
        expect(2 * v.length * (ks[1] - ks[0])).toBe(p.flops.perDevice);
        partials.push({ r, c, v });
      }
      expect(gathered).toBe((p.bytes.gatherA + p.bytes.gatherB) * DEVICE_COUNT);
      expect(flops).toBe(p.flops.total * p.flops.redundancy);
      // The reduction: sum the partial blocks over the devices that differ only along the K axis.
      const covered = new Uint8Array(M * N);
      let maxError = 0;
      for (let dev = 0; dev < DEVICE_COUNT; dev++) {
        const coord = deviceCoord(dev);
        const { r, c } = partials[dev];
        const sum = Float64Array.from(partials[dev].v);
        if (p.reduce) {
          const axis = p.reduce.axis;
          for (let i = 0; i < MESH[axis]; i++) {
            if (i === coord[axis]) continue;
            const other = { ...coord, [axis]: i };
            const o = partials[other.data * MESH.model + other.model];
            expect(o.r).toEqual(r);
            expect(o.c).toEqual(c);
            o.v.forEach((x, idx) => (sum[idx] += x));
          }
        }
        const final = blockOf(p.c, coord, M, N);
        expect(final.r[0] >= r[0] && final.r[1] <= r[1] && final.c[0] >= c[0] && final.c[1] <= c[1]).toBe(true);
        for (let i = final.r[0]; i < final.r[1]; i++) {
          for (let j = final.c[0]; j < final.c[1]; j++) {
            maxError = Math.max(maxError, Math.abs(sum[(i - r[0]) * (c[1] - c[0]) + j - c[0]] - C[i * N + j]));
            covered[i * N + j] = 1;
          }
        }
      }
      expect(maxError).toBeLessThan(1e-12);
      expect(covered.every((x) => x === 1)).toBe(true);
    }
  });
});
