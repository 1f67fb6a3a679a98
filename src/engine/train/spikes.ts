// Loss spikes: a sudden jump of the training loss relative to its recent trend (issue 7 item 5; the
// PaLM spikes of the third source article, ../shared/docs/sources.md §3, "loss spikes at scale that small
// models don't reproduce"). Pure: works on any list of (step, loss) points, so the page marks spikes on
// its loss chart with the same rule the CLI reports.
//
// The rule, in the log of the loss (a falling loss curve is roughly a power law, so its noise and its
// jumps are relative):
//   trend     a robust line through the previous `window` accepted points: the Theil–Sen estimator (the
//             median of the pairwise slopes, then the median intercept), which ignores up to ~29% of
//             outlying points. The prediction for the next point is the larger of that line extrapolated
//             and the median of the last few points, so neither a flattening curve (the line undershoots)
//             nor a rising one (the median lags) makes the prediction fall below the curve.
//   noise     the robust standard deviation of the log loss from point to point: 1.4826·MAD of the
//             successive differences over the last 4 windows of accepted points, divided by √2 (the MAD
//             of a normal sample times 1.4826 estimates its standard deviation; a difference of two
//             independent draws spreads √2 times as wide).
//   spike     log(loss) − log(expected) > max(threshold·noise, log(minRatio)): far above the trend in
//             units of the curve's own noise, and at least minRatio times the expected loss, so that an
//             almost noiseless curve does not flag a 1% wiggle.
// Points of a spike do not enter the trend, so a spike is judged against the loss before it; consecutive
// spike points are one spike, marked at its first point (where the jump happened) with its peak reported
// too. A jump that lasts a whole window is a new level, not a spike any more: the trend restarts from it.
// A loss that is not finite (NaN, ∞: a diverged run) is a spike point whatever the trend, so a run that
// stays NaN is marked once, at its first non-finite step.

export interface LossPoint {
  step: number;
  loss: number;
}

export interface LossSpike {
  /** The first step of the spike (where the loss jumped). */
  step: number;
  /** The loss at that step (NaN or ∞ for a diverged run). */
  loss: number;
  /** What the recent trend predicted (NaN when there was no trend yet). */
  expected: number;
  /** loss / expected at the first step (∞ for a non-finite loss). */
  ratio: number;
  /** The step of the highest loss of the spike (a non-finite loss counts as highest). */
  peakStep: number;
  peakLoss: number;
  /** The last step of the spike, and how many points it spans. */
  endStep: number;
  points: number;
}

export interface SpikeOptions {
  /** Points of recent history the trend is taken from (default 20; at least 5). */
  window?: number;
  /** How far above the trend counts as a spike, in robust standard deviations of the recent loss
   *  around its trend (1.4826·MAD of the log-loss residuals); default 6. */
  threshold?: number;
  /** And at least this ratio loss / expected (default 1.1: 10% above the trend). */
  minRatio?: number;
  /** Points of history needed before a finite loss can be judged (default: the window; at least 5). */
  minHistory?: number;
}

export const DEFAULT_SPIKE_OPTIONS = { window: 20, threshold: 6, minRatio: 1.1 } as const;

/** The noise scale is taken over this many trend windows of accepted history. */
const NOISE_WINDOWS = 4;
/** 1 / Φ⁻¹(3/4): scales the median absolute deviation of a normal sample to its standard deviation. */
const MAD_TO_SIGMA = 1.4826;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The Theil–Sen line through (x, y): slope = median of pairwise slopes, intercept = median(y − slope·x). */
function theilSen(x: readonly number[], y: readonly number[]): { slope: number; intercept: number } {
  const slopes: number[] = [];
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) if (x[j] !== x[i]) slopes.push((y[j] - y[i]) / (x[j] - x[i]));
  }
  const slope = slopes.length ? median(slopes) : 0;
  return { slope, intercept: median(y.map((v, i) => v - slope * x[i])) };
}

/** The trend's prediction for `step` from the last `window` accepted points (log losses), and the
 *  noise scale from all of `history` (up to NOISE_WINDOWS windows). */
function predict(history: readonly LossPoint[], window: number, step: number): { logExpected: number; sigma: number } {
  const recentPoints = history.slice(-window);
  const x = recentPoints.map((p) => p.step);
  const y = recentPoints.map((p) => Math.log(p.loss));
  const { slope, intercept } = theilSen(x, y);
  // Noise from successive differences of the log loss (the trend cancels in a difference, its drift is
  // the median removed below; a difference of two independent draws has √2 times their spread), over a
  // longer history than the trend's: a MAD from 20 points is low by half often enough (a few in a
  // hundred) to flag ordinary noise; from 80 it rarely is.
  const logs = history.map((p) => Math.log(p.loss));
  const diffs = logs.slice(1).map((v, i) => v - logs[i]);
  const centre = median(diffs);
  const sigma = (MAD_TO_SIGMA * median(diffs.map((v) => Math.abs(v - centre)))) / Math.SQRT2;
  const last = y.slice(-Math.max(3, Math.ceil(y.length / 4)));
  return { logExpected: Math.max(intercept + slope * step, median(last)), sigma };
}

/**
 * The loss spikes of a curve, in step order (see the rule at the top of this file). Points are taken in
 * the order given (sorted by step); a loss ≤ 0 is not a cross-entropy and is treated as not finite.
 */
export function detectLossSpikes(points: readonly LossPoint[], options: SpikeOptions = {}): LossSpike[] {
  const window = Math.max(5, Math.floor(options.window ?? DEFAULT_SPIKE_OPTIONS.window));
  const threshold = options.threshold ?? DEFAULT_SPIKE_OPTIONS.threshold;
  const minRatio = options.minRatio ?? DEFAULT_SPIKE_OPTIONS.minRatio;
  const minHistory = Math.max(5, Math.floor(options.minHistory ?? window));
  if (!(threshold >= 0) || !(minRatio >= 1)) throw new Error(`spike detection: threshold must be ≥ 0 and minRatio ≥ 1 (got ${threshold} and ${minRatio})`);
  const logFloor = Math.log(minRatio);
  const spikes: LossSpike[] = [];
  let history: LossPoint[] = [];
  let open: (LossSpike & { finitePoints: LossPoint[] }) | null = null;
  const close = () => {
    if (!open) return;
    const { finitePoints: _, ...spike } = open;
    spikes.push(spike);
    open = null;
  };
  for (const p of points) {
    const finite = Number.isFinite(p.loss) && p.loss > 0;
    let expected = NaN;
    let isSpike = !finite;
    if (history.length >= minHistory) {
      const { logExpected, sigma } = predict(history, window, p.step);
      expected = Math.exp(logExpected);
      if (finite) isSpike = Math.log(p.loss) - logExpected > Math.max(threshold * sigma, logFloor);
    }
    if (!isSpike) {
      close();
      history.push(p);
      if (history.length > NOISE_WINDOWS * window) history = history.slice(-NOISE_WINDOWS * window);
      continue;
    }
    if (!open) {
      open = { step: p.step, loss: p.loss, expected, ratio: finite ? p.loss / expected : Infinity, peakStep: p.step, peakLoss: p.loss, endStep: p.step, points: 0, finitePoints: [] };
    }
    open.endStep = p.step;
    open.points++;
    const higher = !finite ? Number.isFinite(open.peakLoss) : Number.isFinite(open.peakLoss) && p.loss > open.peakLoss;
    if (higher) {
      open.peakStep = p.step;
      open.peakLoss = p.loss;
    }
    if (finite) open.finitePoints.push(p);
    // A jump that has lasted a whole window of finite points is the curve's new level: it stays one
    // spike, and the trend and noise restart from its points.
    if (open.finitePoints.length >= window) {
      history = open.finitePoints.slice(-window);
      close();
    }
  }
  close();
  return spikes;
}
