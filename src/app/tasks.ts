// Scoring generated samples of the synthetic tasks. For a task the worker asks the trainer to answer
// problems of the task's validation distribution (Trainer.solveTasks) and sends each as prompt +
// answer ("abc>cba"), so the answer can be checked against its prompt here.
import type { DatasetChoice } from './config';

export type SampleVerdict = 'correct' | 'wrong' | 'malformed';

const ADDMOD_MODULUS = 97;

export function scoreTaskSample(dataset: DatasetChoice, sample: string): SampleVerdict | null {
  switch (dataset) {
    case 'reverse': {
      const m = /^([a-z]+)>([a-z]*)$/.exec(sample);
      if (!m) return 'malformed';
      return [...m[1]].reverse().join('') === m[2] ? 'correct' : 'wrong';
    }
    case 'sort': {
      const m = /^([0-9]+)>([0-9]*)$/.exec(sample);
      if (!m) return 'malformed';
      return [...m[1]].sort().join('') === m[2] ? 'correct' : 'wrong';
    }
    case 'addmod': {
      const m = /^(\d+)\+(\d+)=(\d+)$/.exec(sample);
      if (!m) return 'malformed';
      const a = Number(m[1]), b = Number(m[2]);
      if (a >= ADDMOD_MODULUS || b >= ADDMOD_MODULUS) return 'malformed';
      return (a + b) % ADDMOD_MODULUS === Number(m[3]) && String(Number(m[3])) === m[3] ? 'correct' : 'wrong';
    }
    default:
      return null;
  }
}

export interface TaskScore {
  correct: number;
  wrong: number;
  malformed: number;
}

/** The GPT's tasks, whose samples are scored here (the other architectures' results are measured by the
 *  worker: arch-results.ts). */
const SCORED_TASKS: readonly DatasetChoice[] = ['reverse', 'sort', 'addmod'];

export function scoreTaskSamples(dataset: DatasetChoice, samples: readonly string[]): TaskScore | null {
  if (!SCORED_TASKS.includes(dataset)) return null;
  const score: TaskScore = { correct: 0, wrong: 0, malformed: 0 };
  for (const s of samples) {
    const v = scoreTaskSample(dataset, s);
    if (v) score[v]++;
  }
  return score;
}
