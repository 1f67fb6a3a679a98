// The baselines' quantizers (ops/baselines.ts: min-max, LUQ, symmetric b-bit) against the float64
// reference (reference/quant/baselines.ts; int8.ts at b = 8) fed exactly the GPU's draws
// (reference/random.ts, the JS twin of random.wgsl): min-max and symmetric draw index i for element i,
// LUQ draws 2i (underflow) and 2i + 1 (log rounding), the reference's own layout, so it is fed
// uniformDraws(seed, stream, step, 2n). Outputs and stats are prefilled with NaN (and TAIL extra values
// that must stay NaN); sizes are odd: 1001 (one first-pass workgroup), 70001 (35, each striding over
// several 256-value tiles), 600001 (293: the second pass loops over more partials than its 256 threads).
// The extremes sit only in the last tile of the last first-pass workgroup (lastGroupIndex), so a
// reduction that skips a stride or a partial gets the statistic wrong.
//
// Exactness:
// - LUQ is computed in integers on the GPU (see baselines.wgsl) and its decisions u < p equal the exact
//   real-number decisions, which are also the float64 reference's (the gap between u and p is ≥ 2^−48,
//   far above float64 rounding). So the output is compared bit for bit with Math.fround(reference),
//   with no margin, over the whole exponent range, subnormal inputs and levels included.
// - Min-max and symmetric compute y = (x − min)/Δ or v = x/s in f32 on the GPU (a few ulp from the
//   reference's float64): an element whose y + u (or v, or v + u) lies within ~1e-5 of a rounding boundary
//   could be rounded differently for reasons that have nothing to do with the kernel. Test data are drawn
//   with a margin of MARGIN code units around every boundary (given the known draws); the integer codes
//   are then compared exactly, each output is checked to be exactly the f32 level built from the GPU's
//   stats, and values agree with the reference to f32 rounding (≤ 1e-6 of the tensor's scale).
//   The extremes (x = min, max, ±max|x|) are exact on the GPU and need no margin.
import { beforeAll, describe, expect, it } from 'vitest';
import { type Dispatch } from '../gpu/kernels';
import { writeTensor } from '../gpu/memory';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, count, expectExact, TAIL, withoutTail } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { Tensor } from '../tensor';
import { BASELINE_PARTIALS, baselinePartials, fakeQuantizeSymmetric, luqQuantize, minmaxQuantize } from './baselines';

/** Odd sizes: one, several striding, and more than 256 first-pass workgroups. */
const SIZES = [1001, 70001, 600001];
/** Distance (in code units) from a rounding boundary that f32 vs float64 differences cannot cross. */
const MARGIN = 1e-3;
/** f32 values vs the float64 reference, relative to the tensor's largest value. */
const TOL = 1e-6;

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

/** Strictly relative closeness: ≤ tol·max|ref|. */
function expectRelative(label: string, gpu: ArrayLike<number>, expected: ArrayLike<number>, tol = TOL): number {
  return expectClose(label, gpu, expected, tol, 1e-30, 1e-30);
}

/** Distance of t from the nearest integer. */
function integerDistance(t: number): number {
  return Math.abs(t - Math.round(t));
}

/** Distance of v from the nearest half-integer k + 0.5. */
function tieDistance(v: number): number {
  return Math.abs((Math.abs(v) % 1) - 0.5);
}

type Kind = 'minmax' | 'luq' | 'symmetric' | 'symmetric-stochastic';

interface Run {
  out: Float64Array;
  outBits: Uint32Array;
  stats: Float64Array;
}

interface Setup {
  seed: number;
  step: number;
  stream: number;
}

function build(kind: Kind, x: Tensor, out: Tensor, stats: Tensor, partials: Tensor, stepState: Tensor, n: number, bits: number, stream: number): Dispatch[] {
  const label = kind;
  if (kind === 'minmax') return minmaxQuantize(h.kernels, { label, x, out, n, bits, stepState, stream, stats, partials });
  if (kind === 'luq') return luqQuantize(h.kernels, { label, x, out, n, bits, stepState, stream, stats, partials });
  const stochastic = kind === 'symmetric-stochastic' ? { stepState, stream } : undefined;
  return fakeQuantizeSymmetric(h.kernels, { label, x, out, n, bits, stats, partials, stochastic });
}

async function runQuantizer(kind: Kind, x: Float64Array, bits: number, s: Setup): Promise<Run> {
  const n = x.length;
  const tx = h.upload([n], x, 'x');
  const tout = h.empty([n + TAIL], 'out');
  const tstats = h.empty([4 + TAIL], 'stats');
  const tpartials = h.empty([baselinePartials(n)], 'partials');
  const stepState = h.upload([2], new Uint32Array([s.seed, s.step]), 'step_state');
  const ds = await buildChecked(h.device, () => build(kind, tx, tout, tstats, tpartials, stepState, n, bits, s.stream));
  expect(ds.length).toBe(3);
  await h.run(ds);
  const outAll = await h.read(tout);
  const out = withoutTail('out', outAll, n);
  const outBits = (await h.readU32(tout)).subarray(0, n);
  const stats = withoutTail('stats', await h.read(tstats), 4);
  return { out, outBits, stats };
}

const f32 = Math.fround;

/** An index in the last 256-value tile that the last first-pass workgroup reduces (workgroup w takes
 *  tiles w, w + G, w + 2G, …): reached only through the strides and the last partial. */
function lastGroupIndex(n: number, offset: number): number {
  const groups = baselinePartials(n) / 2;
  const tiles = Math.ceil(n / 256);
  let t = groups - 1;
  while (t + groups < tiles) t += groups;
  const i = t * 256 + offset;
  if (i >= n) throw new Error(`lastGroupIndex(${n}, ${offset}) is out of range`);
  return i;
}

// ---------------------------------------------------------------------------------------------------
// Min-max

interface MinmaxData {
  lo: number;
  hi: number;
  /** Indices holding the min / the max (duplicates allowed). */
  loAt: number[];
  hiAt: number[];
}

/** Values in (lo, hi), each drawn away from the rounding boundaries of ⌊y + u⌋ for its draw. */
function minmaxData(rng: SeededRandom, n: number, bits: number, u: Float64Array, d: MinmaxData): Float64Array {
  const width = (d.hi - d.lo) / (2 ** bits - 1); // as the reference computes it
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (;;) {
      // Mostly uniform, some clustered near the ends (codes 0 and 2^b − 1 with both rounding outcomes).
      const r = rng.uniform();
      const t = r < 0.1 ? 0.01 * rng.uniform() : r < 0.2 ? 1 - 0.01 * rng.uniform() : rng.uniform();
      const v = f32(d.lo + (d.hi - d.lo) * t);
      if (!(v > d.lo && v < d.hi)) continue;
      if (integerDistance((v - d.lo) / width + u[i]) < MARGIN) continue;
      x[i] = v;
      break;
    }
  }
  for (const i of d.loAt) x[i] = d.lo;
  for (const i of d.hiAt) x[i] = d.hi;
  return x;
}

/** The reference's codes q = (out − min)/Δ, recovered from its output. */
function minmaxCodes(out: Float64Array, lo: number, width: number): Float64Array {
  return out.map((v) => Math.round((v - lo) / width));
}

describe('minmaxQuantize (Banner et al., paper Fig. 3b "minimax"): equal to reference minmaxQuantize with the same draws', () => {
  for (const bits of [2, 4, 8]) {
    for (const n of SIZES) {
      it(`${bits} bits, n ${n}`, async () => {
        const s = { seed: 11 + bits, step: 1000 + n, stream: 7 * bits };
        const u = ref.uniformDraws(s.seed, s.stream, s.step, n);
        const lo = f32(-1.7);
        const hi = f32(3.1);
        const d: MinmaxData = { lo, hi, loAt: [lastGroupIndex(n, 7), lastGroupIndex(n, 9)], hiAt: [lastGroupIndex(n, 100), lastGroupIndex(n, 150)] };
        const x = minmaxData(new SeededRandom(bits * 100 + n), n, bits, u, d);
        const expected = ref.minmaxQuantize(x, bits, u);
        const levels = 2 ** bits - 1;
        const width = (hi - lo) / levels;
        const qRef = minmaxCodes(expected, lo, width);
        // The data exercise what the test claims: both end codes, and both rounding outcomes.
        expect(count(qRef, (q) => q === 0), 'code 0').toBeGreaterThan(d.loAt.length);
        expect(count(qRef, (q) => q === levels), 'top code').toBeGreaterThan(d.hiAt.length);
        const up = count(qRef, (q, i) => q > Math.floor((x[i] - lo) / width));
        expect(up, 'rounded up').toBeGreaterThan(n / 10);
        expect(n - up, 'rounded down').toBeGreaterThan(n / 10);

        const r = await runQuantizer('minmax', x, bits, s);
        expect(r.stats[0], 'min').toBe(lo);
        expect(r.stats[1], 'max').toBe(hi);
        expectRelative('Δ', [r.stats[2]], [width]);
        expectRelative('1/Δ', [r.stats[3]], [1 / width]);
        const [gLo, gWidth] = [r.stats[0], r.stats[2]];
        const qGpu = minmaxCodes(r.out, gLo, gWidth);
        expectExact('codes', qGpu, qRef);
        // Each output is exactly the level min + Δ·q of the GPU's stats in f32 (with or without a fused
        // multiply-add), and the top code exactly max.
        const isLevel = (v: number, q: number) => (q === levels ? v === r.stats[1] : v === f32(gLo + f32(gWidth * q)) || v === f32(gLo + gWidth * q));
        const offLevel = count(r.out, (v, i) => !isLevel(v, qGpu[i]));
        expect(offLevel, 'outputs that are not an f32 level of the stats').toBe(0);
        expectRelative('out', r.out, expected);
        for (const i of d.loAt) expect(r.out[i], `min at [${i}]`).toBe(lo);
        for (const i of d.hiAt) expect(r.out[i], `max at [${i}]`).toBe(hi);
      });
    }
  }

  it('values on the levels stay; half-way values go up exactly when u ≥ 1/2 (min 0, max 15, 4 bits: Δ = 1)', async () => {
    // y = x exactly in f32 and float64, and ⌊y + u⌋ is decided exactly on the GPU: no margin needed.
    const n = 1001;
    const s = { seed: 3, step: 9, stream: 1 };
    const u = ref.uniformDraws(s.seed, s.stream, s.step, n);
    const x = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? (i / 2) % 16 : (i % 15) + 0.5));
    const expected = ref.minmaxQuantize(x, 4, u);
    const r = await runQuantizer('minmax', x, 4, s);
    expect(Array.from(r.stats)).toEqual([0, 15, 1, 1]);
    expectExact('out', r.out, expected);
    for (let i = 0; i < n; i += 2) expect(r.out[i]).toBe(x[i]);
    for (let i = 1; i < n; i += 2) expect(r.out[i], `[${i}], u ${u[i]}`).toBe(x[i] + (u[i] >= 0.5 ? 0.5 : -0.5));
  });

  it('degenerate inputs: all zeros, a constant, n = 1 come back unchanged (no NaN)', async () => {
    const s = { seed: 1, step: 2, stream: 3 };
    for (const [name, x] of [
      ['zeros', new Float64Array(1001)],
      ['constant', new Float64Array(70001).fill(f32(-0.37))],
      ['n = 1', Float64Array.of(f32(5.5))],
    ] as const) {
      const expected = ref.minmaxQuantize(x, 4, ref.uniformDraws(s.seed, s.stream, s.step, x.length));
      const r = await runQuantizer('minmax', x, 4, s);
      expectExact(`${name}: out`, r.out, expected);
      expectExact(`${name}: out = x`, r.out, x);
      expect(Array.from(r.stats), name).toEqual([x[0], x[0], 0, 0]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// LUQ

/** Magnitudes over the whole LUQ range: below α (underflow), every octave up to max|x|, exact levels
 *  ±α·2^k, zeros (both signs), the max at a few places with both signs. */
function luqData(rng: SeededRandom, n: number, bits: number, largest: number): Float64Array {
  const top = 2 ** (bits - 1);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.uniform();
    const sign = rng.uniform() < 0.5 ? -1 : 1;
    if (r < 0.05) x[i] = sign * 0;
    else if (r < 0.1) x[i] = sign * f32(largest * 2 ** (rng.int(0, top) - top)); // a level below max|x|
    else {
      // log-uniform from α/8 to α (a fifth of them: stochastic underflow) or from α to max|x|
      const e = r < 0.3 ? -top - 3 + 3 * rng.uniform() : -top + top * rng.uniform();
      x[i] = sign * Math.min(largest, f32(largest * 2 ** e));
    }
  }
  x[lastGroupIndex(n, 9)] = largest;
  x[lastGroupIndex(n, 2)] = -largest;
  return x;
}

/** Float64 → f32 bit patterns (what the GPU must write). */
function f32Bits(a: Float64Array): Uint32Array {
  return new Uint32Array(Float32Array.from(a).buffer);
}

describe('luqQuantize (Chmiel et al., the LSQ+LUQ baseline): bit for bit Math.fround(reference luqQuantize) with draws 2i, 2i + 1', () => {
  for (const bits of [2, 4, 8]) {
    for (const n of SIZES) {
      it(`${bits} bits, n ${n}`, async () => {
        const s = { seed: 5 + bits, step: 77 + n, stream: 40 + bits };
        const largest = f32(3.3);
        const x = luqData(new SeededRandom(bits * 7 + n), n, bits, largest);
        const u = ref.uniformDraws(s.seed, s.stream, s.step, 2 * n);
        const expected = ref.luqQuantize(x, bits, u);
        const top = 2 ** (bits - 1);
        const alpha = largest / 2 ** top; // exact in float64
        // The data exercise what the test claims.
        const under = count(x, (v) => v !== 0 && Math.abs(v) < alpha);
        expect(under, 'values below α').toBeGreaterThan(n / 50);
        expect(count(expected, (v, i) => Math.abs(v) === alpha && Math.abs(x[i]) < alpha), 'underflow → ±α').toBeGreaterThan(0);
        expect(count(expected, (v, i) => v === 0 && x[i] !== 0), 'underflow → 0').toBeGreaterThan(0);
        expect(count(expected, (v, i) => Math.abs(v) > Math.abs(x[i]) && Math.abs(x[i]) >= alpha), 'rounded up').toBeGreaterThan(n / 10);
        expect(count(expected, (v, i) => Math.abs(v) < Math.abs(x[i]) && Math.abs(x[i]) >= alpha), 'rounded down').toBeGreaterThan(n / 10);
        if (bits === 8) expect(alpha, 'α is subnormal in f32 at 8 bits').toBeLessThan(2 ** -126);

        const r = await runQuantizer('luq', x, bits, s);
        expect(Array.from(r.stats), 'stats').toEqual([largest, f32(alpha), top, 0]);
        // Bit for bit, including the sign of zero (the GPU and the reference both give +0).
        expectExact('out bits', r.outBits, f32Bits(expected));
        // Every output is 0 or ±α·2^k, k ∈ [0, T], exactly in f32 (rounded to a subnormal below 2^−126).
        const bad = count(r.out, (v) => {
          if (v === 0) return false;
          const k = Math.round(Math.log2(Math.abs(v) / alpha));
          return !(k >= 0 && k <= top && Math.abs(v) === f32(alpha * 2 ** k));
        });
        expect(bad, 'outputs that are not 0 or ±α·2^k').toBe(0);
        if (bits === 8) expect(count(r.out, (v) => v !== 0 && Math.abs(v) < 2 ** -126), 'subnormal levels').toBeGreaterThan(0);
      });
    }
  }

  it('exact levels ±α·2^k come back unchanged; ±max|x| too', async () => {
    const bits = 4;
    const top = 8;
    const largest = f32(0.0123);
    const x = new Float64Array(1001);
    for (let i = 0; i < x.length; i++) x[i] = (i % 2 ? -1 : 1) * largest * 2 ** ((i % (top + 1)) - top);
    const r = await runQuantizer('luq', x, bits, { seed: 2, step: 3, stream: 4 });
    expectExact('out', r.out, x);
  });

  it('degenerate inputs: all zeros → zeros; a constant and n = 1 → themselves (no NaN)', async () => {
    const s = { seed: 1, step: 2, stream: 3 };
    for (const [name, x] of [
      ['zeros', new Float64Array(1001)],
      ['constant', new Float64Array(70001).fill(f32(-0.37))],
      ['n = 1', Float64Array.of(f32(5.5))],
    ] as const) {
      const expected = ref.luqQuantize(x, 4, ref.uniformDraws(s.seed, s.stream, s.step, 2 * x.length));
      const r = await runQuantizer('luq', x, 4, s);
      expectExact(`${name}: out bits`, r.outBits, f32Bits(expected));
      expectExact(`${name}: out = x`, r.out, x);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Symmetric b-bit

/** Float64 reference: s = max|x|/Qp, code = clamp(round(x/s), −Qp, Qp) (ties away from zero) or
 *  clamp(⌊x/s + u⌋, −Qp, Qp); the b-bit generalisation of reference int8Quantize / stochasticInt8. */
function symmetricReference(x: Float64Array, bits: number, u?: Float64Array): { codes: Float64Array; out: Float64Array; scale: number } {
  const qp = 2 ** (bits - 1) - 1;
  let largest = 0;
  for (const v of x) largest = Math.max(largest, Math.abs(v));
  const scale = largest / qp;
  const codes = new Float64Array(x.length);
  if (scale > 0) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i] / scale;
      const c = u ? Math.floor(v + u[i]) : ref.roundHalfAwayFromZero(v);
      codes[i] = Math.max(-qp, Math.min(qp, c)) + 0; // + 0: no −0 codes
    }
  }
  return { codes, out: codes.map((c) => c * scale), scale };
}

/** Values in [−L, L], each away from the rounding boundaries (of round, or of ⌊v + u⌋ given u). */
function symmetricData(rng: SeededRandom, n: number, bits: number, largest: number, u?: Float64Array): Float64Array {
  const scale = largest / (2 ** (bits - 1) - 1);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (;;) {
      const v = f32(largest * (2 * rng.uniform() - 1));
      const t = v / scale;
      if (u ? integerDistance(t + u[i]) < MARGIN : tieDistance(t) < MARGIN) continue;
      x[i] = v;
      break;
    }
  }
  x[lastGroupIndex(n, 3)] = largest;
  x[lastGroupIndex(n, 5)] = -largest;
  x[lastGroupIndex(n, 100)] = largest;
  return x;
}

describe('fakeQuantizeSymmetric (b-bit absmax, the forward ablations): equal to the float64 reference', () => {
  for (const stochastic of [false, true]) {
    for (const bits of [2, 4, 8]) {
      for (const n of SIZES) {
        it(`${stochastic ? 'stochastic' : 'round half away'}, ${bits} bits, n ${n}`, async () => {
          const s = { seed: 31 + bits, step: 5 + n, stream: 90 + bits };
          const u = stochastic ? ref.uniformDraws(s.seed, s.stream, s.step, n) : undefined;
          const largest = f32(2.3);
          const x = symmetricData(new SeededRandom(bits * 13 + n + (stochastic ? 1 : 0)), n, bits, largest, u);
          const expected = symmetricReference(x, bits, u);
          const qp = 2 ** (bits - 1) - 1;
          // The b = 8 reference is the INT8 baseline's.
          if (bits === 8) {
            const codes8 = u ? ref.stochasticInt8(x, expected.scale, u) : ref.int8Quantize(x, 1, n, false).codes;
            expectExact('b = 8 reference = reference int8', Array.from(expected.codes), Array.from(codes8));
          }
          expect(count(expected.codes, (c) => c === qp), 'top code').toBeGreaterThanOrEqual(2);
          expect(count(expected.codes, (c) => c === -qp), 'bottom code').toBeGreaterThan(0);

          const r = await runQuantizer(stochastic ? 'symmetric-stochastic' : 'symmetric', x, bits, s);
          expect(r.stats[0], 'max|x|').toBe(largest);
          expectRelative('s', [r.stats[1]], [expected.scale]);
          expectRelative('1/s', [r.stats[2]], [1 / expected.scale]);
          expect(r.stats[3], 'Qp').toBe(qp);
          const gScale = r.stats[1];
          const codes = r.out.map((v) => Math.round(v / gScale));
          expectExact('codes', codes, expected.codes);
          expectExact('out = s·code in f32', r.out, codes.map((c) => f32(gScale * c)));
          expectRelative('out', r.out, expected.out);
        });
      }
    }
  }

  it('ties round away from zero (max|x| = Qp: s = 1)', async () => {
    const bits = 4;
    const values = [7, -7, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, -3.5, 4.5, -4.5, 5.5, -5.5, 6.5, -6.5, 3, -2, 0];
    const x = Float64Array.from({ length: 1001 }, (_, i) => values[i % values.length]);
    const r = await runQuantizer('symmetric', x, bits, { seed: 0, step: 0, stream: 0 });
    expect(Array.from(r.stats)).toEqual([7, 1, 1, 7]);
    const expected = symmetricReference(x, bits);
    expect(Array.from(expected.codes.subarray(0, values.length))).toEqual([7, -7, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 3, -2, 0]);
    expectExact('out', r.out, expected.out);
  });

  it('degenerate inputs: all zeros → zeros; a constant → ±Qp·s (no NaN)', async () => {
    for (const stochastic of [false, true]) {
      const kind = stochastic ? 'symmetric-stochastic' : 'symmetric';
      const s = { seed: 1, step: 2, stream: 3 };
      const zeros = await runQuantizer(kind, new Float64Array(1001), 4, s);
      expectExact(`${kind} zeros`, zeros.out, new Float64Array(1001));
      expect(Array.from(zeros.stats)).toEqual([0, 0, 0, 7]);
      for (const x of [new Float64Array(70001).fill(f32(-0.37)), Float64Array.of(f32(5.5))]) {
        const r = await runQuantizer(kind, x, 4, s);
        const level = f32(r.stats[1] * 7) * Math.sign(x[0]);
        expectExact(`${kind} constant`, r.out, new Float64Array(x.length).fill(level));
        expectRelative(`${kind} constant ≈ x`, r.out, x);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The extremes are exact on the GPU

/**
 * x = max (min-max) and x = ±max|x| (symmetric, stochastic) get y = 2^b − 1 / v = ±Qp exactly in the
 * kernels. Computed in f32 they can land an ulp below (y = (max − min)·fl(1/Δ)), and a draw below that
 * ulp would then floor them one code down, where the float64 reference (whose own error is ~1e-16, far
 * below the smallest draw 2^−24) keeps the top code. The test picks a tensor where the f32 value (from
 * the GPU's own stats: only a subtraction and a multiplication, correctly rounded everywhere) is below
 * the top, and a step where such a small draw falls on an extreme, and checks the extremes stay.
 */
describe('extremes map to the top code for every draw (no f32 off-by-an-ulp at x = max)', () => {
  const n = 4097;
  const bits = 8;

  async function findCase(kind: 'minmax' | 'symmetric-stochastic', candidates: number[], topOf: (hi: number, stats: Float64Array) => number, top: number) {
    for (const hi of candidates) {
      const x = new Float64Array(n).fill(hi);
      x[0] = kind === 'minmax' ? f32(-1.7) : f32(-0.25 * hi);
      const probe = await runQuantizer(kind, x, bits, { seed: 1, step: 0, stream: 2 });
      const gap = top - topOf(hi, probe.stats);
      if (!(gap > 0)) continue;
      for (let step = 0; step < 20000; step++) {
        const u = ref.uniformDraws(1, 2, step, n);
        const hits = count(u, (v, i) => i > 0 && v < gap);
        if (hits > 0) return { x, step, u, hits };
      }
    }
    throw new Error(`${kind}: no case found`);
  }

  it('minmax: x = max stays max', async () => {
    const levels = 2 ** bits - 1;
    const candidates = Array.from({ length: 40 }, (_, j) => f32(3.1 + 0.0137 * j));
    const c = await findCase('minmax', candidates, (hi, st) => f32(f32(hi - st[0]) * st[3]), levels);
    const expected = ref.minmaxQuantize(c.x, bits, c.u);
    const r = await runQuantizer('minmax', c.x, bits, { seed: 1, step: c.step, stream: 2 });
    expectExact(`out (${c.hits} extremes with a draw below the f32 gap)`, r.out, Float32Array.from(expected));
    expectExact('out = x', r.out, c.x);
  });

  it('symmetric, stochastic: x = max|x| stays s·Qp', async () => {
    const qp = 2 ** (bits - 1) - 1;
    const candidates = Array.from({ length: 40 }, (_, j) => f32(2.3 + 0.0137 * j));
    const c = await findCase('symmetric-stochastic', candidates, (hi, st) => f32(hi * st[2]), qp);
    const expected = symmetricReference(c.x, bits, c.u);
    const r = await runQuantizer('symmetric-stochastic', c.x, bits, { seed: 1, step: c.step, stream: 2 });
    const codes = r.out.map((v) => Math.round(v / r.stats[1]));
    expectExact(`codes (${c.hits} extremes with a draw below the f32 gap)`, codes, expected.codes);
    expect(count(codes, (q) => q === qp)).toBe(n - 1);
  });
});

// ---------------------------------------------------------------------------------------------------
// Shared

describe('all three: non-finite inputs, validation', () => {
  for (const kind of ['minmax', 'luq', 'symmetric', 'symmetric-stochastic'] as Kind[]) {
    it(`${kind}: a NaN or ±∞ anywhere makes every output NaN`, async () => {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const x = Float64Array.from({ length: 1001 }, (_, i) => Math.sin(i));
        x[500] = bad;
        const r = await runQuantizer(kind, x, 4, { seed: 1, step: 1, stream: 1 });
        expect(count(r.out, (v) => Number.isNaN(v)), `${kind} with ${bad}`).toBe(x.length);
      }
    });
  }

  it('builders reject bad bits, overlapping out, small scratch', () => {
    const x = h.empty([10], 'x');
    const out = h.empty([10], 'out');
    const stats = h.empty([4], 'stats');
    const partials = h.empty([BASELINE_PARTIALS], 'partials');
    const stepState = h.upload([2], new Uint32Array([1, 2]), 'step_state');
    const common = { label: 'q', x, out, n: 10, stats, partials };
    for (const bits of [1, 9, 4.5, NaN, 0]) {
      expect(() => minmaxQuantize(h.kernels, { ...common, bits, stepState, stream: 0 })).toThrow(/bits must be an integer from 2 to 8/);
      expect(() => luqQuantize(h.kernels, { ...common, bits, stepState, stream: 0 })).toThrow(/bits must be an integer from 2 to 8/);
      expect(() => fakeQuantizeSymmetric(h.kernels, { ...common, bits })).toThrow(/bits must be an integer from 2 to 8/);
    }
    expect(() => fakeQuantizeSymmetric(h.kernels, { ...common, out: x, bits: 4 })).toThrow(/overlap/);
    expect(() => fakeQuantizeSymmetric(h.kernels, { ...common, partials: h.empty([1], 'p'), bits: 4 })).toThrow(/partials/);
    expect(() => luqQuantize(h.kernels, { ...common, bits: 4, stepState, stream: -1 })).toThrow(/stream/);
    expect(baselinePartials(1e7)).toBe(BASELINE_PARTIALS);
    expect(baselinePartials(1001)).toBe(2);
    expect(baselinePartials(600001)).toBe(2 * 293);
  });
});

// ---------------------------------------------------------------------------------------------------
// Unbiasedness

/** Mean and variance of the two-point distribution each quantizer gives element i (float64). */
type Moments = (i: number) => { lower: number; upper: number; pUp: number };

async function expectUnbiased(kind: Kind, x: Float64Array, bits: number, moments: Moments, steps = 200): Promise<void> {
  const n = x.length;
  const [seed, stream] = [99, 5];
  const tx = h.upload([n], x, 'x');
  const out = h.empty([n], 'out');
  const stats = h.empty([4], 'stats');
  const partials = h.empty([baselinePartials(n)], 'partials');
  const stepState = h.upload([2], new Uint32Array([seed, 0]), 'step_state');
  const ds = await buildChecked(h.device, () => build(kind, tx, out, stats, partials, stepState, n, bits, stream));
  const sum = new Float64Array(n);
  for (let step = 0; step < steps; step++) {
    writeTensor(h.device, stepState, new Uint32Array([seed, step]));
    await h.run(ds);
    const o = await h.read(out);
    for (let i = 0; i < n; i++) sum[i] += o[i];
  }
  let worstZ = 0;
  let totalBias = 0;
  let totalVariance = 0;
  for (let i = 0; i < n; i++) {
    const { lower, upper, pUp } = moments(i);
    const mean = lower + pUp * (upper - lower);
    expect(Math.abs(mean - x[i]), `E[out_${i}] = x_${i} (the two-point distribution itself)`).toBeLessThan(1e-12);
    const variance = (upper - lower) ** 2 * pUp * (1 - pUp);
    const bias = sum[i] / steps - x[i];
    totalBias += bias;
    totalVariance += variance / steps;
    if (variance === 0) expect(Math.abs(bias), `zero-variance element ${i}`).toBeLessThan(1e-6 * Math.abs(x[i]) + 1e-30);
    else worstZ = Math.max(worstZ, Math.abs(bias) / Math.sqrt(variance / steps));
  }
  expect(worstZ, `${kind}: largest |mean − x| in standard errors`).toBeLessThan(5);
  expect(Math.abs(totalBias) / Math.sqrt(totalVariance), `${kind}: Σ(mean − x) in standard errors`).toBeLessThan(5);
}

describe('unbiased: the mean over 200 steps of each stochastic quantizer → x (every element within 5σ)', () => {
  const n = 1001;
  const x = Float64Array.from(new SeededRandom(123).normalArray(n, 0.7), f32);

  it('minmax, 2 bits', async () => {
    let [lo, hi] = [Infinity, -Infinity];
    for (const v of x) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    const width = (hi - lo) / 3;
    await expectUnbiased('minmax', x, 2, (i) => {
      const y = (x[i] - lo) / width;
      const q = Math.min(Math.floor(y), 2);
      return { lower: lo + width * q, upper: lo + width * (q + 1), pUp: y - q };
    });
  });

  it('LUQ, 2 and 4 bits (stochastic underflow and log rounding)', async () => {
    let largest = 0;
    for (const v of x) largest = Math.max(largest, Math.abs(v));
    for (const bits of [2, 4]) {
      const alpha = largest / 2 ** 2 ** (bits - 1);
      await expectUnbiased('luq', x, bits, (i) => {
        const m = Math.abs(x[i]);
        const sign = x[i] < 0 ? -1 : 1;
        if (m < alpha) return { lower: 0, upper: sign * alpha, pUp: m / alpha };
        let lower = alpha;
        while (2 * lower <= m) lower *= 2;
        return { lower: sign * lower, upper: sign * 2 * lower, pUp: (m - lower) / lower };
      });
    }
  });

  it('symmetric stochastic, 2 bits', async () => {
    let largest = 0;
    for (const v of x) largest = Math.max(largest, Math.abs(v));
    const scale = largest / 1;
    await expectUnbiased('symmetric-stochastic', x, 2, (i) => {
      const v = x[i] / scale;
      const c = Math.floor(v);
      return { lower: c * scale, upper: (c + 1) * scale, pUp: v - c };
    });
  });
});
