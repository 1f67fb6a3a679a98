// FP16: every operand of the linear layers' products rounded to IEEE binary16, products accumulated in
// f32 (mixed precision as tensor cores and autocast do it; the paper's non-linear ops stay higher
// precision, §3). Natively with shader-f16, otherwise exactly emulated; dynamic loss scaling (in the
// trainer) keeps small gradients from flushing to zero and backs off when they overflow f16's range.
import type { Capabilities } from '../gpu/device';
import type { Kernels } from '../gpu/kernels';
import { biasBackward, type F16Path, matmul, weightGradient } from '../ops/matmul';
import type { LinearLayer, LinearLayerSpec, LinearScheme } from './scheme';

export type F16Choice = 'auto' | F16Path;

export function resolveF16Path(choice: F16Choice, caps: Partial<Capabilities>): F16Path {
  if (choice === 'native' && !caps.shaderF16) throw new Error('native fp16 needs the shader-f16 feature, which this GPU does not offer; use the emulated path');
  return choice === 'auto' ? (caps.shaderF16 ? 'native' : 'emulated') : choice;
}

export function fp16Scheme(choice: F16Choice = 'auto'): LinearScheme {
  return {
    precision: 'fp16',
    usesLossScaling: true,
    kernelPath: (caps) =>
      resolveF16Path(choice, caps) === 'native'
        ? 'f16 operands (native shader-f16), f32 accumulation'
        : 'f16 operands (emulated in f32), f32 accumulation',
    extraParameters: () => [],
    build(k: Kernels, l: LinearLayerSpec): LinearLayer {
      const f16 = resolveF16Path(choice, k.capabilities);
      const { rows: N, inFeatures: D, outFeatures: C } = l;
      const forward = [matmul(k, { label: `${l.name}.forward`, a: l.x, b: l.w, c: l.y, M: N, N: C, K: D, transB: true, bias: l.b, f16 })];
      const backward = [
        matmul(k, { label: `${l.name}.dx`, a: l.dy, b: l.w, c: l.dx, M: N, N: D, K: C, f16 }),
        ...weightGradient(k, { label: `${l.name}.dw`, a: l.dy, b: l.x, c: l.dw, M: C, N: D, K: N, f16 }),
      ];
      if (l.db) backward.push(...biasBackward(k, `${l.name}.db`, l.dy, l.db, N, C));
      return { forward, backward };
    },
  };
}
