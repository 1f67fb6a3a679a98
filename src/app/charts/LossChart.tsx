import { useMemo } from 'react';
import { CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Scatter, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { Explain } from '../components/Explain';
import { thin } from '../runs';
import { detailRun, useAppStore } from '../store';
import { runColor } from './colors';

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
              tickFormatter={(v: number) => (v >= 10 ? v.toFixed(0) : v.toFixed(2))}
              width={48}
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
          </ComposedChart>
        </ResponsiveContainer>
        {visible.length === 0 && <div className="chart-empty">The loss appears here as the model trains.</div>}
      </div>
      <Explain title="Reading the loss">
        Cross-entropy of the next character, in nats. An untrained model guesses uniformly: ln(vocabulary) ≈ 4 for the names corpus.
        Lines are the training loss of each step&apos;s batch; diamonds are the loss on a fixed validation set. Runs with the same seed
        see the same batches, so differences between their curves come from the number formats alone.
      </Explain>
    </section>
  );
}
