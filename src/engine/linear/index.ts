import { type Precision, type QuantizerChoice, quantizerChoice, type TrainConfig } from '../config';
import { type F16Choice, fp16Scheme } from './fp16';
import { fp32Scheme } from './fp32';
import { int8Scheme } from './int8';
import { quantizedScheme } from './quantized';
import type { LinearScheme } from './scheme';
import { sparsityOn } from '../sparsity/config';
import { sparseLinearSchemeFor } from '../sparsity/schemes';

export type { LinearLayer, LinearLayerSpec, LinearScheme, SchemeParameter } from './scheme';

export interface SchemeOptions {
  /** FP16 kernels: native shader-f16 where offered ('auto'), or forced. */
  f16Path?: F16Choice;
  /** Quantized precisions: the forward/backward quantizers and bits (default: the precision's own). */
  quantizer?: QuantizerChoice | null;
  /** Largest Hadamard block of the 'hq' forward quantizer. */
  hadamardBlock?: number;
  /** Search each layer's block on the first batch instead. */
  hadamardSearch?: boolean;
  /** INT8: one scale per row of X and of W instead of one per tensor. */
  int8PerRow?: boolean;
}

export function linearScheme(precision: Precision, o: SchemeOptions = {}): LinearScheme {
  switch (precision) {
    case 'fp32':
      return fp32Scheme;
    case 'fp16':
      return fp16Scheme(o.f16Path ?? 'auto');
    case 'int8':
      return int8Scheme({ perRow: o.int8PerRow ?? false });
    case 'int4':
    case 'int4-minmax':
    case 'int4-lsq-luq': {
      const q = o.quantizer ?? quantizerChoice({ precision } as TrainConfig)!;
      return quantizedScheme(precision, { ...q, hadamardBlock: o.hadamardBlock ?? 32, hadamardSearch: o.hadamardSearch ?? false });
    }
    default:
      throw new Error(`no linear scheme for precision "${precision as string}"`);
  }
}

/** The scheme a training config asks for. */
export function linearSchemeFor(t: TrainConfig): LinearScheme {
  // 2:4 sparsity and Sparse-QAT: the same precisions with a switchable compressed forward (sparsity/schemes.ts).
  if (sparsityOn(t) || t.sparseQat) return sparseLinearSchemeFor(t);
  return linearScheme(t.precision, { f16Path: t.f16Path, quantizer: quantizerChoice(t), hadamardBlock: t.hadamardBlock, hadamardSearch: t.hadamardSearch, int8PerRow: t.int8PerRow });
}
