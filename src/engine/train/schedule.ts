// Learning-rate schedule: linear warmup, then cosine decay to a floor (as in GPT-2/nanoGPT training).

export interface Schedule {
  maxLr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
}

/** Learning rate of step `step` (0-based). */
export function learningRateAt(step: number, s: Schedule): number {
  if (step < s.warmupSteps) return (s.maxLr * (step + 1)) / s.warmupSteps;
  const decaySteps = s.totalSteps - 1 - s.warmupSteps;
  if (decaySteps <= 0) return s.maxLr;
  const progress = Math.min(1, (step - s.warmupSteps) / decaySteps);
  return s.minLr + 0.5 * (s.maxLr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
