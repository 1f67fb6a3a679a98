// The benchmark panel: runs the kernel benchmark of `npm run bench` (src/bench/kernels.ts) on the user's
// GPU in its own Web Worker (src/app/bench-worker.ts) and shows FP32 vs INT8 vs INT4 matmul throughput
// as grouped bars (Fig. 4 of Xi et al. 2023, for this hardware), with the kernel path of every bar, the
// adapter, and the correctness check of every row. The page never touches the GPU: a run is one worker,
// and Cancel terminates it.
import { useId, useMemo, useReducer, useState } from 'react';
import {
  BENCH_SIZES,
  benchChartData,
  benchReducer,
  DEFAULT_BENCH_SIZES,
  errorTitle,
  failedSkips,
  formatRate,
  formatSeconds,
  INITIAL_BENCH_STATE,
  isBusy,
  kernelLabel,
  normalizeSizes,
  progressOf,
  speedups,
  type BenchState,
} from '../bench';
import type { FromBenchWorker, ToBenchWorker } from '../bench-messages';
import { BenchmarkChart } from './BenchmarkChart';
import './BenchmarkPanel.css';
import { DisclosurePanel } from './DisclosurePanel';
import { useJobWorker } from './useJobWorker';

function ratio(a: number, b: number): string {
  const r = a / b;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×`;
}

function StatusLine({ state }: { state: BenchState }) {
  const { done, total } = progressOf(state);
  const checkedOk = state.rows.filter((r) => r.checked).length;
  const failed = state.rows.length - checkedOk;
  let text: string;
  switch (state.phase) {
    case 'idle':
      text = 'Not run yet.';
      break;
    case 'starting':
      text = 'Starting a GPU device in the benchmark worker…';
      break;
    case 'running':
      text = state.current
        ? `Kernel ${Math.min(state.started, total)} of ${total}: ${kernelLabel(state.current.name)} at ${state.current.size} (${state.current.path}), checking then timing…`
        : `Preparing ${total} kernels…`;
      break;
    case 'done':
      text =
        `Done in ${state.seconds !== null ? formatSeconds(state.seconds) : '?'}: ${state.rows.length} kernels measured, ` +
        (failed === 0 ? `all ${checkedOk} passed their correctness check.` : `${failed} FAILED their correctness check (not drawn).`);
      break;
    case 'cancelled':
      text = `Cancelled after ${done} of ${total} kernels.`;
      break;
    case 'error':
      text = 'Stopped by an error.';
      break;
  }
  return (
    <div className="job-status">
      <span data-testid="bench-status" data-phase={state.phase} className={state.phase === 'error' ? 'phase-error' : state.phase === 'done' ? 'phase-done' : undefined}>
        {text}
      </span>
      {isBusy(state) && (
        <progress data-testid="bench-progress" value={done} max={Math.max(total, 1)} aria-label={`${done} of ${total} kernels done`}>
          {done} of {total}
        </progress>
      )}
    </div>
  );
}

function ResultsTable({ state }: { state: BenchState }) {
  const errors = failedSkips(state.skipped);
  if (state.rows.length === 0 && errors.length === 0) return null;
  return (
    <div className="table-wrap">
      <table className="bench-table" data-testid="bench-table">
        <caption>Every kernel, checked against a CPU computation before it was timed</caption>
        <thead>
          <tr>
            <th scope="col">Kernel</th>
            <th scope="col">Size</th>
            <th scope="col">Path</th>
            <th scope="col" className="num">
              Throughput
            </th>
            <th scope="col" className="num">
              Time per run
            </th>
            <th scope="col">Timed by</th>
            <th scope="col">Correctness check</th>
          </tr>
        </thead>
        <tbody>
          {state.rows.map((r, i) => (
            <tr key={`${r.name}|${r.size}|${r.path}|${i}`} data-testid="bench-row" data-checked={r.checked ? 'passed' : 'failed'} className={r.checked ? undefined : 'bench-failed'}>
              <th scope="row">
                {kernelLabel(r.name)} <span className="muted small">({r.name})</span>
              </th>
              <td className="nowrap">{r.size}</td>
              <td>
                {r.path}
                {typeof r.extra?.kernel === 'string' ? (
                  <span className="muted small" data-testid="bench-kernel">
                    {' '}
                    — fastest of {String(r.extra.kernelsTimed ?? '?')}: {r.extra.kernel}
                  </span>
                ) : null}
              </td>
              <td className="num nowrap">{r.checked ? formatRate(r.value, r.metric) : '—'}</td>
              <td className="num nowrap">{formatSeconds(r.seconds)}</td>
              <td>{r.timing === 'timestamp' ? 'GPU timestamps' : 'wall clock'}</td>
              <td data-testid="bench-check">
                <b className={r.checked ? 'bench-ok' : 'bench-bad'}>{r.checked ? '✓ passed' : '✗ FAILED'}</b>: {r.check}
              </td>
            </tr>
          ))}
          {errors.map((s, i) => (
            <tr key={`skip|${s.name}|${s.size}|${i}`} data-testid="bench-row-error" className="bench-failed">
              <th scope="row">
                {kernelLabel(s.name)} <span className="muted small">({s.name})</span>
              </th>
              <td className="nowrap">{s.size}</td>
              <td colSpan={4}>not measured</td>
              <td>
                <b className="bench-bad">✗ error</b>: {s.reason}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Explanation() {
  return (
    <div className="bench-explain" data-testid="bench-explain">
      <h3>Reading the bars</h3>
      <p>
        <b>TFLOP/s and TOP/s</b> are trillions (10¹²) of operations per second (G is 10⁹, M 10⁶: the chart picks the prefix that fits).
        Multiplying two n×n matrices takes n³ multiply-adds, counted as 2n³ operations; floating-point ones are FLOPs, multiply-adds of integer codes are OPs. Each kernel runs for about 50 ms per pass, the
        median of 5 passes counts, timed by the GPU&apos;s own timestamps where the browser offers them.
      </p>
      <p>
        <b>Why INT4 runs on int8 lanes.</b> WGSL has no 4-bit type and no 4-bit instruction: the packed integer dot product{' '}
        <code>dot4I8Packed</code> multiplies four int8 pairs, and subgroup matrices offer i8×i8→i32 tiles. So the INT4 kernels read 8 codes
        per 32-bit word (half the bytes of INT8) but widen them to int8 before multiplying: INT4 here runs at about INT8 speed, not twice it.
      </p>
      <p>
        <b>Why not the paper&apos;s 2.2×.</b> Xi et al. measured INT4 against FP16 on an RTX 3090 with CUTLASS kernels on native 4-bit tensor
        cores (568 INT4 vs 142 FP16 peak TOP/s), at sizes of 4608 and up. The browser reaches neither 4-bit nor FP16 tensor cores; the bars here
        compare WGSL integer kernels against WGSL FP32 kernels on your GPU, driver and browser, so the ratio can be far above 2.2× (integer
        tensor cores against FP32 without them) or below 1× (no integer dot product, small sizes, a CPU implementation of WebGPU).
      </p>
      <p>
        <b>Tensor cores need a flag.</b> Chrome exposes subgroup matrices (<code>chromium-experimental-subgroup-matrix</code>, the only way
        WebGPU reaches tensor cores) only with <code>chrome://flags/#enable-unsafe-webgpu</code> (&quot;Unsafe WebGPU Support&quot;) turned on.
        Without it the integer bars use <code>dot4I8Packed</code> or plain integer arithmetic; the GPU line above says which paths this adapter
        offers.
      </p>
    </div>
  );
}

function Results({ state }: { state: BenchState }) {
  const chart = useMemo(() => benchChartData(state.rows), [state.rows]);
  const ratios = useMemo(() => speedups(state.rows), [state.rows]);
  const oom = failedSkips(state.skipped).filter((s) => /out of GPU memory/i.test(s.reason));
  return (
    <>
      {oom.length > 0 && (
        <div className="error" role="alert" data-testid="bench-oom">
          <b>Out of GPU memory:</b> {oom.map((s) => `${kernelLabel(s.name)} at ${s.size}`).join(', ')} did not fit. Choose a smaller size, or close
          other tabs that use the GPU (a training run in this page included) and run again.
        </div>
      )}
      <div className="job-layout">
        <div>
          <BenchmarkChart chart={chart} />
          {ratios.length > 0 && (
            <ul className="bench-ratios" data-testid="bench-ratios">
              {ratios.map((r) => (
                <li key={r.size}>
                  At {r.size}: INT8 {r.int8 ? `${ratio(r.int8.value, r.fp32)} (${r.int8.path})` : '—'}, INT4 {r.int4 ? `${ratio(r.int4.value, r.fp32)} (${r.int4.path})` : '—'} the
                  throughput of the FP32 forward layout ({formatRate(r.fp32, 'TFLOP/s')}).
                </li>
              ))}
            </ul>
          )}
          {chart.failed.length > 0 && (
            <p className="error" data-testid="bench-failed">
              Not drawn, their correctness check failed: {chart.failed.map((r) => `${kernelLabel(r.name)} ${r.size} (${r.path})`).join('; ')}.
            </p>
          )}
        </div>
        <Explanation />
      </div>
      <ResultsTable state={state} />
      {state.warnings.length > 0 && (
        <div className="error" data-testid="bench-warnings">
          WebGPU reported errors during the run; the results may be wrong:
          <ul>
            {state.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </div>
      )}
    </>
  );
}

function BenchmarkBody() {
  const [state, dispatch] = useReducer(benchReducer, INITIAL_BENCH_STATE);
  const [sizes, setSizes] = useState<number[]>([...DEFAULT_BENCH_SIZES]);
  const sizesId = useId();
  const job = useJobWorker<FromBenchWorker, ToBenchWorker>('benchmark', dispatch);

  const run = () => {
    const chosen = normalizeSizes(sizes);
    dispatch({ type: 'start', sizes: chosen });
    job.start(() => new Worker(new URL('../bench-worker.ts', import.meta.url), { type: 'module', name: 'benchmark' }), { type: 'run', sizes: chosen });
  };

  const cancel = () => {
    job.stop();
    dispatch({ type: 'cancel' });
  };

  const busy = isBusy(state);
  return (
    <div className="bench-body">
      <p>
        Runs the kernel benchmark of <code>npm run bench</code> on this GPU in its own worker: FP32 matrix products in the three layouts of a
        linear layer (forward X·Wᵀ, ∇X, ∇W) and the INT8 and INT4 integer products of the quantized layers, on every integer path the adapter
        offers. Each path is timed in its built-in kernel and in the generated tilings training picks from at start-up, and its row keeps the
        fastest (named under Path), so FP32 is measured at its best and not only against simple kernels. Every result is compared with a CPU
        computation before it is timed; a result that fails its check is listed, not drawn. A training run in this page shares the GPU and
        lowers the numbers.
      </p>
      <fieldset className="choices bench-sizes" disabled={busy}>
        <legend id={sizesId}>Sizes n (n×n by n×n products)</legend>
        {BENCH_SIZES.map((n) => (
          <label key={n} className="inline">
            <input
              type="checkbox"
              data-testid={`bench-size-${n}`}
              checked={sizes.includes(n)}
              onChange={(e) => setSizes(e.target.checked ? normalizeSizes([...sizes, n]) : sizes.filter((x) => x !== n))}
            />{' '}
            {n}
          </label>
        ))}
        <span className="hint">Larger sizes take longer: about 2n³ operations per product, and the CPU checks grow with n.</span>
      </fieldset>
      <div className="buttons">
        <button type="button" className="primary" data-testid="bench-run" onClick={run} disabled={busy || sizes.length === 0}>
          {state.phase === 'idle' ? 'Run benchmark' : 'Run again'}
        </button>
        <button type="button" data-testid="bench-cancel" onClick={cancel} disabled={!busy}>
          Cancel
        </button>
      </div>
      <StatusLine state={state} />
      {state.adapter && (
        <div className="detail" data-testid="bench-adapter">
          <b>GPU:</b> {state.adapter}
          <span className="muted">
            {' '}
            · integer paths: {state.intPaths.join(', ')} · timed by {state.timestamps ? 'GPU timestamps' : 'the wall clock (no timestamp-query)'}
          </span>
        </div>
      )}
      {state.error && (
        <div className="error" role="alert" data-testid="bench-error" data-kind={state.error.kind}>
          <b>{errorTitle(state.error.kind)}.</b> {state.error.message}
          {state.error.kind === 'unavailable' && (
            <> Use Chrome or Edge 113+ (on Linux start it with --enable-unsafe-webgpu --enable-features=Vulkan), Safari 26+ or Firefox 141+.</>
          )}
          {state.error.kind === 'out-of-memory' && <> Choose a smaller size, or close other tabs that use the GPU, and run again.</>}
        </div>
      )}
      {(state.rows.length > 0 || state.phase === 'done') && <Results state={state} />}
      {state.phase !== 'done' && state.rows.length === 0 && <Explanation />}
    </div>
  );
}

/** Collapsed until opened: nothing runs, and no worker starts, until Run is pressed; closing it keeps a
 *  run going. */
export function BenchmarkPanel() {
  return (
    <DisclosurePanel title="Benchmark your GPU: FP32 vs INT8 vs INT4 matmuls" testId="benchmark-panel" keepMounted>
      {() => <BenchmarkBody />}
    </DisclosurePanel>
  );
}
