// Running a few dispatches outside the training step and waiting for them, with WebGPU's errors turned into
// exceptions: what start-up tuning needs to try a kernel that may not compile or run on this device.
import { type Dispatch, recordDispatches } from './kernels';

/** Records the dispatches into one pass, submits it and waits for the queue. */
export async function submitAndWait(device: GPUDevice, work: readonly Dispatch[], label: string): Promise<void> {
  const encoder = device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label });
  recordDispatches(pass, work);
  pass.end();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
}

/** Runs `body` inside validation, internal and out-of-memory error scopes; the first error any of them
 *  caught is thrown (its first lines), as is anything `body` throws. */
export async function withErrorScopes<T>(device: GPUDevice, body: () => Promise<T> | T): Promise<T> {
  device.pushErrorScope('validation');
  device.pushErrorScope('internal');
  device.pushErrorScope('out-of-memory');
  let out: T | undefined;
  let thrown: unknown = null;
  try {
    out = await body();
  } catch (e) {
    thrown = e;
  }
  const oom = await device.popErrorScope();
  const internal = await device.popErrorScope();
  const invalid = await device.popErrorScope();
  if (thrown) throw thrown;
  const error = invalid ?? internal ?? oom;
  if (error) throw new Error(error.message.split('\n').slice(0, 3).join(' '));
  return out as T;
}
