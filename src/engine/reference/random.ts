// The GPU's counter-based draws (src/shaders/random.wgsl), recomputed in JavaScript so tests can feed
// the reference quantizers exactly the uniforms the kernels used.

/** PCG output permutation used as a 32-bit hash. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const shift = ((state >>> 28) + 4) >>> 0;
  const word = Math.imul(((state >>> shift) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The draw in (0, 1) for (run seed, stream, step, element index). */
export function uniformDraw(seed: number, stream: number, step: number, index: number): number {
  const h = pcgHash((pcgHash((pcgHash((seed ^ pcgHash(stream)) >>> 0) ^ step) >>> 0) ^ index) >>> 0);
  return ((h >>> 9) + 0.5) / 8388608;
}

/** `count` consecutive draws (indices 0 … count−1) of one stream and step. */
export function uniformDraws(seed: number, stream: number, step: number, count: number, first = 0): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = uniformDraw(seed, stream, step, first + i);
  return out;
}
