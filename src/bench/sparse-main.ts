// `node dist-node/bench-sparse.mjs [--quick] [--sizes LIST] [--repeats N] [--check-samples N] [--seed N] [--out FILE.json]`
// (built by `npm run bench:sparse`): the compressed 2:4 products against the dense ones (bench/sparse.ts) on
// whatever adapter Dawn finds. Exit codes as the other commands: 0 done, 2 bad flags, 1 anything else,
// including a result whose correctness check failed.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CliError } from '../cli/args';
import { runMain } from '../cli/common';
import { describeGpu } from '../engine/gpu/device';
import { acquireNodeGpu } from '../engine/gpu/node';
import { formatRows, formatSkipped } from './rows';
import { BENCH_DAWN_FLAGS } from './run';
import { runSparseBenches } from './sparse';

const HELP = [
  'Usage: npm run bench:sparse -- [flags]',
  '',
  'Y = X·Wᵀ with a 2:4 sparse W [n, n]: the dense products (f32 matmul, intMatmul INT8/INT4 on every integer',
  'path) against the compressed 2:4 kernels (the 2 kept values + 2-bit indices per group of 4, half the',
  'multiply-adds), once with W compressed beforehand (inference) and once with the compression in every pass',
  '(training). Throughput is dense-equivalent 2·n³/s; ratio = dense seconds / compressed seconds.',
  '',
  '  --quick              sizes 64,96, one pass each: proves the benches and their checks run',
  '  --sizes LIST         square sizes, multiples of 4 (default 1024,2048,4096,8192)',
  '  --repeats N          timed passes per kernel (median; default 7)',
  '  --check-samples N    output entries compared with the CPU per result (default 256; 0 = all)',
  '  --seed N',
  '  --out FILE.json      every row, the device and the options as JSON',
].join('\n');

function ints(flag: string, v: string): number[] {
  const list = v.split(',').map((s) => Number(s.trim()));
  if (!list.length || !list.every((n) => Number.isInteger(n) && n > 0)) throw new CliError(`--${flag} takes positive integers, got "${v}"`);
  return list;
}

async function main(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { quick: { type: 'boolean' }, sizes: { type: 'string' }, repeats: { type: 'string' }, 'check-samples': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } } }).values;
  } catch (e) {
    throw new CliError(`${(e as Error).message.split('\n')[0]} (see --help)`);
  }
  if (v.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const quick = Boolean(v.quick);
  const sizes = v.sizes ? ints('sizes', v.sizes) : quick ? [64, 96] : [1024, 2048, 4096, 8192];
  const timing = quick ? { warmups: 1, repeats: 1, targetPassSeconds: 0, maxPerPass: 1 } : { warmups: 2, repeats: v.repeats ? ints('repeats', v.repeats)[0] : 7, targetPassSeconds: 0.05, maxPerPass: 500 };
  const checkSamples = v['check-samples'] !== undefined ? Number(v['check-samples']) : quick ? 0 : 256;
  if (!Number.isInteger(checkSamples) || checkSamples < 0) throw new CliError('--check-samples takes a non-negative integer');
  const seed = v.seed ? ints('seed', v.seed)[0] : 1;
  const gpu = await acquireNodeGpu(BENCH_DAWN_FLAGS);
  const r = await runSparseBenches(gpu, { sizes, timing, checkSamples, seed, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write([`device: ${describeGpu(gpu)}`, quick ? 'quick run: tiny sizes, one pass each — not speed results' : '', '', formatRows(r.rows), r.skipped.length ? `\n${formatSkipped(r.skipped)}` : ''].join('\n') + '\n');
  if (v.out) {
    writeFileSync(v.out, JSON.stringify({ device: describeGpu(gpu), date: new Date().toISOString(), args: argv, quick, sizes, rows: r.rows, skipped: r.skipped }, null, 1) + '\n');
    process.stderr.write(`wrote ${v.out}\n`);
  }
  const failed = r.rows.filter((x) => !x.checked);
  if (failed.length) {
    process.stderr.write(`error: ${failed.length} result(s) failed their correctness check: ${failed.map((x) => `${x.name} ${x.size}`).join('; ')}\n`);
    return 1;
  }
  return 0;
}

runMain(() => main(process.argv.slice(2)));
