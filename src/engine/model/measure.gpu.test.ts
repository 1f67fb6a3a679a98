// The measurements of one quantized layer on matrices with injected outlier columns (the paper's Fig. 1):
// what the float64 reference says about HQ vs plain LSQ must show in the numbers the UI and the CLI get.
import { beforeAll, describe, expect, it } from 'vitest';
import { type GpuHarness, buildChecked, gpuHarness, roundF32 } from '../gpu/test-utils';
import { quantizedScheme } from '../linear/quantized';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { LayerMeasurements } from './measure';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

describe('layer measurements on outlier columns', () => {
  it('HQ: the channel maxima of X·H are flat where X has two ×50 columns, and the INT4 error of X is ≥ 5× below LSQ without H', async () => {
    const [N, D, C] = [64, 128, 32]; // columns 5 and 40 in different 32-blocks (as the reference test)
    const rng = new SeededRandom(2024);
    const x = roundF32(rng.normalArray(N * D, 1).map((v, i) => (i % D === 5 || i % D === 40 ? 50 * v : v)));
    const w = roundF32(rng.normalArray(C * D, 0.1));
    const dy = roundF32(rng.normalArray(N * C, 0.01));
    const measure = async (forward: 'hq' | 'lsq') => {
      const scheme = quantizedScheme('int4', { forward, backward: 'bitsplit', bits: 4, hadamardBlock: 32 });
      const spec = {
        name: `layer_${forward}`, rows: N, inFeatures: D, outFeatures: C, index: 0,
        x: h.upload([N, D], x, 'x'), w: h.upload([C, D], w, 'w'), b: null, y: h.empty([N, C], 'y'),
        dy: h.upload([N, C], dy, 'dy'), dx: h.empty([N, D], 'dx'), dw: h.empty([C, D], 'dw'), db: null,
        stepState: h.upload([2], new Uint32Array([1, 0]), 'step_state'),
      };
      const extra = { input_step: { value: h.upload([1], [1], 'sx'), grad: h.empty([1], 'gsx') }, weight_step: { value: h.upload([1], [1], 'sw'), grad: h.empty([1], 'gsw') } };
      const m = new LayerMeasurements(h.kernels, [spec], 32, null);
      const { layer, stats } = await buildChecked(h.device, () => {
        const layer = scheme.build(h.kernels, spec, extra);
        return { layer, stats: m.add(spec, layer) };
      });
      await h.run([...layer.firstForward!, ...layer.backward, ...stats]);
      return m.decode(Float32Array.from(await h.read(m.buffer)), 1).layers[0];
    };
    const hq = await measure('hq');
    const lsq = await measure('lsq');

    // The reference says how much HQ helps here; the measured errors must say the same.
    const plain = ref.relativeL2Error(x, ref.lsqFakeQuantize(x, ref.lsqInitStep(x), 8, 7));
    const xh = ref.blockHadamard(x, N, D, 32);
    const transformed = ref.relativeL2Error(xh, ref.lsqFakeQuantize(xh, ref.lsqInitStep(xh), 8, 7));
    expect(plain / transformed, 'reference: HQ error reduction').toBeGreaterThanOrEqual(5);
    expect(lsq.errorX! / hq.errorX!, 'measured: HQ error reduction').toBeGreaterThanOrEqual(5);
    expect(Math.abs(hq.errorX! / transformed - 1), 'HQ error vs reference').toBeLessThan(1e-3);
    expect(Math.abs(lsq.errorX! / plain - 1), 'LSQ error vs reference').toBeLessThan(1e-3);

    // Fig. 1: two columns stand ~50× above the median before the transform; after it no channel does.
    expect(hq.outliersX.ratio).toBeGreaterThan(20);
    expect(hq.outliersXH.ratio).toBeLessThan(4);
    expect(hq.hadamardBlock).toBe(32);
    // Without HQ the layer still reports the transform HQ would apply (display block 32), so the
    // figure can be drawn for every precision.
    expect(Array.from(lsq.channelMaxXH)).toEqual(Array.from(hq.channelMaxXH));
  });
});
