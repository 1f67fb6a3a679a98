// Helpers for the GPU tests (*.gpu.test.ts): a device with a memory pool and kernel cache, uploads of
// float64 test data rounded to f32 (so the float64 reference sees exactly what the GPU sees), running a
// list of dispatches with WebGPU validation errors turned into exceptions, and error measures.
import { expect } from 'vitest';
import { type Tensor } from '../tensor';
import { type Dispatch, Kernels, recordDispatches } from './kernels';
import { GpuMemory, readTensor, writeTensor } from './memory';
import { testGpu } from './test-device';

export interface GpuHarness {
  device: GPUDevice;
  memory: GpuMemory;
  kernels: Kernels;
  /** A new tensor holding `data` (f32; integer arrays are written as their 32-bit words). */
  upload(shape: readonly number[], data: ArrayLike<number> | Int32Array | Uint32Array, label: string): Tensor;
  /** A new tensor of `shape` filled with `fill` (default NaN, so a value the kernel forgets to write shows). */
  empty(shape: readonly number[], label: string, fill?: number): Tensor;
  /** Records the dispatches into one compute pass, submits, waits; rejects on a WebGPU validation error. */
  run(dispatches: readonly Dispatch[]): Promise<void>;
  read(t: Tensor): Promise<Float64Array>;
  /** Reads a tensor's raw 32-bit words as unsigned integers. */
  readU32(t: Tensor): Promise<Uint32Array>;
}

export async function gpuHarness(): Promise<GpuHarness> {
  const { device, capabilities } = await testGpu();
  const memory = new GpuMemory(device);
  const kernels = new Kernels(device, memory, capabilities);
  const h: GpuHarness = {
    device,
    memory,
    kernels,
    upload(shape, data, label) {
      const t = memory.tensor(shape, label);
      let words: Float32Array | Int32Array | Uint32Array;
      if (data instanceof Int32Array || data instanceof Uint32Array) words = data;
      else words = Float32Array.from(data as ArrayLike<number>);
      writeTensor(device, t, words);
      return t;
    },
    empty(shape, label, fill = NaN) {
      const t = memory.tensor(shape, label);
      writeTensor(device, t, new Float32Array(t.size).fill(fill));
      return t;
    },
    async run(dispatches) {
      device.pushErrorScope('validation');
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      recordDispatches(pass, dispatches);
      pass.end();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      const error = await device.popErrorScope();
      if (error) throw new Error(`WebGPU validation error: ${error.message}`);
    },
    async read(t) {
      return Float64Array.from(await readTensor(device, t));
    },
    async readU32(t) {
      return new Uint32Array((await readTensor(device, t)).buffer);
    },
  };
  return h;
}

/** Builds dispatches under a validation error scope, so a bad bind group or pipeline fails the test. */
export async function buildChecked<T>(device: GPUDevice, build: () => T): Promise<T> {
  device.pushErrorScope('validation');
  const out = build();
  const error = await device.popErrorScope();
  if (error) throw new Error(`WebGPU validation error while building: ${error.message}`);
  return out;
}

/** The values of `x` rounded to f32, as float64: upload these, and give the same to the reference. */
export function roundF32(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(x));
}

export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/**
 * max|gpu − ref| / max(floor, max|ref|): relative to the tensor's scale, absolute below `floor`.
 * NaN or ±∞ anywhere in gpu, or a length mismatch, gives Infinity.
 */
export function relativeError(gpu: ArrayLike<number>, ref: ArrayLike<number>, floor = 1): number {
  if (gpu.length !== ref.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < gpu.length; i++) {
    const d = Math.abs(gpu[i] - ref[i]);
    if (!Number.isFinite(d)) return Infinity;
    worst = Math.max(worst, d);
  }
  return worst / Math.max(floor, maxAbs(ref));
}

/** Index and values of the largest |gpu − ref|, for failure messages. */
export function worstIndex(gpu: ArrayLike<number>, ref: ArrayLike<number>): string {
  let at = -1;
  let worst = -1;
  for (let i = 0; i < Math.min(gpu.length, ref.length); i++) {
    const d = Math.abs(gpu[i] - ref[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
      if (Number.isNaN(d)) break;
    }
  }
  return `worst at [${at}]: gpu ${gpu[at]}, ref ${ref[at]} (lengths ${gpu.length} / ${ref.length})`;
}

/**
 * Asserts relativeError(gpu, ref, floor) ≤ tol. Also asserts that the reference is not all ~0 (at least
 * `minScale` in magnitude somewhere), so the comparison cannot pass vacuously.
 */
export function expectClose(label: string, gpu: ArrayLike<number>, ref: ArrayLike<number>, tol: number, floor = 1, minScale = 1e-3): number {
  expect(gpu.length, `${label}: length`).toBe(ref.length);
  expect(maxAbs(ref), `${label}: the reference is ~0 everywhere, the check would be vacuous`).toBeGreaterThan(minScale);
  const err = relativeError(gpu, ref, floor);
  // GPU_TEST_REPORT=1 prints every measured error with its bound (to see the margins).
  if (process.env.GPU_TEST_REPORT) console.log(`[error] ${label}: ${err.toExponential(2)} (bound ${tol})`);
  expect(err, `${label}: relative error ${err.toExponential(2)} > ${tol}; ${worstIndex(gpu, ref)}`).toBeLessThanOrEqual(tol);
  return err;
}

/** How many entries satisfy pred. */
export function count(a: ArrayLike<number>, pred: (v: number, i: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (pred(a[i], i)) n++;
  return n;
}

/** Exact equality (−0 equals +0), reporting the number of mismatches and the first one. */
export function expectExact(label: string, gpu: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(gpu.length, `${label}: length`).toBe(expected.length);
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < gpu.length; i++) {
    if (gpu[i] !== expected[i]) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  expect(mismatches, `${label}: ${mismatches} mismatches, first at [${first}]: gpu ${gpu[first]}, expected ${expected[first]}`).toBe(0);
}

/** The integer kernels' epilogue: C[m, n] = scale·sum[m, n]·rows[m] + bias[n] + c0[m, n] (steps, alpha,
 *  row scales, bias, accumulation into C), within the f32 rounding of the scale product, the row scale and
 *  two additions (a compiler may fuse one). */
export function expectIntEpilogue(label: string, got: ArrayLike<number>, sums: ArrayLike<number>, e: { N: number; scale: number; rows: ArrayLike<number>; bias: ArrayLike<number>; c0: ArrayLike<number> }): void {
  let bad = -1;
  for (let i = 0; i < sums.length && bad < 0; i++) {
    const m = Math.floor(i / e.N);
    const expected = Math.fround(Math.fround(sums[i] * e.scale) * e.rows[m]) + e.bias[i % e.N] + e.c0[i];
    const magnitude = Math.abs(sums[i] * e.scale * e.rows[m]) + Math.abs(e.bias[i % e.N]) + Math.abs(e.c0[i]);
    if (!(Math.abs(got[i] - expected) <= 4 * 2 ** -23 * magnitude)) bad = i;
  }
  expect(bad, `${label}: C[${bad}] = ${got[bad]}`).toBe(-1);
}

/** Outputs are allocated with TAIL extra values past what a kernel may write: they must stay NaN. */
export const TAIL = 301;
const NAN_WORD = 0x7fc00000; // the f32 NaN that GpuHarness.empty writes

/** The first n values of `a`, after checking that the kernel left the TAIL values past n untouched. */
export function withoutTail<T extends Float64Array | Uint32Array>(label: string, a: T, n: number): T {
  expect(a.length, `${label}: allocated length`).toBe(n + TAIL);
  const tail = a.subarray(n);
  const untouched = a instanceof Uint32Array ? count(tail, (w) => w === NAN_WORD) : count(tail, (v) => Number.isNaN(v));
  expect(untouched, `${label}: the kernel wrote past its ${n} values`).toBe(TAIL);
  return a.subarray(0, n) as T;
}

/**
 * The WGSL that stands in for subgroup-matrix operations on CPU adapters (which have none), appended to a
 * kernel whose loads became `vec2<u32>(offset, stride)` and whose multiplies and stores call `emu_mma` and
 * `emu_store_<array>`. It follows the WGSL subgroup-matrix definitions the kernels rely on: offsets and
 * strides count i32 words of 4 int8 lanes; a left matrix (16 rows × 32 codes, row-major) has row r at
 * offset + r·stride of `left`; a right matrix (32 × 16, column-major) has column c at offset + c·stride of
 * `right`; a row-major store of a 16×16 result puts entry (r, c) at offset + 16r + c. Invocation `emu_lane`
 * of a subgroup holds entries lane + 32q (q < 8) of each result (row lane / 16 + 2q, column lane % 16), so
 * every entry is written once, by one invocation. The kernel sets emu_lane and emu_n (8: the words of K, a
 * value the compiler cannot see, so that CPU adapters do not unroll the loop, which took them minutes).
 */
export function emulatedMatrixWgsl(o: { left: string; right: string; stores: readonly string[] }): string {
  const storeFns = o.stores.map((t) => `
fn emu_store_${t}(offset: u32, acc: array<i32, 8>) {
  ${Array.from({ length: 8 }, (_, q) => `${t}[offset + emu_lane + ${32 * q}u] = acc[${q}];`).join(' ')}
}`).join('\n');
  return `
var<private> emu_lane: u32;
var<private> emu_n: u32;
fn emu_mma(l: vec2<u32>, r: vec2<u32>, acc: array<i32, 8>) -> array<i32, 8> {
  var res = acc;
  let row0 = l.x + (emu_lane / 16u) * l.y;
  let col = r.x + (emu_lane % 16u) * r.y;
  for (var w = 0u; w < emu_n; w++) {
    let y = bitcast<u32>(${o.right}[col + w]);
    ${Array.from({ length: 8 }, (_, q) => `res[${q}] += dot4I8Packed(bitcast<u32>(${o.left}[row0 + ${2 * q}u * l.y + w]), y);`).join('\n    ')}
  }
  return res;
}
${storeFns}
`;
}
