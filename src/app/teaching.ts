// The numbers behind the "Hadamard, then quantize" demo: one small activation matrix with an outlier
// channel, quantized to a few bits with an LSQ-style step directly and after a block Hadamard transform
// (the paper's HQ, §3.3). Float64 CPU code from the engine's reference quantizers; no GPU involved.
import { blockHadamard, lsqInitStep, lsqQuantize } from '../engine/reference/quant';

export interface DemoInput {
  rows: number;
  cols: number;
  /** The channel (column) that carries the outlier. */
  outlierChannel: number;
  /** How many times larger than the other channels the outlier channel is. */
  outlierScale: number;
  /** Hadamard block size (a power of two dividing cols; 1 = no transform). */
  block: number;
  bits: number;
  seed: number;
}

export interface QuantizedView {
  /** The matrix that is quantized (X, or X·H). */
  input: Float64Array;
  step: number;
  codes: Int32Array;
  /** The dequantized result mapped back to X's basis (·H again for HQ: H is its own inverse). */
  reconstruction: Float64Array;
  /** ‖reconstruction − X‖ / ‖X‖. */
  relativeError: number;
  /** Relative error of the outlier channel alone and of all the other channels. */
  outlierChannelError: number;
  otherChannelsError: number;
  /** Codes at the ends of the range (clipped or saturated). */
  saturated: number;
}

export interface DemoResult {
  x: Float64Array;
  direct: QuantizedView;
  hadamard: QuantizedView;
}

/** A small deterministic generator (mulberry32) with Box–Muller normals: the demo's matrix only has to
 *  look like activations and be the same on every visit. */
function normals(seed: number, n: number): Float64Array {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

export function demoMatrix(input: DemoInput): Float64Array {
  const x = normals(input.seed, input.rows * input.cols);
  for (let r = 0; r < input.rows; r++) x[r * input.cols + input.outlierChannel] *= input.outlierScale;
  return x;
}

/** Signed integer range of a b-bit code, as the engine's INT4 uses it: [−2^(b−1), 2^(b−1) − 1]. */
export function codeRange(bits: number): { qn: number; qp: number } {
  return { qn: 2 ** (bits - 1), qp: 2 ** (bits - 1) - 1 };
}

function norm(values: ArrayLike<number>, pick: (i: number) => boolean): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) if (pick(i)) s += values[i] * values[i];
  return Math.sqrt(s);
}

function quantizeView(x: Float64Array, input: DemoInput, block: number): QuantizedView {
  const { rows, cols, bits } = input;
  const { qn, qp } = codeRange(bits);
  const transformed = block > 1 ? blockHadamard(x, rows, cols, block) : x;
  // LSQ's initial step, 2·mean|x|/√Q_P: the step a fresh LSQ quantizer starts from (paper A.4).
  const step = lsqInitStep(transformed, qp);
  const { codes } = lsqQuantize(transformed, step, qn, qp);
  const dequantized = Float64Array.from(codes, (c) => c * step);
  const reconstruction = block > 1 ? blockHadamard(dequantized, rows, cols, block) : dequantized;
  const diff = Float64Array.from(reconstruction, (v, i) => v - x[i]);
  const isOutlier = (i: number) => i % cols === input.outlierChannel;
  let saturated = 0;
  for (const c of codes) if (c === -qn || c === qp) saturated++;
  return {
    input: transformed,
    step,
    codes,
    reconstruction,
    relativeError: norm(diff, () => true) / norm(x, () => true),
    outlierChannelError: norm(diff, isOutlier) / norm(x, isOutlier),
    otherChannelsError: norm(diff, (i) => !isOutlier(i)) / norm(x, (i) => !isOutlier(i)),
    saturated,
  };
}

export function runDemo(input: DemoInput): DemoResult {
  const x = demoMatrix(input);
  return { x, direct: quantizeView(x, input, 1), hadamard: quantizeView(x, input, input.block) };
}
