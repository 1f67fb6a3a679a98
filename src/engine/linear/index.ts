import type { LssVariant, Precision } from '../config';
import { type F16Choice, fp16Scheme } from './fp16';
import { fp32Scheme } from './fp32';
import { int4HqLssScheme } from './int4-hq-lss';
import type { LinearScheme } from './scheme';

export type { LinearLayer, LinearLayerSpec, LinearScheme, SchemeParameter } from './scheme';

export interface SchemeOptions {
  /** FP16 kernels: native shader-f16 where offered ('auto'), or forced. */
  f16Path?: F16Choice;
  /** INT4: largest Hadamard block, and the LSS-MM variant. */
  hadamardBlock?: number;
  lssVariant?: LssVariant;
}

export function linearScheme(precision: Precision, o: SchemeOptions = {}): LinearScheme {
  switch (precision) {
    case 'fp32':
      return fp32Scheme;
    case 'fp16':
      return fp16Scheme(o.f16Path ?? 'auto');
    case 'int4':
      return int4HqLssScheme({ hadamardBlock: o.hadamardBlock ?? 32, lssVariant: o.lssVariant ?? 'lss' });
    default:
      throw new Error(`no linear scheme for precision "${precision as string}"`);
  }
}
