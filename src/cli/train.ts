// `npm run train -- …`: trains a GPT in Node on the same engine the browser runs, through Dawn.
// Exit codes: 0 done, 2 bad input (one-line message), 1 anything else (e.g. no GPU adapter).
import { existsSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { type RunConfig, validateRunConfig } from '../engine/config';
import { estimateRunMemory, formatBytes } from '../engine/limits';
import { Rng } from '../engine/data';
import { describeGpu } from '../engine/gpu/device';
import { acquireNodeGpu, DAWN_EXPERIMENTAL_FLAGS, DAWN_TIMING_FLAGS } from '../engine/gpu/node';
import { setTuningStore } from '../engine/train/startup-tuning';
import { fileTuningStore } from './tuning-cache';
import { DispatchProfiler, type DispatchTime, summarizeProfile } from '../engine/gpu/profiler';
import { snapshotRecord } from '../engine/train/measurements';
import { detectLossSpikes } from '../engine/train/spikes';
import { checkCheckpointConsistent, checkpointFromRun, runFromCheckpoint } from '../engine/train/run-checkpoint';
import { type DeviceLossEvent, TrainingSession } from '../engine/train/session';
import type { StepMetrics } from '../engine/train/trainer';
import { CliError, helpText, parseTrainArgs } from './args';
import { architectureOf, checkDatasetFits, loadDataset, modelConfig, runMain } from './common';
import { loadTeacher } from './teacher';

/** Kernels listed by --profile (all of them go to --metrics). */
const PROFILE_ROWS = 30;
/** Test-only: destroy the GPU device once after this many steps, to exercise the recovery from a lost
 *  device end to end (cli.test.ts). Not a flag: nobody should want it in a real run. */
const LOSE_DEVICE_AT = Number(process.env.PLAYGROUND_TEST_LOSE_DEVICE_AT ?? 0);

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

/** WebGPU's default per-buffer limits: what every adapter offers (a page that asks for nothing more
 *  gets these). */
const DEFAULT_BUFFER_LIMITS = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 };

/** --memory: what Trainer.create would allocate for this config (engine/limits.ts, tested against real
 *  builds), by buffer group, without a GPU. */
function memoryReport(config: RunConfig): string {
  const e = estimateRunMemory(config);
  const groups = new Map<string, number>();
  for (const b of e.buffers) {
    // Per-layer buffers ("transformer.h.3.attn.c_attn.partials") are summed over the layers.
    const key = b.label.replace(/\.h\.\d+\./, '.h.*.');
    groups.set(key, (groups.get(key) ?? 0) + b.bytes * b.count);
  }
  const rows = [...groups].sort((a, b) => b[1] - a[1]);
  const shown = rows.slice(0, 20);
  const rest = rows.slice(20).reduce((a, [, v]) => a + v, 0);
  const m = config.model;
  const t = config.train;
  const largestBinding = Math.max(0, ...e.buffers.filter((b) => b.storage).map((b) => b.bytes));
  const fitsDefaults = e.largest.bytes <= DEFAULT_BUFFER_LIMITS.maxBufferSize && largestBinding <= DEFAULT_BUFFER_LIMITS.maxStorageBufferBindingSize;
  return [
    `GPU memory of ${t.precision} ${m.architecture}: ${m.nLayer} layers, d_model ${m.dModel}, d_ff ${m.dFF}, context ${m.contextLength}, batch ${t.batchSize}`,
    `total ${formatBytes(e.totalBytes)} in ${e.buffers.reduce((a, b) => a + b.count, 0)} buffers; largest ${formatBytes(e.largest.bytes)} (${e.largest.label})`,
    fitsDefaults
      ? 'every buffer fits WebGPU\'s default limits (256 MiB per buffer, 128 MiB per storage binding): any adapter takes it if it has the memory'
      : `over WebGPU's default limits (256 MiB per buffer, 128 MiB per storage binding; largest storage binding here ${formatBytes(largestBinding)}): it needs an adapter that offers more, as desktop GPUs usually do (Trainer.create checks the adapter's own limits)`,
    '',
    ...shown.map(([label, bytes]) => `  ${formatBytes(bytes).padStart(11)}  ${label}`),
    ...(rest > 0 ? [`  ${formatBytes(rest).padStart(11)}  (${rows.length - shown.length} smaller groups)`] : []),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const o = parseTrainArgs(argv);
  if (o.help) {
    process.stdout.write(helpText() + '\n');
    return 0;
  }
  let checkpoint: ReturnType<typeof runFromCheckpoint> | null = null;
  if (o.loadPath) {
    if (!existsSync(o.loadPath)) throw new CliError(`checkpoint not found: ${o.loadPath}`);
    checkpoint = checkCheckpointConsistent(runFromCheckpoint(new Uint8Array(readFileSync(o.loadPath)), o.loadPath), o.loadPath);
  }
  // The architecture (--arch, or the checkpoint's) decides what kind of dataset the name opens.
  const dataset = await loadDataset(o.dataset, architectureOf(o, checkpoint?.model ?? null));
  if (checkpoint) {
    if (checkpoint.tokenizer.chars.join('') !== dataset.tokenizer.toJSON().chars.join('')) {
      throw new CliError(`checkpoint ${o.loadPath} was trained on a different character set than dataset ${o.dataset}; use the dataset it was trained on`);
    }
  }
  const config: RunConfig = validateRunConfig({ model: modelConfig(o, dataset, checkpoint?.model ?? null), train: o.train, dataset: o.dataset });
  checkDatasetFits(dataset, config.model.contextLength, config.model.sourceLength);
  if (o.memoryOnly) {
    process.stdout.write(memoryReport(config) + '\n');
    return 0;
  }
  const teacher = loadTeacher(o, config, dataset);
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(`${s}\n`);
  };
  if (o.profileSteps > config.train.steps) throw new CliError(`--profile ${o.profileSteps} is more than the ${config.train.steps} training steps; it times the last N steps of the run`);
  // --profile needs exact timestamps (DAWN_TIMING_FLAGS, which include the experimental features).
  // Without allow_unsafe_apis Dawn offers no subgroup matrices, and a CLI run on an H100 multiplied INT4
  // codes on dot4I8Packed (70 TOP/s) where the bench's runs used tensor cores (280 TOP/s).
  if (o.profileSteps > 0 && !o.experimentalFeatures) throw new CliError('--profile needs Dawn\'s allow_unsafe_apis (for exact timestamps): leave --experimental-features on');
  const dawnFlags = o.profileSteps > 0 ? DAWN_TIMING_FLAGS : o.experimentalFeatures ? DAWN_EXPERIMENTAL_FLAGS : [];
  if (o.tuningCachePath) setTuningStore(fileTuningStore(o.tuningCachePath));
  const gpu = await acquireNodeGpu(dawnFlags);
  log(`GPU: ${describeGpu(gpu)}`);
  // A lost device is replaced by a new one with the same toggles, and the run goes on from its last
  // in-memory checkpoint (--checkpoint-every).
  const buildStarted = performance.now();
  const session = await TrainingSession.start(() => acquireNodeGpu(dawnFlags), config, dataset, { initialParameters: checkpoint?.tensors, extras: { teacher } }, gpu);
  const startupSeconds = (performance.now() - buildStarted) / 1000;
  const trainer = session.current;
  const m = config.model;
  log(`model: ${m.architecture}, ${m.nLayer} layers, d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, context ${m.contextLength}${m.sourceLength ? `, source ${m.sourceLength}` : ''}${m.numClasses ? `, ${m.numClasses} classes` : ''}, vocab ${m.vocabSize}; ${trainer.parameterCount.toLocaleString('en')} parameters; ${config.train.precision} (${trainer.kernelPath}); GPU memory ${(trainer.memory.bytes / 2 ** 20).toFixed(1)} MiB; built in ${startupSeconds.toFixed(1)} s (start-up tuning included)`);
  log(`data: ${dataset.name}, batch ${config.train.batchSize} × ${m.contextLength} tokens, ${config.train.steps} steps, seed ${config.train.seed}`);
  if (checkpoint) log(`loaded ${o.loadPath}`);
  if (trainer.recipe) log(`recipe: ${trainer.recipe}`);
  if (o.metricsPath) writeFileSync(o.metricsPath, '');
  const writeRecord = (r: object) => {
    if (o.metricsPath) appendFileSync(o.metricsPath, JSON.stringify(r) + '\n');
  };
  const progress = new Progress(config.train.steps, o.quiet);
  let lastTrainLoss = NaN;
  // Every step's training loss, for the loss-spike report at the end (a rewind drops the later steps).
  const losses = new Map<number, number>();
  session.onMetrics((records) => {
    for (const r of records) {
      losses.set(r.step, r.loss);
      const scaling = session.current.usesLossScaling ? { loss_scale: r.lossScale, skipped: r.skipped } : {};
      writeRecord({ step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, ...scaling, tokens_per_s: r.tokensPerSecond, elapsed_s: r.elapsedSeconds });
      lastTrainLoss = r.loss;
    }
    progress.update(records[records.length - 1]);
  });
  session.onMeasurements((snapshot) => writeRecord(snapshotRecord(snapshot)));
  const start = performance.now();
  let profiler = o.profileSteps > 0 ? new DispatchProfiler(gpu.device) : null;
  let profiled: { step: number; times: DispatchTime[] }[] = [];
  let lost: DeviceLossEvent | null = null;
  session.onDeviceLost((e) => {
    lost = e;
  });
  session.onRewind((e) => {
    // The steps after the checkpoint run again: their records leave the metrics file, which keeps one
    // record per step.
    if (o.metricsPath) truncateMetrics(o.metricsPath, e.step);
    for (const step of [...losses.keys()]) if (step > e.step) losses.delete(step);
    profiled = profiled.filter((p) => p.step <= e.step);
    if (profiler) profiler = new DispatchProfiler(session.current.gpu.device);
    const l = lost as DeviceLossEvent | null;
    if (e.cause === 'device-lost' && l) {
      // Always shown, --quiet or not: the run took longer than it should have, and this is why.
      process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}notice: the GPU device was lost at step ${l.lostAtStep} (${l.reason}${l.detail ? `: ${l.detail}` : ''}); resumed on a new device from ${e.step > 0 ? `the checkpoint at step ${e.step}` : 'the start (no checkpoint yet)'}\n`);
    }
  });
  const steps = config.train.steps;
  let deviceDestroyed = false;
  let valLoss: number | null = null;
  // Train to the end, then evaluate; a recovery (during a step, the flush or the evaluation) puts the
  // run back at its checkpoint, and the loop trains on from there.
  for (;;) {
    while (session.stepsDone < steps) {
      const s = session.stepsDone;
      if (profiler && s >= steps - o.profileSteps) {
        const p = profiler;
        const times = await session.guard((t) => t.profileStep(p));
        if (times) profiled.push({ step: s + 1, times });
      } else await session.step();
      if (LOSE_DEVICE_AT > 0 && !deviceDestroyed && session.stepsDone === LOSE_DEVICE_AT) {
        deviceDestroyed = true;
        session.current.gpu.device.destroy();
      }
      const done = session.stepsDone;
      if (o.evalEvery > 0 && done % o.evalEvery === 0 && done < steps) {
        const v = await session.guard((t) => t.evaluate());
        if (v !== null) writeRecord({ step: done, val_loss: v });
      }
    }
    await session.flush();
    if (session.stepsDone < steps) continue;
    valLoss = await session.guard((t) => t.evaluate());
    if (valLoss !== null) break;
  }
  progress.done();
  const ended = session.current;
  const trainSeconds = (performance.now() - start) / 1000;
  const tokensPerSecond = config.train.steps > 0 ? (config.train.steps * ended.tokensPerStep) / trainSeconds : 0;
  // Sudden jumps of the training loss above its recent trend (engine/train/spikes.ts, the rule the
  // page's loss chart marks with).
  const spikes = detectLossSpikes([...losses].sort((a, b) => a[0] - b[0]).map(([step, loss]) => ({ step, loss })));
  const final = {
    final: true,
    step: ended.stepsDone,
    val_loss: valLoss,
    train_loss: lastTrainLoss,
    loss_spikes: spikes.map((x) => ({ step: x.step, loss: x.loss, expected: x.expected, peak_step: x.peakStep, peak_loss: x.peakLoss, end_step: x.endStep })),
    tokens_per_s: tokensPerSecond,
    elapsed_s: trainSeconds,
    parameters: ended.parameterCount,
    precision: config.train.precision,
  };
  writeRecord(final);
  if (profiled.length) {
    const { groups, stepSeconds } = summarizeProfile(profiled.map((p) => p.times));
    writeRecord({ type: 'profile', steps: profiled.length, step_gpu_s: stepSeconds, kernels: groups.map((g) => ({ kernel: g.group, dispatches: g.count, seconds: g.seconds })) });
    const rows = groups.slice(0, PROFILE_ROWS).map((g) => `  ${(g.seconds * 1e3).toFixed(3).padStart(9)} ms  ${((g.seconds / stepSeconds) * 100).toFixed(1).padStart(5)}%  ×${String(g.count).padEnd(4)} ${g.group}`);
    const dispatches = groups.reduce((a, g) => a + g.count, 0);
    process.stdout.write(`profile: ${dispatches} dispatches, ${(stepSeconds * 1e3).toFixed(2)} ms of GPU time per step (median of ${profiled.length} steps; ${groups.length} kernels, largest first)\n${rows.join('\n')}\n`);
  }
  const trained = config.train.steps > 0 ? `  train_loss ${lastTrainLoss.toFixed(4)}  ${Math.round(tokensPerSecond)} tok/s  ${trainSeconds.toFixed(1)} s` : '';
  process.stdout.write(`val_loss ${valLoss.toFixed(4)}${trained}\n`);
  if (config.train.steps > 0) {
    const listed = spikes.slice(0, 5).map((x) => `step ${x.step}: ${x.loss.toFixed(3)} vs trend ${Number.isFinite(x.expected) ? x.expected.toFixed(3) : '—'}`);
    process.stdout.write(`loss spikes: ${spikes.length === 0 ? 'none' : `${spikes.length} (${listed.join('; ')}${spikes.length > 5 ? '; …' : ''})`}\n`);
  }
  if (o.savePath) {
    writeFileSync(o.savePath, checkpointFromRun(config, dataset, await ended.exportParameters(), ended.stepsDone));
    log(`saved ${o.savePath}`);
  }
  if (config.model.architecture === 'encoder') {
    // The classifier: accuracy on the fixed validation examples against always answering the majority class.
    const r = await ended.classify();
    writeRecord({ type: 'classification', accuracy: r.accuracy, correct: r.correct, total: r.total, majority_baseline: r.baseline.accuracy, majority_class: r.classes[r.baseline.label] });
    process.stdout.write(`accuracy ${(r.accuracy * 100).toFixed(1)}% (${r.correct}/${r.total} validation examples); majority-class baseline ${(r.baseline.accuracy * 100).toFixed(1)}% (always "${r.classes[r.baseline.label]}")\n`);
    if (o.samples > 0) process.stdout.write(r.results.slice(0, o.samples).map((x) => `  ${JSON.stringify(x.text)} → ${r.classes[x.predicted]}${x.correct ? '' : ` (expected ${r.classes[x.label]})`}`).join('\n') + '\n');
  } else if (config.model.architecture === 'encoder-decoder') {
    // The encoder-decoder: greedy decoding of validation pairs, exact match.
    const r = await ended.translationAccuracy(config.train.valBatches * config.train.batchSize, new Rng(config.train.seed).fork('exact-match'));
    writeRecord({ type: 'translation', exact_match: r.exactMatch, correct: r.correct, total: r.total });
    process.stdout.write(`exact match ${(r.exactMatch * 100).toFixed(1)}% (${r.correct}/${r.total} greedy translations)\n`);
    if (o.samples > 0) process.stdout.write(r.results.slice(0, o.samples).map((x) => `  ${JSON.stringify(x.source)} → ${JSON.stringify(x.output)}${x.correct ? '' : ` (expected ${JSON.stringify(x.target)})`}`).join('\n') + '\n');
  } else if (o.samples > 0 && dataset.task) {
    // A task: answer problems of its validation distribution greedily and score them.
    const { accuracy, results } = await ended.solveTasks(o.samples, new Rng(config.train.seed).fork('sample'));
    process.stdout.write(`task accuracy ${(accuracy * 100).toFixed(1)}% (${results.filter((r) => r.correct).length}/${results.length}, exact match)\n`);
    process.stdout.write(results.map((r) => `  ${JSON.stringify(r.prompt)} → ${JSON.stringify(r.output)}${r.correct ? '' : ` (expected ${JSON.stringify(r.answer)})`}`).join('\n') + '\n');
  } else if (o.samples > 0) {
    const samples = await ended.sample(o.samples, new Rng(config.train.seed).fork('sample'));
    process.stdout.write(samples.map((s) => `  ${JSON.stringify(s)}`).join('\n') + '\n');
  }
  session.destroy();
  return 0;
}

/** Drops the records of steps after `step` from a JSON Lines metrics file (every record has a step). */
function truncateMetrics(path: string, step: number): void {
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      if (line.trim() === '') return false;
      const r = JSON.parse(line) as { step?: unknown };
      return !(typeof r.step === 'number' && r.step > step);
    });
  writeFileSync(path, kept.map((l) => `${l}\n`).join(''));
}

runMain(() => main(process.argv.slice(2)));
