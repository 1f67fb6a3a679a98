// The generated dot4I8Packed kernels (ops/intmatmul-dot4.ts), every tiling, against integer sums computed
// here in float64 from codes packed here (independently of the kernels' unpacking): 16-byte and scalar
// code loads, vec4 and scalar C, partial tiles in M and N, K shorter than one slice and spanning several,
// and the epilogue (steps, alpha, row scales, bias, accumulation into C).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Capabilities } from '../gpu/device';
import { testGpu } from '../gpu/test-device';
import { type GpuHarness, TAIL, buildChecked, expectExact, expectIntEpilogue, gpuHarness, roundF32, withoutTail } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { DOT4_EXPERIMENTAL_TILINGS, DOT4_TILINGS, describeDot4Tiling, dot4IntMatmulShader, dot4TilingProblem, dot4Variant, dot4WorkgroupBytes } from './intmatmul-dot4';
import { type CodeFormat, intMatmul, packedWordsPerRow } from './quant';

let h: GpuHarness;
let capabilities: Capabilities;
beforeAll(async () => {
  h = await gpuHarness();
  capabilities = (await testGpu()).capabilities;
});

/** A·Bᵀ of integer codes in float64 (exact: the sums are far below 2^53). */
function product(a: Int32Array, b: Int32Array, M: number, N: number, K: number): Float64Array {
  return ref.matmul(Float64Array.from(a), Float64Array.from(b), M, K, N, false, true);
}

describe('generated dot4I8Packed integer kernels', () => {
  // [M, N, K]: K a multiple of 32 (16-byte loads in both formats) over several slices with partial tiles;
  // N not a multiple of 4 (scalar C) with K under one slice; K = 100 (scalar loads: rows of 13 / 25 words).
  const shapes: [number, number, number][] = [
    [150, 260, 320],
    [129, 67, 64],
    [70, 90, 100],
  ];
  for (const tiling of [...DOT4_TILINGS, ...DOT4_EXPERIMENTAL_TILINGS]) {
    for (const format of ['int4', 'int8'] as CodeFormat[]) {
      it(`${describeDot4Tiling(tiling)}, ${format}: exact sums, then alpha·|sA|·|sB|·r[m]·sum + bias + C`, async () => {
        expect(capabilities.packed4x8IntegerDotProduct, 'the adapter lacks packed_4x8_integer_dot_product').toBe(true);
        for (const [M, N, K] of shapes) {
          const label = `${M}×${N}×${K}`;
          const [lo, hi] = format === 'int4' ? [-8, 8] : [-128, 128];
          const rng = new SeededRandom(1100 + M + 3 * N + 7 * K + (format === 'int8' ? 1 : 0));
          const a = rng.intArray(M * K, lo, hi);
          const b = rng.intArray(N * K, lo, hi);
          // The largest sums: a row of the lowest code against the lowest and against the highest.
          for (let k = 0; k < K; k++) {
            a[k] = lo;
            b[k] = lo;
            b[K + k] = hi - 1;
          }
          const words = packedWordsPerRow(K, format);
          const ta = h.upload([M, words], ref.packCodeRows(a, M, K, format === 'int4' ? 4 : 8), 'A codes');
          const tb = h.upload([N, words], ref.packCodeRows(b, N, K, format === 'int4' ? 4 : 8), 'B codes');
          const one = h.upload([1], [1], 'one');
          const minusOne = h.upload([1], [-1], 'minus one');
          const [sA, sB, alpha] = [Math.fround(0.0371), Math.fround(0.0123), Math.fround(1.75)];
          const tsA = h.upload([1], [-sA], 'sA'); // stored negative: |s| is used
          const tsB = h.upload([1], [sB], 'sB');
          const rows = roundF32(rng.normalArray(M, 1));
          const bias = roundF32(rng.normalArray(N, 1));
          const c0 = roundF32(rng.normalArray(M * N, 3));
          const cInt = h.empty([M * N + TAIL], 'C integer');
          const cFull = h.upload([M * N + TAIL], [...c0, ...new Array(TAIL).fill(NaN)], 'C');
          const ds = await buildChecked(h.device, () => [
            intMatmul(h.kernels, { label: 'int', a: ta, b: tb, stepA: one, stepB: minusOne, c: cInt, M, N, K, format, path: 'dot4', dot4Tiling: tiling }),
            intMatmul(h.kernels, {
              label: 'full', a: ta, b: tb, stepA: tsA, stepB: tsB, c: cFull, M, N, K, format, path: 'dot4', dot4Tiling: tiling,
              alpha, rowScale: h.upload([M], rows, 'row scales'), bias: h.upload([N], bias, 'bias'), accumulate: true,
            }),
          ]);
          await h.run(ds);
          const sums = product(a, b, M, N, K);
          expectExact(`${label}: A·Bᵀ`, withoutTail('C', await h.read(cInt), M * N), sums);
          const full = withoutTail('C', await h.read(cFull), M * N);
          expectIntEpilogue(label, full, sums, { N, scale: Math.fround(Math.fround(alpha * sA) * sB), rows, bias, c0 });
        }
      });
    }
  }

  it('each tiling reports its workgroup memory; tilings that break a limit say which', () => {
    for (const t of [...DOT4_TILINGS, ...DOT4_EXPERIMENTAL_TILINGS]) {
      expect(dot4TilingProblem(t)).toBeNull();
      const bytes = dot4WorkgroupBytes(t);
      expect(dot4TilingProblem(t, { maxComputeWorkgroupStorageSize: bytes })).toBeNull();
      expect(dot4TilingProblem(t, { maxComputeWorkgroupStorageSize: bytes - 4 })).toMatch(/workgroup memory/);
      const code = dot4IntMatmulShader(t, dot4Variant({ N: 64, wordsPerRow: 8, int8Codes: true })).code;
      const declared = [...code.matchAll(/var<workgroup> \w+: array<vec4<u32>, (\d+)>/g)].reduce((s, m) => s + 16 * Number(m[1]), 0);
      expect(declared, describeDot4Tiling(t)).toBe(bytes);
    }
    expect(dot4TilingProblem({ tileM: 128, tileN: 128, threadM: 6, threadN: 8, sliceWords: 8, doubleBuffer: false })).toMatch(/multiples of 4/);
    expect(dot4TilingProblem({ tileM: 128, tileN: 128, threadM: 8, threadN: 8, sliceWords: 12, doubleBuffer: false })).toMatch(/multiple of 8 words/);
    expect(dot4TilingProblem({ tileM: 256, tileN: 128, threadM: 4, threadN: 4, sliceWords: 8, doubleBuffer: false }, { maxComputeInvocationsPerWorkgroup: 256 })).toMatch(/2048 invocations/);
  });
});
