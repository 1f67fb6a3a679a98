import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { DATASET_CHOICES, type DatasetChoice, PRESET_CHOICES, type PresetChoice } from './messages';
import { connectWorker, isBusy, MAX_STEPS, type Phase, useAppStore } from './store';

const DATASET_LABELS: Record<DatasetChoice, string> = {
  names: 'names (invent first names)',
  reverse: 'reverse (reverse a string)',
  sort: 'sort (sort digits)',
  addmod: 'addmod (a + b mod 97)',
};

const PRESET_LABELS: Record<PresetChoice, string> = {
  tiny: 'tiny (2 layers, width 48)',
  small: 'small (4 layers, width 128)',
};

const PHASE_TEXT: Record<Phase, string> = {
  probing: 'Looking for a GPU…',
  ready: 'Ready',
  unavailable: 'WebGPU unavailable',
  starting: 'Building the model (compiling GPU pipelines)…',
  training: 'Training',
  stopping: 'Stopping…',
  evaluating: 'Evaluating on the validation set…',
  sampling: 'Generating samples…',
  done: 'Done',
  stopped: 'Stopped',
  error: 'Error',
};

export function App() {
  useEffect(() => connectWorker(), []);
  const phase = useAppStore((s) => s.phase);
  return (
    <main className="page">
      <header>
        <h1>INT4 Train Playground</h1>
        <p className="lede">
          Train a small GPT in your browser: every forward and backward pass runs as a WebGPU kernel on your own GPU, with no server.
        </p>
      </header>
      {phase === 'unavailable' ? <Unavailable /> : <Playground />}
    </main>
  );
}

function Unavailable() {
  const message = useAppStore((s) => s.unavailableMessage);
  return (
    <section className="panel notice" role="alert" data-testid="gpu-unavailable">
      <h2>This browser cannot run WebGPU here</h2>
      <p>{message}</p>
      <p>Browsers that work:</p>
      <ul>
        <li>Chrome or Edge 113+ on Windows, macOS and ChromeOS (Android 121+).</li>
        <li>
          Chrome on Linux: start it with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>.
        </li>
        <li>Safari 26+ (macOS, iOS, iPadOS).</li>
        <li>Firefox 141+ on Windows (other platforms: Nightly).</li>
      </ul>
      <p>
        Make sure hardware acceleration is on (<code>chrome://gpu</code> shows whether WebGPU is enabled), then reload this page.
      </p>
    </section>
  );
}

function Playground() {
  return (
    <>
      <Controls />
      <Status />
      <LossChart />
      <Results />
    </>
  );
}

function Controls() {
  const { dataset, preset, steps, phase, setDataset, setPreset, setSteps, train, stop } = useAppStore(
    useShallow((s) => ({ dataset: s.dataset, preset: s.preset, steps: s.steps, phase: s.phase, setDataset: s.setDataset, setPreset: s.setPreset, setSteps: s.setSteps, train: s.train, stop: s.stop })),
  );
  const [stepsText, setStepsText] = useState(String(steps));
  const busy = isBusy(phase);
  const stepsValid = /^\d+$/.test(stepsText) && Number(stepsText) >= 1 && Number(stepsText) <= MAX_STEPS;
  return (
    <section className="panel controls">
      <label>
        Dataset
        <select value={dataset} disabled={busy} onChange={(e) => setDataset(e.target.value as DatasetChoice)} data-testid="dataset">
          {DATASET_CHOICES.map((d) => (
            <option key={d} value={d}>
              {DATASET_LABELS[d]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Model
        <select value={preset} disabled={busy} onChange={(e) => setPreset(e.target.value as PresetChoice)} data-testid="preset">
          {PRESET_CHOICES.map((p) => (
            <option key={p} value={p}>
              {PRESET_LABELS[p]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Steps
        <input
          type="number"
          min={1}
          max={MAX_STEPS}
          value={stepsText}
          disabled={busy}
          aria-invalid={!stepsValid}
          data-testid="steps"
          onChange={(e) => {
            setStepsText(e.target.value);
            const n = Number(e.target.value);
            if (/^\d+$/.test(e.target.value) && n >= 1 && n <= MAX_STEPS) setSteps(n);
          }}
        />
      </label>
      <div className="buttons">
        <button type="button" className="primary" onClick={train} disabled={busy || phase === 'probing' || !stepsValid}>
          Train
        </button>
        <button type="button" onClick={stop} disabled={phase !== 'starting' && phase !== 'training'}>
          Stop
        </button>
      </div>
    </section>
  );
}

function Status() {
  const { phase, gpuDescription, error, info, latest } = useAppStore(
    useShallow((s) => ({ phase: s.phase, gpuDescription: s.gpuDescription, error: s.error, info: s.info, latest: s.latest })),
  );
  const total = info?.totalSteps;
  return (
    <section className="panel status" data-testid="status">
      <div className="status-line">
        <span className={`phase phase-${phase}`} data-testid="phase">
          {PHASE_TEXT[phase]}
        </span>
        <span>
          step <b>{latest?.step ?? 0}</b>
          {total !== undefined && <> / {total}</>}
        </span>
        <span>
          loss <b>{latest ? latest.loss.toFixed(4) : '—'}</b>
        </span>
        <span>
          <b>{latest ? Math.round(latest.tokensPerSecond).toLocaleString('en') : '—'}</b> tokens/s
        </span>
      </div>
      <div className="detail">GPU: {gpuDescription ?? '…'}</div>
      {info && (
        <div className="detail">
          Model: {info.model}; {info.parameterCount.toLocaleString('en')} parameters; {info.kernelPath}; GPU memory{' '}
          {(info.memoryBytes / 2 ** 20).toFixed(1)} MiB. Data: {info.datasetDescription}
        </div>
      )}
      {error && (
        <div className="error" role="alert" data-testid="error">
          {error}
        </div>
      )}
    </section>
  );
}

function LossChart() {
  const points = useAppStore((s) => s.points);
  const totalSteps = useAppStore((s) => s.info?.totalSteps);
  return (
    <section className="panel">
      <h2>
        Training loss{' '}
        <small>
          (<span data-testid="loss-points" data-first-loss={points[0]?.loss ?? ''}>{points.length}</span> steps)
        </small>
      </h2>
      <div className="chart" data-testid="loss-chart">
        <ResponsiveContainer width="100%" height={300}>
          <LineChart data={points} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
            <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
            <XAxis dataKey="step" type="number" domain={[0, totalSteps ?? 'dataMax']} allowDecimals={false} tick={{ fontSize: 12 }} />
            <YAxis domain={['auto', 'auto']} tick={{ fontSize: 12 }} tickFormatter={(v: number) => v.toFixed(2)} width={48} />
            <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(s) => `step ${s}`} />
            <Line type="linear" dataKey="loss" stroke="#1f4e8c" strokeWidth={2} dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
        {points.length === 0 && <div className="chart-empty">The loss appears here as the model trains.</div>}
      </div>
    </section>
  );
}

function Results() {
  const { result, runDataset } = useAppStore(useShallow((s) => ({ result: s.result, runDataset: s.runDataset })));
  if (!result) return null;
  return (
    <section className="panel" data-testid="results">
      <h2>Result</h2>
      <p>
        Validation loss after {result.steps} steps: <b data-testid="val-loss">{result.valLoss.toFixed(4)}</b>{' '}
        <span className="muted">({result.seconds.toFixed(1)} s of training on {runDataset})</span>
      </p>
      {result.samples.length > 0 ? (
        <>
          <h3>Generated samples</h3>
          <ol className="samples" data-testid="samples">
            {result.samples.map((s, i) => (
              <li key={i}>{s || <span className="muted">(empty)</span>}</li>
            ))}
          </ol>
        </>
      ) : (
        runDataset !== 'names' && <p className="muted">Samples are shown for the names dataset.</p>
      )}
    </section>
  );
}
