// The scaling sweep's arithmetic: the power-law fit recovers known exponents (exactly, and within its
// standard error under seeded noise); FLOPs per token match a count of every matmul's shapes written here
// from the engine's parameter list and attention's einsums; the ladder's parameter counts match the
// engine's own layout; rungs too large for an adapter are named before any GPU work.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type ModelConfig, modelConfigFromPreset } from '../config';
import { namesDataset } from '../data/corpus';
import { Rng } from '../data/rng';
import { fp32Scheme } from '../linear/fp32';
import { modelParamSpecs } from '../model/build';
import { gaussian, ParamLayout } from '../model/params';
import { DEFAULT_LADDER_WIDTHS, fitPowerLaw, ladderLimitError, ladderRunConfig, parameterCounts, scalingLadder, tokensPerSequence, trainingFlopsPerToken } from './scaling';

const vocab = namesDataset(readFileSync('public/datasets/names.txt', 'utf8')).tokenizer.vocabSize;
const tiny = modelConfigFromPreset('tiny', vocab);
const small = modelConfigFromPreset('small', vocab);
const encoder: ModelConfig = { ...tiny, architecture: 'encoder', numClasses: 3 };
const encdec: ModelConfig = { ...tiny, architecture: 'encoder-decoder', sourceLength: 11, contextLength: 9 };
const configs: [string, ModelConfig][] = [
  ['decoder tiny', tiny],
  ['decoder small', small],
  ['decoder, sinusoidal positions, odd d_ff', { ...tiny, positionalEncoding: 'sinusoidal', dFF: 100, nLayer: 3 }],
  ['encoder classifier', encoder],
  ['encoder-decoder', encdec],
];

/** The engine's own parameters of a model (fp32: no quantizer scalars). */
const engineSpecs = (m: ModelConfig) => modelParamSpecs(m, fp32Scheme);

/**
 * Training FLOPs of one sequence, counted from shapes: every 2-D weight of the engine's parameter list
 * except the lookup tables (wte, wpe) is a matmul applied to every row of its input — the encoder's
 * rows and each decoder layer's cross-attention K,V projection read the S source positions, the rest the
 * T target positions — at 2·in·out FLOPs per row forward and twice that backward; attention adds its two
 * einsums per layer, scores 'bhqd,bhkd->bhqk' and output 'bhqk,bhkd->bhqd', 2·q·k·d_model FLOPs each
 * forward (heads × head size = d_model), ×3 with the backward.
 */
function handCountPerSequence(m: ModelConfig): number {
  const T = m.contextLength;
  const S = m.sourceLength ?? 0;
  let flops = 0;
  for (const spec of engineSpecs(m)) {
    if (spec.shape.length !== 2 || /\.(wte|wpe)\.weight$/.test(spec.name)) continue;
    const [out, inp] = spec.shape;
    const rows = spec.name.startsWith('encoder.') || spec.name.includes('cross_attn.c_kv') ? S : T;
    flops += 3 * 2 * rows * out * inp;
  }
  const einsums = (q: number, k: number) => 3 * 2 * (2 * q * k * m.dModel);
  for (let l = 0; l < m.nLayer; l++) {
    if (m.architecture === 'encoder-decoder') flops += einsums(S, S) + einsums(T, T) + einsums(T, S);
    else flops += einsums(T, T);
  }
  return flops;
}

describe('fitPowerLaw', () => {
  it('recovers exact power laws: exponent, coefficient and r² = 1', () => {
    for (const [a, b] of [[3, -0.25], [120, -0.05], [0.5, 1.7], [2e-3, 0]] as const) {
      const points = [1e3, 3e4, 2e6, 5e7, 1e9].map((x) => ({ x, y: a * x ** b }));
      const fit = fitPowerLaw(points);
      expect(fit.exponent).toBeCloseTo(b, 10);
      expect(fit.coefficient / a).toBeCloseTo(1, 9);
      expect(fit.r2).toBeCloseTo(1, 12);
    }
    // Two points determine the line.
    expect(fitPowerLaw([{ x: 2, y: 8 }, { x: 4, y: 2 }]).exponent).toBeCloseTo(-2, 12);
  });

  it('under seeded log-normal noise, the exponent is within 2 standard errors in ~95% of 300 fits, unbiased, and r² < 1', () => {
    const b = -0.3;
    const sigma = 0.05;
    const xs = Array.from({ length: 12 }, (_, i) => 1e4 * 2 ** i);
    // Least squares of ln y on ln x: the slope's standard error is σ / √Σ(ln x − mean)².
    const lx = xs.map(Math.log);
    const mean = lx.reduce((p, v) => p + v, 0) / lx.length;
    const se = sigma / Math.sqrt(lx.reduce((p, v) => p + (v - mean) ** 2, 0));
    const rng = new Rng(11);
    let within = 0;
    let sum = 0;
    const fits = 300;
    for (let k = 0; k < fits; k++) {
      const fit = fitPowerLaw(xs.map((x) => ({ x, y: 7 * x ** b * Math.exp(sigma * gaussian(rng)) })));
      if (Math.abs(fit.exponent - b) < 2 * se) within++;
      sum += fit.exponent;
      expect(fit.r2).toBeLessThan(1);
      expect(fit.r2).toBeGreaterThan(0.9);
    }
    expect(within / fits).toBeGreaterThan(0.9);
    expect(within / fits).toBeLessThan(0.99);
    // The mean of 300 unbiased estimates is within 4 of its standard errors (se/√300) of b.
    expect(Math.abs(sum / fits - b)).toBeLessThan((4 * se) / Math.sqrt(fits));
  });

  it('refuses fewer than 2 points, values that are not positive and finite, and a single x', () => {
    expect(() => fitPowerLaw([])).toThrow(/at least 2 points \(got 0\)/);
    expect(() => fitPowerLaw([{ x: 1, y: 1 }])).toThrow(/at least 2 points \(got 1\)/);
    expect(() => fitPowerLaw([{ x: 1, y: 1 }, { x: 0, y: 2 }])).toThrow(/positive finite values \(point 1: x = 0, y = 2\)/);
    expect(() => fitPowerLaw([{ x: 1, y: -1 }, { x: 2, y: 2 }])).toThrow(/point 0: x = 1, y = -1/);
    expect(() => fitPowerLaw([{ x: 1, y: NaN }, { x: 2, y: 2 }])).toThrow(/positive finite/);
    expect(() => fitPowerLaw([{ x: 3, y: 1 }, { x: 3, y: 2 }])).toThrow(/two different x values/);
  });
});

describe('trainingFlopsPerToken', () => {
  it.each(configs)('%s: matches a count of every matmul shape and attention einsum, per token of a sequence', (_, m) => {
    expect(trainingFlopsPerToken(m)).toBeCloseTo(handCountPerSequence(m) / tokensPerSequence(m), 6);
  });

  it('is ≈ 6·N per token (Kaplan et al.) when the context is short against the width, N the matmul weights', () => {
    const wide: ModelConfig = { ...tiny, dModel: 1024, nHead: 16, dFF: 4096, nLayer: 4, contextLength: 16 };
    const n = parameterCounts(wide).nonEmbedding;
    const ratio = trainingFlopsPerToken(wide) / (6 * n);
    // Biases and LayerNorm are in N but do no matmul (−0.1%); attention over 16 positions adds 12·L·T·d.
    expect(ratio).toBeGreaterThan(1);
    expect(ratio).toBeLessThan(1.02);
  });
});

describe('parameterCounts', () => {
  it.each(configs)('%s: the total and the embedding tables match the engine\'s parameter layout', (_, m) => {
    const specs = engineSpecs(m);
    const counts = parameterCounts(m);
    expect(counts.total).toBe(new ParamLayout(specs, 1).count);
    const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
    expect(counts.embedding).toBe(specs.filter((s) => /\.(wte|wpe)\.weight$/.test(s.name)).reduce((a, s) => a + size(s.shape), 0));
    expect(counts.nonEmbedding).toBe(counts.total - counts.embedding);
  });
});

describe('scalingLadder', () => {
  it('by default: 5 widths across ≥ 30× in non-embedding parameters of the tiny model on names, same tokens per rung', () => {
    const rungs = scalingLadder({ base: tiny, steps: 200, batchSize: 16 });
    expect(rungs.map((r) => r.model.dModel)).toEqual([...DEFAULT_LADDER_WIDTHS]);
    expect(rungs.map((r) => r.label)).toEqual(DEFAULT_LADDER_WIDTHS.map((w) => `d=${w}`));
    const n = rungs.map((r) => r.nonEmbeddingParameters);
    expect(n[n.length - 1] / n[0]).toBeGreaterThanOrEqual(30);
    for (const r of rungs) {
      // Layers, context, vocabulary kept; heads kept (the width per head grows); d_ff = 4·d_model as the preset.
      expect(r.model).toMatchObject({ nLayer: tiny.nLayer, contextLength: tiny.contextLength, vocabSize: vocab, nHead: tiny.nHead, dFF: 4 * r.model.dModel });
      expect(r.parameters).toBe(new ParamLayout(engineSpecs(r.model), 1).count);
      expect(r.nonEmbeddingParameters).toBe(parameterCounts(r.model).nonEmbedding);
      expect(r).toMatchObject({ steps: 200, batchSize: 16, tokens: 200 * 16 * tiny.contextLength });
      expect(r.flops).toBeCloseTo(trainingFlopsPerToken(r.model) * r.tokens, 0);
    }
    // Same tokens: compute grows with the size.
    for (let i = 1; i < rungs.length; i++) expect(rungs[i].flops).toBeGreaterThan(rungs[i - 1].flops);
  });

  it('a fixed head size gives width / head size heads; ffMultiplier sets d_ff', () => {
    const rungs = scalingLadder({ base: tiny, widths: [16, 40], steps: 10, batchSize: 4, headSize: 8, ffMultiplier: 2 });
    expect(rungs.map((r) => [r.model.nHead, r.model.dFF])).toEqual([[2, 32], [5, 80]]);
  });

  it('tokensPerParameter: each rung trains on about that many tokens per non-embedding parameter', () => {
    const rungs = scalingLadder({ base: tiny, widths: [16, 32, 64], steps: 1, batchSize: 8, tokensPerParameter: 20 });
    const perStep = 8 * tiny.contextLength;
    for (const r of rungs) {
      expect(Math.abs(r.tokens - 20 * r.nonEmbeddingParameters)).toBeLessThanOrEqual(perStep / 2);
      expect(r.tokens).toBe(r.steps * perStep);
    }
    // C ∝ N² here: FLOPs grow faster than the parameters.
    expect(rungs[2].flops / rungs[0].flops).toBeGreaterThan((rungs[2].nonEmbeddingParameters / rungs[0].nonEmbeddingParameters) ** 1.8);
  });

  it('refuses bad widths with what to give instead', () => {
    expect(() => scalingLadder({ base: tiny, widths: [16, 30], steps: 10, batchSize: 4 })).toThrow(/widths 30 are not divisible by the 4 heads; use widths divisible by 4, another head count \(1, 2 divide every width\)/);
    expect(() => scalingLadder({ base: tiny, widths: [16, 24], steps: 10, batchSize: 4, headSize: 12 })).toThrow(/widths 16 are not multiples of the head size 12/);
    expect(() => scalingLadder({ base: tiny, widths: [16, 0, 2.5], steps: 10, batchSize: 4 })).toThrow(/positive integers \(got 0, 2.5\)/);
    expect(() => scalingLadder({ base: tiny, widths: [16, 16], steps: 10, batchSize: 4 })).toThrow(/must differ \(16 given twice\)/);
    expect(() => scalingLadder({ base: tiny, widths: [], steps: 10, batchSize: 4 })).toThrow(/at least one width/);
    expect(() => scalingLadder({ base: tiny, steps: 0, batchSize: 4 })).toThrow(/steps must be a positive integer/);
    expect(() => scalingLadder({ base: tiny, steps: 10, batchSize: 4, tokensPerParameter: -1 })).toThrow(/tokens per parameter/);
  });
});

describe('ladderLimitError', () => {
  const generous = { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 };

  it('null when every rung fits, in every precision (the INT4 Hadamard block is capped at the narrow rungs\' width)', () => {
    const rungs = scalingLadder({ base: tiny, steps: 10, batchSize: 8 });
    expect(ladderLimitError(rungs, generous)).toBeNull();
    for (const precision of ['fp16', 'int8', 'int4', 'int4-minmax'] as const) {
      expect(ladderLimitError(rungs, generous, { ...DEFAULT_TRAIN, precision })).toBeNull();
    }
    expect(ladderRunConfig(rungs[0], { ...DEFAULT_TRAIN, precision: 'int4', hadamardBlock: 32 }, 'names').train.hadamardBlock).toBe(16);
    expect(ladderRunConfig(rungs[1], { ...DEFAULT_TRAIN, precision: 'int4', hadamardBlock: 32 }, 'names').train.hadamardBlock).toBe(8);
    expect(ladderRunConfig(rungs[4], { ...DEFAULT_TRAIN, precision: 'int4', hadamardBlock: 32 }, 'names').train.hadamardBlock).toBe(32);
  });

  it('names the first rung over the limits, the buffer and the limit', () => {
    const rungs = scalingLadder({ base: tiny, widths: [16, 32, 2048], steps: 10, batchSize: 8 });
    // d_model 2048, 2 layers: 12·2048²·2 ≈ 100M floats of parameters (400 MB) against 64 MiB.
    const message = ladderLimitError(rungs, { maxBufferSize: 64 * 2 ** 20, maxStorageBufferBindingSize: 64 * 2 ** 20 });
    expect(message).toMatch(/^rung d=2048 \(d_model 2048, 4 heads, d_ff 8192, 2 layers, [\d,]+ parameters\): this run needs a [\d.]+ MiB buffer for the (parameters|gradients|AdamW moments), but this GPU allows 64.0 MiB per buffer \(max\w+\);.*drop this width or make it smaller$/);
    expect(ladderLimitError(rungs.slice(0, 2), { maxBufferSize: 64 * 2 ** 20, maxStorageBufferBindingSize: 64 * 2 ** 20 })).toBeNull();
  });
});
