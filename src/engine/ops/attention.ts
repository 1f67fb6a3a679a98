// Multi-head self-attention ("Attention Is All You Need" §3.2.1–3.2.2), composed from the batched
// matmul and the layout/softmax kernels of src/shaders/attention.wgsl:
//   q, k, v = split_heads(qkv);  S = (q·kᵀ)/√d_k;  P = softmax(mask(S));  y = P·v;  out = merge_heads(y)
// mask(S) sets to −∞ the scores of keys a query may not see: later positions in a decoder (the causal
// mask, §3.2.3), and, given the sequences' key lengths, the padding after each sequence's end (the
// key padding mask of an encoder over padded batches). Masked keys get probability exactly 0, so they
// add nothing to y and get zero gradient: the backward needs no mask of its own.
// The scores S and probabilities P stay float in every precision scheme (the paper quantizes only the
// linear layers; its appendix A.1 discusses the attention products as an option).
//
// Two kernels compute the same thing: 'separate' (the products on the batched matmul, the masked softmax
// between them; S and P kept for the backward: 2·B·heads·T² floats per layer) and 'fused'
// (ops/flash-attention.ts, FlashAttention-style: S and P never leave the kernel; the backward recomputes
// them from q, k and the rows' log-sum-exp). The model builds choose by TrainConfig.attentionKernel.
// The fused kernels read q, k, v where the qkv projection wrote them and write the output where the
// output projection reads it (their 'tokens' layout), and the same for the gradients: no split or merge
// pass each way, and no per-head copies of q, k, v, y and their gradients (4·B·T·C floats per layer).
import type { Tensor } from '../tensor';
import { type Dispatch, grid1d, gridRows, type Kernels } from '../gpu/kernels';
import type { GpuMemory } from '../gpu/memory';
import { flashAttentionBackward, flashAttentionForward, flashAttentionLseFloats, flashAttentionProbs, flashAttentionScratchFloats, FLASH_ATTENTION_MAX_HEAD_SIZE } from './flash-attention';
import { matmul } from './matmul';

/** 'separate': products on the batched matmul with the softmax between them, S and P kept; 'fused': one
 *  FlashAttention-style kernel each way, nothing of size T² kept. */
export type AttentionKernel = 'separate' | 'fused';
export const ATTENTION_KERNELS: readonly AttentionKernel[] = ['fused', 'separate'];

export interface AttentionShape {
  B: number;
  T: number;
  C: number;
  nHead: number;
  causal: boolean;
  /** Default 'separate'. */
  kernel?: AttentionKernel;
}

/** Why a fused kernel cannot serve a head size, or null: it is generated for heads up to 128 wide. */
export function fusedAttentionUnsupported(C: number, nHead: number): string | null {
  const hs = C / nHead;
  return hs > FLASH_ATTENTION_MAX_HEAD_SIZE ? `the fused attention kernel handles heads up to ${FLASH_ATTENTION_MAX_HEAD_SIZE} wide; d_model ${C} / ${nHead} heads = ${hs}: use more heads or the separate kernel` : null;
}

/** The intermediate tensors of one attention layer: kept from forward for backward. The separate kernel
 *  keeps q, k, v, y per head [B, nh, T, hs] and the scores and probabilities [B, nh, T, T]; the fused one
 *  only the rows' log-sum-exp [B, nh, T]. Both know the layer's input qkv [B·T, 3C] and output [B·T, C]
 *  (the linear layers' tensors, kept by the model), which the fused kernels read in place. */
export interface AttentionActivations {
  qkv: Tensor;
  out: Tensor;
  q: Tensor | null;
  k: Tensor | null;
  v: Tensor | null;
  scores: Tensor | null;
  probs: Tensor | null;
  lse: Tensor | null;
  y: Tensor | null;
}

/** Gradient scratch, shared by all layers (backward handles one layer at a time): the separate kernel's
 *  per-head ∇y, ∇q, ∇k, ∇v, ∇P and ∇S, or the fused backward's per-row statistics. */
export interface AttentionGrads {
  dy: Tensor | null;
  dprobs: Tensor | null;
  dscores: Tensor | null;
  rowStats: Tensor | null;
  dq: Tensor | null;
  dk: Tensor | null;
  dv: Tensor | null;
}

function isFused(s: { kernel?: AttentionKernel }): boolean {
  return s.kernel === 'fused';
}

/** `io`: the layer's qkv projection output [B·T, 3C] and attention output [B·T, C]. */
export function allocAttentionActivations(mem: GpuMemory, s: AttentionShape, label: string, io: { qkv: Tensor; out: Tensor }): AttentionActivations {
  const hs = s.C / s.nHead;
  const heads = [s.B, s.nHead, s.T, hs];
  const square = [s.B, s.nHead, s.T, s.T];
  const fused = isFused(s);
  const perHead = (what: string) => (fused ? null : mem.tensor(heads, `${label}.${what}`));
  return {
    ...io,
    q: perHead('q'),
    k: perHead('k'),
    v: perHead('v'),
    scores: fused ? null : mem.tensor(square, `${label}.scores`),
    probs: fused ? null : mem.tensor(square, `${label}.probs`),
    lse: fused ? mem.tensor([flashAttentionLseFloats({ B: s.B, nHead: s.nHead, Tq: s.T })], `${label}.lse`) : null,
    y: perHead('y'),
  };
}

export function allocAttentionGrads(mem: GpuMemory, s: AttentionShape): AttentionGrads {
  const hs = s.C / s.nHead;
  const heads = [s.B, s.nHead, s.T, hs];
  const square = [s.B, s.nHead, s.T, s.T];
  const fused = isFused(s);
  const perHead = (what: string) => (fused ? null : mem.tensor(heads, `attn.${what}`));
  return {
    dy: perHead('dy'),
    dprobs: fused ? null : mem.tensor(square, 'attn.dprobs'),
    dscores: fused ? null : mem.tensor(square, 'attn.dscores'),
    rowStats: fused ? mem.tensor([flashAttentionScratchFloats({ B: s.B, nHead: s.nHead, Tq: s.T })], 'attn.row_stats') : null,
    dq: perHead('dq'),
    dk: perHead('dk'),
    dv: perHead('dv'),
  };
}

/** The tensor a kept-from-forward field must be for the kernel the layer was allocated with. */
export function required<T>(t: T | null, label: string, what: string): T {
  if (t === null) throw new Error(`${label}: ${what} is missing (activations allocated for the other attention kernel)`);
  return t;
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

/** a.qkv [B·T, 3C] → a.out [B·T, C] (heads concatenated). With `keyLengths` (u32 [B], keyLengthsForward),
 *  keys at or past their sequence's length are masked, on top of the causal mask if the shape has one. */
export function attentionForward(k: Kernels, label: string, s: AttentionShape, a: AttentionActivations, keyLengths: Tensor | null = null): Dispatch[] {
  const hs = s.C / s.nHead;
  const heads = s.B * s.nHead;
  const n = s.B * s.T * s.C;
  if (isFused(s)) {
    const lse = required(a.lse, label, 'the row log-sum-exp');
    return [flashAttentionForward(k, { label: `${label}.fused`, layout: 'tokens', ...flashShape(s), q: a.qkv, k: a.qkv, v: a.qkv, out: a.out, lse, keyLengths })];
  }
  const [q, kk, v, y] = [required(a.q, label, 'q'), required(a.k, label, 'k'), required(a.v, label, 'v'), required(a.y, label, 'y')];
  const split = k.dispatch({ shader: 'attention', entry: 'split_heads', label: `${label}.split`, uniforms: shapeUniforms(s), bindings: [a.qkv, q, kk, v], workgroups: grid1d(n) });
  const merge = k.dispatch({ shader: 'attention', entry: 'merge_heads', label: `${label}.merge`, uniforms: shapeUniforms(s), bindings: [y, a.out], workgroups: grid1d(n) });
  const scores = required(a.scores, label, 'the scores');
  const probs = required(a.probs, label, 'the probabilities');
  const softmax = keyLengths
    ? k.dispatch({ shader: 'attention', entry: 'softmax_forward_masked', label: `${label}.softmax`, uniforms: shapeUniforms(s), bindings: [scores, probs, keyLengths], workgroups: gridRows(heads * s.T) })
    : k.dispatch({ shader: 'attention', entry: 'softmax_forward', label: `${label}.softmax`, uniforms: shapeUniforms(s), bindings: [scores, probs], workgroups: gridRows(heads * s.T) });
  return [
    split,
    matmul(k, { label: `${label}.scores`, a: q, b: kk, c: scores, M: s.T, N: s.T, K: hs, transB: true, alpha: 1 / Math.sqrt(hs), batch: heads }),
    softmax,
    matmul(k, { label: `${label}.pv`, a: probs, b: v, c: y, M: s.T, N: hs, K: s.T, batch: heads }),
    merge,
  ];
}

function flashShape(s: AttentionShape) {
  return { B: s.B, nHead: s.nHead, Tq: s.T, Tk: s.T, hs: s.C / s.nHead, causal: s.causal };
}

/** Where an attention map reads one layer's probabilities of sequence 0 ([nh, T, T] at the start of
 *  `probs`), and what must run after the forward to put them there (nothing for the separate kernel, which
 *  keeps P; the fused one recomputes them from q, k and lse into `mapBuffer`, [nh, T, T] or larger). */
export function attentionMapSource(k: Kernels, label: string, s: AttentionShape, a: AttentionActivations, mapBuffer: () => Tensor, keyLengths: Tensor | null = null): { probs: Tensor; prepare: Dispatch[] } {
  if (!isFused(s)) return { probs: required(a.probs, label, 'the probabilities'), prepare: [] };
  const probs = mapBuffer();
  const lse = required(a.lse, label, 'the row log-sum-exp');
  return { probs, prepare: [flashAttentionProbs(k, { label: `${label}.map`, layout: 'tokens', ...flashShape(s), q: a.qkv, k: a.qkv, lse, probs, example: 0, keyLengths })] };
}

/** ∇out [B·T, C] → ∇qkv [B·T, 3C]. Masks need nothing here: masked probabilities are 0, and so are
 *  their score gradients (softmax_backward). */
export function attentionBackward(k: Kernels, label: string, s: AttentionShape, a: AttentionActivations, g: AttentionGrads, dout: Tensor, dqkv: Tensor, keyLengths: Tensor | null = null): Dispatch[] {
  const hs = s.C / s.nHead;
  const heads = s.B * s.nHead;
  const n = s.B * s.T * s.C;
  const scale = 1 / Math.sqrt(hs);
  if (isFused(s)) {
    // The fused backward recomputes P, so it needs the key padding mask the forward applied.
    return flashAttentionBackward(k, {
      label: `${label}.fused`, layout: 'tokens', ...flashShape(s), q: a.qkv, k: a.qkv, v: a.qkv, out: a.out, lse: required(a.lse, label, 'the row log-sum-exp'),
      dOut: dout, dq: dqkv, dk: dqkv, dv: dqkv, scratch: required(g.rowStats, label, 'the row statistics scratch'), keyLengths,
    });
  }
  const [q, kk, v] = [required(a.q, label, 'q'), required(a.k, label, 'k'), required(a.v, label, 'v')];
  const [dy, dq, dk, dv] = [required(g.dy, label, '∇y scratch'), required(g.dq, label, '∇q scratch'), required(g.dk, label, '∇k scratch'), required(g.dv, label, '∇v scratch')];
  const split = k.dispatch({ shader: 'attention', entry: 'split_heads_grad', label: `${label}.dsplit`, uniforms: shapeUniforms(s), bindings: [dout, dy], workgroups: grid1d(n) });
  const merge = k.dispatch({ shader: 'attention', entry: 'merge_heads_qkv', label: `${label}.dmerge`, uniforms: shapeUniforms(s), bindings: [dq, dk, dv, dqkv], workgroups: grid1d(n) });
  const probs = required(a.probs, label, 'the probabilities');
  const dprobs = required(g.dprobs, label, '∇P scratch');
  const dscores = required(g.dscores, label, '∇S scratch');
  return [
    split,
    // y = P·v: ∇P = ∇y·vᵀ, ∇v = Pᵀ·∇y
    matmul(k, { label: `${label}.dprobs`, a: dy, b: v, c: dprobs, M: s.T, N: s.T, K: hs, transB: true, batch: heads }),
    matmul(k, { label: `${label}.dv`, a: probs, b: dy, c: dv, M: s.T, N: hs, K: s.T, transA: true, batch: heads }),
    k.dispatch({ shader: 'attention', entry: 'softmax_backward', label: `${label}.dsoftmax`, uniforms: shapeUniforms(s), bindings: [probs, dprobs, dscores], workgroups: gridRows(heads * s.T) }),
    // S = q·kᵀ/√d_k: ∇q = ∇S·k/√d_k, ∇k = ∇Sᵀ·q/√d_k
    matmul(k, { label: `${label}.dq`, a: dscores, b: kk, c: dq, M: s.T, N: hs, K: s.T, alpha: scale, batch: heads }),
    matmul(k, { label: `${label}.dk`, a: dscores, b: q, c: dk, M: s.T, N: hs, K: s.T, transA: true, alpha: scale, batch: heads }),
    merge,
  ];
}
