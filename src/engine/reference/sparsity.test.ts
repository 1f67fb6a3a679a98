// The sparsity references checked against brute force and finite differences, independently of how
// they are written: the top-k-of-4 mask is the subset of largest total magnitude (lexicographically first
// on ties), the compressed product is the dense product of the masked matrix with half the products, the
// calibration is the smallest t covering 99.99% by counting, and the distillation gradients are the
// derivatives of the distillation loss.
import { describe, expect, it } from 'vitest';
import { calibrateClipRef, calibrationRank, compress24Ref, decompress24Ref, distillRef, fakeQuantInt8Ref, groupViolations, pruneMaskRef, sparse24ProductRef, steGradRef } from './sparsity';
import { SeededRandom } from './test-helpers';

function subsets(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  const out: number[][] = [];
  for (let i = 0; i < n; i++) for (const rest of subsets(n, k - 1)) if (rest.every((j) => j > i)) out.push([i, ...rest]);
  return out.sort((a, b) => a.join() < b.join() ? -1 : 1);
}

describe('pruneMaskRef', () => {
  it('keeps the subset of largest total |w| in every group, the lexicographically first on ties', () => {
    const rng = new SeededRandom(1);
    const rows = 5;
    const cols = 40;
    const w = Float64Array.from({ length: rows * cols }, () => (rng.uniform() < 0.3 ? rng.int(-2, 3) : rng.normal()));
    for (const keep of [1, 2, 3]) {
      const mask = pruneMaskRef(w, rows, cols, keep);
      for (let g = 0; g < rows * cols; g += 4) {
        let best: number[] = [];
        let bestSum = -1;
        for (const s of subsets(4, keep)) {
          const sum = s.reduce((a, j) => a + Math.abs(w[g + j]), 0);
          if (sum > bestSum) {
            best = s;
            bestSum = sum;
          }
        }
        const kept = [0, 1, 2, 3].filter((j) => mask[g + j]);
        expect(kept, `group ${g / 4}, keep ${keep}: ${Array.from(w.subarray(g, g + 4))}`).toEqual(best);
      }
    }
  });

  it('with a previous mask, chooses only among the values it kept', () => {
    const w = Float64Array.of(9, 1, 2, 3, /**/ 0, 0, 0, 0);
    const prev = [0, 1, 1, 1, /**/ 1, 0, 1, 1];
    expect(Array.from(pruneMaskRef(w, 1, 8, 2, prev))).toEqual([0, 0, 1, 1, /**/ 1, 0, 1, 0]);
  });

  it('groupViolations counts groups with too few zeros', () => {
    expect(groupViolations([1, 0, 0, 2, 1, 1, 0, 3], 1, 8, 2)).toBe(1);
    expect(groupViolations([1, 0, 0, 2, 1, 1, 0, 3], 1, 8, 1)).toBe(0);
  });
});

describe('compressed 2:4 storage', () => {
  it('round-trips a 2:4 matrix, and its product equals the dense one of the masked matrix with K/2 products per output', () => {
    const rng = new SeededRandom(2);
    const [M, N, K] = [7, 9, 24];
    const dense = rng.normalArray(N * K);
    const mask = pruneMaskRef(dense, N, K, 2);
    const w = Float64Array.from(dense, (v, i) => (mask[i] ? v : 0));
    const c = compress24Ref(w, N, K);
    expect(Array.from(decompress24Ref(c))).toEqual(Array.from(w));
    const x = rng.normalArray(M * K);
    const bias = rng.normalArray(N);
    const { y, products } = sparse24ProductRef(x, M, c, bias);
    expect(products).toBe((M * N * K) / 2);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let s = bias[n];
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      expect(y[m * N + n]).toBeCloseTo(s, 12);
    }
  });

  it('a group with more than 2 non-zeros loses its smallest (which groupViolations reports)', () => {
    const w = Float64Array.of(1, -3, 2, 0.5);
    expect(groupViolations(w, 1, 4, 2)).toBe(1);
    expect(Array.from(decompress24Ref(compress24Ref(w, 1, 4)))).toEqual([0, -3, 2, 0]);
  });
});

describe('99.99% calibration and the straight-through estimator', () => {
  it('the clip value is the smallest |x| that covers at least 99.99% of the values', () => {
    const rng = new SeededRandom(3);
    for (const n of [1, 5, 9999, 10000, 10001, 25000]) {
      const x = Float64Array.from({ length: n }, () => rng.normal() * (rng.uniform() < 0.001 ? 100 : 1));
      const t = calibrateClipRef(x);
      const abs = Array.from(x, Math.abs);
      const covers = (v: number) => abs.filter((a) => a <= v).length >= 0.9999 * n;
      expect(covers(t)).toBe(true);
      // Coverage grows with the value: the largest |x| below t must not cover.
      const below = abs.filter((a) => a < t);
      if (below.length) expect(covers(Math.max(...below))).toBe(false);
      expect(calibrationRank(n)).toBe(Math.ceil((n * 9999) / 10000 - 1e-12));
    }
  });

  it('fake quantization clips outside [−t, t] and the STE passes gradients only inside', () => {
    const x = Float64Array.of(-5, -1, 0, 0.5, 1, 1.0000001, 3);
    const { codes, dequantized, scale } = fakeQuantInt8Ref(x, 1);
    expect(scale).toBeCloseTo(1 / 127, 15);
    expect(Array.from(codes)).toEqual([-127, -127, 0, 64, 127, 127, 127]);
    expect(dequantized[3]).toBeCloseTo(64 / 127, 15);
    expect(Array.from(steGradRef([1, 2, 3, 4, 5, 6, 7], x, 1))).toEqual([0, 2, 3, 4, 5, 0, 0]);
  });
});

describe('distillRef', () => {
  it('its gradients are the derivatives of α·T²·KL and β·MSE (central differences)', () => {
    const rng = new SeededRandom(4);
    const [rows, V, C] = [4, 6, 5];
    const o = {
      zs: rng.normalArray(rows * V, 2), zt: rng.normalArray(rows * V, 2), hs: rng.normalArray(rows * C), ht: rng.normalArray(rows * C),
      ceGrad: new Float64Array(rows * V), targets: [1, -1, 3, 0], rows, vocab: V, width: C, alpha: 0.4, temperature: 1.7, beta: 0.6,
    };
    const loss = (zs: Float64Array, hs: Float64Array) => {
      const r = distillRef({ ...o, zs, hs });
      return o.alpha * o.temperature ** 2 * r.kl + o.beta * r.mse;
    };
    const r = distillRef(o);
    const eps = 1e-6;
    for (let i = 0; i < rows * V; i++) {
      const p = Float64Array.from(o.zs);
      const m = Float64Array.from(o.zs);
      p[i] += eps;
      m[i] -= eps;
      expect(r.dLogits[i], `∂/∂z[${i}]`).toBeCloseTo((loss(p, o.hs) - loss(m, o.hs)) / (2 * eps), 6);
    }
    for (let i = 0; i < rows * C; i++) {
      const p = Float64Array.from(o.hs);
      const m = Float64Array.from(o.hs);
      p[i] += eps;
      m[i] -= eps;
      expect(r.dHidden[i], `∂/∂h[${i}]`).toBeCloseTo((loss(o.zs, p) - loss(o.zs, m)) / (2 * eps), 6);
    }
    // The unscored row contributes nothing.
    expect(Array.from(r.dLogits.subarray(V, 2 * V)).every((v) => v === 0)).toBe(true);
    expect(r.kl).toBeGreaterThan(0);
  });
});
