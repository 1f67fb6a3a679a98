import { useId } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { runColor } from '../charts/colors';
import { isFinished } from '../runs';
import { detailRun, useAppStore } from '../store';
import { useShown } from './hooks';

/** Every run of this visit and of earlier ones (kept in this browser): show/hide on the charts, pick the
 *  one the detail views show, export metrics and weights. */
export function RunsPanel() {
  const shownRuns = useShown('runs');
  const shownExport = useShown('export');
  const shownImport = useShown('import');
  const { runs, hiddenRuns, toggle, select, remove, exportCsv, exportJson, exportCheckpoint, checkpoints, exportRun, importRun, importError } = useAppStore(
    useShallow((s) => ({
      runs: s.runs, hiddenRuns: s.hiddenRuns, toggle: s.toggleRunVisible, select: s.selectRun, remove: s.deleteRun,
      exportCsv: s.exportCsv, exportJson: s.exportJson, exportCheckpoint: s.exportCheckpoint, checkpoints: s.checkpoints,
      exportRun: s.exportRun, importRun: s.importRun, importError: s.importError,
    })),
  );
  const detail = useAppStore((s) => detailRun(s));
  const importId = useId();
  // With nothing to list, the panel still offers the import (a run file from another browser).
  if (!shownRuns || (runs.length === 0 && !shownImport)) return null;
  const importField = shownImport && (
    <div className="field">
      <label htmlFor={importId}>Import a run file (.run.safetensors, from the Run button of a runs list)</label>
      <input
        id={importId}
        type="file"
        accept=".safetensors,application/octet-stream"
        data-testid="run-file"
        onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) void importRun(file);
          e.target.value = '';
        }}
      />
      {importError && (
        <div className="error" role="alert" data-testid="run-file-error">
          {importError}
        </div>
      )}
    </div>
  );
  if (runs.length === 0) {
    return (
      <section className="panel" aria-labelledby="runs-heading" data-testid="runs">
        <h2 id="runs-heading">Runs</h2>
        {importField}
      </section>
    );
  }
  return (
    <section className="panel" aria-labelledby="runs-heading" data-testid="runs">
      <div className="panel-head">
        <h2 id="runs-heading">Runs</h2>
        {shownExport && (
          <div className="buttons">
            <button type="button" onClick={() => exportCsv()} data-testid="export-all-csv">
              Export all as CSV
            </button>
            <button type="button" onClick={() => exportJson()}>
              Export all as JSON
            </button>
          </div>
        )}
      </div>
      <div className="table-wrap">
        <table className="runs-table">
          <thead>
            <tr>
              <th scope="col">Show</th>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Steps</th>
              <th scope="col">Val loss</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r, i) => {
              const last = r.points[r.points.length - 1];
              const val = r.result?.valLoss ?? r.validation[r.validation.length - 1]?.valLoss;
              const finished = isFinished(r.status);
              return (
                <tr key={r.id} data-testid="run-row" data-status={r.status} aria-current={detail?.id === r.id ? 'true' : undefined}>
                  <td>
                    <input type="checkbox" checked={!hiddenRuns.includes(r.id)} onChange={() => toggle(r.id)} aria-label={`Show ${r.label} on the charts`} />
                  </td>
                  <td>
                    <span className="swatch" style={{ background: runColor(i) }} aria-hidden="true" />
                    <button type="button" className="link" onClick={() => select(r.id)} aria-label={`Show details of ${r.label}`}>
                      {r.label}
                    </button>
                    {r.error && <div className="error small">{r.error.message}</div>}
                    {(r.events ?? []).map((e, k) => (
                      <div key={k} className="muted small" data-testid="run-event">
                        {e.text}
                      </div>
                    ))}
                  </td>
                  <td>{r.status}</td>
                  <td>{last?.step ?? 0}</td>
                  <td>{val !== undefined ? val.toFixed(4) : '—'}</td>
                  <td className="actions">
                    {shownExport && (
                      <>
                        <button type="button" onClick={() => exportCsv([r.id])} disabled={r.points.length === 0} aria-label={`Export ${r.label} as CSV`} data-testid="export-csv">
                          CSV
                        </button>
                        <button type="button" onClick={() => exportJson([r.id])} aria-label={`Export ${r.label} as JSON`} data-testid="export-json">
                          JSON
                        </button>
                        <button type="button" onClick={() => void exportRun(r.id)} disabled={!finished} aria-label={`Export ${r.label} as a run file (config, metrics and latest checkpoint)`} data-testid="export-run">
                          Run
                        </button>
                        <button type="button" onClick={() => void exportCheckpoint(r.id)} disabled={!finished || r.status === 'error' || (!checkpoints[r.id] && r.points.length === 0)} aria-label={`Download the weights of ${r.label} as safetensors`} data-testid="export-weights">
                          Weights
                        </button>
                      </>
                    )}
                    <button type="button" onClick={() => remove(r.id)} disabled={!finished} aria-label={`Delete ${r.label}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p className="muted small">
        Finished runs are kept in this browser (IndexedDB) and come back after a reload; Reset clears them. When the browser's storage is full, the
        saved weights of the oldest runs go first; metrics and configs stay. Run exports a run with its latest checkpoint as one file.
      </p>
      {importField}
    </section>
  );
}

/** Upload a safetensors checkpoint to evaluate it, or to continue training from it. */
export function ImportPanel() {
  const shown = useShown('import');
  const { upload, uploadError, uploadCheckpoint, startFromUpload, clearUpload, busy, gpuReady, config } = useAppStore(
    useShallow((s) => ({
      upload: s.upload, uploadError: s.uploadError, uploadCheckpoint: s.uploadCheckpoint, startFromUpload: s.startFromUpload,
      clearUpload: s.clearUpload, busy: s.busy, gpuReady: s.gpu.status === 'ready', config: s.config,
    })),
  );
  const inputId = useId();
  if (!shown) return null;
  return (
    <section className="panel" aria-labelledby="import-heading" data-testid="import">
      <h2 id="import-heading">Load a checkpoint</h2>
      <div className="field">
        <label htmlFor={inputId}>A .safetensors file saved here (Weights) or by <code>npm run train -- --save</code></label>
        <input
          id={inputId}
          type="file"
          accept=".safetensors,application/octet-stream"
          data-testid="checkpoint-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) void uploadCheckpoint(file);
            e.target.value = '';
          }}
        />
      </div>
      {uploadError && (
        <div className="error" role="alert" data-testid="upload-error">
          {uploadError}
        </div>
      )}
      {upload && (
        <div data-testid="upload-summary">
          <p>
            <b>{upload.name}</b>: {upload.model}; {upload.parameterCount.toLocaleString('en')} parameters; trained {upload.step} steps on{' '}
            {upload.dataset}
            {upload.precision ? ` in ${upload.precision}` : ''}. It runs in the precision chosen above ({config.precision}); continuing starts a
            fresh optimizer state and learning-rate schedule.
          </p>
          <div className="buttons">
            <button type="button" onClick={() => startFromUpload('evaluate')} disabled={busy || !gpuReady}>
              Evaluate
            </button>
            <button type="button" onClick={() => startFromUpload('continue')} disabled={busy || !gpuReady}>
              Continue training ({config.steps} steps)
            </button>
            <button type="button" onClick={clearUpload}>
              Forget file
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
