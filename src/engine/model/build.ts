// The model of a config's architecture: the GPT class builds the decoder and the encoder-only
// classifier (the same blocks without the causal mask, with a classification head), EncoderDecoder
// the encoder-decoder. Both expose the same surface to the trainer.
import type { ModelConfig } from '../config';
import type { Kernels } from '../gpu/kernels';
import type { LinearScheme } from '../linear/scheme';
import { EncoderDecoder, encDecParamSpecs } from './encdec';
import { Gpt, type GptBuildOptions, gptParamSpecs } from './gpt';
import type { ParamSpec } from './params';

export type Model = Gpt | EncoderDecoder;

export function buildModel(k: Kernels, o: GptBuildOptions): Model {
  return o.config.architecture === 'encoder-decoder' ? new EncoderDecoder(k, o) : new Gpt(k, o);
}

/** Every parameter of a config's model (names, shapes, initialisation), without building it. */
export function modelParamSpecs(c: ModelConfig, scheme: LinearScheme): ParamSpec[] {
  return c.architecture === 'encoder-decoder' ? encDecParamSpecs(c, scheme) : gptParamSpecs(c, scheme);
}
