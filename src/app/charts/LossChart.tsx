import { useMemo, useRef } from 'react';
import { CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Scatter, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import type { LossSpike } from '../../engine/train/spikes';
import { Explain } from '../components/Explain';
import { type RunRecord, thin } from '../runs';
import { detailRun, useAppStore } from '../store';
import { findSpikes, type SpikeMark, spikeCountText, spikeMark } from '../sweep';
import '../components/ScalingSweepPanel.css';
import { runColor } from './colors';

/** A point of the spike series: where the mark is drawn (a NaN of a diverged run at the top of the
 *  axis) and what its tooltip says. */
interface SpikePoint {
  step: number;
  mark: number;
  text: string;
  color: string;
}

/** A loss-spike mark: a downward triangle above the point and a ring around it, in the run's colour,
 *  with the spike's description as its SVG title (the browser's tooltip). */
export function SpikeMarkShape(props: { cx?: number; cy?: number; payload?: SpikePoint }) {
  const { cx, cy, payload } = props;
  if (cx === undefined || cy === undefined || !Number.isFinite(cx) || !Number.isFinite(cy) || !payload) return null;
  return (
    <g className="loss-spike-mark" data-testid="loss-spike-mark" data-step={payload.step}>
      <title>{payload.text}</title>
      <circle cx={cx} cy={cy} r={5} fill="none" stroke={payload.color} strokeWidth={1.5} />
      {/* Above the point, pointing down at it; below it, pointing up, where the point is at the top. */}
      <path d={cy >= 20 ? `M ${cx - 6} ${cy - 16} L ${cx + 6} ${cy - 16} L ${cx} ${cy - 8} Z` : `M ${cx - 6} ${cy + 16} L ${cx + 6} ${cy + 16} L ${cx} ${cy + 8} Z`} fill="#b42318" stroke="#fff" strokeWidth={0.5} />
    </g>
  );
}

interface SpikeCache {
  points: RunRecord['points'];
  spikes: LossSpike[];
}

/** Points up to which a run's spikes are searched again at every redraw (a few milliseconds), and beyond
 *  which a run still training is searched again only after this fraction more points: the search looks
 *  at a window around every point (spikes.ts), so redoing it at every redraw of a long run would cost
 *  more than the redraw; this way the work grows geometrically and a mark appears at most 10% of the run
 *  late. */
const ALWAYS_SEARCH_BELOW = 500;
const SEARCH_AGAIN_FRACTION = 0.1;

function searchIsCurrent(cached: SpikeCache, run: RunRecord): boolean {
  if (cached.points === run.points) return true;
  // Only while steps stream in: a run that paused, halted on a NaN or ended is searched to its last point.
  if (run.status !== 'training' || run.points.length < ALWAYS_SEARCH_BELOW) return false;
  return run.points.length - cached.points.length < cached.points.length * SEARCH_AGAIN_FRACTION;
}

/** A log axis a little wider than the data (a log scale cannot start at 0). */
function logDomain(min: number, max: number): [number, number] {
  return [min / 1.1, max * 1.1];
}

/** Training loss of every visible run (lines) and validation loss (dots), overlaid on one step axis. */
export function LossChart() {
  const { runs, hiddenRuns, logScale, setLogScale } = useAppStore(
    useShallow((s) => ({ runs: s.runs, hiddenRuns: s.hiddenRuns, logScale: s.logScale, setLogScale: s.setLogScale })),
  );
  const detail = useAppStore((s) => detailRun(s));
  const visible = useMemo(() => runs.map((r, i) => ({ run: r, color: runColor(i) })).filter(({ run }) => !hiddenRuns.includes(run.id)), [runs, hiddenRuns]);
  const domain = useMemo((): [number, number] | ['auto', 'auto'] => {
    let min = Infinity, max = -Infinity;
    for (const { run } of visible) {
      for (const p of run.points) if (Number.isFinite(p.loss) && p.loss > 0) (min = Math.min(min, p.loss)), (max = Math.max(max, p.loss));
      for (const v of run.validation) if (Number.isFinite(v.valLoss) && v.valLoss > 0) (min = Math.min(min, v.valLoss)), (max = Math.max(max, v.valLoss));
    }
    if (!Number.isFinite(min)) return ['auto', 'auto'];
    return logScale ? logDomain(min, max) : [Math.max(0, min - 0.05 * (max - min + 0.1)), max + 0.05 * (max - min + 0.1)];
  }, [visible, logScale]);
  const maxStep = Math.max(1, ...visible.map(({ run }) => run.info?.totalSteps ?? run.config.steps));
  const points = detail?.points ?? [];
  // Enough decimals that neighbouring ticks differ when the losses lie close together.
  const tickDigits = typeof domain[0] === 'number' && typeof domain[1] === 'number' && domain[1] > domain[0] ? Math.min(4, Math.max(2, Math.ceil(-Math.log10(domain[1] - domain[0])) + 1)) : 2;
  // Spikes of every visible run's training loss (spikes.ts), kept per run between redraws.
  const spikeCache = useRef(new Map<string, SpikeCache>());
  const marks = useMemo((): SpikeMark[] => {
    const cache = spikeCache.current;
    const out: SpikeMark[] = [];
    for (const { run, color } of visible) {
      let entry = cache.get(run.id);
      if (!entry || !searchIsCurrent(entry, run)) {
        entry = { points: run.points, spikes: findSpikes(run.points) };
        cache.set(run.id, entry);
      }
      for (const sp of entry.spikes) out.push(spikeMark({ id: run.id, label: run.label, color }, sp));
    }
    for (const id of [...cache.keys()]) if (!runs.some((r) => r.id === id)) cache.delete(id);
    return out;
  }, [visible, runs]);
  const spikePoints = useMemo((): SpikePoint[] => {
    const top = typeof domain[1] === 'number' ? domain[1] : NaN;
    return marks
      .map((m) => ({ step: m.step, mark: Number.isFinite(m.loss) && m.loss > 0 ? m.loss : top, text: m.text, color: m.color }))
      .filter((p) => Number.isFinite(p.mark));
  }, [marks, domain]);
  return (
    <section className="panel" aria-labelledby="loss-heading">
      <div className="panel-head">
        <h2 id="loss-heading">
          Loss{' '}
          <small>
            (<span data-testid="loss-points" data-first-loss={points[0]?.loss ?? ''} data-last-loss={points[points.length - 1]?.loss ?? ''} data-runs={visible.length}>
              {points.length}
            </span>{' '}
            steps in the latest run)
          </small>
        </h2>
        <label className="inline">
          <input type="checkbox" checked={logScale} onChange={(e) => setLogScale(e.target.checked)} data-testid="log-scale" /> log scale
        </label>
      </div>
      <div className="chart" data-testid="loss-chart" role="img" aria-label={`Loss curves of ${visible.length} runs`}>
        <ResponsiveContainer width="100%" height={300}>
          <ComposedChart margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
            <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
            <XAxis dataKey="step" type="number" domain={[0, maxStep]} allowDecimals={false} tick={{ fontSize: 12 }} label={{ value: 'step', position: 'insideBottomRight', offset: -4, fontSize: 12 }} />
            <YAxis
              type="number"
              scale={logScale ? 'log' : 'linear'}
              domain={domain}
              allowDataOverflow
              tick={{ fontSize: 12 }}
              tickFormatter={(v: number) => (v >= 10 ? v.toFixed(0) : v.toFixed(tickDigits))}
              width={48 + 8 * (tickDigits - 2)}
            />
            <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(s) => `step ${s}`} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            {visible.map(({ run, color }) => (
              <Line key={run.id} data={thin(run.points)} dataKey="loss" name={`${run.label} (train)`} type="linear" stroke={color} strokeWidth={2} dot={false} isAnimationActive={false} />
            ))}
            {visible.map(({ run, color }) =>
              run.validation.length ? (
                <Scatter key={`${run.id}-val`} data={run.validation} dataKey="valLoss" name={`${run.label} (validation)`} fill={color} shape="diamond" isAnimationActive={false} />
              ) : null,
            )}
            {spikePoints.length > 0 && (
              <Scatter data={spikePoints} dataKey="mark" name="loss spike" fill="#b42318" legendType="none" shape={SpikeMarkShape} isAnimationActive={false} />
            )}
          </ComposedChart>
        </ResponsiveContainer>
        {visible.length === 0 && <div className="chart-empty">The loss appears here as the model trains.</div>}
      </div>
      {visible.length > 0 && (
        <div className="loss-spikes small" data-testid="loss-spikes" data-count={marks.length}>
          <span className="loss-spike-key" aria-hidden="true">
            ▼
          </span>{' '}
          {spikeCountText(marks.length)}
          {marks.length > 0 && ' (a jump of the training loss far above its recent trend; hover a mark for details)'}
          {marks.length > 0 && (
            <ul data-testid="loss-spike-list">
              {marks.slice(0, 8).map((m) => (
                <li key={`${m.runId}-${m.step}`}>{m.text}</li>
              ))}
              {marks.length > 8 && <li>and {marks.length - 8} more</li>}
            </ul>
          )}
        </div>
      )}
      <Explain title="Reading the loss">
        Cross-entropy of the next character, in nats. An untrained model guesses uniformly: ln(vocabulary) ≈ 4 for the names corpus.
        Lines are the training loss of each step&apos;s batch; diamonds are the loss on a fixed validation set. Runs with the same seed
        see the same batches, so differences between their curves come from the number formats alone.
        <br />
        A red ▼ marks a <b>loss spike</b>: a step whose loss jumped far above the trend of the steps before it (more than six times the
        curve&apos;s own noise around a robust line through the last 20 steps, and at least 10% above it). Large runs (PaLM) see such spikes
        and recover or diverge; the third source article notes that small models rarely reproduce them, so a tiny model shows them mostly
        at a learning rate that is too high.
      </Explain>
    </section>
  );
}
