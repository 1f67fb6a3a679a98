// Datasets for training: tokenizer, seeded randomness, text corpora, synthetic tasks, and the
// classification and translation tasks of the encoder and encoder-decoder architectures.
export * from './rng';
export * from './tokenizer';
export * from './dataset';
export * from './corpus';
export * from './synthetic';
export * from './classify';
export * from './translate';
