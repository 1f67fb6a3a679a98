// The per-layer Hadamard block-size search of the official code ("dynamic", `QZ` lines 486–548; spec §2,
// paper A.5), on the GPU and on the first batch only: for every block g = 2^k dividing the reduction
// dimension D (up to 1024), quantize X·H_g and W·H_g with LSQ codes at their initial steps and score
// ‖Q(XH_g)H_g − X‖·‖Q(WH_g)H_g − W‖; the smallest score wins and is kept for the whole run. H_g is
// orthonormal, so ‖Q(XH)H − X‖ = ‖Q(XH) − XH‖ and ‖XH‖ = ‖X‖: the relative errors in the transformed
// domain have the same argmin, and no inverse transform is needed. The chosen block is written as an
// f32 into a [1] tensor that the dynamic Hadamard dispatches read, so the dispatch list never depends
// on the outcome and nothing is read back. Reference: reference/quant/hadamard.ts searchHadamardBlockSize.
import { type Dispatch, type Kernels } from '../gpu/kernels';
import { HADAMARD_MAX_SIZE } from '../reference/quant/constants';
import type { Tensor } from '../tensor';
import { type CodeFormat, dequantize, hadamardTransform, hadamardUniforms, lsqInitStep, lsqQuantize } from './quant';
import { relativeError, relativeErrorPartials } from './stats';

/** The candidate blocks for a reduction dimension d: 1, 2, 4, … while they divide d, up to 1024. */
export function hadamardBlockCandidates(d: number): number[] {
  const out: number[] = [];
  for (let g = 1; g <= HADAMARD_MAX_SIZE && d % g === 0; g *= 2) out.push(g);
  return out;
}

export interface HadamardBlockSearchSpec {
  label: string;
  /** [rows, cols] X and [outRows, cols] W (untransformed). */
  x: Tensor;
  w: Tensor;
  rows: number;
  outRows: number;
  cols: number;
  format: CodeFormat;
  qn: number;
  qp: number;
  /** Scratch, overwritten: transformed values, v = x/s, packed codes and dequantized values, each big
   *  enough for the larger of X and W (a layer's forward buffers can serve: they are rewritten after). */
  transformed: { x: Tensor; w: Tensor };
  v: { x: Tensor; w: Tensor };
  codes: { x: Tensor; w: Tensor };
  dequantized: { x: Tensor; w: Tensor };
  /** [1] f32 scratch for the trial step size. */
  step: Tensor;
  /** f32 scratch: at least hadamardSearchScratch(rows, outRows, cols).partials values. */
  partials: Tensor;
  /** f32 scratch: 2 × candidates values (the relative errors of X, then of W). */
  errors: Tensor;
  /** [1] f32 out: the chosen block. Must not share a buffer with the inputs of the last dispatch (errors). */
  block: Tensor;
}

export function hadamardSearchScratch(rows: number, outRows: number, cols: number): { partials: number; errors: number } {
  return { partials: relativeErrorPartials(Math.max(rows, outRows) * cols), errors: 2 * hadamardBlockCandidates(cols).length };
}

export function hadamardBlockSearch(k: Kernels, s: HadamardBlockSearchSpec): Dispatch[] {
  const candidates = hadamardBlockCandidates(s.cols);
  const ds: Dispatch[] = [];
  const tensors = [
    { which: 'x' as const, source: s.x, rows: s.rows, errorAt: 0 },
    { which: 'w' as const, source: s.w, rows: s.outRows, errorAt: candidates.length },
  ];
  candidates.forEach((g, i) => {
    for (const t of tensors) {
      const label = `${s.label}.${t.which}.block_${g}`;
      const n = t.rows * s.cols;
      const xh = s.transformed[t.which];
      ds.push(
        hadamardTransform(k, `${label}.hadamard`, t.source, xh, t.rows, s.cols, g),
        lsqInitStep(k, `${label}.init_step`, xh, s.step, n, s.qp),
        lsqQuantize(k, { label: `${label}.quantize`, x: xh, step: s.step, v: s.v[t.which], codes: s.codes[t.which], rows: t.rows, K: s.cols, format: s.format, qn: s.qn, qp: s.qp }),
        dequantize(k, { label: `${label}.dequantize`, codes: s.codes[t.which], step: s.step, out: s.dequantized[t.which], rows: t.rows, K: s.cols, format: s.format }),
        ...relativeError(k, { label: `${label}.error`, a: xh, b: s.dequantized[t.which], n, partials: s.partials, out: s.errors, outOffset: t.errorAt + i }),
      );
    }
  });
  ds.push(k.dispatch({
    shader: 'hadamard',
    entry: 'select_block',
    label: `${s.label}.select`,
    uniforms: hadamardUniforms(candidates.length, 0, 0),
    bindings: [s.errors, s.block],
    workgroups: [1, 1, 1],
  }));
  return ds;
}
