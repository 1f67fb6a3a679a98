// Start-up choice of the integer product's kernel (the fast-engine issue: "the choice made at start-up from
// the adapter's capabilities and limits and shown to the user"). The capabilities say which paths can run
// (subgroup matrices, dot4I8Packed, plain integer math) and the limits which subgroup-matrix tilings fit;
// which of them is fastest for a run's shapes is measured here. Every candidate is first checked on a small
// problem whose exact result is known (integer codes with power-of-two step sizes: every product and sum
// is exact in f32), so a kernel that compiles but computes something else on this device is dropped with
// the reason and never chosen; the default (what intMatmul runs without a choice) is always a candidate,
// and something else is chosen only if it is faster by a margin.
import { Kernels } from '../gpu/kernels';
import { submitAndWait, withErrorScopes } from '../gpu/submit';
import { GpuMemory, readTensor, writeTensor } from '../gpu/memory';
import { PassTimer, type TimingMethod, type TimingOptions } from '../gpu/timing';
import { DOT4_TILINGS, describeDot4Tiling, dot4TilingProblem } from './intmatmul-dot4';
import { SGMAT_BASE_TILING, SGMAT_TILINGS, describeSgmatTiling, sgmatWorkgroupBytes } from './intmatmul-sgmat';
import { type CodeFormat, type IntMatmulChoice, intMatmul, intMatmulPath, intMatmulPathName, intMatmulPaths, packedWordsPerRow, subgroupMatrixFits } from './quant';

export interface IntProductShape {
  M: number;
  N: number;
  K: number;
  format: CodeFormat;
}

export interface IntCandidateResult {
  choice: IntMatmulChoice;
  name: string;
  /** Over the shapes: 2·Σ M·N·K / seconds / 1e12; null when dropped. */
  tops: number | null;
  dropped?: string;
  check?: string;
}

export interface IntMatmulTuning {
  /** The kernel to use (setIntMatmulChoice); the default's when nothing beat it. */
  chosen: IntMatmulChoice;
  /** The default first, then the other candidates. */
  candidates: IntCandidateResult[];
  shapes: IntProductShape[];
  method: TimingMethod;
  seconds: number;
  /** Set when the candidates were only the default and an earlier tuning's remembered choice
   *  (train/startup-tuning.ts): when that tuning ran (ISO date). */
  remembered?: string;
}

export function describeIntChoice(c: IntMatmulChoice): string {
  if (c.path === 'subgroup-matrix') return `${intMatmulPathName(c.path)}, ${describeSgmatTiling(c.tiling ?? SGMAT_BASE_TILING)}`;
  return c.dot4Tiling ? `${intMatmulPathName(c.path)}, ${describeDot4Tiling(c.dot4Tiling)}` : intMatmulPathName(c.path);
}

/** Every kernel this device can run: each path its capabilities name, the subgroup-matrix one in every
 *  tiling that fits its workgroup memory, and where the dot4 path is the fastest offered (no subgroup
 *  matrices: today's browsers without flags) its generated tilings too (on tensor cores they are 3× slower
 *  and would only lengthen the start-up). The default (intMatmul without a choice) comes first. */
export function intMatmulCandidates(k: Kernels): IntMatmulChoice[] {
  const out: IntMatmulChoice[] = [];
  const paths = intMatmulPaths(k.capabilities);
  for (const path of paths) {
    if (path === 'subgroup-matrix') {
      for (const tiling of SGMAT_TILINGS) if (sgmatWorkgroupBytes(tiling) <= k.device.limits.maxComputeWorkgroupStorageSize) out.push({ path, tiling });
      continue;
    }
    out.push({ path });
    if (path === 'dot4' && paths[0] === 'dot4') {
      for (const dot4Tiling of DOT4_TILINGS) if (dot4TilingProblem(dot4Tiling, k.device.limits) === null) out.push({ path, dot4Tiling });
    }
  }
  const first = intMatmulPath(k.capabilities);
  const isDefault = (c: IntMatmulChoice) => c.path === first && !c.dot4Tiling && (c.path !== 'subgroup-matrix' || c.tiling === SGMAT_BASE_TILING);
  return [...out.filter(isDefault), ...out.filter((c) => !isDefault(c))];
}

/** Two's-complement code j of a packed row (independent of the kernels' unpacking). */
function codeAt(words: Uint32Array, rowStart: number, j: number, format: CodeFormat): number {
  const bits = format === 'int4' ? 4 : 8;
  const perWord = 32 / bits;
  const field = (words[rowStart + Math.floor(j / perWord)] >>> (bits * (j % perWord))) & ((1 << bits) - 1);
  return field >= 1 << (bits - 1) ? field - (1 << bits) : field;
}

function randomWords(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let s = (seed * 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s >>> 0;
  }
  return out;
}

/** The exact check of one candidate in one code format: 150 × 170 outputs (partial tiles of every
 *  tiling), K = 96 (three 32-code slices, one and a half 64-code ones), steps 0.5 and −0.25 (|s| is used). */
async function checkCandidate(k: Kernels, memory: GpuMemory, choice: IntMatmulChoice, format: CodeFormat): Promise<string | null> {
  const M = 150;
  const N = 170;
  const K = 96;
  const words = packedWordsPerRow(K, format);
  const aw = randomWords(M * words, format === 'int4' ? 11 : 13);
  const bw = randomWords(N * words, format === 'int4' ? 17 : 19);
  const t = (n: number, label: string) => memory.tensor([n], label);
  const a = t(M * words, 'tune.a');
  const b = t(N * words, 'tune.b');
  const sa = t(1, 'tune.step_a');
  const sb = t(1, 'tune.step_b');
  const c = t(M * N + 16, 'tune.c');
  writeTensor(k.device, a, aw);
  writeTensor(k.device, b, bw);
  writeTensor(k.device, sa, new Float32Array([0.5]));
  writeTensor(k.device, sb, new Float32Array([-0.25]));
  writeTensor(k.device, c, new Float32Array(M * N + 16).fill(NaN));
  await withErrorScopes(k.device, async () => submitAndWait(k.device, [intMatmul(k, { label: 'tune.check', a, b, stepA: sa, stepB: sb, c, M, N, K, format, path: choice.path, tiling: choice.tiling, dot4Tiling: choice.dot4Tiling })], 'intmatmul-tune'));
  const got = await readTensor(k.device, c);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let x = 0; x < K; x++) sum += codeAt(aw, i * words, x, format) * codeAt(bw, j * words, x, format);
      if (got[i * N + j] !== 0.125 * sum) return `${format}: C[${i}, ${j}] = ${got[i * N + j]}, exact ${0.125 * sum}`;
    }
  }
  for (let i = M * N; i < got.length; i++) if (!Number.isNaN(got[i])) return `${format}: wrote past C`;
  return null;
}

export interface TuneIntMatmulOptions {
  shapes: readonly IntProductShape[];
  /** Default intMatmulCandidates(k). */
  candidates?: readonly IntMatmulChoice[];
  timing?: Partial<TimingOptions>;
  /** Chosen over the default only if at least this many times as fast (default 1.02). */
  minSpeedup?: number;
  log?: (line: string) => void;
}

export async function tuneIntMatmul(k: Kernels, o: TuneIntMatmulOptions): Promise<IntMatmulTuning> {
  const started = performance.now();
  const device = k.device;
  const candidates = o.candidates ?? intMatmulCandidates(k);
  if (candidates.length === 0) throw new RangeError('tuneIntMatmul: no candidates');
  const memory = new GpuMemory(device);
  const tk = new Kernels(device, memory, k.capabilities);
  const timer = new PassTimer(device, Boolean(k.capabilities.timestampQuery));
  const timing: TimingOptions = { warmups: 1, repeats: 3, targetPassSeconds: 0.01, maxPerPass: 50, ...o.timing };
  const formats = [...new Set(o.shapes.map((s) => s.format))];
  // Shapes every candidate can run (the subgroup-matrix path needs K in whole 16-byte vectors).
  const shapes = o.shapes.filter((s) => candidates.every((c) => c.path !== 'subgroup-matrix' || subgroupMatrixFits(s.K, s.format)));
  const results: IntCandidateResult[] = [];
  try {
    // Operands of the timed shapes, shared by the candidates.
    const operands = shapes.map((s) => {
      const words = packedWordsPerRow(s.K, s.format);
      const t = { a: memory.tensor([s.M * words], 'tune.time.a'), b: memory.tensor([s.N * words], 'tune.time.b'), c: memory.tensor([s.M * s.N], 'tune.time.c'), step: memory.tensor([1], 'tune.time.step') };
      writeTensor(device, t.a, randomWords(s.M * words, s.M + s.K));
      writeTensor(device, t.b, randomWords(s.N * words, s.N + s.K));
      writeTensor(device, t.step, new Float32Array([1]));
      return t;
    });
    const flops = shapes.reduce((a, s) => a + 2 * s.M * s.N * s.K, 0);
    // Checked and built first; then timed in two rounds, the second in reverse order, each candidate keeping
    // its faster round. On an H100 (2026-12-05) one start-up tuning timed every candidate 2–5× below its
    // speed in the kernel bench and chose a kernel 2.5× slower than the best: a slowdown over part of the
    // tuning then hits different candidates in the two rounds instead of deciding the choice.
    const timed: { result: IntCandidateResult; work: ReturnType<typeof intMatmul>[] }[] = [];
    for (const choice of candidates) {
      const name = describeIntChoice(choice);
      const result: IntCandidateResult = { choice, name, tops: null };
      results.push(result);
      try {
        for (const format of formats) {
          const wrong = await checkCandidate(tk, memory, choice, format);
          if (wrong) throw new Error(`wrong result: ${wrong}`);
        }
        result.check = `exact on ${formats.join(' and ')} codes (150×170×96)`;
        if (shapes.length === 0) continue;
        const work = await withErrorScopes(device, () => shapes.map((s, i) => intMatmul(tk, { label: `tune.${name}`, a: operands[i].a, b: operands[i].b, stepA: operands[i].step, stepB: operands[i].step, c: operands[i].c, M: s.M, N: s.N, K: s.K, format: s.format, path: choice.path, tiling: choice.tiling, dot4Tiling: choice.dot4Tiling })));
        timed.push({ result, work });
      } catch (e) {
        result.dropped = (e as Error).message;
        o.log?.(`integer products, ${name}: dropped (${result.dropped})`);
      }
    }
    for (const round of [timed, [...timed].reverse()]) {
      for (const { result, work } of round) {
        if (result.dropped !== undefined) continue;
        try {
          const time = await timer.time(work, timing);
          result.tops = Math.max(result.tops ?? 0, flops / time.seconds / 1e12);
        } catch (e) {
          result.dropped = (e as Error).message;
          result.tops = null;
          o.log?.(`integer products, ${result.name}: dropped (${result.dropped})`);
        }
      }
    }
    for (const { result } of timed) if (result.tops !== null) o.log?.(`integer products, ${result.name}: ${result.tops.toPrecision(3)} TOP/s`);
  } finally {
    timer.destroy();
    memory.destroy();
  }
  const base = results[0];
  let chosen = base.choice;
  if (base.tops !== null && base.dropped === undefined) {
    // The fastest of the others, against the default: with minSpeedup < 1 (a remembered choice) another
    // kernel stays chosen while it is within that margin of the default, even if the default is faster.
    const best = results.slice(1).filter((r) => r.tops !== null && r.dropped === undefined).sort((x, y) => y.tops! - x.tops!)[0];
    if (best && best.tops! >= (o.minSpeedup ?? 1.02) * base.tops) chosen = best.choice;
  }
  return { chosen, candidates: results, shapes, method: timer.method, seconds: (performance.now() - started) / 1000 };
}

/** For the kernel path: what runs and how fast against the default. */
export function summarizeIntTuning(t: IntMatmulTuning): string {
  const chosen = t.candidates.find((c) => c.choice === t.chosen);
  const base = t.candidates[0];
  const speed = (r: IntCandidateResult | undefined) => (r?.tops != null ? `${r.tops.toPrecision(3)} TOP/s` : '?');
  const remembered = t.remembered ? `; chosen by a tuning on ${t.remembered.slice(0, 10)}, checked and timed again` : '';
  if (chosen === base) return `integer products: ${base.name} (${speed(base)}${t.remembered ? remembered : `, fastest of ${t.candidates.length}`})`;
  return `integer products tuned at start-up: ${chosen?.name} (${speed(chosen)} vs ${speed(base)} for ${base.name}${remembered})`;
}
