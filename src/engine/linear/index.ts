import type { Precision } from '../config';
import { fp32Scheme } from './fp32';
import type { LinearScheme } from './scheme';

export type { LinearLayer, LinearLayerSpec, LinearScheme, SchemeParameter } from './scheme';

const SCHEMES: Record<Precision, LinearScheme> = { fp32: fp32Scheme };

export function linearScheme(precision: Precision): LinearScheme {
  const s = SCHEMES[precision];
  if (!s) throw new Error(`no linear scheme for precision "${precision}"`);
  return s;
}
