import { Fragment, useId, useMemo, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { PRESETS } from '../../engine/config';
import { useAppStore } from '../store';
import { type MatmulRow, formatSi, type StepShape, stepFlops, stepMatmuls, stepShapeFor, stepShapeForPage } from '../teaching-scale';
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
    <tr>
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

function describeShape(s: StepShape): string {
  return `${s.layers} layers, d_model ${s.dModel}, ${s.heads} heads (width ${s.dModel / s.heads}), d_ff ${s.dFF}, context ${s.context}, batch ${s.batch}, vocabulary ${s.vocab}`;
}

function MatmulBody() {
  const config = useAppStore(useShallow((s) => ({ preset: s.config.preset, batchSize: s.config.batchSize, dataset: s.config.dataset })));
  const [model, setModel] = useState<ModelChoice>('page');
  const [showBackward, setShowBackward] = useState(true);
  const modelId = useId(), backwardId = useId();
  const pageShape = stepShapeForPage(config);
  const shape = model === 'page' ? pageShape : stepShapeFor(model, pageShape.batch, pageShape.vocab);
  const key = JSON.stringify(shape);
  const rows = useMemo(() => stepMatmuls(JSON.parse(key) as StepShape), [key]);
  const f = stepFlops(shape, rows);
  const forward = rows.filter((r) => r.pass === 'forward'), backward = rows.filter((r) => r.pass === 'backward');
  const attnShare = f.attention / f.total;
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
      <p>
        Apart from softmax, LayerNorm, GELU and the embedding lookup, one training step is a list of matrix products. Each is written below as an
        einsum: every letter is an axis, letters in both inputs and missing from the output are summed over, and the cost is 2 FLOPs (a multiply and
        an add) for each combination of all the letters. Letters: b batch, t and s positions (query, key), h head, e head width, d d_model, k = 3d
        (queries, keys and values side by side), f d_ff, v vocabulary.
      </p>
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
      <p className="small" data-testid="matmul-shape">
        {describeShape(shape)}: {exact(f.tokens)} tokens per step.
      </p>
      <div className="table-wrap">
        <table className="einsum-table" data-testid="einsum-table">
          <caption>Every matmul of one training step</caption>
          <thead>{headers}</thead>
          <tbody>
            <tr className="group">
              <th scope="rowgroup" colSpan={7}>
                Forward: each of the {shape.layers} blocks, then the LM head
              </th>
            </tr>
            {forward.map((r) => (
              <Row key={r.name} r={r} />
            ))}
            {showBackward && (
              <Fragment>
                <tr className="group">
                  <th scope="rowgroup" colSpan={7}>
                    Backward, last layer first: each product gives two, ∂X = ∂Y·Wᵀ and ∂W = Xᵀ·∂Y (for attention, ∂ of both inputs)
                  </th>
                </tr>
                {backward.map((r) => (
                  <Row key={r.name} r={r} />
                ))}
              </Fragment>
            )}
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
          <tr>
            <th scope="row">+ attention scores and × V (12·L·B·T²·d)</th>
            <td className="num">
              <Flops n={f.attention} />
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
          That counts the linear layers exactly but misses the two attention products, whose size grows with the context (T² per head) rather
          than with the parameters; with N taken as every parameter it also counts the embedding table, which is read by lookup, not multiplied.
          At this context the attention term is {(attnShare * 100).toFixed(1)}% of the step; it matters more as T grows relative to d.
        </p>
        <p className="muted">
          The square of attention scores is counted in full, as the engine computes it before the causal mask. The INT4 and INT8 schemes run the
          same products on integer codes (and leverage-score sampling skips rows of the backward ones); the counts here are of the dense products.
        </p>
      </div>
    </>
  );
}

/** Every matmul of one training step of the page's model as an einsum, with its FLOPs and the totals. */
export function MatmulView() {
  return (
    <TeachingPanel title="Matmuls as einsums: the FLOPs of one training step" hideKey="matmuls" testId="matmul-view">
      {() => <MatmulBody />}
    </TeachingPanel>
  );
}
