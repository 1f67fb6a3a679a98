// Linear layers and general matrix products in float64: the oracle the GPU matmul kernels and every
// LinearScheme are checked against. Plain triple loops on purpose: the reader should be able to see
// that each one is the textbook formula and nothing else.

/**
 * y[N,Dout] = x[N,Din] · wᵀ + b, with w stored [Dout, Din] (PyTorch nn.Linear layout, as in GPT-2 /
 * nanoGPT checkpoints), so that row o of w is the weight vector of output feature o.
 */
export function linearForward(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  N: number,
  Din: number,
  Dout: number,
): Float64Array {
  const y = new Float64Array(N * Dout);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Dout; o++) {
      let sum = b ? b[o] : 0;
      for (let i = 0; i < Din; i++) sum += x[n * Din + i] * w[o * Din + i];
      y[n * Dout + o] = sum;
    }
  }
  return y;
}

/**
 * Gradients of y = x·wᵀ + b given dy = ∂L/∂y:
 *   dx = dy · w        [N, Din]
 *   dw = dyᵀ · x       [Dout, Din] (same layout as w)
 *   db = Σ_n dy[n, :]  [Dout], or null when the layer has no bias.
 */
export function linearBackward(
  dy: Float64Array,
  x: Float64Array,
  w: Float64Array,
  N: number,
  Din: number,
  Dout: number,
  hasBias: boolean,
): { dx: Float64Array; dw: Float64Array; db: Float64Array | null } {
  const dx = new Float64Array(N * Din);
  const dw = new Float64Array(Dout * Din);
  const db = hasBias ? new Float64Array(Dout) : null;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Dout; o++) {
      const g = dy[n * Dout + o];
      if (db) db[o] += g;
      for (let i = 0; i < Din; i++) {
        dx[n * Din + i] += g * w[o * Din + i];
        dw[o * Din + i] += g * x[n * Din + i];
      }
    }
  }
  return { dx, dw, db };
}

/**
 * C[M,N] = op(A) · op(B), where op(A) is [M,K] and op(B) is [K,N].
 * A is stored [M,K], or [K,M] when transA (so op(A) = Aᵀ); B is stored [K,N], or [N,K] when transB.
 * The transposed forms are what a backward pass needs (dX = dY·W, dW = dYᵀ·X) without copying.
 */
export function matmul(
  a: Float64Array,
  b: Float64Array,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++) {
        const aValue = transA ? a[k * M + m] : a[m * K + k];
        const bValue = transB ? b[n * K + k] : b[k * N + n];
        sum += aValue * bValue;
      }
      c[m * N + n] = sum;
    }
  }
  return c;
}

/**
 * Gradients of C = op(A)·op(B) given dc = ∂L/∂C [M,N], each returned in the STORAGE layout of its
 * input (so da has a's layout, [K,M] when transA): d op(A) = dC·op(B)ᵀ, d op(B) = op(A)ᵀ·dC.
 */
export function matmulBackward(
  dc: Float64Array,
  a: Float64Array,
  b: Float64Array,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
): { da: Float64Array; db: Float64Array } {
  const da = new Float64Array(M * K);
  const db = new Float64Array(K * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const g = dc[m * N + n];
      for (let k = 0; k < K; k++) {
        const aIndex = transA ? k * M + m : m * K + k;
        const bIndex = transB ? n * K + k : k * N + n;
        da[aIndex] += g * b[bIndex];
        db[bIndex] += g * a[aIndex];
      }
    }
  }
  return { da, db };
}
