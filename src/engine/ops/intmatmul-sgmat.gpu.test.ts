// The multi-subgroup integer kernels (ops/intmatmul-sgmat.ts subgroupMatrixTiledWgsl) need
// chromium-experimental-subgroup-matrix, which CPU adapters do not offer. Two checks run here:
// - every tiling's code, with the matrix operations emulated per invocation (below), computes exact
//   integer products of codes packed here, so the staging (16-byte loads, INT4 widening, padded rows,
//   rotated stores, double buffering), the K loop, the guards of partial tiles and the epilogue are the
//   kernel's own and are checked against float64 sums; only the matrix instructions are stand-ins;
// - the code with plain stand-ins compiles, and its workgroup memory is what sgmatWorkgroupBytes reports
//   (what the path choice compares with the device's limit).
// On a GPU that has the matrices, the kernel bench checks each kernel against exact integer sums before
// timing it (`npm run bench -- --groups int --int-tilings`).
import { beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { f32 } from '../gpu/kernels';
import { testGpu } from '../gpu/test-device';
import { type GpuHarness, TAIL, buildChecked, emulatedMatrixWgsl, expectExact, expectIntEpilogue, gpuHarness, roundF32, withoutTail } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import { SGMAT_EXPERIMENTAL_TILINGS, SGMAT_TILINGS, type SubgroupMatrixTiling, describeSgmatTiling, sgmatWorkgroupBytes, subgroupMatrixIntMatmulWgsl, subgroupMatrixTiledWgsl } from './intmatmul-sgmat';
import { type CodeFormat, packedWordsPerRow } from './quant';

let gpu: GpuContext;
let h: GpuHarness;
beforeAll(async () => {
  gpu = await testGpu();
  h = await gpuHarness();
});

/**
 * The kernel with the matrix operations emulated by plain WGSL, following the WGSL subgroup-matrix
 * definitions the kernels rely on: offsets and strides count i32 words of 4 int8 lanes; a left matrix
 * (16 rows × 32 codes, row-major) has row r at offset + r·stride of tile_a; a right matrix (32 × 16,
 * column-major) has column c at offset + c·stride of tile_b; a row-major store of a 16×16 result puts
 * entry (r, c) at offset + 16r + c. Invocation `lane` of a subgroup (invocation index / 32, as on the GPUs
 * that offer the matrices) holds entries lane + 32q (q < 8) of each result, so every entry is written
 * once, by one invocation, and the epilogue's read-back is the kernel's own. A "loaded" matrix is its
 * place (offset, stride), read when multiplied: the kernels multiply right after loading, with no store
 * to the tiles between.
 */
function withEmulatedMatrices(code: string): string {
  const stores = [...new Set([...code.matchAll(/subgroupMatrixStore<row_major>\(&(\w+)/g)].map((m) => m[1]))];
  const body = code
    .replace('enable chromium_experimental_subgroup_matrix;', '')
    .replace('enable subgroups;', '')
    .replace(', @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {', ') {\n  let sg = li / 32u;\n  let lane = li % 32u;\n  emu_lane = lane;\n  emu_n = select(8u, 7u, p.M == 0xffffffffu);')
    .replace('@builtin(local_invocation_index) li: u32) {\n  let row0', '@builtin(local_invocation_index) li: u32) {\n  emu_lane = li;\n  emu_n = select(8u, 7u, p.M == 0xffffffffu);\n  let row0')
    .replaceAll('subgroup_matrix_result<i32, 16, 16>()', 'array<i32, 8>()')
    .replace(/subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>\(&tile_a, /g, 'vec2<u32>(')
    .replace(/subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>\(&tile_b, /g, 'vec2<u32>(')
    .replaceAll('subgroupMatrixMultiplyAccumulate(', 'emu_mma(')
    .replace(/subgroupMatrixStore<row_major>\(&(\w+), (\w+), (\w+), 16u\);/g, 'emu_store_$1($2, $3);');
  return `${body}
${emulatedMatrixWgsl({ left: 'tile_a', right: 'tile_b', stores })}`;
}

/** A·Bᵀ of integer codes in float64 (exact: the sums are far below 2^53). */
function product(a: Int32Array, b: Int32Array, M: number, N: number, K: number): Float64Array {
  return ref.matmul(Float64Array.from(a), Float64Array.from(b), M, K, N, false, true);
}

/** One kernel per way of stepping through K (CPU adapters take one to two minutes to compile each emulated
 *  kernel, so not every tiling of SGMAT_TILINGS): the single-subgroup kernel (its own generator); four
 *  subgroups with 32-code slices, with 64-code slices (two matrix steps per slice in two 32-code planes, the
 *  last slice half past the row), with 128-code slices (four planes, INT8 vectors filling half a plane row;
 *  the last slice a quarter inside the row), and double-buffered; INT4 codes (widened while staged) and INT8 codes between them. */
const KERNELS: { name: string; tiling?: SubgroupMatrixTiling; format: CodeFormat }[] = [
  { name: 'single-subgroup kernel (64×64 tile, K slices of 32, next slice prefetched)', format: 'int4' },
  ...([
    [{ subgroupsM: 2, subgroupsN: 2, sliceK: 32 }, 'int8'],
    [{ subgroupsM: 2, subgroupsN: 2, sliceK: 64 }, 'int4'],
    [{ subgroupsM: 2, subgroupsN: 2, sliceK: 128 }, 'int8'],
    [{ subgroupsM: 2, subgroupsN: 2, sliceK: 32, doubleBuffer: true }, 'int8'],
  ] as [SubgroupMatrixTiling, CodeFormat][]).map(([tiling, format]) => ({ name: describeSgmatTiling(tiling), tiling, format })),
];

/** Compiling an emulated kernel on a CPU adapter (measured 70–100 s on 2 cores with lavapipe). */
const EMULATED_TIMEOUT_MS = 400_000;

describe('integer kernels on subgroup matrices, the matrix operations emulated', () => {
  // K a multiple of 32 (whole 16-byte vectors in both formats): 5 slices of 32 codes, 2½ of 64 (the last
  // half past the row); M and N across two 64-row tiles, partial tiles in both.
  const shapes: [number, number, number][] = [
    [70, 90, 160],
  ];
  it('every kernel emulated here is one the engine has', () => {
    for (const { tiling } of KERNELS) if (tiling) expect([...SGMAT_TILINGS, ...SGMAT_EXPERIMENTAL_TILINGS]).toContainEqual(tiling);
  });
  for (const { name, tiling, format } of KERNELS) {
    it(`${name}, ${format}: exact sums, then alpha·|sA|·|sB|·r[m]·sum + bias + C`, async () => {
      const int8Codes = format === 'int8';
      const code = withEmulatedMatrices(tiling ? subgroupMatrixTiledWgsl({ int8Codes, ...tiling }) : subgroupMatrixIntMatmulWgsl({ int8Codes, prefetch: true }));
      expect(code).not.toMatch(/subgroup_?[mM]atrix|subgroup_id/);
      expect(code).toContain('emu_lane = l');
      const shader = { name: `emulated_${name}_${format}`, code };
      const [tileM, tileN] = tiling ? [64 * tiling.subgroupsM, 64 * tiling.subgroupsN] : [64, 64];
      for (const [M, N, K] of shapes) {
        const label = `${M}×${N}×${K}`;
        const [lo, hi] = format === 'int4' ? [-8, 8] : [-128, 128];
        const rng = new SeededRandom(2200 + M + 3 * N + 7 * K + (int8Codes ? 1 : 0));
        const a = rng.intArray(M * K, lo, hi);
        const b = rng.intArray(N * K, lo, hi);
        for (let k = 0; k < K; k++) [a[k], b[k], b[K + k]] = [lo, lo, hi - 1]; // the largest sums
        const words = packedWordsPerRow(K, format);
        const ta = h.upload([M, words], ref.packCodeRows(a, M, K, int8Codes ? 8 : 4), 'A codes');
        const tb = h.upload([N, words], ref.packCodeRows(b, N, K, int8Codes ? 8 : 4), 'B codes');
        const steps = h.upload([4], [1, -1, -0.0371, 0.0123], 'steps'); // |s| is used
        const [sA, sB, alpha] = [Math.fround(0.0371), Math.fround(0.0123), Math.fround(1.75)];
        const rows = roundF32(rng.normalArray(M, 1));
        const bias = roundF32(rng.normalArray(N, 1));
        const c0 = roundF32(rng.normalArray(M * N, 3));
        const cInt = h.empty([M * N + TAIL], 'C integer');
        const cFull = h.upload([M * N + TAIL], [...c0, ...new Array(TAIL).fill(NaN)], 'C');
        const tRows = h.upload([M], rows, 'row scales');
        const tBias = h.upload([N], bias, 'bias');
        const dispatch = (c: typeof cInt, full: boolean) =>
          h.kernels.dispatch({
            shader, entry: 'main', label,
            uniforms: [M, N, words, f32(full ? alpha : 1), full ? 1 : 0, full ? 1 : 0, full ? 2 : 0, full ? 3 : 1, full ? 1 : 0],
            bindings: [ta, tb, steps, steps, c, tBias, tRows],
            workgroups: [Math.ceil(N / tileN), Math.ceil(M / tileM), 1],
          });
        await h.run(await buildChecked(h.device, () => [dispatch(cInt, false), dispatch(cFull, true)]));
        const sums = product(a, b, M, N, K);
        expectExact(`${label}: A·Bᵀ`, withoutTail('C', await h.read(cInt), M * N), sums);
        const got = withoutTail('C', await h.read(cFull), M * N);
        expectIntEpilogue(label, got, sums, { N, scale: Math.fround(Math.fround(alpha * sA) * sB), rows, bias, c0 });
      }
    }, EMULATED_TIMEOUT_MS);
  }
});

/** The kernel with each matrix operation replaced by a plain function that reads and writes the same
 *  workgroup arrays at the same offsets (so indexing and uniformity are still checked). */
function withStandIns(code: string): string {
  const body = code
    .replace('enable chromium_experimental_subgroup_matrix;', '')
    .replaceAll('subgroup_matrix_result<i32, 16, 16>()', 'vec4<i32>()')
    .replace(/subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>\(&(\w+), /g, 'stand_in_load($1[0], ')
    .replace(/subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>\(&(\w+), /g, 'stand_in_load($1[0], ')
    .replaceAll('subgroupMatrixMultiplyAccumulate(', 'stand_in_mma(')
    .replace(/subgroupMatrixStore<row_major>\(&(\w+), (\w+), (\w+), 16u\);/g, '$1[$2] = stand_in_store($3);');
  return `${body}
fn stand_in_load(first: i32, offset: u32, stride: u32) -> vec4<i32> { return vec4<i32>(first, i32(offset), i32(stride), 0); }
fn stand_in_mma(l: vec4<i32>, r: vec4<i32>, acc: vec4<i32>) -> vec4<i32> { return acc + l * r; }
fn stand_in_store(acc: vec4<i32>) -> i32 { return acc.x + acc.y + acc.z + acc.w; }
`;
}

describe('multi-subgroup integer kernels (subgroup matrices)', () => {
  for (const tiling of [...SGMAT_TILINGS, ...SGMAT_EXPERIMENTAL_TILINGS]) {
    for (const int8Codes of [false, true]) {
      it(`${describeSgmatTiling(tiling)}, ${int8Codes ? 'INT8' : 'INT4'} codes: compiles with stand-ins; valid where its workgroup memory fits`, async () => {
        const code = subgroupMatrixTiledWgsl({ int8Codes, ...tiling });
        expect(code).toContain('subgroupMatrixMultiplyAccumulate(');
        const stood = withStandIns(code);
        expect(stood).not.toMatch(/subgroup_?[mM]atrix/);
        const module = gpu.device.createShaderModule({ code: stood });
        const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
        expect(errors.map((m) => `${m.lineNum}: ${m.message}`)).toEqual([]);
        gpu.device.pushErrorScope('validation');
        gpu.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
        const error = await gpu.device.popErrorScope();
        const bytes = sgmatWorkgroupBytes(tiling);
        // The pipeline is valid exactly when its workgroup memory fits this device.
        expect(error === null).toBe(bytes <= gpu.device.limits.maxComputeWorkgroupStorageSize);
      });
    }
  }
});
