// Messages between the 2:4 sparsity lab (components/SparsityLab.tsx) and its Web Worker
// (src/app/sparsity-worker.ts), which trains the lab's recipes with the engine's sparsity/recipes-run.ts
// on its own GPU device. One worker runs one lab: the page starts a worker per run and terminates it when
// the run ends or is cancelled.
import type { SparsityPhase } from '../engine/sparsity/config';
import type { LayerSparsity, RecipeResult, SparsityRecipeName } from '../engine/sparsity/recipes-run';
import type { LabConfig } from './sparsity-lab';

export type ToSparsityWorker =
  /** Train the lab. `baseUrl` is the page's base URL (bundled datasets are fetched relative to it).
   *  `teacher`: the checkpoint of a finished run chosen as Sparse-QAT's teacher (config.teacher.kind is
   *  'run'); absent, Sparse-QAT distills from this lab's dense run. */
  | { type: 'run'; config: LabConfig; baseUrl: string; teacher?: { label: string; bytes: Uint8Array } }
  /** Read the weights of the recipe in progress back now (after the step in flight) and post them. */
  | { type: 'snapshot' };

/** A recipe as it will run: its steps and phases (prune points), and its precision. */
export interface PlannedRecipe {
  recipe: SparsityRecipeName;
  steps: number;
  phases: SparsityPhase[];
  precision: string;
}

/** One step of a loss curve. */
export interface LossPoint {
  step: number;
  loss: number;
}

/** One sparse weight matrix as read back from the GPU: [rows, cols] = [out, in], row-major, so the
 *  groups of 4 run along a row (the reduction dimension of Y = X·Wᵀ). */
export interface WeightMatrix {
  name: string;
  rows: number;
  cols: number;
  data: Float32Array;
}

/** The sparse weights of a recipe after `step` steps, in the phase it was in. */
export interface WeightSnapshot {
  recipe: SparsityRecipeName;
  step: number;
  /** The phase's name (sparsity/config.ts: 'dense', '25% sparse (1 of 4)', '2:4 (50% sparse)'). */
  phase: string;
  /** Read at the end of the recipe (true) or when asked during it. */
  final: boolean;
  layers: WeightMatrix[];
}

/** What the summary shows of a finished recipe: the engine's RecipeResult without the seed, the phases,
 *  the per-step losses (sent as they come) and the weights. */
export type RecipeSummary = Omit<RecipeResult, 'seed' | 'phases' | 'losses' | 'params'>;

/** Why a lab could not run (or stopped): a config or teacher the user can fix, a dataset problem, no
 *  WebGPU, out of GPU memory, a lost device, or anything else. */
export type LabErrorKind = 'config' | 'teacher' | 'dataset' | 'unavailable' | 'out-of-memory' | 'device-lost' | 'failed';

export type FromSparsityWorker =
  /** The configs passed the engine's checks (and the teacher its own): what will run, before any GPU work. */
  | { type: 'plan'; recipes: PlannedRecipe[]; model: string; dataset: string; teacher: string | null }
  /** The device is ready (describeGpu). */
  | { type: 'adapter'; description: string }
  | { type: 'recipe-start'; recipe: SparsityRecipeName; kernelPath: string; description: string | null }
  | { type: 'metrics'; recipe: SparsityRecipeName; points: LossPoint[] }
  | { type: 'weights'; snapshot: WeightSnapshot }
  | { type: 'recipe-done'; result: RecipeSummary }
  | { type: 'done'; seconds: number }
  | { type: 'error'; kind: LabErrorKind; message: string };
