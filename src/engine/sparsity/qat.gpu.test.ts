// Sparse-QAT's INT8 fake quantization (sparsity/qat.ts, shaders/qat.wgsl) against the float64 reference
// (reference/sparsity.ts): the 99.99% calibration finds exactly the reference's k-th smallest |x| (sorted
// on the CPU), the straight-through estimator zeroes exactly the gradients of clipped values, and a whole
// layer's forward and backward match the reference built from the definitions.
import { beforeAll, describe, expect, it } from 'vitest';
import { type GpuHarness, buildChecked, expectClose, expectExact, gpuHarness, roundF32 } from '../gpu/test-utils';
import { calibrateClipRef, calibrationRank, fakeQuantInt8Ref, steGradRef } from '../reference/sparsity';
import { SeededRandom } from '../reference/test-helpers';
import { calibrateInt8, sparseQatScheme, steMask } from './qat';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

/** Heavy-tailed f32 data: normal values, a few outliers, repeated values, zeros and −0. */
function heavyTailed(rng: SeededRandom, n: number): Float64Array {
  const x = roundF32(rng.normalArray(n));
  for (let i = 0; i < n; i += 97) x[i] *= 40;
  for (let i = 5; i < n; i += 101) x[i] = x[i - 1];
  for (let i = 7; i < n; i += 211) x[i] = i % 2 ? 0 : -0;
  return roundF32(x); // what the GPU sees

}

describe('99.99% calibration', () => {
  it('the rank is ⌈0.9999·n⌉ in integers', () => {
    expect(calibrationRank(1)).toBe(1);
    expect(calibrationRank(10000)).toBe(9999);
    expect(calibrationRank(10001)).toBe(10000);
    expect(calibrationRank(20000)).toBe(19998);
    expect(calibrationRank(3072)).toBe(3072);
  });

  for (const n of [7, 10000, 24576, 100003]) {
    it(`n = ${n}: the clip value is exactly the reference's k-th smallest |x|`, async () => {
      const rng = new SeededRandom(n);
      const x = heavyTailed(rng, n);
      const tx = h.upload([n], x, 'x');
      const clip = h.empty([1], 'clip');
      const scale = h.empty([1], 'scale');
      await h.run(await buildChecked(h.device, () => calibrateInt8(h.kernels, { label: 'cal', x: tx, n, clip, scale })));
      const want = calibrateClipRef(x);
      const [got] = await h.read(clip);
      expect(got).toBe(want);
      expect(Math.abs((await h.read(scale))[0] - want / 127) / (want / 127)).toBeLessThan(1e-6);
      // At least 99.99% inside, and it is the smallest such value.
      const inside = x.filter((v) => Math.abs(v) <= got).length;
      expect(inside / n).toBeGreaterThanOrEqual(0.9999);
      const below = x.filter((v) => Math.abs(v) < got).length;
      expect(below / n).toBeLessThan(0.9999);
      if (n >= 10000) expect(got).toBeLessThan(Math.max(...x.map(Math.abs))); // it clips the largest
    });
  }

  it('two calibrations in one pass share their scratch and both come out right', async () => {
    const rng = new SeededRandom(77);
    const a = heavyTailed(rng, 30011);
    const b = roundF32(Float64Array.from(heavyTailed(rng, 12000), (v) => v * 1e-3));
    const ta = h.upload([a.length], a, 'a');
    const tb = h.upload([b.length], b, 'b');
    const ca = h.empty([1], 'ca');
    const cb = h.empty([1], 'cb');
    await h.run([
      ...calibrateInt8(h.kernels, { label: 'a', x: ta, n: a.length, clip: ca, scale: h.empty([1], 'sa') }),
      ...calibrateInt8(h.kernels, { label: 'b', x: tb, n: b.length, clip: cb, scale: h.empty([1], 'sb') }),
      ...calibrateInt8(h.kernels, { label: 'a again', x: ta, n: a.length, clip: h.empty([1], 'unused'), scale: h.empty([1], 'unused2') }),
    ]);
    expect((await h.read(ca))[0]).toBe(calibrateClipRef(a));
    expect((await h.read(cb))[0]).toBe(calibrateClipRef(b));
  });
});

describe('straight-through estimator', () => {
  it('passes the gradient where |x| ≤ t and zeroes it outside, as the reference', async () => {
    const rng = new SeededRandom(5);
    const n = 5000;
    const x = heavyTailed(rng, n);
    const g = roundF32(rng.normalArray(n));
    const t = Math.fround(1.5);
    x[3] = t; // exactly at the clip: inside
    x[4] = -t;
    const tg = h.upload([n], g, 'g');
    await h.run([steMask(h.kernels, 'ste', tg, h.upload([n], x, 'x'), h.upload([1], [t], 'clip'), n)]);
    const got = await h.read(tg);
    const want = steGradRef(g, x, t);
    expectExact('masked gradient', got, want);
    const zeroed = want.filter((v, i) => v === 0 && g[i] !== 0).length;
    expect(zeroed, 'some gradients are clipped').toBeGreaterThan(n / 20);
    expect(got[3]).toBe(g[3]);
    expect(got[4]).toBe(g[4]);
  });
});

describe('a Sparse-QAT linear layer', () => {
  it('forward on INT8 codes of the calibrated scales and the STE backward match the reference', async () => {
    const [N, D, C] = [160, 64, 48]; // N·D = 10240 values of X: k = 10239, the largest |x| is clipped
    const rng = new SeededRandom(11);
    const x = roundF32(rng.normalArray(N * D));
    x[3 * D + 5] = 25; // an outlier the calibration clips
    const w = roundF32(rng.normalArray(C * D, 0.1));
    const b = roundF32(rng.normalArray(C, 0.1));
    const dy = roundF32(rng.normalArray(N * C, 0.01));
    const t = {
      x: h.upload([N, D], x, 'x'), w: h.upload([C, D], w, 'w'), b: h.upload([C], b, 'b'), y: h.empty([N, C], 'y'),
      dy: h.upload([N, C], dy, 'dy'), dx: h.empty([N, D], 'dx'), dw: h.empty([C, D], 'dw'), db: h.empty([C], 'db'),
      stepState: h.upload([2], new Uint32Array([1, 0]), 'step_state'),
    };
    const layer = await buildChecked(h.device, () => sparseQatScheme().build(h.kernels, { name: 'qat', rows: N, inFeatures: D, outFeatures: C, ...t, index: 0 }, {}));
    await h.run([...layer.forward, ...layer.backward]);

    const clipX = calibrateClipRef(x);
    const clipW = calibrateClipRef(w);
    expect(clipX).toBeLessThan(25);
    expect(clipW).toBe(Math.max(...w.map(Math.abs))); // 3072 weights: k = n, nothing clipped
    // The reference quantizes with the f32 scales (t/127 rounded to f32) and f32 quotients, as the GPU.
    const sX = Math.fround(clipX / 127);
    const sW = Math.fround(clipW / 127);
    const qx = fakeQuantInt8Ref(Float64Array.from(x, (v) => Math.fround(v / sX) * sX), clipX, sX);
    const qw = fakeQuantInt8Ref(Float64Array.from(w, (v) => Math.fround(v / sW) * sW), clipW, sW);
    expect(qx.codes[3 * D + 5]).toBe(127);
    const y = new Float64Array(N * C);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += qx.codes[n * D + d] * qw.codes[c * D + d];
      y[n * C + c] = s * sX * sW + b[c];
    }
    expectClose('y', await h.read(t.y), y, 1e-6);
    // Backward: ∇X = (∇Y·Ŵ) ⊙ 1[|x| ≤ t_X], ∇W = (∇Yᵀ·X̂) ⊙ 1[|w| ≤ t_W].
    const dxRaw = new Float64Array(N * D);
    for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += dy[n * C + c] * qw.dequantized[c * D + d];
      dxRaw[n * D + d] = s;
    }
    const dwRaw = new Float64Array(C * D);
    for (let c = 0; c < C; c++) for (let d = 0; d < D; d++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dy[n * C + c] * qx.dequantized[n * D + d];
      dwRaw[c * D + d] = s;
    }
    const dx = await h.read(t.dx);
    expectClose('dx', dx, steGradRef(dxRaw, x, clipX), 1e-5);
    expect(dx[3 * D + 5], 'the clipped outlier gets no gradient').toBe(0);
    expect(Math.abs(dxRaw[3 * D + 5])).toBeGreaterThan(0);
    expectClose('dw', await h.read(t.dw), steGradRef(dwRaw, w, clipW), 1e-5);
    const db = new Float64Array(C);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) db[c] += dy[n * C + c];
    expectClose('db', await h.read(t.db), db, 1e-5);
  });
});
