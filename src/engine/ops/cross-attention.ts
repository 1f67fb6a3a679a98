// Multi-head cross-attention ("Attention Is All You Need" §3.2.3, encoder-decoder attention): queries
// from the decoder (Tq positions), keys and values from the encoder output (Tk positions).
//   q = heads(Q);  k, v = heads(KV);  S = q·kᵀ/√d_k  [B, nh, Tq, Tk];  P = softmax(mask(S));  out = rows(P·v)
// mask(S), given the sources' key lengths (ops/attention.ts keyLengthsForward), sets to −∞ the scores
// of the encoder positions past each source's end, where the batch is padded: every decoder position
// sees the whole real source and none of its padding. There is no causal mask (the source is read
// whole).
// Q [B·Tq, C] is the output of the decoder's cross_attn.c_q, KV [B·Tk, 2C] of cross_attn.c_kv (k in
// columns 0 … C, v in C … 2C); both are ordinary linear layers of the run's scheme. The products run
// on the batched matmul; the layouts and the softmax are in src/shaders/cross_attention.wgsl. Like
// self-attention, S and P stay float in every precision scheme.
import type { Tensor } from '../tensor';
import { type Dispatch, grid1d, gridRows, type Kernels } from '../gpu/kernels';
import type { GpuMemory } from '../gpu/memory';
import { type AttentionKernel, required } from './attention';
import { flashAttentionBackward, flashAttentionForward, flashAttentionLseFloats, flashAttentionProbs, flashAttentionScratchFloats } from './flash-attention';
import { matmul } from './matmul';

export interface CrossAttentionShape {
  B: number;
  /** Query positions (the decoder's T). */
  Tq: number;
  /** Key positions (the encoder's T). */
  Tk: number;
  C: number;
  nHead: number;
  /** Default 'separate' (ops/attention.ts AttentionKernel). */
  kernel?: AttentionKernel;
}

/** Kept from forward for backward: the separate kernel's scores and probabilities [B, nh, Tq, Tk] (P is
 *  what an attention map shows), or the fused kernel's rows' log-sum-exp [B, nh, Tq]. */
export interface CrossAttentionActivations {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  scores: Tensor | null;
  probs: Tensor | null;
  lse: Tensor | null;
  y: Tensor;
}

export interface CrossAttentionGrads {
  dy: Tensor;
  dprobs: Tensor | null;
  dscores: Tensor | null;
  rowStats: Tensor | null;
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

function shapes(s: CrossAttentionShape) {
  const hs = s.C / s.nHead;
  return { hs, qHeads: [s.B, s.nHead, s.Tq, hs], kHeads: [s.B, s.nHead, s.Tk, hs], rect: [s.B, s.nHead, s.Tq, s.Tk] };
}

function flashShape(s: CrossAttentionShape) {
  return { B: s.B, nHead: s.nHead, Tq: s.Tq, Tk: s.Tk, hs: s.C / s.nHead, causal: false };
}

export function allocCrossAttentionActivations(mem: GpuMemory, s: CrossAttentionShape, label: string): CrossAttentionActivations {
  const { qHeads, kHeads, rect } = shapes(s);
  const fused = s.kernel === 'fused';
  return {
    q: mem.tensor(qHeads, `${label}.q`),
    k: mem.tensor(kHeads, `${label}.k`),
    v: mem.tensor(kHeads, `${label}.v`),
    scores: fused ? null : mem.tensor(rect, `${label}.scores`),
    probs: fused ? null : mem.tensor(rect, `${label}.probs`),
    lse: fused ? mem.tensor([flashAttentionLseFloats(flashShape(s))], `${label}.lse`) : null,
    y: mem.tensor(qHeads, `${label}.y`),
  };
}

/** Gradient scratch, shared by all layers (backward handles one layer at a time). */
export function allocCrossAttentionGrads(mem: GpuMemory, s: CrossAttentionShape): CrossAttentionGrads {
  const { qHeads, kHeads, rect } = shapes(s);
  const fused = s.kernel === 'fused';
  return {
    dy: mem.tensor(qHeads, 'cross_attn.dy'),
    dprobs: fused ? null : mem.tensor(rect, 'cross_attn.dprobs'),
    dscores: fused ? null : mem.tensor(rect, 'cross_attn.dscores'),
    rowStats: fused ? mem.tensor([flashAttentionScratchFloats(flashShape(s))], 'cross_attn.row_stats') : null,
    dq: mem.tensor(qHeads, 'cross_attn.dq'),
    dk: mem.tensor(kHeads, 'cross_attn.dk'),
    dv: mem.tensor(kHeads, 'cross_attn.dv'),
  };
}

/** rows [B·T, stride] (columns offset … offset + C) ↔ heads [B, nh, T, hs]. */
function relayout(k: Kernels, label: string, entry: 'rows_to_heads' | 'heads_to_rows', s: CrossAttentionShape, T: number, stride: number, offset: number, from: Tensor, to: Tensor): Dispatch {
  return k.dispatch({ shader: 'cross_attention', entry, label, uniforms: [s.B, T, s.C, s.nHead, stride, offset], bindings: [from, to], workgroups: grid1d(s.B * T * s.C) });
}

/** Q [B·Tq, C], KV [B·Tk, 2C] → out [B·Tq, C] (heads concatenated). With `keyLengths` (u32 [B]), the
 *  keys at or past their source's length get probability 0. */
export function crossAttentionForward(k: Kernels, label: string, s: CrossAttentionShape, Q: Tensor, KV: Tensor, a: CrossAttentionActivations, out: Tensor, keyLengths: Tensor | null = null): Dispatch[] {
  const { hs } = shapes(s);
  const heads = s.B * s.nHead;
  const rows = heads * s.Tq;
  const uniforms = [rows, s.Tk, s.nHead * s.Tq];
  const split = [
    relayout(k, `${label}.split_q`, 'rows_to_heads', s, s.Tq, s.C, 0, Q, a.q),
    relayout(k, `${label}.split_k`, 'rows_to_heads', s, s.Tk, 2 * s.C, 0, KV, a.k),
    relayout(k, `${label}.split_v`, 'rows_to_heads', s, s.Tk, 2 * s.C, s.C, KV, a.v),
  ];
  const merge = relayout(k, `${label}.merge`, 'heads_to_rows', s, s.Tq, s.C, 0, a.y, out);
  if (s.kernel === 'fused') {
    const lse = required(a.lse, label, 'the row log-sum-exp');
    return [...split, flashAttentionForward(k, { label: `${label}.fused`, ...flashShape(s), q: a.q, k: a.k, v: a.v, out: a.y, lse, keyLengths }), merge];
  }
  const scores = required(a.scores, label, 'the scores');
  const probs = required(a.probs, label, 'the probabilities');
  const softmax = keyLengths
    ? k.dispatch({ shader: 'cross_attention', entry: 'softmax_rows_forward_masked', label: `${label}.softmax`, uniforms, bindings: [scores, probs, keyLengths], workgroups: gridRows(rows) })
    : k.dispatch({ shader: 'cross_attention', entry: 'softmax_rows_forward', label: `${label}.softmax`, uniforms, bindings: [scores, probs], workgroups: gridRows(rows) });
  return [
    ...split,
    matmul(k, { label: `${label}.scores`, a: a.q, b: a.k, c: scores, M: s.Tq, N: s.Tk, K: hs, transB: true, alpha: 1 / Math.sqrt(hs), batch: heads }),
    softmax,
    matmul(k, { label: `${label}.pv`, a: probs, b: a.v, c: a.y, M: s.Tq, N: hs, K: s.Tk, batch: heads }),
    merge,
  ];
}

/** Where an attention map reads sequence 0's probabilities ([nh, Tq, Tk] at the start of `probs`), and
 *  what must run after the forward to put them there (see ops/attention.ts attentionMapSource). */
export function crossAttentionMapSource(k: Kernels, label: string, s: CrossAttentionShape, a: CrossAttentionActivations, mapBuffer: () => Tensor, keyLengths: Tensor | null = null): { probs: Tensor; prepare: Dispatch[] } {
  if (s.kernel !== 'fused') return { probs: required(a.probs, label, 'the probabilities'), prepare: [] };
  const probs = mapBuffer();
  const lse = required(a.lse, label, 'the row log-sum-exp');
  return { probs, prepare: [flashAttentionProbs(k, { label: `${label}.map`, ...flashShape(s), q: a.q, k: a.k, lse, probs, example: 0, keyLengths })] };
}

/** ∇out [B·Tq, C] → ∇Q [B·Tq, C] and ∇KV [B·Tk, 2C]. The mask needs nothing here: masked
 *  probabilities are 0, and so are their score gradients and their keys' and values' gradients. */
export function crossAttentionBackward(k: Kernels, label: string, s: CrossAttentionShape, a: CrossAttentionActivations, g: CrossAttentionGrads, dout: Tensor, dQ: Tensor, dKV: Tensor, keyLengths: Tensor | null = null): Dispatch[] {
  const { hs } = shapes(s);
  const heads = s.B * s.nHead;
  const rows = heads * s.Tq;
  const scale = 1 / Math.sqrt(hs);
  const split = relayout(k, `${label}.dsplit`, 'rows_to_heads', s, s.Tq, s.C, 0, dout, g.dy);
  const merge = [
    relayout(k, `${label}.merge_dq`, 'heads_to_rows', s, s.Tq, s.C, 0, g.dq, dQ),
    relayout(k, `${label}.merge_dk`, 'heads_to_rows', s, s.Tk, 2 * s.C, 0, g.dk, dKV),
    relayout(k, `${label}.merge_dv`, 'heads_to_rows', s, s.Tk, 2 * s.C, s.C, g.dv, dKV),
  ];
  if (s.kernel === 'fused') {
    // The fused backward recomputes P, so it needs the key padding mask the forward applied.
    const fused = flashAttentionBackward(k, {
      label: `${label}.fused`, ...flashShape(s), q: a.q, k: a.k, v: a.v, out: a.y, lse: required(a.lse, label, 'the row log-sum-exp'),
      dOut: g.dy, dq: g.dq, dk: g.dk, dv: g.dv, scratch: required(g.rowStats, label, 'the row statistics scratch'), keyLengths,
    });
    return [split, ...fused, ...merge];
  }
  const probs = required(a.probs, label, 'the probabilities');
  const dprobs = required(g.dprobs, label, '∇P scratch');
  const dscores = required(g.dscores, label, '∇S scratch');
  return [
    split,
    // y = P·v: ∇P = ∇y·vᵀ [Tq, Tk], ∇v = Pᵀ·∇y [Tk, hs]
    matmul(k, { label: `${label}.dprobs`, a: g.dy, b: a.v, c: dprobs, M: s.Tq, N: s.Tk, K: hs, transB: true, batch: heads }),
    matmul(k, { label: `${label}.dv`, a: probs, b: g.dy, c: g.dv, M: s.Tk, N: hs, K: s.Tq, transA: true, batch: heads }),
    k.dispatch({ shader: 'cross_attention', entry: 'softmax_rows_backward', label: `${label}.dsoftmax`, uniforms: [rows, s.Tk, s.nHead * s.Tq], bindings: [probs, dprobs, dscores], workgroups: gridRows(rows) }),
    // S = q·kᵀ/√d_k: ∇q = ∇S·k/√d_k [Tq, hs], ∇k = ∇Sᵀ·q/√d_k [Tk, hs]
    matmul(k, { label: `${label}.dq`, a: dscores, b: a.k, c: g.dq, M: s.Tq, N: hs, K: s.Tk, alpha: scale, batch: heads }),
    matmul(k, { label: `${label}.dk`, a: dscores, b: a.q, c: g.dk, M: s.Tk, N: hs, K: s.Tq, transA: true, alpha: scale, batch: heads }),
    ...merge,
  ];
}

/** acc += x, element-wise over n values. */
export function accumulate(k: Kernels, label: string, x: Tensor, acc: Tensor, n: number): Dispatch {
  return k.dispatch({ shader: 'cross_attention', entry: 'accumulate', label, uniforms: [n], bindings: [x, acc], workgroups: grid1d(n) });
}
