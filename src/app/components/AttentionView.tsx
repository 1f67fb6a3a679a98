// Attention maps of the shown run, live during training: per layer and head (or all heads side by
// side), for one example, with the causal mask drawn as hatched cells. The worker takes the maps
// (worker.ts, Trainer.attentionMaps) every few steps; this view only draws the latest snapshot and
// asks for another example.
import { type FormEvent, useId, useState } from 'react';
import { Heatmap, sequentialColor } from '../charts/Heatmap';
import { type AttentionExample, type AttentionKind, type AttentionSnapshot, columnsOf, isMasked, kindLabel, type ShownAttentionMap, tokenLabel } from '../attention';
import { type Architecture, architectureOf } from '../config';
import { isActive } from '../runs';
import { detailRun, useAppStore } from '../store';
import { Explain } from './Explain';
import { useShown } from './hooks';

/** The order the kinds are offered in: the way data flows through an encoder-decoder. */
const KIND_ORDER: AttentionKind[] = ['encoder', 'self', 'cross'];

function axisLabels(m: ShownAttentionMap, architecture: Architecture): { rows: string[]; cols: string[] } {
  const rows = m.queries.map((t) => tokenLabel(t, architecture));
  const cols = m.keys.map((t) => tokenLabel(t, architecture));
  if (m.padKeys > 0) cols.push('pad');
  return { rows, cols };
}

function cellSizeFor(n: number, room: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.floor(room / Math.max(1, n))));
}

function HeadMap({ m, head, architecture, size, compact }: { m: ShownAttentionMap; head: number; architecture: Architecture; size: number; compact: boolean }) {
  const { rows, cols } = axisLabels(m, architecture);
  const n = columnsOf(m);
  const describe = (q: number, k: number, v: number) => {
    const query = `query ${q} “${rows[q]}”`;
    if (m.padKeys > 0 && k === n - 1) return `${query} → ${m.padKeys} padding positions: masked (probability ${v.toFixed(3)}: 0 by construction)`;
    if (isMasked(m, q, k)) return `${query} → key ${k} “${cols[k]}”: masked (a later position; probability 0 by construction)`;
    return `${query} → key ${k} “${cols[k]}”: ${v.toFixed(3)}`;
  };
  return (
    <Heatmap
      title={compact ? `head ${head}` : `layer ${m.layer} · head ${head} · ${kindLabel(architecture, m.kind)}`}
      values={m.heads[head]}
      rows={m.queries.length}
      cols={n}
      scale={1}
      palette="sequential"
      rowLabels={compact && size < 10 ? undefined : rows}
      colLabels={compact && size < 10 ? undefined : cols}
      mutedColumns={m.padKeys > 0 ? [n - 1] : undefined}
      masked={m.causal || m.padKeys > 0 ? (q, k) => isMasked(m, q, k) : undefined}
      cellSize={size}
      describeCell={describe}
      testId="attention-heatmap"
      data={{ kind: m.kind, layer: m.layer, head, causal: String(m.causal) }}
    />
  );
}

/** A colour bar from 0 to 1 and, where the map is causal, the hatched masked cell. */
function Legend({ m }: { m: ShownAttentionMap }) {
  const stops = [0, 0.02, 0.1, 0.25, 0.5, 1];
  return (
    <div className="attention-legend" data-testid="attention-legend">
      <svg width={stops.length * 30} height={26} role="img" aria-label="Colour scale: attention probability from 0 (white) to 1 (dark blue)">
        {stops.map((v, i) => (
          <g key={v}>
            <rect x={i * 30} y={0} width={29} height={12} fill={sequentialColor(v)} stroke="#bbb" strokeWidth={0.5} />
            <text x={i * 30 + 14.5} y={23} fontSize={9} textAnchor="middle">
              {v}
            </text>
          </g>
        ))}
      </svg>
      <span className="small">probability a query gives a key (each row sums to 1)</span>
      {m.causal ? (
        <span className="small attention-legend-mask" data-testid="mask-legend">
          <span className="attention-mask-swatch" aria-hidden="true" /> masked: a key after the query (the future). The mask sets its score to −∞
          before the softmax, so its probability is exactly 0, not learned.
        </span>
      ) : (
        <span className="small attention-legend-mask" data-testid="mask-legend">
          {m.padKeys > 0 ? (
            <>
              <span className="attention-mask-swatch" aria-hidden="true" /> padding masked: the “pad” column stands for the {m.padKeys} padding positions after the example.
              The key padding mask sets their scores to −∞ before the softmax, so every query spreads its weight over the example alone; no later
              position is masked.
            </>
          ) : (
            'No mask: every query may look at every key.'
          )}
        </span>
      )}
    </div>
  );
}

function exampleFields(example: AttentionExample): { text: string; source: string; target: string } {
  return 'source' in example ? { text: '', source: example.source, target: example.target ?? '' } : { text: example.text, source: '', target: '' };
}

function ExampleForm({ runId, snapshot, architecture, canAsk }: { runId: string; snapshot: AttentionSnapshot; architecture: Architecture; canAsk: boolean }) {
  const show = useAppStore((s) => s.showAttentionExample);
  const shown = exampleFields(snapshot.example);
  // null: follow the snapshot's example; a string: what the user is typing.
  const [draft, setDraft] = useState<{ text: string; source: string; target: string } | null>(null);
  const fields = draft ?? { ...shown, target: snapshot.targetFromModel ? '' : shown.target };
  const ids = { text: useId(), source: useId(), target: useId() };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    show(runId, architecture === 'encoder-decoder' ? { source: fields.source, ...(fields.target ? { target: fields.target } : {}) } : { text: fields.text });
    setDraft(null);
  };
  const edit = (patch: Partial<typeof fields>) => setDraft({ ...fields, ...patch });
  return (
    <form className="attention-example demo-controls" onSubmit={submit} data-testid="attention-form">
      {architecture === 'encoder-decoder' ? (
        <>
          <div className="field">
            <label htmlFor={ids.source}>Source (the encoder reads)</label>
            <input id={ids.source} type="text" value={fields.source} data-testid="attention-source" onChange={(e) => edit({ source: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor={ids.target}>Target (the decoder reads; empty = its own greedy output)</label>
            <input id={ids.target} type="text" value={fields.target} placeholder={snapshot.targetFromModel ? shown.target : ''} data-testid="attention-target" onChange={(e) => edit({ target: e.target.value })} />
          </div>
        </>
      ) : (
        <div className="field">
          <label htmlFor={ids.text}>{architecture === 'encoder' ? 'Text (read after the CLS token)' : 'Text (read after the start token)'}</label>
          <input id={ids.text} type="text" value={fields.text} data-testid="attention-example" onChange={(e) => edit({ text: e.target.value })} />
        </div>
      )}
      <div className="attention-buttons">
        <button type="submit" disabled={!canAsk} data-testid="attention-show">
          Show
        </button>
        <button
          type="button"
          disabled={!canAsk || snapshot.isDefault}
          data-testid="attention-default"
          onClick={() => {
            show(runId, null);
            setDraft(null);
          }}
        >
          Dataset&apos;s example
        </button>
      </div>
    </form>
  );
}

/** Attention maps of the shown run for one example: layer, head and (encoder-decoder) kind pickers. */
export function AttentionView() {
  const shownControl = useShown('attention');
  const run = useAppStore((s) => detailRun(s));
  const snapshot = useAppStore((s) => (run ? s.attention[run.id] : undefined));
  const error = useAppStore((s) => (run ? s.attentionErrors[run.id] : undefined));
  // The newest run is the one whose model the worker may still hold (the one training, or the last one).
  const newestId = useAppStore((s) => s.runs[s.runs.length - 1]?.id);
  const [choice, setChoice] = useState<{ kind: AttentionKind | null; layer: number; head: number | 'all' }>({ kind: null, layer: 0, head: 0 });
  const ids = { kind: useId(), layer: useId(), head: useId() };
  if (!shownControl) return null;
  const architecture = run ? architectureOf(run.config) : 'decoder';
  const kinds = snapshot ? KIND_ORDER.filter((k) => snapshot.maps.some((m) => m.kind === k)) : [];
  const kind = choice.kind && kinds.includes(choice.kind) ? choice.kind : kinds[0];
  const ofKind = snapshot ? snapshot.maps.filter((m) => m.kind === kind).sort((a, b) => a.layer - b.layer) : [];
  const map = ofKind.find((m) => m.layer === choice.layer) ?? ofKind[0];
  const heads = map ? map.heads.length : 0;
  const head = choice.head === 'all' ? 'all' : Math.min(choice.head, Math.max(0, heads - 1));
  const canAsk = Boolean(run && (isActive(run.status) || run.id === newestId));
  return (
    <section className="panel attention-view" aria-labelledby="attention-heading" data-testid="attention-view">
      <h2 id="attention-heading">
        Attention maps{' '}
        {snapshot && (
          <small data-testid="attention-step" data-step={snapshot.step}>
            (after step {snapshot.step}
            {run && isActive(run.status) ? ', live' : ''})
          </small>
        )}
      </h2>
      {!run && <p className="muted">Train a run to see, layer by layer and head by head, which positions each position looks at.</p>}
      {run && !snapshot && (
        <p className="muted" data-testid="attention-waiting">
          {isActive(run.status) || run.status === 'queued'
            ? 'The first maps come after the first training step.'
            : 'No attention maps for this run: they are taken while a run trains in this visit (they are of the model in the training worker, and are not saved).'}
        </p>
      )}
      {run && snapshot && map && (
        <>
          <ExampleForm key={run.id} runId={run.id} snapshot={snapshot} architecture={architecture} canAsk={canAsk} />
          {error && (
            <p className="error" role="alert" data-testid="attention-error">
              {error}
            </p>
          )}
          <div className="demo-controls attention-pickers">
            {kinds.length > 1 && (
              <div className="field">
                <label htmlFor={ids.kind}>Attention</label>
                <select id={ids.kind} value={kind} data-testid="attention-kind" onChange={(e) => setChoice({ ...choice, kind: e.target.value as AttentionKind })}>
                  {kinds.map((k) => (
                    <option key={k} value={k}>
                      {kindLabel(architecture, k)}
                    </option>
                  ))}
                </select>
              </div>
            )}
            <div className="field">
              <label htmlFor={ids.layer}>Layer</label>
              <select id={ids.layer} value={map.layer} data-testid="attention-layer" onChange={(e) => setChoice({ ...choice, layer: Number(e.target.value) })}>
                {ofKind.map((m) => (
                  <option key={m.layer} value={m.layer}>
                    {m.layer} ({m.name})
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor={ids.head}>Head</label>
              <select id={ids.head} value={String(head)} data-testid="attention-head" onChange={(e) => setChoice({ ...choice, head: e.target.value === 'all' ? 'all' : Number(e.target.value) })}>
                {Array.from({ length: heads }, (_, h) => (
                  <option key={h} value={h}>
                    head {h}
                  </option>
                ))}
                <option value="all">all heads</option>
              </select>
            </div>
          </div>
          <p className="small muted" data-testid="attention-caption">
            {kindLabel(architecture, map.kind)}: rows are queries ({map.kind === 'encoder' ? 'source' : map.kind === 'cross' ? 'decoder' : 'example'} positions), columns are keys (
            {map.kind === 'self' ? 'the same positions' : 'source positions'}). Example {snapshot.isDefault ? '(from the dataset)' : '(yours)'}:{' '}
            <code>{'source' in snapshot.example ? `${snapshot.example.source} → ${snapshot.example.target ?? ''}` : snapshot.example.text}</code>
            {snapshot.targetFromModel ? ' (the target is the model’s own greedy translation)' : ''}.
          </p>
          {head === 'all' ? (
            <div className="attention-grid" data-testid="attention-grid">
              {map.heads.map((_, h) => (
                <HeadMap key={h} m={map} head={h} architecture={architecture} size={cellSizeFor(Math.max(map.queries.length, columnsOf(map)), 190, 5, 14)} compact />
              ))}
            </div>
          ) : (
            <HeadMap m={map} head={head} architecture={architecture} size={cellSizeFor(Math.max(map.queries.length, columnsOf(map)), 420, 12, 30)} compact={false} />
          )}
          <Legend m={map} />
        </>
      )}
      <Explain title="Reading an attention map">
        <p>
          Each row is one <b>query</b> position, and its cells are that query’s probability distribution over the <b>keys</b>: softmax(q·kᵀ/√d_k)
          of the head, summing to 1 along the row. The output at that position is the same mix of the keys’ value vectors, so a dark cell means
          “this position copies from that one”. Heads of one layer run in parallel on slices of d_model and often learn different patterns:
          the previous character, the first token, a matching character.
        </p>
        <p>
          <b>Why the decoder’s upper triangle is masked.</b> A decoder is trained to predict each next character from the ones before it, all
          positions at once. If position t could attend to t+1, it would read the answer it is scored on. The causal mask sets the scores of
          every key after the query to −∞ before the softmax, so those probabilities are exactly zero: the hatched cells are not a learned zero
          but an impossible look-ahead, and greedy generation later sees the same conditions as training.
        </p>
        <p>
          <b>No mask in the encoder.</b> An encoder (the classifier, or the encoder of the encoder-decoder) reads a text that is given in full,
          so every position may look both ways. <b>Cross-attention</b> is how the decoder reads the source: its queries come from the decoder’s
          positions, its keys and values from the encoder’s output. In <i>reverse</i>, a trained model’s cross-attention tends to run along the
          anti-diagonal: the first output character looks at the last source character.
        </p>
      </Explain>
    </section>
  );
}
