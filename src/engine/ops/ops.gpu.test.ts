// Every GPU kernel against the float64 reference (src/engine/reference) on fresh seeded random inputs.
// Inputs are rounded to f32 before they go to both sides, so the only differences are the GPU's f32
// arithmetic. Shapes are deliberately not multiples of the 64×64 matmul tile, the 16-deep K tile, or
// the 64/256-thread workgroups, so that every bounds check in the shaders is exercised.
import { beforeAll, describe, expect, it } from 'vitest';
import { type GpuHarness, buildChecked, expectClose, gpuHarness, maxAbs, roundF32 } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { allocAttentionActivations, allocAttentionGrads, attentionBackward, attentionForward, keyLengthsForward } from './attention';
import { activationBackward, activationForward, residualAdd } from './elementwise';
import { embeddingBackward, embeddingForward } from './embedding';
import { layerNormBackward, layerNormForward } from './layernorm';
import { softmaxCrossEntropy } from './loss';
import { biasBackward, matmul, weightGradient, weightGradientSplits } from './matmul';
import { NORM_PARTIALS, optimizerStep, packAdamWStep } from './optimizer';

/** Matmul-heavy results (reductions over K up to a few hundred) vs float64. */
const TOL_MATMUL = 1e-4;
/** Elementwise results and short reductions. */
const TOL_ELEMENTWISE = 1e-5;

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

function normals(rng: SeededRandom, n: number, std = 1, mean = 0): Float64Array {
  return roundF32(rng.normalArray(n, std).map((v) => v + mean));
}

describe('matmul', () => {
  // [M, K, N]: several tiles in each direction, partial tiles, K not a multiple of the 16-deep K tile,
  // and a K smaller than one K tile.
  const shapes: [number, number, number][] = [
    [37, 129, 70],
    [70, 37, 129],
    [5, 3, 7],
  ];
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const [M, K, N] of shapes) {
        it(`C = op(A)·op(B), transA ${transA}, transB ${transB}, M ${M} K ${K} N ${N}`, async () => {
          const rng = new SeededRandom(1000 + M * 7 + K * 13 + N + (transA ? 1 : 0) * 5 + (transB ? 1 : 0) * 3);
          const a = normals(rng, M * K);
          const b = normals(rng, K * N);
          const ta = h.upload([M * K], a, 'a');
          const tb = h.upload([K * N], b, 'b');
          const tc = h.empty([M * N], 'c');
          const d = await buildChecked(h.device, () => matmul(h.kernels, { label: 'mm', a: ta, b: tb, c: tc, M, N, K, transA, transB }));
          await h.run([d]);
          const expected = ref.matmul(a, b, M, K, N, transA, transB);
          expectClose('C', await h.read(tc), expected, TOL_MATMUL);
        });
      }
    }
  }

  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`alpha, bias and accumulate together (C = C0 + alpha·op(A)·op(B) + bias), transA ${transA}, transB ${transB}`, async () => {
        const [M, K, N] = [67, 45, 71];
        const rng = new SeededRandom(2000 + (transA ? 2 : 0) + (transB ? 1 : 0));
        const a = normals(rng, M * K);
        const b = normals(rng, K * N);
        const bias = normals(rng, N);
        const c0 = normals(rng, M * N, 3);
        const alpha = Math.fround(-0.37);
        const ta = h.upload([M * K], a, 'a');
        const tb = h.upload([K * N], b, 'b');
        const tbias = h.upload([N], bias, 'bias');
        const tc = h.upload([M * N], c0, 'c');
        const d = await buildChecked(h.device, () =>
          matmul(h.kernels, { label: 'mm', a: ta, b: tb, c: tc, M, N, K, transA, transB, alpha, accumulate: true, bias: tbias }),
        );
        await h.run([d]);
        const product = ref.matmul(a, b, M, K, N, transA, transB);
        const expected = product.map((v, i) => c0[i] + alpha * v + bias[i % N]);
        expectClose('C', await h.read(tc), expected, TOL_MATMUL);
      });
    }
  }

  it('alpha alone, and bias alone (no accumulate: C0 is overwritten)', async () => {
    const [M, K, N] = [33, 20, 65];
    const rng = new SeededRandom(2100);
    const a = normals(rng, M * K);
    const b = normals(rng, N * K);
    const bias = normals(rng, N);
    const ta = h.upload([M * K], a, 'a');
    const tb = h.upload([N * K], b, 'b');
    const tbias = h.upload([N], bias, 'bias');
    const c1 = h.upload([M * N], normals(rng, M * N, 5), 'c1');
    const c2 = h.upload([M * N], normals(rng, M * N, 5), 'c2');
    const ds = await buildChecked(h.device, () => [
      matmul(h.kernels, { label: 'alpha', a: ta, b: tb, c: c1, M, N, K, transB: true, alpha: 0.125 }),
      matmul(h.kernels, { label: 'bias', a: ta, b: tb, c: c2, M, N, K, transB: true, bias: tbias }),
    ]);
    await h.run(ds);
    const product = ref.matmul(a, b, M, K, N, false, true);
    expectClose('alpha·AB', await h.read(c1), product.map((v) => 0.125 * v), TOL_MATMUL);
    expectClose('AB + bias', await h.read(c2), product.map((v, i) => v + bias[i % N]), TOL_MATMUL);
  });

  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    it(`batched products over consecutive slices, odd sizes, transA ${transA}, transB ${transB}`, async () => {
      const [batch, M, K, N] = [3, 19, 33, 67];
      const rng = new SeededRandom(3000 + (transA ? 2 : 0) + (transB ? 1 : 0));
      const a = normals(rng, batch * M * K);
      const b = normals(rng, batch * K * N);
      const alpha = Math.fround(0.7);
      const ta = h.upload([batch * M * K], a, 'a');
      const tb = h.upload([batch * K * N], b, 'b');
      const tc = h.empty([batch * M * N], 'c');
      const d = await buildChecked(h.device, () => matmul(h.kernels, { label: 'bmm', a: ta, b: tb, c: tc, M, N, K, transA, transB, alpha, batch }));
      await h.run([d]);
      const expected = new Float64Array(batch * M * N);
      for (let i = 0; i < batch; i++) {
        const c = ref.matmul(a.subarray(i * M * K, (i + 1) * M * K), b.subarray(i * K * N, (i + 1) * K * N), M, K, N, transA, transB);
        expected.set(c.map((v) => alpha * v), i * M * N);
      }
      expectClose('C', await h.read(tc), expected, TOL_MATMUL);
    });
  }

  it('linear layer products (Y = X·Wᵀ + b, ∇X = ∇Y·W, ∇W = ∇Yᵀ·X) match linearForward/linearBackward', async () => {
    const [rows, Din, Dout] = [37, 70, 129];
    const rng = new SeededRandom(3100);
    const x = normals(rng, rows * Din);
    const w = normals(rng, Dout * Din, 0.2);
    const bias = normals(rng, Dout);
    const dy = normals(rng, rows * Dout);
    const tx = h.upload([rows, Din], x, 'x');
    const tw = h.upload([Dout, Din], w, 'w');
    const tb = h.upload([Dout], bias, 'b');
    const tdy = h.upload([rows, Dout], dy, 'dy');
    const ty = h.empty([rows, Dout], 'y');
    const tdx = h.empty([rows, Din], 'dx');
    const tdw = h.empty([Dout, Din], 'dw');
    const tdb = h.empty([Dout], 'db');
    const ds = await buildChecked(h.device, () => [
      matmul(h.kernels, { label: 'fwd', a: tx, b: tw, c: ty, M: rows, N: Dout, K: Din, transB: true, bias: tb }),
      matmul(h.kernels, { label: 'dx', a: tdy, b: tw, c: tdx, M: rows, N: Din, K: Dout }),
      matmul(h.kernels, { label: 'dw', a: tdy, b: tx, c: tdw, M: Dout, N: Din, K: rows, transA: true }),
      ...biasBackward(h.kernels, 'db', tdy, tdb, rows, Dout),
    ]);
    await h.run(ds);
    const back = ref.linearBackward(dy, x, w, rows, Din, Dout, true);
    expectClose('y', await h.read(ty), ref.linearForward(x, w, bias, rows, Din, Dout), TOL_MATMUL);
    expectClose('dx', await h.read(tdx), back.dx, TOL_MATMUL);
    expectClose('dw', await h.read(tdw), back.dw, TOL_MATMUL);
    expectClose('db', await h.read(tdb), back.db!, TOL_MATMUL);
  });
});

describe('weightGradient: ∇W = ∇Yᵀ·X split over the tokens when the output is small', () => {
  it('splits only small outputs with long reductions, into a power of two dividing K', () => {
    expect(weightGradientSplits(1024, 256, 8192)).toBe(8); // 64 tiles → 8 splits of 1024 tokens
    expect(weightGradientSplits(8192, 2048, 8192)).toBe(1); // 4096 tiles: enough parallelism already
    expect(weightGradientSplits(64, 64, 300)).toBe(1); // too short to split
    expect(weightGradientSplits(64, 64, 1536)).toBe(4); // 8 splits would leave 192 < 256 tokens each
    expect(weightGradientSplits(64, 64, 1000)).toBe(2); // 1000 = 8·125: 4 splits of 250 are too short
  });

  for (const accumulate of [false, true]) {
    it(`equals the float64 product${accumulate ? ', accumulated into C' : ''} (M 70, N 33, K 2048: 8 splits)`, async () => {
      const [M, N, K] = [70, 33, 2048];
      expect(weightGradientSplits(M, N, K)).toBe(8);
      const rng = new SeededRandom(accumulate ? 4400 : 4401);
      const a = normals(rng, K * M); // ∇Y stored [K, M]
      const b = normals(rng, K * N); // X stored [K, N]
      const c0 = normals(rng, M * N);
      const tc = h.upload([M * N], accumulate ? c0 : new Float64Array(M * N), 'c');
      const ds = await buildChecked(h.device, () => weightGradient(h.kernels, { label: 'dw', a: h.upload([K, M], a, 'a'), b: h.upload([K, N], b, 'b'), c: tc, M, N, K, alpha: 0.5, accumulate }));
      expect(ds.length).toBe(2);
      await h.run(ds);
      const product = ref.matmul(a, b, M, K, N, true, false);
      const expected = product.map((v, i) => 0.5 * v + (accumulate ? c0[i] : 0));
      expectClose('∇W', await h.read(tc), expected, TOL_MATMUL);
    });
  }
});

describe('biasBackward', () => {
  // Rows cross the 256-row chunks of the first pass (1030 = 4 whole chunks and a partial one).
  for (const [rows, cols] of [[70, 129], [1, 5], [200, 64], [1030, 70], [257, 3]] as const) {
    it(`column sums of ∇Y [${rows}, ${cols}]`, async () => {
      const rng = new SeededRandom(4000 + rows + cols);
      const dy = normals(rng, rows * cols);
      const tdy = h.upload([rows, cols], dy, 'dy');
      const tdb = h.empty([cols], 'db');
      await h.run(await buildChecked(h.device, () => biasBackward(h.kernels, 'db', tdy, tdb, rows, cols)));
      // The bias gradient of a linear layer is the reference's db (sum over rows of dy).
      const w = new Float64Array(cols); // a 1-input layer: only db is used
      const expected = ref.linearBackward(dy, new Float64Array(rows), w, rows, 1, cols, true).db!;
      expectClose('db', await h.read(tdb), expected, TOL_ELEMENTWISE);
    });
  }
});

describe('layerNorm', () => {
  const eps = 1e-5;
  // 600 rows: the parameter gradients' column sums cross three 256-row chunks of their first pass.
  for (const [rows, C] of [[37, 70], [5, 129], [3, 7], [600, 70]] as const) {
    it(`forward: y, mean and rstd, rows ${rows}, C ${C}`, async () => {
      const rng = new SeededRandom(5000 + rows * C);
      // A large mean relative to the spread: catches a one-pass E[x²] − E[x]² variance.
      const x = normals(rng, rows * C, 2, 3);
      const gamma = normals(rng, C, 0.5, 1);
      const beta = normals(rng, C, 0.5);
      const t = {
        x: h.upload([rows, C], x, 'x'),
        gamma: h.upload([C], gamma, 'gamma'),
        beta: h.upload([C], beta, 'beta'),
        y: h.empty([rows, C], 'y'),
        mean: h.empty([rows], 'mean'),
        rstd: h.empty([rows], 'rstd'),
      };
      await h.run([await buildChecked(h.device, () => layerNormForward(h.kernels, 'ln', t, rows, C, eps))]);
      const expected = ref.layerNormForward(x, gamma, beta, rows, C, eps);
      expectClose('y', await h.read(t.y), expected.y, TOL_ELEMENTWISE);
      expectClose('mean', await h.read(t.mean), expected.mean, TOL_ELEMENTWISE);
      // rstd ≈ 1/2 here: compare relative to its own scale.
      expectClose('rstd', await h.read(t.rstd), expected.rstd, TOL_ELEMENTWISE, 0);
    });

    for (const withResidual of [false, true]) {
      it(`backward: dx (${withResidual ? 'plus' : 'without'} the residual gradient), dgamma, dbeta, rows ${rows}, C ${C}`, async () => {
        const rng = new SeededRandom(5100 + rows * C + (withResidual ? 1 : 0));
        const x = normals(rng, rows * C, 2, 3);
        const gamma = normals(rng, C, 0.5, 1);
        const beta = normals(rng, C, 0.5);
        const dy = normals(rng, rows * C);
        const dres = normals(rng, rows * C);
        const fwd = ref.layerNormForward(x, gamma, beta, rows, C, eps);
        // The backward reads the saved statistics; give it the reference's (rounded to f32).
        const mean = roundF32(fwd.mean);
        const rstd = roundF32(fwd.rstd);
        const t = {
          x: h.upload([rows, C], x, 'x'),
          gamma: h.upload([C], gamma, 'gamma'),
          beta: h.upload([C], beta, 'beta'),
          y: h.empty([rows, C], 'y'),
          mean: h.upload([rows], mean, 'mean'),
          rstd: h.upload([rows], rstd, 'rstd'),
        };
        const g = {
          dy: h.upload([rows, C], dy, 'dy'),
          dx: h.empty([rows, C], 'dx'),
          dgamma: h.empty([C], 'dgamma'),
          dbeta: h.empty([C], 'dbeta'),
          dresidual: withResidual ? h.upload([rows, C], dres, 'dres') : null,
        };
        await h.run(await buildChecked(h.device, () => layerNormBackward(h.kernels, 'ln', t, g, rows, C)));
        const expected = ref.layerNormBackward(dy, x, gamma, mean, rstd, rows, C);
        const dx = withResidual ? ref.residualForward(expected.dx, dres) : expected.dx;
        expectClose('dx', await h.read(g.dx), dx, TOL_ELEMENTWISE);
        expectClose('dgamma', await h.read(g.dgamma), expected.dgamma, TOL_ELEMENTWISE);
        expectClose('dbeta', await h.read(g.dbeta), expected.dbeta, TOL_ELEMENTWISE);
      });
    }
  }
});

describe('activations', () => {
  const n = 1001; // four 256-thread workgroups, the last one mostly idle
  function activationInput(seed: number): Float64Array {
    const rng = new SeededRandom(seed);
    const x = normals(rng, n, 2.5);
    // Exact zeros (ReLU's subgradient is 0 there), and large magnitudes (GELU's tanh saturates).
    for (let i = 0; i < n; i += 97) x[i] = 0;
    x[5] = 12;
    x[6] = -12;
    x[7] = 40;
    x[8] = -40;
    return x;
  }
  const cases = [
    { kind: 'gelu' as const, forward: ref.geluForward, backward: ref.geluBackward },
    { kind: 'relu' as const, forward: ref.reluForward, backward: ref.reluBackward },
  ];
  for (const c of cases) {
    it(`${c.kind} forward and backward`, async () => {
      const x = activationInput(c.kind === 'gelu' ? 6000 : 6001);
      const dy = normals(new SeededRandom(6002), n);
      const tx = h.upload([n], x, 'x');
      const tdy = h.upload([n], dy, 'dy');
      const ty = h.empty([n], 'y');
      const tdx = h.empty([n], 'dx');
      const ds = await buildChecked(h.device, () => [
        activationForward(h.kernels, 'fwd', c.kind, tx, ty),
        activationBackward(h.kernels, 'bwd', c.kind, tx, tdy, tdx),
      ]);
      await h.run(ds);
      const y = await h.read(ty);
      const dx = await h.read(tdx);
      // max |y| is 40 here (x = 40), which would make the bound lax for ordinary inputs: compare the
      // samples with |x| ≤ 6 on their own as well.
      const small = [...x.keys()].filter((i) => Math.abs(x[i]) <= 6);
      const refY = c.forward(x);
      const refDx = c.backward(x, dy);
      expectClose('y (|x| ≤ 6)', small.map((i) => y[i]), small.map((i) => refY[i]), TOL_ELEMENTWISE);
      expectClose('y (all)', y, refY, TOL_ELEMENTWISE);
      expectClose('dx', dx, refDx, TOL_ELEMENTWISE);
      for (let i = 0; i < n; i += 97) expect(dx[i], `${c.kind}'(0)·dy at x = 0`).toBeCloseTo(refDx[i], 6);
    });
  }
});

describe('residualAdd', () => {
  it('a + b is exactly the f32-rounded sum (WGSL f32 addition is correctly rounded)', async () => {
    const n = 1001;
    const rng = new SeededRandom(7000);
    const a = normals(rng, n, 3);
    const b = normals(rng, n, 0.01);
    const ta = h.upload([n], a, 'a');
    const tb = h.upload([n], b, 'b');
    const tout = h.empty([n], 'out');
    await h.run([await buildChecked(h.device, () => residualAdd(h.kernels, 'add', ta, tb, tout))]);
    const expected = roundF32(ref.residualForward(a, b));
    expect(Array.from(await h.read(tout))).toEqual(Array.from(expected));
  });
});

describe('embedding', () => {
  // N = B·T = 145 positions: the token backward walks them in three chunks of 64.
  const B = 5, T = 29, C = 70, V = 11, context = 32;
  function tokens(seed: number): Int32Array {
    // Only ids 0..6 occur (7..10 never do), with many repeats.
    const t = new SeededRandom(seed).intArray(B * T, 0, 7);
    t[0] = 6;
    return t;
  }
  for (const learned of [true, false]) {
    it(`forward, ${learned ? 'learned' : 'sinusoidal'} positions`, async () => {
      const rng = new SeededRandom(learned ? 8000 : 8001);
      const tok = tokens(learned ? 8002 : 8003);
      const wte = normals(rng, V * C);
      const wpe = normals(rng, context * C);
      const s = { B, T, C, V, learnedPositions: learned };
      const ttok = h.upload([B * T], tok, 'tokens');
      const twte = h.upload([V, C], wte, 'wte');
      const twpe = learned ? h.upload([context, C], wpe, 'wpe') : null;
      const tx = h.empty([B * T, C], 'x');
      await h.run([await buildChecked(h.device, () => embeddingForward(h.kernels, s, ttok, twte, twpe, tx))]);
      const expected = ref.embeddingForward(tok, wte, learned ? wpe : null, B, T, C, V);
      expectClose('x', await h.read(tx), expected, TOL_ELEMENTWISE);
    });

    it(`backward, ${learned ? 'learned' : 'sinusoidal'} positions: dwte scatter-add over repeated tokens${learned ? ', dwpe' : ''}`, async () => {
      const rng = new SeededRandom(learned ? 8100 : 8101);
      const tok = tokens(learned ? 8102 : 8103);
      const dx = normals(rng, B * T * C);
      const s = { B, T, C, V, learnedPositions: learned };
      const ttok = h.upload([B * T], tok, 'tokens');
      const tdx = h.upload([B * T, C], dx, 'dx');
      const tdwte = h.empty([V, C], 'dwte');
      const tdwpe = learned ? h.empty([T, C], 'dwpe') : null;
      await h.run(await buildChecked(h.device, () => embeddingBackward(h.kernels, s, ttok, tdx, tdwte, tdwpe)));
      const expected = ref.embeddingBackward(dx, tok, B, T, C, V, learned);
      const dwte = await h.read(tdwte);
      expectClose('dwte', dwte, expected.dwte, TOL_ELEMENTWISE * 4);
      for (let v = 7; v < V; v++) {
        expect(Array.from(dwte.subarray(v * C, (v + 1) * C)), `dwte row of token ${v}, which never occurs`).toEqual(new Array(C).fill(0));
      }
      if (learned) expectClose('dwpe', await h.read(tdwpe!), expected.dwpe!, TOL_ELEMENTWISE);
    });
  }

  it('backward with d_model 1100: three blocks of 512 channels, the last one partial', async () => {
    const wide = { B: 2, T: 9, C: 1100, V: 5, learnedPositions: true };
    const rng = new SeededRandom(8200);
    const tok = new SeededRandom(8201).intArray(wide.B * wide.T, 0, 4);
    const dx = normals(rng, wide.B * wide.T * wide.C);
    const tdwte = h.empty([wide.V, wide.C], 'dwte');
    const tdwpe = h.empty([wide.T, wide.C], 'dwpe');
    const ds = await buildChecked(h.device, () => embeddingBackward(h.kernels, wide, h.upload([wide.B * wide.T], tok, 'tokens'), h.upload([wide.B * wide.T, wide.C], dx, 'dx'), tdwte, tdwpe));
    await h.run(ds);
    const expected = ref.embeddingBackward(dx, tok, wide.B, wide.T, wide.C, wide.V, true);
    expectClose('dwte', await h.read(tdwte), expected.dwte, TOL_ELEMENTWISE * 4);
    expectClose('dwpe', await h.read(tdwpe), expected.dwpe!, TOL_ELEMENTWISE);
  });
});

describe('attention', () => {
  const cases = [
    { B: 2, T: 13, C: 24, nHead: 3, causal: true },
    { B: 1, T: 70, C: 16, nHead: 2, causal: true }, // T > 64: several softmax strides and matmul tiles
    { B: 2, T: 11, C: 12, nHead: 4, causal: false },
    // Scores of order ±100, and the keys past the first 64 four times larger: exp overflows f32 unless
    // the softmax subtracts the row's true maximum, which then lies beyond the first 64 keys.
    { B: 1, T: 70, C: 16, nHead: 2, causal: true, std: 10, lateKeyBoost: 4 },
    // The key padding mask, from token ids on the GPU (key_lengths): sequences of several lengths, one
    // that fills the context, and one of nothing but padding (length 1: its queries see key 0 only).
    { B: 4, T: 11, C: 12, nHead: 4, causal: false, lengths: [4, 11, 1, 7], allPadRow: 2 },
    { B: 2, T: 70, C: 16, nHead: 2, causal: false, lengths: [67, 5] }, // rows wider than the 64-thread softmax
    { B: 3, T: 9, C: 12, nHead: 3, causal: true, lengths: [3, 9, 6] }, // both masks at once
  ];
  for (const s of cases) {
    const name = `B ${s.B}, T ${s.T}, C ${s.C}, ${s.nHead} heads, ${s.causal ? 'causal' : 'not causal'}${s.std ? `, qkv std ${s.std}` : ''}${s.lengths ? `, key lengths ${s.lengths.join(' ')}` : ''}`;
    it(`forward (out, probs) and backward (dqkv), ${name}`, async () => {
      const rng = new SeededRandom(9000 + s.T * 3 + s.C + (s.std ?? 0));
      const N = s.B * s.T;
      const qkv = normals(rng, N * 3 * s.C, s.std ?? 1.5);
      if (s.lateKeyBoost) {
        for (let row = 0; row < N; row++) {
          if (row % s.T < 64) continue;
          for (let c = s.C; c < 2 * s.C; c++) qkv[row * 3 * s.C + c] = Math.fround(qkv[row * 3 * s.C + c] * s.lateKeyBoost);
        }
      }
      const dout = normals(rng, N * s.C);
      const tqkv = h.upload([N, 3 * s.C], qkv, 'qkv');
      const tout = h.empty([N, s.C], 'out');
      const tdout = h.upload([N, s.C], dout, 'dout');
      const tdqkv = h.empty([N, 3 * s.C], 'dqkv');
      const acts = allocAttentionActivations(h.memory, s, 'attn', { qkv: tqkv, out: tout });
      const grads = allocAttentionGrads(h.memory, s);
      // Token ids of [0, 5) padded with PAD after each sequence's length; pads inside a sequence are
      // real keys (only trailing padding is masked).
      const PAD = 5;
      let keyLengths: ReturnType<typeof h.empty> | null = null;
      const lengthKernel = [];
      if (s.lengths) {
        const tokens = rng.intArray(N, 0, PAD + 1);
        s.lengths.forEach((n, b) => {
          tokens[b * s.T + n - 1] = rng.int(0, PAD); // the last real token
          tokens.fill(PAD, b * s.T + n, (b + 1) * s.T);
        });
        if (s.allPadRow !== undefined) tokens.fill(PAD, s.allPadRow * s.T, (s.allPadRow + 1) * s.T);
        keyLengths = h.empty([s.B], 'key_lengths');
        const ttokens = h.upload([N], new Uint32Array(tokens), 'tokens');
        lengthKernel.push(await buildChecked(h.device, () => keyLengthsForward(h.kernels, 'key_lengths', { B: s.B, T: s.T, pad: PAD }, ttokens, keyLengths!)));
        expect(Array.from(ref.refKeyLengths(tokens, s.B, s.T, PAD))).toEqual(s.lengths);
      }
      const fwd = await buildChecked(h.device, () => attentionForward(h.kernels, 'attn', s, acts, keyLengths));
      const bwd = await buildChecked(h.device, () => attentionBackward(h.kernels, 'attn', s, acts, grads, tdout, tdqkv));
      await h.run([...lengthKernel, ...fwd, ...bwd]);
      if (keyLengths) expect(Array.from(await h.readU32(keyLengths)), 'key lengths computed on the GPU').toEqual(s.lengths);

      const expected = ref.attentionForward(qkv, s.B, s.T, s.C, s.nHead, s.causal, s.lengths ?? null);
      expectClose('out', await h.read(tout), expected.out, TOL_MATMUL);
      const probs = await h.read(acts.probs!);
      expectClose('probs', probs, expected.att, TOL_ELEMENTWISE * 4);
      // Masked keys (after the query in a causal layer, past the sequence's length) get probability exactly 0.
      for (let row = 0; row < s.B * s.nHead * s.T; row++) {
        const t = row % s.T;
        const visible = Math.min(s.causal ? t + 1 : s.T, s.lengths ? s.lengths[Math.floor(row / (s.nHead * s.T))] : s.T);
        for (let j = visible; j < s.T; j++) if (probs[row * s.T + j] !== 0) expect.fail(`probs[row ${row}, key ${j}] = ${probs[row * s.T + j]}, masked`);
      }
      expect(probs.every(Number.isFinite), 'every probability finite, also of pad queries').toBe(true);
      const dqkv = ref.attentionBackward(dout, qkv, expected.att, s.B, s.T, s.C, s.nHead);
      expectClose('dqkv', await h.read(tdqkv), dqkv, TOL_MATMUL);
    });
  }
});

describe('softmax cross-entropy', () => {
  const IGNORED = 0xffffffff;
  function perRowLoss(logits: Float64Array, targets: Int32Array, N: number, V: number): Float64Array {
    const out = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      if (targets[n] < 0) continue;
      out[n] = ref.softmaxCrossEntropyForward(logits.subarray(n * V, (n + 1) * V), targets.subarray(n, n + 1), 1, V).loss;
    }
    return out;
  }

  function build(N: number, V: number, logits: Float64Array, targets: Int32Array, accumulate: boolean, metrics0: number[]) {
    const t = {
      logits: h.upload([N, V], logits, 'logits'),
      targets: h.upload([N], targets, 'targets'),
      scoredCount: h.empty([1], 'scored'),
      losses: h.empty([N], 'losses'),
      dlogits: h.empty([N, V], 'dlogits'),
      metrics: h.upload([metrics0.length], metrics0, 'metrics'),
      lossScale: h.upload([1], [1], 'lossScale'),
    };
    return { t, loss: softmaxCrossEntropy(h.kernels, N, V, t, accumulate) };
  }

  // The last case has logits of order ±100: exp overflows f32 unless the row maximum is subtracted.
  for (const [N, V, std] of [[37, 70, 3], [6, 129, 3], [70, 11, 3], [9, 70, 40]] as const) {
    it(`per-row losses, mean into metrics[slot], dlogits, with ignored targets, N ${N}, V ${V}, logits std ${std}`, async () => {
      const rng = new SeededRandom(10000 + N * V + std);
      const logits = normals(rng, N * V, std);
      const targets = rng.intArray(N, 0, V);
      for (let n = 1; n < N; n += 4) targets[n] = ref.IGNORE_TARGET; // −1 is written as 0xffffffff
      targets[N - 1] = V - 1;
      const { t, loss } = await buildChecked(h.device, () => build(N, V, logits, targets, false, [7, 7, 7, 7]));
      // The training loop rewrites the slot (word 2 of the reduction's uniforms) every step: use slot 2.
      h.device.queue.writeBuffer(loss.reduceUniforms, 8, new Uint32Array([2]));
      await h.run(loss.dispatches);
      expect((await h.readU32(t.targets))[1]).toBe(IGNORED);

      const forward = ref.softmaxCrossEntropyForward(logits, targets, N, V);
      expect((await h.read(t.scoredCount))[0]).toBe(forward.validCount);
      expectClose('losses', await h.read(t.losses), perRowLoss(logits, targets, N, V), TOL_ELEMENTWISE);
      const metrics = await h.read(t.metrics);
      expect(metrics[0]).toBe(7);
      expect(metrics[1]).toBe(7);
      expect(metrics[3]).toBe(7);
      expectClose('mean loss', [metrics[2]], [forward.loss], TOL_ELEMENTWISE);
      const dlogits = ref.softmaxCrossEntropyBackward(forward.probs, targets, N, V, forward.validCount);
      // dlogits are O(1/validCount): compare relative to their own scale.
      expectClose('dlogits', await h.read(t.dlogits), dlogits, TOL_ELEMENTWISE, 0);
    });
  }

  it('validation mode adds the batch mean to metrics[slot] and 1 to metrics[slot + 1]', async () => {
    const [N, V] = [20, 70];
    const rng = new SeededRandom(10100);
    const logits = normals(rng, N * V, 2);
    const targets = rng.intArray(N, 0, V);
    targets[3] = ref.IGNORE_TARGET;
    const { t, loss } = await buildChecked(h.device, () => build(N, V, logits, targets, true, [1.5, 2, 9, 9]));
    await h.run(loss.dispatches);
    await h.run(loss.dispatches);
    const metrics = await h.read(t.metrics);
    const expected = ref.softmaxCrossEntropyForward(logits, targets, N, V).loss;
    expectClose('sum of batch means', [metrics[0]], [1.5 + 2 * expected], TOL_ELEMENTWISE);
    expect(metrics[1]).toBe(4);
    expect([metrics[2], metrics[3]]).toEqual([9, 9]);
  });

  it('a batch with every target ignored has loss 0 and zero gradient', async () => {
    const [N, V] = [5, 13];
    const logits = normals(new SeededRandom(10200), N * V, 2);
    const targets = new Int32Array(N).fill(ref.IGNORE_TARGET);
    const { t, loss } = await buildChecked(h.device, () => build(N, V, logits, targets, false, [7, 7]));
    await h.run(loss.dispatches);
    const forward = ref.softmaxCrossEntropyForward(logits, targets, N, V);
    expect(forward.loss).toBe(0);
    expect((await h.read(t.metrics))[0]).toBe(0);
    expect(maxAbs(await h.read(t.dlogits))).toBe(0);
  });
});

describe('AdamW with global gradient-norm clipping', () => {
  const cases = [
    { name: 'clip active', n: 1001, maxNorm: 5, decayEnd: 600, scaledStart: 1001, lrScale: 1 },
    { name: 'clip inactive (norm below the limit)', n: 1001, maxNorm: 1e4, decayEnd: 600, scaledStart: 1001, lrScale: 1 },
    { name: 'clipping off (maxNorm 0)', n: 777, maxNorm: 0, decayEnd: 0, scaledStart: 777, lrScale: 1 },
    { name: `clip active, more than ${NORM_PARTIALS}·256 values (strided partial sums)`, n: 70001, maxNorm: 50, decayEnd: 70001, scaledStart: 70001, lrScale: 1 },
    { name: 'clip active, the last 300 (quantizer step sizes) at lr·0.01', n: 1001, maxNorm: 5, decayEnd: 500, scaledStart: 701, lrScale: 0.01 },
  ];
  for (const c of cases) {
    it(`params, m, v, norm and clip factor vs adamwStep + gradNormClipScale: ${c.name}`, async () => {
      const { n, maxNorm, decayEnd, scaledStart, lrScale } = c;
      const rng = new SeededRandom(11000 + n + maxNorm);
      const params = normals(rng, n);
      const grads = normals(rng, n, 0.5);
      const m0 = normals(rng, n, 0.05);
      const v0 = roundF32(normals(rng, n, 0.3).map((x) => x * x));
      const o = { lr: 0.05, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, t: 3 };
      const metricsSlot = 1;
      const t = {
        params: h.upload([n], params, 'params'),
        grads: h.upload([n], grads, 'grads'),
        m: h.upload([n], m0, 'm'),
        v: h.upload([n], v0, 'v'),
        partials: h.empty([NORM_PARTIALS], 'partials'),
        state: h.empty([3], 'state'),
        metrics: h.upload([5], [7, 7, 7, 7, 7], 'metrics'),
        scaler: h.upload([3], [1, 0, 0], 'scaler'),
      };
      const stepUniforms = h.memory.buffer(64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'step');
      h.device.queue.writeBuffer(stepUniforms, 0, packAdamWStep({ ...o, maxGradNorm: maxNorm, nParams: n, decayEnd, metricsSlot, dynamicLossScale: false, scaleGrowthInterval: 2000, scaledStart, lrScale }));
      await h.run(await buildChecked(h.device, () => optimizerStep(h.kernels, t, stepUniforms)));

      const clip = ref.gradNormClipScale([grads], maxNorm);
      if (c.name.startsWith('clip active')) expect(clip.scale).toBeLessThan(0.9);
      else expect(clip.scale).toBe(1);
      const p = Float64Array.from(params);
      const m = Float64Array.from(m0);
      const v = Float64Array.from(v0);
      const common = { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, step: o.t, gradScale: clip.scale };
      ref.adamwStep(p.subarray(0, decayEnd), grads.subarray(0, decayEnd), m.subarray(0, decayEnd), v.subarray(0, decayEnd), { ...common, weightDecay: o.weightDecay });
      ref.adamwStep(p.subarray(decayEnd, scaledStart), grads.subarray(decayEnd, scaledStart), m.subarray(decayEnd, scaledStart), v.subarray(decayEnd, scaledStart), { ...common, weightDecay: 0 });
      ref.adamwStep(p.subarray(scaledStart), grads.subarray(scaledStart), m.subarray(scaledStart), v.subarray(scaledStart), { ...common, lr: o.lr * lrScale, weightDecay: 0 });

      const state = await h.read(t.state);
      expectClose('norm', [state[0]], [clip.norm], TOL_ELEMENTWISE, 0);
      expectClose('clip factor', [state[1]], [clip.scale], TOL_ELEMENTWISE, 0);
      const metrics = await h.read(t.metrics);
      expect(metrics[metricsSlot]).toBe(state[0]);
      // then the loss scale the step ran with (1: no scaling) and the skipped flag; slot 0 untouched
      expect([metrics[0], metrics[metricsSlot + 1], metrics[metricsSlot + 2], metrics[4]]).toEqual([7, 1, 0, 7]);
      expect(Array.from(await h.read(t.scaler))).toEqual([1, 0, 0]);
      expectClose('m', await h.read(t.m), m, TOL_ELEMENTWISE, 0);
      expectClose('v', await h.read(t.v), v, TOL_ELEMENTWISE, 0);
      // The update is ~lr: compare p − p0 on both sides, relative to the largest update.
      const gpuParams = await h.read(t.params);
      const gpuDelta = gpuParams.map((x, i) => x - params[i]);
      const refDelta = p.map((x, i) => x - params[i]);
      expectClose('p − p0', gpuDelta, refDelta, 1e-4, 0);
    });
  }
});

// Past 65,535 workgroups in x the host spreads a grid over y (grid1d, gridRows) and the kernels rebuild
// the index from both; these are the only tests that reach that path (about 2 s on CPU Vulkan).
describe('grids of more than 65,535 workgroups', () => {
  it('residualAdd over 65,535·256 + 1000 values (grid1d spills into y)', async () => {
    const n = 65535 * 256 + 1000;
    const rng = new SeededRandom(12000);
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = rng.uniform(-4, 4);
      b[i] = rng.uniform(-1, 1);
    }
    const ta = h.upload([n], a, 'a');
    const tb = h.upload([n], b, 'b');
    const tout = h.empty([n], 'out');
    await h.run([await buildChecked(h.device, () => residualAdd(h.kernels, 'add', ta, tb, tout))]);
    const out = await h.read(tout);
    const chunk = 1 << 20;
    let mismatches = 0;
    let first = -1;
    for (let start = 0; start < n; start += chunk) {
      const end = Math.min(n, start + chunk);
      const expected = roundF32(ref.residualForward(Float64Array.from(a.subarray(start, end)), Float64Array.from(b.subarray(start, end))));
      for (let i = 0; i < expected.length; i++) {
        if (out[start + i] !== expected[i]) {
          mismatches++;
          if (first < 0) first = start + i;
        }
      }
    }
    expect(mismatches, `first mismatch at ${first}`).toBe(0);
  });

  it('layerNorm forward over 65,600 rows (gridRows spills into y)', async () => {
    // C = 8 rather than 2 or 3: with so many rows, a row of nearly equal values (tiny variance, huge
    // rstd) would otherwise make y ill-conditioned in the inputs' own f32 rounding.
    const [rows, C] = [65600, 8];
    const rng = new SeededRandom(12001);
    const x = normals(rng, rows * C, 2, 1);
    const gamma = normals(rng, C, 0.5, 1);
    const beta = normals(rng, C, 0.5);
    const t = {
      x: h.upload([rows, C], x, 'x'),
      gamma: h.upload([C], gamma, 'gamma'),
      beta: h.upload([C], beta, 'beta'),
      y: h.empty([rows, C], 'y'),
      mean: h.empty([rows], 'mean'),
      rstd: h.empty([rows], 'rstd'),
    };
    await h.run([await buildChecked(h.device, () => layerNormForward(h.kernels, 'ln', t, rows, C, 1e-5))]);
    const expected = ref.layerNormForward(x, gamma, beta, rows, C, 1e-5);
    expectClose('y', await h.read(t.y), expected.y, TOL_ELEMENTWISE);
    expectClose('mean', await h.read(t.mean), expected.mean, TOL_ELEMENTWISE);
  });
});
