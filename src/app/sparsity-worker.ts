/// <reference lib="webworker" />
// The 2:4 sparsity lab's Web Worker: trains the lab's recipes (dense, one-shot, progressive, Sparse-QAT
// with distillation: ../shared/docs/sources.md §2) one after the other with the engine's
// sparsity/recipes-run.ts, on its own GPU device, apart from the training worker. One worker runs one
// lab: the page posts 'run'; this worker checks everything it can before any GPU work (the configs with
// the engine's validation, the dataset, the chosen teacher's checkpoint against the student), posts the
// plan, then per recipe its start, its loss of every step, its weights read back at the end (and when
// the page asks, 'snapshot') and its summary; then 'done' or 'error'. Cancel is the page terminating
// the worker.
import { ConfigError } from '../engine/config';
import { DatasetError, Rng } from '../engine/data';
import type { Dataset } from '../engine/data/dataset';
import { acquireGpu, describeGpu, type GpuContext, GpuUnavailableError } from '../engine/gpu/device';
import { type SparsityPhase, sparsityPhases } from '../engine/sparsity/config';
import { teacherError, type TeacherWeights } from '../engine/sparsity/distill';
import { type RecipeRun, runRecipes, sparseWeights } from '../engine/sparsity/recipes-run';
import { CheckpointError } from '../engine/train/checkpoint';
import { checkCheckpointConsistent, runFromCheckpoint } from '../engine/train/run-checkpoint';
import type { NamedTensor } from '../engine/train/trainer';
import { classifyError, type LabConfig, labProblems, labRunConfigs } from './sparsity-lab';
import type { FromSparsityWorker, LabErrorKind, ToSparsityWorker, WeightSnapshot } from './sparsity-messages';
import { loadBundledDataset, rememberTuningsInBrowser, yieldToEvents } from './worker-common';

rememberTuningsInBrowser();

declare const self: DedicatedWorkerGlobalScope;

/** Problems of a task solved greedily at the end of each recipe (synthetic tasks only). */
const TASK_PROBLEMS = 64;

function post(message: FromSparsityWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** An error that ends the lab with a kind the page shows. */
class LabError extends Error {
  constructor(readonly kind: LabErrorKind, message: string) {
    super(message);
  }
}

/** The teacher's weights from a finished run's checkpoint, checked against the student (the engine's
 *  teacherError: same architecture and config) and the dataset's characters. */
function loadTeacher(file: { label: string; bytes: Uint8Array }, runs: readonly RecipeRun[], dataset: Dataset): TeacherWeights {
  const source = `teacher run "${file.label}"`;
  let loaded;
  try {
    loaded = checkCheckpointConsistent(runFromCheckpoint(file.bytes, source), source);
  } catch (e) {
    throw new LabError('teacher', e instanceof CheckpointError ? e.message : `${source}: ${messageOf(e)}`);
  }
  if (loaded.tokenizer.chars.join('') !== dataset.tokenizer.toJSON().chars.join('')) {
    throw new LabError('teacher', `${source} was trained on a different character set than dataset ${dataset.name}; choose a run on ${dataset.name}, or the lab's own dense run`);
  }
  const err = teacherError(runs[0].config.model, loaded);
  if (err) throw new LabError('teacher', `${source}: ${err}`);
  return loaded;
}

/** The phase a run is in after `done` steps. */
function phaseName(phases: readonly SparsityPhase[], done: number): string {
  let name = 'dense';
  for (const p of phases) if (p.start <= done - 1) name = p.name;
  return name;
}

/** The sparse weights as a snapshot, copied (so their buffers can be transferred). */
function snapshotOf(run: RecipeRun, params: readonly NamedTensor[], step: number, final: boolean): { snapshot: WeightSnapshot; transfer: Transferable[] } {
  const layers = sparseWeights(params).map((p) => ({ name: p.name, rows: p.shape[0], cols: p.shape[1], data: p.data.slice() }));
  return {
    snapshot: { recipe: run.recipe, step, phase: phaseName(sparsityPhases(run.config.train), step), final, layers },
    transfer: layers.map((l) => l.data.buffer),
  };
}

let started = false;
let snapshotAsked = false;

async function run(config: LabConfig, baseUrl: string, teacherFile: { label: string; bytes: Uint8Array } | undefined): Promise<void> {
  // Everything that can be checked without a GPU, first.
  const problems = labProblems(config);
  if (problems.length) throw new LabError('config', problems.join('; '));
  let dataset: Dataset;
  try {
    dataset = await loadBundledDataset(config.dataset, baseUrl);
  } catch (e) {
    throw new LabError('dataset', messageOf(e));
  }
  let runs: RecipeRun[];
  try {
    runs = labRunConfigs(config, dataset.tokenizer.vocabSize);
    const m = runs[0].config.model;
    // A task that does not fit the context shows up here, before the model is built.
    dataset.trainBatch(new Rng(0), 1, m.contextLength);
    dataset.valBatches(1, 1, m.contextLength);
  } catch (e) {
    throw new LabError(e instanceof DatasetError ? 'dataset' : e instanceof ConfigError ? 'config' : 'failed', messageOf(e));
  }
  let teacher: TeacherWeights | null = null;
  const distills = runs.some((r) => r.config.train.distill);
  if (distills && config.teacher.kind === 'run') {
    if (!teacherFile) throw new LabError('teacher', `the teacher run "${config.teacher.label}" has no saved weights; choose another run, or the lab's own dense run`);
    teacher = loadTeacher(teacherFile, runs, dataset);
  }
  const m = runs[0].config.model;
  post({
    type: 'plan',
    recipes: runs.map((r) => ({ recipe: r.recipe, steps: r.config.train.steps, phases: sparsityPhases(r.config.train), precision: r.config.train.precision })),
    model: `${m.nLayer} layers, d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, context ${m.contextLength}, vocab ${m.vocabSize}`,
    dataset: dataset.name,
    teacher: !distills ? null : teacherFile && config.teacher.kind === 'run' ? `the finished run "${teacherFile.label}"` : "this lab's dense run",
  });

  let gpu: GpuContext;
  try {
    gpu = await acquireGpu(self.navigator.gpu, 'this browser');
  } catch (e) {
    throw new LabError(e instanceof GpuUnavailableError ? 'unavailable' : classifyError(messageOf(e)), messageOf(e));
  }
  let finished = false;
  let gpuFailure: string | null = null;
  gpu.device.lost.then((info) => {
    if (finished) return;
    finished = true;
    post({ type: 'error', kind: 'device-lost', message: `The GPU device was lost (${info.reason}): ${info.message || 'no reason given'}. Run the lab again.` });
    self.close();
  });
  gpu.device.addEventListener('uncapturederror', (event) => {
    gpuFailure ??= `WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`;
  });
  post({ type: 'adapter', description: describeGpu(gpu) });
  const start = performance.now();
  try {
    await runRecipes(gpu, runs, dataset, {
      teacher,
      taskProblems: dataset.task ? TASK_PROBLEMS : 0,
      hooks: {
        onStart: (r, trainer) => post({ type: 'recipe-start', recipe: r.recipe, kernelPath: trainer.kernelPath, description: trainer.recipe }),
        onMetrics: (r, records) => post({ type: 'metrics', recipe: r.recipe, points: records.map((x) => ({ step: x.step, loss: x.loss })) }),
        afterStep: async (r, trainer, done) => {
          if (gpuFailure) throw new Error(gpuFailure);
          // step() waits only when the GPU falls behind: yield so that a 'snapshot' request is seen.
          await yieldToEvents();
          if (!snapshotAsked) return;
          snapshotAsked = false;
          const s = snapshotOf(r, await trainer.exportParameters(), done, false);
          post({ type: 'weights', snapshot: s.snapshot }, s.transfer);
        },
        onResult: (result) => {
          const r = runs.find((x) => x.recipe === result.recipe)!;
          const s = snapshotOf(r, result.params, result.stepsDone, true);
          post({ type: 'weights', snapshot: s.snapshot }, s.transfer);
          const { params: _params, losses: _losses, phases: _phases, seed: _seed, ...summary } = result;
          post({ type: 'recipe-done', result: summary });
        },
      },
    });
    if (gpuFailure) throw new Error(gpuFailure);
    if (finished) return;
    finished = true;
    post({ type: 'done', seconds: (performance.now() - start) / 1000 });
  } catch (e) {
    if (finished) return;
    finished = true;
    // A ConfigError this late is the trainer refusing the teacher (plugin.ts) or a config the checks missed.
    const kind = e instanceof ConfigError ? (/teacher/i.test(messageOf(e)) ? 'teacher' : 'config') : classifyError(messageOf(e));
    throw new LabError(kind, messageOf(e));
  } finally {
    finished = true;
    gpu.device.destroy();
  }
}

self.onmessage = (event: MessageEvent<ToSparsityWorker>) => {
  const message = event.data;
  if (message?.type === 'snapshot') {
    snapshotAsked = true;
    return;
  }
  if (message?.type !== 'run' || started) return;
  started = true;
  run(message.config, message.baseUrl, message.teacher).catch((e: unknown) =>
    post({ type: 'error', kind: e instanceof LabError ? e.kind : classifyError(messageOf(e)), message: messageOf(e) }),
  );
};
