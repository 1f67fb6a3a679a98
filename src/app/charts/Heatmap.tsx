/** Diverging colour for v in [−1, 1]: blue for negative, white at 0, red for positive. The intensity
 *  is √|v| so that values ten times smaller than the largest are still visible next to an outlier. */
function color(v: number): string {
  const t = Math.max(-1, Math.min(1, v));
  const a = Math.sqrt(Math.abs(t));
  // Interpolate from white (255,255,255) to the end colour.
  const end = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const c = end.map((e) => Math.round(255 + (e - 255) * a));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export interface HeatmapProps {
  title: string;
  values: ArrayLike<number>;
  rows: number;
  cols: number;
  /** |value| shown at full colour; the matrix's own max |value| when omitted. */
  scale?: number;
  /** Columns to outline (e.g. the outlier channel). */
  highlightColumn?: number;
  testId?: string;
  format?(v: number): string;
}

/** A small matrix as coloured cells (SVG), with each value in its cell's tooltip. */
export function Heatmap({ title, values, rows, cols, scale, highlightColumn, testId, format }: HeatmapProps) {
  let max = scale ?? 0;
  if (scale === undefined) for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  const cell = 14;
  const show = format ?? ((v: number) => v.toFixed(2));
  return (
    <figure className="heatmap" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <svg width={cols * cell} height={rows * cell} role="img" aria-label={`${title}: ${rows} by ${cols} matrix, largest |value| ${max.toFixed(2)}`}>
        {Array.from({ length: rows * cols }, (_, i) => {
          const r = Math.floor(i / cols), c = i % cols;
          return (
            <rect key={i} x={c * cell} y={r * cell} width={cell - 1} height={cell - 1} fill={color(max > 0 ? values[i] / max : 0)}>
              <title>{`row ${r}, channel ${c}: ${show(values[i])}`}</title>
            </rect>
          );
        })}
        {highlightColumn !== undefined && (
          <rect x={highlightColumn * cell - 1} y={0} width={cell + 1} height={rows * cell} fill="none" stroke="#111" strokeWidth={1.5} />
        )}
      </svg>
    </figure>
  );
}
