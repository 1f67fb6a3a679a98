// Each op's backward against central finite differences of its forward, plus forward properties that
// are checked independently of how the forward is written.

import { describe, expect, it } from 'vitest';
import {
  attentionBackward,
  attentionForward,
  embeddingBackward,
  embeddingForward,
  geluBackward,
  geluForward,
  layerNormBackward,
  layerNormForward,
  linearBackward,
  linearForward,
  matmul,
  matmulBackward,
  reluBackward,
  refKeyLengths,
  reluForward,
  residualForward,
  sinusoidalPositionalEncoding,
  softmaxCrossEntropyBackward,
  softmaxCrossEntropyForward,
} from './index';
import {
  FD_MAX_RELATIVE_ERROR,
  SeededRandom,
  checkGradient,
  expectGradientMatches,
  weightedSum,
} from './test-helpers';

describe('finite-difference checker', () => {
  // The checker is what makes every backward test able to fail; show that it does.
  it('rejects a gradient that is off by 0.1%', () => {
    const rng = new SeededRandom(1);
    const x = rng.normalArray(6);
    const loss = () => x.reduce((s, v) => s + Math.sin(v), 0);
    const exact = x.map(Math.cos);
    expect(checkGradient(loss, x, exact).maxError).toBeLessThan(FD_MAX_RELATIVE_ERROR);
    const wrong = exact.map((g) => g * 1.001);
    expect(checkGradient(loss, x, wrong).maxError).toBeGreaterThan(FD_MAX_RELATIVE_ERROR);
  });

  it('rejects a NaN gradient and leaves the input unchanged', () => {
    const x = new Float64Array([0.3, -0.7]);
    const before = Float64Array.from(x);
    const result = checkGradient(() => x[0] * x[1], x, new Float64Array([NaN, 0.3]));
    expect(result.maxError).toBe(Infinity);
    expect(x).toEqual(before);
  });
});

describe('linear and matmul', () => {
  const N = 3, Din = 4, Dout = 5;

  for (const hasBias of [true, false]) {
    it(`linearBackward matches finite differences (bias: ${hasBias})`, () => {
      const rng = new SeededRandom(hasBias ? 11 : 12);
      const x = rng.normalArray(N * Din);
      const w = rng.normalArray(Dout * Din);
      const b = hasBias ? rng.normalArray(Dout) : null;
      const dy = rng.normalArray(N * Dout);
      const loss = () => weightedSum(linearForward(x, w, b, N, Din, Dout), dy);
      const grads = linearBackward(dy, x, w, N, Din, Dout, hasBias);
      expectGradientMatches('dx', loss, x, grads.dx);
      expectGradientMatches('dw', loss, w, grads.dw);
      if (b) expectGradientMatches('db', loss, b, grads.db!);
      else expect(grads.db).toBeNull();
    });
  }

  it('matmul computes a hand-worked product in every transpose layout', () => {
    // A = [[1,2,3],[4,5,6]] (2x3), B = [[7,8],[9,10],[11,12]] (3x2): A·B = [[58,64],[139,154]].
    const a = new Float64Array([1, 2, 3, 4, 5, 6]);
    const aT = new Float64Array([1, 4, 2, 5, 3, 6]);
    const b = new Float64Array([7, 8, 9, 10, 11, 12]);
    const bT = new Float64Array([7, 9, 11, 8, 10, 12]);
    const expected = [58, 64, 139, 154];
    expect(Array.from(matmul(a, b, 2, 3, 2, false, false))).toEqual(expected);
    expect(Array.from(matmul(aT, b, 2, 3, 2, true, false))).toEqual(expected);
    expect(Array.from(matmul(a, bT, 2, 3, 2, false, true))).toEqual(expected);
    expect(Array.from(matmul(aT, bT, 2, 3, 2, true, true))).toEqual(expected);
  });

  it('linearForward is x·wᵀ + b: the matmul with transB plus the bias on every row', () => {
    const rng = new SeededRandom(13);
    const x = rng.normalArray(N * Din);
    const w = rng.normalArray(Dout * Din);
    const b = rng.normalArray(Dout);
    const viaMatmul = matmul(x, w, N, Din, Dout, false, true);
    const y = linearForward(x, w, b, N, Din, Dout);
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < Dout; o++) expect(y[n * Dout + o]).toBeCloseTo(viaMatmul[n * Dout + o] + b[o], 12);
    }
  });

  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`matmulBackward matches finite differences (transA ${transA}, transB ${transB})`, () => {
      const M = 3, K = 4, Ncols = 2;
      const rng = new SeededRandom(20 + Number(transA) * 2 + Number(transB));
      const a = rng.normalArray(M * K);
      const b = rng.normalArray(K * Ncols);
      const dc = rng.normalArray(M * Ncols);
      const loss = () => weightedSum(matmul(a, b, M, K, Ncols, transA, transB), dc);
      const { da, db } = matmulBackward(dc, a, b, M, K, Ncols, transA, transB);
      expectGradientMatches('da', loss, a, da);
      expectGradientMatches('db', loss, b, db);
    });
  }
});

describe('layer norm', () => {
  const N = 3, C = 6;

  it('layerNormBackward matches finite differences', () => {
    const rng = new SeededRandom(30);
    const x = rng.normalArray(N * C, 2);
    const gamma = rng.normalArray(C);
    const beta = rng.normalArray(C);
    const dy = rng.normalArray(N * C);
    const loss = () => weightedSum(layerNormForward(x, gamma, beta, N, C, 1e-5).y, dy);
    const { mean, rstd } = layerNormForward(x, gamma, beta, N, C, 1e-5);
    const grads = layerNormBackward(dy, x, gamma, mean, rstd, N, C);
    expectGradientMatches('dx', loss, x, grads.dx);
    expectGradientMatches('dgamma', loss, gamma, grads.dgamma);
    expectGradientMatches('dbeta', loss, beta, grads.dbeta);
  });

  it('with gamma = 1, beta = 0 each output row has mean 0 and (biased) variance 1', () => {
    const rng = new SeededRandom(31);
    // Rows with very different offsets and scales: normalisation must remove both.
    const x = new Float64Array(N * C);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) x[n * C + c] = 10 * n - 3 + (n + 0.5) * rng.normal();
    const { y } = layerNormForward(x, new Float64Array(C).fill(1), new Float64Array(C), N, C, 1e-12);
    for (let n = 0; n < N; n++) {
      const row = Array.from(y.subarray(n * C, (n + 1) * C));
      const mean = row.reduce((s, v) => s + v, 0) / C;
      const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / C;
      expect(Math.abs(mean)).toBeLessThan(1e-12);
      expect(Math.abs(variance - 1)).toBeLessThan(1e-9);
    }
  });
});

describe('activations', () => {
  it('geluBackward matches finite differences', () => {
    const rng = new SeededRandom(40);
    const x = rng.normalArray(12, 2);
    const dy = rng.normalArray(12);
    expectGradientMatches('dx', () => weightedSum(geluForward(x), dy), x, geluBackward(x, dy));
  });

  it('gelu matches known values of the tanh approximation', () => {
    // 0.5·(1 + tanh(√(2/π)·1.044715)) for x = 1; odd symmetry gelu(x) − gelu(−x) = x for any x.
    const y = geluForward(new Float64Array([0, 1, -1, 8, -8]));
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo(0.8411919906082768, 14);
    expect(y[1] - y[2]).toBeCloseTo(1, 14);
    expect(y[3]).toBeCloseTo(8, 10);
    expect(y[4]).toBeCloseTo(0, 10);
  });

  it('reluBackward matches finite differences away from the kink', () => {
    const rng = new SeededRandom(41);
    // Keep |x| ≥ 0.1 so that x ± h never crosses 0, where relu is not differentiable.
    const x = rng.normalArray(12).map((v) => (v >= 0 ? v + 0.1 : v - 0.1));
    const dy = rng.normalArray(12);
    expectGradientMatches('dx', () => weightedSum(reluForward(x), dy), x, reluBackward(x, dy));
  });

  it('relu zeroes negatives and takes derivative 0 at x = 0', () => {
    const x = new Float64Array([-2, 0, 3]);
    expect(Array.from(reluForward(x))).toEqual([0, 0, 3]);
    expect(Array.from(reluBackward(x, new Float64Array([5, 5, 5])))).toEqual([0, 0, 5]);
  });
});

describe('residual', () => {
  it('adds elementwise and rejects mismatched lengths', () => {
    expect(Array.from(residualForward(new Float64Array([1, 2]), new Float64Array([10, -5])))).toEqual([11, -3]);
    expect(() => residualForward(new Float64Array(2), new Float64Array(3))).toThrow();
  });
});

describe('embeddings', () => {
  const B = 2, T = 3, C = 4, V = 5;
  // Token 2 appears three times, so the scatter-add into dwte must accumulate.
  const tokens = new Int32Array([2, 0, 2, 4, 2, 1]);

  it('embeddingBackward matches finite differences (learned positions)', () => {
    const rng = new SeededRandom(50);
    const wte = rng.normalArray(V * C);
    const wpe = rng.normalArray(T * C);
    const dx = rng.normalArray(B * T * C);
    const loss = () => weightedSum(embeddingForward(tokens, wte, wpe, B, T, C, V), dx);
    const { dwte, dwpe } = embeddingBackward(dx, tokens, B, T, C, V, true);
    expectGradientMatches('dwte', loss, wte, dwte);
    expectGradientMatches('dwpe', loss, wpe, dwpe!);
    // Token 3 never occurs: its row of dwte must be exactly 0.
    expect(Array.from(dwte.subarray(3 * C, 4 * C))).toEqual([0, 0, 0, 0]);
  });

  it('embeddingBackward matches finite differences (sinusoidal positions, no dwpe)', () => {
    const rng = new SeededRandom(51);
    const wte = rng.normalArray(V * C);
    const dx = rng.normalArray(B * T * C);
    const loss = () => weightedSum(embeddingForward(tokens, wte, null, B, T, C, V), dx);
    const { dwte, dwpe } = embeddingBackward(dx, tokens, B, T, C, V, false);
    expect(dwpe).toBeNull();
    expectGradientMatches('dwte', loss, wte, dwte);
  });

  it('with sinusoidal positions, x − wte[token] is the PE row of the position', () => {
    const rng = new SeededRandom(52);
    const wte = rng.normalArray(V * C);
    const x = embeddingForward(tokens, wte, null, B, T, C, V);
    // Position 2 of batch 1 holds token 1; the PE row of position 2 for C = 4 is
    // sin(2), cos(2), sin(2/10000^(2/4)), cos(2/10000^(2/4)).
    const flat = 1 * T + 2;
    expect(tokens[flat]).toBe(1);
    const expected = [Math.sin(2), Math.cos(2), Math.sin(2 / 100), Math.cos(2 / 100)];
    for (let c = 0; c < C; c++) expect(x[flat * C + c] - wte[1 * C + c]).toBeCloseTo(expected[c], 14);
  });

  it('sinusoidal PE follows the formula of "Attention Is All You Need" §3.5, odd C included', () => {
    const even = sinusoidalPositionalEncoding(4, 6);
    // Position 0: sin 0 = 0 in even columns, cos 0 = 1 in odd ones.
    expect(Array.from(even.subarray(0, 6))).toEqual([0, 1, 0, 1, 0, 1]);
    // Position 3, C = 6: frequencies 10000^0, 10000^(2/6), 10000^(4/6).
    const row3 = even.subarray(3 * 6, 4 * 6);
    expect(row3[0]).toBeCloseTo(Math.sin(3), 14);
    expect(row3[1]).toBeCloseTo(Math.cos(3), 14);
    expect(row3[2]).toBeCloseTo(Math.sin(3 / 10000 ** (1 / 3)), 14);
    expect(row3[5]).toBeCloseTo(Math.cos(3 / 10000 ** (2 / 3)), 14);
    // C = 5: the last column (index 4 = 2·2) is a sine at frequency 10000^(4/5).
    const odd = sinusoidalPositionalEncoding(3, 5);
    expect(odd.length).toBe(15);
    expect(odd[2 * 5 + 4]).toBeCloseTo(Math.sin(2 / 10000 ** (4 / 5)), 14);
    expect(odd[2 * 5 + 3]).toBeCloseTo(Math.cos(2 / 10000 ** (2 / 5)), 14);
  });

  it('rejects out-of-range tokens', () => {
    expect(() => embeddingForward(new Int32Array([5]), new Float64Array(V * C), null, 1, 1, C, V)).toThrow();
  });
});

describe('attention', () => {
  const B = 2, T = 4, C = 6, nHead = 2;

  for (const causal of [true, false]) {
    it(`attentionBackward matches finite differences (causal: ${causal})`, () => {
      const rng = new SeededRandom(causal ? 60 : 61);
      const qkv = rng.normalArray(B * T * 3 * C);
      const dout = rng.normalArray(B * T * C);
      const loss = () => weightedSum(attentionForward(qkv, B, T, C, nHead, causal).out, dout);
      const { att } = attentionForward(qkv, B, T, C, nHead, causal);
      const dqkv = attentionBackward(dout, qkv, att, B, T, C, nHead);
      expectGradientMatches('dqkv', loss, qkv, dqkv);
    });
  }

  it('att rows are probability distributions; the causal mask zeroes keys after the query', () => {
    const rng = new SeededRandom(62);
    const qkv = rng.normalArray(B * T * 3 * C, 3);
    const causalAtt = attentionForward(qkv, B, T, C, nHead, true).att;
    const fullAtt = attentionForward(qkv, B, T, C, nHead, false).att;
    for (let row = 0; row < B * nHead * T; row++) {
      const t = row % T;
      let causalSum = 0;
      let fullSum = 0;
      for (let s = 0; s < T; s++) {
        const pCausal = causalAtt[row * T + s];
        if (s > t) expect(pCausal).toBe(0);
        else expect(pCausal).toBeGreaterThan(0);
        expect(fullAtt[row * T + s]).toBeGreaterThan(0);
        causalSum += pCausal;
        fullSum += fullAtt[row * T + s];
      }
      expect(causalSum).toBeCloseTo(1, 14);
      expect(fullSum).toBeCloseTo(1, 14);
    }
  });

  it('the first query attends only to itself, so its output is its own value vector', () => {
    const rng = new SeededRandom(63);
    const qkv = rng.normalArray(B * T * 3 * C);
    const { out } = attentionForward(qkv, B, T, C, nHead, true);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) expect(out[b * T * C + c]).toBeCloseTo(qkv[b * T * 3 * C + 2 * C + c], 14);
    }
  });

  it('key lengths: one past the last token that is not the pad token, at least 1', () => {
    const pad = 9;
    // Trailing padding; none; a pad inside the text (not after the end) is a real key; all padding.
    const tokens = new Int32Array([1, 2, pad, pad, 3, 4, 5, 6, 1, pad, 2, pad, pad, pad, pad, pad]);
    expect(Array.from(refKeyLengths(tokens, 4, 4, pad))).toEqual([2, 4, 3, 1]);
  });

  for (const causal of [false, true]) {
    it(`key padding mask (causal: ${causal}): padded keys get probability exactly 0, rows still sum to 1, backward matches finite differences`, () => {
      const rng = new SeededRandom(causal ? 66 : 65);
      const qkv = rng.normalArray(B * T * 3 * C, 2);
      const dout = rng.normalArray(B * T * C);
      const lengths = [2, 1];
      const { att } = attentionForward(qkv, B, T, C, nHead, causal, lengths);
      for (let row = 0; row < B * nHead * T; row++) {
        const b = Math.floor(row / (nHead * T));
        const t = row % T;
        const visible = Math.min(lengths[b], causal ? t + 1 : T);
        let sum = 0;
        for (let s = 0; s < T; s++) {
          const p = att[row * T + s];
          if (s >= visible) expect(p, `row ${row}, key ${s}`).toBe(0);
          else expect(p).toBeGreaterThan(0);
          sum += p;
        }
        expect(sum).toBeCloseTo(1, 14);
      }
      const loss = () => weightedSum(attentionForward(qkv, B, T, C, nHead, causal, lengths).out, dout);
      const dqkv = attentionBackward(dout, qkv, att, B, T, C, nHead);
      expectGradientMatches('dqkv', loss, qkv, dqkv);
      // A padded position's key and value reach nothing: their gradients are exactly 0.
      for (let b = 0; b < B; b++) {
        for (let s = lengths[b]; s < T; s++) {
          const row = dqkv.subarray((b * T + s) * 3 * C + C, (b * T + s + 1) * 3 * C);
          expect(row.every((x) => x === 0), `sequence ${b}, key ${s}`).toBe(true);
        }
      }
    });
  }

  it('key padding mask: what a padded position holds changes no output of a real position', () => {
    const rng = new SeededRandom(67);
    const qkv = rng.normalArray(B * T * 3 * C);
    const lengths = [3, 2];
    const before = attentionForward(qkv, B, T, C, nHead, false, lengths).out;
    const changed = Float64Array.from(qkv);
    for (let b = 0; b < B; b++) for (let s = lengths[b]; s < T; s++) for (let c = C; c < 3 * C; c++) changed[(b * T + s) * 3 * C + c] += 5 * rng.normal();
    const after = attentionForward(changed, B, T, C, nHead, false, lengths).out;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < lengths[b]; t++) {
        for (let c = 0; c < C; c++) expect(after[(b * T + t) * C + c], `sequence ${b}, position ${t}`).toBe(before[(b * T + t) * C + c]);
      }
    }
    // Without the mask the same change reaches the real positions.
    const unmasked = attentionForward(changed, B, T, C, nHead, false).out;
    expect(unmasked[0]).not.toBe(attentionForward(qkv, B, T, C, nHead, false).out[0]);
  });

  it('key lengths outside 1 … T are refused (a query with no key would divide 0 by 0)', () => {
    const qkv = new Float64Array(B * T * 3 * C);
    expect(() => attentionForward(qkv, B, T, C, nHead, false, [0, 2])).toThrow(/not in 1/);
    expect(() => attentionForward(qkv, B, T, C, nHead, false, [T + 1, 2])).toThrow(/not in 1/);
    expect(() => attentionForward(qkv, B, T, C, nHead, false, [2])).toThrow(/key lengths/);
  });

  it('with all-equal keys the output of a head is the mean of the visible values', () => {
    // Equal keys → equal scores → uniform attention, independent of the queries.
    const rng = new SeededRandom(64);
    const qkv = rng.normalArray(T * 3 * C);
    for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) qkv[t * 3 * C + C + c] = 0.7;
    const { out } = attentionForward(qkv, 1, T, C, nHead, true);
    const t = 2;
    for (let c = 0; c < C; c++) {
      const meanValue = (qkv[0 * 3 * C + 2 * C + c] + qkv[1 * 3 * C + 2 * C + c] + qkv[2 * 3 * C + 2 * C + c]) / 3;
      expect(out[t * C + c]).toBeCloseTo(meanValue, 14);
    }
  });
});

describe('softmax cross-entropy', () => {
  const N = 4, V = 5;

  it('softmaxCrossEntropyBackward matches finite differences, with an ignored row', () => {
    const rng = new SeededRandom(70);
    const logits = rng.normalArray(N * V, 2);
    const targets = new Int32Array([3, -1, 0, 4]);
    const loss = () => softmaxCrossEntropyForward(logits, targets, N, V).loss;
    const { probs, validCount } = softmaxCrossEntropyForward(logits, targets, N, V);
    expect(validCount).toBe(3);
    const dlogits = softmaxCrossEntropyBackward(probs, targets, N, V, validCount);
    expectGradientMatches('dlogits', loss, logits, dlogits);
    expect(Array.from(dlogits.subarray(V, 2 * V))).toEqual([0, 0, 0, 0, 0]);
  });

  it('uniform logits give loss ln V whatever the targets, and the ignored rows do not count', () => {
    const logits = new Float64Array(N * V).fill(0.37);
    const { loss, validCount } = softmaxCrossEntropyForward(logits, new Int32Array([0, -1, 4, 2]), N, V);
    expect(validCount).toBe(3);
    expect(loss).toBeCloseTo(Math.log(V), 14);
  });

  it('stays finite for huge logits (the row max is subtracted)', () => {
    const logits = new Float64Array([1000, 0, -1000, 999, 1000, 1000]);
    const { loss } = softmaxCrossEntropyForward(logits, new Int32Array([1, 0]), 2, 3);
    // Row 0: −log softmax at 0 ≈ 1000; row 1: −log(e^999 / (e^999 + 2e^1000)) = log(1 + 2e) .
    expect(loss).toBeCloseTo((1000 + Math.log(1 + 2 * Math.E)) / 2, 10);
  });

  it('gives 0 loss and 0 gradient when every target is ignored', () => {
    const logits = new Float64Array(2 * V).fill(1);
    const targets = new Int32Array([-1, -1]);
    const { loss, probs, validCount } = softmaxCrossEntropyForward(logits, targets, 2, V);
    expect(loss).toBe(0);
    expect(softmaxCrossEntropyBackward(probs, targets, 2, V, validCount).every((g) => g === 0)).toBe(true);
  });
});
