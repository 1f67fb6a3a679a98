import { type ArchEvaluation, type ClassificationEvaluation, describeEvaluation, type TranslationEvaluation } from '../arch-results';
import { architectureOf } from '../config';
import type { RunRecord } from '../runs';
import { detailRun, useAppStore } from '../store';
import { scoreTaskSample, scoreTaskSamples } from '../tasks';
import { Explain } from './Explain';

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Generated samples of the shown run; for a synthetic task, each marked right or wrong. For the
 *  encoder classifier, its accuracy against the majority baseline; for the encoder-decoder, the exact
 *  match of its greedy translations, each with examples. */
export function SamplesPanel() {
  const run = useAppStore((s) => detailRun(s));
  if (!run) return null;
  if (architectureOf(run.config) !== 'decoder') return <EvaluationPanel run={run} />;
  if (run.samples.length === 0) return null;
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

/** The classifier's or the encoder-decoder's result, latest first, with the earlier ones folded. */
function EvaluationPanel({ run }: { run: RunRecord }) {
  const evaluations = run.evaluations ?? [];
  if (evaluations.length === 0) return null;
  const latest = evaluations[evaluations.length - 1];
  const classifier = latest.kind === 'classification';
  return (
    <section className="panel" aria-labelledby="samples-heading" data-testid="samples-panel">
      <h2 id="samples-heading">
        {classifier ? 'Classification accuracy' : 'Translations: greedy decoding'} <small>(after step {latest.step})</small>
      </h2>
      {latest.kind === 'classification' ? <ClassificationResult e={latest} /> : <TranslationResult e={latest} />}
      {evaluations.length > 1 && (
        <details>
          <summary>Earlier measurements</summary>
          <ul className="arch-history" data-testid="evaluation-history">
            {evaluations.slice(0, -1).map((e: ArchEvaluation) => (
              <li key={e.step}>
                step {e.step}: {describeEvaluation(e)}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

function ClassificationResult({ e }: { e: ClassificationEvaluation }) {
  const margin = e.accuracy - e.baselineAccuracy;
  return (
    <>
      <p className="arch-score">
        Accuracy <b data-testid="classification-accuracy" data-value={e.accuracy}>{percent(e.accuracy)}</b> ({e.correct} of {e.total} validation
        examples) against the majority-class baseline{' '}
        <b data-testid="majority-baseline" data-value={e.baselineAccuracy}>
          {percent(e.baselineAccuracy)}
        </b>{' '}
        (always answering “{e.baselineClass}”):{' '}
        <span data-testid="baseline-margin" className={margin > 0 ? 'correct' : 'wrong'}>
          {margin > 0 ? `${(margin * 100).toFixed(1)} points better` : margin < 0 ? `${(-margin * 100).toFixed(1)} points worse` : 'no better'}
        </span>
        .
      </p>
      {e.examples.length > 0 && (
        <ol className="samples" data-testid="classified-examples">
          {e.examples.map((x, i) => (
            <li key={i} className={x.correct ? 'correct' : 'wrong'}>
              <code>{x.text}</code> → {x.predicted}
              <span className="verdict"> {x.correct ? '✓ correct' : `✗ expected ${x.expected}`}</span>
            </li>
          ))}
        </ol>
      )}
      <Explain title="How the classifier decides, and why the baseline">
        The encoder reads the whole text at once: its self-attention has no causal mask, so every position sees every other (the padding after the text is masked as a key). A [CLS] token is put
        before the text, and the class is read from that token’s final hidden state through a full-precision head (the fine-tuning setting of the
        INT4 paper: BERT-like, [CLS] pooling). Accuracy only means something next to what a model gets without reading the text: always answering
        the most frequent class of the same examples. A model at the baseline has learned the class frequencies and nothing else.
      </Explain>
    </>
  );
}

function TranslationResult({ e }: { e: TranslationEvaluation }) {
  return (
    <>
      <p className="arch-score">
        Exact match <b data-testid="exact-match" data-value={e.exactMatch}>{percent(e.exactMatch)}</b>: {e.correct} of {e.total} validation sources
        are translated exactly, decoding greedily.
      </p>
      {e.examples.length > 0 && (
        <table className="arch-examples" data-testid="decoded-examples">
          <thead>
            <tr>
              <th scope="col">source</th>
              <th scope="col">model output</th>
              <th scope="col">expected</th>
              <th scope="col" aria-label="verdict" />
            </tr>
          </thead>
          <tbody>
            {e.examples.map((x, i) => (
              <tr key={i} className={x.correct ? 'correct' : 'wrong'} data-correct={x.correct}>
                <td>
                  <code>{x.source}</code>
                </td>
                <td>
                  <code>{x.output || '(empty)'}</code>
                </td>
                <td>
                  <code>{x.target}</code>
                </td>
                <td className="verdict">{x.correct ? '✓' : '✗'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Explain title="Teacher forcing in training, greedy decoding here">
        In training the decoder reads the correct target shifted right (a start token first) and learns to predict each next character: teacher
        forcing, one forward pass for the whole target. Here nothing is given: the encoder reads the source, the decoder starts from the start token
        and appends its own most likely character each step until it writes the end token. One wrong character early sends it off the path it
        was trained on, which is why exact match lags behind the training loss; cross-attention is where the decoder looks up the source.
      </Explain>
    </>
  );
}
