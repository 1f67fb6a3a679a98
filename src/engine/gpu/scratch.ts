// Scratch shared between layers. A layer's backward temporaries (the bit-split halves, the sampled
// gradients, the dequantized operands, the raw and masked input gradients) are written and read within
// that layer's own backward, and the layers' backwards run one after another in the step's pass, so
// every layer of the same shape can use the same buffers: the memory of these temporaries stops growing
// with depth. (Anything read after the layer's backward has finished, or written in the forward and read
// in the backward, must not come from here.)
import type { Tensor } from '../tensor';
import type { Kernels } from './kernels';

const pools = new WeakMap<Kernels, Map<string, Tensor>>();
let sharing = true;

/** Turns sharing off (every call allocates its own tensor) for models built afterwards: a diagnostic,
 *  and how the tests show that sharing changes no number. */
export function setScratchSharing(on: boolean): void {
  sharing = on;
}

/** The shared scratch tensor for `role` with this shape on this device's kernels (created on first use). */
export function sharedScratch(k: Kernels, role: string, shape: number[]): Tensor {
  if (!sharing) return k.memory.tensor(shape, `unshared.${role}`);
  let pool = pools.get(k);
  if (!pool) {
    pool = new Map();
    pools.set(k, pool);
  }
  const key = `${role}:${shape.join('x')}`;
  let t = pool.get(key);
  if (!t) {
    t = k.memory.tensor(shape, `shared.${role}`);
    pool.set(key, t);
  }
  return t;
}
