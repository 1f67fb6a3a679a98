// The FP16 scheme: native (f16 tiles, shader-f16) and emulated (f32 tiles) operand rounding give the same
// numbers, and dynamic loss scaling in the optimizer undoes the scale, skips overflowing steps and backs
// off; and the rounded products match the float64 reference on binary16-rounded operands.
import { beforeAll, describe, expect, it } from 'vitest';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, roundF32 } from '../gpu/test-utils';
import * as ref from '../reference';
import { matmul } from '../ops/matmul';
import { NORM_PARTIALS, optimizerStep, packAdamWStep } from '../ops/optimizer';
import { SeededRandom } from '../reference/test-helpers';
import type { Tensor } from '../tensor';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

/** Values across f16's whole range: normal, subnormal (< 2^-14), underflowing (< 2^-25), near and
 *  past the largest finite value 65504. */
function wideRange(rng: SeededRandom, n: number): Float64Array {
  const specials = [65504, 65519.99, 65520, -70000, 2 ** -14, 2 ** -20, 3 * 2 ** -25, 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 0];
  return roundF32(Array.from({ length: n }, (_, i) => (i < specials.length ? specials[i] : rng.normal() * 2 ** Math.round(rng.uniform(-22, 12)))));
}

describe('fp16 matmul: native and emulated rounding agree bit for bit', () => {
  for (const [M, N, K, transA, transB] of [[37, 70, 129, false, true], [70, 37, 45, true, false], [5, 9, 33, false, false], [20, 100, 17, true, true]] as const) {
    it(`M ${M} N ${N} K ${K} transA ${transA} transB ${transB}`, async (ctx) => {
      if (!h.kernels.capabilities.shaderF16) {
        // Only the emulated path exists here: nothing to compare. Say so rather than pass silently.
        ctx.skip();
      }
      const rng = new SeededRandom(M * 1000 + N + K);
      const a = h.upload([M * K], wideRange(rng, M * K), 'a');
      const b = h.upload([K * N], wideRange(rng, K * N), 'b');
      const run = async (f16: 'native' | 'emulated'): Promise<Float64Array> => {
        const c = h.empty([M * N], `c.${f16}`);
        await h.run(await buildChecked(h.device, () => [matmul(h.kernels, { label: f16, a, b, c, M, N, K, transA, transB, f16 })]));
        return h.read(c);
      };
      const native = await run('native');
      const emulated = await run('emulated');
      let nonFinite = 0;
      for (let i = 0; i < native.length; i++) {
        if (!Number.isFinite(native[i])) nonFinite++;
        expect(Object.is(native[i], emulated[i]) || (Number.isNaN(native[i]) && Number.isNaN(emulated[i])), `element ${i}: ${native[i]} vs ${emulated[i]}`).toBe(true);
      }
      // The overflowing operands must have produced ±inf/NaN somewhere, on both paths alike.
      expect(nonFinite).toBeGreaterThan(0);
    });
  }
});

describe('fp16 matmul against the float64 reference with binary16-rounded operands', () => {
  for (const [M, N, K, transA, transB] of [[37, 70, 129, false, true], [70, 37, 45, true, false], [64, 64, 64, false, false]] as const) {
    it(`M ${M} N ${N} K ${K}, emulated path`, async () => {
      const rng = new SeededRandom(5 + M + N + K);
      // Normal and subnormal f16 magnitudes, finite.
      const av = roundF32(Array.from({ length: M * K }, () => rng.normal() * 2 ** Math.round(rng.uniform(-18, 6))));
      const bv = roundF32(Array.from({ length: K * N }, () => rng.normal() * 2 ** Math.round(rng.uniform(-18, 6))));
      const c = h.empty([M * N], 'c');
      await h.run(await buildChecked(h.device, () => [matmul(h.kernels, { label: 'f16', a: h.upload([M * K], av, 'a'), b: h.upload([K * N], bv, 'b'), c, M, N, K, transA, transB, f16: 'emulated' })]));
      const expected = ref.matmul(av.map(ref.roundToF16), bv.map(ref.roundToF16), M, K, N, transA, transB);
      const unrounded = ref.matmul(av, bv, M, K, N, transA, transB);
      const gpu = await h.read(c);
      // f32 accumulation of exact products: f32-level error against the rounded-operand product...
      expectClose('f16 product', gpu, expected, 1e-5, 0, 0);
      // ...and visibly not the unrounded product (the rounding happened).
      let differs = 0;
      for (let i = 0; i < gpu.length; i++) if (Math.abs(gpu[i] - unrounded[i]) > 1e-4 * Math.abs(unrounded[i])) differs++;
      expect(differs).toBeGreaterThan(gpu.length / 4);
    });
  }
});

describe('dynamic loss scaling in the optimizer', () => {
  const n = 3001;
  async function step(grads: Float64Array, scaler: number[], growthInterval: number) {
    const rng = new SeededRandom(42);
    const params = roundF32(rng.normalArray(n, 1));
    const t = {
      params: h.upload([n], params, 'params'),
      grads: h.upload([n], grads, 'grads'),
      m: h.upload([n], new Float64Array(n), 'm'),
      v: h.upload([n], new Float64Array(n), 'v'),
      partials: h.empty([NORM_PARTIALS], 'partials'),
      state: h.empty([3], 'state'),
      metrics: h.upload([4], [7, 7, 7, 7], 'metrics'),
      scaler: h.upload([3], scaler, 'scaler'),
    };
    const uniforms = h.memory.buffer(64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'step');
    h.device.queue.writeBuffer(uniforms, 0, packAdamWStep({
      lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, t: 1, maxGradNorm: 1, nParams: n, decayEnd: n,
      metricsSlot: 1, dynamicLossScale: true, scaleGrowthInterval: growthInterval,
    }));
    await h.run(await buildChecked(h.device, () => optimizerStep(h.kernels, t, uniforms)));
    const read = (x: Tensor) => h.read(x);
    return { params, after: await read(t.params), m: await read(t.m), scaler: await read(t.scaler), state: await read(t.state), metrics: await read(t.metrics) };
  }

  it('gradients scaled by S give the same update as unscaled ones, and the clean-step count grows', async () => {
    const rng = new SeededRandom(7);
    const g = roundF32(rng.normalArray(n, 0.1));
    const S = 1024;
    const plain = await step(g, [1, 0, 0], 2000);
    const scaled = await step(g.map((x) => x * S), [S, 5, 0], 2000);
    // The same unscaled norm, the same clipped update (to f32 rounding of the scale factors).
    expect(scaled.state[0]).toBeCloseTo(plain.state[0], 4);
    for (let i = 0; i < n; i += 97) expect(scaled.after[i]).toBeCloseTo(plain.after[i], 6);
    expect(Array.from(scaled.scaler)).toEqual([S, 6, 0]);
    expect(Array.from(scaled.metrics)).toEqual([7, scaled.state[0], S, 0]);
  });

  it('an overflow (inf in the gradients) skips the step, halves the scale and counts the skip', async () => {
    const rng = new SeededRandom(8);
    const g = roundF32(rng.normalArray(n, 0.1));
    g[1234] = Infinity;
    const r = await step(g, [4096, 17, 2], 2000);
    expect(Array.from(r.after)).toEqual(Array.from(r.params));
    expect(r.m.every((x) => x === 0)).toBe(true);
    expect(Array.from(r.scaler)).toEqual([2048, 0, 3]);
    expect(r.metrics[3]).toBe(1);
  });

  it('after growthInterval clean steps the scale doubles', async () => {
    const rng = new SeededRandom(9);
    const r = await step(roundF32(rng.normalArray(n, 0.1)), [256, 2, 0], 3);
    expect(Array.from(r.scaler)).toEqual([512, 0, 0]);
    expect(r.metrics[2]).toBe(256); // the step itself ran with the old scale
  });
});
