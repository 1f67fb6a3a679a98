// One WebGPU device per test file (Node, Dawn on the machine's Vulkan driver). Tests fail, not skip,
// when there is none: the engine's tests are the point of the suite (README, "System packages").
import type { GpuContext } from './device';
import { acquireNodeGpu } from './node';

let ctx: Promise<GpuContext> | null = null;

export function testGpu(): Promise<GpuContext> {
  ctx ??= acquireNodeGpu();
  return ctx;
}

/** A device of its own (not the file's shared one), for tests that lose or destroy it. */
export function freshTestGpu(): Promise<GpuContext> {
  return acquireNodeGpu();
}
