// One INT4 (HQ + LSS) linear layer built by the scheme, end to end against the float64 reference
// quantizers composed as the paper's equations say: HQ-MM forward (§3.3) and LSS-MM backward (§4, eq. 4),
// with the exact random draws the kernels made (src/engine/reference/random.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import type { LssVariant } from '../config';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, roundF32 } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { int4HqLssScheme } from './int4-hq-lss';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

const SEED = 12345;
const STEP = 7;

for (const variant of ['bitsplit', 'lss'] as LssVariant[]) {
  describe(`int4 linear layer, ${variant}`, () => {
    it('forward equals s_X s_W · int(XH)·int(WH)ᵀ + b with first-batch step sizes; backward equals the reference LSS-MM', async () => {
      // N rows (tokens) with a few large gradient rows, as in the paper's Fig. 2.
      const [N, D, C, index] = [37, 48, 20, 3];
      const block = 16; // the largest power of two ≤ 32 dividing 48
      const rng = new SeededRandom(variant === 'lss' ? 1 : 2);
      const x = roundF32(rng.normalArray(N * D, 1));
      for (let n = 0; n < N; n++) x[n * D + 5] *= 20; // an outlier channel: what HQ is for
      const w = roundF32(rng.normalArray(C * D, 0.1));
      const b = roundF32(rng.normalArray(C, 0.1));
      const dy = roundF32(rng.normalArray(N * C, 0.01).map((v, i) => (Math.floor(i / C) % 9 === 0 ? v * 40 : v)));

      const scheme = int4HqLssScheme({ hadamardBlock: 32, lssVariant: variant });
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
      const layer = await buildChecked(h.device, () =>
        scheme.build(h.kernels, { name: 'layer', rows: N, inFeatures: D, outFeatures: C, ...t, index, stepState: t.stepState }, steps),
      );
      await h.run([...layer.firstForward!, ...layer.backward]);

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
      const stream = index * 4;
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
