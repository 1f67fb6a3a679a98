import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { type BenchChartData, formatRate, formatThroughput, unitFor } from '../bench';

/** FP32 vs INT8 vs INT4 matmul throughput, grouped by size: one bar per kernel and path (only rows whose
 *  correctness check passed), FP32 layouts first, then INT8 and INT4 by path, in the legend too. */
export function BenchmarkChart({ chart }: { chart: BenchChartData }) {
  const { series, data } = chart;
  const values = data.flatMap((d) => series.map((s) => d[s.key]).filter((v): v is number => typeof v === 'number'));
  const unit = unitFor(Math.max(0, ...values));
  const rank = new Map(series.map((s, i) => [s.key, i]));
  const metricOf = new Map(series.map((s) => [s.key, s.metric]));
  const order = (item: { dataKey?: unknown }) => rank.get(String(item.dataKey)) ?? series.length;
  const summary =
    `Bar chart of matmul throughput at ${data.map((d) => d.size).join(', ') || 'no size yet'}: ` +
    series.map((s) => `${s.label} ${data.map((d) => (typeof d[s.key] === 'number' ? formatRate(d[s.key] as number, s.metric) : '—')).join(', ')}`).join('; ');
  return (
    <figure className="job-chart bench-chart" data-testid="bench-chart" data-series={series.length} data-bars={values.length}>
      <figcaption>
        Matmul throughput in {unit.prefix}FLOP/s (FP32) and {unit.prefix}OP/s (INT8, INT4 codes); higher is better
      </figcaption>
      <div role="img" aria-label={summary}>
        {values.length === 0 ? (
          <div className="bench-chart-empty">No checked result yet.</div>
        ) : (
          <ResponsiveContainer width="100%" height={320}>
            <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 8 }} barCategoryGap="15%">
              <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" vertical={false} />
              <XAxis dataKey="size" tick={{ fontSize: 12 }} />
              <YAxis
                tick={{ fontSize: 11 }}
                tickFormatter={(v: number) => formatThroughput(v * unit.factor)}
                width={60}
                label={{ value: `${unit.prefix}FLOP/s · ${unit.prefix}OP/s`, angle: -90, position: 'insideLeft', fontSize: 11 }}
              />
              <Tooltip
                formatter={(value, name, item) => [typeof value === 'number' ? formatRate(value, metricOf.get(String(item?.dataKey)) ?? 'TOP/s') : String(value), name]}
                labelFormatter={(size) => `${size} (n×n by n×n)`}
                itemSorter={order}
              />
              <Legend wrapperStyle={{ fontSize: 12 }} itemSorter={order} />
              {series.map((s) => (
                <Bar key={s.key} dataKey={s.key} name={s.label} fill={s.color} isAnimationActive={false} />
              ))}
            </BarChart>
          </ResponsiveContainer>
        )}
      </div>
    </figure>
  );
}
