// What the engine measures about each linear layer every `measureEvery` steps, as the paper's figures
// show it (docs/int4-training-paper.md): the row norms of ∇Y (Fig. 2: a few tokens carry most of the
// gradient, which is why leverage-score sampling works), the per-channel max |X| before and after the
// Hadamard transform (Fig. 1: outlier channels, and how HQ spreads them), the relative quantization
// errors, the learned LSQ step sizes and the fraction of rows LSS kept.
//
// The numbers are computed on the GPU right after each layer's backward (∇Y lives in scratch shared by
// the blocks) into one buffer, copied out once and mapped asynchronously: a snapshot never stalls the
// step loop. Fields a scheme does not have (an FP32 layer has no step sizes) are null.

/** Log-spaced histogram of the per-row norms ‖(∇Y)_i‖ of one layer (the paper's Fig. 2a). */
export interface GradientRowHistogram {
  /** log10 of the lower edge of bin 0 and of the upper edge of the last bin; bins are equal in log10. */
  logMin: number;
  logMax: number;
  /** Rows per bin; rows below the range count in bin 0, above it in the last bin. */
  counts: number[];
  /** Rows that are exactly zero (in no bin). */
  zeroRows: number;
  /** Share of Σ‖row‖² carried by the top 1% and the top 10% of rows (Fig. 2b). */
  top1Share: number;
  top10Share: number;
  /** ‖∇Y‖_F², unscaled (dynamic loss scaling divided out). */
  totalSquared: number;
}

/** max, median and max/median of the per-channel max |X| (Fig. 1): how much the largest channel stands out. */
export interface OutlierSummary {
  max: number;
  median: number;
  ratio: number;
}

export interface LinearLayerStats {
  /** Parameter prefix, e.g. `transformer.h.0.attn.c_attn`. */
  name: string;
  rows: number;
  inFeatures: number;
  outFeatures: number;
  gradRows: GradientRowHistogram;
  /** Per input channel d < inFeatures: max over rows of |X[:, d]| … */
  channelMaxX: Float32Array;
  /** … and of |(X·H)[:, d]|, H the block Hadamard transform of `hadamardBlock` (for schemes without
   *  HQ, the transform HQ would apply, so the effect can be seen in every precision). */
  channelMaxXH: Float32Array;
  outliersX: OutlierSummary;
  outliersXH: OutlierSummary;
  /** The Hadamard block of this layer (searched on the first batch, or fixed by config). */
  hadamardBlock: number;
  /** ‖Q(XH) − XH‖/‖XH‖ (or ‖Q(X) − X‖/‖X‖ without the transform): forward quantization error of X. */
  errorX: number | null;
  /** The same for W. */
  errorW: number | null;
  /** ‖∇Y − Q(∇Y)‖/‖∇Y‖ for the backward quantizer (bit split, LUQ, min-max). */
  errorGrad: number | null;
  /** Learned LSQ step sizes s_X, s_W (|s|). */
  stepX: number | null;
  stepW: number | null;
  /** Fraction of the 2N stacked bit-split rows leverage-score sampling kept, for ∇W and for ∇X. */
  keptW: number | null;
  keptX: number | null;
}

export interface MeasurementSnapshot {
  /** Steps done when the snapshot was taken (the stats are of that step's batch). */
  step: number;
  layers: LinearLayerStats[];
}

/** Fixed histogram range of ∇Y row norms for every run (log10), so snapshots and runs compare. */
export const GRAD_HISTOGRAM = { bins: 32, logMin: -12, logMax: 4 } as const;

/** A snapshot as plain JSON (snake_case, arrays instead of typed arrays), as the CLI's `--metrics`
 *  writes it: one record `{ "type": "layers", "step": …, "layers": [...] }`. */
export function snapshotRecord(s: MeasurementSnapshot): object {
  return {
    type: 'layers',
    step: s.step,
    layers: s.layers.map((l) => ({
      name: l.name,
      rows: l.rows,
      in_features: l.inFeatures,
      out_features: l.outFeatures,
      grad_rows: {
        log10_min: l.gradRows.logMin,
        log10_max: l.gradRows.logMax,
        counts: l.gradRows.counts,
        zero_rows: l.gradRows.zeroRows,
        top1_share: l.gradRows.top1Share,
        top10_share: l.gradRows.top10Share,
        total_squared: l.gradRows.totalSquared,
      },
      channel_max_x: Array.from(l.channelMaxX),
      channel_max_xh: Array.from(l.channelMaxXH),
      outliers_x: l.outliersX,
      outliers_xh: l.outliersXH,
      hadamard_block: l.hadamardBlock,
      error_x: l.errorX,
      error_w: l.errorW,
      error_grad: l.errorGrad,
      step_x: l.stepX,
      step_w: l.stepW,
      kept_w: l.keptW,
      kept_x: l.keptX,
    })),
  };
}
