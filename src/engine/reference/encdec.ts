// The encoder-only classifier and the encoder-decoder in float64, built from the reference ops: the
// oracle for the GPU models of model/gpt.ts (architecture 'encoder') and model/encdec.ts. Written from
// the formulas ("Attention Is All You Need" §3.1–3.2.3, GPT-2's pre-LayerNorm block), not from the GPU
// code:
//   block(x)       = x + c_proj(attention(c_attn(ln_1(x))))         (causal in a decoder, not in an encoder)
//                    [+ cross_attn.c_proj(cross(cross_attn.c_q(ln_cross(x)), cross_attn.c_kv(enc)))]
//                    + mlp.c_proj(act(mlp.c_fc(ln_2(x))))           (each added to the residual stream in turn)
//   classifier:      logits = classifier(ln_f(blocks(wte[tokens] + pos)))   scored where a target is set (the CLS position)
//   encoder-decoder: enc = encoder.ln_f(encoder blocks(encoder.wte[sources] + pos))
//                    logits = lm_head(ln_f(decoder blocks(wte[inputs] + pos, enc)))
// Sequences are padded after their end with a pad token; the encoder's self-attention and the
// cross-attention mask those keys (key padding mask: a key past the sequence's last non-pad token gets
// probability 0), so the padding changes no output at a real position.
import type { ModelConfig } from '../config';
import { geluBackward, geluForward, reluBackward, reluForward } from './activations';
import { attentionBackward, attentionForward, refKeyLengths } from './attention';
import { embeddingBackward, embeddingForward } from './embedding';
import type { RefParams } from './gpt';
import { layerNormBackward, layerNormForward } from './layernorm';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from './loss';
import { linearBackward, linearForward } from './matmul';
import { residualForward } from './residual';

type Shape = { name: string; shape: number[] };

function blockParamNames(p: string, C: number, dFF: number, cross: boolean): Shape[] {
  const out: Shape[] = [
    { name: `${p}.ln_1.weight`, shape: [C] },
    { name: `${p}.ln_1.bias`, shape: [C] },
    { name: `${p}.attn.c_attn.weight`, shape: [3 * C, C] },
    { name: `${p}.attn.c_attn.bias`, shape: [3 * C] },
    { name: `${p}.attn.c_proj.weight`, shape: [C, C] },
    { name: `${p}.attn.c_proj.bias`, shape: [C] },
  ];
  if (cross) {
    out.push(
      { name: `${p}.ln_cross.weight`, shape: [C] },
      { name: `${p}.ln_cross.bias`, shape: [C] },
      { name: `${p}.cross_attn.c_q.weight`, shape: [C, C] },
      { name: `${p}.cross_attn.c_q.bias`, shape: [C] },
      { name: `${p}.cross_attn.c_kv.weight`, shape: [2 * C, C] },
      { name: `${p}.cross_attn.c_kv.bias`, shape: [2 * C] },
      { name: `${p}.cross_attn.c_proj.weight`, shape: [C, C] },
      { name: `${p}.cross_attn.c_proj.bias`, shape: [C] },
    );
  }
  out.push(
    { name: `${p}.ln_2.weight`, shape: [C] },
    { name: `${p}.ln_2.bias`, shape: [C] },
    { name: `${p}.mlp.c_fc.weight`, shape: [dFF, C] },
    { name: `${p}.mlp.c_fc.bias`, shape: [dFF] },
    { name: `${p}.mlp.c_proj.weight`, shape: [C, dFF] },
    { name: `${p}.mlp.c_proj.bias`, shape: [C] },
  );
  return out;
}

/** The encoder classifier's parameters: GPT's, with `classifier.weight` [K, C] and `classifier.bias` [K]
 *  in place of lm_head. */
export function refEncoderParamNames(c: ModelConfig): Shape[] {
  const C = c.dModel;
  const K = numClasses(c);
  const names: Shape[] = [{ name: 'transformer.wte.weight', shape: [c.vocabSize, C] }];
  if (c.positionalEncoding === 'learned') names.push({ name: 'transformer.wpe.weight', shape: [c.contextLength, C] });
  for (let i = 0; i < c.nLayer; i++) names.push(...blockParamNames(`transformer.h.${i}`, C, c.dFF, false));
  names.push({ name: 'transformer.ln_f.weight', shape: [C] }, { name: 'transformer.ln_f.bias', shape: [C] });
  names.push({ name: 'classifier.weight', shape: [K, C] }, { name: 'classifier.bias', shape: [K] });
  return names;
}

/** The encoder-decoder's parameters: an encoder stack under `encoder.`, a decoder stack with
 *  cross-attention under `transformer.`, and lm_head. */
export function refEncDecParamNames(c: ModelConfig): Shape[] {
  const C = c.dModel;
  const S = sourceLength(c);
  const names: Shape[] = [{ name: 'encoder.wte.weight', shape: [c.vocabSize, C] }];
  if (c.positionalEncoding === 'learned') names.push({ name: 'encoder.wpe.weight', shape: [S, C] });
  for (let i = 0; i < c.nLayer; i++) names.push(...blockParamNames(`encoder.h.${i}`, C, c.dFF, false));
  names.push({ name: 'encoder.ln_f.weight', shape: [C] }, { name: 'encoder.ln_f.bias', shape: [C] });
  names.push({ name: 'transformer.wte.weight', shape: [c.vocabSize, C] });
  if (c.positionalEncoding === 'learned') names.push({ name: 'transformer.wpe.weight', shape: [c.contextLength, C] });
  for (let i = 0; i < c.nLayer; i++) names.push(...blockParamNames(`transformer.h.${i}`, C, c.dFF, true));
  names.push({ name: 'transformer.ln_f.weight', shape: [C] }, { name: 'transformer.ln_f.bias', shape: [C] });
  names.push({ name: 'lm_head.weight', shape: [c.vocabSize, C] });
  return names;
}

function numClasses(c: ModelConfig): number {
  if (!c.numClasses || c.numClasses < 2) throw new Error('reference encoder: config needs numClasses >= 2');
  return c.numClasses;
}

function sourceLength(c: ModelConfig): number {
  if (!c.sourceLength) throw new Error('reference encoder-decoder: config needs sourceLength');
  return c.sourceLength;
}

function param(params: RefParams, name: string): Float64Array {
  const p = params[name];
  if (!p) throw new Error(`reference model: missing parameter "${name}"`);
  return p;
}

function checkShapes(params: RefParams, names: Shape[]): void {
  for (const { name, shape } of names) {
    const expected = shape.reduce((a, b) => a * b, 1);
    const actual = param(params, name).length;
    if (actual !== expected) throw new Error(`reference model: "${name}" has ${actual} values, expected ${expected} [${shape}]`);
  }
}

// --- cross-attention

/**
 * q [B·Tq, C] (queries, from the decoder), kv [B·Tk, 2C] (keys in columns 0…C, values in C…2C, from
 * the encoder output); head h owns columns h·hs … (h+1)·hs of each. Without keyLengths every query sees
 * every key; with them (one per sequence, 1 … Tk) only the keys s < keyLengths[b] of its source:
 *   att[b,h,t,s] = softmax_s(q[b,t]·k[b,s] / √hs) over those keys, 0 for the others
 *   out[b,t] = Σ_s att[b,h,t,s]·v[b,s]
 */
export function refCrossAttentionForward(q: Float64Array, kv: Float64Array, B: number, Tq: number, Tk: number, C: number, nHead: number, keyLengths: ArrayLike<number> | null = null): { out: Float64Array; att: Float64Array } {
  if (C % nHead !== 0) throw new Error(`cross-attention: C (${C}) must be divisible by nHead (${nHead})`);
  if (keyLengths && (keyLengths.length !== B || Array.from(keyLengths).some((n) => !Number.isInteger(n) || n < 1 || n > Tk))) {
    throw new Error(`cross-attention: key lengths [${Array.from(keyLengths)}] must be B = ${B} values in 1 … ${Tk}`);
  }
  const hs = C / nHead;
  const scale = 1 / Math.sqrt(hs);
  const out = new Float64Array(B * Tq * C);
  const att = new Float64Array(B * nHead * Tq * Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHead; h++) {
      for (let t = 0; t < Tq; t++) {
        const row = ((b * nHead + h) * Tq + t) * Tk;
        const qBase = (b * Tq + t) * C + h * hs;
        // Keys 0 … seen−1 take part; the padded ones stay exactly 0 in att.
        const seen = keyLengths ? keyLengths[b] : Tk;
        let max = -Infinity;
        for (let s = 0; s < seen; s++) {
          const kBase = (b * Tk + s) * 2 * C + h * hs;
          let dot = 0;
          for (let d = 0; d < hs; d++) dot += q[qBase + d] * kv[kBase + d];
          att[row + s] = dot * scale;
          max = Math.max(max, att[row + s]);
        }
        let sum = 0;
        for (let s = 0; s < seen; s++) sum += att[row + s] = Math.exp(att[row + s] - max);
        for (let s = 0; s < seen; s++) att[row + s] /= sum;
        for (let s = 0; s < seen; s++) {
          const vBase = (b * Tk + s) * 2 * C + C + h * hs;
          for (let d = 0; d < hs; d++) out[qBase + d] += att[row + s] * kv[vBase + d];
        }
      }
    }
  }
  return { out, att };
}

/** Gradients of refCrossAttentionForward: dq [B·Tq, C] and dkv [B·Tk, 2C] from dout [B·Tq, C]. */
export function refCrossAttentionBackward(dout: Float64Array, q: Float64Array, kv: Float64Array, att: Float64Array, B: number, Tq: number, Tk: number, C: number, nHead: number): { dq: Float64Array; dkv: Float64Array } {
  const hs = C / nHead;
  const scale = 1 / Math.sqrt(hs);
  const dq = new Float64Array(B * Tq * C);
  const dkv = new Float64Array(B * Tk * 2 * C);
  const dAtt = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHead; h++) {
      for (let t = 0; t < Tq; t++) {
        const row = ((b * nHead + h) * Tq + t) * Tk;
        const qBase = (b * Tq + t) * C + h * hs;
        let weighted = 0;
        for (let s = 0; s < Tk; s++) {
          const vBase = (b * Tk + s) * 2 * C + C + h * hs;
          let dot = 0;
          for (let d = 0; d < hs; d++) {
            dot += dout[qBase + d] * kv[vBase + d];
            dkv[vBase + d] += att[row + s] * dout[qBase + d];
          }
          dAtt[s] = dot;
          weighted += att[row + s] * dot;
        }
        for (let s = 0; s < Tk; s++) {
          const dScore = att[row + s] * (dAtt[s] - weighted) * scale;
          const kBase = (b * Tk + s) * 2 * C + h * hs;
          for (let d = 0; d < hs; d++) {
            dq[qBase + d] += dScore * kv[kBase + d];
            dkv[kBase + d] += dScore * q[qBase + d];
          }
        }
      }
    }
  }
  return { dq, dkv };
}

// --- blocks

type LN = ReturnType<typeof layerNormForward>;

interface CrossCache {
  lnc: LN;
  q: Float64Array;
  kv: Float64Array;
  att: Float64Array;
  out: Float64Array;
  after: Float64Array;
}

interface BlockCache {
  input: Float64Array;
  ln1: LN;
  qkv: Float64Array;
  att: Float64Array;
  attnOut: Float64Array;
  afterAttn: Float64Array;
  cross: CrossCache | null;
  /** Input of the MLP sub-layer: afterAttn, or the residual after cross-attention. */
  mlpIn: Float64Array;
  ln2: LN;
  fcOut: Float64Array;
  actOut: Float64Array;
}

interface EncoderContext {
  out: Float64Array;
  S: number;
  /** The real keys of each source (refKeyLengths). */
  keyLengths: Int32Array;
}

/** `keyLengths`: the self-attention's key padding mask (the encoder's), or null (the causal decoder). */
function blockForward(params: RefParams, p: string, x: Float64Array, B: number, T: number, c: ModelConfig, causal: boolean, keyLengths: Int32Array | null, enc: EncoderContext | null): { out: Float64Array; cache: BlockCache } {
  const P = (s: string) => param(params, `${p}.${s}`);
  const C = c.dModel;
  const N = B * T;
  const eps = c.layerNormEps;
  const act = c.activation === 'gelu' ? geluForward : reluForward;
  const ln1 = layerNormForward(x, P('ln_1.weight'), P('ln_1.bias'), N, C, eps);
  const qkv = linearForward(ln1.y, P('attn.c_attn.weight'), P('attn.c_attn.bias'), N, C, 3 * C);
  const { out: attnOut, att } = attentionForward(qkv, B, T, C, c.nHead, causal, keyLengths);
  const afterAttn = residualForward(x, linearForward(attnOut, P('attn.c_proj.weight'), P('attn.c_proj.bias'), N, C, C));
  let cross: CrossCache | null = null;
  let mlpIn = afterAttn;
  if (enc) {
    const lnc = layerNormForward(afterAttn, P('ln_cross.weight'), P('ln_cross.bias'), N, C, eps);
    const q = linearForward(lnc.y, P('cross_attn.c_q.weight'), P('cross_attn.c_q.bias'), N, C, C);
    const kv = linearForward(enc.out, P('cross_attn.c_kv.weight'), P('cross_attn.c_kv.bias'), B * enc.S, C, 2 * C);
    const r = refCrossAttentionForward(q, kv, B, T, enc.S, C, c.nHead, enc.keyLengths);
    const after = residualForward(afterAttn, linearForward(r.out, P('cross_attn.c_proj.weight'), P('cross_attn.c_proj.bias'), N, C, C));
    cross = { lnc, q, kv, att: r.att, out: r.out, after };
    mlpIn = after;
  }
  const ln2 = layerNormForward(mlpIn, P('ln_2.weight'), P('ln_2.bias'), N, C, eps);
  const fcOut = linearForward(ln2.y, P('mlp.c_fc.weight'), P('mlp.c_fc.bias'), N, C, c.dFF);
  const actOut = act(fcOut);
  const out = residualForward(mlpIn, linearForward(actOut, P('mlp.c_proj.weight'), P('mlp.c_proj.bias'), N, c.dFF, C));
  return { out, cache: { input: x, ln1, qkv, att, attnOut, afterAttn, cross, mlpIn, ln2, fcOut, actOut } };
}

/** ∇ of the block input from ∇ of its output; parameter gradients go to `grads`, and an encoder-decoder
 *  block adds its contribution to ∇enc into `dEnc`. */
function blockBackward(params: RefParams, p: string, cache: BlockCache, dOut: Float64Array, B: number, T: number, c: ModelConfig, grads: RefParams, enc: (EncoderContext & { dEnc: Float64Array }) | null): Float64Array {
  const P = (s: string) => param(params, `${p}.${s}`);
  const C = c.dModel;
  const N = B * T;
  const actBackward = c.activation === 'gelu' ? geluBackward : reluBackward;
  const put = (name: string, r: { dw: Float64Array; db: Float64Array | null }) => {
    grads[`${p}.${name}.weight`] = r.dw;
    grads[`${p}.${name}.bias`] = r.db!;
  };
  const putLn = (name: string, r: { dgamma: Float64Array; dbeta: Float64Array }) => {
    grads[`${p}.${name}.weight`] = r.dgamma;
    grads[`${p}.${name}.bias`] = r.dbeta;
  };
  const mlpProj = linearBackward(dOut, cache.actOut, P('mlp.c_proj.weight'), N, c.dFF, C, true);
  const fc = linearBackward(actBackward(cache.fcOut, mlpProj.dx), cache.ln2.y, P('mlp.c_fc.weight'), N, C, c.dFF, true);
  const ln2 = layerNormBackward(fc.dx, cache.mlpIn, P('ln_2.weight'), cache.ln2.mean, cache.ln2.rstd, N, C);
  put('mlp.c_proj', mlpProj);
  put('mlp.c_fc', fc);
  putLn('ln_2', ln2);
  let dAfterAttn = residualForward(dOut, ln2.dx);
  if (cache.cross) {
    if (!enc) throw new Error('reference: a cross-attention block needs the encoder context in backward');
    const x = cache.cross;
    const dAfterCross = dAfterAttn;
    const proj = linearBackward(dAfterCross, x.out, P('cross_attn.c_proj.weight'), N, C, C, true);
    const { dq, dkv } = refCrossAttentionBackward(proj.dx, x.q, x.kv, x.att, B, T, enc.S, C, c.nHead);
    const cq = linearBackward(dq, x.lnc.y, P('cross_attn.c_q.weight'), N, C, C, true);
    const ckv = linearBackward(dkv, enc.out, P('cross_attn.c_kv.weight'), B * enc.S, C, 2 * C, true);
    const lnc = layerNormBackward(cq.dx, cache.afterAttn, P('ln_cross.weight'), x.lnc.mean, x.lnc.rstd, N, C);
    for (let i = 0; i < ckv.dx.length; i++) enc.dEnc[i] += ckv.dx[i];
    put('cross_attn.c_proj', proj);
    put('cross_attn.c_q', cq);
    put('cross_attn.c_kv', ckv);
    putLn('ln_cross', lnc);
    dAfterAttn = residualForward(dAfterCross, lnc.dx);
  }
  const attnProj = linearBackward(dAfterAttn, cache.attnOut, P('attn.c_proj.weight'), N, C, C, true);
  const dqkv = attentionBackward(attnProj.dx, cache.qkv, cache.att, B, T, C, c.nHead);
  const cAttn = linearBackward(dqkv, cache.ln1.y, P('attn.c_attn.weight'), N, C, 3 * C, true);
  const ln1 = layerNormBackward(cAttn.dx, cache.input, P('ln_1.weight'), cache.ln1.mean, cache.ln1.rstd, N, C);
  put('attn.c_proj', attnProj);
  put('attn.c_attn', cAttn);
  putLn('ln_1', ln1);
  return residualForward(dAfterAttn, ln1.dx);
}

interface StackCache {
  tokens: Int32Array;
  T: number;
  blocks: BlockCache[];
  final: Float64Array;
  lnF: LN;
}

function stackForward(params: RefParams, prefix: string, tokens: Int32Array, B: number, T: number, c: ModelConfig, causal: boolean, keyLengths: Int32Array | null, enc: EncoderContext | null): StackCache {
  if (tokens.length !== B * T) throw new Error(`reference model: ${prefix} tokens must hold B·T = ${B * T} values`);
  const wpe = c.positionalEncoding === 'learned' ? param(params, `${prefix}.wpe.weight`) : null;
  if (wpe && wpe.length < T * c.dModel) throw new Error(`reference model: T = ${T} exceeds the ${prefix} position table`);
  let x = embeddingForward(tokens, param(params, `${prefix}.wte.weight`), wpe, B, T, c.dModel, c.vocabSize);
  const blocks: BlockCache[] = [];
  for (let i = 0; i < c.nLayer; i++) {
    const r = blockForward(params, `${prefix}.h.${i}`, x, B, T, c, causal, keyLengths, enc);
    blocks.push(r.cache);
    x = r.out;
  }
  const lnF = layerNormForward(x, param(params, `${prefix}.ln_f.weight`), param(params, `${prefix}.ln_f.bias`), B * T, c.dModel, c.layerNormEps);
  return { tokens, T, blocks, final: x, lnF };
}

/** From ∇ of the stack's ln_f output to every parameter of the stack. */
function stackBackward(params: RefParams, prefix: string, cache: StackCache, dLnF: Float64Array, B: number, c: ModelConfig, grads: RefParams, enc: (EncoderContext & { dEnc: Float64Array }) | null, tableLength: number): void {
  const C = c.dModel;
  const T = cache.T;
  const lnF = layerNormBackward(dLnF, cache.final, param(params, `${prefix}.ln_f.weight`), cache.lnF.mean, cache.lnF.rstd, B * T, C);
  grads[`${prefix}.ln_f.weight`] = lnF.dgamma;
  grads[`${prefix}.ln_f.bias`] = lnF.dbeta;
  let dx = lnF.dx;
  for (let i = c.nLayer - 1; i >= 0; i--) dx = blockBackward(params, `${prefix}.h.${i}`, cache.blocks[i], dx, B, T, c, grads, enc);
  const learned = c.positionalEncoding === 'learned';
  const e = embeddingBackward(dx, cache.tokens, B, T, C, c.vocabSize, learned);
  grads[`${prefix}.wte.weight`] = e.dwte;
  if (e.dwpe) {
    const dwpe = new Float64Array(tableLength * C);
    dwpe.set(e.dwpe);
    grads[`${prefix}.wpe.weight`] = dwpe;
  }
}

// --- the encoder classifier

export interface RefEncoderCache {
  B: number;
  stack: StackCache;
  probs: Float64Array;
  targets: Int32Array;
  validCount: number;
}

/** tokens [B, T] (each sequence starting with its CLS token, padded with `pad` after its end), targets
 *  [B·T]: a class index at the positions scored (the CLS position), −1 elsewhere. Returns the mean
 *  cross-entropy and the class logits of every position [B·T, K]. */
export function refEncoderForward(params: RefParams, c: ModelConfig, tokens: Int32Array, targets: Int32Array, B: number, T: number, pad: number): { loss: number; logits: Float64Array; att: Float64Array[]; cache: RefEncoderCache } {
  if (c.architecture !== 'encoder') throw new Error(`reference encoder: architecture must be encoder (got ${c.architecture})`);
  if (T > c.contextLength) throw new Error(`reference encoder: T = ${T} exceeds contextLength ${c.contextLength}`);
  checkShapes(params, refEncoderParamNames(c));
  const K = numClasses(c);
  const stack = stackForward(params, 'transformer', tokens, B, T, c, false, refKeyLengths(tokens, B, T, pad), null);
  const logits = linearForward(stack.lnF.y, param(params, 'classifier.weight'), param(params, 'classifier.bias'), B * T, c.dModel, K);
  const { loss, probs, validCount } = softmaxCrossEntropyForward(logits, targets, B * T, K);
  return { loss, logits, att: stack.blocks.map((b) => b.att), cache: { B, stack, probs, targets, validCount } };
}

export function refEncoderBackward(params: RefParams, c: ModelConfig, cache: RefEncoderCache): RefParams {
  const K = numClasses(c);
  const { B, stack } = cache;
  const N = B * stack.T;
  const grads: RefParams = {};
  const dlogits = softmaxCrossEntropyBackward(cache.probs, cache.targets, N, K, cache.validCount);
  const head = linearBackward(dlogits, stack.lnF.y, param(params, 'classifier.weight'), N, c.dModel, K, true);
  grads['classifier.weight'] = head.dw;
  grads['classifier.bias'] = head.db!;
  stackBackward(params, 'transformer', stack, head.dx, B, c, grads, null, c.contextLength);
  return grads;
}

// --- the encoder-decoder

export interface RefEncDecCache {
  B: number;
  S: number;
  sourceLengths: Int32Array;
  encoder: StackCache;
  decoder: StackCache;
  probs: Float64Array;
  targets: Int32Array;
  validCount: number;
}

/** sources [B, S] for the encoder (padded with `pad` after their end); inputs [B, T] for the decoder
 *  (start token + target, shifted right) and targets [B·T] (−1 = not scored). */
export function refEncDecForward(params: RefParams, c: ModelConfig, sources: Int32Array, inputs: Int32Array, targets: Int32Array, B: number, S: number, T: number, pad: number): { loss: number; logits: Float64Array; encoderAtt: Float64Array[]; selfAtt: Float64Array[]; crossAtt: Float64Array[]; cache: RefEncDecCache } {
  if (c.architecture !== 'encoder-decoder') throw new Error(`reference encoder-decoder: architecture must be encoder-decoder (got ${c.architecture})`);
  if (T > c.contextLength || S > sourceLength(c)) throw new Error(`reference encoder-decoder: T = ${T} or S = ${S} exceeds the config's lengths`);
  checkShapes(params, refEncDecParamNames(c));
  if (sources.length !== B * S) throw new Error(`reference encoder-decoder: sources must hold B·S = ${B * S} values`);
  const sourceLengths = refKeyLengths(sources, B, S, pad);
  const encoder = stackForward(params, 'encoder', sources, B, S, c, false, sourceLengths, null);
  const decoder = stackForward(params, 'transformer', inputs, B, T, c, true, null, { out: encoder.lnF.y, S, keyLengths: sourceLengths });
  const logits = linearForward(decoder.lnF.y, param(params, 'lm_head.weight'), null, B * T, c.dModel, c.vocabSize);
  const { loss, probs, validCount } = softmaxCrossEntropyForward(logits, targets, B * T, c.vocabSize);
  return {
    loss,
    logits,
    encoderAtt: encoder.blocks.map((b) => b.att),
    selfAtt: decoder.blocks.map((b) => b.att),
    crossAtt: decoder.blocks.map((b) => b.cross!.att),
    cache: { B, S, sourceLengths, encoder, decoder, probs, targets, validCount },
  };
}

export function refEncDecBackward(params: RefParams, c: ModelConfig, cache: RefEncDecCache): RefParams {
  const { B, S, encoder, decoder } = cache;
  const N = B * decoder.T;
  const grads: RefParams = {};
  const dlogits = softmaxCrossEntropyBackward(cache.probs, cache.targets, N, c.vocabSize, cache.validCount);
  const head = linearBackward(dlogits, decoder.lnF.y, param(params, 'lm_head.weight'), N, c.dModel, c.vocabSize, false);
  grads['lm_head.weight'] = head.dw;
  // Every decoder block reads the encoder output: their gradients with respect to it add up.
  const dEnc = new Float64Array(B * S * c.dModel);
  stackBackward(params, 'transformer', decoder, head.dx, B, c, grads, { out: encoder.lnF.y, S, keyLengths: cache.sourceLengths, dEnc }, c.contextLength);
  stackBackward(params, 'encoder', encoder, dEnc, B, c, grads, null, sourceLength(c));
  return grads;
}

/** Greedy decoding of one source [S] in float64: start from `start`, append the argmax token, stop at
 *  `end` or when T positions are used. Returns the generated ids (without start and end). */
export function refGreedyDecode(params: RefParams, c: ModelConfig, source: Int32Array, start: number, end: number, pad: number): number[] {
  const T = c.contextLength;
  const S = source.length;
  const V = c.vocabSize;
  const inputs = new Int32Array(T).fill(pad);
  inputs[0] = start;
  const out: number[] = [];
  for (let t = 0; t < T; t++) {
    const { logits } = refEncDecForward(params, c, source, inputs, new Int32Array(T).fill(-1), 1, S, T, pad);
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[t * V + v] > logits[t * V + best]) best = v;
    if (best === end) break;
    out.push(best);
    if (t + 1 < T) inputs[t + 1] = best;
  }
  return out;
}
