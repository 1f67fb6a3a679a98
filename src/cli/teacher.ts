// The --teacher of a distilled run (Sparse-QAT): read, checked against the student and the dataset before
// any GPU work, so a teacher of another architecture or config is one clear line and exit code 2.
import { existsSync, readFileSync } from 'node:fs';
import type { RunConfig } from '../engine/config';
import type { Dataset } from '../engine/data/dataset';
import { teacherError, type TeacherWeights } from '../engine/sparsity/distill';
import { checkCheckpointConsistent, runFromCheckpoint } from '../engine/train/run-checkpoint';
import { CliError, type CliOptions } from './args';

/** The teacher's weights, or null when the run does not distill; throws CliError on any problem. */
export function loadTeacher(o: Pick<CliOptions, 'teacherPath' | 'distillFlagsWithoutTeacher'>, config: RunConfig, dataset: Dataset): TeacherWeights | null {
  if (o.distillFlagsWithoutTeacher.length) throw new CliError(`${o.distillFlagsWithoutTeacher.join(', ')} set the distillation from a teacher: give --teacher FILE.safetensors too`);
  if (!o.teacherPath) {
    if (config.train.sparseQat) throw new CliError('--sparse-qat distills from the dense model: give --teacher FILE.safetensors (a dense run of the same model saved with --save)');
    return null;
  }
  if (!existsSync(o.teacherPath)) throw new CliError(`teacher checkpoint not found: ${o.teacherPath}`);
  const run = checkCheckpointConsistent(runFromCheckpoint(new Uint8Array(readFileSync(o.teacherPath)), o.teacherPath), o.teacherPath);
  if (run.tokenizer.chars.join('') !== dataset.tokenizer.toJSON().chars.join('')) {
    throw new CliError(`teacher ${o.teacherPath} was trained on a different character set than dataset ${config.dataset}; distill on the dataset it was trained on`);
  }
  const err = teacherError(config.model, run);
  if (err) throw new CliError(`teacher ${o.teacherPath}: ${err}`);
  return run;
}
