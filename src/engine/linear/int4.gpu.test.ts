// One INT4 (HQ + LSS) linear layer built by the scheme, end to end against the float64 reference
// quantizers composed as the paper's equations say: HQ-MM forward (§3.3) and LSS-MM backward (§4, eq. 4),
// with the exact random draws the kernels made (src/engine/reference/random.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import type { LssVariant } from '../config';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, roundF32 } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { quantizedScheme, STREAMS_PER_LAYER } from './quantized';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

const SEED = 12345;
const STEP = 7;

// integerBackward: the backward products on integer codes (ops/intgrad.ts, the default) or in f32 on the
// dequantized values; both must equal the reference.
const CASES: { variant: LssVariant; search: boolean; integerBackward: boolean }[] = [
  { variant: 'bitsplit', search: false, integerBackward: true },
  { variant: 'lss', search: false, integerBackward: true },
  { variant: 'bitsplit', search: true, integerBackward: true },
  { variant: 'lss', search: true, integerBackward: true },
  { variant: 'bitsplit', search: false, integerBackward: false },
  { variant: 'lss', search: false, integerBackward: false },
];
for (const { variant, search, integerBackward } of CASES) {
  describe(`int4 linear layer, ${variant}${search ? ', Hadamard block searched on the first batch' : ''}${integerBackward ? '' : ', f32 backward products'}`, () => {
    it('forward equals s_X s_W · int(XH)·int(WH)ᵀ + b with first-batch step sizes; backward equals the reference LSS-MM', async () => {
      // N rows (tokens) with a few large gradient rows, as in the paper's Fig. 2.
      const [N, D, C, index] = [37, 48, 20, 3];
      const rng = new SeededRandom(variant === 'lss' ? 1 : 2);
      const x = roundF32(rng.normalArray(N * D, 1));
      for (let n = 0; n < N; n++) x[n * D + 5] *= 20; // an outlier channel: what HQ is for
      const w = roundF32(rng.normalArray(C * D, 0.1));
      const b = roundF32(rng.normalArray(C, 0.1));
      const dy = roundF32(rng.normalArray(N * C, 0.01).map((v, i) => (Math.floor(i / C) % 9 === 0 ? v * 40 : v)));

      const scheme = quantizedScheme('int4', { forward: 'hq', backward: variant, bits: 4, hadamardBlock: 32, hadamardSearch: search, integerBackward });
      const t = {
        x: h.upload([N, D], x, 'x'),
        w: h.upload([C, D], w, 'w'),
        b: h.upload([C], b, 'b'),
        y: h.empty([N, C], 'y'),
        dy: h.upload([N, C], dy, 'dy'),
        dx: h.empty([N, D], 'dx'),
        dw: h.empty([C, D], 'dw'),
        db: h.empty([C], 'db'),
        stepState: h.upload([2], new Uint32Array([SEED, STEP]), 'step_state'),
      };
      const steps = { input_step: { value: h.upload([1], [1], 'sx'), grad: h.empty([1], 'gsx') }, weight_step: { value: h.upload([1], [1], 'sw'), grad: h.empty([1], 'gsw') } };
      const extra = scheme.extraParameters({ name: 'layer', inFeatures: D, outFeatures: C });
      expect(extra.map((e) => e.name)).toEqual(['input_step', 'weight_step', ...(search ? ['hadamard_block'] : [])]);
      // The searched block starts at 1 here: the search must overwrite it.
      const blockParam = { value: h.upload([1], [1], 'block'), grad: h.empty([1], 'gblock') };
      const layer = await buildChecked(h.device, () =>
        scheme.build(h.kernels, { name: 'layer', rows: N, inFeatures: D, outFeatures: C, ...t, index, stepState: t.stepState }, search ? { ...steps, hadamard_block: blockParam } : steps),
      );
      await h.run([...layer.firstForward!, ...layer.backward]);
      let block = 16; // the fixed choice: the largest power of two ≤ 32 dividing 48
      if (search) {
        // The official search on the reference (float64) with the GPU's choice; the test data must
        // separate the winner from the runner-up, or the comparison would rest on rounding.
        const reference = ref.searchHadamardBlockSize(x, w, N, C, D);
        const sorted = [...reference.errors.values()].sort((a, b) => a - b);
        expect(sorted[1] / sorted[0], 'margin of the search').toBeGreaterThan(1.001);
        block = (await h.read(blockParam.value))[0];
        expect(block).toBe(reference.block);
      }

      // --- forward
      const xh = ref.blockHadamard(x, N, D, block);
      const wh = ref.blockHadamard(w, C, D, block);
      const sX = ref.lsqInitStep(xh);
      const sW = ref.lsqInitStep(wh);
      expectClose('s_X', await h.read(steps.input_step.value), [sX], 1e-5, 0, 0);
      expectClose('s_W', await h.read(steps.weight_step.value), [sW], 1e-5, 0, 0);
      const qx = ref.lsqQuantize(xh, sX);
      const qw = ref.lsqQuantize(wh, sW);
      const xq = Float64Array.from(qx.codes, (c) => c * sX);
      const wq = Float64Array.from(qw.codes, (c) => c * sW);
      const y = ref.linearForward(xq, wq, b, N, D, C);
      expectClose('y', await h.read(t.y), y, 1e-4);

      // --- backward: the same draws as the kernels (bit split: stream+0, masks: stream+1, stream+2)
      const stream = index * STREAMS_PER_LAYER;
      const split = ref.bitSplit(dy, ref.uniformDraws(SEED, stream, STEP, N * C));
      const gw = ref.lssWeightGrad(split, xq, N, C, D, variant, ref.uniformDraws(SEED, stream + 1, STEP, 2 * N));
      const gx = ref.lssActGrad(split, wq, N, C, D, variant, ref.uniformDraws(SEED, stream + 2, STEP, 2 * N));
      if (variant === 'lss') expect(gw.keep.some((k) => k === 0)).toBe(true); // sampling dropped rows
      const lw = ref.lsqBackward(gw.gradW, qw.v, sW, C * D);
      const lx = ref.lsqBackward(gx.gradX, qx.v, sX, N * D);
      expectClose('∇W', await h.read(t.dw), ref.blockHadamard(lw.gradInput, C, D, block), 1e-4, 0, 0);
      expectClose('∇X', await h.read(t.dx), ref.blockHadamard(lx.gradInput, N, D, block), 1e-4, 0, 0);
      expectClose('∇s_W', await h.read(steps.weight_step.grad), [lw.gradStep], 1e-4, 0, 0);
      expectClose('∇s_X', await h.read(steps.input_step.grad), [lx.gradStep], 1e-4, 0, 0);
      // The bias gradient stays exact f32 (not quantized), as in the official code.
      expectClose('∇b', await h.read(t.db), ref.linearBackward(dy, x, w, N, D, C, true).db!, 1e-5);
    });
  });
}

// The paper's baselines through the same scheme: LSQ forward without the Hadamard transform with LUQ
// gradients (its main baseline), and the naive per-tensor min-max forward and backward.
describe('baseline layers against the reference with the same draws', () => {
  const [N, D, C, index] = [37, 48, 20, 2];
  const data = () => {
    const rng = new SeededRandom(77);
    return {
      x: roundF32(rng.normalArray(N * D, 1)),
      w: roundF32(rng.normalArray(C * D, 0.1)),
      b: roundF32(rng.normalArray(C, 0.1)),
      dy: roundF32(rng.normalArray(N * C, 0.01)),
    };
  };
  async function runLayer(precision: 'int4-lsq-luq' | 'int4-minmax', forward: 'lsq' | 'minmax', backward: 'luq' | 'minmax') {
    const d = data();
    const scheme = quantizedScheme(precision, { forward, backward, bits: 4, hadamardBlock: 32 });
    const t = {
      x: h.upload([N, D], d.x, 'x'), w: h.upload([C, D], d.w, 'w'), b: h.upload([C], d.b, 'b'), y: h.empty([N, C], 'y'),
      dy: h.upload([N, C], d.dy, 'dy'), dx: h.empty([N, D], 'dx'), dw: h.empty([C, D], 'dw'), db: h.empty([C], 'db'),
      stepState: h.upload([2], new Uint32Array([SEED, STEP]), 'step_state'),
    };
    const steps = { input_step: { value: h.upload([1], [1], 'sx'), grad: h.empty([1], 'gsx') }, weight_step: { value: h.upload([1], [1], 'sw'), grad: h.empty([1], 'gsw') } };
    const layer = await buildChecked(h.device, () => scheme.build(h.kernels, { name: 'layer', rows: N, inFeatures: D, outFeatures: C, ...t, index, stepState: t.stepState }, forward === 'lsq' ? steps : {}));
    await h.run([...(layer.firstForward ?? layer.forward), ...layer.backward]);
    return { d, t, steps };
  }
  const stream = index * STREAMS_PER_LAYER;

  it('int4-lsq-luq: LSQ codes without H forward, LUQ-quantized ∇Y backward, LSQ masks and step gradients', async () => {
    const { d, t, steps } = await runLayer('int4-lsq-luq', 'lsq', 'luq');
    const sX = ref.lsqInitStep(d.x);
    const sW = ref.lsqInitStep(d.w);
    const qx = ref.lsqQuantize(d.x, sX);
    const qw = ref.lsqQuantize(d.w, sW);
    const xq = Float64Array.from(qx.codes, (c) => c * sX);
    const wq = Float64Array.from(qw.codes, (c) => c * sW);
    expectClose('y', await h.read(t.y), ref.linearForward(xq, wq, d.b, N, D, C), 1e-4);
    const g = ref.luqQuantize(d.dy, 4, ref.uniformDraws(SEED, stream + 6, STEP, 2 * N * C)).map(Math.fround);
    const lin = ref.linearBackward(g, xq, wq, N, D, C, false);
    const lw = ref.lsqBackward(lin.dw, qw.v, sW, C * D);
    const lx = ref.lsqBackward(lin.dx, qx.v, sX, N * D);
    expectClose('∇W', await h.read(t.dw), lw.gradInput, 1e-4, 0, 0);
    expectClose('∇X', await h.read(t.dx), lx.gradInput, 1e-4, 0, 0);
    expectClose('∇s_X', await h.read(steps.input_step.grad), [lx.gradStep], 1e-4, 0, 0);
  });

  it('int4-minmax: stochastic min-max X, W and ∇Y, f32 products of the dequantized values', async () => {
    const { d, t } = await runLayer('int4-minmax', 'minmax', 'minmax');
    const xq = ref.minmaxQuantize(d.x, 4, ref.uniformDraws(SEED, stream + 4, STEP, N * D)).map(Math.fround);
    const wq = ref.minmaxQuantize(d.w, 4, ref.uniformDraws(SEED, stream + 5, STEP, C * D)).map(Math.fround);
    expectClose('y', await h.read(t.y), ref.linearForward(xq, wq, d.b, N, D, C), 1e-4);
    const g = ref.minmaxQuantize(d.dy, 4, ref.uniformDraws(SEED, stream + 6, STEP, N * C)).map(Math.fround);
    const lin = ref.linearBackward(g, xq, wq, N, D, C, true);
    expectClose('∇W', await h.read(t.dw), lin.dw, 1e-4, 0, 0);
    expectClose('∇X', await h.read(t.dx), lin.dx, 1e-4, 0, 0);
    expectClose('∇b (exact ∇Y)', await h.read(t.db), ref.linearBackward(d.dy, d.x, d.w, N, D, C, true).db!, 1e-5);
  });
});

describe('embedding output: LSQ fake quantization (§5)', () => {
  it('y = s·clamp(round(x/s)) with s initialised from the first batch; ∇x = STE mask · ∇y; ∇s as LSQ', async () => {
    const [rows, cols] = [37, 48];
    const rng = new SeededRandom(91);
    const x = roundF32(rng.normalArray(rows * cols, 0.05).map((v, i) => (i % 97 === 0 ? v * 20 : v))); // a few beyond the range
    const dy = roundF32(rng.normalArray(rows * cols, 0.01));
    const q = quantizedScheme('int4', { forward: 'hq', backward: 'lss', bits: 4, hadamardBlock: 32 }).embedding!;
    expect(q.parameters.map((p) => p.name)).toEqual(['output_step']);
    const e = { rows, cols, x: h.upload([rows, cols], x, 'x'), y: h.empty([rows, cols], 'y'), dy: h.upload([rows, cols], dy, 'dy'), dx: h.empty([rows, cols], 'dx') };
    const step = { value: h.upload([1], [1], 's'), grad: h.empty([1], 'gs') };
    const layer = await buildChecked(h.device, () => q.build(h.kernels, e, { output_step: step }));
    await h.run([...layer.firstForward!, ...layer.backward]);
    const s = ref.lsqInitStep(x);
    expectClose('s', await h.read(step.value), [s], 1e-5, 0, 0);
    expectClose('y', await h.read(e.y), ref.lsqFakeQuantize(x, s, 8, 7), 1e-5, 0, 0);
    const back = ref.lsqBackward(dy, ref.lsqQuantize(x, s).v, s, rows * cols);
    expect(back.gradInput.some((g) => g === 0)).toBe(true); // some entries were clipped
    expectClose('∇x', await h.read(e.dx), back.gradInput, 1e-6, 0, 0);
    expectClose('∇s', await h.read(step.grad), [back.gradStep], 1e-4, 0, 0);
  });
});
