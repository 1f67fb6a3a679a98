// Scratch shared between layers. A layer's backward temporaries (the bit-split halves, the sampled
// gradients, the dequantized operands, the raw and masked input gradients) are written and read within
// that layer's own backward, and the layers' backwards run one after another in the step's pass, so
// every layer can use the same buffers: the memory of these temporaries stops growing with depth.
// (Anything read after the layer's backward has finished, or written in the forward and read in the
// backward, must not come from here; measurements of a layer run right after its backward and may read it.)
//
// With a plan (planScratch: the largest size each role takes over the model, from the run's memory
// estimate) every layer's tensor of a role is a view at the start of one buffer of that size, whatever
// the layer's shape; without one, layers share only with layers of the same shape.
import { Tensor } from '../tensor';
import type { Kernels } from './kernels';

const pools = new WeakMap<Kernels, Map<string, Tensor>>();
const plans = new WeakMap<Kernels, ReadonlyMap<string, number>>();
let sharing = true;

/** Sizes (floats) of the roles' buffers for the models built on these kernels: a role asked for at a
 *  size within its plan shares one buffer across shapes. Call before building. */
export function planScratch(k: Kernels, floatsByRole: ReadonlyMap<string, number>): void {
  plans.set(k, floatsByRole);
}

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
  const floats = shape.reduce((a, b) => a * b, 1);
  const planned = plans.get(k)?.get(role);
  if (planned !== undefined && floats <= planned) {
    let whole = pool.get(role);
    if (!whole) {
      whole = k.memory.tensor([planned], `shared.${role}`);
      pool.set(role, whole);
    }
    return new Tensor(whole.buffer, shape, 0, `shared.${role}`);
  }
  const key = `${role}:${shape.join('x')}`;
  let t = pool.get(key);
  if (!t) {
    t = k.memory.tensor(shape, `shared.${role}`);
    pool.set(key, t);
  }
  return t;
}
