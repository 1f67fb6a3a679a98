// Parameters live in one flat f32 buffer (gradients and the AdamW moments in three more of the same
// layout), as in llm.c: the optimizer and the gradient norm are then one dispatch each. Each tensor is a
// slice aligned so that it can be bound on its own.
import type { Rng } from '../data/rng';

export type ParamInit = { kind: 'normal'; std: number } | { kind: 'constant'; value: number };

export interface ParamSpec {
  /** nanoGPT/GPT-2 name, e.g. `transformer.h.0.attn.c_attn.weight`. */
  name: string;
  shape: number[];
  init: ParamInit;
  /** AdamW weight decay applies (matrices and embeddings), or not (biases, LayerNorm, step sizes). */
  decay: boolean;
  /** A quantizer's own parameter (LSQ step sizes, the searched Hadamard block): laid out last, where
   *  the optimizer can give it a learning rate of its own (TrainConfig.quantizerLrScale). */
  quantizer?: boolean;
}

export interface ParamSlot {
  spec: ParamSpec;
  /** Offset in floats into the flat buffer. */
  offset: number;
  size: number;
}

export class ParamLayout {
  readonly slots: ParamSlot[] = [];
  readonly byName = new Map<string, ParamSlot>();
  /** Floats in the flat buffer, padding included. */
  readonly totalFloats: number;
  /** Parameters [0, decayEnd) take weight decay: decayed tensors are laid out first. */
  readonly decayEnd: number;
  /** Parameters [quantizerStart, totalFloats) are the quantizers' own: laid out last. */
  readonly quantizerStart: number;
  /** Sum of the tensors' sizes, padding excluded. */
  readonly count: number;

  /** @param alignFloats slice alignment in floats (the device's minStorageBufferOffsetAlignment / 4). */
  constructor(specs: readonly ParamSpec[], alignFloats: number) {
    for (const s of specs) if (s.decay && s.quantizer) throw new Error(`${s.name}: a quantizer parameter takes no weight decay`);
    const ordered = [...specs.filter((s) => s.decay), ...specs.filter((s) => !s.decay && !s.quantizer), ...specs.filter((s) => s.quantizer)];
    let offset = 0;
    let decayEnd = 0;
    let quantizerStart = -1;
    let count = 0;
    for (const spec of ordered) {
      if (this.byName.has(spec.name)) throw new Error(`duplicate parameter ${spec.name}`);
      const size = spec.shape.reduce((a, b) => a * b, 1);
      if (spec.quantizer && quantizerStart < 0) quantizerStart = offset;
      const slot = { spec, offset, size };
      this.slots.push(slot);
      this.byName.set(spec.name, slot);
      offset += Math.ceil(size / alignFloats) * alignFloats;
      count += size;
      if (spec.decay) decayEnd = offset;
    }
    this.totalFloats = Math.max(offset, alignFloats);
    this.decayEnd = decayEnd;
    this.quantizerStart = quantizerStart < 0 ? this.totalFloats : quantizerStart;
    this.count = count;
  }

  slot(name: string): ParamSlot {
    const s = this.byName.get(name);
    if (!s) throw new Error(`no parameter named ${name}`);
    return s;
  }

  /** Initial values, drawn from `rng` in layout order (so a seed fixes every weight). */
  initialValues(rng: Rng): Float32Array {
    const out = new Float32Array(this.totalFloats);
    for (const { spec, offset, size } of this.slots) {
      const view = out.subarray(offset, offset + size);
      if (spec.init.kind === 'constant') view.fill(spec.init.value);
      else for (let i = 0; i < size; i++) view[i] = spec.init.std * gaussian(rng);
    }
    return out;
  }
}

/** Standard normal draw (Box–Muller). */
export function gaussian(rng: Rng): number {
  let u = rng.nextFloat();
  while (u <= 0) u = rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
