// `npm run experiment -- sparsity [train flags] [--recipes LIST] [--seeds LIST] [--oneshot-phases L]
//  [--progressive-phases L] [--out FILE.json]`
// The article's comparison at playground scale: the same model, data, seed and step budget trained
//   dense        the whole budget dense (and the teacher of Sparse-QAT)
//   oneshot      dense, prune to 2:4, retrain with the mask fixed and the same schedule again
//   progressive  dense, prune to 25%, fine-tune, 2:4 of the remaining, fine-tune
//   sparse-qat   progressive + INT8 fake quantization (99.99% calibration, STE) + distillation from the
//                dense run of the same seed
// and a table of final validation losses with the gap to dense, the share of zero weights in the sparse
// layers and whether every group of 4 holds ≥ 2 zeros at the end.
import { writeFileSync } from 'node:fs';
import { describeGpu } from '../engine/gpu/device';
import { acquireNodeGpu } from '../engine/gpu/node';
import { DEFAULT_PHASES } from '../engine/sparsity/config';
import { orderRecipes, planRecipeRuns, runRecipes, SPARSITY_RECIPES } from '../engine/sparsity/recipes-run';
import { CliError, helpText, parseTrainArgs } from './args';
import { architectureOf, checkDatasetFits, loadDataset, modelConfig } from './common';

// The recipes and their runs are the engine's (sparsity/recipes-run.ts, shared with the page's sparsity
// lab); this file parses the flags and prints the table.
export const SPARSITY_RECIPES_EXPERIMENT = SPARSITY_RECIPES;
type Recipe = (typeof SPARSITY_RECIPES_EXPERIMENT)[number];

export function sparsityUsage(): string {
  return [
    'Usage: npm run experiment -- sparsity [train flags] [--recipes LIST] [--seeds LIST] [--oneshot-phases L] [--progressive-phases L] [--out FILE.json]',
    '',
    `Trains the same model, data, seed and step budget once per recipe of LIST (default ${SPARSITY_RECIPES_EXPERIMENT.join(',')})`,
    'and prints the final validation loss, its gap to dense, the share of zero weights of the sparse layers and',
    'whether every group of 4 keeps ≥ 2 zeros. sparse-qat distills from the dense run of the same seed (so',
    'dense runs first whenever sparse-qat is asked for). Phases as --sparsity-phases (default',
    `${DEFAULT_PHASES.oneshot.join(',')} and ${DEFAULT_PHASES.progressive.join(',')}); --distill-alpha, --distill-temperature,`,
    '--distill-hidden set the distillation of sparse-qat. --seeds 1,2,3 repeats every recipe per seed.',
    '',
    helpText(),
  ].join('\n');
}

function parsePhases(flag: string, raw: string): number[] {
  const o = parseTrainArgs(['--sparsity-phases', raw]);
  if (!o.train.sparsityPhases) throw new CliError(`${flag} needs a value`);
  return o.train.sparsityPhases;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const spread = (xs: readonly number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

interface Result {
  recipe: Recipe;
  seed: number;
  val_loss: number;
  train_loss: number;
  seconds: number;
  tokens_per_s: number;
  zero_share: number;
  groups_violating: number;
  compressed_forward: boolean | null;
  kernel_path: string;
  recipe_description: string | null;
  losses: number[];
}

export async function sparsityExperiment(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(sparsityUsage() + '\n');
    return 0;
  }
  let recipes: Recipe[] = [...SPARSITY_RECIPES_EXPERIMENT];
  let seeds: number[] | null = null;
  let outPath: string | undefined;
  let oneshotPhases: number[] | undefined;
  let progressivePhases: number[] | undefined;
  const trainArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (['--recipes', '--seeds', '--out', '--oneshot-phases', '--progressive-phases'].includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new CliError(`${flag} needs a value`);
      if (flag === '--recipes') {
        recipes = value.split(',').map((r) => r.trim()) as Recipe[];
        const bad = recipes.filter((r) => !(SPARSITY_RECIPES_EXPERIMENT as readonly string[]).includes(r));
        if (bad.length) throw new CliError(`--recipes: unknown ${bad.join(', ')}; choose from ${SPARSITY_RECIPES_EXPERIMENT.join(', ')}`);
      } else if (flag === '--seeds') {
        seeds = value.split(',').map((s) => {
          const v = Number(s);
          if (s.trim() === '' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new CliError(`--seeds: "${s}" is not a seed (an integer in [0, 2^32))`);
          return v;
        });
      } else if (flag === '--out') outPath = value;
      else if (flag === '--oneshot-phases') oneshotPhases = parsePhases(flag, value);
      else progressivePhases = parsePhases(flag, value);
    } else trainArgs.push(argv[i]);
  }
  const o = parseTrainArgs(trainArgs);
  if (o.loadPath || o.savePath || o.teacherPath) throw new CliError('the sparsity experiment trains from scratch and distills from its own dense run: --load, --save and --teacher do not apply');
  if (o.train.sparsity || o.train.sparseQat || o.train.sparsityPhases) throw new CliError('the sparsity experiment sets --sparsity itself: use --recipes, --oneshot-phases and --progressive-phases');
  // sparse-qat's distillation: the defaults, or --distill-* (parsed as if a teacher were given).
  const distill = parseTrainArgs([...trainArgs, '--teacher', 'dense-run']).train.distill!;
  // sparse-qat needs its teacher first.
  recipes = orderRecipes(recipes);
  const dataset = await loadDataset(o.dataset, architectureOf(o, null));
  const seedList = seeds ?? [o.train.seed];
  const model = modelConfig(o, dataset, null);
  // Every config is checked before the GPU is touched.
  const runs = planRecipeRuns(model, o.train, o.dataset, recipes, seedList, { oneshotPhases, progressivePhases, distill });
  checkDatasetFits(dataset, model.contextLength, model.sourceLength);
  const gpu = await acquireNodeGpu();
  process.stderr.write(`GPU: ${describeGpu(gpu)}\n`);
  const results: Result[] = [];
  await runRecipes(gpu, runs, dataset, {
    hooks: {
      onResult(r) {
        const result: Result = {
          recipe: r.recipe,
          seed: r.seed,
          val_loss: r.valLoss,
          train_loss: r.trainLoss,
          seconds: r.seconds,
          tokens_per_s: r.tokensPerSecond,
          zero_share: r.zeroShare,
          groups_violating: r.groupsViolating,
          compressed_forward: r.compressedForward,
          kernel_path: r.kernelPath,
          recipe_description: r.recipeDescription,
          losses: r.losses,
        };
        results.push(result);
        process.stderr.write(`${r.recipe} seed ${r.seed}: val_loss ${r.valLoss.toFixed(4)}, zeros ${(result.zero_share * 100).toFixed(1)}% (${r.seconds.toFixed(1)} s)\n`);
      },
    },
  });
  const rows = recipes.map((r) => {
    const rs = results.filter((x) => x.recipe === r);
    const vals = rs.map((x) => x.val_loss);
    return { recipe: r, val: mean(vals), sd: spread(vals), train: mean(rs.map((x) => x.train_loss)), tps: mean(rs.map((x) => x.tokens_per_s)), zeros: mean(rs.map((x) => x.zero_share)), bad: rs.reduce((a, x) => a + x.groups_violating, 0), compressed: rs[0].compressed_forward };
  });
  const dense = rows.find((r) => r.recipe === 'dense');
  const t = o.train;
  const several = seedList.length > 1;
  const lines = [
    `sparsity: ${o.dataset}, ${model.nLayer} layers, d_model ${model.dModel}, ${model.nHead} heads, d_ff ${model.dFF}, context ${model.contextLength}; ${t.steps} steps, batch ${t.batchSize}, lr ${t.lr}, seed${several ? 's' : ''} ${seedList.join(', ')}`,
    '',
    `| recipe | val loss${several ? ' (mean ± sd)' : ''} | gap to dense | train loss | zeros in sparse layers | groups with < 2 zeros | compressed forward | tokens/s |`,
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const gap = dense ? `${(((r.val - dense.val) / dense.val) * 100).toFixed(2)}%` : '—';
      return `| ${r.recipe} | ${r.val.toFixed(4)}${several ? ` ± ${r.sd.toFixed(4)}` : ''} | ${gap} | ${r.train.toFixed(4)} | ${(r.zeros * 100).toFixed(1)}% | ${r.recipe === 'dense' ? '—' : r.bad} | ${r.compressed === null ? '—' : r.compressed ? 'yes' : 'no'} | ${Math.round(r.tps)} |`;
    }),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (outPath) writeFileSync(outPath, JSON.stringify({ dataset: o.dataset, model, train: t, seeds: seedList, gpu: describeGpu(gpu), phases: { oneshot: oneshotPhases ?? DEFAULT_PHASES.oneshot, progressive: progressivePhases ?? DEFAULT_PHASES.progressive }, distill, rows, results }, null, 1) + '\n');
  return 0;
}
