// What the encoder classifier and the encoder-decoder report in place of generated samples: the
// classifier's accuracy on the fixed validation examples next to the majority-class baseline, and the
// encoder-decoder's exact match of greedy translations, each with a few examples. Built by the worker
// from the engine's reports (train/inference.ts), kept with the run (runs.ts) and shown by SamplesPanel.
import type { ClassificationReport, TranslationReport } from '../engine/train/inference';

export interface ClassificationEvaluation {
  kind: 'classification';
  /** Steps trained when it was measured. */
  step: number;
  accuracy: number;
  correct: number;
  total: number;
  /** Always answering the most frequent class of the same examples. */
  baselineAccuracy: number;
  baselineClass: string;
  classes: string[];
  examples: { text: string; predicted: string; expected: string; correct: boolean }[];
}

export interface TranslationEvaluation {
  kind: 'translation';
  step: number;
  /** Share of the pairs whose greedy translation equals the target exactly. */
  exactMatch: number;
  correct: number;
  total: number;
  examples: { source: string; output: string; target: string; correct: boolean }[];
}

export type ArchEvaluation = ClassificationEvaluation | TranslationEvaluation;

/** The report with its first `shown` examples (the rest only count). */
export function classificationEvaluation(r: ClassificationReport, step: number, shown: number): ClassificationEvaluation {
  return {
    kind: 'classification',
    step,
    accuracy: r.accuracy,
    correct: r.correct,
    total: r.total,
    baselineAccuracy: r.baseline.accuracy,
    baselineClass: r.classes[r.baseline.label],
    classes: [...r.classes],
    examples: r.results.slice(0, shown).map((x) => ({ text: x.text, predicted: r.classes[x.predicted], expected: r.classes[x.label], correct: x.correct })),
  };
}

export function translationEvaluation(r: TranslationReport, step: number, shown: number): TranslationEvaluation {
  return {
    kind: 'translation',
    step,
    exactMatch: r.exactMatch,
    correct: r.correct,
    total: r.total,
    examples: r.results.slice(0, shown).map((x) => ({ source: x.source, output: x.output, target: x.target, correct: x.correct })),
  };
}

/** Validation pairs decoded for the exact match: four batches' worth (128 at the presets' batch of
 *  32), at least 16. Greedy decoding runs one forward per output position for each batch, so this is the
 *  slow part of the end of a run, and its cost grows with pairs / batch. */
export function exactMatchPairs(batchSize: number): number {
  return Math.max(16, 4 * batchSize);
}

/** One line of the result, e.g. "accuracy 91.0% (233/256); majority baseline 35.2% (always "b")". */
export function describeEvaluation(e: ArchEvaluation): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  if (e.kind === 'classification') return `accuracy ${pct(e.accuracy)} (${e.correct}/${e.total}); majority-class baseline ${pct(e.baselineAccuracy)} (always "${e.baselineClass}")`;
  return `exact match ${pct(e.exactMatch)} (${e.correct}/${e.total} greedy translations)`;
}
