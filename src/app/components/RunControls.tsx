import { useShallow } from 'zustand/react/shallow';
import { configProblems } from '../config';
import { etaSeconds, isFinished, recentTokensPerSecond, type RunRecord, type RunStatus } from '../runs';
import { currentRun, detailRun, useAppStore } from '../store';

const STATUS_TEXT: Record<RunStatus, string> = {
  queued: 'Queued',
  starting: 'Building the model (compiling GPU pipelines)…',
  training: 'Training',
  paused: 'Paused',
  evaluating: 'Evaluating on the validation set…',
  sampling: 'Generating samples…',
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
          <button type="button" onClick={resume} disabled={!busy}>
            Resume
          </button>
        ) : (
          <button type="button" onClick={pause} disabled={!busy}>
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
    </section>
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
