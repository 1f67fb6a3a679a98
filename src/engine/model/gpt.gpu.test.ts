// The whole GPU model against the float64 reference GPT: the same parameters (read back from the GPU),
// the same tokens and targets; the loss, the logits and EVERY parameter gradient, compared by name.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config';
import { Rng } from '../data/rng';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, relativeError } from '../gpu/test-utils';
import { writeTensor } from '../gpu/memory';
import { fp32Scheme } from '../linear/fp32';
import { type RefParams, refGptBackward, refGptForward, refParamNames } from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { Gpt } from './gpt';

/** Loss and logits: a few hundred-term dot products per layer, in f32. */
const TOL_FORWARD = 1e-5;
/**
 * Gradients, relative to each tensor's largest |value|: f32 rounding (~6e-8) amplified by the chain of
 * products and row reductions of two blocks; real bugs give errors of order 1.
 */
const TOL_GRAD = 1e-4;

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

interface Case {
  name: string;
  config: ModelConfig;
  B: number;
  seed: number;
  /** Multiply the engine's initial values by a random factor around this scale (and randomise the
   *  LayerNorm gains and all biases), so that attention is far from uniform and the MLP non-linear. */
  perturb?: number;
}

const base: ModelConfig = {
  architecture: 'decoder',
  nLayer: 2,
  dModel: 32,
  nHead: 4,
  dFF: 64,
  contextLength: 8,
  vocabSize: 11,
  activation: 'gelu',
  positionalEncoding: 'learned',
  layerNormEps: 1e-5,
};

const cases: Case[] = [
  { name: 'GELU, learned positions, engine initialisation', config: base, B: 3, seed: 1 },
  { name: 'ReLU, sinusoidal positions, engine initialisation', config: { ...base, activation: 'relu', positionalEncoding: 'sinusoidal' }, B: 3, seed: 2 },
  {
    name: 'GELU, learned positions, T 13, d_model 36, 3 heads, d_ff 70, large random weights',
    config: { ...base, contextLength: 13, dModel: 36, nHead: 3, dFF: 70 },
    B: 3,
    seed: 3,
    perturb: 25,
  },
  {
    name: 'ReLU, sinusoidal positions, T 13, d_model 36, 3 heads, d_ff 70, large random weights',
    config: { ...base, contextLength: 13, dModel: 36, nHead: 3, dFF: 70, activation: 'relu', positionalEncoding: 'sinusoidal', nLayer: 1 },
    B: 2,
    seed: 4,
    perturb: 25,
  },
];

describe('GPT forward + loss + backward vs the float64 reference', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const { config, B } = c;
      const T = config.contextLength;
      const N = B * T;
      const V = config.vocabSize;
      const metrics = h.empty([4], 'metrics', 7);
      const valMetrics = h.empty([2], 'valMetrics', 0);
      const lossScale = h.upload([1], [1], 'lossScale');
      const stepState = h.upload([2], new Uint32Array([1, 0]), 'stepState');
      const gpt = await buildChecked(h.device, () => new Gpt(h.kernels, { config, batchSize: B, scheme: fp32Scheme, metrics, valMetrics, lossScale, stepState }));

      // The layout holds exactly the reference's parameters, by name and shape.
      const names = refParamNames(config);
      expect(gpt.layout.slots.map((s) => s.spec.name).sort()).toEqual(names.map((n) => n.name).sort());
      for (const { name, shape } of names) expect(gpt.layout.slot(name).spec.shape, name).toEqual(shape);

      const initial = gpt.layout.initialValues(new Rng(c.seed));
      if (c.perturb) {
        const rng = new SeededRandom(100 + c.seed);
        for (const { spec, offset, size } of gpt.layout.slots) {
          for (let i = offset; i < offset + size; i++) {
            if (spec.init.kind === 'normal') initial[i] *= c.perturb * (0.5 + rng.uniform());
            else initial[i] = spec.init.value + 0.3 * rng.normal();
          }
        }
      }
      writeTensor(h.device, gpt.params, initial);
      // Every gradient must be written by the backward pass, not accumulated into what was there.
      writeTensor(h.device, gpt.grads, new Float32Array(gpt.layout.totalFloats).fill(NaN));

      const rng = new SeededRandom(200 + c.seed);
      // Tokens drawn from [0, V − 2): the last two ids never occur, so their wte gradient must be 0.
      const tokens = rng.intArray(N, 0, V - 2);
      const targets = rng.intArray(N, 0, V);
      for (let i = 2; i < N; i += 5) targets[i] = -1;
      writeTensor(h.device, gpt.inputs, tokens);
      writeTensor(h.device, gpt.targets, targets);

      await h.run([...gpt.forward, ...gpt.trainLoss, ...gpt.backward]);

      const params: RefParams = {};
      for (const { name } of names) params[name] = await h.read(gpt.param(name));
      // The parameters read back are the ones written.
      for (const { name } of names) {
        const { offset, size } = gpt.layout.slot(name);
        expect(Array.from(params[name]), name).toEqual(Array.from(initial.subarray(offset, offset + size)));
      }
      const forward = refGptForward(params, config, tokens, targets, B, T);
      const grads = refGptBackward(params, config, forward.cache);

      const gpuLoss = (await h.read(metrics))[0];
      expectClose('loss', [gpuLoss], [forward.loss], TOL_FORWARD);
      expectClose('logits', await h.read(gpt.logits), forward.logits, TOL_FORWARD * 10);

      const failures: string[] = [];
      const report: string[] = [];
      for (const { name } of names) {
        const gpu = await h.read(gpt.grad(name));
        const err = relativeError(gpu, grads[name], 0);
        report.push(`${name}: ${err.toExponential(2)}`);
        if (!(err <= TOL_GRAD)) failures.push(`${name}: relative error ${err} > ${TOL_GRAD}`);
        if (name === 'transformer.wte.weight') {
          const C = config.dModel;
          for (const v of [V - 2, V - 1]) {
            if (gpu.subarray(v * C, (v + 1) * C).some((x) => x !== 0)) failures.push(`${name}: row of unused token ${v} is not exactly 0`);
          }
        }
      }
      if (process.env.GPU_TEST_REPORT) console.log(`[error] ${c.name}: loss ${gpuLoss} vs ${forward.loss}\n  ${report.join('\n  ')}`);
      expect(failures).toEqual([]);
    });
  }
});
