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
/** The pad token of these tests' vocabulary of 7. */
const PAD = 6;

/** Random tokens of [0, PAD) for B sequences of `length`, each padded with PAD after its own length. */
function padded(rng: SeededRandom, lengths: number[], length: number): Int32Array {
  const out = rng.intArray(lengths.length * length, 0, PAD);
  lengths.forEach((n, b) => out.fill(PAD, b * length + n, (b + 1) * length));
  return out;
}

/** Every value of a and b equal in [from, to). */
const same = (a: Float64Array, b: Float64Array, from: number, to: number) => {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
};

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

  it('with key lengths: padded keys get probability exactly 0 and their keys and values no gradient; finite differences hold', () => {
    const C = 6;
    const nHead = 2;
    const Tq = 3;
    const Tk = 5;
    const lengths = [2, 1];
    const rng = new SeededRandom(12);
    const q = rng.normalArray(B * Tq * C, 2);
    const kv = rng.normalArray(B * Tk * 2 * C);
    const weights = rng.normalArray(B * Tq * C);
    const { att } = refCrossAttentionForward(q, kv, B, Tq, Tk, C, nHead, lengths);
    for (let r = 0; r < B * nHead * Tq; r++) {
      const b = Math.floor(r / (nHead * Tq));
      let sum = 0;
      for (let s = 0; s < Tk; s++) {
        if (s >= lengths[b]) expect(att[r * Tk + s], `row ${r}, key ${s}`).toBe(0);
        sum += att[r * Tk + s];
      }
      expect(sum).toBeCloseTo(1, 12);
    }
    const loss = () => weightedSum(refCrossAttentionForward(q, kv, B, Tq, Tk, C, nHead, lengths).out, weights);
    const { dq, dkv } = refCrossAttentionBackward(weights, q, kv, att, B, Tq, Tk, C, nHead);
    expectGradientMatches('dq', loss, q, dq);
    expectGradientMatches('dkv', loss, kv, dkv);
    for (let b = 0; b < B; b++) expect(same(dkv, new Float64Array(dkv.length), (b * Tk + lengths[b]) * 2 * C, (b + 1) * Tk * 2 * C), `sequence ${b}'s padded keys`).toBe(true);
    expect(() => refCrossAttentionForward(q, kv, B, Tq, Tk, C, nHead, [0, 1])).toThrow(/key lengths/);
  });
});

describe('reference encoder classifier', () => {
  for (const [activation, positional] of [['gelu', 'learned'], ['relu', 'sinusoidal']] as const) {
    it(`matches finite differences on every tensor (${activation}, ${positional})`, () => {
      const c = config('encoder', activation, positional);
      const names = refEncoderParamNames(c);
      const params = randomParams(names, 100);
      const rng = new SeededRandom(200);
      // The first sequence is padded after 3 tokens, the second fills the context.
      const tokens = padded(rng, [3, T], T);
      const targets = new Int32Array(B * T).fill(-1);
      targets[0] = 2;
      targets[T] = 0;
      const { cache } = refEncoderForward(params, c, tokens, targets, B, T, PAD);
      const grads = refEncoderBackward(params, c, cache);
      expect(Object.keys(grads).sort()).toEqual(names.map((n) => n.name).sort());
      const pick = new SeededRandom(300);
      const loss = () => refEncoderForward(params, c, tokens, targets, B, T, PAD).loss;
      for (const { name } of names) expectGradientMatches(name, loss, params[name], grads[name], pick.sampleIndices(params[name].length, 30));
      // The pad token's embedding reaches only pad positions, which nothing scored reads: exactly 0.
      expect(same(grads['transformer.wte.weight'], new Float64Array(c.vocabSize * c.dModel), PAD * c.dModel, (PAD + 1) * c.dModel)).toBe(true);
    });
  }

  it('is bidirectional: changing a later token changes the outputs of every position of its sequence', () => {
    const c = config('encoder');
    const params = randomParams(refEncoderParamNames(c), 101);
    const tokens = new SeededRandom(201).intArray(B * T, 0, PAD);
    const targets = new Int32Array(B * T).fill(-1);
    const changed = Int32Array.from(tokens);
    changed[T - 1] = (tokens[T - 1] + 1) % PAD;
    const K = c.numClasses!;
    const a = refEncoderForward(params, c, tokens, targets, B, T, PAD).logits;
    const b = refEncoderForward(params, c, changed, targets, B, T, PAD).logits;
    for (let t = 0; t < T; t++) expect(differs(a, b, t * K, (t + 1) * K), `position ${t}`).toBe(true);
    // The other sequence of the batch is untouched.
    expect(differs(a, b, T * K, 2 * T * K)).toBe(false);
  });

  it('key padding mask: the pad embedding and the positions past the end change no real position; a token over the padding does', () => {
    const c = config('encoder');
    const K = c.numClasses!;
    const C = c.dModel;
    const params = randomParams(refEncoderParamNames(c), 102);
    const lengths = [3, 4];
    const tokens = padded(new SeededRandom(202), lengths, T);
    const targets = new Int32Array(B * T).fill(-1);
    const base = refEncoderForward(params, c, tokens, targets, B, T, PAD);
    // Another pad embedding, and other positional rows 4 … T where no sequence has a real token.
    const other: typeof params = { ...params, 'transformer.wte.weight': Float64Array.from(params['transformer.wte.weight']), 'transformer.wpe.weight': Float64Array.from(params['transformer.wpe.weight']) };
    const rng = new SeededRandom(203);
    for (let i = PAD * C; i < (PAD + 1) * C; i++) other['transformer.wte.weight'][i] += rng.normal();
    for (let i = 4 * C; i < other['transformer.wpe.weight'].length; i++) other['transformer.wpe.weight'][i] += rng.normal();
    const changed = refEncoderForward(other, c, tokens, targets, B, T, PAD);
    lengths.forEach((n, b) => {
      for (let t = 0; t < T; t++) expect(same(base.logits, changed.logits, (b * T + t) * K, (b * T + t + 1) * K), `sequence ${b}, position ${t}`).toBe(t < n);
    });
    // Every padded key has probability exactly 0 in every layer and head.
    for (const att of base.att) {
      for (let row = 0; row < B * c.nHead * T; row++) {
        const b = Math.floor(row / (c.nHead * T));
        for (let s = lengths[b]; s < T; s++) expect(att[row * T + s]).toBe(0);
      }
    }
    // A real token written where sequence 0 was padded makes it longer: its real positions see it.
    const longer = Int32Array.from(tokens);
    longer[3] = 0;
    const extended = refEncoderForward(params, c, longer, targets, B, T, PAD).logits;
    for (let t = 0; t < 3; t++) expect(same(base.logits, extended, t * K, (t + 1) * K), `position ${t}`).toBe(false);
  });
});

describe('reference encoder-decoder', () => {
  for (const [activation, positional] of [['gelu', 'learned'], ['relu', 'sinusoidal']] as const) {
    it(`matches finite differences on every tensor (${activation}, ${positional})`, () => {
      const c = config('encoder-decoder', activation, positional);
      const names = refEncDecParamNames(c);
      const params = randomParams(names, 110);
      const rng = new SeededRandom(210);
      // The first source is padded after 2 tokens, the second fills S.
      const sources = padded(rng, [2, S], S);
      const inputs = rng.intArray(B * T, 0, c.vocabSize);
      const targets = rng.intArray(B * T, 0, c.vocabSize);
      targets[3] = -1;
      const { cache } = refEncDecForward(params, c, sources, inputs, targets, B, S, T, PAD);
      const grads = refEncDecBackward(params, c, cache);
      expect(Object.keys(grads).sort()).toEqual(names.map((n) => n.name).sort());
      const pick = new SeededRandom(310);
      const loss = () => refEncDecForward(params, c, sources, inputs, targets, B, S, T, PAD).loss;
      for (const { name } of names) expectGradient(name, loss, params[name], grads[name], pick.sampleIndices(params[name].length, 30));
      // The encoder's pad embedding reaches only masked keys: exactly 0.
      expect(same(grads['encoder.wte.weight'], new Float64Array(c.vocabSize * c.dModel), PAD * c.dModel, (PAD + 1) * c.dModel)).toBe(true);
    });
  }

  it('decoder is causal, encoder is not: a later decoder input changes no earlier logits; any source token changes every logit', () => {
    const c = config('encoder-decoder');
    const V = c.vocabSize;
    const params = randomParams(refEncDecParamNames(c), 111);
    const rng = new SeededRandom(211);
    const sources = rng.intArray(B * S, 0, PAD);
    const inputs = rng.intArray(B * T, 0, V);
    const targets = new Int32Array(B * T).fill(-1);
    const base = refEncDecForward(params, c, sources, inputs, targets, B, S, T, PAD).logits;
    const at = 2;
    const later = Int32Array.from(inputs);
    later[at] = (inputs[at] + 1) % V;
    const perturbed = refEncDecForward(params, c, sources, later, targets, B, S, T, PAD).logits;
    for (let t = 0; t < T; t++) expect(differs(base, perturbed, t * V, (t + 1) * V), `decoder position ${t}`).toBe(t >= at);
    const lastSource = Int32Array.from(sources);
    lastSource[S - 1] = (sources[S - 1] + 1) % PAD;
    const fromSource = refEncDecForward(params, c, lastSource, inputs, targets, B, S, T, PAD).logits;
    for (let t = 0; t < T; t++) expect(differs(base, fromSource, t * V, (t + 1) * V), `decoder position ${t} after a source change`).toBe(true);
    expect(differs(base, fromSource, T * V, 2 * T * V)).toBe(false);
  });

  it('key padding mask: the encoder pad embedding and positions past the sources change no decoder logit, and padded keys get 0 in the encoder and cross-attention', () => {
    const c = config('encoder-decoder');
    const V = c.vocabSize;
    const C = c.dModel;
    const params = randomParams(refEncDecParamNames(c), 113);
    const rng = new SeededRandom(213);
    const lengths = [1, 3];
    const sources = padded(rng, lengths, S);
    const inputs = rng.intArray(B * T, 0, V);
    const targets = new Int32Array(B * T).fill(-1);
    const base = refEncDecForward(params, c, sources, inputs, targets, B, S, T, PAD);
    const other: typeof params = { ...params, 'encoder.wte.weight': Float64Array.from(params['encoder.wte.weight']), 'encoder.wpe.weight': Float64Array.from(params['encoder.wpe.weight']) };
    for (let i = PAD * C; i < (PAD + 1) * C; i++) other['encoder.wte.weight'][i] += rng.normal();
    for (let i = 3 * C; i < other['encoder.wpe.weight'].length; i++) other['encoder.wpe.weight'][i] += rng.normal();
    const changed = refEncDecForward(other, c, sources, inputs, targets, B, S, T, PAD);
    expect(same(base.logits, changed.logits, 0, B * T * V)).toBe(true);
    for (const [what, maps, Tq] of [['encoder', base.encoderAtt, S], ['cross', base.crossAtt, T]] as const) {
      for (const att of maps) {
        for (let row = 0; row < B * c.nHead * Tq; row++) {
          const b = Math.floor(row / (c.nHead * Tq));
          for (let s = lengths[b]; s < S; s++) expect(att[row * S + s], `${what} row ${row}, key ${s}`).toBe(0);
        }
      }
    }
    // Without padding (a real token at the same place) the decoder does see the change.
    const full = Int32Array.from(sources);
    full[1] = 0;
    expect(same(base.logits, refEncDecForward(params, c, full, inputs, targets, B, S, T, PAD).logits, 0, T * V)).toBe(false);
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
    const { logits } = refEncDecForward(params, c, source, inputs, new Int32Array(c.contextLength).fill(-1), 1, S, c.contextLength, 2);
    out.forEach((tok, t) => {
      const row = Array.from(logits.subarray(t * c.vocabSize, (t + 1) * c.vocabSize));
      expect(row.indexOf(Math.max(...row)), `step ${t}`).toBe(tok);
    });
  });
});
