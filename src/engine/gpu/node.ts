// WebGPU in Node through the `webgpu` npm package (Dawn). Node-only: the browser build never imports it.
import { create, globals } from 'webgpu';
import { acquireGpu, type GpuContext } from './device';

let installed = false;
/** The Dawn instance must stay referenced for as long as any device from it is used: when the garbage
 *  collector takes it, Dawn shuts down under the live device and the process crashes. */
let instance: GPU | null = null;

/** A device from Dawn. `flags` are Dawn toggles, e.g. 'enable-dawn-features=allow_unsafe_apis' to see
 *  experimental features such as subgroup matrices. */
export async function acquireNodeGpu(flags: string[] = []): Promise<GpuContext> {
  if (!installed) {
    Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, … as in a browser
    installed = true;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  instance ??= create(flags);
  return acquireGpu(instance, 'Node (the webgpu package, Dawn)');
}
