import { useId, useMemo, useState } from 'react';
import { Heatmap } from '../charts/Heatmap';
import { runDemo } from '../teaching';
import { useShown } from './hooks';

const ROWS = 8;
const COLS = 16;
const OUTLIER = 5;

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

/** One small activation matrix with an outlier channel, quantized to a few bits directly and through a
 *  block Hadamard transform, so the effect of HQ can be seen cell by cell. Runs on the CPU in the page. */
export function HadamardDemo() {
  const shown = useShown('teaching');
  const [scale, setScale] = useState(20);
  const [block, setBlock] = useState(16);
  const [bits, setBits] = useState(4);
  const scaleId = useId(), blockId = useId(), bitsId = useId();
  const demo = useMemo(() => runDemo({ rows: ROWS, cols: COLS, outlierChannel: OUTLIER, outlierScale: scale, block, bits, seed: 7 }), [scale, block, bits]);
  if (!shown) return null;
  const xScale = Math.max(...Array.from(demo.x, Math.abs));
  const qp = 2 ** (bits - 1) - 1;
  return (
    <section className="panel" aria-labelledby="demo-heading" data-testid="hadamard-demo">
      <h2 id="demo-heading">Try it: Hadamard, then quantize</h2>
      <p>
        An {ROWS}×{COLS} activation matrix X (rows are tokens, columns channels) whose channel {OUTLIER} is {scale}× larger than the others, as in
        real Transformers. Each path quantizes to {bits}-bit integers in [−{qp + 1}, {qp}] with LSQ&apos;s starting step s = 2·mean|x|/√{qp}, then
        dequantizes (code × s). HQ first multiplies by a block-diagonal Hadamard matrix H (blocks of {block}) and multiplies the result by H again
        afterwards, which undoes the transform because H·H = I.
      </p>
      <div className="demo-controls">
        <div className="field">
          <label htmlFor={scaleId}>Outlier size: {scale}×</label>
          <input id={scaleId} type="range" min={1} max={50} value={scale} onChange={(e) => setScale(Number(e.target.value))} />
        </div>
        <div className="field">
          <label htmlFor={blockId}>Hadamard block</label>
          <select id={blockId} value={block} onChange={(e) => setBlock(Number(e.target.value))}>
            {[2, 4, 8, 16].map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={bitsId}>Bits</label>
          <select id={bitsId} value={bits} onChange={(e) => setBits(Number(e.target.value))}>
            {[2, 3, 4, 5, 6, 8].map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="heatmaps">
        <Heatmap title="X" values={demo.x} rows={ROWS} cols={COLS} highlightColumn={OUTLIER} testId="heatmap-x" />
        <Heatmap title={`X quantized directly (s = ${demo.direct.step.toFixed(3)})`} values={demo.direct.reconstruction} rows={ROWS} cols={COLS} scale={xScale} highlightColumn={OUTLIER} />
        <Heatmap title="X·H (outlier spread over its block)" values={demo.hadamard.input} rows={ROWS} cols={COLS} />
        <Heatmap title={`HQ: Q(X·H)·H (s = ${demo.hadamard.step.toFixed(3)})`} values={demo.hadamard.reconstruction} rows={ROWS} cols={COLS} scale={xScale} highlightColumn={OUTLIER} />
      </div>
      <table className="stats-table" data-testid="demo-errors">
        <thead>
          <tr>
            <th scope="col">Relative error ‖X̂ − X‖/‖X‖</th>
            <th scope="col">all</th>
            <th scope="col">outlier channel</th>
            <th scope="col">other channels</th>
            <th scope="col">codes at the range ends</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row">Direct</th>
            <td data-testid="direct-error">{pct(demo.direct.relativeError)}</td>
            <td>{pct(demo.direct.outlierChannelError)}</td>
            <td>{pct(demo.direct.otherChannelsError)}</td>
            <td>{demo.direct.saturated}</td>
          </tr>
          <tr>
            <th scope="row">HQ</th>
            <td data-testid="hq-error">{pct(demo.hadamard.relativeError)}</td>
            <td>{pct(demo.hadamard.outlierChannelError)}</td>
            <td>{pct(demo.hadamard.otherChannelsError)}</td>
            <td>{demo.hadamard.saturated}</td>
          </tr>
        </tbody>
      </table>
      <p className="muted small">
        Quantized directly, the step follows the typical value, so the outlier channel is clipped at {qp}·s and most small values round to 0.
        HQ spreads the outlier over the {block} channels of its block: nothing is clipped and the total error falls, but those channels now share
        a coarser grid (see &quot;other channels&quot;); smaller blocks confine that cost. Colour intensity is √|value|; hover a cell for its value.
      </p>
    </section>
  );
}
