// `npm run bench -- …`: kernel and training benchmarks of the engine, and the TF.js peer, on whatever
// WebGPU adapter Dawn finds (docs/benchmarks.md). Exit codes as the other commands (src/cli/common.ts):
// 0 done, 2 bad flags, 1 anything else, including a result whose correctness check failed.
import { writeFileSync } from 'node:fs';
import { acquireNodeGpu } from '../engine/gpu/node';
import { runMain } from '../cli/common';
import { formatRows, formatSkipped } from './rows';
import { BENCH_DAWN_FLAGS, helpText, parseBenchArgs, runBenchmarks } from './run';

async function main(argv: string[]): Promise<number> {
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
