// Every GPU buffer of a model is created here at build time, so the step loop allocates nothing and the
// total can be shown to the user.
import { Tensor } from '../tensor';

/** Buffers the engine has created and not yet destroyed, over every device: what the soak benchmark
 *  (src/bench/soak.ts) samples to show that a long run allocates nothing per step. */
let live = 0;

export function liveBufferCount(): number {
  return live;
}

export class GpuMemory {
  private buffers: GPUBuffer[] = [];
  bytes = 0;

  constructor(readonly device: GPUDevice) {}

  buffer(byteLength: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(byteLength / 16) * 16);
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
    if (usage & GPUBufferUsage.STORAGE && size > maxBinding) {
      throw new RangeError(
        `${label} needs ${(size / 2 ** 20).toFixed(1)} MiB but this GPU binds at most ` +
          `${(maxBinding / 2 ** 20).toFixed(1)} MiB per buffer; use a smaller batch, context or model`,
      );
    }
    const b = this.device.createBuffer({ size, usage, label });
    live++;
    this.buffers.push(b);
    this.bytes += size;
    return b;
  }

  /** A storage tensor that kernels read and write and that can be copied out (for metrics and tests). */
  tensor(shape: readonly number[], label: string): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    const buf = this.buffer(size * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label);
    return new Tensor(buf, shape, 0, label);
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
    live -= this.buffers.length;
    this.buffers = [];
    this.bytes = 0;
  }
}

/** Reads a tensor back to the CPU. For tests, checkpoints and sampling: never called inside the step loop. */
export async function readTensor(device: GPUDevice, t: Tensor): Promise<Float32Array> {
  return new Float32Array(await readBytes(device, t.buffer, t.offsetBytes, t.byteLength));
}

export async function readBytes(device: GPUDevice, buffer: GPUBuffer, offset: number, byteLength: number): Promise<ArrayBuffer> {
  const size = Math.ceil(byteLength / 4) * 4;
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ, label: 'readback' });
  live++;
  try {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, offset, staging, 0, size);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0, byteLength);
    staging.unmap();
    return out;
  } finally {
    // Also when the map fails (a lost device rejects it): the buffer is not leaked.
    staging.destroy();
    live--;
  }
}

export function writeTensor(device: GPUDevice, t: Tensor, data: Float32Array | Uint32Array | Int32Array): void {
  if (data.length !== t.size) throw new RangeError(`${t.label}: expected ${t.size} values, got ${data.length}`);
  device.queue.writeBuffer(t.buffer, t.offsetBytes, data.buffer, data.byteOffset, data.byteLength);
}
