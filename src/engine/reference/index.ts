// Plain float64 TypeScript versions of every op of the decoder-only GPT, forward and backward: the
// oracle that the GPU kernels are tested against (see docs/design.md, "Testing"). Correctness over
// speed: triple loops, fresh arrays, no buffer reuse.

export { linearForward, linearBackward, matmul, matmulBackward } from './matmul';
export { layerNormForward, layerNormBackward } from './layernorm';
export { geluForward, geluBackward, reluForward, reluBackward } from './activations';
export { sinusoidalPositionalEncoding, embeddingForward, embeddingBackward } from './embedding';
export { attentionForward, attentionBackward, refKeyLengths } from './attention';
export { residualForward } from './residual';
export { IGNORE_TARGET, softmaxCrossEntropyForward, softmaxCrossEntropyBackward } from './loss';
export { adamwStep, learningRate, gradNormClipScale } from './optimizer';
export type { AdamWOptions, LearningRateSchedule } from './optimizer';
export { refGptForward, refGptBackward, refParamNames } from './gpt';
export type { RefParams, RefGptCache, RefLinearTrace } from './gpt';
export * from './quant';
export * from './random';
export * from './stats';
export { refEncoderParamNames, refEncDecParamNames, refEncoderForward, refEncoderBackward, refEncDecForward, refEncDecBackward, refCrossAttentionForward, refCrossAttentionBackward, refGreedyDecode } from './encdec';
export type { RefEncoderCache, RefEncDecCache } from './encdec';
