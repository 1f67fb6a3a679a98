// Activations and the residual add (src/shaders/elementwise.wgsl).
import type { Activation } from '../config';
import type { Tensor } from '../tensor';
import { type Dispatch, grid1d, type Kernels } from '../gpu/kernels';

export function residualAdd(k: Kernels, label: string, a: Tensor, b: Tensor, out: Tensor): Dispatch {
  return k.dispatch({ shader: 'elementwise', entry: 'add', label, uniforms: [out.size], bindings: [a, b, out], workgroups: grid1d(out.size) });
}

export function activationForward(k: Kernels, label: string, kind: Activation, x: Tensor, y: Tensor): Dispatch {
  return k.dispatch({
    shader: 'elementwise',
    entry: `${kind}_forward`,
    label,
    uniforms: [y.size],
    bindings: [x, null, y], // binding 2 (the incoming gradient) is only read by the backward entries
    workgroups: grid1d(y.size),
  });
}

export function activationBackward(k: Kernels, label: string, kind: Activation, x: Tensor, dy: Tensor, dx: Tensor): Dispatch {
  return k.dispatch({
    shader: 'elementwise',
    entry: `${kind}_backward`,
    label,
    uniforms: [dx.size],
    bindings: [x, dy, dx],
    workgroups: grid1d(dx.size),
  });
}
