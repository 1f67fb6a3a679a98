// Adapter and device acquisition with capability detection. Works with any `GPU` object: the browser's
// `navigator.gpu` (tab or Web Worker) or the one the `webgpu` npm package creates in Node.

/** What the adapter offers that the engine can choose kernel paths by. Detected once, shown to the user. */
export interface Capabilities {
  shaderF16: boolean;
  subgroups: boolean;
  /** WGSL language feature `packed_4x8_integer_dot_product` (dot4I8Packed / dot4U8Packed). */
  packed4x8IntegerDotProduct: boolean;
  /** `chromium-experimental-subgroup-matrix`, with the configurations it offers (e.g. i8×i8→i32 16×16×32). */
  subgroupMatrix: boolean;
  subgroupMatrixConfigs: string[];
  /** An i8×i8→i32 16×16×32 subgroup-matrix configuration with subgroups of exactly 32 invocations: what
   *  the tensor-core integer kernel (shaders/intmatmul_sgmat.wgsl) is written for. */
  subgroupMatrixI8: boolean;
  timestampQuery: boolean;
  subgroupMinSize: number | null;
  subgroupMaxSize: number | null;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  adapterInfo: AdapterDescription;
  capabilities: Capabilities;
  /** The limits the device was created with (the adapter's own, so big models fit where the adapter allows). */
  limits: Record<string, number>;
}

/** No WebGPU, or no adapter: says why and what to try. */
export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

const LIMITS_WE_RAISE = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

const OPTIONAL_FEATURES = [
  'shader-f16',
  'subgroups',
  'timestamp-query',
  'chromium-experimental-subgroup-matrix',
] as const;

export async function acquireGpu(gpu: GPU | undefined | null, where = 'this environment'): Promise<GpuContext> {
  if (!gpu) {
    throw new GpuUnavailableError(
      `WebGPU is not available in ${where}. Use a recent Chrome or Edge (113+), Safari 26+, or Firefox 141+ ` +
        `(Windows); on Linux start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan.`,
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    const inNode = typeof process !== 'undefined' && Boolean(process.versions?.node);
    throw new GpuUnavailableError(
      `WebGPU found no GPU adapter in ${where}. ` +
        (inNode
          ? 'On a machine without a GPU, install a Vulkan driver (Mesa\'s lavapipe: see README, "System packages").'
          : 'Check that hardware acceleration is on (chrome://gpu shows WebGPU status) and that the GPU is not blocklisted; on Linux start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan.'),
    );
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_WE_RAISE) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const infoAny = info as unknown as Record<string, unknown>;
  const wgslFeatures = (gpu as unknown as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures;
  const matrixConfigs = (infoAny.subgroupMatrixConfigs as unknown[] | undefined) ?? [];
  const capabilities: Capabilities = {
    shaderF16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    packed4x8IntegerDotProduct: wgslFeatures?.has('packed_4x8_integer_dot_product') ?? false,
    subgroupMatrix: device.features.has('chromium-experimental-subgroup-matrix' as GPUFeatureName),
    subgroupMatrixConfigs: matrixConfigs.map(describeMatrixConfig),
    subgroupMatrixI8:
      device.features.has('chromium-experimental-subgroup-matrix' as GPUFeatureName) &&
      device.features.has('subgroups') &&
      infoAny.subgroupMinSize === 32 &&
      infoAny.subgroupMaxSize === 32 &&
      matrixConfigs.some((c) => {
        const o = c as Record<string, unknown>;
        return o.componentType === 'i8' && o.resultComponentType === 'i32' && o.M === 16 && o.N === 16 && o.K === 32;
      }),
    timestampQuery: device.features.has('timestamp-query'),
    subgroupMinSize: typeof infoAny.subgroupMinSize === 'number' ? infoAny.subgroupMinSize : null,
    subgroupMaxSize: typeof infoAny.subgroupMaxSize === 'number' ? infoAny.subgroupMaxSize : null,
  };
  const limits: Record<string, number> = {};
  for (const key in device.limits) {
    const v = (device.limits as unknown as Record<string, number>)[key];
    if (typeof v === 'number') limits[key] = v;
  }
  return {
    device,
    adapter,
    adapterInfo: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      isFallbackAdapter: Boolean(infoAny.isFallbackAdapter ?? (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    },
    capabilities,
    limits,
  };
}

function describeMatrixConfig(c: unknown): string {
  const o = c as Record<string, unknown>;
  return `${o.componentType}×${o.componentType}→${o.resultComponentType} ${o.M}×${o.N}×${o.K}`;
}

/** One line for logs and the UI: which adapter and which optional paths exist. */
export function describeGpu(ctx: GpuContext): string {
  const a = ctx.adapterInfo;
  const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') || 'unknown adapter';
  const c = ctx.capabilities;
  const feats = [
    c.shaderF16 && 'shader-f16',
    c.subgroups && `subgroups${c.subgroupMinSize ? ` (${c.subgroupMinSize}-${c.subgroupMaxSize})` : ''}`,
    c.packed4x8IntegerDotProduct && 'dot4I8Packed',
    c.subgroupMatrix && `subgroup-matrix [${c.subgroupMatrixConfigs.join(', ')}]`,
    c.timestampQuery && 'timestamp-query',
  ].filter(Boolean);
  return `${name}${a.isFallbackAdapter ? ' (fallback)' : ''}; features: ${feats.join(', ') || 'none'}`;
}
