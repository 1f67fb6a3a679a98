import { describe, expect, it } from 'vitest';
import { Rng } from './rng';

const TWO_POW_32 = 2 ** 32;

/** An independent float64-free oracle: splitmix32 seeding and xoshiro128** in BigInt arithmetic,
 *  written from the published algorithm descriptions (no Math.imul, no int32 wrap-around tricks). */
function referenceStream(seed: number, count: number): number[] {
  const M = (1n << 32n) - 1n;
  const mul = (a: bigint, b: bigint) => (a * b) & M;
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
  let counter = BigInt(seed);
  const splitmix = () => {
    counter = (counter + 0x9e3779b9n) & M;
    let z = counter;
    z = mul(z ^ (z >> 16n), 0x21f0aaadn);
    z = mul(z ^ (z >> 15n), 0x735a2d97n);
    return z ^ (z >> 15n);
  };
  const s = [splitmix(), splitmix(), splitmix(), splitmix()];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number(mul(rotl(mul(s[1], 5n), 7n), 9n)));
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
  }
  return out;
}

function draws(rng: Rng, count: number): number[] {
  return Array.from({ length: count }, () => rng.nextU32());
}

/** Pearson's chi-square statistic of observed counts against equal expected counts. */
function chiSquareUniform(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

function correlation(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('Rng', () => {
  it('matches xoshiro128** from the state {1, 2, 3, 4} (outputs worked out by hand)', () => {
    // Step 1: rotl(2*5, 7)*9 = 1280*9. The state becomes {7, 0, 1026, 12288}, so step 2 outputs
    // rotl(0*5, 7)*9 = 0; then {12295, 1029, 1029, 25165824}: rotl(5145, 7)*9 = 658560*9; then
    // s1 = 12295: rotl(61475, 7)*9 = 7868800*9.
    const rng = Rng.fromState([1, 2, 3, 4]);
    expect(draws(rng, 4)).toEqual([11520, 0, 5927040, 70819200]);
  });

  it('matches a BigInt reference of splitmix32 seeding + xoshiro128** for several seeds', () => {
    for (const seed of [0, 1, 42, 0x7fffffff, 0x80000000, TWO_POW_32 - 1]) {
      expect(draws(new Rng(seed), 300)).toEqual(referenceStream(seed, 300));
    }
  });

  it('is deterministic: the same seed gives the same sequence, different seeds differ', () => {
    expect(draws(new Rng(1234), 1000)).toEqual(draws(new Rng(1234), 1000));
    const a = draws(new Rng(1), 100);
    const b = draws(new Rng(2), 100);
    expect(a.filter((x, i) => x === b[i]).length).toBeLessThan(2);
  });

  it('state() after some draws restarts the same stream through fromState (a checkpoint\'s data position)', () => {
    const rng = new Rng(99);
    draws(rng, 37);
    const saved = rng.state();
    expect(saved.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)).toBe(true);
    const resumed = Rng.fromState(saved);
    expect(draws(resumed, 200)).toEqual(draws(rng, 200));
    // Saving does not disturb the stream, and a different position gives different draws.
    expect(draws(Rng.fromState(new Rng(99).state()), 5)).not.toEqual(draws(Rng.fromState(saved), 5));
  });

  it('rejects seeds that are not uint32', () => {
    for (const bad of [-1, 1.5, TWO_POW_32, Number.NaN]) {
      expect(() => new Rng(bad)).toThrow(RangeError);
    }
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(/all-zero/);
  });

  it('nextFloat is in [0, 1) with mean 1/2', () => {
    const rng = new Rng(7);
    const n = 50_000;
    let sum = 0;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.nextFloat();
      if (!(x >= 0 && x < 1)) outOfRange++;
      sum += x;
    }
    expect(outOfRange).toBe(0);
    // Standard error of the mean of U(0,1) is sqrt(1/12/n) ≈ 0.0013; allow 5 of them.
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
  });

  it('nextInt is uniform on a range that does not divide 2^32 (chi-square)', () => {
    const rng = new Rng(99);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[rng.nextInt(7)]++;
    // Critical value of chi-square with 6 degrees of freedom at p = 0.001.
    expect(chiSquareUniform(counts)).toBeLessThan(22.458);
  });

  it('nextInt has no modulo bias for n = 3 * 2^30', () => {
    // With u % n, results below 2^30 would have two preimages each (probability 1/2 instead of
    // 1/3), so the three thirds of the range would be far from equal.
    const n = 3 * 2 ** 30;
    const rng = new Rng(5);
    const counts = [0, 0, 0];
    let outOfRange = 0;
    for (let i = 0; i < 30_000; i++) {
      const value = rng.nextInt(n);
      if (!(Number.isInteger(value) && value >= 0 && value < n)) outOfRange++;
      counts[Math.floor(value / 2 ** 30)]++;
    }
    expect(outOfRange).toBe(0);
    // Chi-square, 2 degrees of freedom, p = 0.001.
    expect(chiSquareUniform(counts)).toBeLessThan(13.816);
  });

  it('nextInt handles the ends of its domain and rejects bad n', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 100; i++) expect(rng.nextInt(1)).toBe(0);
    for (let i = 0; i < 100; i++) {
      const v = rng.nextInt(TWO_POW_32);
      expect(Number.isInteger(v) && v >= 0 && v < TWO_POW_32).toBe(true);
    }
    for (const bad of [0, -3, 2.5, TWO_POW_32 + 1, Number.NaN]) {
      expect(() => rng.nextInt(bad)).toThrow(RangeError);
    }
  });

  it('shuffle permutes in place, every permutation of 3 equally likely', () => {
    const rng = new Rng(11);
    const counts = new Map<string, number>();
    for (let i = 0; i < 60_000; i++) {
      const key = rng.shuffle(['a', 'b', 'c']).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    // Chi-square, 5 degrees of freedom, p = 0.001.
    expect(chiSquareUniform([...counts.values()])).toBeLessThan(20.515);

    const typed = Int32Array.from({ length: 100 }, (_, i) => i);
    const returned = new Rng(12).shuffle(typed);
    expect(returned).toBe(typed);
    expect([...typed].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...typed]).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...new Rng(12).shuffle(Int32Array.from({ length: 100 }, (_, i) => i))]).toEqual([...typed]);
  });
});

describe('Rng.fork', () => {
  it('is deterministic and does not depend on draws already made by the parent', () => {
    const fresh = new Rng(2024);
    const used = new Rng(2024);
    draws(used, 57);
    expect(draws(fresh.fork('data'), 200)).toEqual(draws(used.fork('data'), 200));
    expect(draws(new Rng(2024).fork(3), 200)).toEqual(draws(new Rng(2024).fork(3), 200));
  });

  it('does not advance the parent', () => {
    const parent = new Rng(8);
    const child = parent.fork('init');
    draws(child, 100);
    expect(draws(parent, 100)).toEqual(draws(new Rng(8), 100));
  });

  it('gives different streams for different labels, types, seeds and nesting', () => {
    const root = new Rng(77);
    const streams = {
      parent: draws(new Rng(77), 64),
      data: draws(root.fork('data'), 64),
      init: draws(root.fork('init'), 64),
      numberOne: draws(root.fork(1), 64),
      stringOne: draws(root.fork('1'), 64),
      otherSeed: draws(new Rng(78).fork('data'), 64),
      nested: draws(root.fork('data').fork('init'), 64),
    };
    const entries = Object.entries(streams);
    for (let i = 0; i < entries.length; i++) {
      for (let j = i + 1; j < entries.length; j++) {
        const [, a] = entries[i];
        const [, b] = entries[j];
        const equal = a.filter((x, k) => x === b[k]).length;
        expect(equal, `${entries[i][0]} vs ${entries[j][0]}`).toBeLessThan(2);
      }
    }
  });

  it('gives streams uncorrelated with each other and with the parent', () => {
    const n = 20_000;
    const root = new Rng(31337);
    const floats = (rng: Rng) => Array.from({ length: n }, () => rng.nextFloat());
    const parent = floats(new Rng(31337));
    const data = floats(root.fork('data'));
    const init = floats(root.fork('init'));
    // For independent streams r is about N(0, 1/n): 1/sqrt(n) ≈ 0.007; 0.035 is 5 standard errors.
    expect(Math.abs(correlation(data, init))).toBeLessThan(0.035);
    expect(Math.abs(correlation(parent, data))).toBeLessThan(0.035);
    expect(Math.abs(correlation(parent, init))).toBeLessThan(0.035);
  });
});
