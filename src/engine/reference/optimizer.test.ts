import { describe, expect, it } from 'vitest';
import { adamwStep, gradNormClipScale, learningRate } from './index';
import type { AdamWOptions } from './index';
import { SeededRandom } from './test-helpers';

const baseOptions: AdamWOptions = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1, gradScale: 1 };

/** Gradients of very different magnitudes (and both signs), none near 0. */
function mixedGradients(n: number, seed: number): Float64Array {
  const rng = new SeededRandom(seed);
  return Float64Array.from({ length: n }, () => (rng.uniform() < 0.5 ? -1 : 1) * 10 ** rng.uniform(-2, 3));
}

describe('adamwStep', () => {
  it('first step with wd = 0 moves every parameter by ≈ lr·sign(g), whatever |g| is', () => {
    // After bias correction m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps).
    const n = 16;
    const grads = mixedGradients(n, 1);
    const params = new SeededRandom(2).normalArray(n);
    const before = Float64Array.from(params);
    adamwStep(params, grads, new Float64Array(n), new Float64Array(n), baseOptions);
    for (let i = 0; i < n; i++) {
      const moved = before[i] - params[i];
      expect(Math.abs(moved - baseOptions.lr * Math.sign(grads[i]))).toBeLessThan(baseOptions.lr * 1e-5);
    }
  });

  it('bias correction keeps the step at ≈ lr·sign(g) on every step of a constant gradient', () => {
    // With g constant, m_t = (1 − β1^t)·g and v_t = (1 − β2^t)·g²: without the corrections the early
    // steps would be far smaller than lr.
    const n = 4;
    const grads = mixedGradients(n, 3);
    const params = new Float64Array(n);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    for (let step = 1; step <= 5; step++) {
      const before = Float64Array.from(params);
      adamwStep(params, grads, m, v, { ...baseOptions, step });
      for (let i = 0; i < n; i++) {
        expect(Math.abs(before[i] - params[i] - baseOptions.lr * Math.sign(grads[i]))).toBeLessThan(baseOptions.lr * 1e-5);
      }
    }
  });

  it('weight decay is decoupled: it shrinks p by lr·wd·p regardless of the gradient', () => {
    const n = 6;
    const rng = new SeededRandom(4);
    const start = rng.normalArray(n, 3);
    const grads = mixedGradients(n, 5);
    const withDecay = Float64Array.from(start);
    const withoutDecay = Float64Array.from(start);
    adamwStep(withDecay, grads, new Float64Array(n), new Float64Array(n), { ...baseOptions, weightDecay: 0.1 });
    adamwStep(withoutDecay, grads, new Float64Array(n), new Float64Array(n), baseOptions);
    for (let i = 0; i < n; i++) expect(withoutDecay[i] - withDecay[i]).toBeCloseTo(baseOptions.lr * 0.1 * start[i], 14);
    // A zero gradient leaves only the decay: p·(1 − lr·wd).
    const decayOnly = Float64Array.from(start);
    adamwStep(decayOnly, new Float64Array(n), new Float64Array(n), new Float64Array(n), { ...baseOptions, weightDecay: 0.1 });
    for (let i = 0; i < n; i++) expect(decayOnly[i]).toBeCloseTo(start[i] * (1 - baseOptions.lr * 0.1), 14);
  });

  it('gradScale multiplies the gradient before it enters the moments', () => {
    const n = 5;
    const grads = mixedGradients(n, 6);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    adamwStep(new Float64Array(n), grads, m, v, { ...baseOptions, gradScale: 0.25 });
    for (let i = 0; i < n; i++) {
      expect(m[i]).toBeCloseTo((1 - baseOptions.beta1) * 0.25 * grads[i], 12);
      expect(v[i] / ((1 - baseOptions.beta2) * (0.25 * grads[i]) ** 2)).toBeCloseTo(1, 12);
    }
  });

  it('with the warmup + cosine schedule, minimises a badly scaled quadratic', () => {
    // L(p) = Σ k_i·(p_i − c_i)² with curvatures spanning 4 decades: Adam's per-coordinate scaling
    // makes them converge alike.
    const n = 5;
    const curvature = [1e-2, 1e-1, 1, 10, 100];
    const target = [1, -2, 0.5, 3, -1];
    const params = new Float64Array(n);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    const schedule = { maxLr: 0.1, minLr: 0, warmupSteps: 20, totalSteps: 1000 };
    for (let step = 0; step < schedule.totalSteps; step++) {
      const grads = Float64Array.from(params, (p, i) => 2 * curvature[i] * (p - target[i]));
      adamwStep(params, grads, m, v, { ...baseOptions, beta2: 0.99, lr: learningRate(step, schedule), step: step + 1 });
    }
    for (let i = 0; i < n; i++) expect(Math.abs(params[i] - target[i])).toBeLessThan(1e-2);
  });
});

describe('learningRate', () => {
  const schedule = { maxLr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 110 };

  it('warms up linearly from maxLr/warmup to maxLr at the last warmup step', () => {
    expect(learningRate(0, schedule)).toBeCloseTo(1e-4, 15);
    expect(learningRate(4, schedule)).toBeCloseTo(5e-4, 15);
    expect(learningRate(9, schedule)).toBeCloseTo(1e-3, 15);
  });

  it('decays by a cosine from maxLr to minLr at the last step, and stays there', () => {
    expect(learningRate(10, schedule)).toBeCloseTo(1e-3, 15);
    // With 100 decay steps (10 → 110), step 60 is halfway: cos(π/2) = 0 gives the mean of max and min.
    const halfway = { ...schedule, totalSteps: 111 };
    expect(learningRate(60, halfway)).toBeCloseTo(5.5e-4, 15);
    expect(learningRate(109, schedule)).toBeCloseTo(1e-4, 15);
    expect(learningRate(500, schedule)).toBeCloseTo(1e-4, 15);
    for (let step = 10; step < 109; step++) expect(learningRate(step + 1, schedule)).toBeLessThan(learningRate(step, schedule));
  });

  it('holds maxLr after warmup when no step is left for the decay, and skips warmup when it is 0', () => {
    expect(learningRate(10, { ...schedule, totalSteps: 11 })).toBe(1e-3);
    expect(learningRate(25, { ...schedule, totalSteps: 5 })).toBe(1e-3);
    expect(learningRate(0, { ...schedule, warmupSteps: 0 })).toBeCloseTo(1e-3, 15);
  });
});

describe('gradNormClipScale', () => {
  it('takes the L2 norm over all arrays together', () => {
    // √(3² + 4² + 12²) = 13.
    const grads = [new Float64Array([3, 4]), new Float64Array([12])];
    expect(gradNormClipScale(grads, 0).norm).toBe(13);
  });

  it('scales down to maxNorm only when clipping is on and the norm exceeds it', () => {
    const grads = [new Float64Array([3, 4]), new Float64Array([12])];
    const { norm, scale } = gradNormClipScale(grads, 5);
    expect(norm).toBe(13);
    const clippedNorm = gradNormClipScale(grads.map((g) => g.map((x) => x * scale)), 0).norm;
    expect(clippedNorm).toBeLessThan(5);
    expect(clippedNorm).toBeCloseTo(5, 6);
    expect(gradNormClipScale(grads, 13.5).scale).toBe(1);
    expect(gradNormClipScale(grads, 0).scale).toBe(1);
    // A norm exactly at the limit is not clipped (strict >): √(3² + 4²) = 5.
    expect(gradNormClipScale([new Float64Array([3, 4])], 5).scale).toBe(1);
  });
});
