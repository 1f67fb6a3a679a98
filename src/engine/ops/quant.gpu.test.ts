// The quantization kernels (ops/quant.ts) against the float64 reference quantizers (reference/quant):
// block Hadamard transform, LSQ quantize (packed INT4 / INT8 codes), dequantize, LSQ initial step, and the
// integer matmul on both paths (dot4I8Packed and plain i32). Integer results are compared exactly: the
// packed words are unpacked here by independent code, and the code products are recomputed in JS.
// Outputs are prefilled with NaN (as f32 words: 0x7fc00000, nonzero nibbles), so a value or a padding
// word that a kernel forgets to write shows. Shapes are deliberately not multiples of the tiles.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Capabilities } from '../gpu/device';
import { testGpu } from '../gpu/test-device';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, maxAbs, roundF32, count, expectExact, TAIL, withoutTail } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { lsqDequantize } from './lss';
import {
  type CodeFormat,
  type IntMatmulPath,
  dequantize,
  hadamardQuantize,
  hadamardTransform,
  hadamardTransformPair,
  intMatmul,
  lsqInitStep,
  lsqQuantize,
  packedWordsPerRow,
} from './quant';

/** f32 arithmetic vs float64 on O(1) values with short reductions. */
const TOL_F32 = 1e-5;

let h: GpuHarness;
let capabilities: Capabilities;
beforeAll(async () => {
  h = await gpuHarness();
  capabilities = (await testGpu()).capabilities;
});

function normals(rng: SeededRandom, n: number, std = 1): Float64Array {
  return roundF32(rng.normalArray(n, std));
}

// --- Independent packing code (not shared with the kernels): INT4 code j of a row in bits 4·(j % 8) of
// word ⌊j/8⌋, INT8 code j in bits 8·(j % 4) of word ⌊j/4⌋, two's complement, rows padded with zero codes.
const BITS: Record<CodeFormat, number> = { int4: 4, int8: 8 };

function unpackCodes(words: Uint32Array, rows: number, K: number, format: CodeFormat): { codes: Int32Array; nonzeroPadding: number } {
  const bits = BITS[format];
  const perWord = 32 / bits;
  const wordsPerRow = Math.ceil(K / perWord);
  expect(words.length, 'packed code words').toBe(rows * wordsPerRow);
  const codes = new Int32Array(rows * K);
  let nonzeroPadding = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < wordsPerRow * perWord; j++) {
      const field = (words[r * wordsPerRow + Math.floor(j / perWord)] >>> (bits * (j % perWord))) & ((1 << bits) - 1);
      const code = field >= 1 << (bits - 1) ? field - (1 << bits) : field;
      if (j < K) codes[r * K + j] = code;
      else if (field !== 0) nonzeroPadding++;
    }
  }
  return { codes, nonzeroPadding };
}

function packCodes(codes: Int32Array, rows: number, K: number, format: CodeFormat): Uint32Array {
  return ref.packCodeRows(codes, rows, K, format === 'int4' ? 4 : 8);
}


describe('hadamardTransform (paper §3.3, spec §2)', () => {
  // [block, rows, cols]: every block size from the brief, several blocks per row, totals that are not
  // multiples of the 1024-value workgroup tile (partial last tile), more than one tile, and one row.
  const cases: [number, number, number][] = [
    [1, 5, 7],
    [2, 3, 6],
    [2, 37, 70],
    [32, 3, 96],
    [32, 37, 160],
    [128, 5, 384],
    [128, 9, 128],
    [1024, 3, 2048],
    [1024, 1, 1024],
  ];
  for (const [block, rows, cols] of cases) {
    it(`x·BlockDiag(H_${block}) vs blockHadamard, rows ${rows}, cols ${cols}`, async () => {
      const rng = new SeededRandom(100 + block * 7 + rows * 13 + cols);
      const x = normals(rng, rows * cols);
      const tx = h.upload([rows * cols], x, 'x');
      const ty = h.empty([rows * cols + TAIL], 'y');
      const d = await buildChecked(h.device, () => hadamardTransform(h.kernels, 'hadamard', tx, ty, rows, cols, block));
      await h.run([d]);
      const y = withoutTail('y', await h.read(ty), rows * cols);
      expectClose('XH', y, ref.blockHadamard(x, rows, cols, block), TOL_F32);
      if (block > 1) expect(maxAbs(y.map((v, i) => v - x[i])), 'the transform must change x').toBeGreaterThan(0.1);
    });
  }

  for (const block of [2, 32, 1024]) {
    it(`H·H = I on the GPU: applying H_${block} twice gives x back`, async () => {
      const [rows, cols] = [7, 2048];
      const rng = new SeededRandom(300 + block);
      const x = normals(rng, rows * cols, 3);
      const tx = h.upload([rows * cols], x, 'x');
      const ty = h.empty([rows * cols], 'y');
      const tz = h.empty([rows * cols], 'z');
      const ds = await buildChecked(h.device, () => [
        hadamardTransform(h.kernels, 'H', tx, ty, rows, cols, block),
        hadamardTransform(h.kernels, 'H again', ty, tz, rows, cols, block),
      ]);
      await h.run(ds);
      const y = await h.read(ty);
      expect(maxAbs(y.map((v, i) => v - x[i])), 'one application must change x').toBeGreaterThan(0.1);
      expectClose('x·H·H', await h.read(tz), x, TOL_F32);
    });
  }

  for (const block of [8, 64]) {
    it(`the transform of the identity is hadamardMatrix(${block}) (Sylvester order and 1/√b scale)`, async () => {
      const identity = new Float64Array(block * block);
      for (let i = 0; i < block; i++) identity[i * block + i] = 1;
      const tx = h.upload([block * block], identity, 'I');
      const ty = h.empty([block * block], 'H');
      const d = await buildChecked(h.device, () => hadamardTransform(h.kernels, 'hadamard', tx, ty, block, block, block));
      await h.run([d]);
      expectClose('I·H', await h.read(ty), ref.hadamardMatrix(block), 1e-6, 0.01);
    });
  }

  // The pair entry (the backward's ∇W·Hᵀ and ∇X·Hᵀ in one dispatch): each tensor vs the reference, with
  // the block given on the host and read from a buffer (the block search's choice), partial last tiles in
  // both tensors, and nothing written past either output.
  for (const [block, rows1, rows2, cols, dynamic] of [
    [32, 37, 5, 160, false],
    [128, 3, 9, 384, true],
    [1024, 1, 3, 2048, false],
  ] as const) {
    it(`hadamardTransformPair, H_${block} ${dynamic ? 'from a buffer' : 'from the host'}: ${rows1}×${cols} and ${rows2}×${cols} as two transforms would`, async () => {
      const rng = new SeededRandom(500 + block + rows1 + rows2);
      const x1 = normals(rng, rows1 * cols);
      const x2 = normals(rng, rows2 * cols, 2);
      const [t1, t2] = [h.upload([rows1 * cols], x1, 'x1'), h.upload([rows2 * cols], x2, 'x2')];
      const [y1, y2] = [h.empty([rows1 * cols + TAIL], 'y1'), h.empty([rows2 * cols + TAIL], 'y2')];
      const b = dynamic ? h.upload([1], [block], 'block') : block;
      const d = await buildChecked(h.device, () => hadamardTransformPair(h.kernels, 'pair', { x: t1, y: y1, rows: rows1 }, { x: t2, y: y2, rows: rows2 }, cols, b));
      await h.run([d]);
      expectClose('X₁H', withoutTail('y1', await h.read(y1), rows1 * cols), ref.blockHadamard(x1, rows1, cols, block), TOL_F32);
      expectClose('X₂H', withoutTail('y2', await h.read(y2), rows2 * cols), ref.blockHadamard(x2, rows2, cols, block), TOL_F32);
    });
  }

  it('rejects block sizes that are not a power of two ≤ 1024 or do not divide cols', () => {
    const t = h.empty([4096], 't');
    const u = h.empty([4096], 'u');
    expect(() => hadamardTransform(h.kernels, 'h', t, u, 2, 96, 3)).toThrow(/power of two/);
    expect(() => hadamardTransform(h.kernels, 'h', t, u, 2, 96, 0)).toThrow(/power of two/);
    expect(() => hadamardTransform(h.kernels, 'h', t, u, 1, 2048, 2048)).toThrow(/power of two from 1 to 1024/);
    expect(() => hadamardTransform(h.kernels, 'h', t, u, 2, 96, 64)).toThrow(/does not divide the 96 columns/);
    expect(() => hadamardTransform(h.kernels, 'h', t, u, 64, 96, 32)).toThrow(/x has 4096 values, needs 6144/);
  });
});

/**
 * x values at every rounding and clamping edge for step `step` (a power of two, so v = x/step is exact in
 * f32 and float64 alike): ties k + 0.5 of both signs, the largest f32 below 0.5, exact codes, clamped
 * ties and outliers, ±0.
 */
function edgeValues(step: number, qn: number, qp: number): number[] {
  const below = Math.fround(0.5 - 2 ** -25); // 0.49999997: rounds to 0, but 0.49999997 + 0.5 = 1 in f32
  const vs: number[] = [0, -0, below, -below, 1 + below, -(1 + below), qp + 0.5, -qn - 0.5, qp + 0.49, -qn - 0.49, qp + 1, -qn - 1];
  for (let k = -qn - 1; k <= qp + 1; k++) vs.push(k, k + 0.5, k - 0.5);
  vs.push(1e6, -1e6, 100, -100);
  // And outliers so large that only the clamp stops them (v = x/s stays finite in f32).
  return [...vs.map((v) => Math.fround(Math.fround(v) * step)), Math.fround(1e30), Math.fround(-1e30)];
}

describe('lsqQuantize (spec §1): codes exactly equal to the reference, packed', () => {
  for (const format of ['int4', 'int8'] as CodeFormat[]) {
    const [qn, qp] = format === 'int4' ? [ref.Q_N, ref.Q_P] : [ref.INT8_MAX, ref.INT8_MAX];
    it(`${format}: ties at .5 (away from zero), the f32 just below .5, clamped outliers, padding of K = 129`, async () => {
      // More rows for INT8: its ~800 edge values each get their own slot.
      const [rows, K] = [format === 'int4' ? 5 : 11, 129];
      const storedStep = -0.25; // |s| is used: the code keeps s positive
      const step = 0.25;
      const rng = new SeededRandom(format === 'int4' ? 400 : 401);
      const x = normals(rng, rows * K, format === 'int4' ? 1.2 : 20);
      const edges = edgeValues(step, qn, qp);
      for (let i = 0; i < edges.length; i++) x[(i * 7) % x.length] = edges[i];
      const { codes: refCodes, v: refV } = ref.lsqQuantize(x, step, qn, qp);
      // The data must exercise what the test claims.
      expect(count(refV, (v) => Math.abs(v) % 1 === 0.5), 'ties').toBeGreaterThan(2 * (qn + qp));
      expect(count(refV, (v) => v < -qn - 0.5), 'clamped below').toBeGreaterThan(3);
      expect(count(refV, (v) => v > qp + 0.5), 'clamped above').toBeGreaterThan(3);

      const tx = h.upload([rows * K], x, 'x');
      const ts = h.upload([1], [storedStep], 'step');
      const words = rows * packedWordsPerRow(K, format);
      const tv = h.empty([rows * K + TAIL], 'v');
      const tc = h.empty([words + TAIL], 'codes');
      const d = await buildChecked(h.device, () => lsqQuantize(h.kernels, { label: 'lsq', x: tx, step: ts, v: tv, codes: tc, rows, K, format }));
      await h.run([d]);
      const { codes, nonzeroPadding } = unpackCodes(withoutTail('codes', await h.readU32(tc), words), rows, K, format);
      expect(nonzeroPadding, 'padding codes must be zero').toBe(0);
      expectExact('codes', codes, refCodes);
      expectExact('v = x/|s|', withoutTail('v', await h.read(tv), rows * K), refV);
    });

    it(`${format}: random x, a step that is not a power of two, [37, 200]`, async () => {
      const [rows, K] = [37, 200];
      const step = Math.fround(format === 'int4' ? 0.1731 : 0.01377);
      const rng = new SeededRandom(format === 'int4' ? 410 : 411);
      const x = new Float64Array(rows * K);
      // f32 division may differ from float64 in the last bit (WGSL allows 2.5 ULP), which could move a v
      // that lies within a few ULP of a tie; such draws are redrawn so the comparison is exact on any GPU.
      for (let i = 0; i < x.length; i++) {
        for (;;) {
          const xi = Math.fround(rng.normal() * step * (format === 'int4' ? 3.5 : 55));
          const frac = Math.abs(xi / step) % 1;
          if (Math.abs(frac - 0.5) > 1e-4) {
            x[i] = xi;
            break;
          }
        }
      }
      const { codes: refCodes, v: refV } = ref.lsqQuantize(x, step, qn, qp);
      expect(count(refCodes, (c) => c === -qn) + count(refCodes, (c) => c === qp), 'clamped codes').toBeGreaterThan(20);
      const tx = h.upload([rows * K], x, 'x');
      const ts = h.upload([1], [step], 'step');
      const words = rows * packedWordsPerRow(K, format);
      const tv = h.empty([rows * K + TAIL], 'v');
      const tc = h.empty([words + TAIL], 'codes');
      const d = await buildChecked(h.device, () => lsqQuantize(h.kernels, { label: 'lsq', x: tx, step: ts, v: tv, codes: tc, rows, K, format }));
      await h.run([d]);
      const { codes, nonzeroPadding } = unpackCodes(withoutTail('codes', await h.readU32(tc), words), rows, K, format);
      expect(nonzeroPadding, 'padding codes must be zero').toBe(0);
      expectExact('codes', codes, refCodes);
      expectClose('v', withoutTail('v', await h.read(tv), rows * K), refV, 1e-6);
    });
  }

  it('int4 with the paper\'s symmetric range [−7, 7] (qn = qp = 7)', async () => {
    const [rows, K] = [3, 64];
    const step = 0.5;
    const rng = new SeededRandom(420);
    const x = normals(rng, rows * K, 3);
    const edges = edgeValues(step, ref.PAPER_Q_N, ref.PAPER_Q_P);
    for (let i = 0; i < edges.length; i++) x[(i * 3) % x.length] = edges[i];
    const { codes: refCodes } = ref.lsqQuantize(x, step, ref.PAPER_Q_N, ref.PAPER_Q_P);
    expect(count(refCodes, (c) => c === -7), 'codes at −7').toBeGreaterThan(3);
    const tx = h.upload([rows * K], x, 'x');
    const ts = h.upload([1], [step], 'step');
    const tv = h.empty([rows * K], 'v');
    const tc = h.empty([rows, packedWordsPerRow(K, 'int4')], 'codes');
    const d = await buildChecked(h.device, () =>
      lsqQuantize(h.kernels, { label: 'lsq', x: tx, step: ts, v: tv, codes: tc, rows, K, qn: ref.PAPER_Q_N, qp: ref.PAPER_Q_P }),
    );
    await h.run([d]);
    const { codes } = unpackCodes(await h.readU32(tc), rows, K, 'int4');
    expectExact('codes', codes, refCodes);
  });

  it('rejects code ranges that do not fit the format', () => {
    const t = h.empty([64], 't');
    const spec = { label: 'lsq', x: t, step: t, v: t, codes: t, rows: 1, K: 8 };
    expect(() => lsqQuantize(h.kernels, { ...spec, qn: 9 })).toThrow(/do not fit int4/);
    expect(() => lsqQuantize(h.kernels, { ...spec, qp: 8 })).toThrow(/do not fit int4/);
    expect(() => lsqQuantize(h.kernels, { ...spec, format: 'int8', qp: 128 })).toThrow(/do not fit int8/);
  });
});

describe('hadamardQuantize: the transform fused with LSQ quantization (HQ, §3.3 + §3.1)', () => {
  // [format, block, rows, K]: whole code words per row (fused: one dispatch, X·H never written) in several
  // tiles with a partial last one, the largest block, a block chosen on the GPU, and rows of K = 6 / 18
  // (not whole words: the two-dispatch fallback).
  const cases: [CodeFormat, number | 'gpu', number, number][] = [
    ['int4', 32, 37, 160],
    ['int4', 1024, 3, 2048],
    ['int4', 'gpu', 9, 64],
    ['int4', 2, 7, 6],
    ['int8', 4, 9, 36],
    ['int8', 'gpu', 5, 128],
    ['int8', 2, 5, 18],
  ];
  for (const [format, blockChoice, rows, K] of cases) {
    const block = blockChoice === 'gpu' ? 16 : blockChoice;
    const perWord = format === 'int4' ? 8 : 4;
    const fused = K % perWord === 0;
    it(`${format}, block ${blockChoice}${blockChoice === 'gpu' ? ' (16)' : ''}, [${rows}, ${K}]: ${fused ? 'one dispatch' : 'fallback'}, v, codes and X̂ bit-identical to transform + lsqQuantize + lsqDequantize, codes as the reference`, async () => {
      const [qn, qp] = format === 'int4' ? [ref.Q_N, ref.Q_P] : [ref.INT8_MAX, ref.INT8_MAX];
      const step = Math.fround(format === 'int4' ? 0.2113 : 0.0317);
      const rng = new SeededRandom(900 + rows * 31 + K + block);
      const n = rows * K;
      const x = normals(rng, n, format === 'int4' ? 1 : 3);
      const words = rows * packedWordsPerRow(K, format);
      const tx = h.upload([n], x, 'x');
      const ts = h.upload([1], [step], 'step');
      const blockTensor = blockChoice === 'gpu' ? h.upload([1], [block], 'block') : block;
      const SENTINEL = 12345;
      const outputs = (what: string) => ({ transformed: h.empty([n], `${what}.xh`, SENTINEL), v: h.empty([n + TAIL], `${what}.v`), codes: h.empty([words + TAIL], `${what}.codes`), dequantized: h.empty([n + TAIL], `${what}.x̂`) });
      const one = outputs('fused');
      const two = outputs('separate');
      // The fused pass writes X̂ too (the backward's f32 operand): the same values as lsqDequantize of v.
      const fusedDs = await buildChecked(h.device, () => hadamardQuantize(h.kernels, { label: 'hq', source: tx, block: blockTensor, ...one, step: ts, rows, K, format }));
      const separateDs = await buildChecked(h.device, () => [
        hadamardTransform(h.kernels, 'h', tx, two.transformed, rows, K, blockTensor),
        lsqQuantize(h.kernels, { label: 'q', x: two.transformed, step: ts, v: two.v, codes: two.codes, rows, K, format }),
        lsqDequantize(h.kernels, { label: 'dq', v: two.v, step: ts, out: two.dequantized, numel: n, qn, qp }),
      ]);
      expect(fusedDs.length).toBe(fused ? 1 : 3);
      await h.run([...fusedDs, ...separateDs]);
      const xhWritten = await h.read(one.transformed);
      if (fused) expect(count(xhWritten, (v) => v === SENTINEL), 'the fused pass does not write X·H').toBe(n);
      expectExact('v', withoutTail('v', await h.read(one.v), n), withoutTail('v', await h.read(two.v), n));
      expectExact('codes', withoutTail('codes', await h.readU32(one.codes), words), withoutTail('codes', await h.readU32(two.codes), words));
      const dequantized = withoutTail('x̂', await h.read(one.dequantized), n);
      expectExact('x̂', dequantized, withoutTail('x̂', await h.read(two.dequantized), n));
      expect(count(dequantized, (x) => x !== 0), 'nonzero x̂').toBeGreaterThan(n / 4);
      // Against float64: codes equal wherever v is not within f32 rounding of a tie.
      const refV = ref.blockHadamard(x, rows, K, block).map((v) => v / step);
      const { codes } = unpackCodes(withoutTail('codes', await h.readU32(one.codes), words), rows, K, format);
      const { codes: refCodes } = ref.lsqQuantize(refV.map((v) => v * step), step, qn, qp);
      const clear = (i: number) => Math.abs((Math.abs(refV[i]) % 1) - 0.5) > 1e-4;
      expect(count(codes, (c, i) => clear(i) && c !== refCodes[i]), 'codes away from ties').toBe(0);
      expect(count(refCodes, (c) => c === -qn || c === qp), 'the data reaches the clamp').toBeGreaterThan(0);
    });
  }
});

describe('dequantize', () => {
  for (const format of ['int4', 'int8'] as CodeFormat[]) {
    it(`${format}: code·|s| from packed codes, exact in f32 (rows 7, K 131)`, async () => {
      const [rows, K] = [7, 131];
      const [lo, hi] = format === 'int4' ? [-8, 8] : [-128, 128];
      const rng = new SeededRandom(format === 'int4' ? 500 : 501);
      const codes = rng.intArray(rows * K, lo, hi);
      codes[0] = lo;
      codes[1] = hi - 1;
      const step = Math.fround(0.0123457);
      const tc = h.upload([rows, packedWordsPerRow(K, format)], packCodes(codes, rows, K, format), 'codes');
      const ts = h.upload([1], [-step], 'step');
      const to = h.empty([rows * K + TAIL], 'out');
      const d = await buildChecked(h.device, () => dequantize(h.kernels, { label: 'dq', codes: tc, step: ts, out: to, rows, K, format }));
      await h.run([d]);
      // A product of two f32 is correctly rounded in WGSL: exactly fround(code·s).
      expectExact('code·|s|', withoutTail('out', await h.read(to), rows * K), Array.from(codes, (c) => Math.fround(c * step)));
    });
  }
});

describe('lsqInitStep: 2·mean|x|/√Q_P + 1e-10', () => {
  const cases: [number, number, number][] = [
    // [n, qp, mean]: more than one chunk per thread and not a multiple of anything; a tiny tensor that
    // leaves most threads idle; the INT8 range.
    [100_003, ref.Q_P, 0.3],
    [5, ref.Q_P, -1],
    [4099, ref.INT8_MAX, 2],
  ];
  for (const [n, qp, mean] of cases) {
    it(`n ${n}, Q_P ${qp}`, async () => {
      const rng = new SeededRandom(600 + n);
      const x = roundF32(rng.normalArray(n, 1.7).map((v) => v + mean));
      const tx = h.upload([n], x, 'x');
      const ts = h.empty([1], 'step');
      const d = await buildChecked(h.device, () => lsqInitStep(h.kernels, 'init', tx, ts, n, qp));
      await h.run([d]);
      const step = (await h.read(ts))[0];
      const expected = ref.lsqInitStep(x, qp);
      const err = Math.abs(step - expected) / expected;
      if (process.env.GPU_TEST_REPORT) console.log(`[error] init step: ${err.toExponential(2)}`);
      expect(err, `step ${step} vs ${expected}`).toBeLessThan(2e-6);
    });
  }
});

/** The integer product Σ_k A[m,k]·B[n,k] in JS (exact: far below 2^53). */
function integerProduct(a: Int32Array, b: Int32Array, M: number, N: number, K: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * b[n * K + k];
      c[m * N + n] = s;
    }
  }
  return c;
}

/**
 * |gpu − expected| within f32 rounding: the GPU computes f32(acc)·scale (+ bias) (+ c0), which a compiler
 * may fuse into an fma; allow 2 ULP of the magnitudes involved.
 */
function expectWithinF32Rounding(label: string, gpu: ArrayLike<number>, expected: ArrayLike<number>, magnitude: ArrayLike<number>): void {
  expect(gpu.length, `${label}: length`).toBe(expected.length);
  let bad = -1;
  let worst = 0;
  for (let i = 0; i < gpu.length; i++) {
    const err = Math.abs(gpu[i] - expected[i]) / Math.max(magnitude[i], 1e-30);
    if (!(err <= 2 * 2 ** -23)) {
      bad = i;
      break;
    }
    worst = Math.max(worst, err);
  }
  expect(bad, `${label}: at [${bad}] gpu ${gpu[bad]} vs ${expected[bad]}`).toBe(-1);
  if (process.env.GPU_TEST_REPORT) console.log(`[error] ${label}: ${worst.toExponential(2)} of the magnitude`);
}

describe('intMatmul: C = sA·sB·(Aq·Bqᵀ) + bias, exact i32 accumulation', () => {
  // [M, N, K]: partial 64×64 tiles, K not a multiple of 8 (padding) nor of the 32-value K step, several
  // tiles in each direction, a K step with one word, and a tiny product.
  const shapes: [number, number, number][] = [
    [37, 70, 129],
    [130, 65, 300],
    [200, 130, 77],
    [64, 64, 33],
    [5, 3, 7],
  ];
  for (const path of ['dot4', 'plain'] as IntMatmulPath[]) {
    for (const format of ['int4', 'int8'] as CodeFormat[]) {
      for (const [M, N, K] of shapes) {
        it(`${path}, ${format}: M ${M}, N ${N}, K ${K}`, async () => {
          if (path === 'dot4') expect(capabilities.packed4x8IntegerDotProduct, 'the adapter lacks packed_4x8_integer_dot_product').toBe(true);
          const [lo, hi] = format === 'int4' ? [-8, 8] : [-128, 128];
          const rng = new SeededRandom(700 + M + 3 * N + 7 * K + (format === 'int8' ? 1 : 0) + (path === 'plain' ? 2 : 0));
          const a = rng.intArray(M * K, lo, hi);
          const b = rng.intArray(N * K, lo, hi);
          // Extreme rows: −8·−8 everywhere (the largest sum) and −8·7.
          for (let k = 0; k < K; k++) {
            a[k] = lo;
            b[k] = lo;
            if (N > 1) b[K + k] = hi - 1;
          }
          const words = packedWordsPerRow(K, format);
          const ta = h.upload([M, words], packCodes(a, M, K, format), 'A codes');
          const tb = h.upload([N, words], packCodes(b, N, K, format), 'B codes');
          const one = h.upload([1], [1], 'one');
          const minusOne = h.upload([1], [-1], 'minus one');
          const [sA, sB] = [Math.fround(0.0371), Math.fround(0.0123)];
          const tsA = h.upload([1], [-sA], 'sA'); // stored negative: |s| is used
          const tsB = h.upload([1], [sB], 'sB');
          const bias = normals(rng, N);
          const tbias = h.upload([N], bias, 'bias');
          const cInt = h.empty([M * N + TAIL], 'C integer');
          const cDeq = h.empty([M * N + TAIL], 'C dequantized');
          const ds = await buildChecked(h.device, () => [
            intMatmul(h.kernels, { label: 'int', a: ta, b: tb, stepA: one, stepB: minusOne, c: cInt, M, N, K, format, path }),
            intMatmul(h.kernels, { label: 'deq', a: ta, b: tb, stepA: tsA, stepB: tsB, c: cDeq, M, N, K, format, path, bias: tbias }),
          ]);
          await h.run(ds);
          const product = integerProduct(a, b, M, N, K);
          // Steps of 1: the output is the i32 accumulator itself (exact in f32 below 2^24).
          expectExact('Aq·Bqᵀ', withoutTail('C', await h.read(cInt), M * N), product);
          const scale = Math.fround(Math.fround(1 * sA) * sB);
          const expected = product.map((p, i) => Math.fround(Math.fround(p * scale) + bias[i % N]));
          const magnitude = product.map((p, i) => Math.abs(p * scale) + Math.abs(bias[i % N]));
          expectWithinF32Rounding('sA·sB·Aq·Bqᵀ + bias', withoutTail('C', await h.read(cDeq), M * N), expected, magnitude);
        });
      }
    }
  }

  for (const path of ['dot4', 'plain'] as IntMatmulPath[]) {
    it(`${path}: alpha and accumulate (C = C0 + alpha·sA·sB·Aq·Bqᵀ)`, async () => {
      const [M, N, K] = [67, 71, 45];
      const rng = new SeededRandom(800 + (path === 'plain' ? 1 : 0));
      const a = rng.intArray(M * K, -8, 8);
      const b = rng.intArray(N * K, -8, 8);
      const c0 = normals(rng, M * N, 3);
      const [sA, sB, alpha] = [Math.fround(0.25), Math.fround(0.0625), Math.fround(14)];
      const words = packedWordsPerRow(K, 'int4');
      const ta = h.upload([M, words], packCodes(a, M, K, 'int4'), 'A codes');
      const tb = h.upload([N, words], packCodes(b, N, K, 'int4'), 'B codes');
      const tsA = h.upload([1], [sA], 'sA');
      const tsB = h.upload([1], [sB], 'sB');
      const tc = h.upload([M * N], c0, 'C');
      const d = await buildChecked(h.device, () =>
        intMatmul(h.kernels, { label: 'acc', a: ta, b: tb, stepA: tsA, stepB: tsB, c: tc, M, N, K, path, alpha, accumulate: true }),
      );
      await h.run([d]);
      const product = integerProduct(a, b, M, N, K);
      const scale = alpha * sA * sB; // powers of two times 14: exact
      const expected = product.map((p, i) => Math.fround(p * scale + c0[i]));
      const magnitude = product.map((p, i) => Math.abs(p * scale) + Math.abs(c0[i]));
      expectWithinF32Rounding('C0 + alpha·sA·sB·Aq·Bqᵀ', await h.read(tc), expected, magnitude);
    });
  }

  it('rejects code tensors too small for the shape, and K that could overflow i32', () => {
    const t = h.empty([64], 't');
    expect(() => intMatmul(h.kernels, { label: 'mm', a: t, b: t, stepA: t, stepB: t, c: t, M: 8, N: 8, K: 80, path: 'plain' })).toThrow(/A codes has 64 values, needs 80/);
    expect(() => intMatmul(h.kernels, { label: 'mm', a: t, b: t, stepA: t, stepB: t, c: t, M: 1, N: 1, K: 2 ** 26, path: 'plain' })).toThrow(/overflow/);
  });
});

describe('HQ-MM pieces together: lsqQuantize codes feed intMatmul', () => {
  for (const format of ['int4', 'int8'] as CodeFormat[]) {
    it(`${format}: Y = sX·sW·int(X)·int(W)ᵀ + b with codes and steps never leaving the GPU`, async () => {
      const [M, N, K] = [45, 70, 100];
      const [qn, qp] = format === 'int4' ? [ref.Q_N, ref.Q_P] : [ref.INT8_MAX, ref.INT8_MAX];
      const rng = new SeededRandom(900 + (format === 'int8' ? 1 : 0));
      // Power-of-two steps: v = x/s exact, so the reference codes are the GPU's codes with no tie ambiguity.
      const [sX, sW] = format === 'int4' ? [0.25, 0.125] : [1 / 64, 1 / 128];
      const x = normals(rng, M * K, 4 * sX * (format === 'int4' ? 1 : 20));
      const w = normals(rng, N * K, 4 * sW * (format === 'int4' ? 1 : 20));
      const bias = normals(rng, N);
      const words = packedWordsPerRow(K, format);
      const tx = h.upload([M * K], x, 'x');
      const tw = h.upload([N * K], w, 'w');
      const tsX = h.upload([1], [sX], 'sX');
      const tsW = h.upload([1], [sW], 'sW');
      const tbias = h.upload([N], bias, 'bias');
      const vX = h.empty([M * K], 'vX');
      const vW = h.empty([N * K], 'vW');
      const qX = h.empty([M, words], 'qX');
      const qW = h.empty([N, words], 'qW');
      const ty = h.empty([M * N], 'y');
      const ds = await buildChecked(h.device, () => [
        lsqQuantize(h.kernels, { label: 'qx', x: tx, step: tsX, v: vX, codes: qX, rows: M, K, format }),
        lsqQuantize(h.kernels, { label: 'qw', x: tw, step: tsW, v: vW, codes: qW, rows: N, K, format }),
        intMatmul(h.kernels, { label: 'y', a: qX, b: qW, stepA: tsX, stepB: tsW, c: ty, M, N, K, format, bias: tbias, path: 'plain' }),
      ]);
      await h.run(ds);
      const cx = ref.lsqQuantize(x, sX, qn, qp).codes;
      const cw = ref.lsqQuantize(w, sW, qn, qp).codes;
      expect(count(cx, (c) => c === -qn || c === qp), 'some codes clamp').toBeGreaterThan(0);
      const product = integerProduct(cx, cw, M, N, K);
      const scale = sX * sW; // powers of two: exact
      const expected = product.map((p, i) => Math.fround(p * scale + bias[i % N]));
      const magnitude = product.map((p, i) => Math.abs(p * scale) + Math.abs(bias[i % N]));
      expectWithinF32Rounding('Y', await h.read(ty), expected, magnitude);
    });
  }
});
