import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { configProblems } from '../config';
import type { NumericsHalt } from '../messages';
import { etaSeconds, isFinished, recentTokensPerSecond, type RunRecord, type RunStatus } from '../runs';
import { currentRun, detailRun, useAppStore } from '../store';
import { NumberField } from './NumberField';

const STATUS_TEXT: Record<RunStatus, string> = {
  queued: 'Queued',
  starting: 'Building the model: compiling GPU pipelines (on a discrete GPU also timing kernel variants to pick the fastest)…',
  training: 'Training',
  paused: 'Paused',
  evaluating: 'Evaluating on the validation set…',
  sampling: 'Generating samples…',
  recovering: 'Recovering: the GPU device was lost; resuming from the last checkpoint on a new one…',
  done: 'Done',
  stopped: 'Stopped',
  error: 'Error',
};

export function formatSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Start, pause, resume, stop and reset, with the live state of the run in progress. */
export function RunControls() {
  const { busy, pauseRequested, gpuReady, config, invalid, train, pause, resume, stop, reset, queueLength } = useAppStore(
    useShallow((s) => ({
      busy: s.busy, pauseRequested: s.pauseRequested, gpuReady: s.gpu.status === 'ready', config: s.config, invalid: s.invalidFields.length > 0,
      train: s.train, pause: s.pause, resume: s.resume, stop: s.stop, reset: s.reset,
      queueLength: s.runs.filter((r) => r.status === 'queued').length,
    })),
  );
  const run = useAppStore((s) => currentRun(s) ?? detailRun(s));
  const canStart = gpuReady && !busy && !invalid && configProblems(config).length === 0;
  const halt = run && !isFinished(run.status) ? (run.halt ?? null) : null;
  return (
    <section className="panel run-controls" aria-labelledby="controls-heading">
      <h2 id="controls-heading" className="visually-hidden">
        Run controls
      </h2>
      <div className="buttons" role="group" aria-label="Run controls">
        <button type="button" className="primary" onClick={train} disabled={!canStart}>
          Start
        </button>
        {pauseRequested ? (
          <button type="button" onClick={resume} disabled={!busy || halt !== null}>
            Resume
          </button>
        ) : (
          <button type="button" onClick={pause} disabled={!busy || halt !== null}>
            Pause
          </button>
        )}
        <button type="button" onClick={stop} disabled={!busy}>
          Stop
        </button>
        <button type="button" onClick={reset} title="Stop, and clear every run from the charts and from this browser's storage">
          Reset
        </button>
      </div>
      <RunStatusLine run={run} busy={busy} queueLength={queueLength} />
      {/* Keyed by the recoveries so far: a second NaN at the same step is a new halt with fresh buttons. */}
      {halt && run && <HaltPanel key={`${run.id}:${halt.step}:${run.events?.length ?? 0}`} halt={halt} />}
    </section>
  );
}

/** A run halted by a NaN: where it happened, and the two ways on. */
function HaltPanel({ halt }: { halt: NumericsHalt }) {
  const recover = useAppStore((s) => s.recover);
  // A tenth of the rate that diverged, within what the learning-rate field takes.
  const [lr, setLr] = useState<number | undefined>(Math.min(1, Number((halt.lr * 0.1).toPrecision(3))));
  const [valid, setValid] = useState(true);
  const [sent, setSent] = useState(false);
  const from = halt.checkpointStep !== null ? `the checkpoint at step ${halt.checkpointStep}` : 'the start of the run (there is no checkpoint before the NaN)';
  const shown = halt.gradients.slice(0, 4).join(', ') + (halt.gradients.length > 4 ? ` and ${halt.gradients.length - 4} more` : '');
  const go = (action: 'lower-lr' | 'rollback') => {
    setSent(true);
    recover(action, action === 'lower-lr' ? lr : undefined);
  };
  return (
    <div className="error halt" role="alert" data-testid="numerics-halt">
      <p>
        <b>
          Paused: training hit a NaN or infinity at step <span data-testid="halt-step">{halt.step}</span>.
        </b>{' '}
        That step was not applied, so the parameters are the last finite ones, and the charts keep the history.
      </p>
      <ul>
        <li>
          First non-finite activation of the forward (layer): <code data-testid="halt-activation">{halt.activation ?? 'none, the forward was finite'}</code>
        </li>
        <li>
          Gradients holding NaN or ±∞ ({halt.gradients.length} tensors): <code data-testid="halt-gradients">{shown || 'none'}</code>
        </li>
      </ul>
      <p className="small">Either way the run goes on from {from}; the steps after it are taken again.</p>
      <NumberField label="Learning rate to resume with" value={lr} min={1e-9} max={1} testId="halt-lr" hint={`The run had ${halt.lr.toExponential(2)}.`} onChange={setLr} onValidity={setValid} />
      <div className="buttons">
        <button type="button" className="primary" onClick={() => go('lower-lr')} disabled={sent || !valid || lr === undefined}>
          Resume with lower learning rate
        </button>
        <button type="button" onClick={() => go('rollback')} disabled={sent}>
          Roll back to last checkpoint
        </button>
      </div>
    </div>
  );
}

function RunStatusLine({ run, busy, queueLength }: { run: RunRecord | null; busy: boolean; queueLength: number }) {
  const status: RunStatus | null = run ? run.status : null;
  const last = run?.points[run.points.length - 1];
  const speed = run ? recentTokensPerSecond(run.points) : null;
  const total = run?.info?.totalSteps;
  return (
    <div className="status-line" data-testid="status" aria-live="polite">
      <span className={`phase phase-${status ?? 'ready'}`} data-testid="phase">
        {status ? STATUS_TEXT[status] : 'Ready'}
      </span>
      {run && <span className="muted run-name">{run.label}</span>}
      <span>
        step <b data-testid="step">{last?.step ?? 0}</b>
        {total !== undefined && <> / {total}</>}
      </span>
      <span>
        loss <b>{last ? last.loss.toFixed(4) : '—'}</b>
      </span>
      <span>
        <b data-testid="tokens-per-second">{speed !== null ? Math.round(speed).toLocaleString('en') : '—'}</b> tokens/s
      </span>
      <span>
        elapsed <b>{formatSeconds(last?.elapsedSeconds)}</b>
      </span>
      <span>
        ETA <b data-testid="eta">{run && !isFinished(run.status) ? formatSeconds(etaSeconds(run)) : '—'}</b>
      </span>
      {busy && queueLength > 0 && <span className="muted">{queueLength} more queued</span>}
    </div>
  );
}
