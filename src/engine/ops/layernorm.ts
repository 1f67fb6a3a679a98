// LayerNorm forward and backward (src/shaders/layernorm.wgsl).
import type { Tensor } from '../tensor';
import { type Dispatch, f32, gridRows, type Kernels } from '../gpu/kernels';
import { columnSums } from './matmul';

export interface LayerNormTensors {
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
  y: Tensor;
  mean: Tensor;
  rstd: Tensor;
}

export function layerNormForward(k: Kernels, label: string, t: LayerNormTensors, rows: number, C: number, eps: number): Dispatch {
  return k.dispatch({
    shader: 'layernorm',
    entry: 'forward',
    label,
    uniforms: [rows, C, f32(eps), 0],
    bindings: [t.x, t.gamma, t.beta, t.y, t.mean, t.rstd],
    workgroups: gridRows(rows),
  });
}

export interface LayerNormGradTensors {
  dy: Tensor;
  dx: Tensor;
  dgamma: Tensor;
  dbeta: Tensor;
  /** In a pre-LN block the input is the residual stream: its gradient from the identity branch is added to ∇x. */
  dresidual: Tensor | null;
}

export function layerNormBackward(k: Kernels, label: string, t: LayerNormTensors, g: LayerNormGradTensors, rows: number, C: number): Dispatch[] {
  return [
    k.dispatch({
      shader: 'layernorm',
      entry: 'backward',
      label: `${label}.dx`,
      uniforms: [rows, C, f32(0), g.dresidual ? 1 : 0],
      bindings: [g.dy, t.x, t.gamma, t.mean, t.rstd, g.dresidual ?? k.placeholder, g.dx],
      workgroups: gridRows(rows),
    }),
    // ∇γ = Σ_rows ∇y·x̂ and ∇β = Σ_rows ∇y, as two-pass column sums (ops/matmul.ts columnSums).
    ...columnSums(k, `${label}.dparams`, { rows, cols: C, planes: 2 }, (partials) => ({ entry: 'layernorm_partial', bindings: [g.dy, t.x, t.mean, t.rstd, partials] }), [g.dgamma, g.dbeta]),
  ];
}
