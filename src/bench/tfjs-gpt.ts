// The peer: the same GPT written with TensorFlow.js ops on its WebGPU backend (@tensorflow/tfjs-backend-
// webgpu), in Node on Dawn through the `webgpu` package's navigator.gpu, trained with the same batch
// shape. TF.js is a benchmark peer only: nothing in src/engine or src/app imports it.
//
// Same model as src/engine/model/gpt.ts: GPT-2's pre-LayerNorm block (LayerNorm ε from the config,
// biased variance), c_attn producing [q | k | v] with head h at columns h·hs…, causal attention scaled
// by 1/√d_k, GELU in its tanh form, learned positions, untied lm_head without bias, weights in
// nn.Linear's [out, in] layout (so the engine's exported parameters load as they are). The loss is the
// mean cross-entropy over scored targets (targets < 0 are not scored), as the engine's. Training is
// AdamW (decoupled weight decay on matrices and embeddings) with global-norm clipping; the learning rate
// is constant (the schedule costs nothing on either side).
import { createRequire } from 'node:module';
import type * as TfCore from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../engine/config';
import type { NamedTensor } from '../engine/train/trainer';

type Tf = typeof TfCore;
type Tensor = TfCore.Tensor;

export interface TfjsWebgpu {
  tf: Tf;
  /** Adapter info as TF.js's backend sees it. */
  adapter: string;
}

/** Why TF.js could not run here, in one line (set when loadTfjsWebgpu throws). */
export class TfjsUnavailableError extends Error {
  override name = 'TfjsUnavailableError';
}

/** The Dawn instance behind navigator.gpu: kept referenced, as Dawn shuts down under live devices when
 *  its instance is collected (see src/engine/gpu/node.ts). */
let dawn: GPU | null = null;
let loaded: Promise<TfjsWebgpu> | null = null;

/** Installs navigator.gpu from the `webgpu` package (Node has no WebGPU of its own), then loads TF.js
 *  and its WebGPU backend and makes it the active backend. */
export function loadTfjsWebgpu(flags: string[] = []): Promise<TfjsWebgpu> {
  loaded ??= load(flags);
  return loaded;
}

async function load(flags: string[]): Promise<TfjsWebgpu> {
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  dawn ??= webgpu.create(flags);
  const g = globalThis as unknown as { navigator?: { gpu?: GPU } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: dawn, configurable: true });
  // tfjs-core's Node platform calls require('util') when it starts. In the bundled ESM CLI there is no
  // `require`; esbuild's shim looks the name up at call time, so a global one serves it.
  const gr = globalThis as unknown as { require?: NodeRequire };
  gr.require ??= createRequire(import.meta.url);
  const tf: Tf = await import('@tensorflow/tfjs-core');
  // tfjs-core alone has no gradients (the @tensorflow/tfjs union package registers them): register them
  // from tfjs-core's own module. Its registry lives on a global, so it serves the core loaded above.
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  // The backend registers itself on import only if navigator.gpu exists: it must come after the above.
  await import('@tensorflow/tfjs-backend-webgpu');
  const factory = tf.findBackendFactory('webgpu');
  if (!factory) throw new TfjsUnavailableError('@tensorflow/tfjs-backend-webgpu did not register a backend (it found no navigator.gpu)');
  if (!(await tf.setBackend('webgpu'))) {
    // setBackend only logs why it failed: run the factory again to get the error itself.
    let why = 'tf.setBackend("webgpu") returned false';
    try {
      await factory();
    } catch (e) {
      why = (e as Error).message.split('\n')[0];
    }
    throw new TfjsUnavailableError(`the TF.js WebGPU backend did not start on Dawn: ${why}`);
  }
  await tf.ready();
  const backend = tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } };
  const adapter = [backend.adapterInfo?.vendor, backend.adapterInfo?.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  return { tf, adapter };
}

export interface TfjsTrainOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  gradClip: number;
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** A GPT as TF.js variables, with its loss and one AdamW training step. */
export class TfjsGpt {
  readonly vars: Record<string, TfCore.Variable> = {};
  private readonly decayed: string[] = [];
  private readonly mask: Tensor;
  private readonly optimizer: TfCore.AdamOptimizer;

  constructor(
    private readonly tf: Tf,
    readonly config: ModelConfig,
    readonly batchSize: number,
    params: readonly NamedTensor[],
    private readonly train: TfjsTrainOptions,
  ) {
    if (config.positionalEncoding !== 'learned' || config.activation !== 'gelu') {
      throw new Error('the TF.js peer builds the GPT-2 layout only: learned positions and GELU');
    }
    for (const p of params) {
      this.vars[p.name] = tf.variable(tf.tensor(p.data, p.shape, 'float32'), true, p.name);
      // As the engine (model/gpt.ts): decay matrices and embeddings, not biases, gains or step sizes.
      if (p.name.endsWith('.weight') && p.shape.length === 2) this.decayed.push(p.name);
    }
    const T = config.contextLength;
    const m = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
    this.mask = tf.tensor(m, [T, T]);
    this.optimizer = tf.train.adam(train.lr, train.beta1, train.beta2, train.eps);
  }

  /** Parameters for a fresh model in the engine's names and shapes, GPT-2's initialisation. */
  static initialParameters(c: ModelConfig, seed: number): NamedTensor[] {
    const rng = mulberry32(seed);
    const normal = (n: number, std: number) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i += 2) {
        const r = Math.sqrt(-2 * Math.log(1 - rng()));
        const t = 2 * Math.PI * rng();
        out[i] = std * r * Math.cos(t);
        if (i + 1 < n) out[i + 1] = std * r * Math.sin(t);
      }
      return out;
    };
    const out: NamedTensor[] = [];
    const add = (name: string, shape: number[], data: Float32Array) => out.push({ name, shape, data });
    const d = c.dModel;
    const residualStd = 0.02 / Math.sqrt(2 * c.nLayer);
    add('transformer.wte.weight', [c.vocabSize, d], normal(c.vocabSize * d, 0.02));
    add('transformer.wpe.weight', [c.contextLength, d], normal(c.contextLength * d, 0.02));
    const linear = (name: string, outF: number, inF: number, std: number) => {
      add(`${name}.weight`, [outF, inF], normal(outF * inF, std));
      add(`${name}.bias`, [outF], new Float32Array(outF));
    };
    for (let l = 0; l < c.nLayer; l++) {
      const h = `transformer.h.${l}`;
      add(`${h}.ln_1.weight`, [d], new Float32Array(d).fill(1));
      add(`${h}.ln_1.bias`, [d], new Float32Array(d));
      linear(`${h}.attn.c_attn`, 3 * d, d, 0.02);
      linear(`${h}.attn.c_proj`, d, d, residualStd);
      add(`${h}.ln_2.weight`, [d], new Float32Array(d).fill(1));
      add(`${h}.ln_2.bias`, [d], new Float32Array(d));
      linear(`${h}.mlp.c_fc`, c.dFF, d, 0.02);
      linear(`${h}.mlp.c_proj`, d, c.dFF, residualStd);
    }
    add('transformer.ln_f.weight', [d], new Float32Array(d).fill(1));
    add('transformer.ln_f.bias', [d], new Float32Array(d));
    add('lm_head.weight', [c.vocabSize, d], normal(c.vocabSize * d, 0.02));
    return out;
  }

  private layerNorm(x: Tensor, name: string): Tensor {
    const tf = this.tf;
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, this.config.layerNormEps)));
    return tf.add(tf.mul(normed, this.vars[`${name}.weight`]), this.vars[`${name}.bias`]);
  }

  /** x·Wᵀ + b, W in nn.Linear's [out, in] layout (TF.js fuses the bias into its matmul). */
  private linear(x: Tensor, name: string): Tensor {
    const bias = this.vars[`${name}.bias`];
    return this.tf.fused.matMul({ a: x as TfCore.Tensor2D, b: this.vars[`${name}.weight`] as TfCore.Tensor2D, transposeB: true, bias });
  }

  private gelu(x: Tensor): Tensor {
    const tf = this.tf;
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_C);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  }

  private attention(x: Tensor): Tensor {
    const tf = this.tf;
    const { dModel: C, nHead: H, contextLength: T } = this.config;
    const B = this.batchSize;
    const hs = C / H;
    // [B·T, 3C] → [3, B, H, T, hs]
    const qkv = tf.transpose(tf.reshape(x, [B, T, 3, H, hs]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.split(qkv, 3, 0).map((t) => tf.reshape(t, [B, H, T, hs]));
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hs)), this.mask);
    const y = tf.matMul(tf.softmax(scores), v); // [B, H, T, hs]
    return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, C]);
  }

  /** Mean cross-entropy over the scored targets of one batch (inputs, targets: [B·T], row-major). */
  loss(inputs: Tensor, targets: Tensor): TfCore.Scalar {
    const tf = this.tf;
    const { dModel: C, contextLength: T, vocabSize: V } = this.config;
    const B = this.batchSize;
    const tok = tf.reshape(tf.gather(this.vars['transformer.wte.weight'], inputs), [B, T, C]);
    let x = tf.reshape(tf.add(tok, this.vars['transformer.wpe.weight']), [B * T, C]);
    for (let l = 0; l < this.config.nLayer; l++) {
      const h = `transformer.h.${l}`;
      x = tf.add(x, this.linear(this.attention(this.linear(this.layerNorm(x, `${h}.ln_1`), `${h}.attn.c_attn`)), `${h}.attn.c_proj`));
      x = tf.add(x, this.linear(this.gelu(this.linear(this.layerNorm(x, `${h}.ln_2`), `${h}.mlp.c_fc`)), `${h}.mlp.c_proj`));
    }
    const logits = tf.matMul(this.layerNorm(x, 'transformer.ln_f'), this.vars['lm_head.weight'], false, true);
    // tf.oneHot gives an all-zero row for a target of −1: unscored positions add nothing.
    const scored = tf.cast(tf.greaterEqual(targets, 0), 'float32');
    const picked = tf.sum(tf.mul(tf.oneHot(targets, V), tf.logSoftmax(logits)), -1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, scored))), tf.maximum(tf.sum(scored), 1)) as TfCore.Scalar;
  }

  private batchTensors(inputs: Int32Array, targets: Int32Array): [Tensor, Tensor] {
    return [this.tf.tensor1d(inputs, 'int32'), this.tf.tensor1d(targets, 'int32')];
  }

  /** Loss of a batch without training (the check against the engine). */
  async evaluate(inputs: Int32Array, targets: Int32Array): Promise<number> {
    const loss = this.tf.tidy(() => this.loss(...this.batchTensors(inputs, targets)));
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  }

  /** Records one AdamW step; returns the loss as a tensor (not read back, so steps queue up on the GPU). */
  step(inputs: Int32Array, targets: Int32Array): TfCore.Scalar {
    const tf = this.tf;
    const t = this.train;
    return tf.tidy(() => {
      const [x, y] = this.batchTensors(inputs, targets);
      const { value, grads } = tf.variableGrads(() => this.loss(x, y), Object.values(this.vars));
      // A running sum, not tf.addN: TF.js's AddN binds one storage buffer per input, and WebGPU's default
      // limit is 8 per shader stage (the backend does not raise it), so addN over every gradient fails.
      const norm = tf.sqrt(Object.values(grads).map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b)));
      const clip = t.gradClip > 0 ? tf.minimum(1, tf.div(t.gradClip, tf.add(norm, 1e-6))) : tf.scalar(1);
      for (const name of this.decayed) this.vars[name].assign(tf.mul(this.vars[name], 1 - t.lr * t.weightDecay));
      this.optimizer.applyGradients(Object.entries(grads).map(([name, g]) => ({ name, tensor: tf.mul(g, clip) })));
      // Every activation and gradient of the step is still alive here, before tidy frees them.
      this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes());
      return value;
    });
  }

  /** Counts WebGPU errors on TF.js's device (a failed pipeline makes whole command buffers no-ops, which
   *  would make the peer look fast): the caller checks `gpuErrors` after the run. */
  watchErrors(): void {
    const device = (this.tf.backend() as unknown as { device?: GPUDevice }).device;
    device?.addEventListener('uncapturederror', (e) => {
      this.gpuErrors.push((e as GPUUncapturedErrorEvent).error?.message?.split('\n')[0] ?? 'unknown error');
    });
  }
  readonly gpuErrors: string[] = [];

  /** Largest GPU bytes held by live tensors, seen at the end of a step (weights, optimizer state,
   *  activations and gradients). TF.js's pool of freed buffers, shared by every model of the process,
   *  is not counted: it would charge one model for another's buffers. */
  peakLiveBytes = 0;

  private liveBytes(): number {
    const m = this.tf.memory() as unknown as { numBytesInGPU?: number; numBytes: number };
    return m.numBytesInGPU ?? m.numBytes;
  }

  dispose(): void {
    for (const v of Object.values(this.vars)) v.dispose();
    this.mask.dispose();
    this.optimizer.dispose();
  }
}

/** A small seeded generator for the peer's own initialisation (when no engine parameters are given). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
