// How the GPU's LSQ quantizers lay out codes in u32 words (src/shaders/quantize.wgsl), written
// independently of the kernels for the tests that feed them codes: two's complement, code j of a row in
// bits b·(j mod 32/b) of word ⌊j·b/32⌋ (b = 4 or 8 bits), each row padded with zero codes to whole words.

export function packCodeRows(codes: Int32Array, rows: number, K: number, bits: 4 | 8): Uint32Array {
  const perWord = 32 / bits;
  const wordsPerRow = Math.ceil(K / perWord);
  const words = new Uint32Array(rows * wordsPerRow);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < K; j++) {
      const field = codes[r * K + j] & ((1 << bits) - 1);
      words[r * wordsPerRow + Math.floor(j / perWord)] |= field << (bits * (j % perWord));
    }
  }
  return words;
}
