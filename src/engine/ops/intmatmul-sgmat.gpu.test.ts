// The multi-subgroup integer kernels (ops/intmatmul-sgmat.ts subgroupMatrixTiledWgsl) need
// chromium-experimental-subgroup-matrix, which CPU adapters do not offer: their products are checked
// exactly against integer sums by the kernel bench on a GPU that has them (`npm run bench -- --sections
// int-tilings`), before anything is timed. What can be checked here: every tiling's code is WGSL that
// compiles (with the matrix operations replaced by stand-ins of the same shape: the control flow,
// barriers, indexing and workgroup memory are the kernel's own), and its workgroup memory is what
// sgmatWorkgroupBytes reports (what the path choice compares with the device's limit).
import { beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../gpu/device';
import { testGpu } from '../gpu/test-device';
import { SGMAT_TILINGS, describeSgmatTiling, sgmatWorkgroupBytes, subgroupMatrixTiledWgsl } from './intmatmul-sgmat';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await testGpu();
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
  for (const tiling of SGMAT_TILINGS) {
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
