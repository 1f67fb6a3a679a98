// A decoder-only Transformer (GPT-2 layout, pre-LayerNorm) built from a ModelConfig for a fixed batch
// shape. Every buffer is allocated here; forward and backward are lists of dispatches, written out
// layer by layer as explicit *_forward / *_backward pairs (the llm.c way), so a training step is a
// replay into one command encoder.
//
//   x = wte[tokens] + pos
//   for each block:  x = x + c_proj(attention(c_attn(ln_1(x))));  x = x + mlp.c_proj(act(mlp.c_fc(ln_2(x))))
//   logits = lm_head(ln_f(x))
//
// Every linear layer of the blocks goes through the run's LinearScheme; lm_head stays f32 in every
// scheme (as in the paper, which keeps the classifier in full precision).
//
// The same class builds the encoder-only classifier (architecture 'encoder', BERT-like): the blocks
// attend bidirectionally (no causal mask), and lm_head is replaced by a full-precision classification
// head `classifier` (with bias) over numClasses. Every position gets class logits, but the dataset
// scores only position 0, where each sequence holds its CLS token: the loss is that of [CLS] pooling,
// and the other positions get exactly zero gradient. Its sequences are padded to T (data/classify.ts),
// so its attention masks the padding as keys (the key padding mask, ops/attention.ts): a sequence's
// real positions read only each other, and what the pad positions hold changes no output at a real
// position. The pad positions' own outputs are computed (finite) and never read.
import type { ModelConfig } from '../config';
import { type Dispatch, type Kernels } from '../gpu/kernels';
import type { GpuMemory } from '../gpu/memory';
import { fp32Scheme } from '../linear/fp32';
import type { LinearLayer, LinearLayerSpec, LinearScheme, SchemeParameter } from '../linear/scheme';
import { type AttentionActivations, type AttentionKernel, type AttentionShape, allocAttentionActivations, allocAttentionGrads, attentionBackward, attentionForward, attentionMapSource, keyLengthsForward } from '../ops/attention';
import { activationBackward, activationForward, residualAdd } from '../ops/elementwise';
import { embeddingBackward, embeddingForward, type EmbeddingShape } from '../ops/embedding';
import { layerNormBackward, layerNormForward, type LayerNormTensors } from '../ops/layernorm';
import { softmaxCrossEntropy } from '../ops/loss';
import { Tensor } from '../tensor';
import { LayerMeasurements } from './measure';
import { ParamLayout, type ParamSpec } from './params';

const BLOCK_LINEARS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;

function linearShape(c: ModelConfig, which: (typeof BLOCK_LINEARS)[number]): { inFeatures: number; outFeatures: number } {
  switch (which) {
    case 'attn.c_attn': return { inFeatures: c.dModel, outFeatures: 3 * c.dModel };
    case 'attn.c_proj': return { inFeatures: c.dModel, outFeatures: c.dModel };
    case 'mlp.c_fc': return { inFeatures: c.dModel, outFeatures: c.dFF };
    case 'mlp.c_proj': return { inFeatures: c.dFF, outFeatures: c.dModel };
  }
}

/** Every parameter of the model, with GPT-2's initialisation: N(0, 0.02) for matrices and embeddings,
 *  N(0, 0.02/√(2·layers)) for the projections that write into the residual stream, zero biases, unit
 *  LayerNorm gains. Names follow nanoGPT so checkpoints load there. */
export function gptParamSpecs(c: ModelConfig, scheme: LinearScheme): ParamSpec[] {
  const normal = (std: number) => ({ kind: 'normal' as const, std });
  const zeros = { kind: 'constant' as const, value: 0 };
  const ones = { kind: 'constant' as const, value: 1 };
  const specs: ParamSpec[] = [{ name: 'transformer.wte.weight', shape: [c.vocabSize, c.dModel], init: normal(0.02), decay: true }];
  for (const extra of scheme.embedding?.parameters ?? []) specs.push({ ...extra, name: `transformer.wte.${extra.name}` });
  if (c.positionalEncoding === 'learned') {
    specs.push({ name: 'transformer.wpe.weight', shape: [c.contextLength, c.dModel], init: normal(0.02), decay: true });
  }
  const residualStd = 0.02 / Math.sqrt(2 * c.nLayer);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}`;
    specs.push({ name: `${p}.ln_1.weight`, shape: [c.dModel], init: ones, decay: false });
    specs.push({ name: `${p}.ln_1.bias`, shape: [c.dModel], init: zeros, decay: false });
    for (const which of BLOCK_LINEARS) {
      const { inFeatures, outFeatures } = linearShape(c, which);
      const std = which.endsWith('c_proj') ? residualStd : 0.02;
      specs.push({ name: `${p}.${which}.weight`, shape: [outFeatures, inFeatures], init: normal(std), decay: true });
      specs.push({ name: `${p}.${which}.bias`, shape: [outFeatures], init: zeros, decay: false });
      for (const extra of scheme.extraParameters({ name: `${p}.${which}`, inFeatures, outFeatures })) {
        specs.push({ ...extra, name: `${p}.${which}.${extra.name}` });
      }
      if (which === 'attn.c_proj') {
        specs.push({ name: `${p}.ln_2.weight`, shape: [c.dModel], init: ones, decay: false });
        specs.push({ name: `${p}.ln_2.bias`, shape: [c.dModel], init: zeros, decay: false });
      }
    }
  }
  specs.push({ name: 'transformer.ln_f.weight', shape: [c.dModel], init: ones, decay: false });
  specs.push({ name: 'transformer.ln_f.bias', shape: [c.dModel], init: zeros, decay: false });
  if (c.architecture === 'encoder') {
    specs.push({ name: 'classifier.weight', shape: [headOutputs(c), c.dModel], init: normal(0.02), decay: true });
    specs.push({ name: 'classifier.bias', shape: [headOutputs(c)], init: zeros, decay: false });
  } else {
    specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, c.dModel], init: normal(0.02), decay: true });
  }
  return specs;
}

/** `make`'s result, made on the first call. */
export function once<T>(make: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: make() }).v;
}

/** The fused attention kernel's map buffer (allocated when a map is first asked for, not with the model):
 *  refused with a clear message where one layer's heads × Tq × Tk floats exceed the device's buffers. */
export function mapTensor(k: Kernels, floats: number, Tq: number, Tk: number): Tensor {
  const bytes = floats * 4;
  const limit = Math.min(k.device.limits.maxStorageBufferBindingSize, k.device.limits.maxBufferSize);
  if (bytes > limit) {
    throw new Error(`an attention map of ${Tq} × ${Tk} positions for every head needs ${(bytes / 2 ** 20).toFixed(1)} MiB, over this GPU's ${(limit / 2 ** 20).toFixed(1)} MiB per buffer: show maps of a model with a shorter context`);
  }
  return k.memory.tensor([floats], 'attention.map');
}

/** Outputs of the head: the vocabulary (next-token logits), or the classes of an encoder classifier. */
export function headOutputs(c: ModelConfig): number {
  return c.architecture === 'encoder' ? c.numClasses ?? 0 : c.vocabSize;
}

/** One attention layer's probabilities [B, nHead, Tq, Tk] (Tq = Tk for self-attention), for
 *  attention maps (Trainer.attentionMaps). */
export interface AttentionProbe {
  /** Block index within its stack. */
  layer: number;
  /** 'self' in a decoder or an encoder-only model; 'encoder' for an encoder-decoder's encoder;
   *  'cross' for its decoder's attention to the encoder output. */
  kind: 'self' | 'encoder' | 'cross';
  /** Parameter prefix of the attention layer, e.g. `transformer.h.0.attn`. */
  name: string;
  /** Where sequence 0's probabilities [nh, Tq, Tk] are (at the start of `probs`) once `prepare` has run
   *  after the forward (nothing to run where the forward keeps them: the separate attention kernel). Built
   *  on first use: the fused kernel's map buffer is allocated only when a map is asked for. */
  map(): { probs: Tensor; prepare: Dispatch[] };
  Tq: number;
  Tk: number;
}

interface BlockActivations {
  ln1: LayerNormTensors;
  qkv: Tensor;
  attn: AttentionActivations;
  attnOut: Tensor;
  attnProj: Tensor;
  residMid: Tensor;
  ln2: LayerNormTensors;
  fc: Tensor;
  fcAct: Tensor;
  mlpProj: Tensor;
  residOut: Tensor;
}

export interface GptBuildOptions {
  config: ModelConfig;
  /** Sequences per batch. */
  batchSize: number;
  scheme: LinearScheme;
  /** Per-step metric records of the training loop (loss at slot, gradient norm at slot + 1). */
  metrics: Tensor;
  /** Validation sums: [Σ batch-mean loss, batches]. */
  valMetrics: Tensor;
  /** [0]: the loss scale ∇logits is multiplied by (dynamic loss scaling; holds 1 otherwise). */
  lossScale: Tensor;
  /** u32 [seed, step] for the schemes' counter-based random draws. */
  stepState: Tensor;
  /** Build `measuredBackward` too: the backward with every block linear layer's measurements
   *  (train/measurements.ts). `hadamardBlock` is the block HQ would use, shown for schemes without it. */
  measure?: { hadamardBlock: number } | null;
  /** Dispatches around the head's backward (distillation, sparsity/distill.ts): `before` runs after the
   *  loss wrote ∇logits, `after` after the head's backward wrote ∇ of the final hidden state (ln_f's
   *  output), before ln_f's backward; either may add to those gradients. */
  headBackward?: (h: HeadBackwardTensors) => { before: Dispatch[]; after: Dispatch[] };
  /** Encoder and encoder-decoder (required there): the dataset's pad token (Dataset.padToken). Their
   *  encoder self-attention and cross-attention mask the keys past each sequence's last token that is
   *  not this one. A decoder ignores it: its causal mask already hides the padding after the scored
   *  positions from them. */
  padToken?: number;
  /** Attention kernel of every attention layer (ops/attention.ts); default 'separate'. */
  attentionKernel?: AttentionKernel;
}

/** The pad token of a build whose encoder masks padded keys: a token id of the vocabulary. */
export function requirePadToken(o: GptBuildOptions): number {
  const pad = o.padToken;
  if (pad === undefined || !Number.isInteger(pad) || pad < 0 || pad >= o.config.vocabSize) {
    throw new Error(`an ${o.config.architecture} model masks the padding of its sequences as attention keys: its build needs the dataset's pad token (GptBuildOptions.padToken, a token id below the vocabulary size ${o.config.vocabSize}), got ${pad}`);
  }
  return pad;
}

/** What GptBuildOptions.headBackward sees: the final hidden state [N, d_model] (ln_f's output), the logits
 *  [N, V], their gradients, the batch's tokens and targets, and the loss scale. */
export interface HeadBackwardTensors {
  inputs: Tensor;
  hidden: Tensor;
  dHidden: Tensor;
  logits: Tensor;
  dLogits: Tensor;
  targets: Tensor;
  lossScale: Tensor;
}

export class Gpt {
  readonly config: ModelConfig;
  readonly B: number;
  readonly T: number;
  readonly layout: ParamLayout;
  readonly params: Tensor;
  readonly grads: Tensor;
  /** u32 [B·T] token ids and next-token targets (0xffffffff = not scored). */
  readonly inputs: Tensor;
  readonly targets: Tensor;
  readonly logits: Tensor;
  /** Embedding to logits. */
  readonly forward: Dispatch[] = [];
  /** The forward of the first training step: `forward` with the schemes' one-time initialisation. */
  readonly firstForward: Dispatch[] = [];
  /** Loss and ∇logits, batch mean written to the training metrics slot (rewrite `trainLossUniforms`). */
  readonly trainLoss: Dispatch[];
  readonly trainLossUniforms: GPUBuffer;
  /** Loss added to the validation sums. */
  readonly valLoss: Dispatch[];
  /** ∇logits to every parameter gradient. */
  readonly backward: Dispatch[] = [];
  /** `backward` with each block linear layer's measurements right after its backward (when built
   *  with `measure`), and where they land. */
  readonly measuredBackward: Dispatch[] = [];
  /** The forward's activations in the order they are computed, by name (for finding where values
   *  stopped being finite). */
  readonly activations: { name: string; tensor: Tensor }[] = [];
  readonly measurements: LayerMeasurements | null = null;
  /** Encoder-decoder models only: the source tokens (null here). */
  readonly sources: Tensor | null = null;
  /** Every attention layer's probabilities, for attention maps. */
  readonly attentionProbes: AttentionProbe[] = [];
  /** Encoder: u32 [B], the real keys of each sequence (computed from `inputs` by the forward); null
   *  for the decoder, which needs no key padding mask. */
  readonly keyLengths: Tensor | null;

  constructor(k: Kernels, o: GptBuildOptions) {
    const c = o.config;
    // Checked before anything is allocated.
    const pad = c.architecture === 'encoder' ? requirePadToken(o) : null;
    const mem = k.memory;
    this.config = c;
    this.B = o.batchSize;
    this.T = c.contextLength;
    const B = this.B;
    const T = this.T;
    const N = B * T;
    const C = c.dModel;
    const V = c.vocabSize;
    const H = headOutputs(c);
    const align = Math.max(1, k.device.limits.minStorageBufferOffsetAlignment / 4);
    this.layout = new ParamLayout(gptParamSpecs(c, o.scheme), align);
    this.params = mem.tensor([this.layout.totalFloats], 'params');
    this.grads = mem.tensor([this.layout.totalFloats], 'grads');
    this.inputs = mem.tensor([N], 'inputs');
    this.targets = mem.tensor([N], 'targets');
    this.keyLengths = pad === null ? null : mem.tensor([B], 'attention.key_lengths');

    const P = (name: string) => this.param(name);
    const G = (name: string) => this.grad(name);
    const ln = (label: string, x: Tensor, prefix: string): LayerNormTensors => ({
      x,
      gamma: P(`${prefix}.weight`),
      beta: P(`${prefix}.bias`),
      y: mem.tensor([N, C], `${label}.y`),
      mean: mem.tensor([N], `${label}.mean`),
      rstd: mem.tensor([N], `${label}.rstd`),
    });

    // --- activations
    const x0 = mem.tensor([N, C], 'embedding.out');
    const attnShape: AttentionShape = { B, T, C, nHead: c.nHead, causal: c.architecture === 'decoder', kernel: o.attentionKernel ?? 'separate' };
    // The fused kernel keeps no probabilities: an attention map recomputes one layer's at a time here.
    let mapBuffer: Tensor | undefined;
    const attentionMap = () => (mapBuffer ??= mapTensor(k, c.nHead * T * T, T, T));
    const blocks: BlockActivations[] = [];
    let residIn = x0;
    for (let l = 0; l < c.nLayer; l++) {
      const p = `transformer.h.${l}`;
      const ln1 = ln(`${p}.ln_1`, residIn, `${p}.ln_1`);
      const residMid = mem.tensor([N, C], `${p}.resid_mid`);
      const qkv = mem.tensor([N, 3 * C], `${p}.qkv`);
      const attnOut = mem.tensor([N, C], `${p}.attn_out`);
      const b: BlockActivations = {
        ln1,
        qkv,
        attn: allocAttentionActivations(mem, attnShape, `${p}.attn`, { qkv, out: attnOut }),
        attnOut,
        attnProj: mem.tensor([N, C], `${p}.attn_proj`),
        residMid,
        ln2: ln(`${p}.ln_2`, residMid, `${p}.ln_2`),
        fc: mem.tensor([N, c.dFF], `${p}.fc`),
        fcAct: mem.tensor([N, c.dFF], `${p}.fc_act`),
        mlpProj: mem.tensor([N, C], `${p}.mlp_proj`),
        residOut: mem.tensor([N, C], `${p}.resid_out`),
      };
      blocks.push(b);
      residIn = b.residOut;
    }
    const lnf = ln('ln_f', residIn, 'transformer.ln_f');
    this.logits = mem.tensor([N, H], 'logits');
    blocks.forEach((b, l) => {
      const name = `transformer.h.${l}.attn`;
      this.attentionProbes.push({ layer: l, kind: 'self', name, map: once(() => attentionMapSource(k, `${name}.probs`, attnShape, b.attn, attentionMap, this.keyLengths)), Tq: T, Tk: T });
    });
    this.activations.push({ name: 'embedding output', tensor: x0 });
    blocks.forEach((b, l) => {
      const p = `transformer.h.${l}`;
      for (const [what, tensor] of [['ln_1', b.ln1.y], ['attn.c_attn output (q, k, v)', b.qkv], ['attention output', b.attnOut], ['attn.c_proj output', b.attnProj], ['residual after attention', b.residMid], ['ln_2', b.ln2.y], ['mlp.c_fc output', b.fc], ['activation', b.fcAct], ['mlp.c_proj output', b.mlpProj], ['block output', b.residOut]] as const) {
        this.activations.push({ name: `${p} ${what}`, tensor });
      }
    });
    this.activations.push({ name: 'ln_f', tensor: lnf.y }, { name: 'logits', tensor: this.logits });

    // --- gradient scratch, shared by the blocks (backward visits one block at a time)
    const dResid = Array.from({ length: c.nLayer + 1 }, (_, l) => mem.tensor([N, C], `d_resid.${l}`));
    const dResidMid = mem.tensor([N, C], 'd_resid_mid');
    const dLn = mem.tensor([N, C], 'd_ln');
    const dQkv = mem.tensor([N, 3 * C], 'd_qkv');
    const dAttnOut = mem.tensor([N, C], 'd_attn_out');
    const dFc = mem.tensor([N, c.dFF], 'd_fc');
    const dFcAct = mem.tensor([N, c.dFF], 'd_fc_act');
    const attnGrads = allocAttentionGrads(mem, attnShape);
    const dLogits = mem.tensor([N, H], 'd_logits');

    if (o.measure) {
      const specs = Array.from({ length: c.nLayer }, (_, l) =>
        BLOCK_LINEARS.map((which) => ({ name: `transformer.h.${l}.${which}`, rows: N, ...linearShape(c, which) })),
      ).flat();
      this.measurements = new LayerMeasurements(k, specs, o.measure.hadamardBlock, o.scheme.usesLossScaling ? o.lossScale : null);
    }
    const measurements = this.measurements;
    /** A layer's measurements, run right after its backward in `measuredBackward`. */
    const statsOf = new Map<LinearLayer, Dispatch[]>();
    let linearCount = 0;
    const linear = (scheme: LinearScheme, name: string, x: Tensor, y: Tensor, dy: Tensor, dx: Tensor, inFeatures: number, outFeatures: number, bias = true) => {
      const spec: LinearLayerSpec = {
        name, rows: N, inFeatures, outFeatures, x, y, dy, dx, index: linearCount++, stepState: o.stepState,
        w: P(`${name}.weight`), dw: G(`${name}.weight`),
        b: bias ? P(`${name}.bias`) : null, db: bias ? G(`${name}.bias`) : null,
      };
      const extra: Record<string, SchemeParameter> = {};
      for (const e of scheme.extraParameters({ name, inFeatures, outFeatures })) {
        extra[e.name] = { value: P(`${name}.${e.name}`), grad: G(`${name}.${e.name}`) };
      }
      const layer = scheme.build(k, spec, extra);
      if (measurements && name.startsWith('transformer.h.')) statsOf.set(layer, measurements.add(spec, layer));
      return layer;
    };

    // --- forward (and the first step's variant, where a scheme initialises itself from the first batch)
    const fwd = (...d: Dispatch[]) => {
      this.forward.push(...d);
      this.firstForward.push(...d);
    };
    const fwdLinear = (l: LinearLayer) => {
      this.forward.push(...l.forward);
      this.firstForward.push(...(l.firstForward ?? l.forward));
    };
    const embShape: EmbeddingShape = { B, T, C, V, learnedPositions: c.positionalEncoding === 'learned' };
    const wpe = embShape.learnedPositions ? P('transformer.wpe.weight') : null;
    // A scheme that quantizes the embedding output puts its fake quantizer between the embedding and
    // the first block.
    const embeddingQuantizer = o.scheme.embedding;
    const embeddingOut = embeddingQuantizer ? mem.tensor([N, C], 'embedding.out_f32') : x0;
    const dEmbedding = embeddingQuantizer ? mem.tensor([N, C], 'd_embedding') : dResid[0];
    // Each sequence's length, from this batch's tokens, for every block's key padding mask.
    if (this.keyLengths && pad !== null) fwd(keyLengthsForward(k, 'attention.key_lengths', { B, T, pad }, this.inputs, this.keyLengths));
    fwd(embeddingForward(k, embShape, this.inputs, P('transformer.wte.weight'), wpe, embeddingOut));
    const embeddingQuant = embeddingQuantizer?.build(k, { rows: N, cols: C, x: embeddingOut, y: x0, dy: dResid[0], dx: dEmbedding }, Object.fromEntries(
      embeddingQuantizer.parameters.map((e) => [e.name, { value: P(`transformer.wte.${e.name}`), grad: G(`transformer.wte.${e.name}`) }]),
    ));
    if (embeddingQuant) fwdLinear(embeddingQuant);
    const blockBackward: ((measured: boolean) => Dispatch[])[] = [];
    blocks.forEach((b, l) => {
      const p = `transformer.h.${l}`;
      const s = o.scheme;
      const cAttn = linear(s, `${p}.attn.c_attn`, b.ln1.y, b.qkv, dQkv, dLn, C, 3 * C);
      const cProj = linear(s, `${p}.attn.c_proj`, b.attnOut, b.attnProj, dResidMid, dAttnOut, C, C);
      const fc = linear(s, `${p}.mlp.c_fc`, b.ln2.y, b.fc, dFc, dLn, C, c.dFF);
      const mlpProj = linear(s, `${p}.mlp.c_proj`, b.fcAct, b.mlpProj, dResid[l + 1], dFcAct, c.dFF, C);
      fwd(layerNormForward(k, `${p}.ln_1`, b.ln1, N, C, c.layerNormEps));
      fwdLinear(cAttn);
      fwd(...attentionForward(k, `${p}.attn`, attnShape, b.attn, this.keyLengths));
      fwdLinear(cProj);
      fwd(residualAdd(k, `${p}.resid_mid`, b.ln1.x, b.attnProj, b.residMid), layerNormForward(k, `${p}.ln_2`, b.ln2, N, C, c.layerNormEps));
      fwdLinear(fc);
      fwd(activationForward(k, `${p}.act`, c.activation, b.fc, b.fcAct));
      fwdLinear(mlpProj);
      fwd(residualAdd(k, `${p}.resid_out`, b.residMid, b.mlpProj, b.residOut));
      // The residual branch passes ∇ of the block's output straight through; each LayerNorm backward
      // adds it to the gradient it computes (see layernorm.wgsl).
      const actBackward = activationBackward(k, `${p}.act.backward`, c.activation, b.fc, dFcAct, dFc);
      const ln2Backward = layerNormBackward(k, `${p}.ln_2.backward`, b.ln2, { dy: dLn, dx: dResidMid, dgamma: G(`${p}.ln_2.weight`), dbeta: G(`${p}.ln_2.bias`), dresidual: dResid[l + 1] }, N, C);
      const attnBackward = attentionBackward(k, `${p}.attn.backward`, attnShape, b.attn, attnGrads, dAttnOut, dQkv, this.keyLengths);
      const ln1Backward = layerNormBackward(k, `${p}.ln_1.backward`, b.ln1, { dy: dLn, dx: dResid[l], dgamma: G(`${p}.ln_1.weight`), dbeta: G(`${p}.ln_1.bias`), dresidual: dResidMid }, N, C);
      blockBackward.push((measured) => {
        const back = (layer: LinearLayer) => [...layer.backward, ...(measured ? statsOf.get(layer) ?? [] : [])];
        return [...back(mlpProj), actBackward, ...back(fc), ...ln2Backward, ...back(cProj), ...attnBackward, ...back(cAttn), ...ln1Backward];
      });
    });
    fwd(layerNormForward(k, 'ln_f', lnf, N, C, c.layerNormEps));
    const dLnf = dLn;
    const head = c.architecture === 'encoder'
      ? linear(fp32Scheme, 'classifier', lnf.y, this.logits, dLogits, dLnf, C, H, true)
      : linear(fp32Scheme, 'lm_head', lnf.y, this.logits, dLogits, dLnf, C, V, false);
    fwdLinear(head);

    // --- loss
    const scoredCount = mem.tensor([1], 'loss.scored');
    const losses = mem.tensor([N], 'loss.per_position');
    const lossTensors = { logits: this.logits, targets: this.targets, scoredCount, losses, dlogits: dLogits, lossScale: o.lossScale };
    const train = softmaxCrossEntropy(k, N, H, { ...lossTensors, metrics: o.metrics }, false);
    this.trainLoss = train.dispatches;
    this.trainLossUniforms = train.reduceUniforms;
    this.valLoss = softmaxCrossEntropy(k, N, H, { ...lossTensors, metrics: o.valMetrics }, true).dispatches;

    // --- backward
    const headHook = o.headBackward?.({ inputs: this.inputs, hidden: lnf.y, dHidden: dLnf, logits: this.logits, dLogits, targets: this.targets, lossScale: o.lossScale });
    const headBackward = [
      ...(headHook?.before ?? []),
      ...head.backward,
      ...(headHook?.after ?? []),
      ...layerNormBackward(k, 'ln_f.backward', lnf, { dy: dLnf, dx: dResid[c.nLayer], dgamma: G('transformer.ln_f.weight'), dbeta: G('transformer.ln_f.bias'), dresidual: null }, N, C),
    ];
    const embeddingBack = [
      ...(embeddingQuant?.backward ?? []),
      ...embeddingBackward(k, embShape, this.inputs, dEmbedding, G('transformer.wte.weight'), embShape.learnedPositions ? G('transformer.wpe.weight') : null),
    ];
    const backwardList = (measured: boolean) => [...headBackward, ...[...blockBackward].reverse().flatMap((b) => b(measured)), ...embeddingBack];
    this.backward.push(...backwardList(false));
    if (measurements) this.measuredBackward.push(...backwardList(true));
  }

  /** The parameter `name` as a slice of the flat buffer. */
  param(name: string): Tensor {
    const s = this.layout.slot(name);
    return new Tensor(this.params.buffer, s.spec.shape, s.offset * 4, name);
  }

  grad(name: string): Tensor {
    const s = this.layout.slot(name);
    return new Tensor(this.grads.buffer, s.spec.shape, s.offset * 4, `grad:${name}`);
  }
}
