// WebGPU in Node through the `webgpu` npm package (Dawn). Node-only: the browser build never imports it.
import { create, globals } from 'webgpu';
import { acquireGpu, type GpuContext } from './device';

let installed = false;
/** The Dawn instance must stay referenced for as long as any device from it is used: when the garbage
 *  collector takes it, Dawn shuts down under the live device and the process crashes. */
let instance: GPU | null = null;

/** Dawn toggles: its experimental features (subgroup matrices among them: the integer products on tensor
 *  cores), and with them exact GPU timestamps (Dawn rounds them to ~65 µs otherwise; that toggle sits
 *  behind allow_unsafe_apis) — what the bench and `train --profile` time with. */
export const DAWN_EXPERIMENTAL_FLAGS: readonly string[] = ['enable-dawn-features=allow_unsafe_apis'];
export const DAWN_TIMING_FLAGS: readonly string[] = [...DAWN_EXPERIMENTAL_FLAGS, 'disable-dawn-features=timestamp_quantization'];

/** A device from Dawn. `flags` are Dawn toggles, e.g. 'enable-dawn-features=allow_unsafe_apis' to see
 *  experimental features such as subgroup matrices. */
export async function acquireNodeGpu(flags: readonly string[] = []): Promise<GpuContext> {
  if (!installed) {
    Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, … as in a browser
    installed = true;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  instance ??= create([...flags]);
  return acquireGpu(instance, 'Node (the webgpu package, Dawn)');
}
