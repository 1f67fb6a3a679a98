// `npm run experiment -- precision-sweep [train flags] --precisions fp32,fp16,int4 [--out FILE.json]`
// Trains the same config and seed once per precision and prints a table: final validation loss, its
// gap to fp32, throughput and GPU memory. A quantized entry may name its backward quantizer:
// `int4:bitsplit` is INT4 with the official code's keep-every-row bit split instead of sampling.
import { writeFileSync } from 'node:fs';
import { BACKWARD_QUANTIZERS, type BackwardQuantizer, type Precision, PRECISIONS, QUANTIZED_PRECISIONS, type RunConfig, validateRunConfig } from '../engine/config';
import { describeGpu } from '../engine/gpu/device';
import { acquireNodeGpu } from '../engine/gpu/node';
import { type StepMetrics, Trainer } from '../engine/train/trainer';
import { CliError, helpText, parseTrainArgs } from './args';
import { checkDatasetFits, loadDataset, modelConfig, runMain } from './common';

const EXPERIMENTS = ['precision-sweep'] as const;

interface SweepEntry {
  label: string;
  precision: Precision;
  backwardQuantizer?: BackwardQuantizer;
}

function parseEntries(list: string): SweepEntry[] {
  return list.split(',').map((raw) => {
    const [precision, backward] = raw.trim().split(':');
    if (!(PRECISIONS as readonly string[]).includes(precision)) {
      throw new CliError(`--precisions: unknown precision "${precision}"; choose from ${PRECISIONS.join(', ')}`);
    }
    if (backward !== undefined && (!QUANTIZED_PRECISIONS[precision as Precision] || !(BACKWARD_QUANTIZERS as readonly string[]).includes(backward))) {
      throw new CliError(`--precisions: "${raw}": only ${Object.keys(QUANTIZED_PRECISIONS).join(', ')} take a backward quantizer after ':' (${BACKWARD_QUANTIZERS.join(', ')})`);
    }
    return { label: raw.trim(), precision: precision as Precision, backwardQuantizer: backward as BackwardQuantizer | undefined };
  });
}

function usage(): string {
  return [
    'Usage: npm run experiment -- precision-sweep [train flags] --precisions LIST [--out FILE.json]',
    '',
    'Trains the same model, data and seed once per entry of LIST (default fp32,fp16,int4; e.g.',
    'fp32,int4,int4:bitsplit,int4-lsq-luq,int4-minmax) and prints final validation loss, gap to fp32,',
    'tokens/s and GPU memory. precision:backward overrides a quantized precision\'s ∇Y quantizer.',
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
  if (!(EXPERIMENTS as readonly string[]).includes(name)) throw new CliError(`unknown experiment "${name}"; choose from ${EXPERIMENTS.join(', ')}`);
  let entries = parseEntries('fp32,fp16,int4');
  let outPath: string | undefined;
  const trainArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i].split(/=(.*)/s, 2);
    if (flag === '--precisions' || flag === '--out') {
      const value = inline ?? rest[++i];
      if (value === undefined || value === '') throw new CliError(`${flag} needs a value`);
      if (flag === '--precisions') entries = parseEntries(value);
      else outPath = value;
    } else trainArgs.push(rest[i]);
  }
  const o = parseTrainArgs(trainArgs);
  if (o.loadPath || o.savePath) throw new CliError('precision-sweep trains from scratch: --load and --save do not apply');
  const dataset = await loadDataset(o.dataset);
  const configs = entries.map((e): RunConfig => validateRunConfig({
    model: modelConfig(o, dataset, null),
    train: { ...o.train, precision: e.precision, backwardQuantizer: e.backwardQuantizer ?? o.train.backwardQuantizer },
    dataset: o.dataset,
  }));
  checkDatasetFits(dataset, configs[0].model.contextLength);
  const gpu = await acquireNodeGpu();
  process.stderr.write(`GPU: ${describeGpu(gpu)}\n`);
  const results = [];
  for (const [i, config] of configs.entries()) {
    const trainer = await Trainer.create(gpu, config, dataset);
    const steps: StepMetrics[] = [];
    trainer.onMetrics((m) => steps.push(...m));
    const start = performance.now();
    for (let s = 0; s < config.train.steps; s++) await trainer.step();
    await trainer.flush();
    const seconds = (performance.now() - start) / 1000;
    const valLoss = await trainer.evaluate();
    const last = steps[steps.length - 1];
    const result = {
      label: entries[i].label,
      precision: config.train.precision,
      kernel_path: trainer.kernelPath,
      val_loss: valLoss,
      train_loss: last?.loss ?? NaN,
      tokens_per_s: (config.train.steps * trainer.tokensPerStep) / seconds,
      gpu_memory_mib: trainer.memory.bytes / 2 ** 20,
      skipped_steps: steps.filter((m) => m.skipped).length,
      losses: steps.map((m) => m.loss),
    };
    results.push(result);
    process.stderr.write(`${result.label}: val_loss ${valLoss.toFixed(4)} (${seconds.toFixed(1)} s)\n`);
    trainer.destroy();
  }
  const base = results.find((r) => r.precision === 'fp32');
  const m = configs[0].model;
  const t = configs[0].train;
  const lines = [
    `precision sweep: ${o.dataset}, ${m.nLayer} layers, d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, context ${m.contextLength}; ${t.steps} steps, batch ${t.batchSize}, lr ${t.lr}, seed ${t.seed}`,
    '',
    '| precision | val loss | gap to fp32 | train loss | tokens/s | GPU memory |',
    '|---|---|---|---|---|---|',
    ...results.map((r) => {
      const gap = base ? `${(((r.val_loss - base.val_loss) / base.val_loss) * 100).toFixed(2)}%` : '—';
      return `| ${r.label} | ${r.val_loss.toFixed(4)} | ${gap} | ${r.train_loss.toFixed(4)} | ${Math.round(r.tokens_per_s)} | ${r.gpu_memory_mib.toFixed(1)} MiB |`;
    }),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (outPath) writeFileSync(outPath, JSON.stringify({ dataset: o.dataset, model: m, train: t, gpu: describeGpu(gpu), results }, null, 1) + '\n');
  return 0;
}

runMain(() => main(process.argv.slice(2)));
