// `npm run bench -- …`: kernel and training benchmarks of the engine, and the TF.js peer, on whatever
// WebGPU adapter Dawn finds (docs/benchmarks.md). Exit codes as the other commands (src/cli/common.ts):
// 0 done, 2 bad flags, 1 anything else, including a result whose correctness check failed.
import { writeFileSync } from 'node:fs';
import { acquireNodeGpu } from '../engine/gpu/node';
import { runMain } from '../cli/common';
import { loadDataset } from '../cli/common';
import { formatTuneReport, parseTuneArgs, runTuneBench, tuneFailures, tuneHelpText } from './matmul-tune';
import { formatRows, formatSkipped } from './rows';
import { BENCH_DAWN_FLAGS, helpText, parseBenchArgs, runBenchmarks } from './run';
import { formatSoak, parseSoakArgs, runSoak, soakHelpText } from './soak';
import { targetsMain } from './targets';

/** `npm run bench -- soak …`: the long-run growth check (soak.ts). Exit 1 when something grew. */
async function soakMain(argv: string[]): Promise<number> {
  const o = parseSoakArgs(argv);
  if (o.help) {
    process.stdout.write(soakHelpText() + '\n');
    return 0;
  }
  const dataset = await loadDataset('names');
  const gpu = await acquireNodeGpu();
  const report = await runSoak(gpu, () => acquireNodeGpu(), dataset, o, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${o.quick ? 'quick soak: too few steps to call a trend; this proves it runs\n' : ''}${formatSoak(report)}\n`);
  if (o.out) {
    writeFileSync(o.out, JSON.stringify({ ...report, command: `npm run bench -- soak ${argv.join(' ')}`.trim(), date: new Date().toISOString() }, null, 1) + '\n');
    process.stderr.write(`wrote ${o.out}\n`);
  }
  if (!report.verdict.flat && !o.quick) {
    process.stderr.write('error: something grew over the run (see the verdict)\n');
    return 1;
  }
  return 0;
}

/** `npm run bench -- tune …`: the f32 matmul tile sweep (matmul-tune.ts). Exit 1 when a candidate failed
 *  its check or to build. */
async function tuneMain(argv: string[]): Promise<number> {
  const o = parseTuneArgs(argv);
  if (o.help) {
    process.stdout.write(tuneHelpText() + '\n');
    return 0;
  }
  const gpu = await acquireNodeGpu(BENCH_DAWN_FLAGS);
  const report = await runTuneBench(gpu, o, ['tune', ...argv], (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(formatTuneReport(report) + '\n');
  if (o.out) {
    writeFileSync(o.out, JSON.stringify(report, null, 1) + '\n');
    process.stderr.write(`wrote ${o.out}\n`);
  }
  const failed = tuneFailures(report);
  if (failed.length) {
    process.stderr.write(`error: ${failed.length} candidate(s) failed:\n${failed.join('\n')}\n`);
    return 1;
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'soak') return soakMain(argv.slice(1));
  if (argv[0] === 'tune') return tuneMain(argv.slice(1));
  if (argv[0] === 'targets') return targetsMain(argv.slice(1), (s) => process.stdout.write(s), (s) => process.stderr.write(s));
  const o = parseBenchArgs(argv);
  if (o.help) {
    process.stdout.write(helpText() + '\n');
    return 0;
  }
  const gpu = await acquireNodeGpu(BENCH_DAWN_FLAGS);
  const report = await runBenchmarks(gpu, o, argv, (line) => process.stderr.write(`${line}\n`));
  const lines = [
    `device: ${report.device}`,
    o.quick ? 'quick run: tiny sizes, one pass each — these numbers prove the benches run, they are not speed results' : '',
    '',
    formatRows(report.rows),
    report.skipped.length ? `\n${formatSkipped(report.skipped)}` : '',
  ].filter((l, i) => l !== '' || i === 2);
  process.stdout.write(lines.join('\n') + '\n');
  if (o.out) {
    writeFileSync(o.out, JSON.stringify(report, null, 1) + '\n');
    process.stderr.write(`wrote ${o.out}\n`);
  }
  const failed = report.rows.filter((r) => !r.checked);
  if (failed.length) {
    process.stderr.write(`error: ${failed.length} result(s) failed their correctness check: ${failed.map((r) => `${r.name} ${r.size}`).join('; ')}\n`);
    return 1;
  }
  return 0;
}

runMain(() => main(process.argv.slice(2)));
