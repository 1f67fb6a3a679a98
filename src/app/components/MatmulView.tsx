import { type ReactNode, useId, useMemo, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { type Architecture, PRESETS } from '../../engine/config';
import { useAppStore } from '../store';
import { formatSi, type MatmulRow, pageStepShape, type StepShape, stepFlops, stepMatmuls } from '../teaching-scale';
import { TeachingPanel } from './PositionalEncodingView';

const MODEL_CHOICES = ['page', 'tiny', 'small', 'medium'] as const;
type ModelChoice = (typeof MODEL_CHOICES)[number];

function exact(n: number): string {
  return n.toLocaleString('en');
}

function Flops({ n, testId }: { n: number; testId?: string }) {
  return (
    <span title={`${exact(n)} FLOP`} data-testid={testId} data-value={n}>
      {formatSi(n, 'FLOP')}
    </span>
  );
}

function shapeText(shape: number[]): string {
  return shape.join('×');
}

function Row({ r }: { r: MatmulRow }) {
  return (
    <tr data-testid="matmul-row" data-pass={r.pass} data-stack={r.stack} data-attention={r.attention ?? ''}>
      <th scope="row">{r.name}</th>
      <td>
        <code>{r.einsum}</code>
      </td>
      <td>
        <span className="nowrap">{shapeText(r.shapes[0])}</span> · <span className="nowrap">{shapeText(r.shapes[1])}</span> →{' '}
        <span className="nowrap">{shapeText(r.shapes[2])}</span>
      </td>
      <td className="num nowrap">
        {r.batch > 1 ? `${r.batch} × ` : ''}
        {r.M}×{r.K}·{r.K}×{r.N}
      </td>
      <td className="num nowrap">
        <Flops n={r.flops} />
      </td>
      <td className="num">×{r.count}</td>
      <td className="num nowrap">
        <Flops n={r.flops * r.count} />
      </td>
    </tr>
  );
}

const ARCHITECTURE_NAMES: Record<Architecture, string> = { decoder: 'GPT', encoder: 'encoder classifier', 'encoder-decoder': 'encoder-decoder' };

function describeShape(s: StepShape): string {
  const positions = s.architecture === 'encoder-decoder' ? `source S ${s.source}, target context T ${s.context}` : `context ${s.context}`;
  const classes = s.architecture === 'encoder' ? `, ${s.classes} classes` : '';
  return `${ARCHITECTURE_NAMES[s.architecture]}: ${s.layers} layers${s.architecture === 'encoder-decoder' ? ' in the encoder and in the decoder' : ''}, d_model ${s.dModel}, ${s.heads} heads (width ${s.dModel / s.heads}), d_ff ${s.dFF}, ${positions}, batch ${s.batch}, vocabulary ${s.vocab}${classes}`;
}

/** The table's groups: one per pass for the GPT and the classifier; the encoder-decoder's encoder and
 *  decoder (with the head) apart. */
function groupOf(s: StepShape, r: MatmulRow): string {
  return s.architecture === 'encoder-decoder' ? `${r.pass}:${r.stack === 'encoder' ? 'encoder' : 'decoder'}` : r.pass;
}

function groupTitle(s: StepShape, key: string): string {
  const L = s.layers;
  const twoGradients = 'each product gives two, ∂X = ∂Y·Wᵀ and ∂W = Xᵀ·∂Y (for attention, ∂ of both inputs)';
  switch (key) {
    case 'forward':
      return s.architecture === 'encoder'
        ? `Forward: each of the ${L} encoder blocks (attention without a mask), then the classifier head at every position (only [CLS]'s logits are scored)`
        : `Forward: each of the ${L} blocks, then the LM head`;
    case 'backward':
      return `Backward, last layer first: ${twoGradients}`;
    case 'forward:encoder':
      return `Forward, encoder: each of the ${L} blocks over the S = ${s.source} source positions (no causal mask; padding masked as a key)`;
    case 'forward:decoder':
      return `Forward, decoder: each of the ${L} blocks over the T = ${s.context} target positions (masked self-attention; cross-attention, queries from the decoder [B,T,d], keys and values from the encoder output [B,S,d]; MLP), then the LM head`;
    case 'backward:decoder':
      return `Backward, the LM head and the decoder, last layer first: ${twoGradients}; cross-attention's K,V ∂X flows into the encoder output`;
    default:
      return `Backward, encoder, last layer first: its output's gradient is the sum of what every decoder layer's K,V projection sends back`;
  }
}

function Groups({ shape, rows }: { shape: StepShape; rows: MatmulRow[] }) {
  const out: ReactNode[] = [];
  let current = '';
  for (const r of rows) {
    const key = groupOf(shape, r);
    if (key !== current) {
      current = key;
      out.push(
        <tr className="group" key={`group ${key}`}>
          <th scope="rowgroup" colSpan={7}>
            {groupTitle(shape, key)}
          </th>
        </tr>,
      );
    }
    out.push(<Row key={`${r.pass} ${r.name}`} r={r} />);
  }
  return <>{out}</>;
}

function Legend({ s }: { s: StepShape }) {
  const common = 'b batch, h head, e head width, d d_model, k = 3d (queries, keys and values side by side), f d_ff';
  if (s.architecture === 'encoder-decoder') {
    return (
      <>
        Letters: {common}, j = 2d (cross-attention&apos;s keys and values side by side), v vocabulary; positions: s a source position and r a source
        key position in the encoder (S = {s.source} each), t a target position and u a target key position in the decoder (T = {s.context} each), so
        cross-attention, queries at t and keys at s, has a T × S square of scores.
      </>
    );
  }
  return (
    <>
      Letters: {common}, {s.architecture === 'encoder' ? 'c classes' : 'v vocabulary'}, t and s positions (query, key).
    </>
  );
}

function MatmulBody() {
  const config = useAppStore(useShallow((s) => s.config));
  const [model, setModel] = useState<ModelChoice>('page');
  const [showBackward, setShowBackward] = useState(true);
  const modelId = useId(), backwardId = useId();
  const resolved = pageStepShape(config, model === 'page' ? config.preset : model);
  const shape = 'shape' in resolved ? resolved.shape : null;
  const key = JSON.stringify(shape);
  const rows = useMemo(() => (key === 'null' ? [] : stepMatmuls(JSON.parse(key) as StepShape)), [key]);
  const controls = (
    <div className="demo-controls">
      <div className="field">
        <label htmlFor={modelId}>Model counted</label>
        <select id={modelId} data-testid="matmul-model" value={model} onChange={(e) => setModel(e.target.value as ModelChoice)}>
          {MODEL_CHOICES.map((m) => (
            <option key={m} value={m}>
              {m === 'page' ? `the page's config (${config.preset})` : `${m} (${PRESETS[m].nLayer} layers, width ${PRESETS[m].dModel})`}
            </option>
          ))}
        </select>
      </div>
      <label className="inline" htmlFor={backwardId}>
        <input id={backwardId} type="checkbox" checked={showBackward} onChange={(e) => setShowBackward(e.target.checked)} /> list the backward products
      </label>
    </div>
  );
  const intro = (
    <p>
      Apart from softmax, LayerNorm, GELU and the embedding lookup, one training step is a list of matrix products. Each is written below as an
      einsum: every letter is an axis, letters in both inputs and missing from the output are summed over, and the cost is 2 FLOPs (a multiply and an
      add) for each combination of all the letters. {shape && <Legend s={shape} />}
    </p>
  );
  if (!shape) {
    return (
      <>
        {intro}
        {controls}
        <p className="error" data-testid="matmul-problem">
          Nothing to count: {'problem' in resolved ? resolved.problem : ''}.
        </p>
      </>
    );
  }
  const f = stepFlops(shape, rows);
  const shown = showBackward ? rows : rows.filter((r) => r.pass === 'forward');
  const attnShare = f.attention / f.total;
  const encdec = shape.architecture === 'encoder-decoder';
  const attentionFormula = encdec ? '12·L·B·(S² + T² + T·S)·d' : '12·L·B·T²·d';
  const tokensText = encdec ? `${exact(f.tokens)} tokens per step (B·(S + T): ${shape.batch} × (${shape.source} + ${shape.context}))` : `${exact(f.tokens)} tokens per step`;
  const headers = (
    <tr>
      <th scope="col">Product</th>
      <th scope="col">einsum</th>
      <th scope="col">shapes: operands → result</th>
      <th scope="col">as matmuls: M×K·K×N</th>
      <th scope="col">FLOPs</th>
      <th scope="col">times</th>
      <th scope="col">per step</th>
    </tr>
  );
  return (
    <>
      {intro}
      {controls}
      <p className="small" data-testid="matmul-shape">
        {describeShape(shape)}: {tokensText}.
      </p>
      <div className="table-wrap">
        <table className="einsum-table" data-testid="einsum-table" data-architecture={shape.architecture}>
          <caption>Every matmul of one training step</caption>
          <thead>{headers}</thead>
          <tbody>
            <Groups shape={shape} rows={shown} />
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={6}>
                Forward total
              </th>
              <td className="num nowrap">
                <Flops n={f.forward} testId="flops-forward" />
              </td>
            </tr>
            <tr>
              <th scope="row" colSpan={6}>
                Backward total ({(f.backward / f.forward).toFixed(2)} × forward)
              </th>
              <td className="num nowrap">
                <Flops n={f.backward} testId="flops-backward" />
              </td>
            </tr>
            <tr className="total">
              <th scope="row" colSpan={6}>
                One training step
              </th>
              <td className="num nowrap">
                <Flops n={f.total} testId="flops-total" />
              </td>
            </tr>
          </tfoot>
        </table>
      </div>
      <table className="stats-table" data-testid="six-n">
        <caption>The 6·N·tokens rule of thumb</caption>
        <tbody>
          <tr>
            <th scope="row">N = all {exact(f.parameters)} parameters</th>
            <td className="num">
              <Flops n={f.sixN} testId="flops-6n" />
            </td>
            <td>{((f.sixN / f.total) * 100).toFixed(1)}% of the exact sum</td>
          </tr>
          <tr>
            <th scope="row">N = the {exact(f.matmulParameters)} weights that enter a matmul</th>
            <td className="num">
              <Flops n={f.sixNMatmul} />
            </td>
            <td>{((f.sixNMatmul / f.total) * 100).toFixed(1)}%</td>
          </tr>
          {encdec && (
            <tr>
              <th scope="row">The linear layers as counted: each weight × the tokens it sees</th>
              <td className="num">
                <Flops n={f.linear} testId="flops-linear" />
              </td>
              <td>{((f.linear / f.total) * 100).toFixed(1)}%</td>
            </tr>
          )}
          <tr>
            <th scope="row">+ attention scores and × V ({attentionFormula})</th>
            <td className="num">
              <Flops n={f.attention} testId="flops-attention" />
            </td>
            <td>{(attnShare * 100).toFixed(1)}% of the step</td>
          </tr>
          <tr>
            <th scope="row">Exact sum of the table</th>
            <td className="num">
              <Flops n={f.total} />
            </td>
            <td>100%</td>
          </tr>
        </tbody>
      </table>
      <div className="explain-body small">
        <p>
          <b>Why the backward pass costs twice the forward.</b> A product Y = X·W needs two gradients: ∂X = ∂Y·Wᵀ to pass back to the layer
          below, and ∂W = Xᵀ·∂Y to update the weights. Each has the same three axis sizes as the forward product, so each costs as much. (The
          very first ∂X is only needed for the embedding gradient, which the engine computes too.)
        </p>
        <p>
          <b>Where 6·N·tokens comes from.</b> Every weight is used once per token in a multiply-add forward (2 FLOPs) and twice backward (4 FLOPs).
          {encdec
            ? ' In an encoder-decoder that is not every token: the encoder’s weights and cross-attention’s K,V projection see the S source tokens, the rest of the decoder and the head the T target tokens, so 6·N·(S + T) overcounts; the table counts each layer over its own tokens.'
            : ' That counts the linear layers exactly'}
          {encdec ? ' It also' : ' but'} misses the attention products, whose size grows with the positions (T² per head{encdec ? ', S² in the encoder and T·S in cross-attention' : ''}) rather than with the
          parameters; with N taken as every parameter it also counts the embedding table, which is read by lookup, not multiplied. At these sizes the
          attention terms are {(attnShare * 100).toFixed(1)}% of the step; they matter more as the positions grow relative to d.
        </p>
        <p className="muted">
          {shape.architecture === 'encoder'
            ? 'The encoder attends both ways (no causal mask; only padding keys are masked), so the whole square of scores is computed. '
            : `The square of ${encdec ? 'the decoder’s self-attention ' : 'attention '}scores is counted in full, as the engine computes it before the causal mask. `}
          The INT4 and INT8 schemes run the same products on integer codes (and leverage-score sampling skips rows of the backward ones); the counts
          here are of the dense products.
        </p>
      </div>
    </>
  );
}

/** Every matmul of one training step of the page's model (any architecture) as an einsum, with its FLOPs
 *  and the totals. */
export function MatmulView() {
  return (
    <TeachingPanel title="Matmuls as einsums: the FLOPs of one training step" hideKey="matmuls" testId="matmul-view">
      {() => <MatmulBody />}
    </TeachingPanel>
  );
}
