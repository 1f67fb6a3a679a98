// Softmax + cross-entropy over the vocabulary, fused as in llm.c: the backward of the pair is the
// simple p − onehot, which is far better conditioned than chaining the two backwards.

/** Target value that marks a position as padding: it adds nothing to the loss or the gradient. */
export const IGNORE_TARGET = -1;

/**
 * logits [N,V], targets [N] (a target < 0 is ignored, like PyTorch's ignore_index).
 * loss = mean over valid rows of −log softmax(logits)[target] = logsumexp(row) − row[target], with
 * the row max subtracted before exp so large logits cannot overflow. probs [N,V] are the softmax of
 * EVERY row (ignored ones too), which the backward reuses. With no valid row the loss is 0.
 */
export function softmaxCrossEntropyForward(
  logits: Float64Array,
  targets: Int32Array,
  N: number,
  V: number,
): { loss: number; probs: Float64Array; validCount: number } {
  const probs = new Float64Array(N * V);
  let lossSum = 0;
  let validCount = 0;
  for (let n = 0; n < N; n++) {
    const row = n * V;
    let maxLogit = -Infinity;
    for (let v = 0; v < V; v++) maxLogit = Math.max(maxLogit, logits[row + v]);
    let sumExp = 0;
    for (let v = 0; v < V; v++) {
      const e = Math.exp(logits[row + v] - maxLogit);
      probs[row + v] = e;
      sumExp += e;
    }
    for (let v = 0; v < V; v++) probs[row + v] /= sumExp;

    const target = targets[n];
    if (target < 0) continue;
    if (!Number.isInteger(target) || target >= V) {
      throw new Error(`softmaxCrossEntropyForward: target ${target} at row ${n} is outside [0, ${V})`);
    }
    lossSum += maxLogit + Math.log(sumExp) - logits[row + target];
    validCount++;
  }
  return { loss: validCount > 0 ? lossSum / validCount : 0, probs, validCount };
}

/**
 * dlogits = (probs − onehot(target)) / validCount on valid rows (the 1/validCount is the mean of the
 * forward pass), and 0 on ignored rows.
 */
export function softmaxCrossEntropyBackward(
  probs: Float64Array,
  targets: Int32Array,
  N: number,
  V: number,
  validCount: number,
): Float64Array {
  const dlogits = new Float64Array(N * V);
  if (validCount <= 0) return dlogits;
  const inverseCount = 1 / validCount;
  for (let n = 0; n < N; n++) {
    const target = targets[n];
    if (target < 0) continue;
    const row = n * V;
    for (let v = 0; v < V; v++) dlogits[row + v] = probs[row + v] * inverseCount;
    dlogits[row + target] -= inverseCount;
  }
  return dlogits;
}
