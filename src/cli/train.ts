// `npm run train -- …`: trains a GPT in Node on the same engine the browser runs, through Dawn.
// Exit codes: 0 done, 2 bad input (one-line message), 1 anything else (e.g. no GPU adapter).
import { existsSync, readFileSync, writeFileSync, appendFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ModelConfig, modelConfigFromPreset, type RunConfig, validateRunConfig } from '../engine/config';
import { DatasetError, Rng } from '../engine/data';
import { type Dataset } from '../engine/data/dataset';
import { openDataset, BUNDLED_TEXT_FILES } from '../engine/data/open';
import { describeGpu } from '../engine/gpu/device';
import { acquireNodeGpu } from '../engine/gpu/node';
import { CheckpointError } from '../engine/train/checkpoint';
import { checkpointFromRun, runFromCheckpoint } from '../engine/train/run-checkpoint';
import { type StepMetrics, Trainer } from '../engine/train/trainer';
import { CliError, helpText, parseTrainArgs, type CliOptions } from './args';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: dist-node/ (bundled) or src/cli/ (sources) sit below it. */
const root = [resolve(here, '..'), resolve(here, '../..')].find((d) => existsSync(resolve(d, 'public/datasets'))) ?? process.cwd();

async function loadDataset(name: string): Promise<Dataset> {
  return openDataset(name, async (spec) => {
    const path = spec.bundled ? resolve(root, 'public', BUNDLED_TEXT_FILES[spec.name]) : resolve(spec.name);
    if (!existsSync(path)) throw new DatasetError(`dataset file not found: ${path} (give a bundled name such as names, reverse, sort, addmod, or an existing text file)`);
    if (statSync(path).isDirectory()) throw new DatasetError(`dataset path ${path} is a directory; give a text file`);
    return readFileSync(path, 'utf8');
  });
}

function modelConfig(o: CliOptions, dataset: Dataset, fromCheckpoint: ModelConfig | null): ModelConfig {
  const base = fromCheckpoint ?? modelConfigFromPreset(o.preset, dataset.tokenizer.vocabSize);
  return { ...base, ...o.modelOverrides };
}

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
    checkpoint = runFromCheckpoint(new Uint8Array(readFileSync(o.loadPath)), o.loadPath);
    if (checkpoint.tokenizer.chars.join('') !== dataset.tokenizer.toJSON().chars.join('')) {
      throw new CliError(`checkpoint ${o.loadPath} was trained on a different character set than dataset ${o.dataset}; use the dataset it was trained on`);
    }
  }
  const config: RunConfig = validateRunConfig({ model: modelConfig(o, dataset, checkpoint?.model ?? null), train: o.train, dataset: o.dataset });
  // Surface dataset problems (a task that does not fit the context, a corpus too short) before
  // acquiring the GPU and building the model.
  dataset.trainBatch(new Rng(0), 1, config.model.contextLength);
  dataset.valBatches(1, 1, config.model.contextLength);
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(`${s}\n`);
  };
  const gpu = await acquireNodeGpu();
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
      writeRecord({ step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_s: r.tokensPerSecond, elapsed_s: r.elapsedSeconds });
      lastTrainLoss = r.loss;
      if (!Number.isFinite(r.loss)) diverged ??= r;
    }
    progress.update(records[records.length - 1]);
  });
  const start = performance.now();
  for (let s = 0; s < config.train.steps; s++) {
    await trainer.step();
    if (diverged) {
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
  const trained = config.train.steps > 0 ? `  train_loss ${lastTrainLoss.toFixed(4)}  ${Math.round(tokensPerSecond)} tok/s  ${trainSeconds.toFixed(1)} s` : '';
  process.stdout.write(`val_loss ${valLoss.toFixed(4)}${trained}\n`);
  if (o.savePath) {
    writeFileSync(o.savePath, checkpointFromRun(config, dataset, await trainer.exportParameters(), trainer.stepsDone));
    log(`saved ${o.savePath}`);
  }
  if (o.samples > 0) {
    const samples = await trainer.sample(o.samples, new Rng(config.train.seed).fork('sample'));
    process.stdout.write(samples.map((s) => `  ${JSON.stringify(s)}`).join('\n') + '\n');
  }
  trainer.destroy();
  return 0;
}

function isUserError(e: unknown): boolean {
  return e instanceof CliError || e instanceof ConfigError || e instanceof DatasetError || e instanceof CheckpointError;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    // A progress bar may own the terminal's current line: start the message on a fresh one.
    process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}error: ${msg.split('\n')[0]}\n`);
    process.exit(isUserError(e) ? 2 : 1);
  },
);
