// What a training recipe can add to the trainer's step without a trainer of its own (2:4 sparsity and
// distillation, src/engine/sparsity/plugin.ts): dispatches at fixed points of every step's command
// buffer, dispatches around the head's backward, a learning rate of its own, and work between steps.
import type { Dispatch, Kernels } from '../gpu/kernels';
import type { Model } from '../model/build';
import type { HeadBackwardTensors } from '../model/gpt';
import type { Tensor } from '../tensor';

/** What a plugin sees of the built trainer. */
export interface PluginContext {
  kernels: Kernels;
  model: Model;
  /** AdamW's moments, in the parameters' layout. */
  adam: { m: Tensor; v: Tensor };
}

/** Dispatches recorded into every training step, in this order: beforeForward, the forward, the loss,
 *  the backward (with headBackward's around the head), beforeOptimizer, the optimizer, afterOptimizer. */
export interface PluginSteps {
  beforeForward?: Dispatch[];
  beforeOptimizer?: Dispatch[];
  afterOptimizer?: Dispatch[];
}

export interface TrainerPlugin {
  /** Called while the model is built (GptBuildOptions.headBackward). */
  headBackward?(k: Kernels, h: HeadBackwardTensors): { before: Dispatch[]; after: Dispatch[] };
  /** Called once the model and the optimizer are built. */
  attach(c: PluginContext): PluginSteps;
  /** The learning rate of step `step` (0-based), replacing the run's schedule; undefined keeps it. */
  learningRate?(step: number): number | undefined;
  /** Called before step `step` is recorded (the first call may come with a restored step > 0); may
   *  submit GPU work of its own, which the queue runs before the step. */
  beforeStep?(step: number): void;
  /** One line for the user: what the plugin does to the run. */
  describe(): string;
}
