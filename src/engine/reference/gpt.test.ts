import { describe, expect, it } from 'vitest';
import type { Activation, ModelConfig, PositionalEncoding } from '../config';
import { refGptBackward, refGptForward, refParamNames } from './index';
import type { RefParams } from './index';
import { SeededRandom, expectGradientMatches } from './test-helpers';

const B = 2;
const T = 5;

function tinyConfig(activation: Activation, positionalEncoding: PositionalEncoding): ModelConfig {
  return {
    architecture: 'decoder',
    nLayer: 2,
    dModel: 8,
    nHead: 2,
    dFF: 16,
    // One more than T, so that the unused last row of wpe is exercised too.
    contextLength: T + 1,
    vocabSize: 7,
    activation,
    positionalEncoding,
    layerNormEps: 1e-5,
  };
}

/**
 * Random parameters large enough that every gradient is well above the finite-difference floor:
 * LayerNorm gains around 1 and biases around 0, like a trained model, but not exactly 1 / 0 so that
 * a swapped gamma/beta gradient would show.
 */
function randomParams(config: ModelConfig, seed: number): RefParams {
  const rng = new SeededRandom(seed);
  const params: RefParams = {};
  for (const { name, shape } of refParamNames(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const isLayerNorm = /ln_\d\.|ln_f\./.test(name);
    const values = rng.normalArray(size, isLayerNorm ? 0.2 : 0.5);
    if (isLayerNorm && name.endsWith('.weight')) for (let i = 0; i < size; i++) values[i] += 1;
    params[name] = values;
  }
  return params;
}

function sampleBatch(config: ModelConfig, seed: number): { tokens: Int32Array; targets: Int32Array } {
  const rng = new SeededRandom(seed);
  const tokens = rng.intArray(B * T, 0, config.vocabSize);
  const targets = rng.intArray(B * T, 0, config.vocabSize);
  targets[3] = -1; // one ignored position, as padding would be
  return { tokens, targets };
}

describe('refParamNames', () => {
  it('lists nanoGPT names with PyTorch shapes in state_dict order', () => {
    const learned = refParamNames(tinyConfig('gelu', 'learned'));
    expect(learned.slice(0, 14)).toEqual([
      { name: 'transformer.wte.weight', shape: [7, 8] },
      { name: 'transformer.wpe.weight', shape: [6, 8] },
      { name: 'transformer.h.0.ln_1.weight', shape: [8] },
      { name: 'transformer.h.0.ln_1.bias', shape: [8] },
      { name: 'transformer.h.0.attn.c_attn.weight', shape: [24, 8] },
      { name: 'transformer.h.0.attn.c_attn.bias', shape: [24] },
      { name: 'transformer.h.0.attn.c_proj.weight', shape: [8, 8] },
      { name: 'transformer.h.0.attn.c_proj.bias', shape: [8] },
      { name: 'transformer.h.0.ln_2.weight', shape: [8] },
      { name: 'transformer.h.0.ln_2.bias', shape: [8] },
      { name: 'transformer.h.0.mlp.c_fc.weight', shape: [16, 8] },
      { name: 'transformer.h.0.mlp.c_fc.bias', shape: [16] },
      { name: 'transformer.h.0.mlp.c_proj.weight', shape: [8, 16] },
      { name: 'transformer.h.0.mlp.c_proj.bias', shape: [8] },
    ]);
    expect(learned[14].name).toBe('transformer.h.1.ln_1.weight');
    expect(learned.slice(-3)).toEqual([
      { name: 'transformer.ln_f.weight', shape: [8] },
      { name: 'transformer.ln_f.bias', shape: [8] },
      { name: 'lm_head.weight', shape: [7, 8] },
    ]);
    expect(learned.length).toBe(2 + 12 * 2 + 3);
    const sinusoidal = refParamNames(tinyConfig('gelu', 'sinusoidal'));
    expect(sinusoidal.map((p) => p.name)).toEqual(learned.map((p) => p.name).filter((n) => n !== 'transformer.wpe.weight'));
  });
});

describe('refGptBackward', () => {
  for (const activation of ['gelu', 'relu'] as const) {
    for (const positionalEncoding of ['learned', 'sinusoidal'] as const) {
      it(`matches finite differences on ~20 coordinates of every tensor (${activation}, ${positionalEncoding})`, () => {
        const config = tinyConfig(activation, positionalEncoding);
        const params = randomParams(config, 100);
        const { tokens, targets } = sampleBatch(config, 200);
        const { cache } = refGptForward(params, config, tokens, targets, B, T);
        const grads = refGptBackward(params, config, cache);

        const names = refParamNames(config);
        expect(Object.keys(grads).sort()).toEqual(names.map((p) => p.name).sort());
        const rng = new SeededRandom(300);
        const loss = () => refGptForward(params, config, tokens, targets, B, T).loss;
        for (const { name } of names) {
          expect(grads[name].length, name).toBe(params[name].length);
          const indices = rng.sampleIndices(params[name].length, 20);
          expectGradientMatches(name, loss, params[name], grads[name], indices);
        }
        if (positionalEncoding === 'learned') {
          // Position T (the last row of wpe) is never used with this T: its gradient must be exactly 0.
          const unusedRow = grads['transformer.wpe.weight'].subarray(T * config.dModel);
          expect(unusedRow.length).toBe(config.dModel);
          expect(unusedRow.every((g) => g === 0)).toBe(true);
        }
      });
    }
  }
});

describe('refGptForward', () => {
  const config = tinyConfig('gelu', 'learned');
  const V = config.vocabSize;

  it('is causal: changing a token changes no logits before it, nor any of another sequence', () => {
    const params = randomParams(config, 101);
    const { tokens, targets } = sampleBatch(config, 201);
    const changedAt = 2;
    const changed = Int32Array.from(tokens);
    changed[changedAt] = (tokens[changedAt] + 1) % V;
    const original = refGptForward(params, config, tokens, targets, B, T).logits;
    const perturbed = refGptForward(params, config, changed, targets, B, T).logits;
    for (let flat = 0; flat < B * T; flat++) {
      const rowDiffers = Array.from({ length: V }, (_, v) => original[flat * V + v] !== perturbed[flat * V + v]).some(Boolean);
      // Sequence 0 is flat positions 0..T−1; the change is at position 2 of it.
      const affected = flat >= changedAt && flat < T;
      expect(rowDiffers, `flat position ${flat}`).toBe(affected);
    }
  });

  it('predicts uniformly, loss ln V, when lm_head is zero', () => {
    const params = randomParams(config, 102);
    params['lm_head.weight'].fill(0);
    const { tokens, targets } = sampleBatch(config, 202);
    const { loss, logits } = refGptForward(params, config, tokens, targets, B, T);
    expect(logits.length).toBe(B * T * V);
    expect(loss).toBeCloseTo(Math.log(V), 14);
  });

  it('accepts T shorter than contextLength and rejects T longer than it', () => {
    const params = randomParams(config, 103);
    const shortT = 2;
    const tokens = new Int32Array(B * shortT).fill(1);
    expect(Number.isFinite(refGptForward(params, config, tokens, tokens, B, shortT).loss)).toBe(true);
    const longT = config.contextLength + 1;
    const longTokens = new Int32Array(B * longT);
    expect(() => refGptForward(params, config, longTokens, longTokens, B, longT)).toThrow(/contextLength/);
  });

  it('rejects a parameter of the wrong size', () => {
    const params = randomParams(config, 104);
    params['transformer.h.1.mlp.c_fc.bias'] = new Float64Array(3);
    const { tokens, targets } = sampleBatch(config, 204);
    expect(() => refGptForward(params, config, tokens, targets, B, T)).toThrow(/c_fc\.bias/);
  });
});
