// The generated tiled f32 matmul (matmul-tiled.ts) against the float64 reference, for every layout, at
// sizes that are and are not multiples of 4 (the vec4 and the scalar variants) and not multiples of any
// tile, with the whole contract: alpha, bias, accumulate, batch. Tile configs are small here: each
// (config, layout, variant) is its own module, and lavapipe compiles them one by one on the CPU.
import { beforeAll, describe, expect, it } from 'vitest';
import { type GpuHarness, TAIL, buildChecked, gpuHarness, roundF32, withoutTail } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import {
  MATMUL_TILE_CANDIDATES,
  type MatmulTileConfig,
  describeTileConfig,
  tileConfigId,
  tileConfigProblem,
  tiledMatmul,
  tiledMatmulShader,
  tiledShaderName,
  tiledVariant,
} from './matmul-tiled';

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

/** Unit roundoff of f32. */
const U = 2 ** -24;

// Compile times on lavapipe (Mesa 25, LLVM 15, shader cache off): 1.2–2 s per module for the 4×4-per-thread
// configs, 3.5 s for 4×8 / 8×4, 4–5 s for LARGE's vec4 variant; the built-in matmul.wgsl `main` takes 3.4 s.
/** Double-buffered, vec4 loads: run in every layout and both variants. */
const SMALL_VEC_DB: MatmulTileConfig = { tileM: 16, tileN: 16, tileK: 4, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: true };
/** Two column strips (4×8 per thread) or two row strips (8×4), single-buffered. (A scalar epilogue, N not
 *  a multiple of 4, with two strips doubles lavapipe's compile time: 10 s for 8×8.) */
const STRIPS_N: MatmulTileConfig = { tileM: 32, tileN: 64, tileK: 4, threadM: 4, threadN: 8, vectorLoads: true, doubleBuffer: false };
const STRIPS_M: MatmulTileConfig = { tileM: 64, tileN: 32, tileK: 4, threadM: 8, threadN: 4, vectorLoads: true, doubleBuffer: false };
/** Non-square, and 16 vec4s of A per k-slice for 32 threads (half the threads load A). */
const UNEVEN_SINGLE: MatmulTileConfig = { tileM: 16, tileN: 32, tileK: 4, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: false };
/** Subgroups of 32 as 8×4 blocks of the 8×4 thread grid, k loop written out. */
const SUBGROUP_UNROLLED: MatmulTileConfig = { tileM: 32, tileN: 16, tileK: 4, threadM: 4, threadN: 4, vectorLoads: true, doubleBuffer: true, warpN: 4, unrollK: true };
const SCALAR_SINGLE: MatmulTileConfig = { tileM: 32, tileN: 16, tileK: 4, threadM: 8, threadN: 4, vectorLoads: false, doubleBuffer: false };
/** The cuBLAS-like shape the GPU candidates are built around: 256 threads, 8×8 per thread. */
const LARGE: MatmulTileConfig = { tileM: 128, tileN: 128, tileK: 8, threadM: 8, threadN: 8, vectorLoads: true, doubleBuffer: true, warpN: 8 };

const LAYOUTS = [
  { transA: false, transB: true, name: 'NT (forward)' },
  { transA: false, transB: false, name: 'NN (∇X)' },
  { transA: true, transB: false, name: 'TN (∇W)' },
  { transA: true, transB: true, name: 'TT' },
] as const;

interface Case {
  M: number;
  N: number;
  K: number;
  batch: number;
}

/**
 * Runs C = op(A)·op(B) (C pre-filled NaN: every entry must be written, none past the end), then
 * C = C0 + alpha·op(A)·op(B) + bias on fresh C0, and compares both with float64 entry by entry: the error
 * of an f32 sum of K products with fused multiply-adds is at most about K·u of Σ|a·b| (plus a u per
 * epilogue operation), so (K + 4)·u of each entry's magnitude bounds it; a lost or misplaced product is
 * of the order of the magnitude itself.
 */
async function checkConfig(config: MatmulTileConfig, transA: boolean, transB: boolean, { M, N, K, batch }: Case, seed: number): Promise<void> {
  const rng = new SeededRandom(seed);
  const a = roundF32(rng.normalArray(batch * M * K));
  const b = roundF32(rng.normalArray(batch * K * N));
  const bias = roundF32(rng.normalArray(N));
  const c0 = roundF32(rng.normalArray(batch * M * N, 2));
  const alpha = Math.fround(-0.6);
  const ta = h.upload([a.length], a, 'a');
  const tb = h.upload([b.length], b, 'b');
  const tbias = h.upload([N], bias, 'bias');
  const plain = h.empty([batch * M * N + TAIL], 'c.plain');
  const full = h.upload([batch * M * N + TAIL], [...c0, ...new Array(TAIL).fill(NaN)], 'c.full');
  const ds = await buildChecked(h.device, () => [
    tiledMatmul(h.kernels, { label: 'plain', a: ta, b: tb, c: plain, M, N, K, transA, transB, batch }, config),
    tiledMatmul(h.kernels, { label: 'full', a: ta, b: tb, c: full, M, N, K, transA, transB, batch, alpha, accumulate: true, bias: tbias }, config),
  ]);
  await h.run(ds);
  const gotPlain = withoutTail('plain C', await h.read(plain), batch * M * N);
  const gotFull = withoutTail('full C', await h.read(full), batch * M * N);
  const bound = (K + 4) * U;
  const what = `${tileConfigId(config)} transA ${transA} transB ${transB} ${batch}×${M}×${N}×${K}`;
  let worstPlain = 0;
  let worstFull = 0;
  for (let z = 0; z < batch; z++) {
    const as = a.subarray(z * M * K, (z + 1) * M * K);
    const bs = b.subarray(z * K * N, (z + 1) * K * N);
    const product = ref.matmul(as, bs, M, K, N, transA, transB);
    const magnitude = ref.matmul(as.map(Math.abs), bs.map(Math.abs), M, K, N, transA, transB);
    for (let i = 0; i < M * N; i++) {
      const at = z * M * N + i;
      const n = i % N;
      const ePlain = Math.abs(gotPlain[at] - product[i]) / magnitude[i];
      const expected = c0[at] + alpha * product[i] + bias[n];
      const eFull = Math.abs(gotFull[at] - expected) / (Math.abs(alpha) * magnitude[i] + Math.abs(c0[at]) + Math.abs(bias[n]));
      if (!(ePlain <= worstPlain)) {
        worstPlain = Number.isNaN(ePlain) ? Infinity : ePlain;
        expect(worstPlain, `${what}: C[${z}][${Math.floor(i / N)}, ${n}] = ${gotPlain[at]}, float64 ${product[i]}`).toBeLessThanOrEqual(bound);
      }
      if (!(eFull <= worstFull)) {
        worstFull = Number.isNaN(eFull) ? Infinity : eFull;
        expect(worstFull, `${what} (alpha, bias, accumulate): C[${z}][${Math.floor(i / N)}, ${n}] = ${gotFull[at]}, float64 ${expected}`).toBeLessThanOrEqual(bound);
      }
    }
  }
  if (process.env.GPU_TEST_REPORT) console.log(`[error] ${what}: ${worstPlain.toExponential(2)} / ${worstFull.toExponential(2)} (bound ${bound.toExponential(2)})`);
}

describe('generated tiled matmul vs float64', () => {
  // Odd sizes (scalar variant), multiples of 4 (vec4 variant), each over several tiles with partial ones,
  // K over several k-slices with a partial last one.
  const odd: Case = { M: 67, N: 45, K: 29, batch: 2 };
  const by4: Case = { M: 68, N: 44, K: 28, batch: 2 };
  let seed = 7000;
  const odds = ['odd sizes', odd] as const;
  const fours = ['multiples of 4', by4] as const;
  // NN with K odd and N a multiple of 4: A read as scalars, B and C as vec4.
  const mixed = ['K odd, N a multiple of 4', { M: 67, N: 44, K: 29, batch: 2 }] as const;
  type Run = readonly [MatmulTileConfig, (typeof LAYOUTS)[number], typeof odds | typeof fours | typeof mixed];
  const runs: Run[] = [
    // The three layouts of a linear layer in both variants; TT (no user yet) in one.
    ...LAYOUTS.slice(0, 3).flatMap((l) => [[SMALL_VEC_DB, l, odds] as const, [SMALL_VEC_DB, l, fours] as const]),
    [SMALL_VEC_DB, LAYOUTS[3], odds],
    // Each of the others where its own code path differs: A and B staged transposed (NN, NT) or not (TN).
    [STRIPS_N, LAYOUTS[1], mixed],
    [STRIPS_M, LAYOUTS[2], fours],
    [UNEVEN_SINGLE, LAYOUTS[0], fours],
    [UNEVEN_SINGLE, LAYOUTS[2], fours],
    [SUBGROUP_UNROLLED, LAYOUTS[0], odds],
    [SUBGROUP_UNROLLED, LAYOUTS[2], fours],
  ];
  for (const [config, l, [sizes, c]] of runs) {
    const s = seed++;
    it(`${tileConfigId(config)}, ${l.name}, ${sizes} ${c.batch}×${c.M}×${c.N}×${c.K}`, async () => {
      await checkConfig(config, l.transA, l.transB, c, s);
    });
  }

  // The large tile in its vec4 variant, in the two layouts that stage an operand transposed: each module
  // takes lavapipe seconds to compile. Partial tiles in M and N, and K over 3 slices with a partial one.
  for (const l of LAYOUTS.slice(0, 2)) {
    it(`${tileConfigId(LARGE)} (256 threads, 8×8 per thread), ${l.name}, 132×136×20`, async () => {
      await checkConfig(LARGE, l.transA, l.transB, { M: 132, N: 136, K: 20, batch: 2 }, 7100 + (l.transB ? 1 : 0));
    });
  }

  it('a product with K = 1 (one partial k-slice) and a single row', async () => {
    // All sizes odd: the modules of the odd-size NT and TN runs above.
    await checkConfig(SMALL_VEC_DB, false, true, { M: 1, N: 21, K: 1, batch: 1 }, 7300);
    await checkConfig(SMALL_VEC_DB, true, false, { M: 17, N: 3, K: 1, batch: 3 }, 7301);
  });
});

describe('tile configs and variants', () => {
  it('vec4 reads only where the contiguous dimension is a multiple of 4, chosen per dispatch', () => {
    const v = (M: number, N: number, K: number, transA: boolean, transB: boolean) => tiledVariant(SMALL_VEC_DB, { M, N, K, transA, transB });
    // A [M, K] is contiguous along K, A [K, M] along M; B [K, N] along N, B [N, K] along K; C along N.
    expect(v(8, 8, 6, false, false)).toMatchObject({ vecA: false, vecB: true, vecC: true });
    expect(v(8, 8, 6, true, true)).toMatchObject({ vecA: true, vecB: false, vecC: true });
    expect(v(6, 9, 8, false, true)).toMatchObject({ vecA: true, vecB: true, vecC: false });
    expect(tiledVariant(SCALAR_SINGLE, { M: 8, N: 8, K: 8 })).toMatchObject({ vecA: false, vecB: false, vecC: false });
    // Each variant is its own module under its own name.
    const names = new Set([v(8, 8, 8, false, false), v(8, 8, 6, false, false), v(8, 8, 8, true, false)].map((x) => tiledShaderName(SMALL_VEC_DB, x)));
    expect(names.size).toBe(3);
    expect(tiledMatmulShader(SMALL_VEC_DB, v(8, 8, 8, false, false)).name).not.toBe(tiledMatmulShader(SCALAR_SINGLE, v(8, 8, 8, false, false)).name);
  });

  it('rejects configs it cannot generate, and those over a device\'s limits, saying why', () => {
    expect(tileConfigProblem({ ...SMALL_VEC_DB, threadM: 6 })).toMatch(/multiples of 4/);
    expect(tileConfigProblem({ ...SMALL_VEC_DB, tileM: 18 })).toMatch(/whole number/);
    expect(tileConfigProblem({ ...SMALL_VEC_DB, tileK: 6 })).toMatch(/tileK/);
    expect(tileConfigProblem({ ...SMALL_VEC_DB, warpN: 8 })).toMatch(/subgroup tile/);
    expect(tileConfigProblem(LARGE, { maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupSizeX: 256 })).toMatch(/256 threads.*allows 128/);
    expect(tileConfigProblem({ ...LARGE, tileK: 16 }, { maxComputeWorkgroupStorageSize: 16384 })).toMatch(/32768 bytes.*16384/);
    expect(() => tiledMatmulShader({ ...SMALL_VEC_DB, threadN: 3 }, tiledVariant(SMALL_VEC_DB, { M: 4, N: 4, K: 4 }))).toThrow(/multiples of 4/);
    for (const c of [SMALL_VEC_DB, STRIPS_N, STRIPS_M, UNEVEN_SINGLE, SCALAR_SINGLE, SUBGROUP_UNROLLED, LARGE]) expect(tileConfigProblem(c)).toBeNull();
  });

  it('every GPU candidate is a valid config within 256 threads and 32 KiB, with a distinct id and a description', () => {
    const ids = new Set<string>();
    for (const c of MATMUL_TILE_CANDIDATES) {
      expect(tileConfigProblem(c, { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupStorageSize: 32768 })).toBeNull();
      ids.add(tileConfigId(c));
      expect(describeTileConfig(c)).toMatch(new RegExp(`^${c.tileM}×${c.tileN} tile`));
    }
    expect(ids.size).toBe(MATMUL_TILE_CANDIDATES.length);
  });

  it('keeps registers in named variables: no private arrays in the generated code', () => {
    for (const c of [...MATMUL_TILE_CANDIDATES, SMALL_VEC_DB, STRIPS_N, STRIPS_M, UNEVEN_SINGLE, SCALAR_SINGLE, SUBGROUP_UNROLLED]) {
      for (const l of LAYOUTS) {
        const { code } = tiledMatmulShader(c, tiledVariant(c, { M: 64, N: 64, K: 64, ...l }));
        // The only arrays are the storage bindings and the workgroup tiles.
        const arrays = code.split('\n').filter((line) => /array</.test(line) && !/var<(storage|workgroup)/.test(line));
        expect(arrays, tileConfigId(c)).toEqual([]);
        // One barrier per k step when double-buffered, two otherwise.
        const loop = code.slice(code.indexOf('for (var k0'));
        expect(loop.match(/workgroupBarrier\(\)/g)!.length, tileConfigId(c)).toBe(c.doubleBuffer ? 1 : 2);
      }
    }
  });
});
