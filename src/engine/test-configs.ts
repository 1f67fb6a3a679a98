// Small run configs shared by tests (not used by the engine itself).
import { DEFAULT_TRAIN, type ModelConfig, type RunConfig, type TrainConfig } from './config';

/** The `tiny` preset's shape on the names corpus's 54 characters. */
export const TINY_MODEL: ModelConfig = {
  architecture: 'decoder',
  nLayer: 2,
  dModel: 48,
  nHead: 4,
  dFF: 192,
  contextLength: 16,
  vocabSize: 54,
  activation: 'gelu',
  positionalEncoding: 'learned',
  layerNormEps: 1e-5,
};

/** TINY_MODEL with batch 8 on names, with overrides. */
export function tinyRunConfig(t: Partial<TrainConfig>, m: Partial<ModelConfig> = {}): RunConfig {
  return { model: { ...TINY_MODEL, ...m }, train: { ...DEFAULT_TRAIN, batchSize: 8, ...t }, dataset: 'names' };
}
