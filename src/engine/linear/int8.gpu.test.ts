// The INT8 scheme (linear/int8.ts) and its quantizers (ops/int8.ts) against the float64 reference
// (reference/quant/int8.ts): absmax scales, codes exactly equal to int8Quantize (both packings), stochastic
// codes exactly equal to stochasticInt8 fed the kernels' own draws, and one whole layer end to end, per
// tensor and per row. Packed words are unpacked here by independent code. Outputs are prefilled with NaN
// and allocated with a tail that must stay NaN, so a value (or padding word) a kernel forgets shows.
//
// Exact code comparisons need the f32 x/scale to round like the float64 one: the GPU's scale is the f32
// max/127 and WGSL division may be off by 2.5 ULP, so a value within ~1e−5 of a rounding boundary could
// go either way. Random data is nudged away from the boundaries (avoidTies, avoidFloorTies, margin 1e−4
// on x/scale); the tie tests use scales that are powers of two, where every quotient is exact.
import { beforeAll, describe, expect, it } from 'vitest';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, maxAbs, relativeError, roundF32, count, expectExact } from '../gpu/test-utils';
import { writeTensor } from '../gpu/memory';
import { absmaxPartials, absmaxQuantizeInt8, absmaxScale, absmaxStochasticQuantizeInt8, int8CodeShape, type Int8Scaling, quantizeInt8, scaleCount, stochasticQuantizeInt8 } from '../ops/int8';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import type { Tensor } from '../tensor';
import { INT8_GRADIENT_STREAM_OFFSET, INT8_STREAMS_PER_LAYER, int8Scheme } from './int8';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

const SEED = 4242;
const STEP = 11;
const TAIL = 67;
const NAN_WORD = 0x7fc00000; // the f32 NaN that h.empty writes
/** Distance of x/scale from a rounding boundary below which test data is nudged. */
const MARGIN = 1e-4;

// --- Independent helpers

function transpose(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return t;
}

/** INT8 code j of a code row in bits 8·(j % 4) of word ⌊j/4⌋, two's complement; rows padded with zeros. */
function unpackInt8(words: Uint32Array, codeRows: number, K: number): Int32Array {
  const perRow = Math.ceil(K / 4);
  expect(words.length, 'packed code words').toBe(codeRows * perRow);
  const codes = new Int32Array(codeRows * K);
  let nonzeroPadding = 0;
  for (let r = 0; r < codeRows; r++) {
    for (let j = 0; j < perRow * 4; j++) {
      const byte = (words[r * perRow + (j >> 2)] >>> (8 * (j & 3))) & 0xff;
      const code = byte >= 128 ? byte - 256 : byte;
      if (j < K) codes[r * K + j] = code;
      else if (code !== 0) nonzeroPadding++;
    }
  }
  expect(nonzeroPadding, 'padding codes must be zero').toBe(0);
  return codes;
}

/** A NaN-filled output of n values plus a tail. */
function output(n: number, label: string): Tensor {
  return h.empty([n + TAIL], label);
}

/** The first n words of an output, after checking the tail past them is still NaN. */
async function readWords(t: Tensor, n: number): Promise<Uint32Array> {
  const all = await h.readU32(t);
  expect(count(all.subarray(n), (w) => w === NAN_WORD), `${t.label}: written past its ${n} values`).toBe(TAIL);
  return all.slice(0, n);
}

async function readValues(t: Tensor, n: number): Promise<Float64Array> {
  await readWords(t, n);
  return (await h.read(t)).slice(0, n);
}

/** Float64 scales as int8Quantize computes them: per tensor, per row, or per column (rows of xᵀ). */
function refScales(x: Float64Array, rows: number, cols: number, scaling: Int8Scaling): Float64Array {
  if (scaling === 'column') return ref.int8Quantize(transpose(x, rows, cols), cols, rows, true).scales;
  return ref.int8Quantize(x, rows, cols, scaling === 'row').scales;
}

/**
 * Shrinks values whose x/scale lies within MARGIN of a .5 tie for the tensor's, their row's or their
 * column's scale, until none does (shrinking a maximum changes a scale, so it repeats).
 */
function avoidTies(x: Float64Array, rows: number, cols: number): void {
  for (let round = 0; round < 50; round++) {
    const [st, sr, sc] = (['tensor', 'row', 'column'] as Int8Scaling[]).map((s) => refScales(x, rows, cols, s));
    let changed = 0;
    for (let i = 0; i < x.length; i++) {
      for (const s of [st[0], sr[Math.floor(i / cols)], sc[i % cols]]) {
        if (s === 0) continue;
        const v = Math.abs(x[i]) / s;
        if (Math.abs(v - Math.floor(v) - 0.5) < MARGIN) {
          x[i] = Math.fround(x[i] * 0.8);
          changed++;
          break;
        }
      }
    }
    if (changed === 0) return;
  }
  throw new Error('avoidTies did not settle');
}

/** Shrinks values whose x/s + u lies within MARGIN of an integer (s = max|x|/127), the boundaries of ⌊·⌋. */
function avoidFloorTies(x: Float64Array, u: Float64Array, scale?: number): void {
  for (let round = 0; round < 50; round++) {
    const s = scale ?? maxAbs(x) / ref.INT8_MAX;
    let changed = 0;
    for (let i = 0; i < x.length; i++) {
      const w = x[i] / s + u[i];
      const frac = w - Math.floor(w);
      if (frac < MARGIN || frac > 1 - MARGIN) {
        x[i] = Math.fround(x[i] * 0.8);
        changed++;
      }
    }
    if (changed === 0) return;
  }
  throw new Error('avoidFloorTies did not settle');
}

/** Scales: exactly 0 where the group is all zero, else within 2^−21 of the float64 max/127 (WGSL allows
 *  2.5 ULP for the division; any other element as the maximum would be far off). */
function expectScales(label: string, gpu: Float64Array, expected: Float64Array): void {
  expect(gpu.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < gpu.length; i++) {
    if (expected[i] === 0) expect(gpu[i], `${label}[${i}] of an all-zero group`).toBe(0);
    else expect(Math.abs(gpu[i] - expected[i]) / expected[i], `${label}[${i}]: gpu ${gpu[i]} vs ${expected[i]}`).toBeLessThanOrEqual(2 ** -21);
  }
}

function stepState(seed: number, step: number): Tensor {
  return h.upload([2], new Uint32Array([seed, step]), 'step_state');
}

describe('absmaxScale: scale = max|x|/127 on the GPU', () => {
  // [scaling, rows, cols]: many first-pass workgroups with a strided share each; rows longer than a
  // workgroup; several row chunks and a partial 64-column group.
  const cases: [Int8Scaling, number, number][] = [
    ['tensor', 301, 233],
    ['tensor', 3, 5],
    ['tensor', 300, 4],
    ['row', 37, 300],
    ['column', 1000, 70],
    ['column', 37, 45],
  ];
  for (const [scaling, rows, cols] of cases) {
    it(`${scaling}, [${rows}, ${cols}]`, async () => {
      const rng = new SeededRandom(rows * 7 + cols + scaling.length);
      const x = roundF32(rng.normalArray(rows * cols, 2));
      // Planted maxima of both signs in different rows, chunks and columns, and an all-zero row / column.
      x[rows * cols - 2] = -41.5;
      x[Math.floor(rows / 2) * cols + 1] = 17.25;
      if (scaling === 'row') x.fill(0, 5 * cols, 6 * cols);
      if (scaling === 'column') for (let r = 0; r < rows; r++) x[r * cols + 3] = 0;
      const n = scaleCount(rows, cols, scaling);
      const tx = h.upload([rows * cols], x, 'x');
      const ts = output(n, 'scale');
      const partials = h.empty([Math.max(1, absmaxPartials(rows, cols, scaling))], 'partials');
      const ds = await buildChecked(h.device, () => absmaxScale(h.kernels, { label: 'absmax', x: tx, scale: ts, partials, rows, cols, scaling }));
      await h.run(ds);
      const expected = refScales(x, rows, cols, scaling);
      expect(expected.length).toBe(n);
      if (scaling !== 'tensor') expect(count(expected, (s) => s === 0), 'an all-zero group').toBe(1);
      expectScales('scale', await readValues(ts, n), expected);
    });
  }

  it('rejects a missing or short partials tensor', () => {
    const x = h.empty([1000 * 70], 'x');
    const s = h.empty([70], 's');
    expect(() => absmaxScale(h.kernels, { label: 'a', x, scale: s, partials: null, rows: 1000, cols: 70, scaling: 'column' })).toThrow(/partials/);
    expect(() => absmaxScale(h.kernels, { label: 'a', x, scale: s, partials: h.empty([10], 'p'), rows: 1000, cols: 70, scaling: 'column' })).toThrow(/partials has 10 values/);
  });
});

/** Runs absmaxScale then quantizeInt8 on x; returns the GPU scales and the unpacked codes. */
async function gpuQuantize(x: Float64Array, rows: number, cols: number, scaling: Int8Scaling, transposed: boolean) {
  const n = scaleCount(rows, cols, scaling);
  const [codeRows, words] = int8CodeShape(rows, cols, transposed);
  const tx = h.upload([rows * cols], x, 'x');
  const ts = output(n, 'scale');
  const tc = output(codeRows * words, 'codes');
  const partials = h.empty([Math.max(1, absmaxPartials(rows, cols, scaling))], 'partials');
  const ds = await buildChecked(h.device, () => [
    ...absmaxScale(h.kernels, { label: 'absmax', x: tx, scale: ts, partials, rows, cols, scaling }),
    quantizeInt8(h.kernels, { label: 'quantize', x: tx, scale: ts, codes: tc, rows, cols, perRow: scaling !== 'tensor', transposed }),
  ]);
  await h.run(ds);
  return { scales: await readValues(ts, n), codes: unpackInt8(await readWords(tc, codeRows * words), codeRows, transposed ? rows : cols) };
}

describe('quantizeInt8: codes exactly equal to int8Quantize, packed along K', () => {
  for (const perRow of [false, true]) {
    it(`${perRow ? 'per row' : 'per tensor'}: ties at k + 0.5 go away from zero, the maximum maps to ±127, [37, 45] (padding)`, async () => {
      const [rows, cols] = [37, 45];
      const rng = new SeededRandom(perRow ? 11 : 12);
      // Each row (or the tensor) gets a power-of-two scale 2^−e and x = v·2^−e, so x/scale = v exactly.
      const exponent = (r: number) => (perRow ? 2 + (r % 5) : 3);
      const x = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < cols; j++) {
          let v: number;
          if (j % 5 === 0) v = (rng.int(-127, 127) + 0.5) * (rng.uniform() < 0.5 ? -1 : 1); // ties ±(k + 0.5)
          else v = Math.fround(rng.uniform(-126.9, 126.9));
          x[r * cols + j] = Math.fround(v * 2 ** -exponent(r));
        }
        if (perRow || r === 0) x[r * cols + 7] = (r % 2 ? -127 : 127) * 2 ** -exponent(r); // the maximum
      }
      if (perRow) x.fill(0, 9 * cols, 10 * cols); // a zero row: scale 0, codes 0
      const expected = ref.int8Quantize(x, rows, cols, perRow);
      expect(count(x, (xi, i) => Math.abs(xi / expected.scales[perRow ? Math.floor(i / cols) : 0]) % 1 === 0.5), 'ties').toBeGreaterThan(300);
      const { scales, codes } = await gpuQuantize(x, rows, cols, perRow ? 'row' : 'tensor', false);
      // The exact quotient 127·2^−e / 127 must come out exact for the ties to be ties on the GPU too.
      expectExact('scales', scales, expected.scales);
      expectExact('codes', codes, expected.codes);
    });

    it(`${perRow ? 'per row' : 'per tensor'}: random x with scales that are not powers of two, [70, 45]`, async () => {
      const [rows, cols] = [70, 45];
      const rng = new SeededRandom(perRow ? 21 : 22);
      const x = roundF32(rng.normalArray(rows * cols, 0.7));
      for (let r = 0; r < rows; r += 6) for (let j = 0; j < cols; j++) x[r * cols + j] *= 9; // loud rows
      avoidTies(x, rows, cols);
      const expected = ref.int8Quantize(x, rows, cols, perRow);
      const { scales, codes } = await gpuQuantize(x, rows, cols, perRow ? 'row' : 'tensor', false);
      expectScales('scales', scales, expected.scales);
      expectExact('codes', codes, expected.codes);
      expect(count(codes, (c) => Math.abs(c) === 127), 'codes at ±127').toBeGreaterThanOrEqual(perRow ? rows : 1);
    });
  }
});

describe('quantizeInt8, transposed: code row k = column k of x, packed along the rows (the backward operands)', () => {
  for (const perRow of [false, true]) {
    it(`${perRow ? 'per column' : 'per tensor'}: codes of xᵀ equal int8Quantize(xᵀ), [37, 45] (37 → 10 words, 3 padding codes)`, async () => {
      const [rows, cols] = [37, 45];
      const rng = new SeededRandom(perRow ? 31 : 32);
      const x = roundF32(rng.normalArray(rows * cols, 1.3));
      for (let r = 0; r < rows; r++) x[r * cols + 4] *= 12; // an outlier feature
      if (perRow) for (let r = 0; r < rows; r++) x[r * cols + 8] = 0; // a zero column: scale 0, codes 0
      avoidTies(x, rows, cols);
      const expected = ref.int8Quantize(transpose(x, rows, cols), cols, rows, perRow);
      const { scales, codes } = await gpuQuantize(x, rows, cols, perRow ? 'column' : 'tensor', true);
      expectScales('scales', scales, expected.scales);
      expectExact('codes of xᵀ', codes, expected.codes);
      if (!perRow) {
        // Per tensor the transposed codes are the forward's codes, transposed.
        const forward = await gpuQuantize(x, rows, cols, 'tensor', false);
        expectExact('transpose of the row-packed codes', codes, transpose(forward.codes, rows, cols));
      }
    });
  }
});

describe('stochasticQuantizeInt8: codes exactly equal to stochasticInt8 with the kernels\' draws', () => {
  it('∇Y [37, 70], both packings, scale max|∇Y|/127 from absmaxScale', async () => {
    const [rows, cols, stream] = [37, 70, 3 * 4 + 3];
    const rng = new SeededRandom(41);
    const dy = roundF32(rng.normalArray(rows * cols, 0.01).map((v, i) => (Math.floor(i / cols) % 7 === 0 ? v * 30 : v)));
    const u = ref.uniformDraws(SEED, stream, STEP, rows * cols);
    avoidFloorTies(dy, u);
    const scale = maxAbs(dy) / ref.INT8_MAX;
    const expected = ref.stochasticInt8(dy, scale, u);
    const nearest = ref.int8Quantize(dy, rows, cols, false).codes;
    // Stochastic rounding differs from round-to-nearest in a good share of the codes.
    expect(count(expected, (c, i) => c !== nearest[i]), 'codes that differ from nearest').toBeGreaterThan(0.2 * rows * cols);

    const tdy = h.upload([rows * cols], dy, 'dy');
    const ts = output(1, 'scale');
    const [, words] = int8CodeShape(rows, cols);
    const [, wordsT] = int8CodeShape(rows, cols, true);
    const tc = output(rows * words, 'codes');
    const tct = output(cols * wordsT, 'codes_t');
    const ss = stepState(SEED, STEP);
    const ds = await buildChecked(h.device, () => [
      ...absmaxScale(h.kernels, { label: 'absmax', x: tdy, scale: ts, partials: h.empty([absmaxPartials(rows, cols, 'tensor')], 'p'), rows, cols, scaling: 'tensor' }),
      stochasticQuantizeInt8(h.kernels, { label: 'sq', x: tdy, scale: ts, stepState: ss, stream, codes: tc, rows, cols }),
      stochasticQuantizeInt8(h.kernels, { label: 'sq_t', x: tdy, scale: ts, stepState: ss, stream, codes: tct, rows, cols, transposed: true }),
    ]);
    await h.run(ds);
    expectScales('scale', await readValues(ts, 1), Float64Array.of(scale));
    expectExact('codes', unpackInt8(await readWords(tc, rows * words), rows, cols), expected);
    expectExact('codes of ∇Yᵀ', unpackInt8(await readWords(tct, cols * wordsT), cols, rows), transpose(expected, rows, cols));
  });

  it('both quantizers clamp to ±127 where x/scale goes past it (a scale below max/127, uploaded)', async () => {
    // Absmax scales clamp only where f32 rounding puts max/scale a hair past 127; this makes it bite.
    const [rows, cols, stream] = [13, 37, 9];
    const scale = 2 ** -6; // exact quotients
    const rng = new SeededRandom(45);
    const x = roundF32(rng.normalArray(rows * cols, 127 * scale));
    const u = ref.uniformDraws(SEED, stream, STEP, rows * cols);
    avoidFloorTies(x, u, scale);
    const nearest = ref.lsqQuantize(x, scale, ref.INT8_MAX, ref.INT8_MAX).codes; // int8Quantize's rounding, any scale
    const stochastic = ref.stochasticInt8(x, scale, u);
    expect(count(x, (v) => Math.abs(v / scale) > 128), 'values past the range').toBeGreaterThan(0.2 * rows * cols);
    const tx = h.upload([rows * cols], x, 'x');
    const ts = h.upload([1], [scale], 'scale');
    const [, words] = int8CodeShape(rows, cols);
    const tn = output(rows * words, 'nearest');
    const tst = output(rows * words, 'stochastic');
    const ds = await buildChecked(h.device, () => [
      quantizeInt8(h.kernels, { label: 'q', x: tx, scale: ts, codes: tn, rows, cols, perRow: false }),
      stochasticQuantizeInt8(h.kernels, { label: 'sq', x: tx, scale: ts, stepState: stepState(SEED, STEP), stream, codes: tst, rows, cols }),
    ]);
    await h.run(ds);
    expectExact('nearest codes', unpackInt8(await readWords(tn, rows * words), rows, cols), nearest);
    expectExact('stochastic codes', unpackInt8(await readWords(tst, rows * words), rows, cols), stochastic);
  });

  it('an all-zero ∇Y gives scale 0 and zero codes (no NaN)', async () => {
    const [rows, cols] = [5, 9];
    const tdy = h.upload([rows * cols], new Float64Array(rows * cols), 'dy');
    const ts = output(1, 'scale');
    const [, words] = int8CodeShape(rows, cols);
    const tc = output(rows * words, 'codes');
    const ds = await buildChecked(h.device, () => [
      ...absmaxScale(h.kernels, { label: 'absmax', x: tdy, scale: ts, partials: h.empty([1], 'p'), rows, cols, scaling: 'tensor' }),
      stochasticQuantizeInt8(h.kernels, { label: 'sq', x: tdy, scale: ts, stepState: stepState(1, 2), stream: 3, codes: tc, rows, cols }),
    ]);
    await h.run(ds);
    expectExact('scale', await readValues(ts, 1), [0]);
    expectExact('codes', unpackInt8(await readWords(tc, rows * words), rows, cols), new Int32Array(rows * cols));
  });
});

describe('absmaxScale per tensor over 16-byte vectors (rows·cols a multiple of 4)', () => {
  it('the largest |x| found in each of the four loads of a round and in the tail, [1100, 1024]', async () => {
    // 281,600 vectors; 256 workgroups × 256 threads stride 65,536 vectors: a round loads i, i + 65,536,
    // i + 2·65,536, i + 3·65,536; the tail takes i + 4·65,536.
    const [rows, cols] = [1100, 1024];
    const n = rows * cols;
    const stride = 4 * 256 * 256;
    const base = roundF32(new SeededRandom(5).normalArray(n, 0.5)).map((v) => Math.max(-2, Math.min(2, v)));
    const tx = h.upload([n], base, 'x');
    const ts = output(1, 'scale');
    const partials = h.empty([absmaxPartials(rows, cols, 'tensor')], 'partials');
    const ds = await buildChecked(h.device, () => absmaxScale(h.kernels, { label: 'absmax', x: tx, scale: ts, partials, rows, cols, scaling: 'tensor' }));
    for (const [round, lane] of [[0, 3], [1, 0], [2, 1], [3, 2], [4, 3]]) {
      const x = Float32Array.from(base);
      x[round * stride + 4 * 1000 + lane] = -12.7;
      writeTensor(h.device, tx, x);
      await h.run(ds);
      expectScales(`scale, max planted in load ${round}, lane ${lane}`, await readValues(ts, 1), refScales(Float64Array.from(x), rows, cols, 'tensor'));
    }
  });
});

describe('the absmax\'s second pass folded into the quantize pass (two dispatches instead of three)', () => {
  for (const [rows, cols, transposed] of [[37, 70, false], [300, 257, true]] as const) {
    it(`[${rows}, ${cols}]${transposed ? ', transposed' : ''}: the same scale and codes as absmaxScale + quantizeInt8 / stochasticQuantizeInt8`, async () => {
      const rng = new SeededRandom(47 + rows);
      const x = roundF32(rng.normalArray(rows * cols, 0.3));
      x[rows * cols - 5] = -9.5; // the largest |x| near the end: in the last partial maximum
      const tx = h.upload([rows * cols], x, 'x');
      const [codeRows, words] = int8CodeShape(rows, cols, transposed);
      const partialCount = absmaxPartials(rows, cols, 'tensor');
      const stream = 21;
      const ss = stepState(SEED, STEP);
      const run = async (folded: boolean) => {
        const scale = output(1, 'scale');
        const nearest = output(codeRows * words, 'nearest');
        const stochastic = output(codeRows * words, 'stochastic');
        const partials = h.empty([partialCount], 'partials');
        const common = { x: tx, scale, partials, rows, cols, transposed };
        const ds = await buildChecked(h.device, () => folded
          ? [
              ...absmaxQuantizeInt8(h.kernels, { label: 'q', ...common, codes: nearest }),
              ...absmaxStochasticQuantizeInt8(h.kernels, { label: 'sq', ...common, codes: stochastic, stepState: ss, stream }),
            ]
          : [
              ...absmaxScale(h.kernels, { label: 'absmax', x: tx, scale, partials, rows, cols, scaling: 'tensor' }),
              quantizeInt8(h.kernels, { label: 'q', x: tx, scale, codes: nearest, rows, cols, perRow: false, transposed }),
              stochasticQuantizeInt8(h.kernels, { label: 'sq', x: tx, scale, codes: stochastic, stepState: ss, stream, rows, cols, transposed }),
            ]);
        await h.run(ds);
        return { scale: await readValues(scale, 1), nearest: await readWords(nearest, codeRows * words), stochastic: await readWords(stochastic, codeRows * words) };
      };
      const folded = await run(true);
      const separate = await run(false);
      expectExact('scale', folded.scale, separate.scale);
      expect(folded.scale[0]).toBe(Math.fround(9.5 / 127));
      expectExact('nearest codes', folded.nearest, separate.nearest);
      expectExact('stochastic codes', folded.stochastic, separate.stochastic);
      // And against the reference (nearest codes: exact quotients are not needed, x/scale is the same f32).
      const expectedNearest = ref.int8Quantize(x, rows, cols, false).codes;
      const codes = unpackInt8(folded.nearest, codeRows, transposed ? rows : cols);
      expectExact('nearest vs int8Quantize', codes, transposed ? transpose(expectedNearest, rows, cols) : expectedNearest);
    });
  }
});

describe('int8 linear layer end to end vs the reference with the exact draws', () => {
  for (const perRow of [false, true]) {
    it(`${perRow ? 'per row' : 'per tensor'}: Y, ∇X, ∇W, ∇b (N 37, D 45, C 70)`, async () => {
      const [N, D, C, index] = [37, 45, 70, 3];
      const stream = index * INT8_STREAMS_PER_LAYER + INT8_GRADIENT_STREAM_OFFSET;
      const rng = new SeededRandom(perRow ? 51 : 52);
      const x = roundF32(rng.normalArray(N * D, 1));
      for (let n = 0; n < N; n++) x[n * D + 5] *= 15; // an outlier feature
      for (let n = 0; n < N; n += 8) for (let d = 0; d < D; d++) x[n * D + d] *= 6; // loud tokens
      x.fill(0, 4 * D, 5 * D); // an all-zero token row
      for (let n = 0; n < N; n++) x[n * D + 7] = 0; // an all-zero feature column
      const w = roundF32(rng.normalArray(C * D, 0.1));
      w.fill(0, 9 * D, 10 * D); // an all-zero output row
      const b = roundF32(rng.normalArray(C, 0.1));
      const dy = roundF32(rng.normalArray(N * C, 0.01).map((v, i) => (Math.floor(i / C) % 9 === 0 ? v * 40 : v)));
      avoidTies(x, N, D);
      avoidTies(w, C, D);
      const u = ref.uniformDraws(SEED, stream, STEP, N * C);
      avoidFloorTies(dy, u);

      const scheme = int8Scheme({ perRow });
      expect(scheme.precision).toBe('int8');
      expect(scheme.usesLossScaling).toBe(false);
      expect(scheme.extraParameters({ name: 'layer', inFeatures: D, outFeatures: C })).toEqual([]);
      expect(scheme.kernelPath({ packed4x8IntegerDotProduct: true })).toMatch(/dot4I8Packed/);
      expect(scheme.kernelPath({})).toMatch(/plain integer/);
      const t = {
        x: h.upload([N, D], x, 'x'),
        w: h.upload([C, D], w, 'w'),
        b: h.upload([C], b, 'b'),
        y: h.empty([N, C], 'y'),
        dy: h.upload([N, C], dy, 'dy'),
        dx: h.empty([N, D], 'dx'),
        dw: h.empty([C, D], 'dw'),
        db: h.empty([C], 'db'),
        stepState: stepState(SEED, STEP),
      };
      const layer = await buildChecked(h.device, () =>
        scheme.build(h.kernels, { name: 'layer', rows: N, inFeatures: D, outFeatures: C, ...t, index }, {}),
      );
      expect(layer.firstForward).toBeUndefined();
      await h.run([...layer.forward, ...layer.backward]);

      // --- forward: Y = dequantized codes of X and W, per tensor or per row
      const qx = ref.int8Quantize(x, N, D, perRow);
      const qw = ref.int8Quantize(w, C, D, perRow);
      const xq = ref.int8Dequantize(qx.codes, qx.scales, N, D);
      const wq = ref.int8Dequantize(qw.codes, qw.scales, C, D);
      const y = ref.linearForward(xq, wq, b, N, D, C);
      const TOL = 1e-6; // exact integer products, f32 scales: ~1e−7 measured
      expectClose('Y', await h.read(t.y), y, TOL, 0);
      // The check can tell quantized from f32, and per row from per tensor.
      expect(relativeError(ref.linearForward(x, w, b, N, D, C), y, 0), 'Y: f32 vs int8').toBeGreaterThan(100 * TOL);
      const other = (m: Float64Array, r: number, c: number) => {
        const q = ref.int8Quantize(m, r, c, !perRow);
        return ref.int8Dequantize(q.codes, q.scales, r, c);
      };
      expect(relativeError(ref.linearForward(other(x, N, D), other(w, C, D), b, N, D, C), y, 0), 'Y: per row vs per tensor').toBeGreaterThan(100 * TOL);

      // --- backward: ∇Y stochastically rounded per tensor with stream index·4 + 3; the operands packed
      // along the reduction: per tensor the forward's codes, per row one scale per column d of X and W.
      const sG = maxAbs(dy) / ref.INT8_MAX;
      const g = Float64Array.from(ref.stochasticInt8(dy, sG, u), (c) => c * sG);
      const alongColumns = (m: Float64Array, r: number, c: number) => {
        const q = ref.int8Quantize(transpose(m, r, c), c, r, true);
        return transpose(ref.int8Dequantize(q.codes, q.scales, c, r), c, r);
      };
      const xb = perRow ? alongColumns(x, N, D) : xq;
      const wb = perRow ? alongColumns(w, C, D) : wq;
      const grads = ref.linearBackward(g, xb, wb, N, D, C, false);
      if (perRow) {
        // Per row, the backward operands are not the forward's codes (nor per-tensor ones).
        const fromForward = ref.linearBackward(g, xq, wq, N, D, C, false);
        expect(relativeError(fromForward.dx, grads.dx, 0), '∇X: forward row codes vs column codes').toBeGreaterThan(100 * TOL);
        expect(relativeError(fromForward.dw, grads.dw, 0), '∇W: forward row codes vs column codes').toBeGreaterThan(100 * TOL);
        const perTensor = ref.linearBackward(g, other(x, N, D), other(w, C, D), N, D, C, false);
        expect(relativeError(perTensor.dx, grads.dx, 0), '∇X: per tensor vs per column').toBeGreaterThan(100 * TOL);
        expect(relativeError(perTensor.dw, grads.dw, 0), '∇W: per tensor vs per column').toBeGreaterThan(100 * TOL);
      }
      expectClose('∇X', await h.read(t.dx), grads.dx, TOL, 0);
      expectClose('∇W', await h.read(t.dw), grads.dw, TOL, 0);
      // The all-zero feature column of X has a zero ∇W column, exactly.
      const dw = await h.read(t.dw);
      expect(count(dw, (v, i) => i % D === 7 && v !== 0), '∇W of the zero feature').toBe(0);
      // Nearest rounding of ∇Y (or no quantization) would be caught.
      const gNearest = Float64Array.from(ref.int8Quantize(dy, N, C, false).codes, (c) => c * sG);
      expect(relativeError(ref.linearBackward(gNearest, xb, wb, N, D, C, false).dw, grads.dw, 0), '∇W: nearest vs stochastic').toBeGreaterThan(100 * TOL);
      expect(relativeError(ref.linearBackward(dy, xb, wb, N, D, C, false).dx, grads.dx, 0), '∇X: f32 ∇Y vs int8').toBeGreaterThan(100 * TOL);
      // ∇b stays the exact f32 column sum of ∇Y.
      expectClose('∇b', await h.read(t.db), ref.linearBackward(dy, x, w, N, D, C, true).db!, 1e-5, 0);
    });
  }
});
