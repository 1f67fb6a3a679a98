// Shared by the reference tests (and usable by GPU-kernel tests): a seeded PRNG so that no test can
// flake, and a central finite-difference gradient checker.

import { expect } from 'vitest';

/** mulberry32: a tiny, fast 32-bit PRNG; the same seed always gives the same sequence. Values in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded random draws on top of mulberry32. */
export class SeededRandom {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.next();
  }

  /** Standard normal by Box–Muller (1 − u keeps the log argument in (0, 1]). */
  normal(): number {
    const u = 1 - this.next();
    const w = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
  }

  /** n values drawn from N(0, std²). */
  normalArray(n: number, std = 1): Float64Array {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = std * this.normal();
    return a;
  }

  /** Integer in [low, high). */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low));
  }

  intArray(n: number, low: number, high: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.int(low, high);
    return a;
  }

  /** min(k, n) distinct indices of [0, n), by a partial Fisher–Yates shuffle. */
  sampleIndices(n: number, k: number): number[] {
    const all = Array.from({ length: n }, (_, i) => i);
    const count = Math.min(k, n);
    for (let i = 0; i < count; i++) {
      const j = this.int(i, n);
      [all[i], all[j]] = [all[j], all[i]];
    }
    return all.slice(0, count);
  }
}

/** Σ_i out[i]·weights[i]: a scalar loss whose gradient with respect to out is exactly `weights`. */
export function weightedSum(out: Float64Array, weights: Float64Array): number {
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * weights[i];
  return s;
}

/** Finite-difference step: central differences have O(h²) truncation error and O(ε·|L|/h) rounding error. */
export const FD_STEP = 1e-6;
/** The bound every backward must meet against finite differences (max over checked coordinates). */
export const FD_MAX_RELATIVE_ERROR = 1e-6;
/**
 * Absolute floor of the error's denominator. The difference quotient carries a rounding error of about
 * ulp(L)/h ≈ 1e-10…1e-9 for losses of order 1, which would dominate a pure relative error on tiny
 * gradients; below the floor the bound acts as an absolute one, FD_MAX_RELATIVE_ERROR·floor = 1e-8.
 */
export const FD_ABSOLUTE_FLOOR = 1e-2;

export interface GradientCheck {
  /** max over checked coordinates of |analytic − numeric| / max(|analytic|, |numeric|, FD_ABSOLUTE_FLOOR). */
  maxError: number;
  /** The coordinate where maxError occurs, for the failure message. */
  worst: { index: number; analytic: number; numeric: number };
  /** Largest |analytic| among checked coordinates: guards against a vacuous check of all-zero gradients. */
  maxAbsAnalytic: number;
}

/**
 * Compares `analytic` with central differences (L(x+h) − L(x−h)) / 2h of `loss` on the given
 * coordinates of `value`. `loss` must read `value` afresh each call: the value is perturbed in place
 * and restored exactly afterwards.
 */
export function checkGradient(
  loss: () => number,
  value: Float64Array,
  analytic: Float64Array,
  indices: number[] = Array.from({ length: value.length }, (_, i) => i),
  h = FD_STEP,
): GradientCheck {
  if (analytic.length !== value.length) throw new Error(`checkGradient: gradient has ${analytic.length} values, input ${value.length}`);
  let maxError = 0;
  let maxAbsAnalytic = 0;
  let worst = { index: -1, analytic: 0, numeric: 0 };
  for (const index of indices) {
    const original = value[index];
    value[index] = original + h;
    const lossPlus = loss();
    value[index] = original - h;
    const lossMinus = loss();
    value[index] = original;
    const numeric = (lossPlus - lossMinus) / (2 * h);
    const a = analytic[index];
    const error = Math.abs(a - numeric) / Math.max(Math.abs(a), Math.abs(numeric), FD_ABSOLUTE_FLOOR);
    maxAbsAnalytic = Math.max(maxAbsAnalytic, Math.abs(a));
    if (!(error <= maxError)) {
      // `!(<=)` also catches NaN, so a NaN gradient becomes the worst coordinate and fails the test.
      maxError = Number.isNaN(error) ? Infinity : error;
      worst = { index, analytic: a, numeric };
    }
  }
  return { maxError, worst, maxAbsAnalytic };
}

/**
 * Asserts that `analytic` matches central finite differences within FD_MAX_RELATIVE_ERROR, and that it
 * is not vacuously tiny (at least one checked coordinate above the absolute floor, so the relative
 * regime of the bound was actually exercised).
 */
export function expectGradientMatches(
  label: string,
  loss: () => number,
  value: Float64Array,
  analytic: Float64Array,
  indices?: number[],
): GradientCheck {
  const result = checkGradient(loss, value, analytic, indices);
  const { index, analytic: a, numeric } = result.worst;
  expect(result.maxAbsAnalytic, `${label}: every checked gradient coordinate is ~0`).toBeGreaterThan(FD_ABSOLUTE_FLOOR);
  expect(result.maxError, `${label}: worst at [${index}], analytic ${a}, numeric ${numeric}`).toBeLessThan(FD_MAX_RELATIVE_ERROR);
  return result;
}
