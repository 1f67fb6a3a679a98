// The MLP non-linearities: GELU in GPT-2's tanh approximation, and ReLU as in the original
// Transformer's position-wise feed-forward network ('Attention Is All You Need', §3.3).

/** √(2/π), the constant of the tanh approximation of GELU (Hendrycks & Gimpel, 2016). */
const GELU_SCALE = Math.sqrt(2 / Math.PI);
/** Cubic coefficient of the same approximation; GPT-2 and nanoGPT use exactly this value. */
const GELU_CUBIC = 0.044715;

/** gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), elementwise. */
export function geluForward(x: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = 0.5 * v * (1 + Math.tanh(GELU_SCALE * (v + GELU_CUBIC * v * v * v)));
  }
  return y;
}

/**
 * dx = dy · gelu'(x), with u = √(2/π)(x + 0.044715x³):
 *   gelu'(x) = 0.5·(1 + tanh u) + 0.5·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
 */
export function geluBackward(x: Float64Array, dy: Float64Array): Float64Array {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const tanhU = Math.tanh(GELU_SCALE * (v + GELU_CUBIC * v * v * v));
    const dUdx = GELU_SCALE * (1 + 3 * GELU_CUBIC * v * v);
    dx[i] = dy[i] * (0.5 * (1 + tanhU) + 0.5 * v * (1 - tanhU * tanhU) * dUdx);
  }
  return dx;
}

/** relu(x) = max(0, x), elementwise. */
export function reluForward(x: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  return y;
}

/** dx = dy where x > 0, else 0; the subgradient at x = 0 is taken as 0 (PyTorch's choice too). */
export function reluBackward(x: Float64Array, dy: Float64Array): Float64Array {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
  return dx;
}
