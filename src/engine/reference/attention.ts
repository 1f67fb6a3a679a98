// Multi-head scaled dot-product attention ('Attention Is All You Need', §3.2.1–3.2.2), on the output of
// GPT-2's fused c_attn projection. The c_attn / c_proj linears around it are separate linear layers.

function checkHeads(C: number, nHead: number): number {
  if (!Number.isInteger(nHead) || nHead <= 0 || C % nHead !== 0) {
    throw new Error(`attention: C (${C}) must be divisible by nHead (${nHead})`);
  }
  return C / nHead;
}

/**
 * The key padding of a batch of padded sequences: tokens [B·T] → the number of real keys of each
 * sequence, one past its last token that is not `pad` (padding fills a sequence after its end). At
 * least 1: the first key always counts, so no query is left with nothing to attend to.
 */
export function refKeyLengths(tokens: ArrayLike<number>, B: number, T: number, pad: number): Int32Array {
  if (tokens.length !== B * T) throw new Error(`key lengths: tokens must hold B·T = ${B * T} values, got ${tokens.length}`);
  const lengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let last = 0;
    for (let t = 0; t < T; t++) if (tokens[b * T + t] !== pad) last = t;
    lengths[b] = last + 1;
  }
  return lengths;
}

function checkKeyLengths(keyLengths: ArrayLike<number>, B: number, T: number): void {
  if (keyLengths.length !== B) throw new Error(`attention: ${keyLengths.length} key lengths for a batch of ${B}`);
  for (let b = 0; b < B; b++) {
    const n = keyLengths[b];
    if (!Number.isInteger(n) || n < 1 || n > T) throw new Error(`attention: key length ${n} of sequence ${b} is not in 1 … ${T} (every query needs a key)`);
  }
}

/**
 * qkv [B·T, 3C]: columns [0,C) are the queries, [C,2C) the keys, [2C,3C) the values; head h owns
 * columns h·hs..(h+1)·hs of each (hs = C/nHead), as nanoGPT's split + view does.
 *   scores = q·kᵀ / √hs            (the 1/√d_k scaling of §3.2.1)
 *   scores[t, s] = −∞ for s > t    (causal mask, applied before the softmax, so att[t, s] = 0 exactly)
 *   scores[t, s] = −∞ for s ≥ keyLengths[b]   (key padding mask, with keyLengths: keys past the end
 *                                  of sequence b, where it is padded, get att = 0 exactly too)
 *   att = softmax over s           [B, nHead, T, T], kept for the backward pass
 *   out[t] = Σ_s att[t, s]·v[s]     [B·T, C], head h in columns h·hs..(h+1)·hs ("concat" of §3.2.2)
 */
export function attentionForward(
  qkv: Float64Array,
  B: number,
  T: number,
  C: number,
  nHead: number,
  causal: boolean,
  keyLengths: ArrayLike<number> | null = null,
): { out: Float64Array; att: Float64Array } {
  const hs = checkHeads(C, nHead);
  if (keyLengths) checkKeyLengths(keyLengths, B, T);
  const scale = 1 / Math.sqrt(hs);
  const rowStride = 3 * C;
  const out = new Float64Array(B * T * C);
  const att = new Float64Array(B * nHead * T * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHead; h++) {
      for (let t = 0; t < T; t++) {
        const qBase = (b * T + t) * rowStride + h * hs;
        const attBase = ((b * nHead + h) * T + t) * T;
        // With the causal mask only keys 0..t take part, with the padding mask only the sequence's
        // real keys; the rest stay exactly 0 in att.
        const lastKey = Math.min(causal ? t : T - 1, keyLengths ? keyLengths[b] - 1 : T - 1);
        let maxScore = -Infinity;
        for (let s = 0; s <= lastKey; s++) {
          const kBase = (b * T + s) * rowStride + C + h * hs;
          let dot = 0;
          for (let d = 0; d < hs; d++) dot += qkv[qBase + d] * qkv[kBase + d];
          const score = dot * scale;
          att[attBase + s] = score;
          if (score > maxScore) maxScore = score;
        }
        // Numerically stable softmax: subtracting the row max changes nothing mathematically.
        let denominator = 0;
        for (let s = 0; s <= lastKey; s++) {
          const e = Math.exp(att[attBase + s] - maxScore);
          att[attBase + s] = e;
          denominator += e;
        }
        for (let s = 0; s <= lastKey; s++) att[attBase + s] /= denominator;

        const outBase = (b * T + t) * C + h * hs;
        for (let s = 0; s <= lastKey; s++) {
          const p = att[attBase + s];
          const vBase = (b * T + s) * rowStride + 2 * C + h * hs;
          for (let d = 0; d < hs; d++) out[outBase + d] += p * qkv[vBase + d];
        }
      }
    }
  }
  return { out, att };
}

/**
 * Gradient of attentionForward with respect to qkv, given dout [B·T, C] and the saved att:
 *   dv[s]  += att[t,s]·dout[t]
 *   datt[t,s] = dout[t]·v[s]
 *   dscore[t,s] = att[t,s]·(datt[t,s] − Σ_s' att[t,s']·datt[t,s'])   (softmax Jacobian)
 *   dq[t] += dscore[t,s]·k[s]/√hs,  dk[s] += dscore[t,s]·q[t]/√hs
 * Masked entries have att = 0, so they get dscore = 0 (and their values no gradient): neither the causal
 * flag nor the key lengths are needed here.
 */
export function attentionBackward(
  dout: Float64Array,
  qkv: Float64Array,
  att: Float64Array,
  B: number,
  T: number,
  C: number,
  nHead: number,
): Float64Array {
  const hs = checkHeads(C, nHead);
  const scale = 1 / Math.sqrt(hs);
  const rowStride = 3 * C;
  const dqkv = new Float64Array(B * T * rowStride);
  const dAtt = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHead; h++) {
      for (let t = 0; t < T; t++) {
        const attBase = ((b * nHead + h) * T + t) * T;
        const doutBase = (b * T + t) * C + h * hs;
        const qBase = (b * T + t) * rowStride + h * hs;

        let weightedSum = 0;
        for (let s = 0; s < T; s++) {
          const vBase = (b * T + s) * rowStride + 2 * C + h * hs;
          const p = att[attBase + s];
          let dot = 0;
          for (let d = 0; d < hs; d++) {
            dot += dout[doutBase + d] * qkv[vBase + d];
            dqkv[vBase + d] += p * dout[doutBase + d];
          }
          dAtt[s] = dot;
          weightedSum += p * dot;
        }
        for (let s = 0; s < T; s++) {
          const dScore = att[attBase + s] * (dAtt[s] - weightedSum) * scale;
          if (dScore === 0) continue;
          const kBase = (b * T + s) * rowStride + C + h * hs;
          for (let d = 0; d < hs; d++) {
            dqkv[qBase + d] += dScore * qkv[kBase + d];
            dqkv[kBase + d] += dScore * qkv[qBase + d];
          }
        }
      }
    }
  }
  return dqkv;
}
