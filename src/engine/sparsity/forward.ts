// What a sparse run changes in the linear layers' forward, and how it is switched on mid-run.
//
// A training step replays fixed lists of dispatches (Gpt.forward, …), built once. The compressed 2:4
// product can only run once the weights are 2:4 (after the last pruning of the recipe); before that the
// layer runs its dense product on the masked weights. A Switchable holds the variants of a few
// dispatches and hands out "slots", dispatch objects that the model's lists hold by reference: selecting a
// variant rewrites the slots in place (pipeline, bind group, workgroups), so every list that holds them
// (forward, firstForward) runs the new variant from the next step on, with nothing rebuilt. Variants of
// different lengths are padded with a one-thread no-op. (A dispatch of zero workgroups would also do
// nothing, but Dawn warns about each one on stderr.)
//
// The registry, per Kernels (so per trainer), lists the switchables and the sparse layers (their weight
// tensors and shapes) that the schemes built, for the trainer plugin (plugin.ts) to mask and switch.
import { sharedScratch } from '../gpu/scratch';
import type { Dispatch, Kernels } from '../gpu/kernels';
import { writeTensor } from '../gpu/memory';
import { type IntMatmulSpec, intMatmul } from '../ops/quant';
import { matmul } from '../ops/matmul';
import type { Tensor } from '../tensor';
import { compress24, compressedShape, noop, sparseIntMatmul, sparseMatmul } from './ops';

export class Switchable {
  readonly slots: Dispatch[];
  private current = 0;

  constructor(k: Kernels, readonly label: string, private readonly variants: Dispatch[][]) {
    const length = Math.max(...variants.map((v) => v.length));
    this.variants = variants.map((v, i) => [...v, ...Array.from({ length: length - v.length }, (_, j) => noop(k, `${label}.noop.${i}.${j}`))]);
    this.slots = this.variants[0].map((d) => ({ ...d }));
  }

  get selected(): number {
    return this.current;
  }

  select(variant: number): void {
    if (!(variant >= 0 && variant < this.variants.length)) throw new RangeError(`${this.label}: no variant ${variant}`);
    this.variants[variant].forEach((d, i) => Object.assign(this.slots[i], { label: d.label, pipeline: d.pipeline, bindGroup: d.bindGroup, workgroups: d.workgroups }));
    this.current = variant;
  }
}

/** A linear layer whose weight the sparse run masks. */
export interface SparseLayer {
  name: string;
  /** [out, in] weight. */
  weight: Tensor;
  rows: number;
  cols: number;
  /** Whether its forward product switches to the compressed kernel in 2:4 phases. */
  compressed: boolean;
}

export interface SparsityRegistry {
  layers: SparseLayer[];
  /** Variant 0: the dense product; variant 1: compression + compressed product. */
  products: Switchable[];
  /** [1] u32: groups the compression found with more than 2 non-zeros (0 while the masks hold). */
  violations: Tensor;
}

const registries = new WeakMap<Kernels, SparsityRegistry>();

export function sparsityRegistry(k: Kernels): SparsityRegistry {
  let r = registries.get(k);
  if (!r) {
    const violations = k.memory.tensor([1], 'sparse24.violations');
    writeTensor(k.device, violations, new Uint32Array([0]));
    r = { layers: [], products: [], violations };
    registries.set(k, r);
  }
  return r;
}

/** Selects the compressed product (true) or the dense one (false) in every layer built on these kernels. */
export function setCompressedForward(k: Kernels, on: boolean): void {
  for (const s of sparsityRegistry(k).products) s.select(on ? 1 : 0);
}

/** Whether the layers built on these kernels currently run the compressed product (null: none has one). */
export function compressedForwardOn(k: Kernels): boolean | null {
  const p = sparsityRegistry(k).products;
  return p.length ? p[0].selected === 1 : null;
}

/** The forward products a scheme can hand over to the sparse run (Y = X·Wᵀ + b, W [N, K] nn.Linear). */
export interface ForwardProducts {
  float(k: Kernels, s: FloatProductSpec): Dispatch[];
  int(k: Kernels, s: IntMatmulSpec): Dispatch[];
}

export interface FloatProductSpec {
  label: string;
  x: Tensor;
  w: Tensor;
  y: Tensor;
  /** Rows of X (tokens), output features, reduction. */
  M: number;
  N: number;
  K: number;
  bias?: Tensor | null;
  /** FP16 scheme: the dense product's f16 path; the compressed one rounds in f32 (same numbers). */
  f16?: 'native' | 'emulated';
}

/** Dense until the run turns 2:4, then compression of W (written and read within the forward, so the
 *  compressed copy is scratch shared by the layers of a shape) and the compressed product. */
export const sparseForwardProducts: ForwardProducts = {
  float(k, s) {
    const shape = compressedShape(s.N, s.K, 'f32');
    const values = sharedScratch(k, 'sparse24.values_f32', shape.values);
    const meta = sharedScratch(k, 'sparse24.meta', shape.meta);
    const registry = sparsityRegistry(k);
    const sw = new Switchable(k, s.label, [
      [matmul(k, { label: s.label, a: s.x, b: s.w, c: s.y, M: s.M, N: s.N, K: s.K, transB: true, bias: s.bias, f16: s.f16 })],
      [
        compress24(k, { label: `${s.label}.compress24`, input: s.w, values, meta, violations: registry.violations, rows: s.N, K: s.K, format: 'f32' }),
        sparseMatmul(k, { label: `${s.label}.sparse24`, x: s.x, values, meta, y: s.y, M: s.M, N: s.N, K: s.K, bias: s.bias, roundF16: s.f16 !== undefined }),
      ],
    ]);
    registry.products.push(sw);
    return sw.slots;
  },
  int(k, s) {
    const format = s.format ?? 'int4';
    const shape = compressedShape(s.N, s.K, format);
    const values = sharedScratch(k, `sparse24.values_${format}`, shape.values);
    const meta = sharedScratch(k, 'sparse24.meta', shape.meta);
    const registry = sparsityRegistry(k);
    const sw = new Switchable(k, s.label, [
      [intMatmul(k, s)],
      [
        compress24(k, { label: `${s.label}.compress24`, input: s.b, values, meta, violations: registry.violations, rows: s.N, K: s.K, format }),
        sparseIntMatmul(k, { label: `${s.label}.sparse24`, a: s.a, values, meta, stepA: s.stepA, stepB: s.stepB, stepAAt: s.stepAAt, stepBAt: s.stepBAt, rowScale: s.rowScale, c: s.c, M: s.M, N: s.N, K: s.K, format, bias: s.bias, alpha: s.alpha, accumulate: s.accumulate }),
      ],
    ]);
    registry.products.push(sw);
    return sw.slots;
  },
};
