// `npm run experiment -- precision-sweep [train flags] --precisions fp32,fp16,int4 [--out FILE.json]`
// Trains the same config and seed once per precision and prints a table: final validation loss, its
// gap to fp32, throughput and GPU memory. A quantized entry may carry modifiers after ':': a backward
// quantizer (`int4:bitsplit` is INT4 with the official code's keep-every-row bit split instead of
// sampling), `auto` (the per-layer Hadamard block search), `b16` (a fixed largest block) or `q0.01`
// (the step sizes' learning rate as a fraction of lr). With
// `--seeds 1,2,3` every entry runs once per seed and the table shows the mean and spread.
import { writeFileSync } from 'node:fs';
import { BACKWARD_QUANTIZERS, type BackwardQuantizer, type Precision, PRECISIONS, QUANTIZED_PRECISIONS, type RunConfig, type TrainConfig, validateRunConfig } from '../engine/config';
import type { LinearLayerStats, MeasurementSnapshot } from '../engine/train/measurements';
import { describeGpu } from '../engine/gpu/device';
import { acquireNodeGpu } from '../engine/gpu/node';
import { type StepMetrics, Trainer } from '../engine/train/trainer';
import { CliError, helpText, parseTrainArgs } from './args';
import { scalingExperiment } from './scaling-experiment';
import { sparsityExperiment } from './sparsity-experiment';
import { Rng } from '../engine/data/rng';
import { architectureOf, checkDatasetFits, loadDataset, modelConfig, runMain } from './common';

const EXPERIMENTS = ['precision-sweep', 'sparsity', 'scaling-sweep'] as const;

interface SweepEntry {
  label: string;
  precision: Precision;
  /** Overrides of the run's training config. */
  overrides: Partial<TrainConfig>;
}

function parseEntries(list: string): SweepEntry[] {
  return list.split(',').map((raw) => {
    const [precision, ...modifiers] = raw.trim().split(':');
    if (!(PRECISIONS as readonly string[]).includes(precision)) {
      throw new CliError(`--precisions: unknown precision "${precision}"; choose from ${PRECISIONS.join(', ')}`);
    }
    if (modifiers.length && !QUANTIZED_PRECISIONS[precision as Precision]) {
      throw new CliError(`--precisions: "${raw}": only ${Object.keys(QUANTIZED_PRECISIONS).join(', ')} take modifiers after ':'`);
    }
    const overrides: Partial<TrainConfig> = {};
    for (const m of modifiers) {
      if ((BACKWARD_QUANTIZERS as readonly string[]).includes(m)) overrides.backwardQuantizer = m as BackwardQuantizer;
      else if (m === 'auto') overrides.hadamardSearch = true;
      else if (/^b\d+$/.test(m)) Object.assign(overrides, { hadamardBlock: Number(m.slice(1)), hadamardSearch: false });
      else if (/^q[0-9.e-]+$/.test(m) && Number.isFinite(Number(m.slice(1)))) overrides.quantizerLrScale = Number(m.slice(1));
      else throw new CliError(`--precisions: "${raw}": unknown modifier "${m}"; use a backward quantizer (${BACKWARD_QUANTIZERS.join(', ')}), auto (Hadamard block search), bN (fixed block N) or qX (step-size learning rate scale X)`);
    }
    return { label: raw.trim(), precision: precision as Precision, overrides };
  });
}

function parseSeeds(list: string): number[] {
  return list.split(',').map((s) => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new CliError(`--seeds: "${s}" is not a seed (an integer in [0, 2^32))`);
    return v;
  });
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const spread = (xs: readonly number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

/** Means over the layers of the last measurement snapshot: what the quantizers did, in one line. */
function summarize(s: MeasurementSnapshot | undefined): Record<string, number | null> | null {
  if (!s) return null;
  const avg = (f: (l: LinearLayerStats) => number | null) => {
    const xs = s.layers.map(f).filter((v): v is number => v !== null);
    return xs.length ? mean(xs) : null;
  };
  return {
    step: s.step,
    error_x: avg((l) => l.errorX),
    error_w: avg((l) => l.errorW),
    error_grad: avg((l) => l.errorGrad),
    kept_w: avg((l) => l.keptW),
    kept_x: avg((l) => l.keptX),
    top10_share: avg((l) => l.gradRows.top10Share),
    outlier_ratio_x: avg((l) => l.outliersX.ratio),
    outlier_ratio_xh: avg((l) => l.outliersXH.ratio),
    hadamard_block: avg((l) => l.hadamardBlock),
  };
}

function usage(): string {
  return [
    'Usage: npm run experiment -- precision-sweep [train flags] --precisions LIST [--seeds LIST] [--out FILE.json]',
    '',
    'Trains the same model, data and seed once per entry of LIST (default fp32,fp16,int4; e.g.',
    'fp32,int4,int4:bitsplit,int4:auto,int4-lsq-luq,int4-minmax) and prints final validation loss, gap to fp32,',
    'tokens/s and GPU memory. Modifiers after ":" (quantized precisions): a backward quantizer of ∇Y',
    '(lss, bitsplit, luq, minmax, none), auto (per-layer Hadamard block search), bN (fixed block N),',
    'qX (learning rate of the LSQ step sizes = X·lr), e.g. int4:bitsplit:auto:q0.01.',
    '--seeds 1,2,3 repeats every entry per seed and reports mean ± standard deviation.',
    'With --measure-every K the JSON also holds layer-mean quantization statistics of the last snapshot.',
    '',
    'npm run experiment -- sparsity [train flags] [--recipes dense,oneshot,progressive,sparse-qat]: 2:4 structured',
    'sparsity recipes on the same budget (see `npm run experiment -- sparsity --help`).',
    '',
    'npm run experiment -- scaling-sweep [train flags] [--widths 16,24,32,48,96] [--out FILE.json]: a ladder of model',
    'widths on the same data, final loss against training FLOPs with a fitted power law and loss spikes',
    '(see `npm run experiment -- scaling-sweep --help`).',
    '',
    helpText(),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help') {
    process.stdout.write(usage() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  const [name, ...rest] = argv;
  // 2:4 structured sparsity: dense vs one-shot vs progressive vs Sparse-QAT (sparsity-experiment.ts).
  if (name === 'sparsity') return sparsityExperiment(rest);
  // A ladder of model sizes: loss against training FLOPs, a fitted power law, loss spikes (scaling-experiment.ts).
  if (name === 'scaling-sweep') return scalingExperiment(rest);
  if (!(EXPERIMENTS as readonly string[]).includes(name)) throw new CliError(`unknown experiment "${name}"; choose from ${EXPERIMENTS.join(', ')}`);
  let entries = parseEntries('fp32,fp16,int4');
  let seeds: number[] | null = null;
  let outPath: string | undefined;
  const trainArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i].split(/=(.*)/s, 2);
    if (flag === '--precisions' || flag === '--out' || flag === '--seeds') {
      const value = inline ?? rest[++i];
      if (value === undefined || value === '') throw new CliError(`${flag} needs a value`);
      if (flag === '--precisions') entries = parseEntries(value);
      else if (flag === '--seeds') seeds = parseSeeds(value);
      else outPath = value;
    } else trainArgs.push(rest[i]);
  }
  const o = parseTrainArgs(trainArgs);
  if (o.loadPath || o.savePath) throw new CliError('precision-sweep trains from scratch: --load and --save do not apply');
  const dataset = await loadDataset(o.dataset, architectureOf(o, null));
  const seedList = seeds ?? [o.train.seed];
  const runs = entries.flatMap((e) => seedList.map((seed) => ({ entry: e, seed })));
  const configs = runs.map(({ entry: e, seed }): RunConfig => validateRunConfig({
    model: modelConfig(o, dataset, null),
    train: { ...o.train, ...e.overrides, precision: e.precision, seed },
    dataset: o.dataset,
  }));
  checkDatasetFits(dataset, configs[0].model.contextLength, configs[0].model.sourceLength);
  const gpu = await acquireNodeGpu();
  process.stderr.write(`GPU: ${describeGpu(gpu)}\n`);
  const results: { label: string; seed: number; precision: Precision; val_loss: number; train_loss: number; tokens_per_s: number; gpu_memory_mib: number; [more: string]: unknown }[] = [];
  for (const [i, config] of configs.entries()) {
    const trainer = await Trainer.create(gpu, config, dataset);
    const steps: StepMetrics[] = [];
    trainer.onMetrics((m) => steps.push(...m));
    let lastSnapshot: MeasurementSnapshot | undefined;
    trainer.onMeasurements((s) => {
      lastSnapshot = s;
    });
    const start = performance.now();
    for (let s = 0; s < config.train.steps; s++) await trainer.step();
    await trainer.flush();
    const seconds = (performance.now() - start) / 1000;
    const valLoss = await trainer.evaluate();
    // The encoder classifier's accuracy (and its majority baseline), the encoder-decoder's exact match.
    const arch = config.model.architecture;
    const task = arch === 'encoder'
      ? await trainer.classify().then((r) => ({ accuracy: r.accuracy, majority_baseline: r.baseline.accuracy }))
      : arch === 'encoder-decoder'
        ? await trainer.translationAccuracy(config.train.valBatches * config.train.batchSize, new Rng(config.train.seed).fork('exact-match')).then((r) => ({ exact_match: r.exactMatch }))
        : {};
    const last = steps[steps.length - 1];
    const result = {
      label: runs[i].entry.label,
      seed: runs[i].seed,
      precision: config.train.precision,
      kernel_path: trainer.kernelPath,
      val_loss: valLoss,
      train_loss: last?.loss ?? NaN,
      tokens_per_s: (config.train.steps * trainer.tokensPerStep) / seconds,
      gpu_memory_mib: trainer.memory.bytes / 2 ** 20,
      skipped_steps: steps.filter((m) => m.skipped).length,
      losses: steps.map((m) => m.loss),
      quantization: summarize(lastSnapshot),
      ...task,
    };
    results.push(result);
    process.stderr.write(`${result.label} seed ${result.seed}: val_loss ${valLoss.toFixed(4)} (${seconds.toFixed(1)} s)\n`);
    trainer.destroy();
  }
  // One row per entry: means over the seeds (and the spread when there are several).
  const rows = entries.map((e) => {
    const rs = results.filter((r) => r.label === e.label);
    const vals = rs.map((r) => r.val_loss);
    const scores = rs.map((r) => (r.accuracy ?? r.exact_match) as number | undefined).filter((v): v is number => v !== undefined);
    return { label: e.label, precision: e.precision, val: mean(vals), sd: spread(vals), train: mean(rs.map((r) => r.train_loss)), tps: mean(rs.map((r) => r.tokens_per_s)), mib: rs[0].gpu_memory_mib, score: scores.length ? mean(scores) : null };
  });
  const base = rows.find((r) => r.precision === 'fp32');
  const m = configs[0].model;
  const t = configs[0].train;
  const several = seedList.length > 1;
  const scoreHeader = m.architecture === 'encoder' ? ' accuracy |' : m.architecture === 'encoder-decoder' ? ' exact match |' : '';
  const lines = [
    `precision sweep: ${o.dataset}, ${m.architecture}, ${m.nLayer} layers, d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, context ${m.contextLength}; ${t.steps} steps, batch ${t.batchSize}, lr ${t.lr}, seed${several ? 's' : ''} ${seedList.join(', ')}`,
    '',
    `| precision | val loss${several ? ' (mean ± sd)' : ''} | gap to fp32 | train loss | tokens/s | GPU memory |${scoreHeader}`,
    `|---|---|---|---|---|---|${scoreHeader ? '---|' : ''}`,
    ...rows.map((r) => {
      const gap = base ? `${(((r.val - base.val) / base.val) * 100).toFixed(2)}%` : '—';
      const score = scoreHeader ? ` ${r.score === null ? '—' : `${(r.score * 100).toFixed(1)}%`} |` : '';
      return `| ${r.label} | ${r.val.toFixed(4)}${several ? ` ± ${r.sd.toFixed(4)}` : ''} | ${gap} | ${r.train.toFixed(4)} | ${Math.round(r.tps)} | ${r.mib.toFixed(1)} MiB |${score}`;
    }),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (outPath) writeFileSync(outPath, JSON.stringify({ dataset: o.dataset, model: m, train: t, seeds: seedList, gpu: describeGpu(gpu), results }, null, 1) + '\n');
  return 0;
}

runMain(() => main(process.argv.slice(2)));
