// 2:4 sparsity kernels (sparsity/ops.ts, shaders/sparsity.wgsl, sparse24.wgsl) against the float64
// reference (reference/sparsity.ts) and against the engine's dense products:
//   - the pruning mask equals the reference top-k-of-4 selection (ties to the lower index, progressive
//     25% → 2:4 on the remaining weights), and applyMask zeroes exactly the pruned values;
//   - the compressed f32 product equals the float64 dense product of the masked matrix to f32 rounding
//     (and multiplies only the stored values: the reference counts M·N·K/2 products);
//   - the compressed INT8 and INT4 code products equal intMatmul on the dense codes of the masked matrix
//     bit for bit (and the exact integer sums times the f32 scale);
//   - the compression counts groups that are not 2:4.
// Shapes are odd on purpose (rows not multiples of 64, groups per row not multiples of 8).
import { beforeAll, describe, expect, it } from 'vitest';
import { type GpuHarness, expectClose, expectExact, gpuHarness, roundF32 } from '../gpu/test-utils';
import { matmul } from '../ops/matmul';
import { intMatmul, intMatmulPaths, packedWordsPerRow, type CodeFormat, type IntMatmulPath } from '../ops/quant';
import { compress24Ref, decompress24Ref, groupViolations, pruneMaskRef, sparse24ProductRef } from '../reference/sparsity';
import { packCodeRows } from '../reference/quant/packing';
import { SeededRandom } from '../reference/test-helpers';
import { applyMask, compress24, compressedShape, pruneMask, sparseIntMatmul, sparseMatmul } from './ops';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

/** Random f32 values with some exact ties and zeros inside groups, so tie-breaking is exercised. */
function weights(rng: SeededRandom, rows: number, cols: number): Float64Array {
  const w = Float64Array.from(Float32Array.from(rng.normalArray(rows * cols, 0.5)));
  for (let i = 0; i < w.length; i += 4) {
    const r = rng.uniform();
    if (r < 0.1) w[i + 1] = -w[i]; // equal magnitudes
    else if (r < 0.15) w[i + 2] = w[i + 3] = 0; // two zeros
    else if (r < 0.2) w[i] = w[i + 1] = w[i + 2] = w[i + 3] = 0.25; // all equal
  }
  return w;
}

function masked(w: Float64Array, mask: ArrayLike<number>): Float64Array {
  return Float64Array.from(w, (v, i) => (mask[i] ? v : 0));
}

/** Float64 dense product X·Wᵀ (+ bias). */
function denseProduct(x: ArrayLike<number>, w: ArrayLike<number>, M: number, N: number, K: number, bias?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s + (bias ? bias[n] : 0);
    }
  }
  return y;
}

describe('pruning masks', () => {
  it('keep the 2 largest |w| of every group of 4, lower index on ties, as the reference', async () => {
    const rows = 37;
    const cols = 44;
    const w = weights(new SeededRandom(1), rows, cols);
    const tw = h.upload([rows, cols], w, 'w');
    const mask = h.upload([rows, cols], new Float32Array(rows * cols).fill(1), 'mask');
    await h.run([pruneMask(h.kernels, { label: 'prune', w: tw, mask, rows, cols, keep: 2 })]);
    const got = await h.read(mask);
    const want = pruneMaskRef(w, rows, cols, 2);
    expectExact('mask', got, want);
    expect(groupViolations(masked(w, got), rows, cols, 2), 'groups with < 2 zeros').toBe(0);
    // Not vacuous: the reference mask keeps exactly half, and a naive "first two" mask differs.
    expect(want.reduce((a, b) => a + b, 0)).toBe((rows * cols) / 2);
    const firstTwo = Float64Array.from({ length: rows * cols }, (_, i) => (i % 4 < 2 ? 1 : 0));
    expect(got.some((v, i) => v !== firstTwo[i])).toBe(true);
  });

  it('progressive: 25% (3 of 4), then 2 of the remaining 3 after the weights changed', async () => {
    const rows = 19;
    const cols = 36;
    const rng = new SeededRandom(2);
    const w1 = weights(rng, rows, cols);
    const tw = h.upload([rows, cols], w1, 'w');
    const mask = h.upload([rows, cols], new Float32Array(rows * cols).fill(1), 'mask');
    await h.run([pruneMask(h.kernels, { label: 'prune3', w: tw, mask, rows, cols, keep: 3 })]);
    const m3 = await h.read(mask);
    const ref3 = pruneMaskRef(w1, rows, cols, 3);
    expectExact('25% mask', m3, ref3);
    // Fine-tuning moved the kept weights; a pruned weight holds 0 (and a large value would not revive it).
    const w2 = Float64Array.from(Float32Array.from(w1.map((v, i) => (ref3[i] ? v + 0.3 * rng.normal() : 5))));
    const tw2 = h.upload([rows, cols], w2, 'w2');
    await h.run([pruneMask(h.kernels, { label: 'prune2', w: tw2, mask, rows, cols, keep: 2 })]);
    const m2 = await h.read(mask);
    const ref2 = pruneMaskRef(w2, rows, cols, 2, ref3);
    expectExact('2:4 mask on the remaining weights', m2, ref2);
    for (let i = 0; i < m2.length; i++) if (!ref3[i]) expect(m2[i], `pruned weight ${i} came back`).toBe(0);
    // Recomputing from scratch would differ (the pruned 5s are the largest): the mask is on the remaining ones.
    expect(pruneMaskRef(w2, rows, cols, 2).some((v, i) => v !== ref2[i])).toBe(true);
  });

  it('applyMask zeroes exactly the pruned values (NaN included)', async () => {
    const n = 1000;
    const rng = new SeededRandom(3);
    const x = Float64Array.from({ length: n }, () => rng.normal());
    x[5] = NaN;
    const maskValues = Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 || i === 5 ? 0 : 1));
    const tx = h.upload([n + 10], [...x, ...new Array(10).fill(7)], 'x');
    const tm = h.upload([n + 10], [...maskValues, ...new Array(10).fill(0)], 'mask');
    await h.run([applyMask(h.kernels, 'mask', tm, tx, n)]);
    const got = await h.read(tx);
    for (let i = 0; i < n; i++) expect(got[i]).toBe(maskValues[i] ? Math.fround(x[i]) : 0);
    for (let i = n; i < n + 10; i++) expect(got[i], 'past n untouched').toBe(7);
  });
});

describe('compressed 2:4 product, f32', () => {
  for (const [M, N, K] of [[37, 70, 44], [128, 64, 96], [5, 3, 4]] as const) {
    it(`${M}×${N}×${K}: equals the dense product of the masked matrix to f32 rounding, half the products`, async () => {
      const rng = new SeededRandom(M * 7 + K);
      const wDense = weights(rng, N, K);
      const w = masked(wDense, pruneMaskRef(wDense, N, K, 2));
      const x = Float64Array.from(Float32Array.from(rng.normalArray(M * K)));
      const bias = Float64Array.from(Float32Array.from(rng.normalArray(N, 0.1)));
      const shape = compressedShape(N, K, 'f32');
      const tw = h.upload([N, K], w, 'w');
      const tx = h.upload([M, K], x, 'x');
      const tb = h.upload([N], bias, 'bias');
      const values = h.empty(shape.values, 'values');
      const meta = h.upload(shape.meta, new Uint32Array(shape.meta[0] * shape.meta[1]).fill(0xffffffff), 'meta');
      const violations = h.upload([1], new Uint32Array([0]), 'violations');
      const y = h.empty([M, N], 'y');
      const yDense = h.empty([M, N], 'y_dense');
      await h.run([
        compress24(h.kernels, { label: 'compress', input: tw, values, meta, violations, rows: N, K, format: 'f32' }),
        sparseMatmul(h.kernels, { label: 'sparse', x: tx, values, meta, y, M, N, K, bias: tb }),
        matmul(h.kernels, { label: 'dense', a: tx, b: tw, c: yDense, M, N, K, transB: true, bias: tb }),
      ]);
      // The compressed storage is the reference's, and stands for the masked matrix.
      const c = compress24Ref(w, N, K);
      expectExact('values', await h.read(values), c.values);
      const metaWords = await h.readU32(meta);
      for (let r = 0; r < N; r++) {
        for (let g = 0; g < K / 4; g++) {
          const nib = (metaWords[r * shape.meta[1] + (g >> 3)] >>> (4 * (g & 7))) & 15;
          expect([nib & 3, nib >> 2], `indices of row ${r} group ${g}`).toEqual([c.indices[r * (K / 2) + 2 * g], c.indices[r * (K / 2) + 2 * g + 1]]);
        }
      }
      expectExact('decompressed', decompress24Ref(c), w);
      expect((await h.readU32(violations))[0], 'violations').toBe(0);
      const want = denseProduct(x, w, M, N, K, bias);
      const sparse = sparse24ProductRef(x, M, c, bias);
      expect(sparse.products).toBe((M * N * K) / 2);
      expectClose('reference compressed product', sparse.y, want, 1e-12);
      const got = await h.read(y);
      expectClose('compressed product vs float64 dense product of the masked matrix', got, want, 2e-6);
      expectClose('compressed product vs the dense f32 kernel', got, await h.read(yDense), 2e-6);
    });
  }

  it('alpha, accumulate and f16 rounding (the FP16 scheme) as the dense kernel', async () => {
    const [M, N, K] = [33, 40, 68];
    const rng = new SeededRandom(9);
    const wDense = weights(rng, N, K);
    const w = masked(wDense, pruneMaskRef(wDense, N, K, 2));
    const x = Float64Array.from(Float32Array.from(rng.normalArray(M * K)));
    const c0 = Float64Array.from(Float32Array.from(rng.normalArray(M * N)));
    const shape = compressedShape(N, K, 'f32');
    const tw = h.upload([N, K], w, 'w');
    const tx = h.upload([M, K], x, 'x');
    const values = h.empty(shape.values, 'values');
    const meta = h.empty(shape.meta, 'meta');
    const violations = h.upload([1], new Uint32Array([0]), 'violations');
    const y = h.upload([M, N], c0, 'y');
    const yDense = h.upload([M, N], c0, 'y_dense');
    await h.run([
      compress24(h.kernels, { label: 'compress', input: tw, values, meta, violations, rows: N, K, format: 'f32' }),
      sparseMatmul(h.kernels, { label: 'sparse', x: tx, values, meta, y, M, N, K, alpha: 0.5, accumulate: true, roundF16: true }),
      matmul(h.kernels, { label: 'dense', a: tx, b: tw, c: yDense, M, N, K, transB: true, alpha: 0.5, accumulate: true, f16: 'emulated' }),
    ]);
    expectClose('f16-rounded compressed product vs dense f16 (emulated) kernel', await h.read(y), await h.read(yDense), 2e-6);
  });

  it('counts groups that are not 2:4', async () => {
    const [N, K] = [6, 16];
    // Every group holds 2 non-zeros, then two groups get a third.
    const w = Float64Array.from({ length: N * K }, (_, i) => (i % 4 === 1 || i % 4 === 2 ? 1 + (i % 7) : 0));
    w[3] = 3;
    w[4 * 9] = -1;
    expect(groupViolations(w, N, K, 2)).toBe(2);
    const tw = h.upload([N, K], w, 'w');
    const shape = compressedShape(N, K, 'f32');
    const violations = h.upload([1], new Uint32Array([0]), 'violations');
    await h.run([compress24(h.kernels, { label: 'compress', input: tw, values: h.empty(shape.values, 'v'), meta: h.empty(shape.meta, 'm'), violations, rows: N, K, format: 'f32' })]);
    expect((await h.readU32(violations))[0]).toBe(2);
  });
});

/** Packs integer codes rows along K as intMatmul takes them (INT8: 4 per word, INT4: 8 nibbles). */
function packCodes(codes: Int32Array, rows: number, K: number, format: CodeFormat): Uint32Array {
  return packCodeRows(codes, rows, K, format === 'int4' ? 4 : 8);
}

describe('compressed 2:4 product on integer codes', () => {
  for (const format of ['int8', 'int4'] as CodeFormat[]) {
    for (const [M, N, K] of [[37, 70, 44], [64, 128, 96]] as const) {
      it(`${format} ${M}×${N}×${K}: bit for bit intMatmul on the dense codes of the masked matrix`, async () => {
        const rng = new SeededRandom(M + N + K + (format === 'int4' ? 1 : 0));
        const lim = format === 'int8' ? 127 : 8;
        const hi = format === 'int8' ? 128 : 8;
        const xCodes = rng.intArray(M * K, -lim, hi);
        const wAll = rng.intArray(N * K, -lim, hi);
        const wCodes = Int32Array.from(masked(Float64Array.from(wAll), pruneMaskRef(wAll, N, K, 2)));
        expect(groupViolations(wCodes, N, K, 2)).toBe(0);
        const shape = compressedShape(N, K, format);
        const ta = h.upload([M, packedWordsPerRow(K, format)], packCodes(xCodes, M, K, format), 'a');
        const tb = h.upload([N, packedWordsPerRow(K, format)], packCodes(wCodes, N, K, format), 'b');
        const stepA = h.upload([1], [0.0123], 'sa');
        const stepB = h.upload([1], [-0.0456], 'sb'); // |s| is used
        const bias = Float64Array.from(Float32Array.from(rng.normalArray(N)));
        const tbias = h.upload([N], bias, 'bias');
        const values = h.empty(shape.values, 'values');
        const meta = h.empty(shape.meta, 'meta');
        const violations = h.upload([1], new Uint32Array([0]), 'violations');
        const y = h.empty([M, N], 'y');
        const paths: IntMatmulPath[] = intMatmulPaths(h.kernels.capabilities).filter((p) => p !== 'subgroup-matrix');
        const dense = paths.map((p) => ({ p, y: h.empty([M, N], `y_${p}`) }));
        await h.run([
          compress24(h.kernels, { label: 'compress', input: tb, values, meta, violations, rows: N, K, format }),
          sparseIntMatmul(h.kernels, { label: 'sparse', a: ta, values, meta, stepA, stepB, c: y, M, N, K, format, bias: tbias }),
          ...dense.map((d) => intMatmul(h.kernels, { label: `dense ${d.p}`, a: ta, b: tb, stepA, stepB, c: d.y, M, N, K, format, bias: tbias, path: d.p })),
        ]);
        expect((await h.readU32(violations))[0]).toBe(0);
        const got = await h.read(y);
        for (const d of dense) expectExact(`compressed ${format} vs intMatmul ${d.p}`, got, await h.read(d.y));
        // The integer sums themselves (unit steps, no bias: f32(sum) is exact) against the reference's
        // products over its own compressed storage.
        const one = h.upload([1], [1], 'one');
        const sumsGpu = h.empty([M, N], 'sums');
        await h.run([sparseIntMatmul(h.kernels, { label: 'sums', a: ta, values, meta, stepA: one, stepB: one, c: sumsGpu, M, N, K, format })]);
        const c = compress24Ref(wCodes, N, K);
        const ref = sparse24ProductRef(xCodes, M, c);
        expect(ref.products).toBe((M * N * K) / 2);
        expectExact(`compressed ${format} integer sums vs the reference`, await h.read(sumsGpu), ref.y);
        expectExact('the reference sums vs the dense sums', ref.y, denseProduct(xCodes, wCodes, M, N, K));
        expect(got.some((v) => v !== 0)).toBe(true);
        // intMatmul's step indices and row scales carry over too.
        const steps2 = h.upload([2], [9, -0.0456], 'steps2');
        const rowScale = h.upload([M], roundF32(rng.normalArray(M)), 'row_scale');
        const yr = h.empty([M, N], 'y_rows');
        const yrDense = h.empty([M, N], 'y_rows_dense');
        await h.run([
          sparseIntMatmul(h.kernels, { label: 'sparse rows', a: ta, values, meta, stepA, stepB: steps2, stepBAt: 1, rowScale, c: yr, M, N, K, format, bias: tbias, alpha: 0.5 }),
          intMatmul(h.kernels, { label: 'dense rows', a: ta, b: tb, stepA, stepB: steps2, stepBAt: 1, rowScale, c: yrDense, M, N, K, format, bias: tbias, alpha: 0.5, path: paths[paths.length - 1] }),
        ]);
        expectExact(`compressed ${format} with step index and row scales vs intMatmul`, await h.read(yr), await h.read(yrDense));
      });
    }
  }
});
