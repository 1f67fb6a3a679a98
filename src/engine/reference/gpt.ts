// A whole decoder-only GPT in float64, built from the reference ops: the oracle for the GPU model's
// loss, logits and every parameter gradient. Parameter names and shapes follow nanoGPT (GPT-2), so a
// reader can line them up with a PyTorch state_dict. The block is GPT-2's pre-LN arrangement:
//   x = x + c_proj(attention(c_attn(ln_1(x))))
//   x = x + mlp.c_proj(act(mlp.c_fc(ln_2(x))))
// and logits = lm_head(ln_f(x)), with lm_head NOT tied to wte and without a bias.

import type { ModelConfig } from '../config';
import { geluBackward, geluForward, reluBackward, reluForward } from './activations';
import { attentionBackward, attentionForward } from './attention';
import { embeddingBackward, embeddingForward } from './embedding';
import { layerNormBackward, layerNormForward } from './layernorm';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from './loss';
import { linearBackward, linearForward } from './matmul';
import { residualForward } from './residual';

/** Flat parameter (or gradient) dictionary: nanoGPT name → row-major values in PyTorch's shape. */
export type RefParams = Record<string, Float64Array>;

/** Every parameter of the model with its PyTorch shape, in nanoGPT's state_dict order. */
export function refParamNames(config: ModelConfig): { name: string; shape: number[] }[] {
  const { nLayer, dModel: C, dFF, vocabSize: V, contextLength } = config;
  const names: { name: string; shape: number[] }[] = [{ name: 'transformer.wte.weight', shape: [V, C] }];
  if (config.positionalEncoding === 'learned') names.push({ name: 'transformer.wpe.weight', shape: [contextLength, C] });
  for (let i = 0; i < nLayer; i++) {
    const p = `transformer.h.${i}`;
    names.push(
      { name: `${p}.ln_1.weight`, shape: [C] },
      { name: `${p}.ln_1.bias`, shape: [C] },
      { name: `${p}.attn.c_attn.weight`, shape: [3 * C, C] },
      { name: `${p}.attn.c_attn.bias`, shape: [3 * C] },
      { name: `${p}.attn.c_proj.weight`, shape: [C, C] },
      { name: `${p}.attn.c_proj.bias`, shape: [C] },
      { name: `${p}.ln_2.weight`, shape: [C] },
      { name: `${p}.ln_2.bias`, shape: [C] },
      { name: `${p}.mlp.c_fc.weight`, shape: [dFF, C] },
      { name: `${p}.mlp.c_fc.bias`, shape: [dFF] },
      { name: `${p}.mlp.c_proj.weight`, shape: [C, dFF] },
      { name: `${p}.mlp.c_proj.bias`, shape: [C] },
    );
  }
  names.push(
    { name: 'transformer.ln_f.weight', shape: [C] },
    { name: 'transformer.ln_f.bias', shape: [C] },
    { name: 'lm_head.weight', shape: [V, C] },
  );
  return names;
}

interface LayerNormActivations {
  y: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
}

/** What one block's backward needs from its forward. */
interface BlockCache {
  /** Block input (residual stream before the attention sub-layer), [N, C]. */
  input: Float64Array;
  ln1: LayerNormActivations;
  /** c_attn output, [N, 3C]. */
  qkv: Float64Array;
  /** Softmax weights, [B, nHead, T, T]. */
  att: Float64Array;
  /** Attention output before c_proj, [N, C]. */
  attnOut: Float64Array;
  /** Residual stream after the attention sub-layer, [N, C]. */
  afterAttn: Float64Array;
  ln2: LayerNormActivations;
  /** c_fc output (pre-activation), [N, dFF]. */
  fcOut: Float64Array;
  /** Activation output, [N, dFF]. */
  actOut: Float64Array;
}

/** Everything refGptBackward needs: the forward's inputs and saved activations. */
export interface RefGptCache {
  B: number;
  T: number;
  tokens: Int32Array;
  targets: Int32Array;
  blocks: BlockCache[];
  /** Residual stream after the last block, [N, C]. */
  finalResidual: Float64Array;
  lnF: LayerNormActivations;
  probs: Float64Array;
  validCount: number;
}

function param(params: RefParams, name: string): Float64Array {
  const p = params[name];
  if (!p) throw new Error(`reference GPT: missing parameter "${name}"`);
  return p;
}

function checkShapes(params: RefParams, config: ModelConfig): void {
  for (const { name, shape } of refParamNames(config)) {
    const expected = shape.reduce((a, b) => a * b, 1);
    const actual = param(params, name).length;
    if (actual !== expected) throw new Error(`reference GPT: "${name}" has ${actual} values, expected ${expected} [${shape}]`);
  }
}

function checkConfig(config: ModelConfig, B: number, T: number, tokens: Int32Array, targets: Int32Array): void {
  if (config.architecture !== 'decoder') throw new Error(`reference GPT: only the decoder is implemented (got ${config.architecture})`);
  if (config.dModel % config.nHead !== 0) throw new Error(`reference GPT: dModel ${config.dModel} not divisible by nHead ${config.nHead}`);
  if (T > config.contextLength) throw new Error(`reference GPT: T = ${T} exceeds contextLength ${config.contextLength}`);
  if (tokens.length !== B * T || targets.length !== B * T) throw new Error(`reference GPT: tokens and targets must hold B·T = ${B * T} values`);
}

/**
 * Forward pass over tokens [B,T] (T ≤ contextLength). Returns the mean cross-entropy over targets ≥ 0
 * (−1 = ignored), the logits [B·T, V] and the cache for refGptBackward.
 */
export function refGptForward(
  params: RefParams,
  config: ModelConfig,
  tokens: Int32Array,
  targets: Int32Array,
  B: number,
  T: number,
): { loss: number; logits: Float64Array; cache: RefGptCache } {
  checkConfig(config, B, T, tokens, targets);
  checkShapes(params, config);
  const { nLayer, dModel: C, nHead, dFF, vocabSize: V, layerNormEps: eps } = config;
  const N = B * T;
  const activationForward = config.activation === 'gelu' ? geluForward : reluForward;
  const wpe = config.positionalEncoding === 'learned' ? param(params, 'transformer.wpe.weight') : null;

  let x = embeddingForward(tokens, param(params, 'transformer.wte.weight'), wpe, B, T, C, V);
  const blocks: BlockCache[] = [];
  for (let i = 0; i < nLayer; i++) {
    const p = (suffix: string) => param(params, `transformer.h.${i}.${suffix}`);
    const input = x;
    const ln1 = layerNormForward(input, p('ln_1.weight'), p('ln_1.bias'), N, C, eps);
    const qkv = linearForward(ln1.y, p('attn.c_attn.weight'), p('attn.c_attn.bias'), N, C, 3 * C);
    // A decoder attends only to earlier positions ('Attention Is All You Need', §3.2.3 masking).
    const { out: attnOut, att } = attentionForward(qkv, B, T, C, nHead, true);
    const attnProjected = linearForward(attnOut, p('attn.c_proj.weight'), p('attn.c_proj.bias'), N, C, C);
    const afterAttn = residualForward(input, attnProjected);

    const ln2 = layerNormForward(afterAttn, p('ln_2.weight'), p('ln_2.bias'), N, C, eps);
    const fcOut = linearForward(ln2.y, p('mlp.c_fc.weight'), p('mlp.c_fc.bias'), N, C, dFF);
    const actOut = activationForward(fcOut);
    const mlpOut = linearForward(actOut, p('mlp.c_proj.weight'), p('mlp.c_proj.bias'), N, dFF, C);
    x = residualForward(afterAttn, mlpOut);

    blocks.push({ input, ln1, qkv, att, attnOut, afterAttn, ln2, fcOut, actOut });
  }

  const lnF = layerNormForward(x, param(params, 'transformer.ln_f.weight'), param(params, 'transformer.ln_f.bias'), N, C, eps);
  const logits = linearForward(lnF.y, param(params, 'lm_head.weight'), null, N, C, V);
  const { loss, probs, validCount } = softmaxCrossEntropyForward(logits, targets, N, V);
  return {
    loss,
    logits,
    cache: { B, T, tokens, targets, blocks, finalResidual: x, lnF, probs, validCount },
  };
}

/** A block linear layer's input X [N, in] and output gradient ∇Y [N, out] (what the measurements see). */
export interface RefLinearTrace {
  x: Float64Array;
  dy: Float64Array;
}

/** Gradient of the forward's loss with respect to every parameter: same names, same shapes. With
 *  `traces`, each block linear layer's X and ∇Y are recorded there by its prefix
 *  (e.g. `transformer.h.0.mlp.c_fc`). */
export function refGptBackward(params: RefParams, config: ModelConfig, cache: RefGptCache, traces?: Record<string, RefLinearTrace>): RefParams {
  const { nLayer, dModel: C, nHead, dFF, vocabSize: V, contextLength } = config;
  const { B, T, tokens, targets, blocks } = cache;
  const N = B * T;
  const activationBackward = config.activation === 'gelu' ? geluBackward : reluBackward;
  const grads: RefParams = {};

  const dlogits = softmaxCrossEntropyBackward(cache.probs, targets, N, V, cache.validCount);
  const head = linearBackward(dlogits, cache.lnF.y, param(params, 'lm_head.weight'), N, C, V, false);
  grads['lm_head.weight'] = head.dw;
  const lnF = layerNormBackward(head.dx, cache.finalResidual, param(params, 'transformer.ln_f.weight'), cache.lnF.mean, cache.lnF.rstd, N, C);
  grads['transformer.ln_f.weight'] = lnF.dgamma;
  grads['transformer.ln_f.bias'] = lnF.dbeta;

  // dx is the gradient on the residual stream. A residual add passes it unchanged to both of its
  // inputs, so each sub-layer's input gradient is ADDED to it rather than replacing it.
  let dx = lnF.dx;
  for (let i = nLayer - 1; i >= 0; i--) {
    const prefix = `transformer.h.${i}`;
    const p = (suffix: string) => param(params, `${prefix}.${suffix}`);
    const block = blocks[i];
    const dBlockOut = dx;

    const mlpProj = linearBackward(dx, block.actOut, p('mlp.c_proj.weight'), N, dFF, C, true);
    const dFcOut = activationBackward(block.fcOut, mlpProj.dx);
    const fc = linearBackward(dFcOut, block.ln2.y, p('mlp.c_fc.weight'), N, C, dFF, true);
    const ln2 = layerNormBackward(fc.dx, block.afterAttn, p('ln_2.weight'), block.ln2.mean, block.ln2.rstd, N, C);
    const dAfterAttn = residualForward(dx, ln2.dx);

    const attnProj = linearBackward(dAfterAttn, block.attnOut, p('attn.c_proj.weight'), N, C, C, true);
    const dqkv = attentionBackward(attnProj.dx, block.qkv, block.att, B, T, C, nHead);
    const cAttn = linearBackward(dqkv, block.ln1.y, p('attn.c_attn.weight'), N, C, 3 * C, true);
    const ln1 = layerNormBackward(cAttn.dx, block.input, p('ln_1.weight'), block.ln1.mean, block.ln1.rstd, N, C);
    dx = residualForward(dAfterAttn, ln1.dx);
    if (traces) {
      traces[`${prefix}.attn.c_attn`] = { x: block.ln1.y, dy: dqkv };
      traces[`${prefix}.attn.c_proj`] = { x: block.attnOut, dy: dAfterAttn };
      traces[`${prefix}.mlp.c_fc`] = { x: block.ln2.y, dy: dFcOut };
      traces[`${prefix}.mlp.c_proj`] = { x: block.actOut, dy: dBlockOut };
    }

    grads[`${prefix}.ln_1.weight`] = ln1.dgamma;
    grads[`${prefix}.ln_1.bias`] = ln1.dbeta;
    grads[`${prefix}.attn.c_attn.weight`] = cAttn.dw;
    grads[`${prefix}.attn.c_attn.bias`] = cAttn.db!;
    grads[`${prefix}.attn.c_proj.weight`] = attnProj.dw;
    grads[`${prefix}.attn.c_proj.bias`] = attnProj.db!;
    grads[`${prefix}.ln_2.weight`] = ln2.dgamma;
    grads[`${prefix}.ln_2.bias`] = ln2.dbeta;
    grads[`${prefix}.mlp.c_fc.weight`] = fc.dw;
    grads[`${prefix}.mlp.c_fc.bias`] = fc.db!;
    grads[`${prefix}.mlp.c_proj.weight`] = mlpProj.dw;
    grads[`${prefix}.mlp.c_proj.bias`] = mlpProj.db!;
  }

  const learned = config.positionalEncoding === 'learned';
  const embedding = embeddingBackward(dx, tokens, B, T, C, V, learned);
  grads['transformer.wte.weight'] = embedding.dwte;
  if (embedding.dwpe) {
    // wpe holds contextLength rows but only the first T were used; the rest get zero gradient.
    const dwpe = new Float64Array(contextLength * C);
    dwpe.set(embedding.dwpe);
    grads['transformer.wpe.weight'] = dwpe;
  }
  return grads;
}
