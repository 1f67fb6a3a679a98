// The INT4 backward kernels (ops/lss.ts: bit split, leverage-score sampling, LSQ backward) against the
// float64 reference (reference/quant: bitsplit.ts, lss.ts, lsq.ts) fed exactly the GPU's draws
// (reference/random.ts, the JS twin of random.wgsl). Integer codes are compared exactly; float results
// relative to the tensor's largest value. Outputs are prefilled with NaN (and TAIL extra values that must
// stay NaN), inputs are seeded, shapes are odd (N 37, C 70, D 45, and sizes past one reduction tile).
//
// Exactness of the codes: the GPU computes t = ∇Y·scale1 in f32, the reference in float64, so an element
// whose t/14 or t − 14·hi + u − 0.5 lies within ~1e-5 of a rounding tie could round differently for
// reasons that have nothing to do with the kernel. Test gradients are drawn with a margin of 2e-4 around
// every tie (given the known draws); the exact ties themselves are tested where t is exact in f32 too.
import { beforeAll, describe, expect, it } from 'vitest';
import { type Dispatch } from '../gpu/kernels';
import { writeTensor } from '../gpu/memory';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, roundF32, count, expectExact, TAIL, withoutTail } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { Tensor } from '../tensor';
import {
  LSS_STREAM_OFFSET,
  type LssVariant,
  REDUCTION_PARTIALS,
  bitSplit,
  codeRowNorms,
  lsqBackward,
  lsqDequantize,
  lssCombine,
  lssProbabilities,
  randomDraws,
  reductionPartials,
  splitRowNorms,
} from './lss';
import { matmul } from './matmul';
import { splitCodeShape } from './intgrad';
import { relativeError } from './stats';

/** f32 results vs float64, relative to the largest reference value. */
const TOL = 1e-5;
/** Distance from a rounding tie (in units of t) that f32 vs float64 differences cannot cross. */
const TIE_MARGIN = 2e-4;

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});


/** Strictly relative closeness (no absolute floor): ≤ tol·max|ref|. */
function expectRelative(label: string, gpu: ArrayLike<number>, expected: ArrayLike<number>, tol = TOL): number {
  return expectClose(label, gpu, expected, tol, 1e-30, 1e-30);
}

/** Distance of x from the nearest half-integer k + 0.5. */
function tieDistance(x: number): number {
  return Math.abs((Math.abs(x) % 1) - 0.5);
}

function stepStateTensor(seed: number, step: number): Tensor {
  return h.upload([2], new Uint32Array([seed, step]), 'step_state');
}

interface GradientShape {
  rows: number;
  cols: number;
  /** Rows of ∇Y that are exactly zero (structural sparsity: the 'bitsplit' variant drops them). */
  zeroRows?: number[];
  /** Rows with a large norm (the paper's Fig. 2: a few tokens carry most of the gradient). */
  bigRows?: number[];
  /** Where the largest |∇Y| sits (its value is −largest). */
  maxAt?: number;
  largest?: number;
}

/**
 * ∇Y with structural sparsity, every element drawn away from the rounding ties of the bit split for
 * the given draws u (so float64 and f32 agree on every code).
 */
function gradient(rng: SeededRandom, s: GradientShape, u: Float64Array): Float64Array {
  const { rows, cols } = s;
  const largest = s.largest ?? 3;
  const maxAt = s.maxAt ?? (s.bigRows?.[0] ?? 0) * cols + 3;
  const scale1 = 98 / largest;
  const g = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    if (s.zeroRows?.includes(r)) continue;
    const std = s.bigRows?.includes(r) ? 1 : 0.2;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (i === maxAt) continue;
      for (;;) {
        const x = Math.fround(std * rng.normal());
        if (Math.abs(x) >= 0.99 * largest) continue;
        const t = x * scale1;
        if (tieDistance(t / 14) < TIE_MARGIN / 14) continue;
        const hi = ref.roundHalfAwayFromZero(t / 14);
        const clampedHi = Math.max(-6, Math.min(6, hi));
        if (tieDistance(t - 14 * clampedHi + u[i] - 0.5) < TIE_MARGIN) continue;
        g[i] = x;
        break;
      }
    }
  }
  g[maxAt] = -largest;
  return g;
}

describe('bitSplit (paper §4, spec §3.2): codes exactly equal the reference fed the same draws', () => {
  const cases: (GradientShape & { seed: number; stream: number; step: number })[] = [
    // N 37, C 70: a few large rows, zero rows; one max-reduction workgroup.
    { rows: 37, cols: 70, zeroRows: [0, 5, 36], bigRows: [2, 11, 30], seed: 17, stream: 9, step: 3 },
    // 77,100 values: 256 partial maxima, each workgroup striding over several tiles; the max near the end.
    { rows: 300, cols: 257, zeroRows: [7], bigRows: [1, 150, 299], maxAt: 299 * 257 + 250, seed: 4242, stream: 30, step: 1234567 },
    // 1,126,400 values (a multiple of 4): the max over 16-byte vectors, past the four-loads-per-thread loop
    // into its tail; the max in the third load of a thread's first round.
    { rows: 1100, cols: 1024, zeroRows: [3], bigRows: [0, 600], maxAt: 4 * (2 * 65536 + 77) + 2, seed: 77, stream: 5, step: 9 },
  ];
  for (const c of cases) {
    it(`N ${c.rows}, C ${c.cols}: hi, lo and splitState`, async () => {
      const n = c.rows * c.cols;
      const u = ref.uniformDraws(c.seed, c.stream + LSS_STREAM_OFFSET.bitSplit, c.step, n);
      const g = gradient(new SeededRandom(c.seed), c, u);
      const expected = ref.bitSplit(g, u);
      // The data exercise what the test claims: both clamps, nonzero low codes, zero rows.
      expect(count(expected.hi, (q) => Math.abs(q) === 6), 'hi codes at the clamp').toBeGreaterThan(0);
      expect(count(expected.lo, (q) => q !== 0), 'nonzero lo codes').toBeGreaterThan(n / 10);
      expect(count(expected.lo, (q) => Math.abs(q) === 6), 'lo codes at the clamp').toBeGreaterThan(0);

      const tdy = h.upload([n], g, 'dy');
      const thi = h.empty([n + TAIL], 'hi');
      const tlo = h.empty([n + TAIL], 'lo');
      const tstate = h.empty([4 + TAIL], 'splitState');
      const tpartials = h.empty([REDUCTION_PARTIALS], 'partials');
      const ds = await buildChecked(h.device, () =>
        bitSplit(h.kernels, { label: 'split', dy: tdy, hi: thi, lo: tlo, splitState: tstate, stepState: stepStateTensor(c.seed, c.step), stream: c.stream, partials: tpartials, rows: c.rows, cols: c.cols }),
      );
      expect(ds.length).toBe(3);
      await h.run(ds);
      expectExact('hi', withoutTail('hi', await h.read(thi), n), expected.hi);
      expectExact('lo', withoutTail('lo', await h.read(tlo), n), expected.lo);
      const state = withoutTail('splitState', await h.read(tstate), 4);
      expect(state[0], 'max|∇Y|').toBe(3);
      expect(state[3]).toBe(0);
      expectRelative('[s↑, s↓]', state.subarray(1, 3), [expected.scaleHi, expected.scaleLo], 1e-6);
      if (n > 256 * 256) expect(reductionPartials(n)).toBe(REDUCTION_PARTIALS);
    });
  }

  it('ties: t/14 at k + 0.5 rounds away from zero (both signs), and t − 14·hi + u − 0.5 = −0.5 gives −1', async () => {
    // max|∇Y| = 98: scale1 = 1, t = ∇Y exactly.
    const [rows, cols, seed, stream, step] = [3, 41, 5, 2, 77];
    const n = rows * cols;
    const u = ref.uniformDraws(seed, stream, step, n);
    const g = new Float64Array(n);
    g[0] = 98;
    const hiTies = [7, -7, 21, -21, 35, -35, 63, -63, 77, -77, 91, -91];
    hiTies.forEach((t, j) => (g[1 + j] = t));
    // t = −u_i (exact in f32 for u_i < 0.5): hi = 0, residual + u − 0.5 = −0.5 exactly → −1 (half-even: 0).
    let loTies = 0;
    for (let i = 1 + hiTies.length; i < n; i++) {
      if (u[i] < 0.5) {
        g[i] = -u[i];
        loTies++;
      } else {
        g[i] = Math.fround(0.3 * Math.sin(i)); // ordinary values (margin checked below)
        expect(tieDistance(g[i] + u[i] - 0.5)).toBeGreaterThan(TIE_MARGIN);
      }
    }
    expect(roundF32(g), 'the inputs are f32 values').toEqual(g);
    expect(loTies).toBeGreaterThan(20);
    const expected = ref.bitSplit(g, u);
    expect(Array.from(expected.hi.subarray(1, 1 + hiTies.length))).toEqual([1, -1, 2, -2, 3, -3, 5, -5, 6, -6, 6, -6]);
    for (let i = 1 + hiTies.length; i < n; i++) if (u[i] < 0.5) expect(expected.lo[i]).toBe(-1);

    const tdy = h.upload([n], g, 'dy');
    const thi = h.empty([n], 'hi');
    const tlo = h.empty([n], 'lo');
    const tstate = h.empty([4], 'splitState');
    const ds = await buildChecked(h.device, () =>
      bitSplit(h.kernels, { label: 'split', dy: tdy, hi: thi, lo: tlo, splitState: tstate, stepState: stepStateTensor(seed, step), stream, partials: h.empty([1], 'p'), rows, cols }),
    );
    await h.run(ds);
    expectExact('hi', await h.read(thi), expected.hi);
    expectExact('lo', await h.read(tlo), expected.lo);
    expect(Array.from(await h.read(tstate))).toEqual([98, 14, 1, 0]);
  });

  it('max|∇Y| over 16-byte vectors: the largest value found in each of the four loads of a round and in the tail', async () => {
    // 1,126,400 values: 281,600 vectors; 256 workgroups × 256 threads stride 65,536 vectors, so a thread's
    // round loads vectors i, i + 65,536, i + 2·65,536, i + 3·65,536 and the tail takes i + 4·65,536.
    const [rows, cols] = [1100, 1024];
    const n = rows * cols;
    const stride = 4 * REDUCTION_PARTIALS * 256;
    const base = roundF32(new SeededRandom(12).normalArray(n, 0.5)).map((x) => Math.max(-2, Math.min(2, x)));
    const tdy = h.upload([n], base, 'dy');
    const tstate = h.empty([4], 'splitState');
    const ds = await buildChecked(h.device, () =>
      bitSplit(h.kernels, { label: 'split', dy: tdy, hi: h.empty([n], 'hi'), lo: h.empty([n], 'lo'), splitState: tstate, stepState: stepStateTensor(3, 4), stream: 1, partials: h.empty([REDUCTION_PARTIALS], 'p'), rows, cols }),
    );
    for (const [round, lane] of [[0, 0], [1, 1], [2, 2], [3, 3], [4, 1]]) {
      const at = round * stride + 4 * 300 + lane;
      const dy = Float32Array.from(base);
      dy[at] = -7.5;
      writeTensor(h.device, tdy, dy);
      await h.run(ds);
      expect((await h.read(tstate))[0], `max|∇Y| planted in load ${round}, lane ${lane}`).toBe(7.5);
    }
  });

  it('an all-zero ∇Y gives zero codes and zero scales, no NaN', async () => {
    const [rows, cols] = [37, 70];
    const n = rows * cols;
    const thi = h.empty([n], 'hi');
    const tlo = h.empty([n], 'lo');
    const tstate = h.empty([4], 'splitState');
    const ds = await buildChecked(h.device, () =>
      bitSplit(h.kernels, { label: 'split', dy: h.upload([n], new Float64Array(n), 'dy'), hi: thi, lo: tlo, splitState: tstate, stepState: stepStateTensor(1, 2), stream: 0, partials: h.empty([REDUCTION_PARTIALS], 'p'), rows, cols }),
    );
    await h.run(ds);
    expectExact('hi', await h.read(thi), new Float64Array(n));
    expectExact('lo', await h.read(tlo), new Float64Array(n));
    expectExact('splitState', await h.read(tstate), [0, 0, 0, 0]);
    const scores = h.empty([2 * rows], 'scores');
    await h.run([splitRowNorms(h.kernels, { label: 'norms', hi: thi, lo: tlo, splitState: tstate, scores, rows, cols })]);
    expectExact('scores', await h.read(scores), new Float64Array(2 * rows));
  });

  it('the draws follow step_state: rewriting the step (as the trainer does) changes lo, not hi', async () => {
    const [rows, cols, seed, stream] = [37, 70, 99, 6];
    const n = rows * cols;
    const steps = [5, 6];
    const draws = steps.map((s) => ref.uniformDraws(seed, stream, s, n));
    // Margins for both steps' draws: redraw until an element is clear of the ties under both.
    const rng = new SeededRandom(31);
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (;;) {
        const x = Math.fround(rng.normal());
        const t = (x * 98) / 4;
        const hi = Math.max(-6, Math.min(6, ref.roundHalfAwayFromZero(t / 14)));
        if (Math.abs(x) < 3.9 && tieDistance(t / 14) > TIE_MARGIN && draws.every((u) => tieDistance(t - 14 * hi + u[i] - 0.5) > TIE_MARGIN)) {
          g[i] = x;
          break;
        }
      }
    }
    g[100] = 4;
    const stepState = stepStateTensor(seed, steps[0]);
    const thi = h.empty([n], 'hi');
    const tlo = h.empty([n], 'lo');
    const ds = await buildChecked(h.device, () =>
      bitSplit(h.kernels, { label: 'split', dy: h.upload([n], g, 'dy'), hi: thi, lo: tlo, splitState: h.empty([4], 's'), stepState, stream, partials: h.empty([REDUCTION_PARTIALS], 'p'), rows, cols }),
    );
    const results: { hi: Float64Array; lo: Float64Array }[] = [];
    for (const [j, step] of steps.entries()) {
      writeTensor(h.device, stepState, new Uint32Array([seed, step]));
      await h.run(ds);
      const out = { hi: await h.read(thi), lo: await h.read(tlo) };
      const expected = ref.bitSplit(g, draws[j]);
      expectExact(`hi, step ${step}`, out.hi, expected.hi);
      expectExact(`lo, step ${step}`, out.lo, expected.lo);
      results.push(out);
    }
    expectExact('hi does not depend on the draws', results[1].hi, results[0].hi);
    expect(count(results[0].lo, (q, i) => q !== results[1].lo[i]), 'lo codes that changed with the step').toBeGreaterThan(n / 5);
  });
});

describe('random draws on the GPU (random.wgsl) vs uniformDraw', () => {
  it('u_i for (seed, stream, step) match the JS twin, and seed, stream and step each change them', async () => {
    const n = 70_001;
    const stepState = stepStateTensor(123, 456);
    const out = h.empty([n + TAIL], 'u');
    await h.run([await buildChecked(h.device, () => randomDraws(h.kernels, 'draws', stepState, 7, out, n))]);
    const gpu = withoutTail('u', await h.read(out), n);
    const js = ref.uniformDraws(123, 7, 456, n);
    // 23 random bits: (k + 0.5)/2^23 is exact in f32, so the GPU's draws equal the JS twin bit for bit.
    expect(count(gpu, (v, i) => v !== js[i]), 'GPU draws that differ from the JS twin').toBe(0);
    expect(gpu.every((u) => u > 0 && u < 1)).toBe(true);
    for (const [seed, stream, step] of [[124, 7, 456], [123, 8, 456], [123, 7, 457]]) {
      writeTensor(h.device, stepState, new Uint32Array([seed, step]));
      await h.run([randomDraws(h.kernels, 'draws', stepState, stream, out, n)]);
      const other = (await h.read(out)).subarray(0, n);
      expect(count(other, (v, i) => v === gpu[i]), `seed ${seed}, stream ${stream}, step ${step}: unchanged draws`).toBeLessThan(n / 1000);
      const jsOther = ref.uniformDraws(seed, stream, step, n);
      expect(count(other, (v, i) => v !== jsOther[i])).toBe(0);
    }
  });
});

describe('row norms', () => {
  it('splitRowNorms: [‖hi_n‖·s↑ ; ‖lo_n‖·s↓] vs rowNorms(stackedSplitRows), zero rows exactly 0', async () => {
    const [rows, cols, seed, stream, step] = [37, 70, 3, 0, 11];
    const n = rows * cols;
    const u = ref.uniformDraws(seed, stream, step, n);
    const g = gradient(new SeededRandom(8), { rows, cols, zeroRows: [4, 20], bigRows: [1, 33] }, u);
    const split = ref.bitSplit(g, u);
    const expected = ref.rowNorms(ref.stackedSplitRows(split, rows, cols), 2 * rows, cols);
    const thi = h.empty([n], 'hi');
    const tlo = h.empty([n], 'lo');
    const tstate = h.empty([4], 'state');
    const scores = h.empty([2 * rows + TAIL], 'scores');
    const ds = await buildChecked(h.device, () => [
      ...bitSplit(h.kernels, { label: 'split', dy: h.upload([n], g, 'dy'), hi: thi, lo: tlo, splitState: tstate, stepState: stepStateTensor(seed, step), stream, partials: h.empty([REDUCTION_PARTIALS], 'p'), rows, cols }),
      splitRowNorms(h.kernels, { label: 'norms', hi: thi, lo: tlo, splitState: tstate, scores, rows, cols }),
    ]);
    await h.run(ds);
    const gpu = withoutTail('scores', await h.read(scores), 2 * rows);
    expectRelative('scores', gpu, expected);
    for (const r of [4, 20]) {
      expect(gpu[r], `hi row ${r}`).toBe(0);
      expect(gpu[rows + r], `lo row ${r}`).toBe(0);
    }
  });

  for (const [rows, cols] of [[37, 70], [3, 700]] as const) {
    it(`bitSplit with scores (one pass, a workgroup per row, the max's final step folded in) = bitSplit then splitRowNorms, bit for bit, [${rows}, ${cols}]`, async () => {
      const [seed, stream, step] = [5, 8, 3];
      const n = rows * cols;
      const u = ref.uniformDraws(seed, stream, step, n);
      const g = gradient(new SeededRandom(9 + cols), { rows, cols, zeroRows: [1], bigRows: [0] }, u);
      const run = async (fused: boolean) => {
        const hi = h.empty([n], 'hi');
        const lo = h.empty([n], 'lo');
        const state = h.empty([4], 'state');
        const scores = h.empty([2 * rows + TAIL], 'scores');
        const spec = { label: 'split', dy: h.upload([n], g, 'dy'), hi, lo, splitState: state, stepState: stepStateTensor(seed, step), stream, partials: h.empty([REDUCTION_PARTIALS], 'p'), rows, cols };
        const ds = await buildChecked(h.device, () => fused
          ? bitSplit(h.kernels, { ...spec, scores })
          : [...bitSplit(h.kernels, spec), splitRowNorms(h.kernels, { label: 'norms', hi, lo, splitState: state, scores, rows, cols })]);
        await h.run(ds);
        return { hi: await h.read(hi), lo: await h.read(lo), state: await h.read(state), scores: withoutTail('scores', await h.read(scores), 2 * rows) };
      };
      const one = await run(true);
      const two = await run(false);
      // The fused pass also takes the max's final step: the same split state, written once.
      expectExact('splitState', one.state, two.state);
      expect(one.state[0]).toBe(Math.max(...g.map(Math.abs)));
      expectExact('hi', one.hi, two.hi);
      expectExact('lo', one.lo, two.lo);
      expectExact('scores', one.scores, two.scores);
      const split = ref.bitSplit(g, u);
      expectRelative('scores vs the reference', one.scores, ref.rowNorms(ref.stackedSplitRows(split, rows, cols), 2 * rows, cols));
      expect(one.scores[1]).toBe(0);
    });
  }

  for (const [rows, cols] of [[37, 45], [5, 700]] as const) {
    it(`codeRowNorms: ‖clamp(round(v), −8, 7)‖·|s| vs rowNorms of the dequantized rows, [${rows}, ${cols}]`, async () => {
      const rng = new SeededRandom(50 + cols);
      const v = roundF32(rng.normalArray(rows * cols, 4));
      // Ties (away from zero), clamped values, and a row that quantizes to zero.
      [0.5, -0.5, 1.5, -2.5, 7.5, -8.5, 7.49, -8.49, 100, -100].forEach((x, j) => (v[j * 3] = x));
      for (let c = 0; c < cols; c++) v[2 * cols + c] = Math.fround(0.49 * Math.sin(c + 1));
      const s = Math.fround(0.173);
      const codes = v.map((x) => Math.max(-ref.Q_N, Math.min(ref.Q_P, ref.roundHalfAwayFromZero(x))));
      const expected = ref.rowNorms(codes.map((q) => q * s), rows, cols);
      const out = h.empty([rows + TAIL], 'norms');
      const d = await buildChecked(h.device, () =>
        codeRowNorms(h.kernels, { label: 'norms', v: h.upload([rows * cols], v, 'v'), step: h.upload([1], [-s], 'step'), norms: out, rows, cols }),
      );
      await h.run([d]);
      const gpu = withoutTail('norms', await h.read(out), rows);
      expectRelative('norms', gpu, expected);
      expect(gpu[2], 'the row that quantizes to zero').toBe(0);
    });
  }
});

/** Scores with a few dominant rows (these saturate at p = 1), zero rows, and the rest small. */
function dominantScores(rng: SeededRandom, rows2: number, dominant: number[], zeros: number[]): Float64Array {
  const s = roundF32(Array.from({ length: rows2 }, () => Math.abs(rng.normal()) * 0.1 + 0.001));
  for (const i of dominant) s[i] = Math.fround(50 + 100 * rng.uniform());
  for (const i of zeros) s[i] = 0;
  return s;
}

async function gpuProbabilities(scores: Float64Array, rows: number, variant: LssVariant, factor?: Float64Array): Promise<Float64Array> {
  const probs = h.empty([2 * rows + TAIL], 'probs');
  const d = await buildChecked(h.device, () =>
    lssProbabilities(h.kernels, {
      label: 'probs',
      scores: h.upload([2 * rows], scores, 'scores'),
      factor: factor ? h.upload([rows], factor, 'factor') : null,
      probs,
      rows,
      variant,
    }),
  );
  await h.run([d]);
  return withoutTail('probs', await h.read(probs), 2 * rows);
}

describe('lssProbabilities (paper A.2): water-filling, and the released kernels\' p = 1[score > 0]', () => {
  it('lss, N 37: dominant rows saturate at 1, zero rows get 0, Σp = N', async () => {
    const rows = 37;
    const scores = dominantScores(new SeededRandom(60), 2 * rows, [0, 3, 40, 41, 73], [5, 6, 50]);
    const expected = ref.lssProbabilities(scores, rows);
    expect(count(expected, (p) => p === 1), 'saturated rows').toBeGreaterThan(5);
    const gpu = await gpuProbabilities(scores, rows, 'lss');
    expectRelative('p', gpu, expected);
    for (const i of [0, 3, 40, 41, 73]) expect(gpu[i], `p[${i}]`).toBe(1);
    for (const i of [5, 6, 50]) expect(gpu[i] === 0, `p[${i}] = ${gpu[i]}`).toBe(true);
    expect(Math.abs(gpu.reduce((a, b) => a + b, 0) - rows)).toBeLessThan(1e-4);
  });

  it('lss: a cascade that needs three rounds (saturating one row makes others reach 1)', async () => {
    const rows = 37;
    const scores = new Float64Array(2 * rows).fill(1);
    scores[10] = 1e6; // round 1: only this one
    scores[20] = scores[21] = scores[22] = 30; // round 2: 30·36/150 = 7.2 ≥ 1
    scores[30] = scores[31] = scores[32] = scores[33] = scores[34] = scores[35] = 0;
    // round 3: 1·33/(74 − 10) < 1 → done
    const expected = ref.lssProbabilities(scores, rows);
    expect(count(expected, (p) => p === 1)).toBe(4);
    const gpu = await gpuProbabilities(scores, rows, 'lss');
    expectRelative('p', gpu, expected);
    expect(gpu[20]).toBe(1);
  });

  it('lss with a factor: score_i = scores[i]·factor[i mod N] (LSSWeight), N 37', async () => {
    const rows = 37;
    const rng = new SeededRandom(61);
    const scores = dominantScores(rng, 2 * rows, [2, 39], [7, 44]);
    const factor = roundF32(Array.from({ length: rows }, () => 0.5 + rng.uniform()));
    factor[9] = 0; // token 9: both its stacked rows score 0
    factor[12] = 200; // token 12: both its rows dominate
    const combined = scores.map((s, i) => s * factor[i % rows]);
    const expected = ref.lssProbabilities(combined, rows);
    const gpu = await gpuProbabilities(scores, rows, 'lss', factor);
    expectRelative('p', gpu, expected);
    for (const i of [9, 9 + rows, 7, 44]) expect(gpu[i] === 0, `p[${i}] = ${gpu[i]}`).toBe(true);
    for (const i of [12, 12 + rows]) expect(gpu[i], `p[${i}]`).toBe(1);
  });

  it('lss, N 3001 (6002 rows, strided over the workgroup)', async () => {
    const rows = 3001;
    const rng = new SeededRandom(62);
    const scores = dominantScores(rng, 2 * rows, Array.from({ length: 40 }, (_, j) => j * 149), Array.from({ length: 300 }, (_, j) => j * 17 + 1));
    const expected = ref.lssProbabilities(scores, rows);
    expect(count(expected, (p) => p === 1)).toBeGreaterThan(40);
    expect(count(expected, (p) => p > 0 && p < 1)).toBeGreaterThan(4000);
    expectRelative('p', await gpuProbabilities(scores, rows, 'lss'), expected);
  });

  it('lss: no more nonzero scores than the budget → every nonzero row gets 1', async () => {
    const rows = 37;
    const scores = new Float64Array(2 * rows);
    for (let i = 0; i < rows; i++) scores[(i * 7) % (2 * rows)] = Math.fround(0.01 * (i + 1));
    const gpu = await gpuProbabilities(scores, rows, 'lss');
    expectExact('p', gpu, ref.lssProbabilities(scores, rows));
    expect(count(gpu, (p) => p === 1)).toBe(rows);
  });

  it('bitsplit: p = 1 where the score (times the factor) is > 0, else 0', async () => {
    const rows = 37;
    const rng = new SeededRandom(63);
    const scores = dominantScores(rng, 2 * rows, [1, 2], [3, 4, 60]);
    const factor = roundF32(Array.from({ length: rows }, () => rng.uniform()));
    factor[10] = 0;
    const gpu = await gpuProbabilities(scores, rows, 'bitsplit', factor);
    const expected = scores.map((s, i) => (s * factor[i % rows] > 0 ? 1 : 0));
    expectExact('p', gpu, expected);
    expect(count(gpu, (p) => p === 0)).toBe(5);
  });
});

describe('lssProbabilities paired (∇W and ∇X side by side in one dispatch, with ∇X\'s row weights)', () => {
  for (const [variant, rows] of [['lss', 37], ['lss', 3001], ['bitsplit', 37]] as const) {
    it(`${variant}, N ${rows}: both probabilities vs the reference, row weights m/p from the JS twin of the draws`, async () => {
      const rng = new SeededRandom(64 + rows);
      const scores = dominantScores(rng, 2 * rows, [1, 5, rows + 2], [3, rows + 7]);
      const factor = roundF32(Array.from({ length: rows }, () => 0.5 + rng.uniform()));
      factor[11] = 0;
      factor[13] = 300;
      const [seed, step, stream] = [77, 9, 40];
      const probsW = h.empty([2 * rows + TAIL], 'probsW');
      const probsX = h.empty([2 * rows + TAIL], 'probsX');
      const weightsHi = h.empty([rows + TAIL], 'weightsHi');
      const weightsLo = h.empty([rows + TAIL], 'weightsLo');
      const d = await buildChecked(h.device, () =>
        lssProbabilities(h.kernels, {
          label: 'probs', scores: h.upload([2 * rows], scores, 'scores'), factor: h.upload([rows], factor, 'factor'), probs: probsW, rows, variant,
          activation: { probs: probsX, stepState: stepStateTensor(seed, step), stream, weightsHi, weightsLo },
        }),
      );
      await h.run([d]);
      const gpuW = withoutTail('probsW', await h.read(probsW), 2 * rows);
      const gpuX = withoutTail('probsX', await h.read(probsX), 2 * rows);
      const combined = scores.map((v, i) => v * factor[i % rows]);
      const expected = (sc: Float64Array) => (variant === 'lss' ? ref.lssProbabilities(sc, rows) : sc.map((v) => (v > 0 ? 1 : 0)));
      expectRelative('p (∇W, with the factor)', gpuW, expected(combined));
      expectRelative('p (∇X, scores alone)', gpuX, expected(scores));
      expect(gpuW[11] === 0, `a zero factor zeroes ∇W's row only: ${gpuW[11]}`).toBe(true);
      expect(gpuX[11]).toBeGreaterThan(0);
      // m_i/p_i with u_i from the activation stream, decided on the GPU's own p_i.
      const u = ref.uniformDraws(seed, stream + LSS_STREAM_OFFSET.activation, step, 2 * rows);
      const weights = Array.from(gpuX, (pi, i) => (pi >= 1 || u[i] < pi ? 1 / pi : 0));
      const hiGpu = withoutTail('weightsHi', await h.read(weightsHi), rows);
      const loGpu = withoutTail('weightsLo', await h.read(weightsLo), rows);
      expectRelative('w (hi rows)', hiGpu, weights.slice(0, rows));
      expectRelative('w (lo rows)', loGpu, weights.slice(rows));
      const kept = count(weights, (w) => w > 0);
      expect(kept, 'some rows dropped, some kept').toBeGreaterThan(0);
      if (variant === 'lss') expect(kept).toBeLessThan(2 * rows);
    });
  }
});

describe('the bit split packed as INT8 codes (no f32 copy), and lssCombine and relativeError reading it', () => {
  for (const [rows, cols] of [[37, 70], [5, 700]] as const) {
    it(`[${rows}, ${cols}]: the same codes as the reference, the same norms, state, G̃ and error as the f32 split`, async () => {
      const [seed, stream, step] = [6, 12, 4];
      const n = rows * cols;
      const u = ref.uniformDraws(seed, stream, step, n);
      const g = gradient(new SeededRandom(10 + cols), { rows, cols, zeroRows: [1], bigRows: [0] }, u);
      const dy = h.upload([n], g, 'dy');
      const stepState = stepStateTensor(seed, step);
      const [codeRows, words] = splitCodeShape(rows, cols);
      const probs = h.upload([2 * rows], Array.from({ length: 2 * rows }, (_, i) => (i % 3 === 0 ? 1 : 0.25 + (i % 5) / 10)), 'probs');
      const run = async (packed: boolean) => {
        const hi = packed ? h.empty([codeRows * words + TAIL], 'hi codes') : h.empty([n], 'hi');
        const lo = packed ? h.empty([codeRows * words + TAIL], 'lo codes') : h.empty([n], 'lo');
        const state = h.empty([4], 'state');
        const scores = h.empty([2 * rows], 'scores');
        const combined = h.empty([n], 'G̃');
        const error = h.empty([1], 'error');
        const split = { label: 'split', dy, splitState: state, stepState, stream, partials: h.empty([REDUCTION_PARTIALS], 'p'), scores, rows, cols };
        const ds = await buildChecked(h.device, () => [
          ...bitSplit(h.kernels, packed ? { ...split, packed: { hiCodes: hi, loCodes: lo } } : { ...split, hi, lo }),
          ...lssCombine(h.kernels, { label: 'combine', hi, lo, packed, splitState: state, probs, stepState, stream, gradient: 'weight', out: combined, rows, cols }),
          ...relativeError(h.kernels, { label: 'error', a: dy, b: { hi, lo, splitState: state, ...(packed ? { packedCols: cols } : {}) }, n, partials: h.empty([2 * REDUCTION_PARTIALS], 'ep'), out: error }),
        ]);
        expect(ds.length, 'max partial, codes and norms, combine, error (two passes)').toBe(5);
        await h.run(ds);
        return { hi, lo, state: await h.read(state), scores: await h.read(scores), combined: await h.read(combined), error: await h.read(error) };
      };
      const packed = await run(true);
      const f32 = await run(false);
      expectExact('splitState', packed.state, f32.state);
      expectExact('scores', packed.scores, f32.scores);
      expectExact('G̃', packed.combined, f32.combined);
      expectExact('relative error', packed.error, f32.error);
      const expected = ref.bitSplit(g, u);
      for (const [what, codes, source] of [['hi', packed.hi, expected.hi], ['lo', packed.lo, expected.lo]] as const) {
        const bytes = new Int8Array(Uint32Array.from(withoutTail(what, await h.readU32(codes), codeRows * words)).buffer);
        const lanes = new Int8Array(codeRows * words * 4); // padding lanes stay 0
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) lanes[r * words * 4 + c] = source[r * cols + c];
        expectExact(`${what} codes vs the reference`, Array.from(bytes), Array.from(lanes));
      }
      expect(packed.scores[1]).toBe(0);
    });
  }
});

interface Layer {
  rows: number; // N
  cols: number; // C
  inner: number; // D
  seed: number;
  step: number;
  stream: number;
}

/** The whole LSS-MM backward of one layer on the GPU: split, scores, probabilities, G̃, X̂, Ŵ, products. */
async function runLssBackward(L: Layer, variant: LssVariant, g: Float64Array, vX: Float64Array, sX: number, vW: Float64Array, sW: number) {
  const { rows: N, cols: C, inner: D } = L;
  const t = {
    dy: h.upload([N * C], g, 'dy'),
    vX: h.upload([N * D], vX, 'vX'),
    vW: h.upload([C * D], vW, 'vW'),
    sX: h.upload([1], [sX], 'sX'),
    sW: h.upload([1], [sW], 'sW'),
    stepState: stepStateTensor(L.seed, L.step),
    hi: h.empty([N * C], 'hi'),
    lo: h.empty([N * C], 'lo'),
    state: h.empty([4], 'splitState'),
    partials: h.empty([REDUCTION_PARTIALS], 'partials'),
    gradScores: h.empty([2 * N], 'gradScores'),
    inputNorms: h.empty([N], 'inputNorms'),
    probsW: h.empty([2 * N], 'probsW'),
    probsA: h.empty([2 * N], 'probsA'),
    gW: h.empty([N * C + TAIL], 'G̃_W'),
    gA: h.empty([N * C + TAIL], 'G̃_A'),
    keptW: h.empty([1 + TAIL], 'keptW'),
    keptA: h.empty([1 + TAIL], 'keptA'),
    xq: h.empty([N * D + TAIL], 'X̂'),
    wq: h.empty([C * D], 'Ŵ'),
    dW: h.empty([C * D], '∇W'),
    dX: h.empty([N * D], '∇X'),
  };
  const k = h.kernels;
  const common = { hi: t.hi, lo: t.lo, splitState: t.state, stepState: t.stepState, stream: L.stream, rows: N, cols: C };
  const ds: Dispatch[] = await buildChecked(h.device, () => [
    ...bitSplit(k, { label: 'split', dy: t.dy, partials: t.partials, ...common }),
    splitRowNorms(k, { label: 'gradNorms', hi: t.hi, lo: t.lo, splitState: t.state, scores: t.gradScores, rows: N, cols: C }),
    codeRowNorms(k, { label: 'inputNorms', v: t.vX, step: t.sX, norms: t.inputNorms, rows: N, cols: D }),
    lssProbabilities(k, { label: 'probsW', scores: t.gradScores, factor: t.inputNorms, probs: t.probsW, rows: N, variant }),
    lssProbabilities(k, { label: 'probsA', scores: t.gradScores, probs: t.probsA, rows: N, variant }),
    ...lssCombine(k, { label: 'combineW', probs: t.probsW, gradient: 'weight', out: t.gW, keptCount: t.keptW, ...common }),
    ...lssCombine(k, { label: 'combineA', probs: t.probsA, gradient: 'activation', out: t.gA, keptCount: t.keptA, ...common }),
    lsqDequantize(k, { label: 'X̂', v: t.vX, step: t.sX, out: t.xq, numel: N * D }),
    lsqDequantize(k, { label: 'Ŵ', v: t.vW, step: t.sW, out: t.wq, numel: C * D }),
    // ∇W = G̃_Wᵀ·X̂ [C, D]; ∇X = G̃_A·Ŵ [N, D].
    matmul(k, { label: '∇W', a: t.gW, b: t.xq, c: t.dW, M: C, K: N, N: D, transA: true }),
    matmul(k, { label: '∇X', a: t.gA, b: t.wq, c: t.dX, M: N, K: C, N: D }),
  ]);
  await h.run(ds);
  return {
    gW: withoutTail('G̃_W', await h.read(t.gW), N * C),
    gA: withoutTail('G̃_A', await h.read(t.gA), N * C),
    keptW: withoutTail('keptW', await h.read(t.keptW), 1)[0],
    keptA: withoutTail('keptA', await h.read(t.keptA), 1)[0],
    xq: withoutTail('X̂', await h.read(t.xq), N * D),
    probsW: await h.read(t.probsW),
    probsA: await h.read(t.probsA),
    dW: await h.read(t.dW),
    dX: await h.read(t.dX),
  };
}

/** G̃[n, :] = Σ over the stacked rows n and N + n of keep/p·∇↕Y, in float64. */
function foldedGradient(split: ref.BitSplit, r: ref.LssResult, N: number, C: number): Float64Array {
  const stacked = ref.stackedSplitRows(split, N, C);
  const out = new Float64Array(N * C);
  for (let i = 0; i < 2 * N; i++) {
    if (!r.keep[i]) continue;
    for (let c = 0; c < C; c++) out[(i % N) * C + c] += stacked[i * C + c] / r.probs[i];
  }
  return out;
}

describe('lssCombine + the caller\'s f32 products = reference lssWeightGrad / lssActGrad with the same draws', () => {
  const L: Layer = { rows: 37, cols: 70, inner: 45, seed: 2024, step: 41, stream: 12 };
  for (const variant of ['lss', 'bitsplit'] as LssVariant[]) {
    it(`${variant}: N ${L.rows}, C ${L.cols}, D ${L.inner}`, async () => {
      const { rows: N, cols: C, inner: D } = L;
      const rng = new SeededRandom(variant === 'lss' ? 70 : 71);
      const uSplit = ref.uniformDraws(L.seed, L.stream + LSS_STREAM_OFFSET.bitSplit, L.step, N * C);
      const uW = ref.uniformDraws(L.seed, L.stream + LSS_STREAM_OFFSET.weight, L.step, 2 * N);
      const uA = ref.uniformDraws(L.seed, L.stream + LSS_STREAM_OFFSET.activation, L.step, 2 * N);
      const g = gradient(rng, { rows: N, cols: C, zeroRows: [3, 17, 18], bigRows: [0, 9, 25, 36] }, uSplit);
      const vX = roundF32(rng.normalArray(N * D, 3));
      for (let c = 0; c < D; c++) vX[21 * D + c] = Math.fround(0.4 * Math.cos(c)); // X̂ row 21 = 0
      const vW = roundF32(rng.normalArray(C * D, 2.5));
      const [sX, sW] = [Math.fround(0.211), Math.fround(0.0371)];

      const split = ref.bitSplit(g, uSplit);
      const xq = vX.map((v) => sX * Math.max(-ref.Q_N, Math.min(ref.Q_P, ref.roundHalfAwayFromZero(v))));
      const wq = vW.map((v) => sW * Math.max(-ref.Q_N, Math.min(ref.Q_P, ref.roundHalfAwayFromZero(v))));
      const weight = ref.lssWeightGrad(split, xq, N, C, D, variant, uW);
      const act = ref.lssActGrad(split, wq, N, C, D, variant, uA);

      // The data exercise what the test claims.
      const nonzero = (p: Float64Array) => count(p, (x) => x > 0);
      const sampled = (r: ref.LssResult) => count(r.probs, (p, i) => p > 0 && p < 1 && r.keep[i] === 1);
      const dropped = (r: ref.LssResult) => count(r.probs, (p, i) => p > 0 && r.keep[i] === 0);
      expect(count(weight.probs, (p, i) => p === 0 && i % N === 21), 'X̂ row 21 is zero: both its rows get p = 0').toBe(2);
      if (variant === 'lss') {
        for (const [name, r, u] of [['weight', weight, uW], ['activation', act, uA]] as const) {
          expect(count(r.probs, (p) => p === 1), `${name}: rows saturated at p = 1`).toBeGreaterThan(3);
          expect(sampled(r), `${name}: rows kept with p < 1 (weighted 1/p)`).toBeGreaterThan(3);
          expect(dropped(r), `${name}: nonzero rows dropped`).toBeGreaterThan(3);
          // A draw within 1e-4 of its p could be decided differently by f32 p; none is (fixed seeds).
          expect(count(r.probs, (p, i) => p > 0 && p < 1 && Math.abs(u[i] - p) < 1e-4), `${name}: draws next to p`).toBe(0);
        }
        expect(count(weight.keep, (m, i) => m !== act.keep[i]), 'the two masks differ (streams + 1, + 2)').toBeGreaterThan(0);
      } else {
        expect(count(weight.keep, (m) => m === 1)).toBe(nonzero(weight.probs));
        expect(nonzero(weight.probs), 'zero rows dropped').toBeLessThan(2 * N - 6);
      }

      const gpu = await runLssBackward(L, variant, g, vX, sX, vW, sW);
      expectRelative('p (weight)', gpu.probsW, weight.probs);
      expectRelative('p (activation)', gpu.probsA, act.probs);
      expect(gpu.keptW, 'kept rows (weight)').toBe(count(weight.keep, (m) => m === 1));
      expect(gpu.keptA, 'kept rows (activation)').toBe(count(act.keep, (m) => m === 1));
      expectRelative('X̂', gpu.xq, xq);
      expectRelative('G̃_W', gpu.gW, foldedGradient(split, weight, N, C));
      expectRelative('G̃_A', gpu.gA, foldedGradient(split, act, N, C));
      expectRelative('∇W = G̃_Wᵀ·X̂ vs lssWeightGrad', gpu.dW, weight.gradW);
      expectRelative('∇X = G̃_A·Ŵ vs lssActGrad', gpu.dX, act.gradX);
    });
  }

  it('lss: G̃ averaged over 300 steps → the bit-split gradient (unbiased; every row stays within 5σ)', async () => {
    // Fixed codes and probabilities; only the step in step_state changes, as in training.
    const [N, C, stream, seed] = [13, 21, 4, 8];
    const rng = new SeededRandom(72);
    const hi = Float64Array.from({ length: N * C }, () => rng.int(-6, 7));
    const lo = Float64Array.from({ length: N * C }, () => rng.int(-6, 7));
    const state = [0.7, 0.1, 0.1 / 14, 0];
    const probs = roundF32(Array.from({ length: 2 * N }, (_, i) => (i % 5 === 0 ? 1 : 0.15 + 0.8 * rng.uniform())));
    const stepState = stepStateTensor(seed, 0);
    const out = h.empty([N * C], 'G̃');
    const kept = h.empty([1], 'kept');
    const ds = await buildChecked(h.device, () =>
      lssCombine(h.kernels, {
        label: 'combine', hi: h.upload([N * C], hi, 'hi'), lo: h.upload([N * C], lo, 'lo'), splitState: h.upload([4], state, 'state'),
        probs: h.upload([2 * N], probs, 'probs'), stepState, stream, gradient: 'activation', out, keptCount: kept, rows: N, cols: C,
      }),
    );
    const steps = 300;
    const sum = new Float64Array(N * C);
    let keptTotal = 0;
    for (let step = 0; step < steps; step++) {
      writeTensor(h.device, stepState, new Uint32Array([seed, step]));
      await h.run(ds);
      const gt = await h.read(out);
      for (let i = 0; i < sum.length; i++) sum[i] += gt[i];
      keptTotal += (await h.read(kept))[0];
    }
    const s = [Math.fround(state[1]), Math.fround(state[2])];
    let worstZ = 0;
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const i = n * C + c;
        const a = s[0] * hi[i];
        const b = s[1] * lo[i];
        const mean = sum[i] / steps;
        // Var of one draw: Σ over the two rows of (1 − p)/p·value².
        const variance = ((1 - probs[n]) / probs[n]) * a * a + ((1 - probs[N + n]) / probs[N + n]) * b * b;
        if (variance === 0) expect(Math.abs(mean - a - b)).toBeLessThan(1e-6);
        else worstZ = Math.max(worstZ, Math.abs(mean - a - b) / Math.sqrt(variance / steps));
      }
    }
    expect(worstZ, 'largest |mean − E| in standard errors').toBeLessThan(5);
    expect(Math.abs(keptTotal / steps - probs.reduce((x, y) => x + y, 0)), 'mean kept rows vs Σp').toBeLessThan(0.5);
  });
});

describe('lsqDequantize: |s|·clamp(round(v), −qn, qp), exact', () => {
  it('ties away from zero, clamped values, a stored negative step; [37, 45]', async () => {
    const n = 37 * 45;
    const rng = new SeededRandom(80);
    const v = roundF32(rng.normalArray(n, 5));
    [0.5, -0.5, 2.5, -2.5, 6.5, 7.5, -7.5, -8.5, Math.fround(0.5 - 2 ** -25), 1e30, -1e30, 0].forEach((x, j) => (v[j * 11] = x));
    const s = Math.fround(0.0371);
    const out = h.empty([n + TAIL], 'X̂');
    await h.run([await buildChecked(h.device, () => lsqDequantize(h.kernels, { label: 'dq', v: h.upload([n], v, 'v'), step: h.upload([1], [-s], 's'), out, numel: n }))]);
    const codes = v.map((x) => Math.max(-ref.Q_N, Math.min(ref.Q_P, ref.roundHalfAwayFromZero(x))));
    expect(codes[0]).toBe(1);
    expect(codes[11]).toBe(-1);
    expect(count(codes, (q) => q === -8) + count(codes, (q) => q === 7), 'clamped').toBeGreaterThan(50);
    const gpu = withoutTail('X̂', await h.read(out), n);
    expectExact('X̂', gpu, codes.map((q) => Math.fround(q * s)));
    // The reference fake quantizer (s > 0): code·s from x = v·s.
    expectRelative('vs lsqFakeQuantize', gpu, ref.lsqFakeQuantize(v.map((x) => x * s), s), 1e-6);
  });

  it('the paper\'s symmetric range qn = qp = 7', async () => {
    const v = [-9, -7.5, -7.49, 7.5, 0.5, 3];
    const out = h.empty([v.length], 'X̂');
    await h.run([lsqDequantize(h.kernels, { label: 'dq', v: h.upload([v.length], v, 'v'), step: h.upload([1], [0.5], 's'), out, numel: v.length, qn: 7, qp: 7 })]);
    expectExact('X̂', await h.read(out), [-3.5, -3.5, -3.5, 3.5, 0.5, 1.5]);
  });
});

describe('lsqBackward (paper §3.1, A.3): STE mask and ∇s = g·Σ δ·∇', () => {
  const cases: [number, number, number, number][] = [
    // [rows, cols, qn, qp]: one partial; 256 partials striding; the paper's symmetric range.
    [37, 45, ref.Q_N, ref.Q_P],
    [300, 257, ref.Q_N, ref.Q_P],
    [37, 45, ref.PAPER_Q_N, ref.PAPER_Q_P],
    // 600,000 values (a multiple of 4): over 16-byte vectors, two per round and then the tail.
    [600, 1000, ref.Q_N, ref.Q_P],
  ];
  for (const [rows, cols, qn, qp] of cases) {
    it(`[${rows}, ${cols}], range [−${qn}, ${qp}]: gradMasked exact, gradStep written to its slot of a flat buffer`, async () => {
      const numel = rows * cols;
      const rng = new SeededRandom(90 + numel + qn);
      const v = roundF32(rng.normalArray(numel, 4.5));
      // The mask edges: exactly −qn and qp are inside, just past them outside; ties; far outside.
      [-qn, qp, Math.fround(-qn - 1e-5), Math.fround(qp + 1e-5), -qn - 0.5, qp + 0.5, 0.5, -0.5, 40, -40].forEach((x, j) => (v[j * 13] = x));
      const grad = roundF32(rng.normalArray(numel, 0.3));
      const step = Math.fround(0.05);
      const expected = ref.lsqBackward(grad, v, step, numel, qn, qp);
      expect(count(expected.gradInput, (x, i) => x === 0 && grad[i] !== 0), 'masked entries').toBeGreaterThan(numel / 50);

      // ∇s goes to one slot of a flat gradient buffer (aligned as ParamLayout aligns parameters): written,
      // not accumulated, and the neighbours untouched.
      const align = h.device.limits.minStorageBufferOffsetAlignment / 4;
      const flat = h.upload([3 * align], new Float64Array(3 * align).fill(123), 'flat grads');
      const slot = new Tensor(flat.buffer, [1], align * 4, 'grad s');
      const masked = h.empty([numel + TAIL], 'gradMasked');
      const partials = h.empty([reductionPartials(numel) + TAIL], 'partials');
      const ds = await buildChecked(h.device, () =>
        lsqBackward(h.kernels, { label: 'lsq', grad: h.upload([numel], grad, 'grad'), v: h.upload([numel], v, 'v'), step: h.upload([1], [step], 's'), gradMasked: masked, gradStep: slot, partials, numel, qn, qp }),
      );
      await h.run(ds);
      withoutTail('partials', await h.read(partials), reductionPartials(numel));
      expectExact('gradMasked', withoutTail('gradMasked', await h.read(masked), numel), expected.gradInput);
      const flatOut = await h.read(flat);
      expectRelative('gradStep', [flatOut[align]], [expected.gradStep]);
      expect(count(flatOut, (x, i) => i !== align && x === 123), 'neighbouring gradients untouched').toBe(3 * align - 1);
    });
  }

  for (const tensors of [[[37 * 45, 0.05], [300 * 257, -0.02]], [[36 * 48, 0.05], [600 * 1000, -0.02]]] as const) {
  it(`paired (a layer's W and X in the same two dispatches): each tensor as lsqBackward alone, partials side by side, ${tensors.map(([n]) => n).join(' and ')} values`, async () => {
    // [C, D] = [37, 45] (7 partials) with [N, D] = [300, 257] (256 partials): the second set starts past the
    // first; then both multiples of 4 (16-byte vectors), the second long enough for two vectors per round.
    const rng = new SeededRandom(96);
    const data = tensors.map(([numel, step]) => {
      const v = roundF32(rng.normalArray(numel, 4.5));
      const grad = roundF32(rng.normalArray(numel, 0.3));
      const r = ref.lsqBackward(grad, v, Math.abs(step), numel);
      return { numel, step, v, grad, expected: { gradInput: r.gradInput, gradStep: Math.sign(step) * r.gradStep } };
    });
    const operand = (d: (typeof data)[number], what: string) => ({
      grad: h.upload([d.numel], d.grad, `grad ${what}`), v: h.upload([d.numel], d.v, `v ${what}`), step: h.upload([1], [d.step], `s ${what}`),
      gradMasked: h.empty([d.numel + TAIL], `masked ${what}`), gradStep: h.empty([1 + TAIL], `grad s ${what}`), numel: d.numel,
    });
    const [w, x] = [operand(data[0], 'w'), operand(data[1], 'x')];
    const total = reductionPartials(data[0].numel) + reductionPartials(data[1].numel);
    const partials = h.empty([total + TAIL], 'partials');
    const ds = await buildChecked(h.device, () => lsqBackward(h.kernels, { label: 'lsq', ...w, partials, second: x }));
    expect(ds.length, 'two dispatches for both tensors').toBe(2);
    await h.run(ds);
    withoutTail('partials', await h.read(partials), total);
    for (const [o, d, what] of [[w, data[0], 'W'], [x, data[1], 'X']] as const) {
      expectExact(`gradMasked ${what}`, withoutTail(what, await h.read(o.gradMasked), d.numel), d.expected.gradInput);
      expectRelative(`gradStep ${what}`, withoutTail(what, await h.read(o.gradStep), 1), [d.expected.gradStep]);
    }
  });
  }

  for (const numel of [300 * 257 + 1, 600 * 1000]) {
    it(`paired, the second gradient in two parts (addMasked: the second part waits in gradMasked): the same as on their sum, ${numel} values`, async () => {
      // LSS's ∇X: the high half's product in grad, the low half's in gradMasked; f32 addition commutes, so
      // the sum taken here equals the one an accumulating product would have stored, bit for bit.
      const rng = new SeededRandom(97 + numel);
      const w = { numel: 37 * 48, v: roundF32(rng.normalArray(37 * 48, 4.5)), grad: roundF32(rng.normalArray(37 * 48, 0.3)) };
      const v = roundF32(rng.normalArray(numel, 4.5));
      const hi = roundF32(rng.normalArray(numel, 0.3));
      const lo = roundF32(rng.normalArray(numel, 0.02));
      const sum = Float64Array.from(hi, (x, i) => Math.fround(x + lo[i]));
      const expected = ref.lsqBackward(sum, v, 0.05, numel);
      const first = () => ({ grad: h.upload([w.numel], w.grad, 'grad w'), v: h.upload([w.numel], w.v, 'v w'), step: h.upload([1], [0.03], 's w'), gradMasked: h.empty([w.numel], 'masked w'), gradStep: h.empty([1], 'grad s w'), numel: w.numel });
      const partials = () => h.empty([reductionPartials(w.numel) + reductionPartials(numel)], 'partials');
      const gradMasked = h.upload([numel + TAIL], Float64Array.from({ length: numel + TAIL }, (_, i) => (i < numel ? lo[i] : NaN)), 'masked x (holds lo)');
      const gradStep = h.empty([1], 'grad s x');
      const ds = await buildChecked(h.device, () => lsqBackward(h.kernels, { label: 'lsq', ...first(), partials: partials(), second: { grad: h.upload([numel], hi, 'grad x (hi)'), v: h.upload([numel], v, 'v x'), step: h.upload([1], [0.05], 's x'), gradMasked, gradStep, numel, addMasked: true } }));
      const plainMasked = h.empty([numel], 'masked x, summed first');
      const plainStep = h.empty([1], 'grad s x, summed first');
      const plain = await buildChecked(h.device, () => lsqBackward(h.kernels, { label: 'lsq', ...first(), partials: partials(), second: { grad: h.upload([numel], sum, 'grad x (sum)'), v: h.upload([numel], v, 'v x'), step: h.upload([1], [0.05], 's x'), gradMasked: plainMasked, gradStep: plainStep, numel } }));
      await h.run([...ds, ...plain]);
      const masked = withoutTail('masked', await h.read(gradMasked), numel);
      expectExact('gradMasked', masked, expected.gradInput);
      expectExact('gradMasked vs the summed gradient on the GPU', masked, await h.read(plainMasked));
      expectExact('gradStep vs the summed gradient on the GPU', await h.read(gradStep), await h.read(plainStep));
      expectRelative('gradStep', await h.read(gradStep), [expected.gradStep]);
    });
  }

  it('a stored negative step: the forward used |s|, so ∇ wrt the stored s is −(∇ wrt |s|)', async () => {
    const numel = 37 * 45;
    const rng = new SeededRandom(95);
    const v = roundF32(rng.normalArray(numel, 4.5));
    const grad = roundF32(rng.normalArray(numel, 0.3));
    const expected = ref.lsqBackward(grad, v, 0.05, numel);
    const gradStep = h.empty([1], 'grad s');
    const ds = await buildChecked(h.device, () =>
      lsqBackward(h.kernels, { label: 'lsq', grad: h.upload([numel], grad, 'grad'), v: h.upload([numel], v, 'v'), step: h.upload([1], [-0.05], 's'), gradMasked: h.empty([numel], 'm'), gradStep, partials: h.empty([REDUCTION_PARTIALS], 'p'), numel }),
    );
    await h.run(ds);
    expectRelative('gradStep', await h.read(gradStep), [-expected.gradStep]);
  });
});

describe('builders reject what the kernels cannot do', () => {
  it('too-small tensors, a too-small partials buffer, a bad stream', () => {
    const t = h.empty([64], 't');
    const big = h.empty([100_000], 'big');
    const split = { label: 'split', dy: big, hi: big, lo: big, splitState: t, stepState: t, stream: 0, partials: t, rows: 300, cols: 257 };
    expect(() => bitSplit(h.kernels, split)).toThrow(/partials has 64 values, needs 256/);
    expect(() => bitSplit(h.kernels, { ...split, partials: big, dy: t })).toThrow(/dy has 64 values, needs 77100/);
    expect(() => bitSplit(h.kernels, { ...split, partials: big, stream: 2 ** 32 - 2 })).toThrow(/base stream/);
    expect(() => lssProbabilities(h.kernels, { label: 'p', scores: t, probs: t, rows: 33, variant: 'lss' })).toThrow(/scores has 64 values, needs 66/);
    expect(() => lsqBackward(h.kernels, { label: 'lsq', grad: big, v: big, step: t, gradMasked: big, gradStep: t, partials: t, numel: 70_000 })).toThrow(/partials/);
    expect(() => codeRowNorms(h.kernels, { label: 'n', v: big, step: t, norms: big, rows: 2, cols: 3, qp: 0 })).toThrow(/code range/);
  });
});
