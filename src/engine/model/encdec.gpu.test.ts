// The encoder classifier (model/gpt.ts, architecture 'encoder') and the encoder-decoder (model/encdec.ts)
// on the GPU against their float64 references (reference/encdec.ts): loss, logits, attention
// probabilities and EVERY parameter gradient by name, on padded batches; and the masks: the decoder (of
// a GPT and of the encoder-decoder) never sees a later position, the encoder sees all of them, and
// neither the encoder nor the cross-attention sees the padding after a sequence's end.
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
/** The pad token of these tests: the last id of the vocabulary. */
const PAD = base.vocabSize - 1;

async function build(config: ModelConfig, B: number): Promise<{ model: Model; metrics: Tensor }> {
  const metrics = h.empty([4], 'metrics', 7);
  const valMetrics = h.empty([2], 'valMetrics', 0);
  const lossScale = h.upload([1], [1], 'lossScale');
  const stepState = h.upload([2], new Uint32Array([1, 0]), 'stepState');
  const model = await buildChecked(h.device, () => buildModel(h.kernels, { config, batchSize: B, scheme: fp32Scheme, metrics, valMetrics, lossScale, stepState, padToken: PAD }));
  return { model, metrics };
}

/** Tokens of [0, high) for sequences of `length`, each padded with PAD after its own length. */
function padded(rng: SeededRandom, lengths: readonly number[], length: number, high: number): Int32Array {
  const out = rng.intArray(lengths.length * length, 0, high);
  lengths.forEach((n, b) => out.fill(PAD, b * length + n, (b + 1) * length));
  return out;
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

/** The (row, key) pairs of probabilities [B, nHead, Tq, Tk] that give weight to a key at or past its
 *  sequence's length (empty when the key padding mask holds). */
function padKeyWeights(probs: Float64Array, lengths: readonly number[], nHead: number, Tq: number, Tk: number): string[] {
  const bad: string[] = [];
  for (let row = 0; row < lengths.length * nHead * Tq; row++) {
    const n = lengths[Math.floor(row / (nHead * Tq))];
    for (let k = n; k < Tk; k++) if (probs[row * Tk + k] !== 0) bad.push(`row ${row} key ${k}: ${probs[row * Tk + k]}`);
  }
  return bad;
}

const rowDiffers = (a: Float64Array, b: Float64Array, row: number, width: number) => {
  for (let i = row * width; i < (row + 1) * width; i++) if (a[i] !== b[i]) return true;
  return false;
};

describe('encoder classifier vs the float64 reference', () => {
  const cases = [
    { name: 'GELU, learned positions, engine initialisation, padded to 3, 8 and 1 tokens', config: { ...base, architecture: 'encoder' as const, numClasses: 3 }, B: 3, seed: 1, lengths: [3, 8, 1] },
    { name: 'ReLU, sinusoidal, T 13, d_model 36, 3 heads, large random weights, padded to 13 and 6 tokens', config: { ...base, architecture: 'encoder' as const, numClasses: 2, activation: 'relu' as const, positionalEncoding: 'sinusoidal' as const, contextLength: 13, dModel: 36, nHead: 3, dFF: 70 }, B: 2, seed: 2, perturb: 25, lengths: [13, 6] },
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
      // Tokens of [0, V − 2), padded with PAD (= V − 1) after each sequence's length: token V − 2 never
      // occurs, and PAD only at padded positions, which no scored output reads.
      const tokens = padded(rng, c.lengths, T, config.vocabSize - 2);
      // Scored at each sequence's first position only (the CLS token), as the classification datasets do.
      const targets = new Int32Array(B * T).fill(-1);
      for (let b = 0; b < B; b++) targets[b * T] = rng.int(0, K);
      writeTensor(h.device, model.inputs, tokens);
      writeTensor(h.device, model.targets, targets);
      await h.run([...model.forward, ...model.trainLoss, ...model.backward]);

      expect(Array.from(await h.readU32(model.keyLengths!)), 'key lengths computed on the GPU').toEqual(c.lengths);
      const ref = refEncoderForward(params, config, tokens, targets, B, T, PAD);
      expectClose('loss', [(await h.read(metrics))[0]], [ref.loss], TOL_FORWARD);
      expectClose('logits', await h.read(model.logits), ref.logits, TOL_FORWARD * 10);
      for (const p of model.attentionProbes) {
        const probs = await h.read(p.map().probs);
        expectClose(`${p.name} probabilities`, probs, ref.att[p.layer], TOL_FORWARD * 10);
        expect(probs.every(Number.isFinite), `${p.name}: finite, pad queries included`).toBe(true);
        expect(padKeyWeights(probs, c.lengths, config.nHead, T, T), `${p.name}: weight on padded keys`).toEqual([]);
      }
      await expectGradients(c.name, model, names, refEncoderBackward(params, config, ref.cache));
      // Neither the unused token nor the pad token (at masked keys and unscored queries only) gets any gradient.
      const g = await h.read(model.grad('transformer.wte.weight'));
      for (const v of [config.vocabSize - 2, PAD]) expect(g.subarray(v * config.dModel, (v + 1) * config.dModel).every((x) => x === 0), `wte row ${v}`).toBe(true);
    });
  }
});

describe('encoder-decoder vs the float64 reference', () => {
  const cases = [
    { name: 'GELU, learned positions, S 5 < T 8, engine initialisation, sources of 2, 5 and 1 tokens', config: { ...base, architecture: 'encoder-decoder' as const, sourceLength: 5 }, B: 3, seed: 3, lengths: [2, 5, 1] },
    { name: 'ReLU, sinusoidal, S 11 > T 7, d_model 36, 3 heads, 1 layer, large random weights, sources of 11 and 4 tokens', config: { ...base, architecture: 'encoder-decoder' as const, sourceLength: 11, contextLength: 7, activation: 'relu' as const, positionalEncoding: 'sinusoidal' as const, dModel: 36, nHead: 3, dFF: 70, nLayer: 1 }, B: 2, seed: 4, perturb: 25, lengths: [11, 4] },
    { name: 'GELU, learned, 3 layers (∇enc summed over three cross-attentions), large random weights, sources of 3 and 6 tokens', config: { ...base, architecture: 'encoder-decoder' as const, sourceLength: 6, nLayer: 3 }, B: 2, seed: 5, perturb: 10, lengths: [3, 6] },
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
      // Tokens from [0, V − 2): the last two never occur, so their embedding rows must get exactly 0;
      // the sources are padded with PAD (= V − 1), whose encoder embedding reaches only masked keys
      // and so gets exactly 0 too.
      const sources = padded(rng, c.lengths, S, V - 2);
      const inputs = rng.intArray(B * T, 0, V - 2);
      const targets = rng.intArray(B * T, 0, V);
      for (let i = 2; i < B * T; i += 5) targets[i] = -1;
      writeTensor(h.device, model.sources!, sources);
      writeTensor(h.device, model.inputs, inputs);
      writeTensor(h.device, model.targets, targets);
      await h.run([...model.forward, ...model.trainLoss, ...model.backward]);

      expect(Array.from(await h.readU32(model.keyLengths!)), 'source lengths computed on the GPU').toEqual(c.lengths);
      const ref = refEncDecForward(params, config, sources, inputs, targets, B, S, T, PAD);
      expectClose('loss', [(await h.read(metrics))[0]], [ref.loss], TOL_FORWARD);
      expectClose('logits', await h.read(model.logits), ref.logits, TOL_FORWARD * 10);
      for (const p of model.attentionProbes) {
        const expected = { encoder: ref.encoderAtt, self: ref.selfAtt, cross: ref.crossAtt }[p.kind][p.layer];
        const probs = await h.read(p.map().probs);
        expectClose(`${p.name} probabilities`, probs, expected, TOL_FORWARD * 10);
        expect(probs.every(Number.isFinite), `${p.name}: finite`).toBe(true);
        if (p.kind !== 'self') expect(padKeyWeights(probs, c.lengths, config.nHead, p.Tq, p.Tk), `${p.name}: weight on padded source keys`).toEqual([]);
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
      // Sources without padding (PAD never occurs): every source position is a key.
      const sources = arch === 'encoder-decoder' ? rng.intArray(B * 6, 0, PAD) : undefined;
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
        changed[5] = (sources[5] + 3) % PAD;
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
    const inputs = new SeededRandom(88).intArray(B * T, 0, PAD);
    const before = await logitsOf(model, inputs);
    const changed = Int32Array.from(inputs);
    changed[T - 1] = (inputs[T - 1] + 3) % PAD;
    const after = await logitsOf(model, changed);
    for (let t = 0; t < T; t++) expect(rowDiffers(before, after, t, 3), `position ${t}`).toBe(true);
    for (let t = T; t < 2 * T; t++) expect(rowDiffers(before, after, t, 3), `other sequence, position ${t - T}`).toBe(false);
  });

  /** Adds noise to the rows `rows` of the [rows, d_model] parameter `name` (on the GPU). */
  async function perturbRows(model: Model, name: string, rows: number[], seed: number): Promise<void> {
    const t = model.param(name);
    const values = Float32Array.from(await h.read(t));
    const C = base.dModel;
    const rng = new SeededRandom(seed);
    for (const r of rows) for (let i = r * C; i < (r + 1) * C; i++) values[i] += rng.normal();
    writeTensor(h.device, t, values);
  }

  it('encoder: what the padding holds (the pad embedding, positions past every end) changes no output at a real position; a real token over the padding does', async () => {
    const config: ModelConfig = { ...base, architecture: 'encoder', numClasses: 3 };
    const T = config.contextLength;
    const lengths = [3, 5];
    const { model } = await build(config, lengths.length);
    await initialise(model, refEncoderParamNames(config), 9, 10);
    const rng = new SeededRandom(99);
    const inputs = padded(rng, lengths, T, PAD);
    const before = await logitsOf(model, inputs);
    await perturbRows(model, 'transformer.wte.weight', [PAD], 1);
    await perturbRows(model, 'transformer.wpe.weight', [5, 6, 7], 2);
    const after = await logitsOf(model, inputs);
    // Real positions: bit for bit the same. Pad positions are computed (they read the real keys and
    // their own changed embedding) and differ, which shows the change did reach the model.
    lengths.forEach((n, b) => {
      for (let t = 0; t < T; t++) expect(rowDiffers(before, after, b * T + t, 3), `sequence ${b}, position ${t}`).toBe(t >= n);
    });
    expect(after.every(Number.isFinite)).toBe(true);
    // A real token where sequence 0 was padded lengthens it: its real positions see the new key.
    const longer = Int32Array.from(inputs);
    longer[3] = 0;
    const extended = await logitsOf(model, longer);
    for (let t = 0; t < 3; t++) expect(rowDiffers(after, extended, t, 3), `position ${t} after lengthening`).toBe(true);
  });

  it('encoder-decoder: the padding of a source changes no decoder output; an all-pad source stays finite (its queries see key 0 only)', async () => {
    const S = 6;
    const config: ModelConfig = { ...base, architecture: 'encoder-decoder', sourceLength: S };
    const T = config.contextLength;
    const V = config.vocabSize;
    // The third source is nothing but padding: its length is 1, so each query keeps key 0.
    const lengths = [2, 4, 1];
    const { model } = await build(config, lengths.length);
    await initialise(model, model.layout.slots.map((s) => ({ name: s.spec.name, shape: s.spec.shape })), 10, 10);
    const rng = new SeededRandom(110);
    const sources = padded(rng, lengths, S, PAD);
    sources.fill(PAD, 2 * S, 3 * S);
    const inputs = rng.intArray(lengths.length * T, 0, V);
    const before = await logitsOf(model, inputs, sources);
    expect(Array.from(await h.readU32(model.keyLengths!))).toEqual(lengths);
    await perturbRows(model, 'encoder.wte.weight', [PAD], 3);
    await perturbRows(model, 'encoder.wpe.weight', [4, 5], 4);
    const after = await logitsOf(model, inputs, sources);
    for (let t = 0; t < 2 * T; t++) expect(rowDiffers(before, after, t, V), `decoder row ${t}`).toBe(false);
    // The all-pad source's only key is a pad token, so its changed embedding does reach that decoder.
    for (let t = 2 * T; t < 3 * T; t++) expect(rowDiffers(before, after, t, V), `decoder row ${t} (all-pad source)`).toBe(true);
    expect(after.every(Number.isFinite)).toBe(true);
    for (const p of model.attentionProbes.filter((q) => q.kind !== 'self')) {
      const probs = await h.read(p.map().probs);
      expect(probs.every(Number.isFinite), p.name).toBe(true);
      expect(padKeyWeights(probs, lengths, config.nHead, p.Tq, p.Tk), p.name).toEqual([]);
    }
  });

  it('an encoder build without the pad token is refused', async () => {
    const config: ModelConfig = { ...base, architecture: 'encoder', numClasses: 3 };
    const metrics = h.empty([4], 'metrics', 0);
    const o = { config, batchSize: 1, scheme: fp32Scheme, metrics, valMetrics: metrics, lossScale: metrics, stepState: metrics };
    expect(() => buildModel(h.kernels, o)).toThrow(/pad token/);
    expect(() => buildModel(h.kernels, { ...o, config: { ...base, architecture: 'encoder-decoder', sourceLength: 4 }, padToken: base.vocabSize })).toThrow(/pad token/);
  });
});
