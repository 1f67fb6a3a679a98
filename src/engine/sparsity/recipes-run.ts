// The article's comparison of sparse training recipes (../shared/docs/sources.md §2) as one reusable
// piece: the same model, data, seed and step budget trained once per recipe
//   dense        the whole budget dense (and, by default, the teacher of Sparse-QAT)
//   oneshot      dense, prune to 2:4, retrain with the mask fixed
//   progressive  dense, prune to 25%, fine-tune, 2:4 of the remaining, fine-tune
//   sparse-qat   progressive + INT8 fake quantization (99.99% calibration, STE) + distillation from a
//                dense teacher (the dense run of the same seed, or given)
// with what every view of a run needs afterwards: the loss of every step, the phases (where the prunings
// happen), the final validation loss, and the share of zeros and the 2:4 check of every sparse weight
// matrix. Used by `npm run experiment -- sparsity` (src/cli/sparsity-experiment.ts) and the page's 2:4
// sparsity lab (src/app/sparsity-worker.ts). No Node or DOM APIs: the caller brings the GPU and dataset.
import { ConfigError, type DistillConfig, type ModelConfig, type RunConfig, type TrainConfig, validateRunConfig } from '../config';
import type { Dataset } from '../data/dataset';
import { Rng } from '../data/rng';
import type { GpuContext } from '../gpu/device';
import { groupViolations } from '../reference/sparsity';
import { type NamedTensor, type StepMetrics, Trainer } from '../train/trainer';
import { type SparsityPhase, sparsityPhases } from './config';
import type { TeacherWeights } from './distill';
import { compressedForwardOn } from './forward';

export const SPARSITY_RECIPES = ['dense', 'oneshot', 'progressive', 'sparse-qat'] as const;
export type SparsityRecipeName = (typeof SPARSITY_RECIPES)[number];

/** The weights the sparse recipes mask: every block linear layer (sparsity/schemes.ts registers them),
 *  not the embeddings nor lm_head. */
export const SPARSE_WEIGHT = /^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

export interface RecipeOptions {
  /** Phase lengths of oneshot [dense, 2:4] and progressive [dense, 25%, 2:4] (fractions or step
   *  counts, sparsity/config.ts resolvePhases); absent: the defaults. */
  oneshotPhases?: number[];
  progressivePhases?: number[];
  /** Sparse-QAT's distillation. */
  distill: DistillConfig;
}

/** The train config of one recipe on a shared base (the base's own sparsity and distillation dropped). */
export function recipeTrainConfig(recipe: SparsityRecipeName, base: TrainConfig, o: RecipeOptions): TrainConfig {
  const plain: TrainConfig = { ...base, sparsity: undefined, sparsityPhases: undefined, sparseQat: undefined, distill: undefined };
  switch (recipe) {
    case 'dense':
      // The learning-rate rule between phases (sparsitySchedule) means nothing without phases.
      return { ...plain, sparsitySchedule: undefined };
    case 'oneshot':
      return { ...plain, sparsity: 'oneshot', sparsityPhases: o.oneshotPhases };
    case 'progressive':
      return { ...plain, sparsity: 'progressive', sparsityPhases: o.progressivePhases };
    case 'sparse-qat':
      return { ...plain, sparsity: 'progressive', sparsityPhases: o.progressivePhases, sparseQat: true, distill: o.distill };
  }
}

/** The recipes in the comparison's order (dense, oneshot, progressive, sparse-qat), without repeats;
 *  dense is added when sparse-qat must distill from this comparison's own dense run. */
export function orderRecipes(recipes: readonly SparsityRecipeName[], teacherGiven = false): SparsityRecipeName[] {
  const bad = recipes.filter((r) => !(SPARSITY_RECIPES as readonly string[]).includes(r));
  if (bad.length) throw new ConfigError(`unknown sparsity recipe ${bad.map((b) => JSON.stringify(b)).join(', ')}; choose from ${SPARSITY_RECIPES.join(', ')}`);
  const out = new Set(recipes);
  if (out.has('sparse-qat') && !teacherGiven) out.add('dense');
  return SPARSITY_RECIPES.filter((r) => out.has(r));
}

export interface RecipeRun {
  recipe: SparsityRecipeName;
  seed: number;
  config: RunConfig;
}

/** One run per seed and recipe (seeds outer), every config validated (ConfigError, the engine's
 *  message) before any GPU work. `recipes` in the order they run (orderRecipes). */
export function planRecipeRuns(model: ModelConfig, base: TrainConfig, dataset: string, recipes: readonly SparsityRecipeName[], seeds: readonly number[], o: RecipeOptions): RecipeRun[] {
  const runs: RecipeRun[] = [];
  for (const seed of seeds) {
    for (const recipe of recipes) {
      runs.push({ recipe, seed, config: validateRunConfig({ model, train: { ...recipeTrainConfig(recipe, base, o), seed }, dataset }) });
    }
  }
  return runs;
}

/** Share of zeros and the 2:4 check of one sparse weight matrix ([out, in]: groups of 4 along a row,
 *  the reduction dimension of Y = X·Wᵀ). */
export interface LayerSparsity {
  name: string;
  rows: number;
  cols: number;
  zeros: number;
  /** zeros / (rows·cols). */
  share: number;
  /** Groups of 4 with fewer than 2 zeros (0 for a 2:4 matrix). */
  groupsViolating: number;
}

/** The sparse weight matrices of exported parameters, in their order. */
export function sparseWeights(params: readonly NamedTensor[]): NamedTensor[] {
  return params.filter((p) => SPARSE_WEIGHT.test(p.name));
}

export function layerSparsity(params: readonly NamedTensor[]): LayerSparsity[] {
  return sparseWeights(params).map((p) => {
    const [rows, cols] = p.shape;
    let zeros = 0;
    for (const v of p.data) if (v === 0) zeros++;
    return { name: p.name, rows, cols, zeros, share: p.data.length ? zeros / p.data.length : 0, groupsViolating: cols % 4 === 0 ? groupViolations(p.data, rows, cols, 2) : rows * Math.ceil(cols / 4) };
  });
}

export interface RecipeResult {
  recipe: SparsityRecipeName;
  seed: number;
  stepsDone: number;
  valLoss: number;
  /** The last step's training loss (NaN if none). */
  trainLoss: number;
  /** Training time (steps and the final flush, not the evaluation). */
  seconds: number;
  tokensPerSecond: number;
  /** Zeros among all sparse weights. */
  zeroShare: number;
  /** Groups of 4 with < 2 zeros, all sparse weights. */
  groupsViolating: number;
  layers: LayerSparsity[];
  /** Whether the 2:4 layers ran the compressed product at the end (null: the run has none). */
  compressedForward: boolean | null;
  kernelPath: string;
  recipeDescription: string | null;
  phases: SparsityPhase[];
  losses: number[];
  /** Greedy accuracy on the task's problems, when the dataset is a task and asked for. */
  accuracy: number | null;
  /** The final weights (a dense run's teach Sparse-QAT from them). */
  params: NamedTensor[];
}

export interface RecipeHooks {
  /** The trainer is built; training starts next. */
  onStart?(run: RecipeRun, trainer: Trainer): void;
  onMetrics?(run: RecipeRun, records: StepMetrics[]): void;
  /** After every step (`stepsDone` steps submitted): a chance to yield to events or read the weights
   *  back (a caller that must stop early terminates its worker or process). */
  afterStep?(run: RecipeRun, trainer: Trainer, stepsDone: number): Promise<void> | void;
  /** The recipe is trained and evaluated; the trainer is destroyed after this returns. */
  onResult?(result: RecipeResult, trainer: Trainer): Promise<void> | void;
}

export interface RecipeRunOptions {
  hooks?: RecipeHooks;
  /** Problems to solve greedily at the end when the dataset is a task (0 or absent: none). */
  taskProblems?: number;
}

/** Trains, evaluates and measures one recipe. `teacher` is needed exactly when the run distills. */
export async function runRecipe(gpu: GpuContext, run: RecipeRun, dataset: Dataset, teacher: TeacherWeights | null, options: RecipeRunOptions = {}): Promise<RecipeResult> {
  const { config } = run;
  const hooks = options.hooks ?? {};
  const trainer = await Trainer.create(gpu, config, dataset, config.train.distill ? { teacher } : {});
  try {
    const steps: StepMetrics[] = [];
    trainer.onMetrics((m) => {
      steps.push(...m);
      hooks.onMetrics?.(run, m);
    });
    hooks.onStart?.(run, trainer);
    const start = performance.now();
    for (let s = 0; s < config.train.steps; s++) {
      await trainer.step();
      await hooks.afterStep?.(run, trainer, s + 1);
    }
    await trainer.flush();
    const seconds = (performance.now() - start) / 1000;
    const stepsDone = trainer.stepsDone;
    const valLoss = await trainer.evaluate();
    const params = await trainer.exportParameters();
    const layers = layerSparsity(params);
    const values = layers.reduce((a, l) => a + l.rows * l.cols, 0);
    const zeros = layers.reduce((a, l) => a + l.zeros, 0);
    let accuracy: number | null = null;
    if (options.taskProblems && dataset.task) accuracy = (await trainer.solveTasks(options.taskProblems, new Rng(run.seed).fork('sparsity-lab:accuracy'))).accuracy;
    const result: RecipeResult = {
      recipe: run.recipe,
      seed: run.seed,
      stepsDone,
      valLoss,
      trainLoss: steps[steps.length - 1]?.loss ?? NaN,
      seconds,
      tokensPerSecond: (stepsDone * trainer.tokensPerStep) / seconds,
      zeroShare: values ? zeros / values : 0,
      groupsViolating: layers.reduce((a, l) => a + l.groupsViolating, 0),
      layers,
      compressedForward: compressedForwardOn(trainer.kernels),
      kernelPath: trainer.kernelPath,
      recipeDescription: trainer.recipe,
      phases: sparsityPhases(config.train),
      losses: steps.map((m) => m.loss),
      accuracy,
      params,
    };
    await hooks.onResult?.(result, trainer);
    return result;
  } finally {
    trainer.destroy();
  }
}

/** The runs in order; a run that distills learns from `teacher` when one is given, else from the dense
 *  run of the same seed before it (orderRecipes puts it there). */
export async function runRecipes(gpu: GpuContext, runs: readonly RecipeRun[], dataset: Dataset, options: RecipeRunOptions & { teacher?: TeacherWeights | null } = {}): Promise<RecipeResult[]> {
  const results: RecipeResult[] = [];
  const denseOf = new Map<number, TeacherWeights>();
  for (const run of runs) {
    let teacher: TeacherWeights | null = null;
    if (run.config.train.distill) {
      teacher = options.teacher ?? denseOf.get(run.seed) ?? null;
      if (!teacher) throw new ConfigError(`${run.recipe} distills from a dense teacher: run dense with seed ${run.seed} before it, or give a finished dense run of the same model`);
    }
    const result = await runRecipe(gpu, run, dataset, teacher, options);
    results.push(result);
    if (run.recipe === 'dense') denseOf.set(run.seed, { model: run.config.model, tensors: result.params });
  }
  return results;
}
