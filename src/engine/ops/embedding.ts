// Token embedding + positional encoding, forward and backward (src/shaders/embedding.wgsl).
import type { Tensor } from '../tensor';
import { type Dispatch, grid1d, gridRows, type Kernels } from '../gpu/kernels';

export interface EmbeddingShape {
  B: number;
  T: number;
  C: number;
  V: number;
  /** A learned table (wpe); otherwise the sinusoidal formula, which has no parameters. */
  learnedPositions: boolean;
}

const uniforms = (s: EmbeddingShape) => [s.B, s.T, s.C, s.V, s.learnedPositions ? 1 : 0];

export function embeddingForward(k: Kernels, s: EmbeddingShape, tokens: Tensor, wte: Tensor, wpe: Tensor | null, x: Tensor): Dispatch {
  return k.dispatch({
    shader: 'embedding',
    entry: 'forward',
    label: 'embedding',
    uniforms: uniforms(s),
    bindings: [tokens, wte, wpe ?? k.placeholder, x],
    workgroups: grid1d(s.B * s.T * s.C),
  });
}

export function embeddingBackward(k: Kernels, s: EmbeddingShape, tokens: Tensor, dx: Tensor, dwte: Tensor, dwpe: Tensor | null): Dispatch[] {
  // One workgroup per vocabulary row and block of 512 channels (the shader's 8·64 per thread group).
  const [x, y] = gridRows(s.V);
  const channelBlocks = Math.ceil(s.C / 512);
  const out = [
    k.dispatch({ shader: 'embedding', entry: 'backward_tokens', label: 'embedding.dwte', uniforms: uniforms(s), bindings: [tokens, dx, dwte], workgroups: [x, y, channelBlocks] }),
  ];
  if (dwpe) {
    out.push(k.dispatch({ shader: 'embedding', entry: 'backward_positions', label: 'embedding.dwpe', uniforms: uniforms(s), bindings: [dx, dwpe], workgroups: grid1d(s.T * s.C) }));
  }
  return out;
}
