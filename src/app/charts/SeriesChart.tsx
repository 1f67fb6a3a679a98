import { useMemo } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { type StepPoint, thin } from '../runs';
import { useAppStore } from '../store';
import { runColor } from './colors';

type SeriesKey = 'gradNorm' | 'lr' | 'tokensPerSecond';

function formatValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 ? v.toLocaleString('en', { maximumFractionDigits: 0 }) : a >= 0.01 ? v.toPrecision(3) : v.toExponential(1);
}

/** One per-step series (gradient norm, learning rate, tokens/s) of every visible run. */
export function SeriesChart({ title, series, testId, log }: { title: string; series: SeriesKey; testId: string; log?: boolean }) {
  const { runs, hiddenRuns } = useAppStore(useShallow((s) => ({ runs: s.runs, hiddenRuns: s.hiddenRuns })));
  const visible = useMemo(
    () => runs.map((r, i) => ({ run: r, color: runColor(i) })).filter(({ run }) => !hiddenRuns.includes(run.id) && run.points.length > 0),
    [runs, hiddenRuns],
  );
  const accessor = (p: StepPoint) => {
    const v = p[series];
    return log && !(v > 0) ? null : v;
  };
  return (
    <figure className="small-chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div role="img" aria-label={`${title} of ${visible.length} runs`}>
        <ResponsiveContainer width="100%" height={160}>
          <LineChart margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
            <XAxis dataKey="step" type="number" domain={[0, 'dataMax']} allowDecimals={false} tick={{ fontSize: 11 }} />
            <YAxis type="number" scale={log ? 'log' : 'linear'} domain={['auto', 'auto']} tick={{ fontSize: 11 }} tickFormatter={formatValue} width={52} allowDataOverflow={false} />
            <Tooltip formatter={(v) => (typeof v === 'number' ? formatValue(v) : String(v))} labelFormatter={(s) => `step ${s}`} />
            {visible.map(({ run, color }) => (
              <Line key={run.id} data={thin(run.points)} dataKey={accessor} name={run.label} type="linear" stroke={color} strokeWidth={1.5} dot={false} isAnimationActive={false} />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}
