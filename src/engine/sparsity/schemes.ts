// The linear schemes of a sparse run: the run's precision with its forward product made switchable to
// the compressed 2:4 kernel where the product uses W as it is (fp32, fp16, int8, quantized with 'lsq' or
// no forward quantizer, Sparse-QAT), and every layer registered for the trainer plugin to mask. Where the
// forward transforms W before quantizing it ('hq': the Hadamard transform mixes the pruned zeros of a
// block with the kept values; 'minmax': stochastic rounding of zeros), the weights are still masked and
// trained 2:4, but the forward keeps its dense product of the masked matrix.
import { quantizerChoice, type TrainConfig } from '../config';
import type { Kernels } from '../gpu/kernels';
import { type F16Choice, fp16Scheme, resolveF16Path } from '../linear/fp16';
import { fp32Scheme } from '../linear/fp32';
import { int8Scheme } from '../linear/int8';
import { quantizedScheme } from '../linear/quantized';
import type { LinearLayer, LinearLayerSpec, LinearScheme } from '../linear/scheme';
import { biasBackward, matmul, weightGradient } from '../ops/matmul';
import { sparseForwardProducts, sparsityRegistry } from './forward';
import { sparseQatScheme } from './qat';

/** FP32 (f16 = null) or FP16 with the switchable forward; the backward as in linear/fp32.ts and fp16.ts. */
function sparseFloatScheme(f16: F16Choice | null): LinearScheme {
  const dense = f16 === null ? fp32Scheme : fp16Scheme(f16);
  return {
    precision: dense.precision,
    usesLossScaling: dense.usesLossScaling,
    kernelPath: (caps) => dense.kernelPath(caps),
    extraParameters: () => [],
    build(k: Kernels, l: LinearLayerSpec): LinearLayer {
      const f16Path = f16 === null ? undefined : resolveF16Path(f16, k.capabilities);
      const { rows: N, inFeatures: D, outFeatures: C } = l;
      const forward = sparseForwardProducts.float(k, { label: `${l.name}.forward`, x: l.x, w: l.w, y: l.y, M: N, N: C, K: D, bias: l.b, f16: f16Path });
      const backward = [
        matmul(k, { label: `${l.name}.dx`, a: l.dy, b: l.w, c: l.dx, M: N, N: D, K: C, f16: f16Path }),
        ...weightGradient(k, { label: `${l.name}.dw`, a: l.dy, b: l.x, c: l.dw, M: C, N: D, K: N, f16: f16Path }),
      ];
      if (l.db) backward.push(...biasBackward(k, `${l.name}.db`, l.dy, l.db, N, C));
      return { forward, backward };
    },
  };
}

/** Registers every layer the scheme builds (name, weight, shape) for the trainer plugin's masks. */
function registering(inner: LinearScheme, compressed: boolean, why: string): LinearScheme {
  return {
    ...inner,
    kernelPath: (caps) => `${inner.kernelPath(caps)}; 2:4 sparsity: ${compressed ? 'compressed 2:4 forward product once the weights are 2:4' : `masked weights, dense forward product (${why})`}`,
    build(k, l, extra) {
      const layer = inner.build(k, l, extra);
      sparsityRegistry(k).layers.push({ name: l.name, weight: l.w, rows: l.outFeatures, cols: l.inFeatures, compressed });
      return layer;
    },
  };
}

/** The scheme of a sparse (or Sparse-QAT) run. */
export function sparseLinearSchemeFor(t: TrainConfig): LinearScheme {
  const products = sparseForwardProducts;
  if (t.sparseQat) return registering(sparseQatScheme(products), true, '');
  switch (t.precision) {
    case 'fp32':
      return registering(sparseFloatScheme(null), true, '');
    case 'fp16':
      return registering(sparseFloatScheme(t.f16Path ?? 'auto'), true, '');
    case 'int8':
      return registering(int8Scheme({ perRow: t.int8PerRow ?? false, forwardProducts: products }), true, '');
    default: {
      const q = quantizerChoice(t);
      if (!q) throw new Error(`no sparse linear scheme for precision "${t.precision as string}"`);
      const compressed = q.forward === 'lsq' || q.forward === 'none';
      const scheme = quantizedScheme(t.precision, { ...q, hadamardBlock: t.hadamardBlock ?? 32, hadamardSearch: t.hadamardSearch ?? false, forwardProducts: compressed ? products : undefined });
      const why = q.forward === 'hq' ? 'the Hadamard transform mixes the pruned zeros of a block into every value' : 'min-max rounds the pruned zeros stochastically';
      return registering(scheme, compressed, why);
    }
  }
}
