// Layer normalisation (Ba et al., 2016) over the last axis, as used before each sub-layer of a
// pre-LN GPT-2 block and once more before lm_head (ln_f).

/**
 * y = (x − mean) · rstd · gamma + beta per row of x [N,C], with rstd = 1/√(var + eps) and the
 * BIASED variance (divide by C), matching torch.nn.LayerNorm. mean and rstd [N] are returned because
 * the backward pass needs them (the GPU kernel saves them the same way).
 */
export function layerNormForward(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  N: number,
  C: number,
  eps: number,
): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(N * C);
  const mean = new Float64Array(N);
  const rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const row = n * C;
    let sum = 0;
    for (let c = 0; c < C; c++) sum += x[row + c];
    const mu = sum / C;
    // Two-pass variance: exact enough in float64 and avoids E[x²] − E[x]² cancellation.
    let squares = 0;
    for (let c = 0; c < C; c++) squares += (x[row + c] - mu) ** 2;
    const r = 1 / Math.sqrt(squares / C + eps);
    for (let c = 0; c < C; c++) y[row + c] = (x[row + c] - mu) * r * gamma[c] + beta[c];
    mean[n] = mu;
    rstd[n] = r;
  }
  return { y, mean, rstd };
}

/**
 * With x̂ = (x − mean)·rstd and g = dy·gamma, the standard closed form (llm.c layernorm_backward):
 *   dx = rstd · (g − mean_c(g) − x̂ · mean_c(g·x̂))
 *   dgamma = Σ_n dy·x̂,  dbeta = Σ_n dy
 * The two mean terms are the gradient flowing through mean and rstd, which depend on every x in the row.
 */
export function layerNormBackward(
  dy: Float64Array,
  x: Float64Array,
  gamma: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  N: number,
  C: number,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dx = new Float64Array(N * C);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const row = n * C;
    let meanG = 0;
    let meanGXhat = 0;
    for (let c = 0; c < C; c++) {
      const xhat = (x[row + c] - mean[n]) * rstd[n];
      const g = dy[row + c] * gamma[c];
      meanG += g;
      meanGXhat += g * xhat;
      dgamma[c] += dy[row + c] * xhat;
      dbeta[c] += dy[row + c];
    }
    meanG /= C;
    meanGXhat /= C;
    for (let c = 0; c < C; c++) {
      const xhat = (x[row + c] - mean[n]) * rstd[n];
      const g = dy[row + c] * gamma[c];
      dx[row + c] = rstd[n] * (g - meanG - xhat * meanGXhat);
    }
  }
  return { dx, dgamma, dbeta };
}
