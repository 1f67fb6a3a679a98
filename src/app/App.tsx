import { useEffect } from 'react';
import { LossChart } from './charts/LossChart';
import { MeasurementCharts } from './charts/MeasurementCharts';
import { SeriesChart } from './charts/SeriesChart';
import { AttentionView } from './components/AttentionView';
import { BenchmarkPanel } from './components/BenchmarkPanel';
import { ComparisonPanel } from './components/ComparisonPanel';
import { ConfigPanel } from './components/ConfigPanel';
import { Explain } from './components/Explain';
import { GpuStatus, Unavailable } from './components/GpuStatus';
import { HadamardDemo } from './components/HadamardDemo';
import { MatmulView } from './components/MatmulView';
import { MeshView } from './components/MeshView';
import { Notices } from './components/Notices';
import { PositionalEncodingView } from './components/PositionalEncodingView';
import { RunControls } from './components/RunControls';
import { ImportPanel, RunsPanel } from './components/RunsPanel';
import { SamplesPanel } from './components/SamplesPanel';
import { ScalingSweepPanel } from './components/ScalingSweepPanel';
import { SparsityLab } from './components/SparsityLab';
import { connectWorker, useAppStore } from './store';

/** The teaching views that need no GPU, each collapsed to its title until opened. */
function TeachingViews() {
  return (
    <>
      <PositionalEncodingView />
      <MatmulView />
      <MeshView />
    </>
  );
}

export function App() {
  useEffect(() => connectWorker(), []);
  const unavailable = useAppStore((s) => s.gpu.status === 'unavailable');
  return (
    <div className="page">
      <a className="skip-link" href="#main">
        Skip to the charts
      </a>
      <header className="page-header">
        <h1>INT4 Train Playground</h1>
        <p className="lede">
          Train a small GPT in your browser in FP32, FP16, INT8 or the 4-bit method of <i>Training Transformers with 4-bit Integers</i> (Xi et
          al., 2023). Every forward and backward pass runs as a WebGPU kernel on your own GPU, with no server.
        </p>
      </header>
      {unavailable ? (
        <main id="main" className="single">
          <Unavailable />
          <HadamardDemo />
          <TeachingViews />
        </main>
      ) : (
        <div className="layout">
          <aside className="sidebar" aria-label="Configuration">
            <ConfigPanel />
            <ImportPanel />
          </aside>
          <main id="main" className="main">
            <GpuStatus />
            <RunControls />
            <Notices />
            <LossChart />
            <section className="panel" aria-labelledby="series-heading">
              <h2 id="series-heading">Training signals</h2>
              <div className="chart-grid three">
                <SeriesChart title="Gradient norm (before clipping)" series="gradNorm" testId="grad-norm-chart" log />
                <SeriesChart title="Learning rate" series="lr" testId="lr-chart" />
                <SeriesChart title="Tokens per second" series="tokensPerSecond" testId="tokens-chart" />
              </div>
              <Explain title="What these show">
                The global gradient norm is measured before clipping to 1.0; spikes in low precision show gradient noise the quantizers add. The
                learning rate warms up linearly, then follows a cosine down to a tenth of its peak. Tokens per second counts batch × context per
                step over the time between readbacks.
              </Explain>
            </section>
            <MeasurementCharts />
            <AttentionView />
            <SamplesPanel />
            <ComparisonPanel />
            <SparsityLab />
            <ScalingSweepPanel />
            <BenchmarkPanel />
            <RunsPanel />
            <HadamardDemo />
            <TeachingViews />
          </main>
        </div>
      )}
    </div>
  );
}
