// An encoder-decoder Transformer ("Attention Is All You Need" §3.1, pre-LayerNorm blocks as in GPT-2),
// built from a ModelConfig for a fixed batch shape, with the same ops and linear schemes as the GPT of
// model/gpt.ts:
//
//   e = encoder.wte[sources] + encoder positions                        [B·S, C]
//   for each encoder block:  e = e + attn.c_proj(attention(attn.c_attn(ln_1(e))))      (key padding mask)
//                            e = e + mlp.c_proj(act(mlp.c_fc(ln_2(e))))
//   enc = encoder.ln_f(e)
//   x = transformer.wte[inputs] + decoder positions                     [B·T, C]
//   for each decoder block:  x = x + attn.c_proj(causal_attention(attn.c_attn(ln_1(x))))
//                            x = x + cross_attn.c_proj(cross_attention(cross_attn.c_q(ln_cross(x)), cross_attn.c_kv(enc)))
//                            x = x + mlp.c_proj(act(mlp.c_fc(ln_2(x))))
//   logits = lm_head(transformer.ln_f(x))
//
// Every block linear layer, cross_attn.c_q and cross_attn.c_kv (the K and V projections of the encoder
// output, fused as c_attn fuses q, k, v) included, goes through the run's LinearScheme; lm_head stays
// f32. The encoder and the decoder have token embeddings of their own. Training is teacher-forced: the
// decoder reads the target shifted right (a start token first) and predicts it, scored position by
// position like the GPT's next-token loss.
//
// Sources are padded to S (data/translate.ts). The encoder's self-attention and every cross-attention
// mask the padding as keys (the key padding mask): each source's length is computed on the GPU from the
// source tokens (ops/attention.ts keyLengthsForward), and keys past it get probability exactly 0, so
// what the pad positions hold changes no decoder output and no real encoder position. The decoder's
// own padding needs no mask: it comes after every scored position, which the causal mask already hides
// it from.
import type { ModelConfig } from '../config';
import { type Dispatch, type Kernels } from '../gpu/kernels';
import { fp32Scheme } from '../linear/fp32';
import type { LinearLayer, LinearLayerSpec, LinearScheme, SchemeParameter } from '../linear/scheme';
import { type AttentionActivations, type AttentionShape, allocAttentionActivations, allocAttentionGrads, attentionBackward, attentionForward, attentionMapSource, keyLengthsForward } from '../ops/attention';
import { accumulate, allocCrossAttentionActivations, allocCrossAttentionGrads, type CrossAttentionActivations, type CrossAttentionShape, crossAttentionBackward, crossAttentionMapSource, crossAttentionForward } from '../ops/cross-attention';
import { activationBackward, activationForward, residualAdd } from '../ops/elementwise';
import { embeddingBackward, embeddingForward, type EmbeddingShape } from '../ops/embedding';
import { layerNormBackward, layerNormForward, type LayerNormTensors } from '../ops/layernorm';
import { softmaxCrossEntropy } from '../ops/loss';
import { Tensor } from '../tensor';
import { type AttentionProbe, type GptBuildOptions, mapTensor, once, requirePadToken } from './gpt';
import { LayerMeasurements } from './measure';
import { ParamLayout, type ParamSpec } from './params';

const ENCODER_LINEARS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
const DECODER_LINEARS = ['attn.c_attn', 'attn.c_proj', 'cross_attn.c_q', 'cross_attn.c_kv', 'cross_attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
type BlockLinear = (typeof DECODER_LINEARS)[number];

function linearShape(c: ModelConfig, which: BlockLinear): { inFeatures: number; outFeatures: number } {
  switch (which) {
    case 'attn.c_attn': return { inFeatures: c.dModel, outFeatures: 3 * c.dModel };
    case 'cross_attn.c_kv': return { inFeatures: c.dModel, outFeatures: 2 * c.dModel };
    case 'attn.c_proj':
    case 'cross_attn.c_q':
    case 'cross_attn.c_proj': return { inFeatures: c.dModel, outFeatures: c.dModel };
    case 'mlp.c_fc': return { inFeatures: c.dModel, outFeatures: c.dFF };
    case 'mlp.c_proj': return { inFeatures: c.dFF, outFeatures: c.dModel };
  }
}

/** The source length of an encoder-decoder config (validated configs always have one). */
export function sourceLengthOf(c: ModelConfig): number {
  if (!c.sourceLength) throw new Error('an encoder-decoder config needs sourceLength');
  return c.sourceLength;
}

/** Every parameter, initialised as the GPT's (model/gpt.ts): N(0, 0.02) matrices and embeddings,
 *  residual-stream projections scaled by 1/√(sublayers·layers), zero biases, unit LayerNorm gains. */
export function encDecParamSpecs(c: ModelConfig, scheme: LinearScheme): ParamSpec[] {
  const normal = (std: number) => ({ kind: 'normal' as const, std });
  const zeros = { kind: 'constant' as const, value: 0 };
  const ones = { kind: 'constant' as const, value: 1 };
  const specs: ParamSpec[] = [];
  const norm = (prefix: string) => {
    specs.push({ name: `${prefix}.weight`, shape: [c.dModel], init: ones, decay: false });
    specs.push({ name: `${prefix}.bias`, shape: [c.dModel], init: zeros, decay: false });
  };
  const embedding = (stack: string, length: number) => {
    specs.push({ name: `${stack}.wte.weight`, shape: [c.vocabSize, c.dModel], init: normal(0.02), decay: true });
    for (const extra of scheme.embedding?.parameters ?? []) specs.push({ ...extra, name: `${stack}.wte.${extra.name}` });
    if (c.positionalEncoding === 'learned') specs.push({ name: `${stack}.wpe.weight`, shape: [length, c.dModel], init: normal(0.02), decay: true });
  };
  const stack = (prefix: string, linears: readonly BlockLinear[], residualStd: number) => {
    for (let l = 0; l < c.nLayer; l++) {
      const p = `${prefix}.h.${l}`;
      for (const which of linears) {
        if (which === 'attn.c_attn') norm(`${p}.ln_1`);
        if (which === 'cross_attn.c_q') norm(`${p}.ln_cross`);
        if (which === 'mlp.c_fc') norm(`${p}.ln_2`);
        const { inFeatures, outFeatures } = linearShape(c, which);
        const std = which.endsWith('c_proj') ? residualStd : 0.02;
        specs.push({ name: `${p}.${which}.weight`, shape: [outFeatures, inFeatures], init: normal(std), decay: true });
        specs.push({ name: `${p}.${which}.bias`, shape: [outFeatures], init: zeros, decay: false });
        for (const extra of scheme.extraParameters({ name: `${p}.${which}`, inFeatures, outFeatures })) {
          specs.push({ ...extra, name: `${p}.${which}.${extra.name}` });
        }
      }
    }
    norm(`${prefix}.ln_f`);
  };
  embedding('encoder', sourceLengthOf(c));
  stack('encoder', ENCODER_LINEARS, 0.02 / Math.sqrt(2 * c.nLayer));
  embedding('transformer', c.contextLength);
  stack('transformer', DECODER_LINEARS, 0.02 / Math.sqrt(3 * c.nLayer));
  specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, c.dModel], init: normal(0.02), decay: true });
  return specs;
}

export class EncoderDecoder {
  readonly config: ModelConfig;
  readonly B: number;
  /** Decoder positions. */
  readonly T: number;
  /** Encoder (source) positions. */
  readonly S: number;
  readonly layout: ParamLayout;
  readonly params: Tensor;
  readonly grads: Tensor;
  /** u32 [B·S] source tokens (the encoder's input). */
  readonly sources: Tensor;
  /** u32 [B·T] decoder inputs (start token + target, shifted right) and targets (0xffffffff = not scored). */
  readonly inputs: Tensor;
  readonly targets: Tensor;
  readonly logits: Tensor;
  readonly forward: Dispatch[] = [];
  readonly firstForward: Dispatch[] = [];
  readonly trainLoss: Dispatch[];
  readonly trainLossUniforms: GPUBuffer;
  readonly valLoss: Dispatch[];
  readonly backward: Dispatch[] = [];
  readonly measuredBackward: Dispatch[] = [];
  readonly activations: { name: string; tensor: Tensor }[] = [];
  readonly measurements: LayerMeasurements | null = null;
  readonly attentionProbes: AttentionProbe[] = [];
  /** u32 [B]: the real tokens of each source (computed from `sources` by the forward), the keys the
   *  encoder's self-attention and the cross-attention see. */
  readonly keyLengths: Tensor;

  constructor(k: Kernels, o: GptBuildOptions) {
    const c = o.config;
    // Checked before anything is allocated.
    const pad = requirePadToken(o);
    const mem = k.memory;
    this.config = c;
    this.B = o.batchSize;
    this.T = c.contextLength;
    this.S = sourceLengthOf(c);
    const { B, T, S } = this;
    const N = B * T;
    const NS = B * S;
    const C = c.dModel;
    const V = c.vocabSize;
    const F = c.dFF;
    const L = c.nLayer;
    const align = Math.max(1, k.device.limits.minStorageBufferOffsetAlignment / 4);
    this.layout = new ParamLayout(encDecParamSpecs(c, o.scheme), align);
    this.params = mem.tensor([this.layout.totalFloats], 'params');
    this.grads = mem.tensor([this.layout.totalFloats], 'grads');
    this.sources = mem.tensor([NS], 'sources');
    this.keyLengths = mem.tensor([B], 'encoder.key_lengths');
    this.inputs = mem.tensor([N], 'inputs');
    this.targets = mem.tensor([N], 'targets');
    this.logits = mem.tensor([N, V], 'logits');

    const P = (name: string) => this.param(name);
    const G = (name: string) => this.grad(name);
    const ln = (x: Tensor, prefix: string, rows: number): LayerNormTensors => ({
      x,
      gamma: P(`${prefix}.weight`),
      beta: P(`${prefix}.bias`),
      y: mem.tensor([rows, C], `${prefix}.y`),
      mean: mem.tensor([rows], `${prefix}.mean`),
      rstd: mem.tensor([rows], `${prefix}.rstd`),
    });

    if (o.measure) {
      const specs = [
        ...Array.from({ length: L }, (_, l) => ENCODER_LINEARS.map((which) => ({ name: `encoder.h.${l}.${which}`, rows: NS, ...linearShape(c, which) }))).flat(),
        ...Array.from({ length: L }, (_, l) => DECODER_LINEARS.map((which) => ({ name: `transformer.h.${l}.${which}`, rows: which === 'cross_attn.c_kv' ? NS : N, ...linearShape(c, which) }))).flat(),
      ];
      this.measurements = new LayerMeasurements(k, specs, o.measure.hadamardBlock, o.scheme.usesLossScaling ? o.lossScale : null);
    }
    const measurements = this.measurements;
    const statsOf = new Map<LinearLayer, Dispatch[]>();
    let linearCount = 0;
    const linear = (scheme: LinearScheme, name: string, rows: number, x: Tensor, y: Tensor, dy: Tensor, dx: Tensor, inFeatures: number, outFeatures: number, bias = true) => {
      const spec: LinearLayerSpec = {
        name, rows, inFeatures, outFeatures, x, y, dy, dx, index: linearCount++, stepState: o.stepState,
        w: P(`${name}.weight`), dw: G(`${name}.weight`),
        b: bias ? P(`${name}.bias`) : null, db: bias ? G(`${name}.bias`) : null,
      };
      const extra: Record<string, SchemeParameter> = {};
      for (const e of scheme.extraParameters({ name, inFeatures, outFeatures })) {
        extra[e.name] = { value: P(`${name}.${e.name}`), grad: G(`${name}.${e.name}`) };
      }
      const layer = scheme.build(k, spec, extra);
      if (measurements && /^(encoder|transformer)\.h\./.test(name)) statsOf.set(layer, measurements.add(spec, layer));
      return layer;
    };
    const fwd = (...d: Dispatch[]) => {
      this.forward.push(...d);
      this.firstForward.push(...d);
    };
    const fwdLinear = (l: LinearLayer) => {
      this.forward.push(...l.forward);
      this.firstForward.push(...(l.firstForward ?? l.forward));
    };
    const activation = (name: string, tensor: Tensor) => this.activations.push({ name, tensor });
    const attentionKernel = o.attentionKernel ?? 'separate';
    // The fused kernel keeps no probabilities: an attention map recomputes one layer's at a time here,
    // sized for the largest of the encoder's, the decoder's and the cross-attention's maps.
    let mapBuffer: Tensor | undefined;
    const attentionMap = () => (mapBuffer ??= mapTensor(k, c.nHead * Math.max(S * S, T * T, T * S), Math.max(S, T), Math.max(S, T)));

    /** Token embedding + positions (+ the scheme's embedding quantizer) of one stack; returns the
     *  stack's input, the gradient it receives and the backward. */
    const embed = (stack: string, tokens: Tensor, length: number, rows: number) => {
      const shape: EmbeddingShape = { B, T: length, C, V, learnedPositions: c.positionalEncoding === 'learned' };
      const x0 = mem.tensor([rows, C], `${stack}.embedding.out`);
      const dx0 = mem.tensor([rows, C], `${stack}.d_embedding.out`);
      const quantizer = o.scheme.embedding;
      const raw = quantizer ? mem.tensor([rows, C], `${stack}.embedding.out_f32`) : x0;
      const dRaw = quantizer ? mem.tensor([rows, C], `${stack}.d_embedding`) : dx0;
      fwd(embeddingForward(k, shape, tokens, P(`${stack}.wte.weight`), shape.learnedPositions ? P(`${stack}.wpe.weight`) : null, raw));
      const quant = quantizer?.build(k, { rows, cols: C, x: raw, y: x0, dy: dx0, dx: dRaw }, Object.fromEntries(
        quantizer.parameters.map((e) => [e.name, { value: P(`${stack}.wte.${e.name}`), grad: G(`${stack}.wte.${e.name}`) }]),
      ));
      if (quant) fwdLinear(quant);
      activation(`${stack} embedding output`, x0);
      const backward = [
        ...(quant?.backward ?? []),
        ...embeddingBackward(k, shape, tokens, dRaw, G(`${stack}.wte.weight`), shape.learnedPositions ? G(`${stack}.wpe.weight`) : null),
      ];
      return { x0, dx0, backward };
    };

    /** Self-attention sub-layer of a block: x + attn.c_proj(attention(attn.c_attn(ln_1(x)))). Returns
     *  the output, and the backward from ∇output (in dOut) to ∇x (written to dIn). */
    const selfAttention = (p: string, x: Tensor, rows: number, shape: AttentionShape, keyLengths: Tensor | null, scratch: { dLn: Tensor; dQkv: Tensor; dAttnOut: Tensor; grads: ReturnType<typeof allocAttentionGrads> }, dOut: Tensor, dIn: Tensor, kind: AttentionProbe['kind'], layer: number) => {
      const ln1 = ln(x, `${p}.ln_1`, rows);
      const qkv = mem.tensor([rows, 3 * C], `${p}.qkv`);
      const attnOut = mem.tensor([rows, C], `${p}.attn_out`);
      const attn: AttentionActivations = allocAttentionActivations(mem, shape, `${p}.attn`, { qkv, out: attnOut });
      const attnProj = mem.tensor([rows, C], `${p}.attn_proj`);
      const out = mem.tensor([rows, C], `${p}.resid_attn`);
      const cAttn = linear(o.scheme, `${p}.attn.c_attn`, rows, ln1.y, qkv, scratch.dQkv, scratch.dLn, C, 3 * C);
      const cProj = linear(o.scheme, `${p}.attn.c_proj`, rows, attnOut, attnProj, dOut, scratch.dAttnOut, C, C);
      fwd(layerNormForward(k, `${p}.ln_1`, ln1, rows, C, c.layerNormEps));
      fwdLinear(cAttn);
      fwd(...attentionForward(k, `${p}.attn`, shape, attn, keyLengths));
      fwdLinear(cProj);
      fwd(residualAdd(k, `${p}.resid_attn`, x, attnProj, out));
      for (const [what, t] of [['ln_1', ln1.y], ['attn.c_attn output (q, k, v)', qkv], ['attention output', attnOut], ['attn.c_proj output', attnProj], ['residual after attention', out]] as const) activation(`${p} ${what}`, t);
      this.attentionProbes.push({ layer, kind, name: `${p}.attn`, map: once(() => attentionMapSource(k, `${p}.attn.probs`, shape, attn, attentionMap, keyLengths)), Tq: shape.T, Tk: shape.T });
      const attnBackward = attentionBackward(k, `${p}.attn.backward`, shape, attn, scratch.grads, scratch.dAttnOut, scratch.dQkv, keyLengths);
      const ln1Backward = layerNormBackward(k, `${p}.ln_1.backward`, ln1, { dy: scratch.dLn, dx: dIn, dgamma: G(`${p}.ln_1.weight`), dbeta: G(`${p}.ln_1.bias`), dresidual: dOut }, rows, C);
      return { out, backward: (back: (l: LinearLayer) => Dispatch[]) => [...back(cProj), ...attnBackward, ...back(cAttn), ...ln1Backward] };
    };

    /** MLP sub-layer: x + mlp.c_proj(act(mlp.c_fc(ln_2(x)))). */
    const mlp = (p: string, x: Tensor, rows: number, scratch: { dLn: Tensor; dFc: Tensor; dFcAct: Tensor }, dOut: Tensor, dIn: Tensor) => {
      const ln2 = ln(x, `${p}.ln_2`, rows);
      const fcOut = mem.tensor([rows, F], `${p}.fc`);
      const fcAct = mem.tensor([rows, F], `${p}.fc_act`);
      const proj = mem.tensor([rows, C], `${p}.mlp_proj`);
      const out = mem.tensor([rows, C], `${p}.resid_out`);
      const fc = linear(o.scheme, `${p}.mlp.c_fc`, rows, ln2.y, fcOut, scratch.dFc, scratch.dLn, C, F);
      const cProj = linear(o.scheme, `${p}.mlp.c_proj`, rows, fcAct, proj, dOut, scratch.dFcAct, F, C);
      fwd(layerNormForward(k, `${p}.ln_2`, ln2, rows, C, c.layerNormEps));
      fwdLinear(fc);
      fwd(activationForward(k, `${p}.act`, c.activation, fcOut, fcAct));
      fwdLinear(cProj);
      fwd(residualAdd(k, `${p}.resid_out`, x, proj, out));
      for (const [what, t] of [['ln_2', ln2.y], ['mlp.c_fc output', fcOut], ['activation', fcAct], ['mlp.c_proj output', proj], ['block output', out]] as const) activation(`${p} ${what}`, t);
      const actBackward = activationBackward(k, `${p}.act.backward`, c.activation, fcOut, scratch.dFcAct, scratch.dFc);
      const ln2Backward = layerNormBackward(k, `${p}.ln_2.backward`, ln2, { dy: scratch.dLn, dx: dIn, dgamma: G(`${p}.ln_2.weight`), dbeta: G(`${p}.ln_2.bias`), dresidual: dOut }, rows, C);
      return { out, backward: (back: (l: LinearLayer) => Dispatch[]) => [...back(cProj), actBackward, ...back(fc), ...ln2Backward] };
    };

    const backOf = (measured: boolean) => (layer: LinearLayer) => [...layer.backward, ...(measured ? statsOf.get(layer) ?? [] : [])];

    // --- encoder
    // Each source's length, for the key padding mask of the encoder and of every cross-attention.
    fwd(keyLengthsForward(k, 'encoder.key_lengths', { B, T: S, pad }, this.sources, this.keyLengths));
    const encEmb = embed('encoder', this.sources, S, NS);
    const encShape: AttentionShape = { B, T: S, C, nHead: c.nHead, causal: false, kernel: attentionKernel };
    const encScratch = {
      dLn: mem.tensor([NS, C], 'encoder.d_ln'),
      dQkv: mem.tensor([NS, 3 * C], 'encoder.d_qkv'),
      dAttnOut: mem.tensor([NS, C], 'encoder.d_attn_out'),
      dFc: mem.tensor([NS, F], 'encoder.d_fc'),
      dFcAct: mem.tensor([NS, F], 'encoder.d_fc_act'),
      grads: allocAttentionGrads(mem, encShape),
    };
    const dEncResid = [encEmb.dx0, ...Array.from({ length: L }, (_, l) => mem.tensor([NS, C], `encoder.d_resid.${l + 1}`))];
    const dEncMid = mem.tensor([NS, C], 'encoder.d_resid_mid');
    const encBlocks: ((measured: boolean) => Dispatch[])[] = [];
    let e = encEmb.x0;
    for (let l = 0; l < L; l++) {
      const p = `encoder.h.${l}`;
      const attn = selfAttention(p, e, NS, encShape, this.keyLengths, encScratch, dEncMid, dEncResid[l], 'encoder', l);
      const ff = mlp(p, attn.out, NS, encScratch, dEncResid[l + 1], dEncMid);
      encBlocks.push((measured) => [...ff.backward(backOf(measured)), ...attn.backward(backOf(measured))]);
      e = ff.out;
    }
    const encLnF = ln(e, 'encoder.ln_f', NS);
    fwd(layerNormForward(k, 'encoder.ln_f', encLnF, NS, C, c.layerNormEps));
    activation('encoder.ln_f (encoder output)', encLnF.y);
    const encOut = encLnF.y;
    /** ∇ of the encoder output: the sum of every decoder layer's cross_attn.c_kv input gradient. */
    const dEncOut = mem.tensor([NS, C], 'encoder.d_out');
    const dEncPart = mem.tensor([NS, C], 'encoder.d_out_part');

    // --- decoder
    const decEmb = embed('transformer', this.inputs, T, N);
    const decShape: AttentionShape = { B, T, C, nHead: c.nHead, causal: true, kernel: attentionKernel };
    const crossShape: CrossAttentionShape = { B, Tq: T, Tk: S, C, nHead: c.nHead, kernel: attentionKernel };
    const decScratch = {
      dLn: mem.tensor([N, C], 'd_ln'),
      dQkv: mem.tensor([N, 3 * C], 'd_qkv'),
      dAttnOut: mem.tensor([N, C], 'd_attn_out'),
      dFc: mem.tensor([N, F], 'd_fc'),
      dFcAct: mem.tensor([N, F], 'd_fc_act'),
      grads: allocAttentionGrads(mem, decShape),
    };
    const dCrossOut = mem.tensor([N, C], 'd_cross_out');
    const dQ = mem.tensor([N, C], 'd_cross_q');
    const dKV = mem.tensor([NS, 2 * C], 'd_cross_kv');
    const crossGrads = allocCrossAttentionGrads(mem, crossShape);
    const dResid = [decEmb.dx0, ...Array.from({ length: L }, (_, l) => mem.tensor([N, C], `d_resid.${l + 1}`))];
    const dMid1 = mem.tensor([N, C], 'd_resid_mid.attn');
    const dMid2 = mem.tensor([N, C], 'd_resid_mid.cross');
    const decBlocks: ((measured: boolean) => Dispatch[])[] = [];
    let x = decEmb.x0;
    for (let l = 0; l < L; l++) {
      const p = `transformer.h.${l}`;
      const attn = selfAttention(p, x, N, decShape, null, decScratch, dMid1, dResid[l], 'self', l);
      // Cross-attention sub-layer: x + cross_attn.c_proj(cross_attention(c_q(ln_cross(x)), c_kv(enc))).
      const lnCross = ln(attn.out, `${p}.ln_cross`, N);
      const q = mem.tensor([N, C], `${p}.cross_q`);
      const kv = mem.tensor([NS, 2 * C], `${p}.cross_kv`);
      const cross: CrossAttentionActivations = allocCrossAttentionActivations(mem, crossShape, `${p}.cross_attn`);
      const crossOut = mem.tensor([N, C], `${p}.cross_out`);
      const crossProj = mem.tensor([N, C], `${p}.cross_proj`);
      const afterCross = mem.tensor([N, C], `${p}.resid_cross`);
      const cq = linear(o.scheme, `${p}.cross_attn.c_q`, N, lnCross.y, q, dQ, decScratch.dLn, C, C);
      // The last decoder layer's backward runs first and writes ∇enc; the others add theirs to it.
      const first = l === L - 1;
      const ckv = linear(o.scheme, `${p}.cross_attn.c_kv`, NS, encOut, kv, dKV, first ? dEncOut : dEncPart, C, 2 * C);
      const cproj = linear(o.scheme, `${p}.cross_attn.c_proj`, N, crossOut, crossProj, dMid2, dCrossOut, C, C);
      fwd(layerNormForward(k, `${p}.ln_cross`, lnCross, N, C, c.layerNormEps));
      fwdLinear(cq);
      fwdLinear(ckv);
      fwd(...crossAttentionForward(k, `${p}.cross_attn`, crossShape, q, kv, cross, crossOut, this.keyLengths));
      fwdLinear(cproj);
      fwd(residualAdd(k, `${p}.resid_cross`, attn.out, crossProj, afterCross));
      for (const [what, t] of [['ln_cross', lnCross.y], ['cross_attn.c_q output', q], ['cross_attn.c_kv output (k, v)', kv], ['cross-attention output', crossOut], ['cross_attn.c_proj output', crossProj], ['residual after cross-attention', afterCross]] as const) activation(`${p} ${what}`, t);
      this.attentionProbes.push({ layer: l, kind: 'cross', name: `${p}.cross_attn`, map: once(() => crossAttentionMapSource(k, `${p}.cross_attn.probs`, crossShape, cross, attentionMap, this.keyLengths)), Tq: T, Tk: S });
      const crossBackward = crossAttentionBackward(k, `${p}.cross_attn.backward`, crossShape, cross, crossGrads, dCrossOut, dQ, dKV, this.keyLengths);
      const lnCrossBackward = layerNormBackward(k, `${p}.ln_cross.backward`, lnCross, { dy: decScratch.dLn, dx: dMid1, dgamma: G(`${p}.ln_cross.weight`), dbeta: G(`${p}.ln_cross.bias`), dresidual: dMid2 }, N, C);
      const addEnc = first ? [] : [accumulate(k, `${p}.cross_attn.d_enc`, dEncPart, dEncOut, NS * C)];
      const ff = mlp(p, afterCross, N, decScratch, dResid[l + 1], dMid2);
      decBlocks.push((measured) => {
        const back = backOf(measured);
        return [...ff.backward(back), ...back(cproj), ...crossBackward, ...back(cq), ...lnCrossBackward, ...back(ckv), ...addEnc, ...attn.backward(back)];
      });
      x = ff.out;
    }
    const lnf = ln(x, 'transformer.ln_f', N);
    fwd(layerNormForward(k, 'ln_f', lnf, N, C, c.layerNormEps));
    const dLogits = mem.tensor([N, V], 'd_logits');
    const head = linear(fp32Scheme, 'lm_head', N, lnf.y, this.logits, dLogits, decScratch.dLn, C, V, false);
    fwdLinear(head);
    activation('ln_f', lnf.y);
    activation('logits', this.logits);

    // --- loss
    const scoredCount = mem.tensor([1], 'loss.scored');
    const losses = mem.tensor([N], 'loss.per_position');
    const lossTensors = { logits: this.logits, targets: this.targets, scoredCount, losses, dlogits: dLogits, lossScale: o.lossScale };
    const train = softmaxCrossEntropy(k, N, V, { ...lossTensors, metrics: o.metrics }, false);
    this.trainLoss = train.dispatches;
    this.trainLossUniforms = train.reduceUniforms;
    this.valLoss = softmaxCrossEntropy(k, N, V, { ...lossTensors, metrics: o.valMetrics }, true).dispatches;

    // --- backward: head, decoder blocks (last first), decoder embedding, encoder output norm, encoder
    // blocks (last first), encoder embedding.
    const headBackward = [
      ...head.backward,
      ...layerNormBackward(k, 'ln_f.backward', lnf, { dy: decScratch.dLn, dx: dResid[L], dgamma: G('transformer.ln_f.weight'), dbeta: G('transformer.ln_f.bias'), dresidual: null }, N, C),
    ];
    const encLnFBackward = layerNormBackward(k, 'encoder.ln_f.backward', encLnF, { dy: dEncOut, dx: dEncResid[L], dgamma: G('encoder.ln_f.weight'), dbeta: G('encoder.ln_f.bias'), dresidual: null }, NS, C);
    const backwardList = (measured: boolean) => [
      ...headBackward,
      ...[...decBlocks].reverse().flatMap((b) => b(measured)),
      ...decEmb.backward,
      ...encLnFBackward,
      ...[...encBlocks].reverse().flatMap((b) => b(measured)),
      ...encEmb.backward,
    ];
    this.backward.push(...backwardList(false));
    if (measurements) this.measuredBackward.push(...backwardList(true));
  }

  param(name: string): Tensor {
    const s = this.layout.slot(name);
    return new Tensor(this.params.buffer, s.spec.shape, s.offset * 4, name);
  }

  grad(name: string): Tensor {
    const s = this.layout.slot(name);
    return new Tensor(this.grads.buffer, s.spec.shape, s.offset * 4, `grad:${name}`);
  }
}
