// FP32: the reference numeric scheme. Every product in f32 with f32 accumulation.
import { biasBackward, matmul, weightGradient } from '../ops/matmul';
import type { LinearLayer, LinearLayerSpec, LinearScheme } from './scheme';
import type { Kernels } from '../gpu/kernels';

export const fp32Scheme: LinearScheme = {
  precision: 'fp32',
  kernelPath: () => 'f32 tiled matmul (64×64 tiles, 4×4 per thread)',
  usesLossScaling: false,
  extraParameters: () => [],
  build(k: Kernels, l: LinearLayerSpec): LinearLayer {
    const { rows: N, inFeatures: D, outFeatures: C } = l;
    const forward = [matmul(k, { label: `${l.name}.forward`, a: l.x, b: l.w, c: l.y, M: N, N: C, K: D, transB: true, bias: l.b })];
    const backward = [
      // ∇X = ∇Y·W
      matmul(k, { label: `${l.name}.dx`, a: l.dy, b: l.w, c: l.dx, M: N, N: D, K: C }),
      // ∇W = ∇Yᵀ·X
      ...weightGradient(k, { label: `${l.name}.dw`, a: l.dy, b: l.x, c: l.dw, M: C, N: D, K: N }),
    ];
    if (l.db) backward.push(...biasBackward(k, `${l.name}.db`, l.dy, l.db, N, C));
    return { forward, backward };
  },
};
