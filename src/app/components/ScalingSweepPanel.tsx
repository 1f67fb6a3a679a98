// The scaling-sweep panel: trains a ladder of model widths on the bundled names corpus, one rung after the
// other, in its own Web Worker (src/app/sweep-worker.ts), and plots each rung's final validation loss
// against its training FLOPs on log-log axes with the fitted power law L ≈ a·C^b and its exponent — the
// "loss against compute" view the third source article asks for (../shared/docs/sources.md §3). Each
// rung's training-loss curve is drawn against the FLOPs spent so far, with its loss spikes marked. The
// page never touches the GPU: a sweep is one worker, and Stop terminates it.
import { useCallback, useId, useMemo, useReducer, useState } from 'react';
import { CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Scatter, Tooltip, XAxis, YAxis } from 'recharts';
import { PRECISIONS, type Precision } from '../../engine/config';
import { SpikeMarkShape } from '../charts/LossChart';
import { runColor } from '../charts/colors';
import { PRECISION_LABELS } from '../config';
import { useAppStore } from '../store';
import {
  curveOf,
  decadeTicks,
  DEFAULT_SWEEP,
  describeExponent,
  finalPoints,
  fitLine,
  formatCount,
  formatExponent,
  formatFitLaw,
  formatPower,
  INITIAL_SWEEP_STATE,
  isSweepBusy,
  logDomain,
  MAX_SWEEP_STEPS,
  NAMES_VOCAB,
  parseWidths,
  planOf,
  type SweepFit,
  type RungState,
  rungSpikes,
  spikeCountText,
  spikeText,
  sweepFit,
  sweepLadder,
  sweepProblems,
  sweepProgress,
  sweepReducer,
  type SweepState,
} from '../sweep';
import type { FromSweepWorker, SweepRequest, SweepRungPlan, ToSweepWorker } from '../sweep-messages';
import { NumberField } from './NumberField';
import './ScalingSweepPanel.css';
import { DisclosurePanel } from './DisclosurePanel';
import { useJobWorker } from './useJobWorker';

function formatSeconds(s: number): string {
  return s >= 100 ? `${s.toFixed(0)} s` : `${s.toFixed(1)} s`;
}

function rungStatusText(r: RungState): string {
  switch (r.status) {
    case 'waiting':
      return 'waiting';
    case 'training':
      return `step ${r.points.length} of ${r.plan.steps}`;
    case 'evaluating':
      return 'validation loss…';
    case 'done':
      return r.seconds !== null ? `done in ${formatSeconds(r.seconds)}` : 'done';
    case 'failed':
      return 'failed';
    case 'stopped':
      return `stopped at step ${r.points.length}`;
  }
}

function StatusLine({ state }: { state: SweepState }) {
  const { done, total } = sweepProgress(state);
  const finished = state.rungs.filter((r) => r.status === 'done').length;
  let text: string;
  switch (state.phase) {
    case 'idle':
      text = 'Not run yet.';
      break;
    case 'starting':
      text = 'Starting a GPU device in the sweep worker and checking the ladder against its limits…';
      break;
    case 'running': {
      const i = state.current;
      text = i !== null && state.rungs[i] ? `Rung ${i + 1} of ${state.rungs.length} (d_model ${state.rungs[i].plan.dModel}): ${rungStatusText(state.rungs[i])}` : `${finished} of ${state.rungs.length} rungs done…`;
      break;
    }
    case 'done':
      text = `Done in ${state.seconds !== null ? formatSeconds(state.seconds) : '?'}: ${finished} of ${state.rungs.length} rungs trained.`;
      break;
    case 'stopped':
      text = `Stopped after ${finished} of ${state.rungs.length} rungs; the finished ones are kept.`;
      break;
    case 'error':
      text = 'Stopped by an error.';
      break;
  }
  return (
    <div className="job-status">
      <span data-testid="sweep-status" data-phase={state.phase}>
        {text}
      </span>
      {isSweepBusy(state) && total > 0 && (
        <progress data-testid="sweep-progress" value={done} max={total} aria-label={`${done} of ${total} steps trained`}>
          {done} of {total}
        </progress>
      )}
    </div>
  );
}

/** The log-log chart: each rung's training loss against FLOPs spent, its final validation loss, the fit. */
function SweepChart({ state, fit }: { state: SweepState; fit: SweepFit | null }) {
  const curves = useMemo(() => state.rungs.map((r, i) => ({ rung: r, color: runColor(i), data: curveOf(r) })), [state.rungs]);
  const finals = useMemo(() => finalPoints(state.rungs), [state.rungs]);
  const spikes = useMemo(
    () => state.rungs.flatMap((r, i) => rungSpikes(r).filter((s) => Number.isFinite(s.loss) && s.loss > 0).map((s) => ({ step: s.step, flops: s.flops, mark: s.loss, color: runColor(i), text: `d_model ${r.plan.dModel}: ${spikeText(s)}` }))),
    [state.rungs],
  );
  const xDomain = useMemo(() => logDomain([...curves.flatMap((c) => c.data.map((p) => p.flops)), ...state.rungs.map((r) => r.plan.flops)]), [curves, state.rungs]);
  const line = useMemo(() => (fit && finals.length ? fitLine(fit, Math.min(...finals.map((p) => p.flops)) / 1.5, Math.max(...finals.map((p) => p.flops)) * 1.5) : []), [fit, finals]);
  const yDomain = useMemo(() => logDomain([...curves.flatMap((c) => c.data.map((p) => p.loss)), ...finals.map((p) => p.valLoss)], 1.08), [curves, finals]);
  const xTicks = xDomain ? decadeTicks(xDomain[0], xDomain[1]).filter((t) => t >= xDomain[0] && t <= xDomain[1]) : [];
  const drawn = curves.some((c) => c.data.length > 0) || finals.length > 0;
  return (
    <figure className="job-chart sweep-chart">
      <figcaption>Loss against training compute (both axes logarithmic)</figcaption>
      <div
        className="chart"
        data-testid="sweep-chart"
        data-x-scale="log"
        data-y-scale="log"
        data-finals={finals.length}
        data-spikes={spikes.length}
        role="img"
        aria-label={`Loss against training FLOPs on log-log axes: ${finals.length} finished rungs${fit ? `, fitted exponent ${formatExponent(fit.exponent)}` : ''}`}
      >
        <ResponsiveContainer width="100%" height={320}>
          <ComposedChart margin={{ top: 20, right: 16, bottom: 8, left: 0 }}>
            <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
            <XAxis
              dataKey="flops"
              type="number"
              scale="log"
              domain={xDomain ?? [1, 10]}
              allowDataOverflow
              ticks={xTicks.length >= 2 ? xTicks : undefined}
              tickFormatter={(v: number) => formatPower(v)}
              tick={{ fontSize: 12 }}
              label={{ value: 'training FLOPs', position: 'insideBottomRight', offset: -4, fontSize: 12 }}
            />
            <YAxis
              type="number"
              scale="log"
              domain={yDomain ?? [1, 10]}
              allowDataOverflow
              tick={{ fontSize: 12 }}
              tickFormatter={(v: number) => (v >= 10 ? v.toFixed(0) : v.toFixed(2))}
              width={48}
            />
            <Tooltip
              formatter={(v, name) => (typeof v !== 'number' ? String(v) : name === 'flops' ? `${formatPower(v)} FLOPs` : v.toFixed(4))}
              labelFormatter={(x) => (typeof x === 'number' ? `${formatPower(x)} FLOPs` : String(x))}
            />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            {curves.map(({ rung, color, data }) =>
              data.length ? (
                <Line key={rung.plan.label} data={data} dataKey="loss" name={`d_model ${rung.plan.dModel} (train)`} type="linear" stroke={color} strokeWidth={1.5} strokeOpacity={0.75} dot={false} isAnimationActive={false} />
              ) : null,
            )}
            {line.length > 0 && (
              <Line data={line} dataKey="fit" name="power-law fit" type="linear" stroke="#111827" strokeWidth={2} strokeDasharray="6 4" dot={false} isAnimationActive={false} />
            )}
            {finals.length > 0 && <Scatter data={finals} dataKey="valLoss" name="final validation loss" fill="#111827" shape="diamond" isAnimationActive={false} />}
            {spikes.length > 0 && <Scatter data={spikes} dataKey="mark" name="loss spike" fill="#b42318" legendType="none" shape={SpikeMarkShape} isAnimationActive={false} />}
          </ComposedChart>
        </ResponsiveContainer>
        {!drawn && <div className="chart-empty">Each rung&apos;s loss appears here as it trains.</div>}
      </div>
      {drawn && (
        <p className="small muted" data-testid="sweep-spikes" data-count={spikes.length}>
          <span className="loss-spike-key" aria-hidden="true">
            ▼
          </span>{' '}
          {spikeCountText(spikes.length)} on the rungs&apos; training curves{spikes.length > 0 ? ' (hover a mark for details)' : ''}.
        </p>
      )}
    </figure>
  );
}

function FitLine({ fit, finished }: { fit: SweepFit | null; finished: number }) {
  if (!fit) {
    return (
      <p className="sweep-fit muted" data-testid="sweep-fit" data-state="none">
        The power law is fitted once two rungs have finished ({finished} so far).
      </p>
    );
  }
  const { perDecade, perDoublingPercent } = describeExponent(fit.exponent);
  return (
    <p className="sweep-fit" data-testid="sweep-fit" data-state="fitted" data-exponent={fit.exponent} data-r2={fit.r2}>
      Fitted power law <span className="law">{formatFitLaw(fit)}</span> through {fit.count} rungs: exponent{' '}
      <b data-testid="sweep-exponent">{formatExponent(fit.exponent)}</b>, r² {fit.r2.toFixed(3)}
      {fit.count === 2 && ' (two points always fit exactly)'}. Each 10× more compute multiplies the loss by {perDecade.toFixed(3)} (
      {perDoublingPercent >= 0 ? '+' : '−'}
      {Math.abs(perDoublingPercent).toFixed(1)}% per doubling).
    </p>
  );
}

function RungTable({ rungs, current, planned }: { rungs: RungState[]; current: number | null; planned: boolean }) {
  if (rungs.length === 0) return null;
  return (
    <div className="table-wrap">
      <table className="sweep-table" data-testid="sweep-table">
        <caption>{planned ? 'The ladder (planned with the names vocabulary; the worker plans it again with the dataset)' : 'The rungs'}</caption>
        <thead>
          <tr>
            <th scope="col">Rung</th>
            <th scope="col">Shape</th>
            <th scope="col" className="num">
              Parameters
            </th>
            <th scope="col" className="num">
              Tokens
            </th>
            <th scope="col" className="num">
              Training FLOPs
            </th>
            <th scope="col">Progress</th>
            <th scope="col" className="num">
              Final val loss
            </th>
            <th scope="col" className="num">
              Last train loss
            </th>
            <th scope="col" className="num">
              Spikes
            </th>
          </tr>
        </thead>
        <tbody>
          {rungs.map((r, i) => {
            const last = r.points[r.points.length - 1];
            const spikes = rungSpikes(r);
            return (
              <tr key={r.plan.label} data-testid="sweep-rung" data-status={r.status} className={i === current ? 'rung-current' : undefined} aria-current={i === current ? 'step' : undefined}>
                <th scope="row" className="nowrap">
                  <span className="swatch" data-color={runColor(i)} aria-hidden="true">
                    <svg width="10" height="10" aria-hidden="true">
                      <rect width="10" height="10" fill={runColor(i)} />
                    </svg>
                  </span>
                  d_model {r.plan.dModel}
                </th>
                <td className="nowrap">
                  {r.plan.nLayer} layers, {r.plan.nHead} heads, d_ff {r.plan.dFF}
                </td>
                <td className="num" data-testid="sweep-params">
                  {formatCount(r.plan.parameters)}
                </td>
                <td className="num">{formatCount(r.plan.tokens)}</td>
                <td className="num" data-testid="sweep-flops">
                  {formatPower(r.plan.flops)}
                </td>
                <td className={r.status === 'failed' ? 'rung-failed' : undefined}>
                  {rungStatusText(r)}
                  {r.status === 'training' && (
                    <>
                      {' '}
                      <progress value={r.points.length} max={r.plan.steps} aria-label={`rung ${i + 1}: ${r.points.length} of ${r.plan.steps} steps`} />
                    </>
                  )}
                  {r.error && <div className="small">{r.error}</div>}
                  {r.kernelPath && r.status !== 'waiting' && <div className="small muted">{r.kernelPath}</div>}
                </td>
                <td className="num" data-testid="sweep-val-loss">
                  {r.valLoss !== null ? r.valLoss.toFixed(4) : '—'}
                </td>
                <td className="num">{last ? (Number.isFinite(last.loss) ? last.loss.toFixed(4) : String(last.loss)) : '—'}</td>
                <td className="num" data-testid="sweep-rung-spikes" title={spikes.map(spikeText).join('\n') || undefined}>
                  {r.points.length ? spikes.length : '—'}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Explanation() {
  return (
    <div className="sweep-explain" data-testid="sweep-explain">
      <h3>Reading the exponent</h3>
      <p>
        A straight line on log-log axes is a power law, <b>L ≈ a·C^b</b>: the slope b is the exponent. With b = −0.05, ten times the compute
        multiplies the loss by 10^−0.05 ≈ 0.89. Kaplan et al. (2020) measured about −0.05 for the loss of large language models against
        training compute. H. W. Chung&apos;s talk on large language models from first principles (the project&apos;s third source article)
        tells how such laws let the GPT-4 team predict the final loss of the large model from much smaller runs, and how large runs (PaLM)
        hit loss spikes that small models do not reproduce.
      </p>
      <p>
        <b>Here the exponent is rough.</b> The rungs are tiny (thousands to hundreds of thousands of parameters), each trains only a few hundred
        steps with the same learning rate and step count, and the names corpus has an entropy floor that no model goes below, so the curve
        bends flat where a pure power law would not. Rerun with another seed to see how much the exponent moves, or with another precision to
        see whether INT4 shifts the line or changes its slope.
      </p>
      <p>
        <b>FLOPs</b> count the multiply-adds of the forward and backward passes (about 6 per parameter per token, plus attention), times the
        tokens a rung trains on (steps × batch × context). Every rung sees the same tokens, so the compute grows with the model alone:
        the slope is the loss against model size at this data budget, and a line bending flat at the wide end shows the larger rungs
        running short of data or steps.
      </p>
    </div>
  );
}

interface FormState {
  precision: Precision;
  widthsText: string;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
}

function requestOf(form: FormState): { request: SweepRequest; problems: string[] } {
  const { widths, problems } = parseWidths(form.widthsText);
  const request: SweepRequest = { precision: form.precision, widths, steps: form.steps, batchSize: form.batchSize, lr: form.lr, seed: form.seed };
  return { request, problems };
}

function SweepBody() {
  const [state, dispatch] = useReducer(sweepReducer, INITIAL_SWEEP_STATE);
  const [form, setForm] = useState<FormState>({ ...DEFAULT_SWEEP, widthsText: DEFAULT_SWEEP.widths.join(', ') });
  const [invalid, setInvalid] = useState<string[]>([]);
  const [refused, setRefused] = useState<string[]>([]);
  const mainBusy = useAppStore((s) => s.busy);
  const widthsId = useId();
  const job = useJobWorker<FromSweepWorker, ToSweepWorker>('sweep', dispatch);

  const validity = useCallback(
    (field: string) => (valid: boolean) => setInvalid((list) => (valid ? list.filter((f) => f !== field) : list.includes(field) ? list : [...list, field])),
    [],
  );
  const validators = useMemo(() => ({ steps: validity('steps'), batch: validity('batch'), lr: validity('learning rate'), seed: validity('seed') }), [validity]);

  const problems = useMemo(() => {
    const { request, problems: parse } = requestOf(form);
    const fields = invalid.map((f) => `${f} is not a valid value`);
    return [...fields, ...parse, ...(parse.length ? [] : sweepProblems(request, NAMES_VOCAB))];
  }, [form, invalid]);
  // The plan shown before a sweep: the ladder the page's checks passed.
  const preview = useMemo((): SweepRungPlan[] => {
    if (problems.length) return [];
    try {
      return sweepLadder(requestOf(form).request, NAMES_VOCAB).map(planOf);
    } catch {
      return [];
    }
  }, [form, problems]);

  const busy = isSweepBusy(state);
  const start = () => {
    // Bad input is refused here, before any worker (or GPU device) exists.
    if (problems.length) {
      setRefused(problems);
      return;
    }
    setRefused([]);
    const { request } = requestOf(form);
    dispatch({ type: 'start', request, plan: preview });
    job.start(() => new Worker(new URL('../sweep-worker.ts', import.meta.url), { type: 'module', name: 'scaling-sweep' }), { type: 'run', request, baseUrl: document.baseURI });
  };
  const stop = () => {
    job.stop();
    dispatch({ type: 'stop' });
  };

  const fit = useMemo(() => sweepFit(state.rungs), [state.rungs]);
  const shownRungs: RungState[] = state.phase === 'idle' ? preview.map((plan) => ({ plan, status: 'waiting', kernelPath: null, points: [], valLoss: null, seconds: null, error: null })) : state.rungs;
  const finished = state.rungs.filter((r) => r.status === 'done').length;
  const set = (patch: Partial<FormState>) => {
    setForm((f) => ({ ...f, ...patch }));
    setRefused([]);
  };

  return (
    <div className="sweep-body">
      <p>
        Trains a ladder of model widths on the bundled names corpus, one after the other in a worker of its own, every rung with the same data,
        seed, steps and learning rate (2 layers, 4 heads, context 16, d_ff = 4·d_model: the tiny preset with its width changed), then fits a
        power law to the final validation loss against the training compute.
      </p>
      <fieldset className="sweep-form choices" disabled={busy}>
        <legend className="visually-hidden">The sweep</legend>
        <div className="field">
          <label htmlFor={`${widthsId}-precision`}>Precision</label>
          <select id={`${widthsId}-precision`} data-testid="sweep-precision" value={form.precision} onChange={(e) => set({ precision: e.target.value as Precision })}>
            {PRECISIONS.map((p) => (
              <option key={p} value={p}>
                {PRECISION_LABELS[p]}
              </option>
            ))}
          </select>
        </div>
        <div className="field widths">
          <label htmlFor={widthsId}>Widths (d_model of each rung)</label>
          <input
            id={widthsId}
            type="text"
            inputMode="numeric"
            data-testid="sweep-widths"
            value={form.widthsText}
            aria-invalid={requestOf(form).problems.length > 0}
            aria-describedby={`${widthsId}-hint`}
            onChange={(e) => set({ widthsText: e.target.value })}
          />
          <small id={`${widthsId}-hint`} className="hint">
            Comma-separated; each divisible by the 4 heads.
          </small>
        </div>
        <NumberField label="Steps per rung" value={form.steps} min={1} max={MAX_SWEEP_STEPS} integer testId="sweep-steps" onChange={(v) => v !== undefined && set({ steps: v })} onValidity={validators.steps} />
        <NumberField label="Batch" value={form.batchSize} min={1} max={256} integer testId="sweep-batch" onChange={(v) => v !== undefined && set({ batchSize: v })} onValidity={validators.batch} />
        <NumberField label="Learning rate" value={form.lr} min={1e-6} max={1} testId="sweep-lr" onChange={(v) => v !== undefined && set({ lr: v })} onValidity={validators.lr} />
        <NumberField label="Seed" value={form.seed} min={0} max={0xffffffff} integer testId="sweep-seed" onChange={(v) => v !== undefined && set({ seed: v })} onValidity={validators.seed} />
      </fieldset>
      <div className="buttons">
        <button type="button" className="primary" data-testid="sweep-start" onClick={start} disabled={busy || mainBusy}>
          {state.phase === 'idle' ? 'Start sweep' : 'Start again'}
        </button>
        <button type="button" data-testid="sweep-stop" onClick={stop} disabled={!busy}>
          Stop
        </button>
      </div>
      {busy && (
        <p className="hint" data-testid="sweep-gpu-note">
          The sweep has its own GPU device: a run started in the main panel meanwhile shares the GPU and slows both.
        </p>
      )}
      {mainBusy && !busy && (
        <p className="info sweep-busy" data-testid="sweep-main-busy">
          The main run is training: the sweep can start when it ends (one GPU job at a time keeps both fast).
        </p>
      )}
      {(refused.length > 0 || (problems.length > 0 && !busy)) && (
        <div className="error" role="alert" data-testid="sweep-problems">
          <b>{refused.length ? 'The sweep cannot start:' : 'Fix before starting:'}</b>
          <ul>
            {(refused.length ? refused : problems).map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}
      <StatusLine state={state} />
      {state.adapter && (
        <div className="detail" data-testid="sweep-adapter">
          <b>GPU:</b> {state.adapter}
        </div>
      )}
      {state.error && (
        <div className="error" role="alert" data-testid="sweep-error" data-kind={state.error.kind}>
          <b>{state.error.kind === 'limits' ? 'The ladder does not fit this GPU.' : state.error.kind === 'unavailable' ? 'WebGPU is not available.' : 'The sweep stopped.'}</b> {state.error.message}
          {state.error.kind === 'limits' || state.error.kind === 'config' ? '. Nothing was trained.' : ''}
        </div>
      )}
      <div className="job-layout">
        <div>
          <SweepChart state={state} fit={fit} />
          <FitLine fit={fit} finished={finished} />
        </div>
        <Explanation />
      </div>
      <RungTable rungs={shownRungs} current={state.current} planned={state.phase === 'idle'} />
    </div>
  );
}

/** Collapsed until opened: no worker starts until Start is pressed; closing it keeps a sweep going. */
export function ScalingSweepPanel() {
  return (
    <DisclosurePanel title="Scaling sweep: loss against compute, with a power-law fit" testId="sweep-panel" keepMounted>
      {() => <SweepBody />}
    </DisclosurePanel>
  );
}
