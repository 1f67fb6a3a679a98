import { useId } from 'react';

/** Diverging colour for v in [−1, 1]: blue for negative, white at 0, red for positive. The intensity
 *  is √|v| so that values ten times smaller than the largest are still visible next to an outlier. */
function diverging(v: number): string {
  const t = Math.max(-1, Math.min(1, v));
  const a = Math.sqrt(Math.abs(t));
  // Interpolate from white (255,255,255) to the end colour.
  const end = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const c = end.map((e) => Math.round(255 + (e - 255) * a));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Sequential colour for v in [0, 1] (e.g. a probability): white at 0 to dark blue at 1, with the same
 *  √ intensity, so a uniform row over 16 keys (1/16 each) is a visible quarter-tone, not white. */
export function sequentialColor(v: number): string {
  const a = Math.sqrt(Math.max(0, Math.min(1, v)));
  const end = [8, 48, 107];
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
  /** 'diverging' (default): blue–white–red over [−scale, scale]; 'sequential': white to blue over [0, scale]. */
  palette?: 'diverging' | 'sequential';
  /** Labels along the left (one per row) and the top (one per column), e.g. tokens. */
  rowLabels?: readonly string[];
  colLabels?: readonly string[];
  /** Columns whose label is drawn muted (e.g. a padding column). */
  mutedColumns?: readonly number[];
  /** Cells that hold no value to colour (e.g. attention's causal mask): drawn hatched grey, marked
   *  data-masked, counted in the figure's data-masked-cells. */
  masked?(row: number, col: number): boolean;
  /** Side of one cell in pixels (default 14). */
  cellSize?: number;
  /** The tooltip of a cell (default: "row r, channel c: value"). */
  describeCell?(row: number, col: number, value: number): string;
  /** Extra data attributes on the figure, for tests and styling. */
  data?: Record<string, string | number>;
}

/** Width of a label of n characters at a font size (a monospace estimate: labels are short tokens). */
function labelWidth(labels: readonly string[] | undefined, font: number): number {
  if (!labels || labels.length === 0) return 0;
  return Math.max(...labels.map((l) => [...l].length)) * font * 0.62 + 6;
}

/** A small matrix as coloured cells (SVG), with each value in its cell's tooltip. */
export function Heatmap({ title, values, rows, cols, scale, highlightColumn, testId, format, palette = 'diverging', rowLabels, colLabels, mutedColumns, masked, cellSize, describeCell, data }: HeatmapProps) {
  const patternId = `hatch${useId().replace(/[^a-zA-Z0-9]/g, '')}`;
  let max = scale ?? 0;
  if (scale === undefined) for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  const cell = cellSize ?? 14;
  const show = format ?? ((v: number) => v.toFixed(2));
  const font = Math.max(7, Math.min(11, Math.floor(cell * 0.7)));
  const left = labelWidth(rowLabels, font);
  const top = colLabels && colLabels.length ? font + 6 : 0;
  const color = palette === 'sequential' ? sequentialColor : diverging;
  let maskedCells = 0;
  const cells = Array.from({ length: rows * cols }, (_, i) => {
    const r = Math.floor(i / cols), c = i % cols;
    const isMasked = masked?.(r, c) ?? false;
    if (isMasked) maskedCells++;
    const tip = describeCell ? describeCell(r, c, values[i]) : `row ${r}, channel ${c}: ${show(values[i])}`;
    return (
      <rect
        key={i}
        x={left + c * cell}
        y={top + r * cell}
        width={cell - 1}
        height={cell - 1}
        fill={isMasked ? `url(#${patternId})` : color(max > 0 ? values[i] / max : 0)}
        data-masked={isMasked ? 'true' : undefined}
      >
        <title>{tip}</title>
      </rect>
    );
  });
  const dataAttributes = Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [`data-${k}`, String(v)]));
  return (
    <figure className="heatmap" data-testid={testId} data-rows={rows} data-cols={cols} data-masked-cells={maskedCells} {...dataAttributes}>
      <figcaption>{title}</figcaption>
      <svg width={left + cols * cell} height={top + rows * cell} role="img" aria-label={`${title}: ${rows} by ${cols} matrix, largest |value| ${max.toFixed(2)}${maskedCells ? `, ${maskedCells} masked cells` : ''}`}>
        {masked && (
          <defs>
            <pattern id={patternId} width={4} height={4} patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
              <rect width={4} height={4} fill="#e6e6e6" />
              <line x1={0} y1={0} x2={0} y2={4} stroke="#8a8a8a" strokeWidth={1.5} />
            </pattern>
          </defs>
        )}
        {rowLabels?.map((l, r) => (
          <text key={`r${r}`} className="heatmap-label" x={left - 4} y={top + r * cell + cell / 2} fontSize={font} textAnchor="end" dominantBaseline="central">
            {l}
          </text>
        ))}
        {colLabels?.map((l, c) => (
          <text
            key={`c${c}`}
            className={mutedColumns?.includes(c) ? 'heatmap-label muted-label' : 'heatmap-label'}
            x={left + c * cell + (cell - 1) / 2}
            y={top - 4}
            fontSize={font}
            textAnchor="middle"
          >
            {l}
          </text>
        ))}
        {cells}
        {highlightColumn !== undefined && (
          <rect x={left + highlightColumn * cell - 1} y={top} width={cell + 1} height={rows * cell} fill="none" stroke="#111" strokeWidth={1.5} />
        )}
      </svg>
    </figure>
  );
}
