// The encoder classifier and the encoder-decoder through the Trainer: every precision scheme trains
// both; greedy decoding and classification match the float64 reference on the trained parameters;
// attention maps are the reference's probabilities; checkpoints carry the architecture.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN, type ModelConfig, type Precision, type RunConfig, type TrainConfig } from '../config';
import { majorityDataset } from '../data/classify';
import { reverseDataset } from '../data/synthetic';
import { Rng } from '../data/rng';
import { reverseTranslation, TRANSLATE_PAD } from '../data/translate';
import type { GpuContext } from '../gpu/device';
import { testGpu } from '../gpu/test-device';
import { expectClose } from '../gpu/test-utils';
import { estimateRunMemory } from '../limits';
import type { RefParams } from '../reference';
import { refEncDecForward, refEncoderForward, refGreedyDecode } from '../reference/encdec';
import { refGptForward } from '../reference/gpt';
import { checkCheckpointConsistent, checkpointFromRun, runFromCheckpoint } from './run-checkpoint';
import { Trainer } from './trainer';

const classify = majorityDataset();
const translate = reverseTranslation();

const shape = { nLayer: 1, dModel: 32, nHead: 2, dFF: 64, activation: 'gelu' as const, positionalEncoding: 'learned' as const, layerNormEps: 1e-5 };
const encoderModel: ModelConfig = { ...shape, architecture: 'encoder', contextLength: classify.minContextLength, vocabSize: classify.tokenizer.vocabSize, numClasses: classify.classes.length };
const encDecModel: ModelConfig = { ...shape, architecture: 'encoder-decoder', contextLength: translate.minContextLength, sourceLength: translate.minSourceLength, vocabSize: translate.tokenizer.vocabSize };
const train: TrainConfig = { ...DEFAULT_TRAIN, steps: 6, batchSize: 8, lr: 3e-3, warmupSteps: 1, logEvery: 3, valBatches: 2, seed: 3 };

let gpu: GpuContext;
const trainers: Trainer[] = [];
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => {
  for (const t of trainers) t.destroy();
});

async function trainer(model: ModelConfig, t: Partial<TrainConfig> = {}): Promise<Trainer> {
  const dataset = model.architecture === 'encoder' ? classify : translate;
  const config: RunConfig = { model, train: { ...train, ...t }, dataset: dataset.name };
  const tr = await Trainer.create(gpu, config, dataset);
  trainers.push(tr);
  return tr;
}

async function paramsOf(t: Trainer): Promise<RefParams> {
  const out: RefParams = {};
  for (const p of await t.exportParameters()) out[p.name] = Float64Array.from(p.data);
  return out;
}

describe('every precision trains every architecture', () => {
  for (const precision of ['fp32', 'fp16', 'int8', 'int4'] as Precision[]) {
    for (const model of [encoderModel, encDecModel]) {
      it(`${model.architecture}, ${precision}: finite losses, parameters move, validation runs`, async () => {
        const t = await trainer(model, { precision, steps: 4, measureEvery: precision === 'int4' ? 2 : 0 });
        const losses: number[] = [];
        let snapshots = 0;
        t.onMetrics((m) => losses.push(...m.map((x) => x.loss)));
        t.onMeasurements(() => snapshots++);
        const before = await t.exportParameters();
        for (let s = 0; s < 4; s++) await t.step();
        await t.flush();
        expect(losses).toHaveLength(4);
        expect(losses.every(Number.isFinite)).toBe(true);
        const after = await t.exportParameters();
        const moved = after.filter((p, i) => p.data.some((v, j) => v !== before[i].data[j])).map((p) => p.name);
        // Every linear layer of both stacks learns (cross_attn.c_kv included), whatever the scheme.
        for (const name of after.map((p) => p.name).filter((n) => /c_(attn|proj|fc|q|kv)\.weight$/.test(n))) expect(moved, name).toContain(name);
        expect(Number.isFinite(await t.evaluate())).toBe(true);
        if (precision === 'int4') expect(snapshots).toBeGreaterThan(0);
      });
    }
  }
});

describe('evaluation against the float64 reference', () => {
  it('encoder: classify() predicts the argmax of the reference class logits at the CLS position', async () => {
    const t = await trainer(encoderModel);
    for (let s = 0; s < train.steps; s++) await t.step();
    const report = await t.classify(1);
    const B = train.batchSize;
    const T = encoderModel.contextLength;
    const K = encoderModel.numClasses!;
    expect(report.total).toBe(B);
    const examples = classify.validationExamples(1, B, T);
    const tokens = new Int32Array(B * T);
    examples.forEach((e, b) => tokens.set(classify.encode(e.text, T), b * T));
    const { logits } = refEncoderForward(await paramsOf(t), encoderModel, tokens, new Int32Array(B * T).fill(-1), B, T, classify.padToken);
    examples.forEach((e, b) => {
      const row = Array.from(logits.subarray(b * T * K, b * T * K + K));
      expect(report.results[b].predicted, `example ${b}`).toBe(row.indexOf(Math.max(...row)));
      expect(report.results[b].label).toBe(e.label);
    });
    const counts = [0, 0, 0];
    for (const e of examples) counts[e.label]++;
    expect(report.baseline.accuracy).toBe(Math.max(...counts) / B);
  });

  it('encoder-decoder: greedy translations match a float64 greedy decode of the same parameters', async () => {
    const t = await trainer(encDecModel, { steps: 8 });
    for (let s = 0; s < 8; s++) await t.step();
    const rng = new Rng(5);
    const sources = Array.from({ length: 12 }, () => translate.problem(rng).source);
    const outputs = await t.translate(sources);
    const params = await paramsOf(t);
    const pad = translate.tokenizer.idOf(TRANSLATE_PAD);
    for (const [i, s] of sources.entries()) {
      const ids = refGreedyDecode(params, encDecModel, translate.encodeSource(s, encDecModel.sourceLength!), translate.startToken, translate.endToken, pad);
      expect(outputs[i], `source ${JSON.stringify(s)}`).toBe(translate.tokenizer.decode(ids));
    }
    const report = await t.translationAccuracy(10, new Rng(6));
    expect(report.total).toBe(10);
    expect(report.results.every((r) => r.correct === (r.output === r.target))).toBe(true);
  });
});

describe('attention maps', () => {
  it('encoder-decoder: encoder, masked self- and cross-attention probabilities of one example, as the reference', async () => {
    const t = await trainer(encDecModel);
    for (let s = 0; s < 3; s++) await t.step();
    const maps = await t.attentionMaps({ source: 'hello', target: 'olleh' });
    const { nLayer, nHead, contextLength: T } = encDecModel;
    const S = encDecModel.sourceLength!;
    expect(maps.map((m) => m.kind).sort()).toEqual(['cross', 'encoder', 'self']);
    const sources = translate.encodeSource('hello', S);
    const inputs = new Int32Array(T).fill(translate.startToken);
    inputs.set(translate.tokenizer.encode('olleh'), 1);
    const ref = refEncDecForward(await paramsOf(t), encDecModel, sources, inputs, new Int32Array(T).fill(-1), 1, S, T, translate.padToken);
    for (const m of maps) {
      expect(m.heads).toHaveLength(nHead);
      const expected = { encoder: ref.encoderAtt, self: ref.selfAtt, cross: ref.crossAtt }[m.kind][m.layer];
      const all = new Float64Array(nHead * m.Tq * m.Tk);
      m.heads.forEach((h, i) => all.set(h, i * m.Tq * m.Tk));
      expectClose(`${m.name}`, all, expected, 1e-4);
      if (m.kind === 'self') for (const h of m.heads) for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) expect(h[q * T + k]).toBe(0);
      // The source "hello" fills 5 of S positions: the padding keys get probability exactly 0, from
      // every query of the encoder (pad queries too) and of the decoder.
      if (m.kind !== 'self') for (const h of m.heads) for (let q = 0; q < m.Tq; q++) for (let k = 5; k < S; k++) expect(h[q * S + k], `${m.name} query ${q} key ${k}`).toBe(0);
      for (const h of m.heads) expect(h.every(Number.isFinite)).toBe(true);
    }
    const cross = maps.find((m) => m.kind === 'cross')!;
    expect(cross.keyTokens.join('')).toBe('hello');
    expect(cross.queryTokens.join('')).toBe('\nolleh');
    expect([cross.Tq, cross.Tk]).toEqual([T, S]);
    expect(nLayer).toBe(1);
    // Without a target the model's own greedy translation is shown.
    const own = await t.attentionMaps({ source: 'abc' });
    const ownSelf = own.find((m) => m.kind === 'self')!;
    expect(ownSelf.queryTokens[0]).toBe('\n');
    expect(own.find((m) => m.kind === 'encoder')!.queryTokens.join('')).toBe('abc');
  });

  it('encoder: bidirectional maps of a text, as the reference, with probability exactly 0 on the padding keys', async () => {
    const t = await trainer(encoderModel);
    for (let s = 0; s < 3; s++) await t.step();
    const maps = await t.attentionMaps({ text: 'abca' });
    const { nHead, contextLength: T } = encoderModel;
    expect(maps).toHaveLength(encoderModel.nLayer);
    const row = classify.encode('abca', T);
    const ref = refEncoderForward(await paramsOf(t), encoderModel, row, new Int32Array(T).fill(-1), 1, T, classify.padToken);
    for (const m of maps) {
      expect(m.queryTokens.join('')).toBe('^abca');
      const all = new Float64Array(nHead * T * T);
      m.heads.forEach((h, i) => all.set(h, i * T * T));
      expectClose(m.name, all, ref.att[m.layer], 1e-4);
      // CLS + 4 characters are real; the 8 pad keys after them get nothing, from every query.
      for (const h of m.heads) {
        for (let q = 0; q < T; q++) {
          for (let k = 5; k < T; k++) expect(h[q * T + k], `query ${q} key ${k}`).toBe(0);
          expect(h.slice(q * T, q * T + 5).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        }
      }
    }
  });

  it('decoder: causal self-attention maps of a prompt, as the reference', async () => {
    const dataset = reverseDataset();
    const model: ModelConfig = { ...shape, architecture: 'decoder', contextLength: 8, vocabSize: dataset.tokenizer.vocabSize };
    const t = await Trainer.create(gpu, { model, train, dataset: 'reverse' }, dataset);
    trainers.push(t);
    await t.step();
    const maps = await t.attentionMaps({ text: 'abc>' });
    expect(maps).toHaveLength(1);
    expect(maps[0].queryTokens.join('')).toBe('\nabc>');
    const row = new Int32Array(8).fill(dataset.sampleStart());
    row.set(dataset.tokenizer.encode('abc>'), 1);
    const ref = refGptForward(await paramsOf(t), model, row, new Int32Array(8).fill(-1), 1, 8);
    const all = new Float64Array(2 * 64);
    maps[0].heads.forEach((h, i) => all.set(h, i * 64));
    expectClose('decoder attention', all, ref.cache.blocks[0].att, 1e-4);
  });
});

describe('the memory estimate (limits.ts) of the new architectures', () => {
  for (const model of [encoderModel, encDecModel]) {
    for (const [precision, attentionKernel] of [['fp32', 'fused'], ['fp32', 'separate'], ['int4', 'fused'], ['int4', 'separate']] as const) {
      it(`${model.architecture}, ${precision}, ${attentionKernel} attention: within 15% of GpuMemory.bytes, parameter layout exact`, async () => {
        const t = await trainer(model, { precision, batchSize: 16, attentionKernel });
        const e = estimateRunMemory(t.config, gpu.device.limits);
        const ratio = e.totalBytes / t.memory.bytes;
        if (process.env.GPU_TEST_REPORT) console.log(`[memory] ${model.architecture} ${precision} ${attentionKernel}: ratio ${ratio.toFixed(3)}`);
        expect(ratio).toBeGreaterThan(0.85);
        expect(ratio).toBeLessThan(1.15);
        expect(e.parameterFloats).toBe(t.model.layout.totalFloats);
      });
    }
  }
});

describe('checkpoints carry the architecture', () => {
  for (const model of [encoderModel, encDecModel]) {
    it(`${model.architecture}: save, read back, load into a new trainer with the same validation loss`, async () => {
      const t = await trainer(model);
      for (let s = 0; s < 3; s++) await t.step();
      const val = await t.evaluate();
      const dataset = model.architecture === 'encoder' ? classify : translate;
      const bytes = checkpointFromRun(t.config, dataset, await t.exportParameters(), t.stepsDone);
      const loaded = checkCheckpointConsistent(runFromCheckpoint(bytes, 'test.safetensors'), 'test.safetensors');
      expect(loaded.model).toEqual(model);
      const u = await trainer(loaded.model);
      u.importParameters(loaded.tensors);
      expect(await u.evaluate()).toBeCloseTo(val, 5);
    });
  }
});
