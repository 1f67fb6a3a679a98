// The encoder classifier (model/gpt.ts, architecture 'encoder') and the encoder-decoder (model/encdec.ts)
// on the GPU against their float64 references (reference/encdec.ts): loss, logits, attention
// probabilities and EVERY parameter gradient by name; and the masks: the decoder (of a GPT and of the
// encoder-decoder) never sees a later position, the encoder sees all of them.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config';
import { Rng } from '../data/rng';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, relativeError } from '../gpu/test-utils';
import { writeTensor } from '../gpu/memory';
import { fp32Scheme } from '../linear/fp32';
import type { RefParams } from '../reference';
import { refEncDecBackward, refEncDecForward, refEncDecParamNames, refEncoderBackward, refEncoderForward, refEncoderParamNames } from '../reference/encdec';
import { SeededRandom } from '../reference/test-helpers';
import type { Tensor } from '../tensor';
import { buildModel, type Model } from './build';

const TOL_FORWARD = 1e-5;
const TOL_GRAD = 1e-4;

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

const base: ModelConfig = {
  architecture: 'decoder', nLayer: 2, dModel: 32, nHead: 4, dFF: 64, contextLength: 8, vocabSize: 11,
  activation: 'gelu', positionalEncoding: 'learned', layerNormEps: 1e-5,
};

async function build(config: ModelConfig, B: number): Promise<{ model: Model; metrics: Tensor }> {
  const metrics = h.empty([4], 'metrics', 7);
  const valMetrics = h.empty([2], 'valMetrics', 0);
  const lossScale = h.upload([1], [1], 'lossScale');
  const stepState = h.upload([2], new Uint32Array([1, 0]), 'stepState');
  const model = await buildChecked(h.device, () => buildModel(h.kernels, { config, batchSize: B, scheme: fp32Scheme, metrics, valMetrics, lossScale, stepState }));
  return { model, metrics };
}

/** Writes the engine's initial values (optionally scaled up and with random LayerNorm/bias values, so
 *  attention is far from uniform) and NaN gradients; returns the parameters as the reference sees them. */
async function initialise(model: Model, names: { name: string; shape: number[] }[], seed: number, perturb?: number): Promise<RefParams> {
  expect(model.layout.slots.map((s) => s.spec.name).sort()).toEqual(names.map((n) => n.name).sort());
  for (const { name, shape } of names) expect(model.layout.slot(name).spec.shape, name).toEqual(shape);
  const initial = model.layout.initialValues(new Rng(seed));
  if (perturb) {
    const rng = new SeededRandom(100 + seed);
    for (const { spec, offset, size } of model.layout.slots) {
      for (let i = offset; i < offset + size; i++) {
        if (spec.init.kind === 'normal') initial[i] *= perturb * (0.5 + rng.uniform());
        else initial[i] = spec.init.value + 0.3 * rng.normal();
      }
    }
  }
  writeTensor(h.device, model.params, initial);
  writeTensor(h.device, model.grads, new Float32Array(model.layout.totalFloats).fill(NaN));
  const params: RefParams = {};
  for (const { name } of names) params[name] = await h.read(model.param(name));
  return params;
}

async function expectGradients(label: string, model: Model, names: { name: string }[], grads: RefParams): Promise<void> {
  const failures: string[] = [];
  for (const { name } of names) {
    const err = relativeError(await h.read(model.grad(name)), grads[name], 0);
    if (process.env.GPU_TEST_REPORT) console.log(`[error] ${label} ${name}: ${err.toExponential(2)}`);
    if (!(err <= TOL_GRAD)) failures.push(`${name}: relative error ${err} > ${TOL_GRAD}`);
  }
  expect(failures).toEqual([]);
}

const rowDiffers = (a: Float64Array, b: Float64Array, row: number, width: number) => {
  for (let i = row * width; i < (row + 1) * width; i++) if (a[i] !== b[i]) return true;
  return false;
};

describe('encoder classifier vs the float64 reference', () => {
  const cases = [
    { name: 'GELU, learned positions, engine initialisation', config: { ...base, architecture: 'encoder' as const, numClasses: 3 }, B: 3, seed: 1 },
    { name: 'ReLU, sinusoidal, T 13, d_model 36, 3 heads, large random weights', config: { ...base, architecture: 'encoder' as const, numClasses: 2, activation: 'relu' as const, positionalEncoding: 'sinusoidal' as const, contextLength: 13, dModel: 36, nHead: 3, dFF: 70 }, B: 2, seed: 2, perturb: 25 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { config, B } = c;
      const T = config.contextLength;
      const K = config.numClasses;
      const { model, metrics } = await build(config, B);
      const names = refEncoderParamNames(config);
      const params = await initialise(model, names, c.seed, c.perturb);
      const rng = new SeededRandom(200 + c.seed);
      const tokens = rng.intArray(B * T, 0, config.vocabSize);
      // Scored at each sequence's first position only (the CLS token), as the classification datasets do.
      const targets = new Int32Array(B * T).fill(-1);
      for (let b = 0; b < B; b++) targets[b * T] = rng.int(0, K);
      writeTensor(h.device, model.inputs, tokens);
      writeTensor(h.device, model.targets, targets);
      await h.run([...model.forward, ...model.trainLoss, ...model.backward]);

      const ref = refEncoderForward(params, config, tokens, targets, B, T);
      expectClose('loss', [(await h.read(metrics))[0]], [ref.loss], TOL_FORWARD);
      expectClose('logits', await h.read(model.logits), ref.logits, TOL_FORWARD * 10);
      for (const p of model.attentionProbes) expectClose(`${p.name} probabilities`, await h.read(p.probs), ref.att[p.layer], TOL_FORWARD * 10);
      await expectGradients(c.name, model, names, refEncoderBackward(params, config, ref.cache));
    });
  }
});

describe('encoder-decoder vs the float64 reference', () => {
  const cases = [
    { name: 'GELU, learned positions, S 5 < T 8, engine initialisation', config: { ...base, architecture: 'encoder-decoder' as const, sourceLength: 5 }, B: 3, seed: 3 },
    { name: 'ReLU, sinusoidal, S 11 > T 7, d_model 36, 3 heads, 1 layer, large random weights', config: { ...base, architecture: 'encoder-decoder' as const, sourceLength: 11, contextLength: 7, activation: 'relu' as const, positionalEncoding: 'sinusoidal' as const, dModel: 36, nHead: 3, dFF: 70, nLayer: 1 }, B: 2, seed: 4, perturb: 25 },
    { name: 'GELU, learned, 3 layers (∇enc summed over three cross-attentions), large random weights', config: { ...base, architecture: 'encoder-decoder' as const, sourceLength: 6, nLayer: 3 }, B: 2, seed: 5, perturb: 10 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { config, B } = c;
      const T = config.contextLength;
      const S = config.sourceLength;
      const V = config.vocabSize;
      const { model, metrics } = await build(config, B);
      expect(model.sources).not.toBeNull();
      const names = refEncDecParamNames(config);
      const params = await initialise(model, names, c.seed, c.perturb);
      const rng = new SeededRandom(300 + c.seed);
      // Tokens from [0, V − 2): the last two never occur, so their embedding rows must get exactly 0.
      const sources = rng.intArray(B * S, 0, V - 2);
      const inputs = rng.intArray(B * T, 0, V - 2);
      const targets = rng.intArray(B * T, 0, V);
      for (let i = 2; i < B * T; i += 5) targets[i] = -1;
      writeTensor(h.device, model.sources!, sources);
      writeTensor(h.device, model.inputs, inputs);
      writeTensor(h.device, model.targets, targets);
      await h.run([...model.forward, ...model.trainLoss, ...model.backward]);

      const ref = refEncDecForward(params, config, sources, inputs, targets, B, S, T);
      expectClose('loss', [(await h.read(metrics))[0]], [ref.loss], TOL_FORWARD);
      expectClose('logits', await h.read(model.logits), ref.logits, TOL_FORWARD * 10);
      for (const p of model.attentionProbes) {
        const expected = { encoder: ref.encoderAtt, self: ref.selfAtt, cross: ref.crossAtt }[p.kind][p.layer];
        expectClose(`${p.name} probabilities`, await h.read(p.probs), expected, TOL_FORWARD * 10);
      }
      expect(model.attentionProbes.map((p) => p.kind).sort()).toEqual([...Array(config.nLayer).fill('cross'), ...Array(config.nLayer).fill('encoder'), ...Array(config.nLayer).fill('self')]);
      const grads = refEncDecBackward(params, config, ref.cache);
      await expectGradients(c.name, model, names, grads);
      for (const name of ['encoder.wte.weight', 'transformer.wte.weight']) {
        const g = await h.read(model.grad(name));
        for (const v of [V - 2, V - 1]) expect(g.subarray(v * config.dModel, (v + 1) * config.dModel).every((x) => x === 0), `${name} row ${v}`).toBe(true);
      }
    });
  }
});

describe('masks on the GPU', () => {
  /** Logits of the model for these inputs (and sources), read back. */
  async function logitsOf(model: Model, inputs: Int32Array, sources?: Int32Array): Promise<Float64Array> {
    writeTensor(h.device, model.inputs, inputs);
    if (sources) writeTensor(h.device, model.sources!, sources);
    await h.run(model.forward);
    return h.read(model.logits);
  }

  for (const arch of ['decoder', 'encoder-decoder'] as const) {
    it(`${arch}: changing the token at position t changes no output before t (causal mask), and every one from t on`, async () => {
      const config: ModelConfig = { ...base, architecture: arch, ...(arch === 'encoder-decoder' ? { sourceLength: 6 } : {}) };
      const B = 2;
      const T = config.contextLength;
      const V = config.vocabSize;
      const { model } = await build(config, B);
      await initialise(model, model.layout.slots.map((s) => ({ name: s.spec.name, shape: s.spec.shape })), 7, 10);
      const rng = new SeededRandom(77);
      const inputs = rng.intArray(B * T, 0, V);
      const sources = arch === 'encoder-decoder' ? rng.intArray(B * 6, 0, V) : undefined;
      const before = await logitsOf(model, inputs, sources);
      for (const at of [1, 4, T - 1]) {
        const changed = Int32Array.from(inputs);
        changed[at] = (inputs[at] + 3) % V;
        const after = await logitsOf(model, changed, sources);
        for (let t = 0; t < T; t++) expect(rowDiffers(before, after, t, V), `change at ${at}, position ${t}`).toBe(t >= at);
        for (let t = T; t < 2 * T; t++) expect(rowDiffers(before, after, t, V), `other sequence, position ${t - T}`).toBe(false);
      }
      if (sources) {
        // The decoder attends to the whole source: its last token changes every decoder position.
        const changed = Int32Array.from(sources);
        changed[5] = (sources[5] + 3) % V;
        const after = await logitsOf(model, inputs, changed);
        for (let t = 0; t < T; t++) expect(rowDiffers(before, after, t, V), `source change, position ${t}`).toBe(true);
      }
    });
  }

  it('encoder: changing the last token changes the outputs of every position (bidirectional), also the CLS position', async () => {
    const config: ModelConfig = { ...base, architecture: 'encoder', numClasses: 3 };
    const B = 2;
    const T = config.contextLength;
    const { model } = await build(config, B);
    await initialise(model, refEncoderParamNames(config), 8, 10);
    const inputs = new SeededRandom(88).intArray(B * T, 0, config.vocabSize);
    const before = await logitsOf(model, inputs);
    const changed = Int32Array.from(inputs);
    changed[T - 1] = (inputs[T - 1] + 3) % config.vocabSize;
    const after = await logitsOf(model, changed);
    for (let t = 0; t < T; t++) expect(rowDiffers(before, after, t, 3), `position ${t}`).toBe(true);
    for (let t = T; t < 2 * T; t++) expect(rowDiffers(before, after, t, 3), `other sequence, position ${t - T}`).toBe(false);
  });
});
