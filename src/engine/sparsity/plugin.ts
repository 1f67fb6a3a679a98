// The trainer plugin of a sparse run (and of distillation): the recipes of the article on the GPU.
//
// Masks: one f32 buffer in the parameters' layout, 1 everywhere until a pruning writes the masks of the
// sparse layers' weights (the block linear layers that the run's scheme built, sparsity/schemes.ts). At the
// start of a sparse phase (before its first step, on the GPU, no readback): the mask keeps the `keep`
// largest |w| of every group of 4 among the weights still kept (3 for 25%, then 2 of those for 2:4), and
// the weights and both Adam moments are zeroed where it is 0. From then on, every step masks the
// gradients before the optimizer (so the gradient norm and the clipping see only the kept weights, and
// the moments of pruned weights stay 0) and the weights and moments after it (AdamW would leave a zero
// weight with zero moments at zero anyway; the pass makes it hold whatever the update does). So after
// the pruning and after every step, every group of 4 has at least 1 (25% phase) or 2 (2:4) zeros.
//
// Phases (sparsity/config.ts): the learning rate restarts its warmup and cosine decay at every phase
// ('restart': the retraining uses "the same optimizer and schedule" as the dense training; the moments
// are kept, masked) or follows the run's one schedule ('continue'). In 2:4 phases the layers whose
// product uses W as it is switch to the compressed kernel (forward.ts).
import { ConfigError, type RunConfig } from '../config';
import { type Dispatch, recordDispatches } from '../gpu/kernels';
import { writeTensor } from '../gpu/memory';
import { Tensor } from '../tensor';
import type { PluginContext, PluginSteps, TrainerPlugin } from '../train/plugin';
import { learningRateAt } from '../train/schedule';
import { type SparsityPhase, sparsityPhases } from './config';
import { distillDispatches, Teacher, type TeacherWeights, teacherError } from './distill';
import { setCompressedForward, Switchable, sparsityRegistry } from './forward';
import { applyMask, pruneMask } from './ops';

/** What a trainer may be given beyond its config. */
export interface TrainerExtras {
  /** The dense teacher of a distilled run (TrainConfig.distill). */
  teacher?: TeacherWeights | null;
}

/** The sparse run's state that tests and tools may read. */
export interface SparsityState {
  /** [totalFloats] f32 masks in the parameters' layout. */
  mask: Tensor;
  phases: SparsityPhase[];
  /** The phase the last step ran in (-1 before the first). */
  phase: number;
  /** Names of the masked weights. */
  layers: string[];
}

export function trainingPlugin(config: RunConfig, extras: TrainerExtras = {}): (TrainerPlugin & { state(): SparsityState | null }) | null {
  const t = config.train;
  const phases = sparsityPhases(t);
  const distill = t.distill ?? null;
  if (extras.teacher && !distill) throw new ConfigError('a teacher was given but the run does not distill (TrainConfig.distill is absent)');
  if (!phases.length && !distill) return null;
  if (distill) {
    if (!extras.teacher) throw new ConfigError('distillation needs the dense teacher run\'s weights (--teacher FILE.safetensors)');
    const err = teacherError(config.model, extras.teacher);
    if (err) throw new ConfigError(err);
  }
  let distilled: ReturnType<typeof distillDispatches> | null = null;
  let ctx: PluginContext | null = null;
  let mask: Tensor | null = null;
  let maskSwitches: Switchable[] = [];
  let prune: Map<number, Dispatch[]> = new Map();
  let applyAll: Dispatch[] = [];
  let layers: string[] = [];
  let phase = -1;
  let started = false;

  const phaseAt = (step: number) => {
    let i = 0;
    while (i + 1 < phases.length && phases[i + 1].start <= step) i++;
    return i;
  };

  /** Prunes to `keep` per group on the GPU, then zeroes the pruned weights and moments, and switches the
   *  per-step masking on and the forward to the compressed product at 2:4. */
  const enter = (p: SparsityPhase) => {
    if (!ctx || p.keep === 4) return;
    const k = ctx.kernels;
    const encoder = k.device.createCommandEncoder({ label: `sparsity.prune_${p.keep}` });
    const pass = encoder.beginComputePass({ label: `sparsity.prune_${p.keep}` });
    recordDispatches(pass, [...prune.get(p.keep)!, ...applyAll]);
    pass.end();
    k.device.queue.submit([encoder.finish()]);
    for (const s of maskSwitches) s.select(1);
    setCompressedForward(k, p.keep === 2);
  };

  const describePhases = () =>
    phases.map((p) => `${p.name} ${p.steps} step${p.steps === 1 ? '' : 's'}`).join(' → ');

  return {
    headBackward(k, h) {
      if (!distill) return { before: [], after: [] };
      const teacher = new Teacher(k, config.model, t.batchSize, extras.teacher!);
      distilled = distillDispatches(k, teacher, h, distill);
      return { before: distilled.before, after: distilled.after };
    },

    attach(c: PluginContext): PluginSteps {
      ctx = c;
      const k = c.kernels;
      const steps: PluginSteps = {};
      if (distilled) steps.beforeForward = distilled.beforeForward;
      if (!phases.length) return steps;
      const layout = c.model.layout;
      const registry = sparsityRegistry(k);
      if (!registry.layers.length) throw new Error('a sparse run built no sparse linear layers (is the scheme sparsity/schemes.ts?)');
      mask = k.memory.tensor([layout.totalFloats], 'sparsity.mask');
      writeTensor(k.device, mask, new Float32Array(layout.totalFloats).fill(1));
      const maskOf = (offset: number, shape: number[]) => new Tensor(mask!.buffer, shape, offset * 4, 'sparsity.mask.slice');
      prune = new Map();
      for (const keep of new Set(phases.map((p) => p.keep).filter((kk) => kk < 4))) {
        prune.set(keep, registry.layers.map((l) => {
          const slot = layout.slot(`${l.name}.weight`);
          if (slot.offset + slot.size > layout.decayEnd) throw new Error(`${l.name}.weight lies outside the decayed parameters the masks cover`);
          return pruneMask(k, { label: `${l.name}.prune_${keep}`, w: l.weight, mask: maskOf(slot.offset, [l.rows, l.cols]), rows: l.rows, cols: l.cols, keep });
        }));
      }
      layers = registry.layers.map((l) => `${l.name}.weight`);
      // Weights come first in the layout (decayed parameters): masking [0, decayEnd) covers every one.
      const n = layout.decayEnd;
      applyAll = [applyMask(k, 'sparsity.mask_params', mask, c.model.params, n), applyMask(k, 'sparsity.mask_m', mask, c.adam.m, n), applyMask(k, 'sparsity.mask_v', mask, c.adam.v, n)];
      // Off (no-ops) while dense: switched on by the first pruning.
      const gradSwitch = new Switchable(k, 'sparsity.mask_grads', [[], [applyMask(k, 'sparsity.mask_grads', mask, c.model.grads, n)]]);
      const afterSwitch = new Switchable(k, 'sparsity.mask_after_step', [[], applyAll]);
      maskSwitches = [gradSwitch, afterSwitch];
      steps.beforeOptimizer = gradSwitch.slots;
      steps.afterOptimizer = afterSwitch.slots;
      return steps;
    },

    learningRate(step) {
      if (!phases.length || (t.sparsitySchedule ?? 'restart') !== 'restart') return undefined;
      const p = phases[phaseAt(step)];
      return learningRateAt(step - p.start, { maxLr: t.lr, minLr: t.lr * t.minLrRatio, warmupSteps: t.warmupSteps, totalSteps: p.steps });
    },

    beforeStep(step) {
      if (!phases.length) return;
      const now = phaseAt(step);
      if (!started) {
        // The first step of this trainer: every phase that has begun by now (a restored run in a sparse
        // phase rebuilds its mask from the masked weights: the kept values are the non-zeros).
        started = true;
        for (let i = 0; i <= now; i++) enter(phases[i]);
      } else if (now !== phase && phases[now].start === step) {
        enter(phases[now]);
      }
      phase = now;
    },

    describe() {
      const parts: string[] = [];
      if (phases.length) parts.push(`2:4 sparsity, ${t.sparsity}: ${describePhases()}; learning rate ${(t.sparsitySchedule ?? 'restart') === 'restart' ? 'restarts each phase' : 'on one schedule'}`);
      if (t.sparseQat) parts.push('Sparse-QAT (INT8 fake quantization, 99.99% calibration, STE)');
      if (distill) parts.push(`distillation from a dense teacher (α ${distill.alpha}, T ${distill.temperature}, hidden MSE weight ${distill.hiddenWeight})`);
      return parts.join('; ');
    },

    state() {
      if (!mask) return null;
      return { mask, phases, phase, layers };
    },
  };
}
