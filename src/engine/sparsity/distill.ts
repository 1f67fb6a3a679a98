// Knowledge distillation from a dense teacher run (the article's Sparse-QAT: the dense model teaches the
// sparse INT8 one; MiniLM-style, only the last layer's output is matched). The teacher is the same GPT
// built in FP32 on the trainer's kernels with the teacher checkpoint's weights; every training step runs
// its forward on the step's batch first, then (shaders/distill.wgsl):
//   after the loss             ∇z ← (1 − α)·∇z(CE) + α·T·(softmax(z_s/T) − softmax(z_t/T))/count
//   after the head's backward  ∇h += 2β·(h_s − h_t)/(count·d_model)
// i.e. L = (1 − α)·CE + α·T²·KL(p_t ‖ p_s) + β·MSE(h_s, h_t) over the scored positions, h the final hidden
// state (ln_f's output, the input of lm_head). The validation loss stays the plain CE.
// Float64 twin: reference/sparsity.ts distillRef.
import type { DistillConfig, ModelConfig } from '../config';
import { type Dispatch, f32, grid1d, gridRows, type Kernels } from '../gpu/kernels';
import { writeTensor } from '../gpu/memory';
import { fp32Scheme } from '../linear/fp32';
import { Gpt, type HeadBackwardTensors } from '../model/gpt';
import type { Tensor } from '../tensor';
import { teacherMismatch } from './config';

export interface TeacherWeights {
  /** The teacher run's model config (its checkpoint's metadata). */
  model: ModelConfig;
  tensors: readonly { name: string; shape: readonly number[]; data: Float32Array }[];
}

/** Why a teacher cannot teach this student (ConfigError-worthy), or null. */
export function teacherError(student: ModelConfig, teacher: TeacherWeights): string | null {
  if (student.architecture !== 'decoder') return `distillation matches a GPT's final hidden states and next-token logits; this model is an ${student.architecture}`;
  const diffs = teacherMismatch(student, teacher.model);
  if (diffs.length) return `the teacher run has another model than the student: ${diffs.join(', ')}; distillation needs the same architecture and config (train the teacher with the same model flags)`;
  return null;
}

/** The teacher GPT in FP32, forward only, its parameters written once. */
export class Teacher {
  readonly model: Gpt;
  readonly hidden: Tensor;

  constructor(k: Kernels, config: ModelConfig, batchSize: number, weights: TeacherWeights) {
    const err = teacherError(config, weights);
    if (err) throw new Error(err);
    const t = (shape: number[], label: string) => k.memory.tensor(shape, `teacher.${label}`);
    const lossScale = t([1], 'loss_scale');
    writeTensor(k.device, lossScale, new Float32Array([1]));
    this.model = new Gpt(k, {
      config, batchSize, scheme: fp32Scheme, metrics: t([4], 'metrics'), valMetrics: t([2], 'val_metrics'),
      lossScale, stepState: t([2], 'step_state'), measure: null,
    });
    const byName = new Map(weights.tensors.map((w) => [w.name, w]));
    const all = new Float32Array(this.model.layout.totalFloats);
    for (const s of this.model.layout.slots) {
      const w = byName.get(s.spec.name);
      if (!w) throw new Error(`the teacher checkpoint has no tensor ${s.spec.name}`);
      if (w.shape.join(',') !== s.spec.shape.join(',')) throw new Error(`the teacher's ${s.spec.name} has shape [${w.shape}], the model needs [${s.spec.shape}]`);
      all.set(w.data, s.offset);
    }
    writeTensor(k.device, this.model.params, all);
    const hidden = this.model.activations.find((a) => a.name === 'ln_f');
    if (!hidden) throw new Error('the teacher model exposes no ln_f output');
    this.hidden = hidden.tensor;
  }
}

export interface DistillDispatches {
  /** The teacher's forward on the student's batch. */
  beforeForward: Dispatch[];
  /** After the loss: the KL term into ∇logits. */
  before: Dispatch[];
  /** After the head's backward: the MSE term into ∇hidden. */
  after: Dispatch[];
  /** [N]: KL of each scored position (p_t ‖ p_s at temperature T), this step's. */
  kl: Tensor;
}

export interface DistillLossTensors {
  /** [N, V] and the teacher's. */
  logits: Tensor;
  teacherLogits: Tensor;
  dLogits: Tensor;
  /** [N, C] final hidden states and the teacher's. */
  hidden: Tensor;
  teacherHidden: Tensor;
  dHidden: Tensor;
  /** u32 [N], IGNORE where not scored. */
  targets: Tensor;
  /** [1]: the loss scale. */
  lossScale: Tensor;
  N: number;
  V: number;
  C: number;
}

/** The two gradient updates of the distillation loss (with a count of the scored positions first). */
export function distillLossDispatches(k: Kernels, t: DistillLossTensors, d: DistillConfig): { before: Dispatch[]; after: Dispatch[]; kl: Tensor } {
  const { N, V, C } = t;
  for (const [x, n, what] of [[t.logits, N * V, 'logits'], [t.teacherLogits, N * V, 'teacher logits'], [t.dLogits, N * V, '∇logits'], [t.hidden, N * C, 'hidden'], [t.teacherHidden, N * C, 'teacher hidden'], [t.dHidden, N * C, '∇hidden'], [t.targets, N, 'targets']] as const) {
    if (x.size < n) throw new RangeError(`distillation: ${what} has ${x.size} values, needs ${n}`);
  }
  const count = k.memory.tensor([1], 'distill.scored');
  const kl = k.memory.tensor([N], 'distill.kl');
  const uniforms = (cols: number) => [N, cols, f32(d.alpha), f32(d.temperature), f32(d.hiddenWeight)];
  return {
    before: [
      // The loss kernel's count of scored positions, recomputed (it is internal to the model).
      k.dispatch({ shader: 'loss', entry: 'count_scored', label: 'distill.count', uniforms: [N, V, 0, 0], bindings: [t.targets, count], workgroups: [1, 1, 1] }),
      k.dispatch({ shader: 'distill', entry: 'kd_logits', label: 'distill.logits', uniforms: uniforms(V), bindings: [t.logits, t.teacherLogits, t.dLogits, t.targets, count, t.lossScale, kl], workgroups: gridRows(N) }),
    ],
    after: d.hiddenWeight > 0
      ? [k.dispatch({ shader: 'distill', entry: 'kd_hidden', label: 'distill.hidden', uniforms: uniforms(C), bindings: [t.hidden, t.teacherHidden, t.dHidden, t.targets, count, t.lossScale], workgroups: grid1d(N * C) })]
      : [],
    kl,
  };
}

export function distillDispatches(k: Kernels, teacher: Teacher, h: HeadBackwardTensors, d: DistillConfig): DistillDispatches {
  const N = teacher.model.B * teacher.model.T;
  if (teacher.model.logits.size !== h.logits.size || teacher.hidden.size !== h.hidden.size) {
    throw new Error('the teacher and the student disagree on the logits or hidden-state shapes');
  }
  const loss = distillLossDispatches(k, {
    logits: h.logits, teacherLogits: teacher.model.logits, dLogits: h.dLogits, hidden: h.hidden, teacherHidden: teacher.hidden, dHidden: h.dHidden,
    targets: h.targets, lossScale: h.lossScale, N, V: h.logits.size / N, C: h.hidden.size / N,
  }, d);
  return {
    beforeForward: [
      k.dispatch({ shader: 'distill', entry: 'copy_u32', label: 'distill.teacher_inputs', uniforms: [N, 0, f32(0), f32(1), f32(0)], bindings: [h.inputs, teacher.model.inputs], workgroups: grid1d(N) }),
      ...teacher.model.forward,
    ],
    ...loss,
  };
}
