// Token and position embeddings: the first layer of the decoder. Positions are either learned (GPT-2's
// wpe table) or the fixed sinusoids of 'Attention Is All You Need', §3.5.

/**
 * PE[pos, 2i] = sin(pos / 10000^(2i/C)), PE[pos, 2i+1] = cos(pos / 10000^(2i/C)) ('Attention Is All
 * You Need', §3.5), returned as [T, C]. Column j uses frequency index i = ⌊j/2⌋, so an odd C simply
 * ends on a sine column.
 */
export function sinusoidalPositionalEncoding(T: number, C: number): Float64Array {
  const pe = new Float64Array(T * C);
  for (let pos = 0; pos < T; pos++) {
    for (let j = 0; j < C; j++) {
      const i = Math.floor(j / 2);
      const angle = pos / Math.pow(10000, (2 * i) / C);
      pe[pos * C + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return pe;
}

function checkToken(token: number, V: number, index: number): void {
  if (!Number.isInteger(token) || token < 0 || token >= V) {
    throw new Error(`embedding: token ${token} at flat position ${index} is outside [0, ${V})`);
  }
}

/**
 * x[b,t,:] = wte[tokens[b,t], :] + P[t, :], where P is wpe [≥T, C] when positions are learned, or the
 * sinusoidal table when wpe is null. tokens is [B,T]; wte is [V,C]; the result is [B·T, C].
 */
export function embeddingForward(
  tokens: Int32Array,
  wte: Float64Array,
  wpe: Float64Array | null,
  B: number,
  T: number,
  C: number,
  V: number,
): Float64Array {
  const positions = wpe ?? sinusoidalPositionalEncoding(T, C);
  const x = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const flat = b * T + t;
      const token = tokens[flat];
      checkToken(token, V, flat);
      for (let c = 0; c < C; c++) x[flat * C + c] = wte[token * C + c] + positions[t * C + c];
    }
  }
  return x;
}

/**
 * The embedding is a lookup, so its gradient is a scatter-add: every occurrence of a token adds its
 * dx row into that token's dwte row (repeated tokens accumulate). dwpe[t] = Σ_b dx[b,t] for learned
 * positions, [T, C]; null for sinusoidal ones, which have no parameters.
 */
export function embeddingBackward(
  dx: Float64Array,
  tokens: Int32Array,
  B: number,
  T: number,
  C: number,
  V: number,
  learnedPositions: boolean,
): { dwte: Float64Array; dwpe: Float64Array | null } {
  const dwte = new Float64Array(V * C);
  const dwpe = learnedPositions ? new Float64Array(T * C) : null;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const flat = b * T + t;
      const token = tokens[flat];
      checkToken(token, V, flat);
      for (let c = 0; c < C; c++) {
        const g = dx[flat * C + c];
        dwte[token * C + c] += g;
        if (dwpe) dwpe[t * C + c] += g;
      }
    }
  }
  return { dwte, dwpe };
}
