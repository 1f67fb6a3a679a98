// The fused attention kernel's map buffer (model/gpt.ts mapTensor): allocated only when a map is asked
// for, and refused with what to do where one layer's heads × Tq × Tk floats exceed the device's buffers.
import { describe, expect, it } from 'vitest';
import type { Kernels } from '../gpu/kernels';
import { mapTensor, once } from './gpt';

function fakeKernels(maxBytes: number, allocated: number[][]): Kernels {
  return {
    device: { limits: { maxStorageBufferBindingSize: maxBytes, maxBufferSize: 4 * maxBytes } },
    memory: { tensor: (shape: number[]) => { allocated.push(shape); return { shape }; } },
  } as unknown as Kernels;
}

describe('attention map buffer', () => {
  it('is allocated at the size asked when it fits, and refused with the sizes and a fix when it does not', () => {
    const allocated: number[][] = [];
    const k = fakeKernels(2 ** 20, allocated);
    mapTensor(k, 4 * 256 * 256, 256, 256); // exactly 1 MiB
    expect(allocated).toEqual([[4 * 256 * 256]]);
    expect(() => mapTensor(k, 4 * 512 * 512, 512, 512)).toThrow(/512 × 512 positions .* needs 4\.0 MiB, over this GPU's 1\.0 MiB per buffer: show maps of a model with a shorter context/);
    expect(allocated).toHaveLength(1);
  });

  it('once: makes its value on the first call only', () => {
    let made = 0;
    const get = once(() => ++made);
    expect(made).toBe(0);
    expect([get(), get(), get()]).toEqual([1, 1, 1]);
  });
});
