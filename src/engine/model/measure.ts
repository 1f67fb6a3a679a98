// The per-layer measurements of train/measurements.ts as dispatches, and their decoding.
//
// Every linear layer gets one record (ops/stats.ts linearStatsLayout) in ONE f32 buffer. A layer's dispatches run right after that layer's
// backward: ∇Y sits in gradient scratch the blocks share, so later it holds another layer's gradient.
// X, X·H and the quantized tensors are per layer and still hold this step's values then.
import { hadamardBlockFor } from '../config';
import type { Dispatch, Kernels } from '../gpu/kernels';
import type { LinearLayer, LinearLayerSpec } from '../linear/scheme';
import { hadamardTransform } from '../ops/quant';
import {
  columnAbsMax,
  copyScaled,
  linearStatsLayout,
  type LinearStatsLayout,
  outlierSummary,
  relativeError,
  relativeErrorPartials,
  rowNormHistogram,
} from '../ops/stats';
import type { Tensor } from '../tensor';
import { GRAD_HISTOGRAM, type LinearLayerStats, type MeasurementSnapshot, type OutlierSummary } from '../train/measurements';

interface MeasuredLayer {
  spec: LinearLayerSpec;
  layout: LinearStatsLayout;
  /** Offset of the layer's record in the buffer. */
  base: number;
  /** Which optional fields the scheme provides (the others decode as null). */
  has: { errorX: boolean; errorW: boolean; errorGrad: boolean; steps: boolean; kept: boolean };
  /** The Hadamard block when fixed at build time; null when the GPU chose it (read from the record). */
  block: number | null;
}

/**
 * Builds the measurement dispatches of a model's linear layers into one buffer. Usage: `add` each
 * layer as the model builds it (the result goes right after that layer's backward in the measured
 * backward list), then `decode` a copy of `buffer`.
 */
export class LayerMeasurements {
  readonly buffer: Tensor;
  private readonly layers: MeasuredLayer[] = [];
  private readonly norms: Tensor;
  private readonly partials: Tensor;
  private readonly xhScratch: Tensor;

  constructor(
    private readonly k: Kernels,
    specs: readonly Pick<LinearLayerSpec, 'name' | 'rows' | 'inFeatures' | 'outFeatures'>[],
    /** The block HQ would use, for layers whose scheme does not transform X itself. */
    private readonly displayBlock: number,
    /** [1]: the loss scale ∇Y carries (dynamic loss scaling), or null; row norms are divided by it. */
    private readonly lossScale: Tensor | null,
  ) {
    let at = 0;
    const sizes = specs.map((s) => linearStatsLayout(GRAD_HISTOGRAM.bins, s.inFeatures).size);
    for (const size of sizes) at += size;
    this.buffer = k.memory.tensor([at], 'measurements');
    const maxRows = Math.max(1, ...specs.map((s) => s.rows));
    const maxElements = Math.max(1, ...specs.map((s) => Math.max(s.rows, s.outFeatures) * Math.max(s.inFeatures, s.outFeatures)));
    this.norms = k.memory.tensor([maxRows], 'measurements.row_norms');
    this.partials = k.memory.tensor([relativeErrorPartials(maxElements)], 'measurements.partials');
    this.xhScratch = k.memory.tensor([Math.max(1, ...specs.map((s) => s.rows * s.inFeatures))], 'measurements.xh');
  }

  /** Values in the buffer. */
  get size(): number {
    return this.buffer.size;
  }

  /** The dispatches that measure one layer; they must run right after the layer's backward. */
  add(spec: LinearLayerSpec, layer: LinearLayer): Dispatch[] {
    const k = this.k;
    const { rows: N, inFeatures: D, outFeatures: C, name } = spec;
    const layout = linearStatsLayout(GRAD_HISTOGRAM.bins, D);
    const out = this.buffer;
    const last = this.layers[this.layers.length - 1];
    const base = last ? last.base + last.layout.size : 0;
    if (base + layout.size > out.size) throw new RangeError(`${name}: more layers measured than the buffer was sized for`);
    const at = (field: keyof LinearStatsLayout) => base + layout[field];
    const o = layer.observe ?? {};
    const ds: Dispatch[] = [...(o.recompute ?? [])];
    ds.push(...rowNormHistogram(k, {
      label: `${name}.stats.grad_rows`, dy: spec.dy, rows: N, cols: C, ...GRAD_HISTOGRAM, norms: this.norms,
      unscale: this.lossScale ?? undefined, out, outOffset: at('gradHistogram'),
    }));
    // X·H: the scheme's own, or the transform HQ would apply (so every precision shows Fig. 1).
    let xh: Tensor;
    let block: number | Tensor;
    if (o.xh) {
      xh = o.xh.tensor;
      block = o.xh.block;
    } else {
      block = hadamardBlockFor(D, this.displayBlock);
      xh = this.xhScratch;
      ds.push(hadamardTransform(k, `${name}.stats.hadamard`, spec.x, this.xhScratch, N, D, block));
    }
    ds.push(
      ...columnAbsMax(k, { label: `${name}.stats.col_max_x`, x: spec.x, rows: N, cols: D, out, outOffset: at('colMaxX') }),
      ...columnAbsMax(k, { label: `${name}.stats.col_max_xh`, x: xh, rows: N, cols: D, out, outOffset: at('colMaxXH') }),
      outlierSummary(k, { label: `${name}.stats.outliers_x`, values: out, valuesOffset: at('colMaxX'), count: D, out, outOffset: at('outliersX') }),
      outlierSummary(k, { label: `${name}.stats.outliers_xh`, values: out, valuesOffset: at('colMaxXH'), count: D, out, outOffset: at('outliersXH') }),
    );
    if (typeof block !== 'number') ds.push(copyScaled(k, { label: `${name}.stats.block`, src: block, count: 1, out, outOffset: at('hadamardBlock') }));
    const error = (what: string, a: Tensor, b: Tensor | NonNullable<typeof o.gradQuantized>, n: number, field: keyof LinearStatsLayout) =>
      ds.push(...relativeError(k, { label: `${name}.stats.${what}`, a, b, n, partials: this.partials, out, outOffset: at(field) }));
    if (o.errorX) error('error_x', o.errorX.exact, o.errorX.quantized, N * D, 'errorXH');
    if (o.errorW) error('error_w', o.errorW.exact, o.errorW.quantized, C * D, 'errorWH');
    if (o.gradQuantized) error('error_grad', spec.dy, o.gradQuantized, N * C, 'errorDY');
    if (o.stepX && o.stepW) {
      ds.push(
        copyScaled(k, { label: `${name}.stats.step_x`, src: o.stepX, count: 1, out, outOffset: at('stepX') }),
        copyScaled(k, { label: `${name}.stats.step_w`, src: o.stepW, count: 1, out, outOffset: at('stepW') }),
      );
    }
    if (o.keptW && o.keptX) {
      ds.push(
        copyScaled(k, { label: `${name}.stats.kept_w`, src: o.keptW, count: 1, scale: 1 / (2 * N), out, outOffset: at('keptW') }),
        copyScaled(k, { label: `${name}.stats.kept_x`, src: o.keptX, count: 1, scale: 1 / (2 * N), out, outOffset: at('keptX') }),
      );
    }
    this.layers.push({
      spec,
      layout,
      base,
      has: { errorX: !!o.errorX, errorW: !!o.errorW, errorGrad: !!o.gradQuantized, steps: !!(o.stepX && o.stepW), kept: !!(o.keptW && o.keptX) },
      block: typeof block === 'number' ? block : null,
    });
    return ds;
  }

  /** The snapshot in a copy of the buffer. */
  decode(data: Float32Array, step: number): MeasurementSnapshot {
    const layers = this.layers.map((m): LinearLayerStats => {
      const { spec, layout: L, base } = m;
      const v = (field: keyof LinearStatsLayout, offset = 0) => data[base + L[field] + offset];
      const bins = GRAD_HISTOGRAM.bins;
      const h = base + L.gradHistogram;
      const summary = (field: 'outliersX' | 'outliersXH'): OutlierSummary => ({ max: v(field), median: v(field, 1), ratio: v(field, 2) });
      return {
        name: spec.name,
        rows: spec.rows,
        inFeatures: spec.inFeatures,
        outFeatures: spec.outFeatures,
        gradRows: {
          logMin: GRAD_HISTOGRAM.logMin,
          logMax: GRAD_HISTOGRAM.logMax,
          counts: Array.from(data.subarray(h, h + bins)),
          zeroRows: data[h + bins],
          top1Share: data[h + bins + 1],
          top10Share: data[h + bins + 2],
          // Of the unscaled ∇Y: the norms were divided by the loss scale before they were summed.
          totalSquared: data[h + bins + 3],
        },
        channelMaxX: data.slice(base + L.colMaxX, base + L.colMaxX + spec.inFeatures),
        channelMaxXH: data.slice(base + L.colMaxXH, base + L.colMaxXH + spec.inFeatures),
        outliersX: summary('outliersX'),
        outliersXH: summary('outliersXH'),
        hadamardBlock: m.block ?? v('hadamardBlock'),
        errorX: m.has.errorX ? v('errorXH') : null,
        errorW: m.has.errorW ? v('errorWH') : null,
        errorGrad: m.has.errorGrad ? v('errorDY') : null,
        stepX: m.has.steps ? Math.abs(v('stepX')) : null,
        stepW: m.has.steps ? Math.abs(v('stepW')) : null,
        keptW: m.has.kept ? v('keptW') : null,
        keptX: m.has.kept ? v('keptX') : null,
      };
    });
    return { step, layers };
  }
}
