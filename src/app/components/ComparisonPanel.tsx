import { useShallow } from 'zustand/react/shallow';
import { COMPARISON_CHOICES, type ComparisonChoice, configDifferences, describePrecision } from '../config';
import { comparisonRows } from '../runs';
import { useAppStore } from '../store';
import { formatSeconds } from './RunControls';
import { Explain } from './Explain';
import { useShown } from './hooks';

const CHOICE_LABELS: Record<ComparisonChoice, string> = {
  fp32: 'FP32',
  fp16: 'FP16',
  int8: 'INT8',
  int4: 'INT4 (HQ + LSS)',
  'int4:bitsplit': 'INT4 (HQ + bit split, all rows)',
  'int4-lsq-luq': 'INT4 LSQ + LUQ',
  'int4-minmax': 'INT4 min-max',
};

/** One action trains the same config and seed in several precisions, one after the other, and sums
 *  them up: final validation loss, gap to FP32, speed and memory, and how the configs differ. */
export function ComparisonPanel() {
  const shown = useShown('compare');
  const { compare, setCompare, runComparison, busy, gpuReady, config, runs, groupId } = useAppStore(
    useShallow((s) => ({ compare: s.compare, setCompare: s.setCompare, runComparison: s.runComparison, busy: s.busy, gpuReady: s.gpu.status === 'ready', config: s.config, runs: s.runs, groupId: s.comparisonGroupId })),
  );
  if (!shown) return null;
  const group = groupId ? runs.filter((r) => r.groupId === groupId) : [];
  const rows = comparisonRows(group);
  const base = group[0];
  return (
    <section className="panel" aria-labelledby="compare-heading" data-testid="comparison">
      <h2 id="compare-heading">Compare precisions</h2>
      <fieldset className="choices">
        <legend>Train the current config and seed ({config.dataset}, {config.preset}, {config.steps} steps, seed {config.seed}) in:</legend>
        {COMPARISON_CHOICES.map((c) => (
          <label key={c} className="inline">
            <input
              type="checkbox"
              checked={compare.includes(c)}
              disabled={busy}
              onChange={(e) => setCompare(e.target.checked ? COMPARISON_CHOICES.filter((x) => x === c || compare.includes(x)) : compare.filter((x) => x !== c))}
            />{' '}
            {CHOICE_LABELS[c]}
          </label>
        ))}
      </fieldset>
      <button type="button" className="primary" onClick={runComparison} disabled={busy || !gpuReady || compare.length === 0}>
        Run comparison ({compare.length} runs)
      </button>
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="summary" data-testid="comparison-table">
            <caption>
              Comparison of {rows.length} runs{base ? ` on ${base.config.dataset}, ${base.config.preset}, seed ${base.config.seed}` : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">Precision</th>
                <th scope="col">Status</th>
                <th scope="col">Final val loss</th>
                <th scope="col">Gap to FP32</th>
                <th scope="col">Tokens/s</th>
                <th scope="col">GPU memory</th>
                <th scope="col">Differs from the first run in</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => {
                const run = group[i];
                const diffs = i === 0 ? [] : configDifferences(group[0].config, run.config);
                return (
                  <tr key={r.id} data-precision={r.precision}>
                    <th scope="row" title={describePrecision(run.config)}>
                      {r.precision}
                    </th>
                    <td>{r.status}</td>
                    <td data-testid="val-loss">{r.valLoss !== null ? r.valLoss.toFixed(4) : '—'}</td>
                    <td>{r.gapPercent !== null ? `${r.gapPercent >= 0 ? '+' : ''}${r.gapPercent.toFixed(2)}%` : '—'}</td>
                    <td>{r.tokensPerSecond !== null ? Math.round(r.tokensPerSecond).toLocaleString('en') : '—'}</td>
                    <td>{r.memoryBytes !== null ? `${(r.memoryBytes / 2 ** 20).toFixed(1)} MiB` : '—'}</td>
                    <td className="small">{i === 0 ? '(reference)' : diffs.length ? diffs.join('; ') : 'nothing'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <Explain title="Reading the comparison">
            Every run uses the same data order, initial weights and random draws; only the number formats of the linear layers differ. The gap is
            (val loss − FP32&apos;s) / FP32&apos;s. On a handful of steps it is small and noisy: run a few hundred steps to see the formats separate.
            Tokens/s on a software adapter says little about real GPUs, where the INT4 path&apos;s speed depends on the integer-product hardware the
            kernel path line names.
          </Explain>
          <p className="muted small">
            Memory is what the engine allocated on the GPU for the run (weights, optimizer state, activations and quantizer scratch). Training time per run:{' '}
            {group.map((g) => `${g.config.precision} ${formatSeconds(g.result?.seconds)}`).join(', ')}.
          </p>
        </div>
      )}
    </section>
  );
}

