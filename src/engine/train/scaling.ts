// The scaling sweep (issue 7 item 5): a ladder of model sizes trained on the same data, their final loss
// against training compute on log-log axes, and a fitted power law L ≈ a·C^b. The third source article
// (../shared/docs/sources.md §3: "scaling laws: loss predicted from small models") is the why; the
// compute convention is the scaling-law papers' (Kaplan et al. 2020, "Scaling Laws for Neural Language
// Models", §2.1 and Table 1: C ≈ 6N FLOPs per training token, N the non-embedding parameters), applied to
// the model as the fourth source article draws it (§4: Q, K, V projections, softmax(QKᵀ/√d_k)·V, the
// feed-forward layers, a final linear over the vocabulary). Pure: no GPU, no DOM; the page's sweep panel
// and the CLI (src/cli/scaling-experiment.ts) share it.
//
// Which ladder. The issue asks for sizes trained "on the same data for matching compute budgets" and a
// plot of final loss against training FLOPs. An equal budget for every size (an IsoFLOP slice) would put
// every point at the same x, so "matching" has to mean a budget that goes with the size. The default
// ladder gives every rung the same tokens, in the same order, under the same schedule: a controlled
// experiment where size is the only difference, and the compute C = (FLOPs per token)·D grows with N at
// fixed D — the fitted exponent b is then the loss-vs-parameters exponent at this data budget (Kaplan's
// L(N) at finite D), and a curve bending flat at the large end shows the bigger models becoming
// data-limited. `tokensPerParameter` gives the other reading: tokens ∝ non-embedding parameters
// (Hoffmann et al. 2022's compute-optimal allocation, ~20 tokens per parameter at scale), so C ∝ N² and
// the points follow the compute-efficient frontier L(C). On a CPU rasterizer that second ladder gives the
// smallest rung only a few dozen steps or the largest thousands, which is why it is not the default.
import { ConfigError, DEFAULT_TRAIN, hadamardBlockFor, type ModelConfig, type RunConfig, type TrainConfig } from '../config';
import { checkMemoryLimits, type MemoryLimits } from '../limits';

/** Tokens a sequence contributes to a step, as Trainer.tokensPerStep counts them: the context, plus the
 *  source the encoder of an encoder-decoder reads. */
export function tokensPerSequence(model: ModelConfig): number {
  return model.contextLength + (model.architecture === 'encoder-decoder' ? (model.sourceLength ?? 0) : 0);
}

/** Outputs of the final linear layer: the vocabulary, or an encoder classifier's classes (model/gpt.ts
 *  computes them at every position). */
function headOutputs(model: ModelConfig): number {
  return model.architecture === 'encoder' ? (model.numClasses ?? 0) : model.vocabSize;
}

/** Weights of one block's matrix multiplies (biases and LayerNorm gains are element-wise, not matmuls):
 *  attention's fused Q,K,V projection (d×3d) and output projection (d×d), the MLP's d×d_ff and d_ff×d. */
function blockMatmulWeights(m: ModelConfig): number {
  return 4 * m.dModel * m.dModel + 2 * m.dModel * m.dFF;
}

/**
 * Forward + backward FLOPs per trained token (a multiply-add is 2 FLOPs):
 *
 *   6 · (matmul weights) + 12 · nLayer · T · d_model
 *
 * The first term is Kaplan et al.'s C ≈ 6N: a weight matrix of P entries costs 2P FLOPs per token
 * forward and twice that backward (∇X and ∇W), for every matmul a token goes through — the blocks' four
 * linear layers and the untied lm_head (Kaplan count the embeddings out because a lookup does no
 * multiply-adds; the head here is a real d×V matmul, so it is in). The second term is attention's two
 * products per layer, QKᵀ and P·V: each is T·d_model multiply-adds per query token (all heads together),
 * 2·2·T·d forward, ×3 with the backward. T is the full context because the engine computes the whole
 * T×T score matrix and masks it (ops/attention.ts); an engine skipping masked blocks would do about half.
 * Biases, LayerNorm, softmax, GELU and the optimizer are O(d) per token and left out, as in Kaplan's
 * Table 1. The count is the same for every precision: an INT4 multiply-add is still one multiply-add.
 *
 * An encoder-decoder also runs its encoder over S source tokens and the cross-attention's K,V projection
 * of them, and each decoder token attends to S source positions; the total is divided by T + S, the
 * tokens of a sequence as tokensPerSequence counts them.
 */
export function trainingFlopsPerToken(model: ModelConfig): number {
  const d = model.dModel;
  const L = model.nLayer;
  const T = model.contextLength;
  const head = headOutputs(model) * d;
  if (model.architecture !== 'encoder-decoder') return 6 * (L * blockMatmulWeights(model) + head) + 12 * L * T * d;
  const S = model.sourceLength ?? 0;
  // Per source token: the encoder blocks and each decoder layer's K,V projection of the encoder output.
  const perSource = 6 * L * (blockMatmulWeights(model) + 2 * d * d) + 12 * L * S * d;
  // Per target token: self-attention and MLP blocks, cross-attention's Q and output projections, the head,
  // causal self-attention over T and cross-attention over S positions.
  const perTarget = 6 * (L * (blockMatmulWeights(model) + 2 * d * d) + head) + 12 * L * (T + S) * d;
  return (S * perSource + T * perTarget) / (S + T);
}

/** Parameters of a config's model, counted from its shapes (model/gpt.ts and model/encdec.ts lay them
 *  out; the quantized precisions add a few scalars of their own, LSQ step sizes, which are not counted).
 *  `embedding` is the token and position tables (lookups, no multiply-adds); `nonEmbedding` the rest,
 *  Kaplan et al.'s N. */
export function parameterCounts(model: ModelConfig): { total: number; embedding: number; nonEmbedding: number } {
  const d = model.dModel;
  const F = model.dFF;
  const L = model.nLayer;
  const learned = model.positionalEncoding === 'learned';
  const norm = 2 * d;
  // ln_1, c_attn (3d² + 3d), c_proj (d² + d), ln_2, c_fc (dF + F), mlp.c_proj (Fd + d).
  const block = 2 * norm + 3 * d * d + 3 * d + d * d + d + d * F + F + F * d + d;
  if (model.architecture !== 'encoder-decoder') {
    const embedding = model.vocabSize * d + (learned ? model.contextLength * d : 0);
    const head = model.architecture === 'encoder' ? headOutputs(model) * (d + 1) : model.vocabSize * d;
    const nonEmbedding = L * block + norm + head;
    return { total: embedding + nonEmbedding, embedding, nonEmbedding };
  }
  const S = model.sourceLength ?? 0;
  const embedding = 2 * model.vocabSize * d + (learned ? (S + model.contextLength) * d : 0);
  // A decoder block adds ln_cross, c_q (d² + d), c_kv (2d² + 2d), cross c_proj (d² + d).
  const crossAttention = norm + 4 * d * d + 4 * d;
  const nonEmbedding = L * block + norm + L * (block + crossAttention) + norm + model.vocabSize * d;
  return { total: embedding + nonEmbedding, embedding, nonEmbedding };
}

export interface PowerLawFit {
  /** b in y = a·x^b. */
  exponent: number;
  /** a in y = a·x^b. */
  coefficient: number;
  /** Coefficient of determination of the straight line in log-log space (1: every point on it). */
  r2: number;
}

/** y = a·x^b by least squares on (ln x, ln y): a straight line on log-log axes, the form scaling laws are
 *  stated in. Throws for fewer than 2 points, a value that is not a positive finite number, or points
 *  that all share one x (no slope to fit). */
export function fitPowerLaw(points: readonly { x: number; y: number }[]): PowerLawFit {
  if (points.length < 2) throw new Error(`a power-law fit needs at least 2 points (got ${points.length})`);
  for (const [i, p] of points.entries()) {
    if (!(Number.isFinite(p.x) && p.x > 0 && Number.isFinite(p.y) && p.y > 0)) {
      throw new Error(`a power-law fit takes positive finite values (point ${i}: x = ${p.x}, y = ${p.y}); a log of 0, a negative or NaN has no line`);
    }
  }
  const lx = points.map((p) => Math.log(p.x));
  const ly = points.map((p) => Math.log(p.y));
  const n = points.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (lx[i] - mx) ** 2;
    sxy += (lx[i] - mx) * (ly[i] - my);
    syy += (ly[i] - my) ** 2;
  }
  if (sxx === 0) throw new Error('a power-law fit needs at least two different x values (every point has the same x)');
  const exponent = sxy / sxx;
  const intercept = my - exponent * mx;
  // Residual sum of squares over the total; all-equal y is fitted exactly by exponent 0.
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ly[i] - intercept - exponent * lx[i]) ** 2;
  return { exponent, coefficient: Math.exp(intercept), r2: syy === 0 ? 1 : 1 - sse / syy };
}

export interface LadderRung {
  /** e.g. "d=32". */
  label: string;
  model: ModelConfig;
  /** All the model's parameters (parameterCounts(model).total). */
  parameters: number;
  /** Without the token and position embeddings: Kaplan et al.'s N, the size axis of a scaling law. */
  nonEmbeddingParameters: number;
  steps: number;
  batchSize: number;
  /** Tokens trained on: steps · batch · tokensPerSequence. */
  tokens: number;
  /** Training FLOPs: trainingFlopsPerToken · tokens. */
  flops: number;
}

export interface LadderOptions {
  /** The model every rung derives from: layers, context, vocabulary, activation, positions and
   *  architecture are kept; d_model, heads and d_ff change. */
  base: ModelConfig;
  /** d_model of each rung (default DEFAULT_LADDER_WIDTHS). */
  widths?: number[];
  /** Optimizer steps of every rung (the same tokens per rung); ignored with tokensPerParameter. */
  steps: number;
  batchSize: number;
  /** Fixed head size: each rung gets d_model / headSize heads. Absent: every rung keeps base.nHead
   *  heads (the head size grows with the width). */
  headSize?: number;
  /** d_ff = ffMultiplier · d_model (default: base.dFF / base.dModel, 4 for every preset). */
  ffMultiplier?: number;
  /** Compute matched to size: each rung trains on about this many tokens per non-embedding parameter
   *  (steps = round(tokensPerParameter · N / tokens per step), at least 1) instead of `steps`. */
  tokensPerParameter?: number;
}

/** Five widths across ≥ 30× in non-embedding parameters for a 2-layer model on a small vocabulary
 *  (16 → 96: ~32× for the tiny preset on names), each divisible by 4 heads and by a head size of 8. */
export const DEFAULT_LADDER_WIDTHS: readonly number[] = [16, 24, 32, 48, 96];

/** The ladder's rungs, smallest first as given. Throws ConfigError (what is wrong, what to give instead)
 *  for a width that is not a positive integer, that the heads do not divide, or a repeated width. */
export function scalingLadder(options: LadderOptions): LadderRung[] {
  const { base, batchSize } = options;
  const widths = options.widths ?? [...DEFAULT_LADDER_WIDTHS];
  if (widths.length === 0) throw new ConfigError('a scaling ladder needs at least one width (e.g. 16,24,32,48,96)');
  const bad = widths.filter((w) => !(Number.isInteger(w) && w > 0));
  if (bad.length) throw new ConfigError(`ladder widths must be positive integers (got ${bad.join(', ')})`);
  const repeated = widths.filter((w, i) => widths.indexOf(w) !== i);
  if (repeated.length) throw new ConfigError(`ladder widths must differ (${repeated.join(', ')} given twice)`);
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new ConfigError(`the ladder's batch size must be a positive integer (got ${batchSize})`);
  const { headSize, tokensPerParameter } = options;
  if (headSize !== undefined) {
    if (!(Number.isInteger(headSize) && headSize > 0)) throw new ConfigError(`head size must be a positive integer (got ${headSize})`);
    const off = widths.filter((w) => w % headSize !== 0);
    if (off.length) throw new ConfigError(`widths ${off.join(', ')} are not multiples of the head size ${headSize}; use widths that are, or another head size (${commonDivisors(widths).join(', ')} divide every width)`);
  } else {
    const off = widths.filter((w) => w % base.nHead !== 0);
    if (off.length) {
      throw new ConfigError(`widths ${off.join(', ')} are not divisible by the ${base.nHead} heads; use widths divisible by ${base.nHead}, another head count (${commonDivisors(widths).join(', ')} divide every width), or a fixed head size`);
    }
  }
  const ffMultiplier = options.ffMultiplier ?? base.dFF / base.dModel;
  if (!(Number.isFinite(ffMultiplier) && ffMultiplier > 0)) throw new ConfigError(`d_ff multiplier must be a positive number (got ${ffMultiplier})`);
  if (tokensPerParameter !== undefined && !(Number.isFinite(tokensPerParameter) && tokensPerParameter > 0)) {
    throw new ConfigError(`tokens per parameter must be a positive number (got ${tokensPerParameter})`);
  }
  if (tokensPerParameter === undefined && !(Number.isInteger(options.steps) && options.steps > 0)) {
    throw new ConfigError(`the ladder's steps must be a positive integer (got ${options.steps})`);
  }
  return widths.map((width) => {
    const model: ModelConfig = {
      ...base,
      dModel: width,
      nHead: headSize !== undefined ? width / headSize : base.nHead,
      dFF: Math.max(1, Math.round(ffMultiplier * width)),
    };
    const counts = parameterCounts(model);
    const tokensPerStep = batchSize * tokensPerSequence(model);
    const steps = tokensPerParameter !== undefined ? Math.max(1, Math.round((tokensPerParameter * counts.nonEmbedding) / tokensPerStep)) : options.steps;
    const tokens = steps * tokensPerStep;
    return {
      label: `d=${width}`,
      model,
      parameters: counts.total,
      nonEmbeddingParameters: counts.nonEmbedding,
      steps,
      batchSize,
      tokens,
      flops: trainingFlopsPerToken(model) * tokens,
    };
  });
}

function commonDivisors(widths: readonly number[]): number[] {
  const out: number[] = [];
  const smallest = Math.min(...widths);
  for (let d = 1; d <= Math.min(smallest, 4096); d++) if (widths.every((w) => w % d === 0)) out.push(d);
  return out.length > 6 ? out.slice(-6) : out;
}

/** A rung's run: the sweep's training config with the rung's steps and batch, and the INT4 Hadamard
 *  block capped at the largest power of two dividing the rung's width (a block wider than d_model is a
 *  config error, and the smallest rungs are narrower than the default block of 32). */
export function ladderRunConfig(rung: LadderRung, train: TrainConfig, dataset: string): RunConfig {
  return {
    model: rung.model,
    train: { ...train, steps: rung.steps, batchSize: rung.batchSize, hadamardBlock: Math.min(train.hadamardBlock, hadamardBlockFor(rung.model.dModel, 1024)) },
    dataset,
  };
}

/**
 * The first rung that cannot run on a GPU with these limits (or whose config is invalid), as a message
 * naming the rung and what does not fit; null when every rung fits. Computed from the configs alone
 * (limits.ts), so a sweep is refused before any rung is trained.
 */
export function ladderLimitError(rungs: readonly LadderRung[], limits: MemoryLimits, train: TrainConfig = DEFAULT_TRAIN, dataset = 'names'): string | null {
  for (const rung of rungs) {
    try {
      checkMemoryLimits(ladderRunConfig(rung, train, dataset), limits);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const m = rung.model;
      return `rung ${rung.label} (d_model ${m.dModel}, ${m.nHead} heads, d_ff ${m.dFF}, ${m.nLayer} layers, ${rung.parameters.toLocaleString('en-US')} parameters): ${e.message}; drop this width or make it smaller`;
    }
  }
  return null;
}
