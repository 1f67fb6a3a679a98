// Every numeric constant of the quantized training schemes, in one place, each with where it comes from.
// Labels follow docs/int4-training-paper.md: [paper] = arXiv 2306.11987 v2, [code] = the official repo
// xijiu9/Train_Transformers_with_INT4 @ a3244e2 (FWD/GW/GI/QZ are the file abbreviations used there).

/**
 * INT4 code range of the LSQ forward: [−Q_N, Q_P] = [−8, 7].
 * The paper (§3.1) writes a symmetric ±7, but the official CUDA forward clamps to [−8, 7]
 * (`FWD` lines 30–33) and the backward masks and δ use the same bounds (`GW`/`GI` LSQ_cuda_kernel),
 * so the reference follows the code. The paper's range is kept below for ablations.
 */
export const Q_N = 8;
export const Q_P = 7;

/** The paper's symmetric INT4 range (§3.1: Q_N = Q_P = 7), not what the released code runs. */
export const PAPER_Q_N = 7;
export const PAPER_Q_P = 7;

/** Added to the LSQ initial step so that an all-zero tensor still gets a positive step (`QZ` lines 604–615). */
export const LSQ_INIT_EPSILON = 1e-10;

/**
 * Bit splitting of ∇Y (spec §3.2, `GW` quantize_cuda_kernel lines 25–47, 352–370), with b = 4:
 * num_bins_half = 2^b − 2 = 14, num_bins = 14² = 196, code clamp = 14/2 − 1 = 6.
 */
export const BITSPLIT_BINS_HALF = 14;
export const BITSPLIT_BINS = BITSPLIT_BINS_HALF * BITSPLIT_BINS_HALF;
export const BITSPLIT_CLAMP = BITSPLIT_BINS_HALF / 2 - 1;
/** scale1 = num_bins / (2·max|G|) = 98 / max|G|: t = G·scale1 spans [−98, 98]. */
export const BITSPLIT_SCALE_NUMERATOR = BITSPLIT_BINS / 2;

/** Largest Hadamard block: `create_H` builds T[2^i] up to 1024 and `group_search` stops there (`QZ` line 84). */
export const HADAMARD_MAX_SIZE = 1024;

/** Symmetric INT8 range ±127 (Banner et al. 2018 style INT8 baseline, paper §5 / Table 1 "INT8"). */
export const INT8_MAX = 127;

/** IEEE 754 binary16: largest finite value (2 − 2^−10)·2^15, smallest subnormal 2^−24. */
export const F16_MAX = 65504;
export const F16_MIN_SUBNORMAL = 2 ** -24;
