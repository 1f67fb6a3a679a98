// Loss-spike detection on seeded synthetic curves: a noisy power-law decay (what a training loss looks
// like) gives no spikes over many seeds and noise levels; jumps injected at known steps are found there,
// once each; a run that goes NaN is marked once; the threshold's unit (robust standard deviations of the
// log loss) and the minimum ratio behave as documented.
import { describe, expect, it } from 'vitest';
import { Rng } from '../data/rng';
import { gaussian } from '../model/params';
import { detectLossSpikes, type LossPoint } from './spikes';

/** L(t) = 1.5 + 2.5·(t/10 + 1)^−0.5 with multiplicative log-normal noise of standard deviation `sigma`
 *  (in the log): the shape of a mini-batch training loss falling toward an irreducible loss. */
function noisyDecay(seed: number, sigma: number, n: number, warmup = 0): LossPoint[] {
  const rng = new Rng(seed).fork('curve');
  const points: LossPoint[] = [];
  for (let t = 1; t <= n; t++) {
    // A warmup: the loss stays at its start while the learning rate ramps up.
    const progress = Math.max(0, t - warmup);
    points.push({ step: t, loss: (1.5 + 2.5 * Math.pow(progress / 10 + 1, -0.5)) * Math.exp(sigma * gaussian(rng)) });
  }
  return points;
}

/** Multiplies the loss at steps start, start+1, … by the given factors. */
function inject(points: LossPoint[], start: number, factors: number[]): LossPoint[] {
  return points.map((p) => {
    const i = p.step - start;
    return i >= 0 && i < factors.length ? { step: p.step, loss: p.loss * factors[i] } : p;
  });
}

describe('detectLossSpikes: ordinary noise', () => {
  it('finds no spike in noisy power-law decays (40 seeds × 4 noise levels × 600 steps, with and without a warmup plateau)', () => {
    let spikes = 0;
    for (let seed = 0; seed < 40; seed++) {
      for (const sigma of [0.005, 0.02, 0.04, 0.08]) {
        spikes += detectLossSpikes(noisyDecay(seed, sigma, 600, seed % 2 ? 30 : 0)).length;
      }
    }
    expect(spikes).toBe(0);
  });

  it('finds none in a noiseless decay, a flat curve, or a slowly rising one', () => {
    expect(detectLossSpikes(noisyDecay(0, 0, 500))).toEqual([]);
    expect(detectLossSpikes(Array.from({ length: 300 }, (_, i) => ({ step: i, loss: 2 })))).toEqual([]);
    // +0.5% per step: a rising loss (too high a learning rate), steadily, not suddenly.
    const rng = new Rng(3);
    expect(detectLossSpikes(Array.from({ length: 300 }, (_, i) => ({ step: i, loss: 2 * Math.exp(0.005 * i + 0.02 * gaussian(rng)) })))).toEqual([]);
  });

  it('needs a history: nothing finite is judged before `minHistory` points, and an empty curve has no spikes', () => {
    expect(detectLossSpikes([])).toEqual([]);
    const short = inject(noisyDecay(1, 0.02, 15), 12, [5]);
    expect(detectLossSpikes(short)).toEqual([]);
    expect(detectLossSpikes(short, { minHistory: 8 }).map((s) => s.step)).toEqual([12]);
  });
});

describe('detectLossSpikes: injected jumps', () => {
  it('finds every injected jump at its step, once, and nothing else (30 seeds, 3 jumps each of ×1.6–×3 lasting 1–5 steps)', () => {
    let found = 0;
    let injected = 0;
    for (let seed = 0; seed < 30; seed++) {
      const rng = new Rng(seed).fork('jumps');
      let curve = noisyDecay(seed, 0.03, 800);
      const starts: number[] = [];
      for (let j = 0; j < 3; j++) {
        // Well apart (≥ 150 steps), after the first 60.
        const start = 60 + j * 250 + Math.floor(rng.nextFloat() * 100);
        const length = 1 + Math.floor(rng.nextFloat() * 5);
        const height = 1.6 + 1.4 * rng.nextFloat();
        curve = inject(curve, start, Array.from({ length }, () => height));
        starts.push(start);
      }
      const spikes = detectLossSpikes(curve);
      injected += starts.length;
      found += spikes.filter((s) => starts.includes(s.step)).length;
      expect(spikes.map((s) => s.step), `seed ${seed}`).toEqual(starts);
    }
    expect(found).toBe(injected);
  });

  it('marks a spike of several steps once, at its start, with its peak, end and length; ratio is loss / expected', () => {
    const base = noisyDecay(7, 0.01, 300);
    const spikes = detectLossSpikes(inject(base, 150, [1.5, 2.5, 1.8]));
    expect(spikes).toHaveLength(1);
    const [s] = spikes;
    expect(s).toMatchObject({ step: 150, peakStep: 151, endStep: 152, points: 3 });
    expect(s.loss).toBeCloseTo(base[149].loss * 1.5, 12);
    expect(s.peakLoss).toBeCloseTo(base[150].loss * 2.5, 12);
    expect(s.ratio).toBeCloseTo(s.loss / s.expected, 12);
    // The trend's prediction is near the uninjected curve there (noise 1%: within 5%).
    const truth = 1.5 + 2.5 * Math.pow(150 / 10 + 1, -0.5);
    expect(Math.abs(s.expected / truth - 1)).toBeLessThan(0.05);
    expect(s.ratio).toBeGreaterThan(1.3);
  });

  it('a jump to a new level that stays is one spike, and the curve after it is judged against the new level', () => {
    const base = noisyDecay(2, 0.02, 400);
    const shifted = base.map((p) => (p.step >= 200 ? { step: p.step, loss: p.loss * 1.8 } : p));
    const spikes = detectLossSpikes(shifted, { window: 20 });
    expect(spikes.map((s) => s.step)).toEqual([200]);
    expect(spikes[0].points).toBe(20);
    // A second jump later on the new level is found too.
    expect(detectLossSpikes(inject(shifted, 320, [2]), { window: 20 }).map((s) => s.step)).toEqual([200, 320]);
  });
});

describe('detectLossSpikes: diverged runs', () => {
  it('a run that stays NaN is marked once, at its first NaN, with an infinite ratio', () => {
    const curve = noisyDecay(4, 0.02, 300).map((p) => (p.step >= 180 ? { step: p.step, loss: NaN } : p));
    const spikes = detectLossSpikes(curve);
    expect(spikes).toHaveLength(1);
    expect(spikes[0]).toMatchObject({ step: 180, ratio: Infinity, endStep: 300, points: 121 });
    expect(spikes[0].loss).toBeNaN();
    expect(spikes[0].expected).toBeGreaterThan(0);
  });

  it('a single ∞ or NaN step is one spike (even before any history), and the run after it is judged as before', () => {
    const curve = noisyDecay(5, 0.02, 300).map((p) => (p.step === 100 ? { step: 100, loss: Infinity } : p.step === 2 ? { step: 2, loss: NaN } : p));
    const spikes = detectLossSpikes(curve);
    expect(spikes.map((s) => s.step)).toEqual([2, 100]);
    expect(spikes[0].expected).toBeNaN();
  });

  it('a jump that then goes NaN is one spike whose peak is the first non-finite step', () => {
    const curve = inject(noisyDecay(6, 0.02, 200), 120, [3, 10]).map((p) => (p.step >= 122 ? { step: p.step, loss: NaN } : p));
    const spikes = detectLossSpikes(curve);
    expect(spikes).toHaveLength(1);
    expect(spikes[0]).toMatchObject({ step: 120, peakStep: 122 });
  });
});

describe('detectLossSpikes: the threshold', () => {
  it('is in robust standard deviations of the log loss: a 4σ jump passes threshold 6 and is caught at threshold 2', () => {
    const sigma = 0.05;
    let caughtAt6 = 0;
    let caughtAt2 = 0;
    const seeds = 30;
    for (let seed = 0; seed < seeds; seed++) {
      const curve = inject(noisyDecay(seed + 100, sigma, 300), 200, [Math.exp(4 * sigma)]);
      if (detectLossSpikes(curve, { threshold: 6 }).some((s) => s.step === 200)) caughtAt6++;
      if (detectLossSpikes(curve, { threshold: 2 }).some((s) => s.step === 200)) caughtAt2++;
    }
    // A jump of 4σ on top of noise of σ is above 6σ only when the noise adds 2σ more (P ≈ 2%).
    expect(caughtAt6).toBeLessThanOrEqual(3);
    // Above 2σ unless the noise takes 2σ away (P ≈ 2%), and the trend's estimate is a little high.
    expect(caughtAt2).toBeGreaterThanOrEqual(seeds - 5);
  });

  it('and a jump must also reach minRatio (default 1.1) over the trend: a smooth curve does not flag a 5% wiggle', () => {
    const smooth = noisyDecay(8, 0.0005, 300);
    expect(detectLossSpikes(inject(smooth, 150, [1.05]))).toEqual([]);
    expect(detectLossSpikes(inject(smooth, 150, [1.2])).map((s) => s.step)).toEqual([150]);
    expect(detectLossSpikes(inject(smooth, 150, [1.2]), { minRatio: 1.3 })).toEqual([]);
  });

  it('rejects a negative threshold or a minimum ratio below 1', () => {
    expect(() => detectLossSpikes([], { threshold: -1 })).toThrow(/threshold must be ≥ 0/);
    expect(() => detectLossSpikes([], { minRatio: 0.5 })).toThrow(/minRatio ≥ 1/);
  });
});
