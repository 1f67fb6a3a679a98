// `npm run train -- …`: trains a GPT in Node on the same engine the browser runs, through Dawn.
// Exit codes: 0 done, 2 bad input (one-line message), 1 anything else (e.g. no GPU adapter).
import { existsSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { type RunConfig, validateRunConfig } from '../engine/config';
import { Rng } from '../engine/data';
import { describeGpu } from '../engine/gpu/device';
import { acquireNodeGpu } from '../engine/gpu/node';
import { DispatchProfiler, type DispatchTime, summarizeProfile } from '../engine/gpu/profiler';
import { snapshotRecord } from '../engine/train/measurements';
import { checkCheckpointConsistent, checkpointFromRun, runFromCheckpoint } from '../engine/train/run-checkpoint';
import { type StepMetrics, Trainer } from '../engine/train/trainer';
import { CliError, helpText, parseTrainArgs } from './args';
import { checkDatasetFits, loadDataset, modelConfig, runMain } from './common';

const PROFILE_DAWN_FLAGS = ['enable-dawn-features=allow_unsafe_apis', 'disable-dawn-features=timestamp_quantization'];
/** Kernels listed by --profile (all of them go to --metrics). */
const PROFILE_ROWS = 30;

class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  constructor(private readonly total: number, private readonly quiet: boolean) {}

  update(m: StepMetrics): void {
    if (this.quiet) return;
    const eta = m.tokensPerSecond > 0 && m.step > 0 ? (m.elapsedSeconds / m.step) * (this.total - m.step) : 0;
    const text = `step ${m.step}/${this.total}  loss ${m.loss.toFixed(4)}  lr ${m.lr.toExponential(2)}  ${Math.round(m.tokensPerSecond)} tok/s  ETA ${formatSeconds(eta)}`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round((m.step / this.total) * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
    } else {
      process.stderr.write(`${text}\n`);
    }
  }

  done(): void {
    if (!this.quiet && this.tty) process.stderr.write('\n');
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

async function main(argv: string[]): Promise<number> {
  const o = parseTrainArgs(argv);
  if (o.help) {
    process.stdout.write(helpText() + '\n');
    return 0;
  }
  const dataset = await loadDataset(o.dataset);
  let checkpoint: ReturnType<typeof runFromCheckpoint> | null = null;
  if (o.loadPath) {
    if (!existsSync(o.loadPath)) throw new CliError(`checkpoint not found: ${o.loadPath}`);
    checkpoint = checkCheckpointConsistent(runFromCheckpoint(new Uint8Array(readFileSync(o.loadPath)), o.loadPath), o.loadPath);
    if (checkpoint.tokenizer.chars.join('') !== dataset.tokenizer.toJSON().chars.join('')) {
      throw new CliError(`checkpoint ${o.loadPath} was trained on a different character set than dataset ${o.dataset}; use the dataset it was trained on`);
    }
  }
  const config: RunConfig = validateRunConfig({ model: modelConfig(o, dataset, checkpoint?.model ?? null), train: o.train, dataset: o.dataset });
  checkDatasetFits(dataset, config.model.contextLength);
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(`${s}\n`);
  };
  if (o.profileSteps > config.train.steps) throw new CliError(`--profile ${o.profileSteps} is more than the ${config.train.steps} training steps; it times the last N steps of the run`);
  // Dawn rounds timestamps to ~65 µs unless told not to; that toggle sits behind allow_unsafe_apis.
  const gpu = await acquireNodeGpu(o.profileSteps > 0 ? PROFILE_DAWN_FLAGS : []);
  log(`GPU: ${describeGpu(gpu)}`);
  const trainer = await Trainer.create(gpu, config, dataset);
  const m = config.model;
  log(`model: ${m.nLayer} layers, d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, context ${m.contextLength}, vocab ${m.vocabSize}; ${trainer.parameterCount.toLocaleString('en')} parameters; ${config.train.precision} (${trainer.kernelPath}); GPU memory ${(trainer.memory.bytes / 2 ** 20).toFixed(1)} MiB`);
  log(`data: ${dataset.name}, batch ${config.train.batchSize} × ${m.contextLength} tokens, ${config.train.steps} steps, seed ${config.train.seed}`);
  if (checkpoint) {
    trainer.importParameters(checkpoint.tensors);
    log(`loaded ${o.loadPath}`);
  }
  if (o.metricsPath) writeFileSync(o.metricsPath, '');
  const writeRecord = (r: object) => {
    if (o.metricsPath) appendFileSync(o.metricsPath, JSON.stringify(r) + '\n');
  };
  const progress = new Progress(config.train.steps, o.quiet);
  let lastTrainLoss = NaN;
  let diverged: StepMetrics | null = null;
  trainer.onMetrics((records) => {
    for (const r of records) {
      const scaling = trainer.usesLossScaling ? { loss_scale: r.lossScale, skipped: r.skipped } : {};
      writeRecord({ step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, ...scaling, tokens_per_s: r.tokensPerSecond, elapsed_s: r.elapsedSeconds });
      lastTrainLoss = r.loss;
      if (!Number.isFinite(r.loss)) diverged ??= r;
    }
    progress.update(records[records.length - 1]);
  });
  trainer.onMeasurements((snapshot) => writeRecord(snapshotRecord(snapshot)));
  const start = performance.now();
  const profiler = o.profileSteps > 0 ? new DispatchProfiler(gpu.device) : null;
  const profiled: DispatchTime[][] = [];
  for (let s = 0; s < config.train.steps; s++) {
    if (profiler && s >= config.train.steps - o.profileSteps) profiled.push(await trainer.profileStep(profiler));
    else await trainer.step();
    if (diverged) {
      // The trainer's numerics guard says where it happened (NonFiniteError); wait for its report.
      await trainer.flush();
      const d = diverged as StepMetrics;
      throw new Error(`training diverged: the loss became ${d.loss} at step ${d.step}; lower --lr or keep --grad-clip on`);
    }
    if (o.evalEvery > 0 && trainer.stepsDone % o.evalEvery === 0 && trainer.stepsDone < config.train.steps) {
      const valLoss = await trainer.evaluate();
      writeRecord({ step: trainer.stepsDone, val_loss: valLoss });
    }
  }
  await trainer.flush();
  progress.done();
  const trainSeconds = (performance.now() - start) / 1000;
  const valLoss = await trainer.evaluate();
  const tokensPerSecond = config.train.steps > 0 ? (config.train.steps * trainer.tokensPerStep) / trainSeconds : 0;
  const final = {
    final: true,
    step: trainer.stepsDone,
    val_loss: valLoss,
    train_loss: lastTrainLoss,
    tokens_per_s: tokensPerSecond,
    elapsed_s: trainSeconds,
    parameters: trainer.parameterCount,
    precision: config.train.precision,
  };
  writeRecord(final);
  if (profiled.length) {
    const { groups, stepSeconds } = summarizeProfile(profiled);
    writeRecord({ type: 'profile', steps: profiled.length, step_gpu_s: stepSeconds, kernels: groups.map((g) => ({ kernel: g.group, dispatches: g.count, seconds: g.seconds })) });
    const rows = groups.slice(0, PROFILE_ROWS).map((g) => `  ${(g.seconds * 1e3).toFixed(3).padStart(9)} ms  ${((g.seconds / stepSeconds) * 100).toFixed(1).padStart(5)}%  ×${String(g.count).padEnd(4)} ${g.group}`);
    const dispatches = groups.reduce((a, g) => a + g.count, 0);
    process.stdout.write(`profile: ${dispatches} dispatches, ${(stepSeconds * 1e3).toFixed(2)} ms of GPU time per step (median of ${profiled.length} steps; ${groups.length} kernels, largest first)\n${rows.join('\n')}\n`);
  }
  const trained = config.train.steps > 0 ? `  train_loss ${lastTrainLoss.toFixed(4)}  ${Math.round(tokensPerSecond)} tok/s  ${trainSeconds.toFixed(1)} s` : '';
  process.stdout.write(`val_loss ${valLoss.toFixed(4)}${trained}\n`);
  if (o.savePath) {
    writeFileSync(o.savePath, checkpointFromRun(config, dataset, await trainer.exportParameters(), trainer.stepsDone));
    log(`saved ${o.savePath}`);
  }
  if (o.samples > 0 && dataset.task) {
    // A task: answer problems of its validation distribution greedily and score them.
    const { accuracy, results } = await trainer.solveTasks(o.samples, new Rng(config.train.seed).fork('sample'));
    process.stdout.write(`task accuracy ${(accuracy * 100).toFixed(1)}% (${results.filter((r) => r.correct).length}/${results.length}, exact match)\n`);
    process.stdout.write(results.map((r) => `  ${JSON.stringify(r.prompt)} → ${JSON.stringify(r.output)}${r.correct ? '' : ` (expected ${JSON.stringify(r.answer)})`}`).join('\n') + '\n');
  } else if (o.samples > 0) {
    const samples = await trainer.sample(o.samples, new Rng(config.train.seed).fork('sample'));
    process.stdout.write(samples.map((s) => `  ${JSON.stringify(s)}`).join('\n') + '\n');
  }
  trainer.destroy();
  return 0;
}

runMain(() => main(process.argv.slice(2)));
