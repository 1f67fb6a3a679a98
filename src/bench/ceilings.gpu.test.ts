// The ceiling kernels on subgroup matrices, run on a CPU adapter with each matrix operation emulated per
// invocation in plain WGSL (as the integer kernels' test does: each of a subgroup's 32 invocations owns
// entries lane + 32q, q < 8, of a 16×16 result), so their offsets, strides and trips are checked against the
// same exact JS sums the bench compares with on a GPU. The f32 and dot4I8Packed ceilings run natively in the
// quick bench test (bench.test.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import type { GeneratedShader } from '../engine/gpu/kernels';
import { Kernels } from '../engine/gpu/kernels';
import { GpuMemory } from '../engine/gpu/memory';
import { testGpu } from '../engine/gpu/test-device';
import { emulatedMatrixWgsl } from '../engine/gpu/test-utils';
import type { GpuContext } from '../engine/gpu/device';
import { CEILING_CASES } from './ceilings';
import { runOnce } from './kernels';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await testGpu();
});

/** The shader with subgroup-matrix loads, multiplies and stores replaced by per-invocation code reading and
 *  writing the same arrays at the same offsets. */
function emulated(s: GeneratedShader): GeneratedShader {
  const left = s.code.match(/subgroup_matrix_left<i8, 32, 16>, row_major>\(&(\w+),/)?.[1];
  const right = s.code.match(/subgroup_matrix_right<i8, 16, 32>, col_major>\(&(\w+),/)?.[1];
  if (!left || !right) throw new Error(`${s.name}: no matrix loads to emulate`);
  const setup = 'emu_lane = emu_li % 32u;\n  emu_n = select(8u, 7u, p.iterations == 0xffffffffu);';
  const code = s.code
    .replace('enable chromium_experimental_subgroup_matrix;', '')
    .replace('enable subgroups;', '')
    .replace('fn main() {', `fn main(@builtin(local_invocation_index) emu_li: u32) {\n  ${setup}`)
    .replace('fn main(@builtin(local_invocation_index) li: u32, @builtin(subgroup_id) sg: u32) {', `fn main(@builtin(local_invocation_index) li: u32) {\n  let emu_li = li;\n  let sg = li / 32u;\n  ${setup}`)
    .replaceAll('subgroup_matrix_result<i32, 16, 16>()', 'array<i32, 8>()')
    .replace(/subgroupMatrixLoad<subgroup_matrix_(left|right)<i8, (32, 16|16, 32)>, (row|col)_major>\(&\w+, /g, 'vec2<u32>(')
    .replaceAll('subgroupMatrixMultiplyAccumulate(', 'emu_mma(')
    .replace(/subgroupMatrixStore<row_major>\(&out, (.+?), (\w+), 16u\);/g, 'emu_store_out($1, $2);');
  expect(code).not.toMatch(/subgroup_?[mM]atrix|subgroup_id/);
  return { name: `emulated_${s.name}`, code: `${code}\n${emulatedMatrixWgsl({ left, right, stores: ['out'] })}` };
}

/** Compiling an emulated kernel on a CPU adapter (the integer kernels' emulated test: 70–100 s each). */
const EMULATED_TIMEOUT_MS = 400_000;

describe('subgroup-matrix ceilings, the matrix operations emulated', () => {
  for (const c of CEILING_CASES.filter((x) => x.needs === 'subgroupMatrix')) {
    it(`${c.path}: every result entry equals the exact sum`, async () => {
      const memory = new GpuMemory(gpu.device);
      try {
        const built = c.build(new Kernels(gpu.device, memory, gpu.capabilities), memory, 'quick', emulated);
        await runOnce(gpu.device, built.work);
        const check = await built.check();
        expect(check.ok, check.text).toBe(true);
      } finally {
        memory.destroy();
      }
    }, EMULATED_TIMEOUT_MS);
  }
});
