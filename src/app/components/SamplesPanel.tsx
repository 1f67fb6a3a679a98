import { scoreTaskSample, scoreTaskSamples } from '../tasks';
import { detailRun, useAppStore } from '../store';

/** Generated samples of the shown run; for a synthetic task, each marked right or wrong. */
export function SamplesPanel() {
  const run = useAppStore((s) => detailRun(s));
  if (!run || run.samples.length === 0) return null;
  const latest = run.samples[run.samples.length - 1];
  const score = scoreTaskSamples(run.config.dataset, latest.samples);
  return (
    <section className="panel" aria-labelledby="samples-heading" data-testid="samples-panel">
      <h2 id="samples-heading">
        Generated samples <small>(after step {latest.step})</small>
      </h2>
      {score && (
        <p data-testid="task-score">
          {score.correct} of {latest.samples.length} generated problems are solved correctly
          {score.malformed > 0 && `, ${score.malformed} are not well-formed`}. The model writes the prompt itself, starting from the separator, and
          the answer is checked against that prompt.
        </p>
      )}
      <ol className="samples" data-testid="samples">
        {latest.samples.map((s, i) => {
          const verdict = scoreTaskSample(run.config.dataset, s);
          return (
            <li key={i} className={verdict ?? undefined}>
              <code>{s || '(empty)'}</code>
              {verdict && <span className="verdict"> {verdict === 'correct' ? '✓ correct' : verdict === 'wrong' ? '✗ wrong' : '(malformed)'}</span>}
            </li>
          );
        })}
      </ol>
      {run.samples.length > 1 && (
        <details>
          <summary>Earlier samples</summary>
          {run.samples.slice(0, -1).map((set) => {
            const earlier = scoreTaskSamples(run.config.dataset, set.samples);
            return (
              <p key={set.step}>
                step {set.step}
                {earlier && ` (${earlier.correct} of ${set.samples.length} correct)`}: <code>{set.samples.join(' · ')}</code>
              </p>
            );
          })}
        </details>
      )}
    </section>
  );
}
