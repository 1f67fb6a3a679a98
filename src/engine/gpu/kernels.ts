// Shader modules and compute pipelines, each created once and cached; and `Dispatch`, one recorded
// kernel launch with its uniforms and bind group fixed at build time, so a training step only replays
// a list of dispatches into one command encoder.
import absmaxWgsl from '../../shaders/absmax.wgsl?raw';
import attentionWgsl from '../../shaders/attention.wgsl?raw';
import baselinesWgsl from '../../shaders/baselines.wgsl?raw';
import bitsplitWgsl from '../../shaders/bitsplit.wgsl?raw';
import colsumWgsl from '../../shaders/colsum.wgsl?raw';
import crossAttentionWgsl from '../../shaders/cross_attention.wgsl?raw';
import elementwiseWgsl from '../../shaders/elementwise.wgsl?raw';
import embeddingWgsl from '../../shaders/embedding.wgsl?raw';
import gradcodesWgsl from '../../shaders/gradcodes.wgsl?raw';
import hadamardWgsl from '../../shaders/hadamard.wgsl?raw';
import int8Wgsl from '../../shaders/int8.wgsl?raw';
import int8LanesWgsl from '../../shaders/int8_lanes.wgsl?raw';
import intmatmulWgsl from '../../shaders/intmatmul.wgsl?raw';
import layernormWgsl from '../../shaders/layernorm.wgsl?raw';
import lsqWgsl from '../../shaders/lsq.wgsl?raw';
import lssWgsl from '../../shaders/lss.wgsl?raw';
import lossWgsl from '../../shaders/loss.wgsl?raw';
import matmulWgsl from '../../shaders/matmul.wgsl?raw';
import optimizerWgsl from '../../shaders/optimizer.wgsl?raw';
import quantizeWgsl from '../../shaders/quantize.wgsl?raw';
import randomWgsl from '../../shaders/random.wgsl?raw';
import reduceWgsl from '../../shaders/reduce.wgsl?raw';
import roundingWgsl from '../../shaders/rounding.wgsl?raw';
import softmaxWgsl from '../../shaders/softmax.wgsl?raw';
import statsWgsl from '../../shaders/stats.wgsl?raw';
import distillWgsl from '../../shaders/distill.wgsl?raw';
import qatWgsl from '../../shaders/qat.wgsl?raw';
import sparse24Wgsl from '../../shaders/sparse24.wgsl?raw';
import sparsityWgsl from '../../shaders/sparsity.wgsl?raw';
import { subgroupMatrixIntMatmulWgsl } from '../ops/intmatmul-sgmat';
import { Tensor } from '../tensor';
import type { Capabilities } from './device';
import type { GpuMemory } from './memory';

// WGSL has no includes: shaders that reduce over a workgroup get reduce.wgsl prepended, the quantizers
// rounding.wgsl, those that pack or read INT8 code lanes int8_lanes.wgsl.
export const SHADERS = {
  // The first pass of a per-tensor max|x| (the bit split's, INT8's per-tensor absmax).
  absmax: reduceWgsl + absmaxWgsl,
  attention: reduceWgsl + softmaxWgsl + attentionWgsl,
  // The baselines' quantizers (min-max, LUQ) and the symmetric b-bit ablation quantizer; own u32-key reductions.
  baselines: randomWgsl + roundingWgsl + baselinesWgsl,
  // The INT4 backward (LSS-MM, spec §3): bit split of ∇Y, leverage-score sampling, LSQ backward.
  bitsplit: randomWgsl + reduceWgsl + roundingWgsl + int8LanesWgsl + bitsplitWgsl,
  colsum: colsumWgsl,
  // Cross-attention of the encoder-decoder (ops/cross-attention.ts): rectangular layouts and softmax.
  cross_attention: reduceWgsl + softmaxWgsl + crossAttentionWgsl,
  elementwise: elementwiseWgsl,
  embedding: embeddingWgsl,
  // The INT4 backward's integer operands: bit-split codes and transposed forward codes as int8 lanes.
  gradcodes: roundingWgsl + int8LanesWgsl + gradcodesWgsl,
  // The block Hadamard transform; its fused entries also LSQ-quantize and pack the result.
  hadamard: roundingWgsl + hadamardWgsl,
  // The INT8 scheme's quantizers (absmax scales, nearest and stochastic codes, transposed packing).
  int8: randomWgsl + reduceWgsl + roundingWgsl + int8LanesWgsl + int8Wgsl,
  // INT4/INT8 code products: the dot4I8Packed path needs the WGSL language feature
  // packed_4x8_integer_dot_product; the plain module replaces its one call, so it compiles without it.
  intmatmul: intmatmulWgsl,
  intmatmul_plain: intmatmulWgsl.replace('return dot4I8Packed(a, b);', 'return dot4I8Plain(a, b);'),
  // The same products on subgroup matrices (tensor cores): needs chromium-experimental-subgroup-matrix;
  // generated (unrolled) per code format.
  intmatmul_sgmat_int8: subgroupMatrixIntMatmulWgsl({ int8Codes: true, prefetch: true }),
  intmatmul_sgmat_int4: subgroupMatrixIntMatmulWgsl({ int8Codes: false, prefetch: true }),
  layernorm: reduceWgsl + layernormWgsl,
  lsq: reduceWgsl + roundingWgsl + lsqWgsl,
  lss: randomWgsl + reduceWgsl + int8LanesWgsl + lssWgsl,
  loss: reduceWgsl + lossWgsl,
  matmul: matmulWgsl,
  // The FP16 scheme's native path: the same kernels with operand tiles held as f16 in workgroup memory.
  matmul_f16: 'enable f16;\n' + matmulWgsl.replace('alias operand_t = f32;', 'alias operand_t = f16;'),
  optimizer: reduceWgsl + optimizerWgsl,
  quantize: reduceWgsl + roundingWgsl + quantizeWgsl,
  // Measurements for the paper's figures (ops/stats.ts): row-norm histograms, column maxima, errors.
  stats: reduceWgsl + int8LanesWgsl + statsWgsl,
  // 2:4 structured sparsity (src/engine/sparsity): masks, compressed storage and its product; Sparse-QAT's
  // calibration and straight-through estimator; distillation from a dense teacher.
  sparsity: sparsityWgsl,
  sparse24: sparse24Wgsl,
  qat: qatWgsl,
  distill: reduceWgsl + distillWgsl,
} as const;
export type ShaderName = keyof typeof SHADERS;

/** A module generated at run time (a kernel specialised for a tile shape, a head size, …): `name` must
 *  say everything the code depends on, since modules are cached by it. */
export interface GeneratedShader {
  name: string;
  code: string;
}

function shaderKey(shader: ShaderName | GeneratedShader): string {
  return typeof shader === 'string' ? shader : `generated:${shader.name}`;
}

export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
}

/** A uniform value: integers are written as u32, `f32(x)` as f32, in the order of the WGSL struct. */
export type UniformValue = number | { f32: number };
export const f32 = (x: number): UniformValue => ({ f32: x });

export function packUniforms(values: readonly UniformValue[]): ArrayBuffer {
  const data = new ArrayBuffer(Math.max(16, Math.ceil((values.length * 4) / 16) * 16));
  const view = new DataView(data);
  values.forEach((v, i) => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uniform ${i} is not a u32: ${v}`);
      view.setUint32(i * 4, v, true);
    } else {
      view.setFloat32(i * 4, v.f32, true);
    }
  });
  return data;
}

export type Bindable = Tensor | GPUBuffer | GPUBufferBinding;

export interface DispatchSpec {
  shader: ShaderName | GeneratedShader;
  entry: string;
  label: string;
  /** WGSL `override` constants (e.g. TRANS_A). */
  constants?: Record<string, number | boolean>;
  /** Binding 0: either values (a uniform buffer is created for this dispatch) or a shared buffer
   *  that the step loop rewrites (the per-step optimizer state). */
  uniforms?: readonly UniformValue[] | GPUBuffer;
  /** Bindings 1, 2, …: exactly those the entry point uses; null for a binding number it leaves out. */
  bindings: readonly (Bindable | null)[];
  workgroups: readonly [number, number, number];
}

export class Kernels {
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();

  constructor(
    readonly device: GPUDevice,
    readonly memory: GpuMemory,
    /** Which optional paths the device offers (native f16, dot4I8Packed, …); none assumed if omitted. */
    readonly capabilities: Partial<Capabilities> = {},
  ) {}

  pipeline(shader: ShaderName | GeneratedShader, entry: string, constants: Record<string, number | boolean> = {}): GPUComputePipeline {
    const name = shaderKey(shader);
    const key = `${name}:${entry}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      let module = this.modules.get(name);
      if (!module) {
        const code = typeof shader === 'string' ? SHADERS[shader] : shader.code;
        module = this.device.createShaderModule({ code, label: name });
        this.modules.set(name, module);
      } else if (typeof shader !== 'string' && this.generatedCode.get(name) !== shader.code) {
        throw new Error(`generated shader ${shader.name}: two different codes under one name (the name must say everything the code depends on)`);
      }
      if (typeof shader !== 'string') this.generatedCode.set(name, shader.code);
      const c: Record<string, number> = {};
      for (const [k, v] of Object.entries(constants)) c[k] = typeof v === 'boolean' ? Number(v) : v;
      p = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: entry, constants: c },
        label: key,
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private generatedCode = new Map<string, string>();

  /** The pipeline's bind group layout, fetched once. */
  private layout(pipeline: GPUComputePipeline): GPUBindGroupLayout {
    let l = this.layouts.get(pipeline);
    if (!l) {
      l = pipeline.getBindGroupLayout(0);
      this.layouts.set(pipeline, l);
    }
    return l;
  }
  private layouts = new Map<GPUComputePipeline, GPUBindGroupLayout>();

  /** A small shared buffer bound where a kernel declares a binding that this use does not read
   *  (no bias, sinusoidal positions, …). */
  get placeholder(): GPUBuffer {
    this._placeholder ??= this.memory.buffer(16, GPUBufferUsage.STORAGE, 'placeholder');
    return this._placeholder;
  }
  private _placeholder: GPUBuffer | undefined;

  dispatch(spec: DispatchSpec): Dispatch {
    const pipeline = this.pipeline(spec.shader, spec.entry, spec.constants);
    const entries: GPUBindGroupEntry[] = [];
    if (spec.uniforms) {
      let buffer: GPUBuffer;
      if (Array.isArray(spec.uniforms)) {
        const data = packUniforms(spec.uniforms);
        buffer = this.memory.buffer(data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `${spec.label}.uniforms`);
        this.device.queue.writeBuffer(buffer, 0, data);
      } else {
        buffer = spec.uniforms as GPUBuffer;
      }
      entries.push({ binding: 0, resource: { buffer } });
    }
    spec.bindings.forEach((b, i) => {
      if (b) entries.push({ binding: i + 1, resource: toBinding(b) });
    });
    const bindGroup = this.device.createBindGroup({ layout: this.layout(pipeline), entries, label: spec.label });
    return { label: spec.label, pipeline, bindGroup, workgroups: spec.workgroups };
  }
}

function toBinding(b: Bindable): GPUBufferBinding {
  if (b instanceof Tensor) return b.binding();
  if ('buffer' in b && !('mapState' in b)) return b as GPUBufferBinding;
  return { buffer: b as GPUBuffer };
}

/** Workgroups for `n` elements at `perGroup` each, spread over y past the 65,535 limit on x.
 *  Kernels rebuild the index as gid.x + gid.y · num_workgroups.x · perGroup. */
export function grid1d(n: number, perGroup = 256): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / perGroup));
  if (groups <= 65535) return [groups, 1, 1];
  return [65535, Math.ceil(groups / 65535), 1];
}

/** One workgroup per row; kernels rebuild the row as wg.x + wg.y · 65535. */
export function gridRows(rows: number): [number, number, number] {
  return rows <= 65535 ? [Math.max(1, rows), 1, 1] : [65535, Math.ceil(rows / 65535), 1];
}

/** Replays dispatches into an open compute pass. */
export function recordDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
}
