import { describe, expect, it } from 'vitest';
import { learningRate } from '../reference';
import { learningRateAt } from './schedule';

describe('learning-rate schedule', () => {
  it('matches the reference warmup + cosine at every step, for several shapes', () => {
    for (const s of [
      { maxLr: 3e-3, minLr: 3e-4, warmupSteps: 20, totalSteps: 300 },
      { maxLr: 1e-3, minLr: 0, warmupSteps: 0, totalSteps: 50 },
      { maxLr: 2e-3, minLr: 2e-4, warmupSteps: 10, totalSteps: 11 },
    ]) {
      for (let step = 0; step < s.totalSteps; step++) {
        expect(learningRateAt(step, s)).toBeCloseTo(learningRate(step, s), 12);
      }
    }
  });
});
