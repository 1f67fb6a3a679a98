import { type ReactNode, useEffect, useId, useMemo, useRef, useState } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { PRESETS } from '../../engine/config';
import { useShallow } from 'zustand/react/shallow';
import { useAppStore } from '../store';
import { pageStepShape, peDot, peWavelength, sinusoidalTable } from '../teaching-scale';
import type { HideableControl } from '../url';
import { useShown } from './hooks';
import { DisclosurePanel } from './DisclosurePanel';

/** A teaching panel whose body opens on demand (so the page stays short), with the disclosure button
 *  inside the heading. Hidden by ?hide=teaching or by its own key. Shared by the three teaching views. */
export function TeachingPanel({ title, hideKey, testId, children }: { title: string; hideKey: HideableControl; testId: string; children: () => ReactNode }) {
  const shownTeaching = useShown('teaching');
  const shownSelf = useShown(hideKey);
  if (!shownTeaching || !shownSelf) return null;
  return (
    <DisclosurePanel title={title} testId={testId}>
      {children}
    </DisclosurePanel>
  );
}

const CONTEXTS = [8, 16, 32, 64, 128];
const WIDTHS = [16, 32, 48, 64, 128, 256];

function withValue(list: number[], v: number): number[] {
  return list.includes(v) ? list : [...list, v].sort((a, b) => a - b);
}

/** Diverging blue–white–red for v in [−1, 1], linear in |v| (the table's values are all of one size). */
function rgb(v: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, v));
  const end = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.abs(t);
  return [0, 1, 2].map((i) => Math.round(255 + (end[i] - 255) * a)) as [number, number, number];
}

/** The [T, d] table on a canvas (up to 128 × 256 cells: too many for one SVG element each), with the
 *  reference position's row outlined and the cell under the pointer read out. */
function PeCanvas({ table, T, d, row }: { table: Float64Array; T: number; d: number; row: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const cw = Math.max(2, Math.min(12, Math.floor(480 / d)));
  const ch = Math.max(2, Math.min(12, Math.floor(300 / T)));
  const [hoverRaw, setHover] = useState<{ t: number; j: number } | null>(null);
  const hover = hoverRaw && hoverRaw.t < T && hoverRaw.j < d ? hoverRaw : null;
  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const img = ctx.createImageData(d * cw, T * ch);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < d; j++) {
        const [r, g, b] = rgb(table[t * d + j]);
        for (let y = t * ch; y < (t + 1) * ch; y++) {
          for (let x = j * cw; x < (j + 1) * cw; x++) {
            const o = (y * d * cw + x) * 4;
            img.data[o] = r;
            img.data[o + 1] = g;
            img.data[o + 2] = b;
            img.data[o + 3] = 255;
          }
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    ctx.strokeStyle = '#111';
    ctx.lineWidth = 2;
    ctx.strokeRect(1, row * ch + 1, d * cw - 2, Math.max(ch - 2, 1));
    if (hover) {
      ctx.strokeStyle = '#f59e0b';
      ctx.strokeRect(hover.j * cw, hover.t * ch, cw, ch);
    }
  }, [table, T, d, cw, ch, row, hover]);
  const readout = hover
    ? `position ${hover.t}, column ${hover.j} (${hover.j % 2 === 0 ? 'sin' : 'cos'}, pair ${Math.floor(hover.j / 2)}): ${table[hover.t * d + hover.j].toFixed(3)}`
    : 'Point at a cell (or focus the table and use the arrow keys) to read its value.';
  return (
    <figure className="heatmap pe-heatmap" data-testid="pe-heatmap" data-rows={T} data-cols={d} style={{ width: Math.max(d * cw + 2, 240) }}>
      <figcaption>
        PE(t): {T} positions (rows, t = 0 on top) × {d} columns, sin and cos in turn, slower to the right; blue −1, white 0, red +1
      </figcaption>
      <canvas
        ref={ref}
        width={d * cw}
        height={T * ch}
        role="img"
        aria-label={`Sinusoidal positional encodings for ${T} positions and d_model ${d}; row ${row} outlined. Arrow keys read out cells.`}
        tabIndex={0}
        onKeyDown={(e) => {
          const step: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
          const move = step[e.key];
          if (!move) return;
          e.preventDefault();
          const at = hover ?? { t: 0, j: 0 };
          setHover({ t: Math.max(0, Math.min(T - 1, at.t + move[0])), j: Math.max(0, Math.min(d - 1, at.j + move[1])) });
        }}
        onMouseMove={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          const j = Math.floor(((e.clientX - r.left) / r.width) * d), t = Math.floor(((e.clientY - r.top) / r.height) * T);
          if (t >= 0 && t < T && j >= 0 && j < d) setHover({ t, j });
        }}
        onMouseLeave={() => setHover(null)}
      />
      <div className="muted small pe-readout" data-testid="pe-readout" aria-live="polite">
        {readout}
      </div>
    </figure>
  );
}

function PositionalBody() {
  const config = useAppStore(useShallow((s) => s.config));
  const { preset } = config;
  const shape = PRESETS[preset];
  // The page's context: the config's when it sets one, else the preset's (config.ts's modelConfigFor).
  const pageT = config.contextLength ?? shape.contextLength;
  const resolved = pageStepShape(config);
  const source = 'shape' in resolved ? resolved.shape.source : 0;
  // Starts from the page's model and follows it when the preset or the context changes; the selects
  // explore around it.
  const [local, setLocal] = useState({ preset, pageT, T: pageT, d: shape.dModel });
  if (local.preset !== preset || local.pageT !== pageT) setLocal({ preset, pageT, T: pageT, d: shape.dModel });
  const { T, d } = local;
  const [t0Raw, setT0] = useState(5);
  const t0 = Math.min(t0Raw, T - 1);
  const ctxId = useId(), widthId = useId(), tId = useId();
  const table = useMemo(() => sinusoidalTable(T, d), [T, d]);
  const curve = useMemo(() => {
    const rows: { k: number; fromZero: number; fromT: number }[] = [];
    for (let k = 0; k < T; k++) rows.push({ k, fromZero: peDot(0, k, d), fromT: peDot(t0, k, d) });
    return rows;
  }, [T, d, t0]);
  const maxDiff = curve.reduce((m, r) => Math.max(m, Math.abs(r.fromZero - r.fromT)), 0);
  const fastest = peWavelength(0, d), slowest = peWavelength(d / 2 - 1, d);
  const follows = T === pageT && d === shape.dModel;
  const contextOrigin = config.contextLength !== undefined ? 'the config' : preset;
  return (
    <>
      <p>
        The sinusoidal encoding of <i>Attention Is All You Need</i> adds to the token embedding at position t the vector PE(t), whose column pair
        (2i, 2i+1) holds sin(t·ω<sub>i</sub>) and cos(t·ω<sub>i</sub>) with ω<sub>i</sub> = 1/10000<sup>2i/d</sup>. Shown for the {preset} model
        {follows ? '' : ' with the sizes changed below'}: context {T}
        {follows && config.contextLength !== undefined ? ' (the config’s)' : ''}, d_model {d}.
      </p>
      <div className="demo-controls">
        <div className="field">
          <label htmlFor={ctxId}>Context length T</label>
          <select id={ctxId} data-testid="pe-context" value={T} onChange={(e) => setLocal({ ...local, T: Number(e.target.value) })}>
            {withValue(CONTEXTS, pageT).map((v) => (
              <option key={v} value={v}>
                {v}
                {v === pageT ? ` (${contextOrigin})` : ''}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={widthId}>d_model</label>
          <select id={widthId} data-testid="pe-width" value={d} onChange={(e) => setLocal({ ...local, d: Number(e.target.value) })}>
            {withValue(WIDTHS, shape.dModel).map((v) => (
              <option key={v} value={v}>
                {v}
                {v === shape.dModel ? ` (${preset})` : ''}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={tId}>Second start position t: {t0}</label>
          <input id={tId} data-testid="pe-t" type="range" min={0} max={T - 1} value={t0} onChange={(e) => setT0(Number(e.target.value))} />
        </div>
      </div>
      <div className="pe-figures">
        <PeCanvas table={table} T={T} d={d} row={t0} />
        <figure className="small-chart pe-dot" data-testid="pe-dot-chart" data-max-diff={maxDiff}>
          <figcaption>PE(t)·PE(t+k) against the offset k, from t = 0 and from t = {t0}</figcaption>
          <div role="img" aria-label={`Dot product of encodings k positions apart, for k from 0 to ${T - 1}; the curves from t = 0 and t = ${t0} coincide`}>
            <ResponsiveContainer width="100%" height={220}>
              <LineChart data={curve} margin={{ top: 4, right: 8, bottom: 14, left: 0 }}>
                <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
                <XAxis dataKey="k" type="number" domain={[0, T - 1]} allowDecimals={false} tick={{ fontSize: 11 }} label={{ value: 'offset k', position: 'insideBottom', offset: -8, fontSize: 11 }} />
                <YAxis type="number" domain={['auto', d / 2]} tick={{ fontSize: 11 }} width={40} />
                <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(k) => `k = ${k}`} />
                <Line dataKey="fromZero" name="from t = 0" stroke="#9ec5e8" strokeWidth={6} dot={false} isAnimationActive={false} />
                <Line dataKey="fromT" name={`from t = ${t0}`} stroke="#b2182b" strokeWidth={1.5} strokeDasharray="5 3" dot={false} isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          </div>
          <div className="muted small">
            Thick blue: from t = 0; dashed red: from t = {t0}. Largest gap between them: <span data-testid="pe-max-diff">{maxDiff.toExponential(1)}</span>.
          </div>
        </figure>
      </div>
      <div className="explain-body">
        <p>
          <b>Why this gives relative positions.</b> Take one column pair as a point (sin tω, cos tω) on the unit circle. Moving from position t to t+k
          turns that point by the angle kω, and the angle does not depend on where you started. So PE(t+k) is PE(t) multiplied by a fixed
          block-diagonal rotation that only depends on k. Because a rotation keeps lengths and angles, the dot product of PE(t) and PE(t+k) comes
          out as the sum of cos(kω<sub>i</sub>) over the pairs: a function of the offset alone, which is why both curves lie on top of each other.
          Attention compares positions through dot products of linear maps of these vectors, so “the token k places back” is a pattern the query
          and key weights can learn once and use at every position.
        </p>
        <p>
          The frequencies form a geometric series: the first pair repeats every {fastest.toFixed(1)} positions, the last every{' '}
          {Math.round(slowest).toLocaleString('en')}. Fast pairs tell close neighbours apart, slow ones give a coarse sense of distance; the peak at
          k = 0 is d/2 = {d / 2}, as every pair is a unit vector.
        </p>
        <p className="muted small" data-testid="pe-learned-note">
          The playground trains with learned positions (GPT-2&apos;s table of {pageT} × {shape.dModel} parameters
          {source > 0 ? `, and the encoder's own table of ${source} × ${shape.dModel} for its source positions` : ''}); the command line&apos;s{' '}
          <code>--positional sinusoidal</code> uses this fixed table instead, with no parameters and defined for any position.
        </p>
      </div>
    </>
  );
}

/** The sinusoidal positional encodings of the page's model and why they encode relative offsets. */
export function PositionalEncodingView() {
  return (
    <TeachingPanel title="Positional encodings: the sinusoidal table" hideKey="positions" testId="positional-view">
      {() => <PositionalBody />}
    </TeachingPanel>
  );
}
