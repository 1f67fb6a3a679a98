// Datasets for training: tokenizer, seeded randomness, text corpora and synthetic tasks.
export * from './rng';
export * from './tokenizer';
export * from './dataset';
export * from './corpus';
export * from './synthetic';
