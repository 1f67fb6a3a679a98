import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config';
import {
  refCrossAttentionBackward,
  refCrossAttentionForward,
  refEncDecBackward,
  refEncDecForward,
  refEncDecParamNames,
  refEncoderBackward,
  refEncoderForward,
  refEncoderParamNames,
  refGreedyDecode,
} from './encdec';
import type { RefParams } from './gpt';
import { FD_MAX_RELATIVE_ERROR, SeededRandom, checkGradient, expectGradientMatches, weightedSum } from './test-helpers';

/** Like expectGradientMatches, for tensors deep in a random model whose gradients can all sit below
 *  its 1e-2 vacuity floor (ln_cross of the first decoder block): the same error bound (relative above
 *  1e-2, absolute 1e-8 below), with the vacuity check at 1e-4. */
function expectGradient(label: string, loss: () => number, value: Float64Array, analytic: Float64Array, indices: number[]): void {
  const r = checkGradient(loss, value, analytic, indices);
  expect(r.maxAbsAnalytic, `${label}: every checked gradient coordinate is ~0`).toBeGreaterThan(1e-4);
  expect(r.maxError, `${label}: worst at [${r.worst.index}], analytic ${r.worst.analytic}, numeric ${r.worst.numeric}`).toBeLessThan(FD_MAX_RELATIVE_ERROR);
}

const B = 2;
const T = 5;
const S = 4;

function config(architecture: ModelConfig['architecture'], activation: ModelConfig['activation'] = 'gelu', positionalEncoding: ModelConfig['positionalEncoding'] = 'learned'): ModelConfig {
  return {
    architecture, nLayer: 2, dModel: 8, nHead: 2, dFF: 16, contextLength: T + 1, vocabSize: 7, activation, positionalEncoding, layerNormEps: 1e-5,
    ...(architecture === 'encoder' ? { numClasses: 3 } : {}),
    ...(architecture === 'encoder-decoder' ? { sourceLength: S + 1 } : {}),
  };
}

function randomParams(names: { name: string; shape: number[] }[], seed: number): RefParams {
  const rng = new SeededRandom(seed);
  const params: RefParams = {};
  for (const { name, shape } of names) {
    const size = shape.reduce((a, b) => a * b, 1);
    const isLayerNorm = /ln_\d\.|ln_f\.|ln_cross\./.test(name);
    // The cross-attention path gets larger weights, so that ln_cross's gradient clears the checker's floor.
    const values = rng.normalArray(size, isLayerNorm ? 0.2 : name.includes('cross_attn.c_proj') ? 1 : 0.5);
    if (isLayerNorm && name.endsWith('.weight')) for (let i = 0; i < size; i++) values[i] += 1;
    params[name] = values;
  }
  return params;
}

const differs = (a: Float64Array, b: Float64Array, from: number, to: number) => {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return true;
  return false;
};

describe('reference cross-attention', () => {
  it('matches finite differences for q and kv (Tq ≠ Tk)', () => {
    const C = 6;
    const nHead = 2;
    const Tq = 3;
    const Tk = 5;
    const rng = new SeededRandom(11);
    const q = rng.normalArray(B * Tq * C);
    const kv = rng.normalArray(B * Tk * 2 * C);
    const weights = rng.normalArray(B * Tq * C);
    const loss = () => weightedSum(refCrossAttentionForward(q, kv, B, Tq, Tk, C, nHead).out, weights);
    const { att } = refCrossAttentionForward(q, kv, B, Tq, Tk, C, nHead);
    // Each row of the probabilities sums to 1 over all Tk keys (no mask).
    for (let r = 0; r < B * nHead * Tq; r++) {
      let sum = 0;
      for (let s = 0; s < Tk; s++) sum += att[r * Tk + s];
      expect(sum).toBeCloseTo(1, 12);
    }
    const { dq, dkv } = refCrossAttentionBackward(weights, q, kv, att, B, Tq, Tk, C, nHead);
    expectGradientMatches('dq', loss, q, dq);
    expectGradientMatches('dkv', loss, kv, dkv);
  });
});

describe('reference encoder classifier', () => {
  for (const [activation, positional] of [['gelu', 'learned'], ['relu', 'sinusoidal']] as const) {
    it(`matches finite differences on every tensor (${activation}, ${positional})`, () => {
      const c = config('encoder', activation, positional);
      const names = refEncoderParamNames(c);
      const params = randomParams(names, 100);
      const rng = new SeededRandom(200);
      const tokens = rng.intArray(B * T, 0, c.vocabSize);
      const targets = new Int32Array(B * T).fill(-1);
      targets[0] = 2;
      targets[T] = 0;
      const { cache } = refEncoderForward(params, c, tokens, targets, B, T);
      const grads = refEncoderBackward(params, c, cache);
      expect(Object.keys(grads).sort()).toEqual(names.map((n) => n.name).sort());
      const pick = new SeededRandom(300);
      const loss = () => refEncoderForward(params, c, tokens, targets, B, T).loss;
      for (const { name } of names) expectGradientMatches(name, loss, params[name], grads[name], pick.sampleIndices(params[name].length, 30));
    });
  }

  it('is bidirectional: changing a later token changes the outputs of every position of its sequence', () => {
    const c = config('encoder');
    const params = randomParams(refEncoderParamNames(c), 101);
    const tokens = new SeededRandom(201).intArray(B * T, 0, c.vocabSize);
    const targets = new Int32Array(B * T).fill(-1);
    const changed = Int32Array.from(tokens);
    changed[T - 1] = (tokens[T - 1] + 1) % c.vocabSize;
    const K = c.numClasses!;
    const a = refEncoderForward(params, c, tokens, targets, B, T).logits;
    const b = refEncoderForward(params, c, changed, targets, B, T).logits;
    for (let t = 0; t < T; t++) expect(differs(a, b, t * K, (t + 1) * K), `position ${t}`).toBe(true);
    // The other sequence of the batch is untouched.
    expect(differs(a, b, T * K, 2 * T * K)).toBe(false);
  });
});

describe('reference encoder-decoder', () => {
  for (const [activation, positional] of [['gelu', 'learned'], ['relu', 'sinusoidal']] as const) {
    it(`matches finite differences on every tensor (${activation}, ${positional})`, () => {
      const c = config('encoder-decoder', activation, positional);
      const names = refEncDecParamNames(c);
      const params = randomParams(names, 110);
      const rng = new SeededRandom(210);
      const sources = rng.intArray(B * S, 0, c.vocabSize);
      const inputs = rng.intArray(B * T, 0, c.vocabSize);
      const targets = rng.intArray(B * T, 0, c.vocabSize);
      targets[3] = -1;
      const { cache } = refEncDecForward(params, c, sources, inputs, targets, B, S, T);
      const grads = refEncDecBackward(params, c, cache);
      expect(Object.keys(grads).sort()).toEqual(names.map((n) => n.name).sort());
      const pick = new SeededRandom(310);
      const loss = () => refEncDecForward(params, c, sources, inputs, targets, B, S, T).loss;
      for (const { name } of names) expectGradient(name, loss, params[name], grads[name], pick.sampleIndices(params[name].length, 30));
    });
  }

  it('decoder is causal, encoder is not: a later decoder input changes no earlier logits; any source token changes every logit', () => {
    const c = config('encoder-decoder');
    const V = c.vocabSize;
    const params = randomParams(refEncDecParamNames(c), 111);
    const rng = new SeededRandom(211);
    const sources = rng.intArray(B * S, 0, V);
    const inputs = rng.intArray(B * T, 0, V);
    const targets = new Int32Array(B * T).fill(-1);
    const base = refEncDecForward(params, c, sources, inputs, targets, B, S, T).logits;
    const at = 2;
    const later = Int32Array.from(inputs);
    later[at] = (inputs[at] + 1) % V;
    const perturbed = refEncDecForward(params, c, sources, later, targets, B, S, T).logits;
    for (let t = 0; t < T; t++) expect(differs(base, perturbed, t * V, (t + 1) * V), `decoder position ${t}`).toBe(t >= at);
    const lastSource = Int32Array.from(sources);
    lastSource[S - 1] = (sources[S - 1] + 1) % V;
    const fromSource = refEncDecForward(params, c, lastSource, inputs, targets, B, S, T).logits;
    for (let t = 0; t < T; t++) expect(differs(base, fromSource, t * V, (t + 1) * V), `decoder position ${t} after a source change`).toBe(true);
    expect(differs(base, fromSource, T * V, 2 * T * V)).toBe(false);
  });

  it('greedy decoding stops at the end token and follows the argmax', () => {
    const c = config('encoder-decoder');
    const params = randomParams(refEncDecParamNames(c), 112);
    const source = new SeededRandom(212).intArray(S, 0, c.vocabSize);
    const out = refGreedyDecode(params, c, source, 0, 1, 2);
    expect(out.length).toBeLessThanOrEqual(c.contextLength);
    expect(out).not.toContain(1);
    // Replaying the decoded prefix gives the same argmax at each step.
    const inputs = new Int32Array(c.contextLength).fill(2);
    inputs[0] = 0;
    out.forEach((tok, i) => {
      if (i + 1 < c.contextLength) inputs[i + 1] = tok;
    });
    const { logits } = refEncDecForward(params, c, source, inputs, new Int32Array(c.contextLength).fill(-1), 1, S, c.contextLength);
    out.forEach((tok, t) => {
      const row = Array.from(logits.subarray(t * c.vocabSize, (t + 1) * c.vocabSize));
      expect(row.indexOf(Math.max(...row)), `step ${t}`).toBe(tok);
    });
  });
});
