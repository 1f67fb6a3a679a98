// Multi-head self-attention ("Attention Is All You Need" §3.2.1–3.2.2), composed from the batched
// matmul and the layout/softmax kernels of src/shaders/attention.wgsl:
//   q, k, v = split_heads(qkv);  S = (q·kᵀ)/√d_k;  P = softmax(mask(S));  y = P·v;  out = merge_heads(y)
// mask(S) sets to −∞ the scores of keys a query may not see: later positions in a decoder (the causal
// mask, §3.2.3), and, given the sequences' key lengths, the padding after each sequence's end (the
// key padding mask of an encoder over padded batches). Masked keys get probability exactly 0, so they
// add nothing to y and get zero gradient: the backward needs no mask of its own.
// The scores S and probabilities P stay float in every precision scheme (the paper quantizes only the
// linear layers; its appendix A.1 discusses the attention products as an option).
import type { Tensor } from '../tensor';
import { type Dispatch, grid1d, gridRows, type Kernels } from '../gpu/kernels';
import type { GpuMemory } from '../gpu/memory';
import { matmul } from './matmul';

export interface AttentionShape {
  B: number;
  T: number;
  C: number;
  nHead: number;
  causal: boolean;
}

/** The intermediate tensors of one attention layer: kept from forward for backward. */
export interface AttentionActivations {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  scores: Tensor;
  probs: Tensor;
  y: Tensor;
}

/** Gradient scratch, shared by all layers (backward handles one layer at a time). */
export interface AttentionGrads {
  dy: Tensor;
  dprobs: Tensor;
  dscores: Tensor;
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

export function allocAttentionActivations(mem: GpuMemory, s: AttentionShape, label: string): AttentionActivations {
  const hs = s.C / s.nHead;
  const heads = [s.B, s.nHead, s.T, hs];
  const square = [s.B, s.nHead, s.T, s.T];
  return {
    q: mem.tensor(heads, `${label}.q`),
    k: mem.tensor(heads, `${label}.k`),
    v: mem.tensor(heads, `${label}.v`),
    scores: mem.tensor(square, `${label}.scores`),
    probs: mem.tensor(square, `${label}.probs`),
    y: mem.tensor(heads, `${label}.y`),
  };
}

export function allocAttentionGrads(mem: GpuMemory, s: AttentionShape): AttentionGrads {
  const hs = s.C / s.nHead;
  const heads = [s.B, s.nHead, s.T, hs];
  const square = [s.B, s.nHead, s.T, s.T];
  return {
    dy: mem.tensor(heads, 'attn.dy'),
    dprobs: mem.tensor(square, 'attn.dprobs'),
    dscores: mem.tensor(square, 'attn.dscores'),
    dq: mem.tensor(heads, 'attn.dq'),
    dk: mem.tensor(heads, 'attn.dk'),
    dv: mem.tensor(heads, 'attn.dv'),
  };
}

function shapeUniforms(s: AttentionShape): number[] {
  return [s.B, s.T, s.C, s.nHead, s.causal ? 1 : 0];
}

/** The key padding of a padded batch: token ids [B·T] (u32) → lengths [B] (u32), each sequence's
 *  real keys, one past its last token that is not `pad`. At least 1 (key 0 always counts), so a row
 *  of nothing but padding still has a key to attend to and no softmax divides by 0. Computed on the
 *  GPU from the tokens the step already uploaded, so it needs no upload or readback of its own. */
export function keyLengthsForward(k: Kernels, label: string, shape: { B: number; T: number; pad: number }, tokens: Tensor, lengths: Tensor): Dispatch {
  if (!Number.isInteger(shape.pad) || shape.pad < 0) throw new Error(`${label}: the pad token must be a token id (a non-negative integer), got ${shape.pad}`);
  return k.dispatch({ shader: 'attention', entry: 'key_lengths', label, uniforms: [shape.B, shape.T, shape.pad], bindings: [tokens, lengths], workgroups: grid1d(shape.B) });
}

/** qkv [B·T, 3C] → out [B·T, C] (heads concatenated). With `keyLengths` (u32 [B], keyLengthsForward),
 *  keys at or past their sequence's length are masked, on top of the causal mask if the shape has one. */
export function attentionForward(k: Kernels, label: string, s: AttentionShape, qkv: Tensor, a: AttentionActivations, out: Tensor, keyLengths: Tensor | null = null): Dispatch[] {
  const hs = s.C / s.nHead;
  const heads = s.B * s.nHead;
  const n = s.B * s.T * s.C;
  const softmax = keyLengths
    ? k.dispatch({ shader: 'attention', entry: 'softmax_forward_masked', label: `${label}.softmax`, uniforms: shapeUniforms(s), bindings: [a.scores, a.probs, keyLengths], workgroups: gridRows(heads * s.T) })
    : k.dispatch({ shader: 'attention', entry: 'softmax_forward', label: `${label}.softmax`, uniforms: shapeUniforms(s), bindings: [a.scores, a.probs], workgroups: gridRows(heads * s.T) });
  return [
    k.dispatch({ shader: 'attention', entry: 'split_heads', label: `${label}.split`, uniforms: shapeUniforms(s), bindings: [qkv, a.q, a.k, a.v], workgroups: grid1d(n) }),
    matmul(k, { label: `${label}.scores`, a: a.q, b: a.k, c: a.scores, M: s.T, N: s.T, K: hs, transB: true, alpha: 1 / Math.sqrt(hs), batch: heads }),
    softmax,
    matmul(k, { label: `${label}.pv`, a: a.probs, b: a.v, c: a.y, M: s.T, N: hs, K: s.T, batch: heads }),
    k.dispatch({ shader: 'attention', entry: 'merge_heads', label: `${label}.merge`, uniforms: shapeUniforms(s), bindings: [a.y, out], workgroups: grid1d(n) }),
  ];
}

/** ∇out [B·T, C] → ∇qkv [B·T, 3C]. Masks need nothing here: masked probabilities are 0, and so are
 *  their score gradients (softmax_backward). */
export function attentionBackward(k: Kernels, label: string, s: AttentionShape, a: AttentionActivations, g: AttentionGrads, dout: Tensor, dqkv: Tensor): Dispatch[] {
  const hs = s.C / s.nHead;
  const heads = s.B * s.nHead;
  const n = s.B * s.T * s.C;
  const scale = 1 / Math.sqrt(hs);
  return [
    k.dispatch({ shader: 'attention', entry: 'split_heads_grad', label: `${label}.dsplit`, uniforms: shapeUniforms(s), bindings: [dout, g.dy], workgroups: grid1d(n) }),
    // y = P·v: ∇P = ∇y·vᵀ, ∇v = Pᵀ·∇y
    matmul(k, { label: `${label}.dprobs`, a: g.dy, b: a.v, c: g.dprobs, M: s.T, N: s.T, K: hs, transB: true, batch: heads }),
    matmul(k, { label: `${label}.dv`, a: a.probs, b: g.dy, c: g.dv, M: s.T, N: hs, K: s.T, transA: true, batch: heads }),
    k.dispatch({ shader: 'attention', entry: 'softmax_backward', label: `${label}.dsoftmax`, uniforms: shapeUniforms(s), bindings: [a.probs, g.dprobs, g.dscores], workgroups: gridRows(heads * s.T) }),
    // S = q·kᵀ/√d_k: ∇q = ∇S·k/√d_k, ∇k = ∇Sᵀ·q/√d_k
    matmul(k, { label: `${label}.dq`, a: g.dscores, b: a.k, c: g.dq, M: s.T, N: hs, K: s.T, alpha: scale, batch: heads }),
    matmul(k, { label: `${label}.dk`, a: g.dscores, b: a.q, c: g.dk, M: s.T, N: hs, K: s.T, transA: true, alpha: scale, batch: heads }),
    k.dispatch({ shader: 'attention', entry: 'merge_heads_qkv', label: `${label}.dmerge`, uniforms: shapeUniforms(s), bindings: [g.dq, g.dk, g.dv, dqkv], workgroups: grid1d(n) }),
  ];
}
