// Float64 reference versions of the quantized training schemes of "Training Transformers with 4-bit
// Integers" (Xi et al. 2023) and the baselines, the oracle for the GPU kernels in src/engine/linear.
// Spec: docs/int4-training-paper.md.

export * from './constants';
export { roundHalfAwayFromZero } from './rounding';
export { hadamardMatrix, blockHadamard, hqReconstruct, searchHadamardBlockSize } from './hadamard';
export { lsqInitStep, lsqQuantize, lsqFakeQuantize, lsqGradScale, lsqBackward } from './lsq';
export { bitSplit, bitSplitDequantize, stackedSplitRows } from './bitsplit';
export type { BitSplit } from './bitsplit';
export { rowNorms, lssProbabilities, sampledWeightGrad, sampledActGrad, lssWeightGrad, lssActGrad } from './lss';
export type { LssVariant, LssResult } from './lss';
export { minmaxQuantize, luqQuantize } from './baselines';
export { int8Quantize, int8Dequantize, stochasticInt8 } from './int8';
export { packCodeRows } from './packing';
export { float64ToF16Bits, f16BitsToFloat64, roundToF16, roundArrayToF16 } from './fp16';
