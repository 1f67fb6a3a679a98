import { useId, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { Explain } from '../components/Explain';
import { useShown } from '../components/hooks';
import type { LinearLayerStats, MeasurementSnapshot } from '../../engine/train/measurements';
import { detailRun, useAppStore } from '../store';

const EMPTY: MeasurementSnapshot[] = [];

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toPrecision(digits);
}

/** Histogram bars of one layer's ∇Y row norms on a log10 axis, trimmed to the bins that hold rows. */
export function histogramBars(stats: LinearLayerStats): { log10: number; label: string; rows: number }[] {
  const h = stats.gradRows;
  const n = h.counts.length;
  const width = (h.logMax - h.logMin) / n;
  let first = h.counts.findIndex((c) => c > 0);
  let last = n - 1 - [...h.counts].reverse().findIndex((c) => c > 0);
  if (first < 0) return [];
  first = Math.max(0, first - 1);
  last = Math.min(n - 1, last + 1);
  const out = [];
  for (let i = first; i <= last; i++) {
    const lower = h.logMin + i * width;
    // Labelled by the bin's lower edge, e.g. "5e-4" for 10^−3.3.
    out.push({ log10: lower, label: (10 ** lower).toExponential(0).replace('e+', 'e'), rows: h.counts[i] });
  }
  return out;
}

/** The paper's Fig. 1 and 2 for the run's own layers, from the engine's measurement snapshots. */
export function MeasurementCharts() {
  const shown = useShown('measurements');
  const run = useAppStore((s) => detailRun(s));
  const snapshots = useAppStore((s) => (run ? (s.measurements[run.id] ?? EMPTY) : EMPTY));
  const [layerName, setLayerName] = useState<string | null>(null);
  const [pickedIndex, setPickedIndex] = useState<number | null>(null);
  const layerId = useId();
  const sliderId = useId();
  if (!shown) return null;
  const latest = snapshots[snapshots.length - 1];
  // The slider follows the newest snapshot unless the user has moved it back.
  const index = pickedIndex === null || pickedIndex >= snapshots.length ? snapshots.length - 1 : pickedIndex;
  const snapshot = snapshots[index];
  const names = latest?.layers.map((l) => l.name) ?? [];
  const name = layerName && names.includes(layerName) ? layerName : names[0];
  const stats = snapshot?.layers.find((l) => l.name === name);
  let empty: string | null = null;
  if (!run) empty = 'Start a run to see its layers.';
  else if (run.config.measureEvery === 0) empty = 'Measurements are off for this run (set "Measure layers every" above 0).';
  else if (!snapshot) empty = run.status === 'done' || run.status === 'stopped' || run.status === 'error' ? 'No measurements were kept for this run (they are not saved across reloads).' : 'The first snapshot arrives after the first step.';
  return (
    <section className="panel" aria-labelledby="measure-heading" data-testid="measurements">
      <h2 id="measure-heading">Inside the linear layers</h2>
      {empty || !snapshot || !stats ? (
        <p className="muted" data-testid="measurements-empty">
          {empty ?? 'Waiting for data.'}
        </p>
      ) : (
        <>
          <div className="measure-controls">
            <div className="field">
              <label htmlFor={layerId}>Layer</label>
              <select id={layerId} value={name} onChange={(e) => setLayerName(e.target.value)} data-testid="measure-layer">
                {names.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </div>
            <div className="field grow">
              <label htmlFor={sliderId}>
                Snapshot at step <b data-testid="measure-step">{snapshot.step}</b> ({index + 1} of {snapshots.length})
              </label>
              <input
                id={sliderId}
                type="range"
                min={0}
                max={snapshots.length - 1}
                value={index}
                onChange={(e) => {
                  const v = Number(e.target.value);
                  setPickedIndex(v === snapshots.length - 1 ? null : v);
                }}
              />
            </div>
          </div>
          <div className="chart-grid">
            <GradHistogram stats={stats} />
            <OutlierChart stats={stats} />
          </div>
          <QuantizerHistory snapshots={snapshots} layer={name} />
        </>
      )}
    </section>
  );
}

function GradHistogram({ stats }: { stats: LinearLayerStats }) {
  const bars = histogramBars(stats);
  const h = stats.gradRows;
  return (
    <figure className="small-chart" data-testid="grad-histogram">
      <figcaption>
        Row norms of ∇Y ({stats.rows} rows): top 1% of rows carry <b data-testid="top1">{pct(h.top1Share)}</b> of ‖∇Y‖², top 10% carry{' '}
        <b data-testid="top10">{pct(h.top10Share)}</b>
        {h.zeroRows > 0 && <>; {h.zeroRows} rows are zero</>}
      </figcaption>
      <div role="img" aria-label={`Histogram of gradient row norms; top 1% share ${pct(h.top1Share)}`}>
        <ResponsiveContainer width="100%" height={200}>
          <BarChart data={bars} margin={{ top: 4, right: 8, bottom: 16, left: 0 }} barCategoryGap={1}>
            <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
            <XAxis dataKey="label" tick={{ fontSize: 10 }} interval="preserveStartEnd" label={{ value: '‖row of ∇Y‖ (log scale)', position: 'insideBottom', offset: -10, fontSize: 11 }} />
            <YAxis allowDecimals={false} tick={{ fontSize: 11 }} width={40} />
            <Tooltip formatter={(v) => [`${v} rows`, 'count']} />
            <Bar dataKey="rows" fill="#0072b2" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <Explain title="Why this matters: leverage-score sampling (LSS)">
        Most of the gradient ∇Y of a layer sits in a few rows (tokens). The paper&apos;s backward pass first splits ∇Y into two INT4 parts (a
        coarse code and a code of what the coarse one missed, together about 8 bits of resolution), stacking them as 2N rows. For ∇W = ∇Yᵀ·X
        it keeps row i with probability p_i proportional to its leverage score ‖row i of ∇Y‖·‖row i of X‖ (for ∇X, to ‖row i of ∇Y‖ alone),
        N of the 2N rows in expectation, and divides every kept row by p_i. That 1/p rescaling makes the result an unbiased estimate, and since the
        heavy rows are kept almost surely, its variance stays small. A heavy tail here (a large top-1% share) is what makes sampling cheap.
      </Explain>
    </figure>
  );
}

function OutlierChart({ stats }: { stats: LinearLayerStats }) {
  const data = useMemo(() => Array.from(stats.channelMaxX, (x, d) => ({ channel: d, x, xh: stats.channelMaxXH[d] })), [stats]);
  return (
    <figure className="small-chart" data-testid="outlier-chart">
      <figcaption>
        Max |X| of each input channel, before and after the Hadamard transform (block {stats.hadamardBlock}): largest/median{' '}
        <b data-testid="outliers-x">{fmt(stats.outliersX.ratio)}</b> → <b data-testid="outliers-xh">{fmt(stats.outliersXH.ratio)}</b>
      </figcaption>
      <div role="img" aria-label={`Channel maxima of X and of XH for ${stats.name}`}>
        <ResponsiveContainer width="100%" height={200}>
          <LineChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
            <XAxis dataKey="channel" type="number" domain={[0, 'dataMax']} tick={{ fontSize: 11 }} />
            <YAxis tick={{ fontSize: 11 }} width={44} tickFormatter={(v: number) => fmt(v, 2)} />
            <Tooltip formatter={(v) => (typeof v === 'number' ? fmt(v) : String(v))} labelFormatter={(d) => `channel ${d}`} />
            <Legend wrapperStyle={{ fontSize: 11 }} />
            <Line dataKey="x" name="max |X|" stroke="#d55e00" dot={false} strokeWidth={1.5} isAnimationActive={false} />
            <Line dataKey="xh" name="max |XH|" stroke="#0072b2" dot={false} strokeWidth={1.5} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
      <p className="small">
        Relative quantization error: X <b data-testid="error-x">{fmt(stats.errorX)}</b> · W <b>{fmt(stats.errorW)}</b> · ∇Y <b>{fmt(stats.errorGrad)}</b>
      </p>
      <Explain title="Why this matters: Hadamard quantization (HQ)">
        A few input channels of a Transformer&apos;s activations are much larger than the rest. With one 4-bit step size for the whole tensor,
        either those outliers are clipped or every other value rounds to zero. HQ multiplies X and W by a block-diagonal Hadamard matrix H
        (orthogonal, so XHᵀ·(WH)ᵀ = XWᵀ) before LSQ quantization: each outlier is spread evenly over its block, the range shrinks, and the
        4-bit grid fits the data. Errors are ‖Q(x) − x‖ / ‖x‖.
      </Explain>
    </figure>
  );
}

function QuantizerHistory({ snapshots, layer }: { snapshots: MeasurementSnapshot[]; layer: string }) {
  const data = useMemo(
    () =>
      snapshots.map((s) => {
        const l = s.layers.find((x) => x.name === layer);
        return { step: s.step, stepX: l?.stepX ?? null, stepW: l?.stepW ?? null, keptW: l?.keptW ?? null, keptX: l?.keptX ?? null, errorX: l?.errorX ?? null, errorW: l?.errorW ?? null, errorGrad: l?.errorGrad ?? null };
      }),
    [snapshots, layer],
  );
  const hasSteps = data.some((d) => d.stepX !== null || d.stepW !== null);
  const hasKept = data.some((d) => d.keptW !== null || d.keptX !== null);
  const hasErrors = data.some((d) => d.errorX !== null || d.errorW !== null || d.errorGrad !== null);
  return (
    <>
    <div className="chart-grid three" data-testid="quantizer-history">
      <HistoryChart title="LSQ step sizes" data={data} keys={[['stepX', 's_X', '#d55e00'], ['stepW', 's_W', '#0072b2']]} empty={hasSteps ? null : 'This precision learns no LSQ step sizes.'} />
      <HistoryChart title="Fraction of ∇Y rows LSS kept" data={data} keys={[['keptW', 'for ∇W', '#009e73'], ['keptX', 'for ∇X', '#cc79a7']]} empty={hasKept ? null : 'This precision does not sample rows.'} domain={[0, 1]} />
      <HistoryChart title="Relative quantization error" data={data} keys={[['errorX', 'X', '#d55e00'], ['errorW', 'W', '#0072b2'], ['errorGrad', '∇Y', '#000000']]} empty={hasErrors ? null : 'This precision does not quantize.'} />
    </div>
      <Explain title="Reading the quantizer state">
        LSQ (learned step size quantization) keeps one step size s per tensor and learns it by gradient descent along with the weights: the
        code is round(x/s) clamped to [−8, 7], and s settles where clipping the largest values and rounding the small ones cost least. It starts
        at 2·mean|x|/√7. LSS keeps N of the 2N bit-split rows in expectation, so a kept fraction near 0.5 is expected (more when fewer than
        half the rows carry weight: a row with probability 1 is always kept, a zero row never).
      </Explain>
    </>
  );
}

function HistoryChart({ title, data, keys, empty, domain }: { title: string; data: Record<string, number | null>[]; keys: [string, string, string][]; empty: string | null; domain?: [number, number] }) {
  return (
    <figure className="small-chart">
      <figcaption>{title} over steps</figcaption>
      {empty ? (
        <p className="muted small">{empty}</p>
      ) : (
        <div role="img" aria-label={`${title} over training steps`}>
          <ResponsiveContainer width="100%" height={150}>
            <LineChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
              <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
              <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} tick={{ fontSize: 11 }} />
              <YAxis domain={domain ?? ['auto', 'auto']} tick={{ fontSize: 11 }} width={48} tickFormatter={(v: number) => fmt(v, 2)} />
              <Tooltip formatter={(v) => (typeof v === 'number' ? fmt(v) : String(v))} labelFormatter={(s) => `step ${s}`} />
              <Legend wrapperStyle={{ fontSize: 11 }} />
              {keys.map(([k, label, color]) => (
                <Line key={k} dataKey={k} name={label} stroke={color} dot={data.length < 30} strokeWidth={1.5} isAnimationActive={false} connectNulls />
              ))}
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
    </figure>
  );
}
