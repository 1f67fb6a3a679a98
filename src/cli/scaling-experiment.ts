// `npm run experiment -- scaling-sweep [train flags] [--widths 16,24,32,48,96] [--head-size N]
//  [--ff-mult X] [--tokens-per-param R] [--plan] [--out FILE.json]`
// The scaling sweep of issue 7 (items 5 and 7): a ladder of model widths (engine/train/scaling.ts) trained
// one after the other on the same data with the same seed and schedule; for each rung the loss curve, the
// final validation loss, its parameters, tokens, training FLOPs, tokens/s and the loss spikes found in its
// curve (engine/train/spikes.ts); then a markdown table and the power laws L ≈ a·C^b (C the training
// FLOPs) and L ≈ a·N^b (N the non-embedding parameters) fitted in log-log space. Every rung is built and
// checked against the adapter's limits before the first one trains.
import { writeFileSync } from 'node:fs';
import { ConfigError, quantizerChoice, type RunConfig, validateRunConfig } from '../engine/config';
import { describeGpu } from '../engine/gpu/device';
import { acquireNodeGpu } from '../engine/gpu/node';
import type { MemoryLimits } from '../engine/limits';
import { DEFAULT_LADDER_WIDTHS, fitPowerLaw, type LadderRung, ladderLimitError, ladderRunConfig, type PowerLawFit, scalingLadder, trainingFlopsPerToken } from '../engine/train/scaling';
import { detectLossSpikes, type LossSpike } from '../engine/train/spikes';
import { type StepMetrics, Trainer } from '../engine/train/trainer';
import { CliError, helpText, parseTrainArgs } from './args';
import { architectureOf, checkDatasetFits, loadDataset, modelConfig } from './common';

/** The sweep's base model when no --preset is given: the small preset would take hours per ladder on a
 *  CPU rasterizer, and tiny's 4 heads divide every default width. */
const SWEEP_PRESET = 'tiny';

export function scalingUsage(): string {
  return [
    'Usage: npm run experiment -- scaling-sweep [train flags] [--widths LIST] [--head-size N] [--ff-mult X] [--tokens-per-param R] [--plan] [--out FILE.json]',
    '',
    `Trains one model per d_model of LIST (default ${DEFAULT_LADDER_WIDTHS.join(',')}) on the same data, seed and schedule, and prints`,
    'each rung\'s final validation loss, parameters, tokens, training FLOPs (6·matmul weights + attention, per token), tokens/s',
    'and loss spikes, then the fitted power laws loss ≈ a·FLOPs^b and loss ≈ a·N^b (N: non-embedding parameters).',
    `The other model flags come from --preset (default ${SWEEP_PRESET} for the sweep): layers, context, heads, activation.`,
    '  --widths LIST          d_model of each rung, at least 2 (each divisible by the heads, or by --head-size)',
    '  --head-size N          fixed head size: d_model / N heads per rung (default: the preset\'s head count for every rung)',
    '  --ff-mult X            d_ff = X·d_model (default: the preset\'s ratio, 4)',
    '  --tokens-per-param R   compute matched to size: each rung trains on ≈ R tokens per non-embedding parameter',
    '                         (--steps is then ignored); default: every rung trains --steps steps on the same tokens',
    '  --plan                 print the ladder (parameters, tokens, FLOPs), check it against the GPU\'s limits, and exit',
    '  --out FILE.json        write every rung\'s loss curve, spikes and the fits',
    'Any --precision works (the INT4 Hadamard block is capped at each rung\'s width). --d-model and --d-ff are set per',
    'rung; --load, --save, --teacher, --metrics and the sparsity flags do not apply.',
    '',
    helpText(),
  ].join('\n');
}

function parseWidths(raw: string): number[] {
  const widths = raw.split(',').map((s) => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isInteger(v) || v < 1) throw new CliError(`--widths: "${s}" is not a width (a positive integer d_model); give e.g. --widths ${DEFAULT_LADDER_WIDTHS.join(',')}`);
    return v;
  });
  if (widths.length < 2) throw new CliError(`--widths: a power law needs at least 2 model sizes (got ${widths.length}); give e.g. --widths ${DEFAULT_LADDER_WIDTHS.join(',')}`);
  return widths;
}

function positiveNumber(flag: string, raw: string, integer: boolean): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new CliError(`${flag} must be a positive ${integer ? 'integer' : 'number'} (got "${raw}")`);
  }
  return v;
}

const SWEEP_FLAGS = ['--widths', '--head-size', '--ff-mult', '--tokens-per-param', '--out'] as const;

interface RungResult {
  label: string;
  d_model: number;
  n_head: number;
  d_ff: number;
  n_layer: number;
  parameters: number;
  non_embedding_parameters: number;
  steps: number;
  batch: number;
  tokens: number;
  flops_per_token: number;
  flops: number;
  hadamard_block: number | null;
  val_loss: number;
  train_loss: number;
  seconds: number;
  tokens_per_s: number;
  kernel_path: string;
  skipped_steps: number;
  spikes: LossSpike[];
  curve: { steps: number[]; losses: number[] };
}

/** A fit, or why there is none (a NaN loss, fewer than 2 finite rungs). */
function tryFit(points: { x: number; y: number }[]): PowerLawFit | string {
  const finite = points.filter((p) => Number.isFinite(p.y) && p.y > 0);
  if (finite.length < 2) return `no fit: ${finite.length} rung(s) with a finite loss`;
  try {
    return fitPowerLaw(finite);
  } catch (e) {
    return `no fit: ${(e as Error).message}`;
  }
}

const sci = (v: number) => v.toExponential(2).replace('e+', 'e');

function describeFit(name: string, axis: string, fit: PowerLawFit | string): string {
  if (typeof fit === 'string') return `${name}: ${fit}`;
  return `${name}: loss ≈ ${fit.coefficient.toPrecision(4)} · ${axis}^${fit.exponent.toFixed(4)}  (exponent ${fit.exponent.toFixed(4)}, r² ${fit.r2.toFixed(4)})`;
}

export async function scalingExperiment(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(scalingUsage() + '\n');
    return 0;
  }
  let widths: number[] | undefined;
  let headSize: number | undefined;
  let ffMultiplier: number | undefined;
  let tokensPerParameter: number | undefined;
  let outPath: string | undefined;
  let plan = false;
  const trainArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (flag === '--plan') {
      plan = true;
      continue;
    }
    if (!(SWEEP_FLAGS as readonly string[]).includes(flag)) {
      trainArgs.push(argv[i]);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new CliError(`${flag} needs a value`);
    if (flag === '--widths') widths = parseWidths(value);
    else if (flag === '--head-size') headSize = positiveNumber(flag, value, true);
    else if (flag === '--ff-mult') ffMultiplier = positiveNumber(flag, value, false);
    else if (flag === '--tokens-per-param') tokensPerParameter = positiveNumber(flag, value, false);
    else outPath = value;
  }
  const hasFlag = (name: string) => trainArgs.some((a) => a === name || a.startsWith(`${name}=`));
  const o = parseTrainArgs(hasFlag('--preset') ? trainArgs : ['--preset', SWEEP_PRESET, ...trainArgs]);
  if (o.modelOverrides.dModel !== undefined || o.modelOverrides.dFF !== undefined) {
    throw new CliError('the sweep sets d_model and d_ff per rung: use --widths (and --ff-mult for d_ff = X·d_model) instead of --d-model and --d-ff');
  }
  if (o.loadPath || o.savePath || o.teacherPath || o.metricsPath) throw new CliError('the scaling sweep trains fresh models and writes its own results: --load, --save, --teacher and --metrics do not apply (use --out FILE.json)');
  if (o.train.sparsity || o.train.sparseQat || o.train.sparsityPhases) throw new CliError('the scaling sweep trains dense models: leave out --sparsity, --sparse-qat and --sparsity-phases');
  if (o.memoryOnly || o.samples > 0 || o.profileSteps > 0 || o.evalEvery > 0) throw new CliError('--memory, --sample, --profile and --eval-every belong to `npm run train`; the sweep evaluates each rung once at its end (use --plan to see the ladder)');

  const dataset = await loadDataset(o.dataset, architectureOf(o, null));
  const base = modelConfig(o, dataset, null);
  let rungs: LadderRung[];
  try {
    rungs = scalingLadder({ base, widths, steps: o.train.steps, batchSize: o.train.batchSize, headSize, ffMultiplier, tokensPerParameter });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`--widths: ${e.message}`);
    throw e;
  }
  const configs: RunConfig[] = rungs.map((rung) => {
    if (tokensPerParameter !== undefined && rung.steps <= o.train.warmupSteps) {
      throw new CliError(`rung ${rung.label} gets ${rung.steps} steps at --tokens-per-param ${tokensPerParameter}, not more than the ${o.train.warmupSteps} warmup steps; raise --tokens-per-param or lower --warmup`);
    }
    try {
      return validateRunConfig(ladderRunConfig(rung, o.train, o.dataset));
    } catch (e) {
      if (e instanceof ConfigError) throw new CliError(`rung ${rung.label}: ${e.message}`);
      throw e;
    }
  });
  checkDatasetFits(dataset, base.contextLength, base.sourceLength);

  // The adapter's limits are known once it is acquired; every rung is checked before the first builds.
  const gpu = await acquireNodeGpu();
  const limits = gpu.limits as unknown as MemoryLimits;
  const tooLarge = ladderLimitError(rungs, limits, o.train, o.dataset);
  if (tooLarge) throw new CliError(tooLarge);
  process.stderr.write(`GPU: ${describeGpu(gpu)}\n`);

  const header = `scaling sweep: ${o.dataset}, ${base.architecture}, ${base.nLayer} layers, context ${base.contextLength}, ${headSize ? `head size ${headSize}` : `${base.nHead} heads`}, d_ff = ${(rungs[0].model.dFF / rungs[0].model.dModel).toFixed(2).replace(/\.00$/, '')}·d_model; ${tokensPerParameter !== undefined ? `≈ ${tokensPerParameter} tokens per non-embedding parameter` : `${o.train.steps} steps per rung (same tokens)`}, batch ${o.train.batchSize}, lr ${o.train.lr}, warmup ${o.train.warmupSteps}, ${o.train.precision}, seed ${o.train.seed}`;
  if (plan) {
    const lines = [
      header,
      '',
      '| rung | parameters | non-embedding | steps | tokens | FLOPs/token | training FLOPs |',
      '|---|---|---|---|---|---|---|',
      ...rungs.map((r) => `| ${r.label} | ${r.parameters.toLocaleString('en-US')} | ${r.nonEmbeddingParameters.toLocaleString('en-US')} | ${r.steps} | ${r.tokens.toLocaleString('en-US')} | ${Math.round(trainingFlopsPerToken(r.model)).toLocaleString('en-US')} | ${sci(r.flops)} |`),
      '',
      `non-embedding parameters span ${(rungs[rungs.length - 1].nonEmbeddingParameters / rungs[0].nonEmbeddingParameters).toFixed(1)}× and training FLOPs ${(Math.max(...rungs.map((r) => r.flops)) / Math.min(...rungs.map((r) => r.flops))).toFixed(1)}×; every rung fits this GPU's limits`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  }

  const results: RungResult[] = [];
  for (const [i, rung] of rungs.entries()) {
    const config = configs[i];
    const trainer = await Trainer.create(gpu, config, dataset);
    const metrics: StepMetrics[] = [];
    trainer.onMetrics((m) => metrics.push(...m));
    const start = performance.now();
    for (let s = 0; s < config.train.steps; s++) await trainer.step();
    await trainer.flush();
    const seconds = (performance.now() - start) / 1000;
    const valLoss = await trainer.evaluate();
    const points = metrics.map((m) => ({ step: m.step, loss: m.loss }));
    const spikes = detectLossSpikes(points);
    const result: RungResult = {
      label: rung.label,
      d_model: rung.model.dModel,
      n_head: rung.model.nHead,
      d_ff: rung.model.dFF,
      n_layer: rung.model.nLayer,
      parameters: rung.parameters,
      non_embedding_parameters: rung.nonEmbeddingParameters,
      steps: rung.steps,
      batch: rung.batchSize,
      tokens: rung.tokens,
      flops_per_token: trainingFlopsPerToken(rung.model),
      flops: rung.flops,
      hadamard_block: quantizerChoice(config.train)?.forward === 'hq' ? config.train.hadamardBlock : null,
      val_loss: valLoss,
      train_loss: metrics[metrics.length - 1]?.loss ?? NaN,
      seconds,
      tokens_per_s: (config.train.steps * trainer.tokensPerStep) / seconds,
      kernel_path: trainer.kernelPath,
      skipped_steps: metrics.filter((m) => m.skipped).length,
      spikes,
      curve: { steps: points.map((p) => p.step), losses: points.map((p) => p.loss) },
    };
    results.push(result);
    process.stderr.write(`${rung.label}: ${rung.parameters} parameters, ${rung.steps} steps, val_loss ${valLoss.toFixed(4)}, ${spikes.length} spike(s) (${seconds.toFixed(1)} s)\n`);
    trainer.destroy();
  }

  const lossVsFlops = tryFit(results.map((r) => ({ x: r.flops, y: r.val_loss })));
  const lossVsParams = tryFit(results.map((r) => ({ x: r.non_embedding_parameters, y: r.val_loss })));
  const spikeText = (r: RungResult) => (r.spikes.length === 0 ? 'none' : r.spikes.map((s) => `step ${s.step} (×${Number.isFinite(s.ratio) ? s.ratio.toFixed(2) : '∞'})`).join(', '));
  const lines = [
    header,
    '',
    '| rung | parameters | non-embedding | steps | tokens | training FLOPs | val loss | train loss | tokens/s | spikes |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.label} | ${r.parameters.toLocaleString('en-US')} | ${r.non_embedding_parameters.toLocaleString('en-US')} | ${r.steps} | ${r.tokens.toLocaleString('en-US')} | ${sci(r.flops)} | ${r.val_loss.toFixed(4)} | ${r.train_loss.toFixed(4)} | ${Math.round(r.tokens_per_s)} | ${spikeText(r)} |`),
    '',
    describeFit('fit against training FLOPs', 'C', lossVsFlops),
    describeFit('fit against non-embedding parameters', 'N', lossVsParams),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (outPath) {
    const fit = (f: PowerLawFit | string) => (typeof f === 'string' ? { error: f } : f);
    writeFileSync(outPath, JSON.stringify({
      experiment: 'scaling-sweep',
      date: new Date().toISOString(),
      dataset: o.dataset,
      gpu: describeGpu(gpu),
      base,
      train: o.train,
      ladder: { widths: rungs.map((r) => r.model.dModel), head_size: headSize ?? null, ff_multiplier: rungs[0].model.dFF / rungs[0].model.dModel, tokens_per_parameter: tokensPerParameter ?? null, budget: tokensPerParameter !== undefined ? 'tokens-per-parameter' : 'same-tokens' },
      fit: { loss_vs_flops: fit(lossVsFlops), loss_vs_non_embedding_parameters: fit(lossVsParams) },
      rungs: results,
    }) + '\n');
  }
  return 0;
}
