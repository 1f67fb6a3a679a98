// The residual connection x + sublayer(x) ('Attention Is All You Need', §3.1; kept un-normalised in
// the pre-LN GPT-2 block). Its backward is the identity: ∂(a+b)/∂a = ∂(a+b)/∂b = I, so the incoming
// gradient is passed unchanged to BOTH branches (and added to whatever else flows into them).
// No backward function is needed.

/** out = a + b elementwise; a and b must have the same length. */
export function residualForward(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length !== b.length) throw new Error(`residualForward: lengths differ (${a.length} vs ${b.length})`);
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}
