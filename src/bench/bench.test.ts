// The benchmark command's quick path, in-process on this machine's adapter (a CPU Vulkan driver on CI):
// every section runs at tiny sizes, every result passes its correctness check, and every row carries a
// finite positive throughput. Nothing here asserts a speed.
import { beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../engine/gpu/device';
import { acquireNodeGpu } from '../engine/gpu/node';
import { CliError } from '../cli/args';
import { formatTuneReport, parseTuneArgs, runTuneBench, tuneFailures } from './matmul-tune';
import { formatRows, type BenchRow, type BenchReport } from './rows';
import { BENCH_DAWN_FLAGS, DEFAULT_SIZES, QUICK_SIZES, parseBenchArgs, quickOptions, runBenchmarks } from './run';
import { TRAIN_MODELS } from './train';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireNodeGpu(BENCH_DAWN_FLAGS);
});

function expectSound(rows: readonly BenchRow[]): void {
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows) {
    const what = `${r.section} ${r.name} ${r.size} ${r.path}`;
    expect(r.checked, `${what}: ${r.check}`).toBe(true);
    expect(Number.isFinite(r.value) && r.value > 0, `${what}: throughput ${r.value}`).toBe(true);
    expect(Number.isFinite(r.seconds) && r.seconds > 0, `${what}: seconds ${r.seconds}`).toBe(true);
    expect(r.device.length, `${what}: device`).toBeGreaterThan(0);
  }
}

/** Skips allowed on any adapter: optional features it may lack. Anything else is a failure. */
function unexpectedSkips(report: BenchReport): string[] {
  return report.skipped
    .filter((s) => !/shader-f16|packed_4x8_integer_dot_product|subgroup matrices/.test(s.reason))
    .map((s) => `${s.section} ${s.name} ${s.size}: ${s.reason}`);
}

describe('npm run bench -- --quick (in-process)', () => {
  it('kernels: every path at every quick size is checked and has a throughput', async () => {
    const report = await runBenchmarks(gpu, { ...quickOptions(), sections: ['kernels'] });
    expect(unexpectedSkips(report)).toEqual([]);
    expectSound(report.rows);
    const names = new Set(report.rows.map((r) => `${r.name}@${r.size}`));
    for (const n of QUICK_SIZES) {
      for (const layout of ['plain', 'transA', 'transB']) {
        expect(names.has(`matmul f32 ${layout}@${n}³`)).toBe(true);
        expect(names.has(`matmul f16 ${layout}@${n}³`)).toBe(true); // emulated at least
      }
      for (const format of ['int8', 'int4']) {
        const paths = report.rows.filter((r) => r.name === `intMatmul ${format}` && r.size === `${n}³`).map((r) => r.path);
        expect(paths).toContain('plain integer');
        if (gpu.capabilities.packed4x8IntegerDotProduct) expect(paths).toContain('dot4I8Packed');
        if (gpu.capabilities.subgroupMatrixI8) expect(paths).toContain('i8 subgroup matrices');
      }
      for (const name of ['hadamard', 'lsq quantize int4', 'hq quantize int4']) expect(names.has(`${name}@${n}×${n}`)).toBe(true);
    }
    expect(formatRows(report.rows).split('\n')).toHaveLength(report.rows.length + 2);
    // Every matmul row keeps each timed pass's time per dispatch; the row's time is their median.
    for (const r of report.rows.filter((x) => /matmul/i.test(x.name))) {
      const passes = String(r.extra?.passMicroseconds).split(' ').map(Number);
      expect(passes.length, `${r.name} ${r.path}`).toBe(quickOptions().kernelTiming.repeats);
      const median = [...passes].sort((a, b) => a - b)[passes.length >> 1]; // an odd count of passes
      expect(Math.abs(r.seconds * 1e6 - median) / median, `${r.name} ${r.path}`).toBeLessThan(1e-3); // 4 digits kept
    }
  });

  it('kernels with --int-paths: only the integer paths asked for', async () => {
    const report = await runBenchmarks(gpu, { ...parseBenchArgs(['--quick', '--sections', 'kernels', '--groups', 'int', '--int-paths', 'plain', '--sizes', '64']) });
    expectSound(report.rows);
    expect(report.rows.map((r) => `${r.name} ${r.path}`)).toEqual(['intMatmul int8 plain integer', 'intMatmul int4 plain integer']);
    // Paths not asked for are neither run nor reported as skipped.
    expect(report.skipped.filter((x) => /intMatmul (dot4|subgroup)/.test(x.name))).toEqual([]);
  });

  it('ceilings: every instruction kernel the adapter offers is checked exactly and timed; the others are skipped with the reason', async () => {
    const report = await runBenchmarks(gpu, { ...quickOptions(), sections: ['ceilings'] });
    expect(unexpectedSkips(report)).toEqual([]);
    expectSound(report.rows);
    const names = report.rows.map((r) => `${r.name}: ${r.path.split(':')[0]}`);
    expect(names).toContain('ceiling f32 fma: registers');
    expect(names).toContain("ceiling f32 fma: the tiled kernel's inner loop");
    if (gpu.capabilities.packed4x8IntegerDotProduct) expect(names.filter((n) => n.startsWith('ceiling dot4I8Packed'))).toHaveLength(4);
    const matrixRows = names.filter((n) => n.startsWith('ceiling subgroup-matrix')).length;
    expect(matrixRows + report.skipped.filter((s) => s.name.startsWith('ceiling subgroup-matrix')).length).toBe(4);
    for (const r of report.rows) expect(Number(r.extra?.operationsPerRun)).toBeGreaterThan(0);
  });

  it('training: every precision takes timed steps with sane losses, and reports its GPU memory', async () => {
    const report = await runBenchmarks(gpu, { ...quickOptions(), sections: ['train'] });
    expect(unexpectedSkips(report)).toEqual([]);
    expectSound(report.rows);
    expect(report.rows.map((r) => r.name)).toEqual(['train fp32', 'train fp16', 'train int8', 'train int4']);
    for (const r of report.rows) {
      expect(r.gpuMemoryBytes).toBeGreaterThan(0);
      expect(r.stepsPerSecond! * Number(r.extra!.tokensPerStep)).toBeCloseTo(r.value, 6);
    }
  });

  it('attention: both kernels (the fused one also in place), forward and backward, are checked against float64 and timed', async () => {
    const report = await runBenchmarks(gpu, { ...quickOptions(), sections: ['attention'] });
    expect(unexpectedSkips(report)).toEqual([]);
    expectSound(report.rows);
    const names = report.rows.map((r) => `${r.name} ${r.path.split(/:/)[0]}`).sort();
    expect(names).toEqual([
      'attention backward fused (FlashAttention)', 'attention backward fused in place (∇q, ∇k, ∇v written into ∇qkv)', 'attention backward separate',
      'attention forward fused (FlashAttention)', 'attention forward fused in place (q, k, v read inside qkv, out written by token)', 'attention forward separate',
    ]);
  });

  it('tune: the matmul tile sweep checks, then times, the built-in kernel and a candidate in every layout', async () => {
    const report = await runTuneBench(gpu, parseTuneArgs(['--quick']));
    expect(report.skipped).toEqual([]);
    expect(tuneFailures(report)).toEqual([]);
    expect(report.results.map((r) => r.problem)).toEqual(['64³']);
    const { tuning } = report.results[0];
    for (const layout of ['NT', 'NN', 'TN'] as const) {
      const l = tuning.layouts[layout]!;
      expect(l.candidates.map((c) => c.name)).toEqual(['built-in', '64x64x16_t4x4_v4_db']);
      for (const c of l.candidates) {
        expect(c.check, `${layout} ${c.name}`).toMatch(/vs float64/);
        expect(Number.isFinite(c.tflops) && c.tflops! > 0, `${layout} ${c.name}: ${c.tflops}`).toBe(true);
      }
    }
    // A header and a separator, then one row per candidate and layout.
    expect(formatTuneReport(report).split('\n').filter((l) => l.startsWith('| ')).length).toBe(2 + 3 * 2);
  });

  it('peer: the TF.js GPT computes the engine\'s loss on the engine\'s weights, then trains', async () => {
    const report = await runBenchmarks(gpu, { ...quickOptions(), sections: ['train', 'peer'], precisions: ['fp32'] });
    expect(unexpectedSkips(report)).toEqual([]);
    expectSound(report.rows);
    const peer = report.rows.find((r) => r.section === 'peer');
    expect(peer, 'no TF.js row').toBeDefined();
    expect(String(peer!.extra?.ratio)).toMatch(/^ours fp32 \/ TF\.js = \d/);
  });
});

describe('bench flags', () => {
  it('defaults to the issue\'s sizes and models; --quick to tiny ones; lists parse', () => {
    const full = parseBenchArgs([]);
    expect(full.sizes).toEqual(DEFAULT_SIZES);
    expect(full.models.map((m) => m.name)).toEqual(Object.keys(TRAIN_MODELS));
    for (const m of full.models.filter((m) => m.name !== 'small')) {
      expect(m.batchSize * m.contextLength).toBe(8192);
      expect(m.dFF).toBe(4 * m.dModel);
    }
    const q = parseBenchArgs(['--quick', '--sizes', '32,48', '--precisions', 'fp32,int4', '--sections', 'kernels', '--out', 'x.json']);
    expect(q).toMatchObject({ quick: true, sizes: [32, 48], precisions: ['fp32', 'int4'], sections: ['kernels'], out: 'x.json', checkSamples: 0 });
    expect(full.intPaths).toBeNull();
    expect(parseBenchArgs(['--int-paths', 'subgroup-matrix,plain']).intPaths).toEqual(['subgroup-matrix', 'plain']);
  });

  it('rejects bad input with a message that says what to change', () => {
    expect(() => parseBenchArgs(['--sizes', '0,64'])).toThrow(CliError);
    expect(() => parseBenchArgs(['--precisions', 'fp8'])).toThrow(/choose from/);
    expect(() => parseBenchArgs(['--models', 'huge'])).toThrow(/d256/);
    expect(() => parseBenchArgs(['--hadamard-block', '24'])).toThrow(/power of two/);
    expect(() => parseBenchArgs(['--int-paths', 'dp4a'])).toThrow(/--int-paths: unknown dp4a; choose from subgroup-matrix, dot4, plain/);
    expect(() => parseBenchArgs(['--nope'])).toThrow(CliError);
  });

  it('tune: defaults to every candidate at 4096³; rejects bad lists saying what to give', () => {
    const o = parseTuneArgs([]);
    expect(o.problems).toEqual([{ kind: 'square', n: 4096 }]);
    expect(o.layouts).toEqual(['NT', 'NN', 'TN']);
    expect(parseTuneArgs(['--linear', '8192x2048x8192', '--layouts', 'TN', '--candidates', '128x128x8_t8x8_v4_db']).problems).toEqual([{ kind: 'linear', rows: 8192, dIn: 2048, dOut: 8192 }]);
    expect(() => parseTuneArgs(['--sizes', '0'])).toThrow(/--sizes takes a positive integer/);
    expect(() => parseTuneArgs(['--linear', '8192x2048'])).toThrow(/ROWSxDINxDOUT/);
    expect(() => parseTuneArgs(['--sizes', '64', '--linear', '1x2x3'])).toThrow(/not both/);
    expect(() => parseTuneArgs(['--layouts', 'NT,XX'])).toThrow(/unknown XX; choose from NT, NN, TN/);
    expect(() => parseTuneArgs(['--candidates', 'nope'])).toThrow(/unknown nope; choose from 64x64x16/);
    expect(() => parseTuneArgs(['--nope'])).toThrow(CliError);
  });
});
