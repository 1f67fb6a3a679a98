// The fused attention (ops/flash-attention.ts) against the float64 references (reference/attention.ts for
// causal self-attention, reference/encdec.ts's cross-attention for the unmasked-order case, which is
// self-attention when Tq = Tk), against the unfused GPU path (ops/attention.ts, ops/cross-attention.ts)
// on the same inputs, and against finite differences of its own forward. Sequence lengths are not
// multiples of the kernels' blocks (64 query rows, 16 … 64 keys), so every bounds check runs.
import { beforeAll, describe, expect, it } from 'vitest';
import { type GpuHarness, buildChecked, expectClose, expectExact, gpuHarness, maxAbs, roundF32 } from '../gpu/test-utils';
import * as ref from '../reference';
import { SeededRandom } from '../reference/test-helpers';
import type { Tensor } from '../tensor';
import { allocAttentionActivations, allocAttentionGrads, attentionBackward, attentionForward, required } from './attention';
import { allocCrossAttentionActivations, allocCrossAttentionGrads, crossAttentionBackward, crossAttentionForward } from './cross-attention';
import {
  type FlashAttentionShape,
  flashAttentionBackward,
  flashAttentionForward,
  flashAttentionLseFloats,
  flashAttentionProbs,
  flashAttentionScratchFloats,
  type FlashAttentionTuning,
  flashAttentionTuning,
  isCpuDevice,
} from './flash-attention';

/** Outputs and gradients: sums over up to 70 keys of hs-long products, vs float64 (measured on lavapipe:
 *  at most 2.2e-6 of the tensor's largest value). */
const TOL = 2e-5;
/** Probabilities (measured ≤ 3.6e-6, at scores of order ±100) and lse (≤ 1.5e-7 relative). */
const TOL_PROBS = 2e-5;
const TOL_LSE = 2e-6;

let h: GpuHarness;
beforeAll(async () => {
  h = await gpuHarness();
});

interface Case extends FlashAttentionShape {
  lengths?: number[];
  /** Standard deviation of q, k, v (default 1). */
  std?: number;
  /** Keys at positions ≥ 64 scaled by this: the row maximum lies in a later key block, so the online
   *  softmax must rescale what it accumulated (and would overflow without a running max). */
  lateKeyBoost?: number;
  /** Block sizes and code style (default: flashAttentionTuning for this device). */
  tuning?: Partial<FlashAttentionTuning>;
}

/** The unrolled style (a GPU's default) with blocks small enough for lavapipe to compile in about a
 *  second, and small enough that T = 37 spans several blocks of every kernel: 2 query rows per thread. */
const UNROLLED: Partial<FlashAttentionTuning> = { unroll: true, forwardThreads: 16, rowsPerThread: 2, keyBlock: 8, gradQueryThreads: 16, gradKeyThreads: 16, gradQueryBlock: 8 };

const normals = (rng: SeededRandom, n: number, std = 1) => roundF32(rng.normalArray(n, std));

/** heads [B, nh, T, hs] → columns offset … offset + C of rows [B·T, stride]. */
function headsToRows(x: ArrayLike<number>, s: { B: number; nHead: number; hs: number }, T: number, out: Float64Array, stride: number, offset: number): void {
  for (let b = 0; b < s.B; b++)
    for (let hd = 0; hd < s.nHead; hd++)
      for (let t = 0; t < T; t++)
        for (let d = 0; d < s.hs; d++) out[(b * T + t) * stride + offset + hd * s.hs + d] = x[((b * s.nHead + hd) * T + t) * s.hs + d];
}

function rowsToHeads(x: ArrayLike<number>, s: { B: number; nHead: number; hs: number }, T: number, stride: number, offset: number): Float64Array {
  const out = new Float64Array(s.B * s.nHead * T * s.hs);
  for (let b = 0; b < s.B; b++)
    for (let hd = 0; hd < s.nHead; hd++)
      for (let t = 0; t < T; t++)
        for (let d = 0; d < s.hs; d++) out[((b * s.nHead + hd) * T + t) * s.hs + d] = x[(b * T + t) * stride + offset + hd * s.hs + d];
  return out;
}

interface Expected {
  out: Float64Array;
  lse: Float64Array;
  /** [B, nh, Tq, Tk] */
  att: Float64Array;
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

/** The float64 references in heads layout. lse from its formula: log Σ_s exp(q·k_s/√hs) over the keys
 *  the masks leave visible (max-shifted). */
function reference(c: Case, q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array): Expected {
  const C = c.nHead * c.hs;
  const lengths = c.lengths ?? null;
  let out: Float64Array;
  let att: Float64Array;
  let dq: Float64Array;
  let dk: Float64Array;
  let dv: Float64Array;
  const doutRows = new Float64Array(c.B * c.Tq * C);
  headsToRows(dout, c, c.Tq, doutRows, C, 0);
  if (c.causal) {
    const T = c.Tq;
    const qkv = new Float64Array(c.B * T * 3 * C);
    headsToRows(q, c, T, qkv, 3 * C, 0);
    headsToRows(k, c, T, qkv, 3 * C, C);
    headsToRows(v, c, T, qkv, 3 * C, 2 * C);
    const f = ref.attentionForward(qkv, c.B, T, C, c.nHead, true, lengths);
    out = rowsToHeads(f.out, c, T, C, 0);
    att = f.att;
    const dqkv = ref.attentionBackward(doutRows, qkv, att, c.B, T, C, c.nHead);
    dq = rowsToHeads(dqkv, c, T, 3 * C, 0);
    dk = rowsToHeads(dqkv, c, T, 3 * C, C);
    dv = rowsToHeads(dqkv, c, T, 3 * C, 2 * C);
  } else {
    const qRows = new Float64Array(c.B * c.Tq * C);
    const kvRows = new Float64Array(c.B * c.Tk * 2 * C);
    headsToRows(q, c, c.Tq, qRows, C, 0);
    headsToRows(k, c, c.Tk, kvRows, 2 * C, 0);
    headsToRows(v, c, c.Tk, kvRows, 2 * C, C);
    const f = ref.refCrossAttentionForward(qRows, kvRows, c.B, c.Tq, c.Tk, C, c.nHead, lengths);
    out = rowsToHeads(f.out, c, c.Tq, C, 0);
    att = f.att;
    const g = ref.refCrossAttentionBackward(doutRows, qRows, kvRows, att, c.B, c.Tq, c.Tk, C, c.nHead);
    dq = rowsToHeads(g.dq, c, c.Tq, C, 0);
    dk = rowsToHeads(g.dkv, c, c.Tk, 2 * C, 0);
    dv = rowsToHeads(g.dkv, c, c.Tk, 2 * C, C);
  }
  const lse = new Float64Array(c.B * c.nHead * c.Tq);
  const scale = 1 / Math.sqrt(c.hs);
  for (let b = 0; b < c.B; b++)
    for (let hd = 0; hd < c.nHead; hd++)
      for (let t = 0; t < c.Tq; t++) {
        const head = b * c.nHead + hd;
        const visible = Math.min(c.causal ? t + 1 : c.Tk, lengths ? lengths[b] : c.Tk);
        const scores: number[] = [];
        for (let s = 0; s < visible; s++) {
          let dot = 0;
          for (let d = 0; d < c.hs; d++) dot += q[(head * c.Tq + t) * c.hs + d] * k[(head * c.Tk + s) * c.hs + d];
          scores.push(dot * scale);
        }
        const m = Math.max(...scores);
        lse[head * c.Tq + t] = m + Math.log(scores.reduce((a, x) => a + Math.exp(x - m), 0));
      }
  return { out, lse, att, dq, dk, dv };
}

/** Uploads the inputs and builds the fused forward + backward on them. */
async function buildFused(c: Case, q: Float64Array, k: Float64Array, v: Float64Array, dout: Float64Array, keyLengths: Tensor | null) {
  const qn = c.B * c.nHead * c.Tq * c.hs;
  const kn = c.B * c.nHead * c.Tk * c.hs;
  const inputs = { q: h.upload([qn], q, 'q'), k: h.upload([kn], k, 'k'), v: h.upload([kn], v, 'v'), dOut: h.upload([qn], dout, 'dout') };
  return buildFusedOn(c, inputs, keyLengths);
}

/** Builds the fused forward + backward on input tensors already on the GPU, into new outputs. */
async function buildFusedOn(c: Case, inputs: { q: Tensor; k: Tensor; v: Tensor; dOut: Tensor }, keyLengths: Tensor | null) {
  const qn = c.B * c.nHead * c.Tq * c.hs;
  const kn = c.B * c.nHead * c.Tk * c.hs;
  const t = {
    ...inputs,
    out: h.empty([qn], 'out'),
    lse: h.empty([flashAttentionLseFloats(c)], 'lse'),
    dq: h.empty([qn], 'dq'),
    dk: h.empty([kn], 'dk'),
    dv: h.empty([kn], 'dv'),
    scratch: h.empty([flashAttentionScratchFloats(c)], 'scratch'),
  };
  const fwd = await buildChecked(h.device, () => flashAttentionForward(h.kernels, { label: 'flash', ...c, ...t, keyLengths, tuning: c.tuning }));
  const bwd = await buildChecked(h.device, () => flashAttentionBackward(h.kernels, { label: 'flash.backward', ...c, ...t, keyLengths, tuning: c.tuning }));
  return { t, fwd, bwd };
}

/** The fused kernels on the unfused path's own head tensors (split from its inputs and from ∇out): out,
 *  ∇q, ∇k and ∇v as the unfused path computed them. */
async function expectFusedMatchesUnfused(
  c: Case,
  acts: { q: Tensor; k: Tensor; v: Tensor; y: Tensor },
  grads: { dy: Tensor; dq: Tensor; dk: Tensor; dv: Tensor },
  keyLengths: Tensor | null,
): Promise<void> {
  const { t, fwd, bwd } = await buildFusedOn(c, { q: acts.q, k: acts.k, v: acts.v, dOut: grads.dy }, keyLengths);
  await h.run([fwd, ...bwd]);
  for (const [name, fused, unfused] of [['out', t.out, acts.y], ['dq', t.dq, grads.dq], ['dk', t.dk, grads.dk], ['dv', t.dv, grads.dv]] as const) {
    expectClose(`${name} vs unfused`, await h.read(fused), await h.read(unfused), TOL);
  }
}

function uploadLengths(c: Case): Tensor | null {
  return c.lengths ? h.upload([c.B], new Uint32Array(c.lengths), 'key_lengths') : null;
}

function inputs(c: Case, seed: number) {
  const rng = new SeededRandom(seed);
  const std = c.std ?? 1;
  const q = normals(rng, c.B * c.nHead * c.Tq * c.hs, std);
  const k = normals(rng, c.B * c.nHead * c.Tk * c.hs, std);
  const v = normals(rng, c.B * c.nHead * c.Tk * c.hs);
  const dout = normals(rng, c.B * c.nHead * c.Tq * c.hs);
  if (c.lateKeyBoost) {
    for (let head = 0; head < c.B * c.nHead; head++)
      for (let s = 64; s < c.Tk; s++)
        for (let d = 0; d < c.hs; d++) k[(head * c.Tk + s) * c.hs + d] = Math.fround(k[(head * c.Tk + s) * c.hs + d] * c.lateKeyBoost);
  }
  return { q, k, v, dout };
}

function describeCase(c: Case): string {
  return `B ${c.B}, ${c.nHead} heads, Tq ${c.Tq}, Tk ${c.Tk}, hs ${c.hs}, ${c.causal ? 'causal' : 'not causal'}${c.lengths ? `, key lengths ${c.lengths.join(' ')}` : ''}${c.std ? `, std ${c.std}` : ''}${c.lateKeyBoost ? `, keys ≥ 64 ×${c.lateKeyBoost}` : ''}${c.tuning?.unroll ? ', unrolled, small blocks' : ''}`;
}

describe('flash attention vs float64', () => {
  const cases: Case[] = [
    { B: 2, nHead: 3, Tq: 37, Tk: 37, hs: 16, causal: true },
    // Several query blocks (64 rows) and key blocks (32 keys at hs 64); a sequence of length 1 (its
    // queries see key 0 only) and the causal and padding masks together.
    { B: 3, nHead: 2, Tq: 70, Tk: 70, hs: 64, causal: true, lengths: [70, 1, 41] },
    { B: 3, nHead: 2, Tq: 37, Tk: 37, hs: 8, causal: false, lengths: [1, 37, 20] },
    // Cross-attention: Tq ≠ Tk, key padding of the source.
    { B: 3, nHead: 2, Tq: 19, Tk: 45, hs: 32, causal: false, lengths: [45, 1, 7] },
    // A head size that is not a multiple of 4 (scalar loads, zero-padded vec4 chunks), more queries than
    // one block and fewer keys than one.
    { B: 2, nHead: 2, Tq: 70, Tk: 9, hs: 6, causal: false },
    // The largest head: ∇k/∇v split in two column parts; 16-key blocks.
    { B: 1, nHead: 2, Tq: 37, Tk: 37, hs: 128, causal: true, lengths: [30] },
    // A head of 100 (25 chunks: parts of 13, the last one padded) with scalar loads.
    { B: 1, nHead: 1, Tq: 21, Tk: 33, hs: 100, causal: false, lengths: [29] },
    // Scores of order ±100 whose row maximum lies past the first key block: the running max and the
    // rescaling of the online softmax (exp overflows f32 without them).
    { B: 1, nHead: 2, Tq: 70, Tk: 70, hs: 16, causal: true, std: 3, lateKeyBoost: 3 },
    // A long sequence: 17 query and key blocks, most causal key blocks skipped.
    { B: 1, nHead: 1, Tq: 1030, Tk: 1030, hs: 8, causal: true },
    // The unrolled style: causal with padding, cross-attention with a head size that is not a multiple of 4.
    { B: 2, nHead: 2, Tq: 37, Tk: 37, hs: 8, causal: true, lengths: [37, 12], tuning: UNROLLED },
    { B: 2, nHead: 1, Tq: 19, Tk: 37, hs: 6, causal: false, lengths: [1, 30], tuning: UNROLLED },
    { B: 1, nHead: 2, Tq: 70, Tk: 70, hs: 8, causal: true, std: 3, lateKeyBoost: 3, tuning: UNROLLED },
  ];
  for (const [n, c] of cases.entries()) {
    it(`forward (out, lse, probs) and backward (dq, dk, dv), ${describeCase(c)}`, async () => {
      const { q, k, v, dout } = inputs(c, 7100 + 31 * n);
      const keyLengths = uploadLengths(c);
      const { t, fwd, bwd } = await buildFused(c, q, k, v, dout, keyLengths);
      const example = c.B - 1;
      const probs = h.empty([c.nHead * c.Tq * c.Tk], 'probs');
      const probe = await buildChecked(h.device, () => flashAttentionProbs(h.kernels, { label: 'flash.probs', ...c, q: t.q, k: t.k, lse: t.lse, probs, example, keyLengths }));
      await h.run([fwd, probe, ...bwd]);
      const e = reference(c, q, k, v, dout);

      expectClose('out', await h.read(t.out), e.out, TOL);
      const lse = await h.read(t.lse);
      expectClose('lse', lse, e.lse, TOL_LSE);

      const p = await h.read(probs);
      const size = c.nHead * c.Tq * c.Tk;
      const pRef = e.att.subarray(example * size, (example + 1) * size);
      expectClose(`probs of example ${example}`, p, pRef, TOL_PROBS);
      // Masked keys: exactly 0 (the reference leaves them 0); every row sums to 1.
      expectExact('masked probabilities', Array.from(p, (x, i) => (pRef[i] === 0 ? x : 0)), new Float64Array(size));
      for (let row = 0; row < c.nHead * c.Tq; row++) {
        let sum = 0;
        for (let s = 0; s < c.Tk; s++) sum += p[row * c.Tk + s];
        if (Math.abs(sum - 1) > 1e-5) expect.fail(`probs row ${row} sums to ${sum}`);
      }

      const [dq, dk, dv] = [await h.read(t.dq), await h.read(t.dk), await h.read(t.dv)];
      expectClose('dq', dq, e.dq, TOL);
      expectClose('dk', dk, e.dk, TOL);
      expectClose('dv', dv, e.dv, TOL);
      // Keys no query sees (padding) get exactly zero gradient, as in the reference.
      for (const [name, gpu, want] of [['dk', dk, e.dk], ['dv', dv, e.dv]] as const) {
        expectExact(`${name} where the reference is exactly 0`, Array.from(gpu, (x, i) => (want[i] === 0 ? x : 0)), new Float64Array(gpu.length));
      }
    });
  }

  it('is deterministic: the backward twice gives the same bits', async () => {
    const c: Case = { B: 2, nHead: 2, Tq: 70, Tk: 70, hs: 16, causal: true, lengths: [50, 70] };
    const { q, k, v, dout } = inputs(c, 77);
    const { t, fwd, bwd } = await buildFused(c, q, k, v, dout, uploadLengths(c));
    await h.run([fwd, ...bwd]);
    const first = await Promise.all([t.dq, t.dk, t.dv].map((x) => h.readU32(x)));
    await h.run([...bwd]);
    const second = await Promise.all([t.dq, t.dk, t.dv].map((x) => h.readU32(x)));
    for (let i = 0; i < 3; i++) expectExact(['dq', 'dk', 'dv'][i], second[i], first[i]);
  });

  it('gradients match central differences of its own forward (L = Σ w∘out)', async () => {
    // One small causal case with key padding; every entry of q, k and v is perturbed by ±ε in a copy of
    // the sequence of its own (the copies are the batch), so one forward gives every difference.
    const base: Case = { B: 1, nHead: 2, Tq: 6, Tk: 6, hs: 8, causal: true, lengths: [5] };
    const n = base.nHead * base.Tq * base.hs; // entries per tensor (Tq = Tk)
    const rng = new SeededRandom(4242);
    const q0 = normals(rng, n);
    const k0 = normals(rng, n);
    const v0 = normals(rng, n);
    const w = normals(rng, n);
    const eps = 1 / 64; // exact in f32, so x ± eps rounds only once
    const copies = 1 + 2 * 3 * n;
    const c: Case = { ...base, B: copies, lengths: new Array(copies).fill(5) };
    const tile = (x: Float64Array) => {
      const out = new Float64Array(copies * n);
      for (let b = 0; b < copies; b++) out.set(x, b * n);
      return out;
    };
    const [q, k, v] = [tile(q0), tile(k0), tile(v0)];
    const step = new Float64Array(3 * n); // the actual f32 difference (x + ε) − (x − ε) of each entry
    for (let tensor = 0; tensor < 3; tensor++) {
      const x = [q, k, v][tensor];
      for (let i = 0; i < n; i++) {
        const plus = 1 + 2 * (tensor * n + i);
        const up = Math.fround(x[plus * n + i] + eps);
        const down = Math.fround(x[(plus + 1) * n + i] - eps);
        x[plus * n + i] = up;
        x[(plus + 1) * n + i] = down;
        step[tensor * n + i] = up - down;
      }
    }
    const dout = tile(w); // ∂L/∂out = w
    const { t, fwd, bwd } = await buildFused(c, q, k, v, dout, uploadLengths(c));
    await h.run([fwd, ...bwd]);
    const out = await h.read(t.out);
    const loss = (b: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += w[i] * out[b * n + i];
      return s;
    };
    const numeric = new Float64Array(3 * n);
    for (let j = 0; j < 3 * n; j++) numeric[j] = (loss(1 + 2 * j) - loss(2 + 2 * j)) / step[j];
    // The analytic gradient of the unperturbed copy 0.
    const analytic = new Float64Array(3 * n);
    const grads = [await h.read(t.dq), await h.read(t.dk), await h.read(t.dv)];
    for (let tensor = 0; tensor < 3; tensor++) analytic.set(grads[tensor].subarray(0, n), tensor * n);
    // f32 forward: each loss carries ~1e-6 rounding, /2ε ≈ 3e-5, plus the O(ε²) truncation (measured
    // 1.3e-5 of the largest gradient in all).
    expect(maxAbs(analytic)).toBeGreaterThan(0.1);
    expectClose('dq, dk, dv vs central differences', analytic, numeric, 3e-4);
    // The padded key (position 5) gets exactly zero gradient, and its differences are exactly 0 too.
    for (let tensor = 1; tensor < 3; tensor++)
      for (let hd = 0; hd < base.nHead; hd++)
        for (let d = 0; d < base.hs; d++) {
          const j = tensor * n + (hd * base.Tk + 5) * base.hs + d;
          expect(analytic[j], `gradient of padded key, entry ${j}`).toBe(0);
          expect(numeric[j], `difference of padded key, entry ${j}`).toBe(0);
        }
  });
});

describe('flash attention on the linear layers\' token-major tensors (layout \'tokens\')', () => {
  // The same arithmetic as the head layout with other addresses: out, lse, ∇q, ∇k, ∇v and the
  // probabilities must be the same bits, read and written in place in qkv [B, T, 3C], out [B, T, C] and
  // ∇qkv, with nothing written outside the parts each tensor owns.
  const cases: Case[] = [
    { B: 2, nHead: 3, Tq: 37, Tk: 37, hs: 8, causal: true },
    { B: 2, nHead: 2, Tq: 37, Tk: 37, hs: 6, causal: false, lengths: [37, 20] },
    { B: 1, nHead: 2, Tq: 37, Tk: 37, hs: 8, causal: true, tuning: UNROLLED },
  ];
  for (const c of cases) {
    it(`the same bits as [B, nh, T, hs] tensors, ${describeCase(c)}`, async () => {
      const T = c.Tq;
      const C = c.nHead * c.hs;
      const { q, k, v, dout } = inputs(c, 900 + c.hs + T);
      const keyLengths = uploadLengths(c);
      const heads = await buildFused(c, q, k, v, dout, keyLengths);
      await h.run([heads.fwd, ...heads.bwd]);

      const qkvRows = new Float64Array(c.B * T * 3 * C);
      headsToRows(q, c, T, qkvRows, 3 * C, 0);
      headsToRows(k, c, T, qkvRows, 3 * C, C);
      headsToRows(v, c, T, qkvRows, 3 * C, 2 * C);
      const doutRows = new Float64Array(c.B * T * C);
      headsToRows(dout, c, T, doutRows, C, 0);
      const qkv = h.upload([c.B * T * 3 * C], qkvRows, 'qkv');
      const t = {
        q: qkv, k: qkv, v: qkv,
        out: h.empty([c.B * T * C], 'out rows'),
        dOut: h.upload([c.B * T * C], doutRows, 'dout rows'),
        lse: h.empty([flashAttentionLseFloats(c)], 'lse'),
        scratch: h.empty([flashAttentionScratchFloats(c)], 'scratch'),
      };
      const dqkv = h.empty([c.B * T * 3 * C], 'dqkv');
      const probsHeads = h.empty([c.nHead * T * T], 'probs heads');
      const probsTokens = h.empty([c.nHead * T * T], 'probs tokens');
      const ds = await buildChecked(h.device, () => [
        flashAttentionForward(h.kernels, { label: 'flash tokens', layout: 'tokens', ...c, ...t, keyLengths, tuning: c.tuning }),
        ...flashAttentionBackward(h.kernels, { label: 'flash tokens.backward', layout: 'tokens', ...c, ...t, dq: dqkv, dk: dqkv, dv: dqkv, keyLengths, tuning: c.tuning }),
        flashAttentionProbs(h.kernels, { label: 'probs tokens', layout: 'tokens', ...c, q: qkv, k: qkv, lse: t.lse, probs: probsTokens, keyLengths, example: c.B - 1 }),
        flashAttentionProbs(h.kernels, { label: 'probs heads', ...c, q: heads.t.q, k: heads.t.k, lse: heads.t.lse, probs: probsHeads, keyLengths, example: c.B - 1 }),
      ]);
      await h.run(ds);
      const outRows = await h.read(t.out);
      const dqkvRows = await h.read(dqkv);
      expectExact('out', rowsToHeads(outRows, c, T, C, 0), await h.read(heads.t.out));
      expectExact('lse', await h.read(t.lse), await h.read(heads.t.lse));
      expectExact('dq', rowsToHeads(dqkvRows, c, T, 3 * C, 0), await h.read(heads.t.dq));
      expectExact('dk', rowsToHeads(dqkvRows, c, T, 3 * C, C), await h.read(heads.t.dk));
      expectExact('dv', rowsToHeads(dqkvRows, c, T, 3 * C, 2 * C), await h.read(heads.t.dv));
      expectExact('probs', await h.read(probsTokens), await h.read(probsHeads));
      // Every value of out and ∇qkv was written (they started as NaN).
      expect(outRows.some(Number.isNaN) || dqkvRows.some(Number.isNaN), 'a value left unwritten').toBe(false);
    });
  }

  it('refuses cross-attention shapes and ∇q, ∇k, ∇v in different tensors', () => {
    const c = { B: 1, nHead: 2, Tq: 4, Tk: 4, hs: 4, causal: true };
    const qkv = h.empty([1 * 4 * 24], 'qkv');
    const rows = h.empty([1 * 4 * 8], 'rows');
    const lse = h.empty([8], 'lse');
    expect(() => flashAttentionForward(h.kernels, { label: 'x', layout: 'tokens', ...c, Tk: 5, causal: false, q: qkv, k: qkv, v: qkv, out: rows, lse })).toThrow(/self-attention/);
    const other = h.empty([1 * 4 * 24], 'other');
    expect(() => flashAttentionBackward(h.kernels, { label: 'x', layout: 'tokens', ...c, q: qkv, k: qkv, v: qkv, out: rows, dOut: rows, lse, dq: qkv, dk: other, dv: other, scratch: h.empty([flashAttentionScratchFloats(c)], 's') })).toThrow(/one ∇qkv tensor/);
  });
});

describe('flash attention vs the unfused GPU path', () => {
  it('self-attention (ops/attention.ts): out, dq, dk, dv', async () => {
    const s = { B: 2, T: 70, C: 32, nHead: 2, causal: true };
    const c: Case = { B: s.B, nHead: s.nHead, Tq: s.T, Tk: s.T, hs: s.C / s.nHead, causal: true, lengths: [70, 33] };
    const rng = new SeededRandom(515);
    const N = s.B * s.T;
    const qkv = normals(rng, N * 3 * s.C);
    const doutRows = normals(rng, N * s.C);
    const tqkv = h.upload([N, 3 * s.C], qkv, 'qkv');
    const tdout = h.upload([N, s.C], doutRows, 'dout');
    const keyLengths = uploadLengths(c);
    const acts = allocAttentionActivations(h.memory, s, 'attn', { qkv: tqkv, out: h.empty([N, s.C], 'merged') });
    const grads = allocAttentionGrads(h.memory, s);
    const unfused = await buildChecked(h.device, () => [
      ...attentionForward(h.kernels, 'attn', s, acts, keyLengths),
      ...attentionBackward(h.kernels, 'attn', s, acts, grads, tdout, h.empty([N, 3 * s.C], 'dqkv')),
    ]);
    await h.run(unfused);
    const perHead = (x: Tensor | null) => required(x, 'test', 'a separate-kernel tensor');
    await expectFusedMatchesUnfused(c, { q: perHead(acts.q), k: perHead(acts.k), v: perHead(acts.v), y: perHead(acts.y) }, { dy: perHead(grads.dy), dq: perHead(grads.dq), dk: perHead(grads.dk), dv: perHead(grads.dv) }, keyLengths);
  });

  it('cross-attention (ops/cross-attention.ts): out, dq, dk, dv', async () => {
    const s = { B: 2, Tq: 19, Tk: 45, C: 64, nHead: 2 };
    const c: Case = { B: s.B, nHead: s.nHead, Tq: s.Tq, Tk: s.Tk, hs: s.C / s.nHead, causal: false, lengths: [1, 40] };
    const rng = new SeededRandom(616);
    const Q = normals(rng, s.B * s.Tq * s.C);
    const KV = normals(rng, s.B * s.Tk * 2 * s.C);
    const doutRows = normals(rng, s.B * s.Tq * s.C);
    const keyLengths = uploadLengths(c);
    const acts = allocCrossAttentionActivations(h.memory, s, 'cross');
    const grads = allocCrossAttentionGrads(h.memory, s);
    const unfused = await buildChecked(h.device, () => [
      ...crossAttentionForward(h.kernels, 'cross', s, h.upload([s.B * s.Tq, s.C], Q, 'Q'), h.upload([s.B * s.Tk, 2 * s.C], KV, 'KV'), acts, h.empty([s.B * s.Tq, s.C], 'merged'), keyLengths),
      ...crossAttentionBackward(h.kernels, 'cross', s, acts, grads, h.upload([s.B * s.Tq, s.C], doutRows, 'dout'), h.empty([s.B * s.Tq, s.C], 'dQ'), h.empty([s.B * s.Tk, 2 * s.C], 'dKV')),
    ]);
    await h.run(unfused);
    await expectFusedMatchesUnfused(c, acts, grads, keyLengths);
  });
});

describe('flash attention: bad input is refused before any GPU work', () => {
  const ok = { B: 1, nHead: 1, Tq: 4, Tk: 4, hs: 8, causal: false };
  const tensors = () => ({
    q: h.empty([32], 'q'),
    k: h.empty([32], 'k'),
    v: h.empty([32], 'v'),
    out: h.empty([32], 'out'),
    lse: h.empty([4], 'lse'),
  });
  it('head size over 128, causal with Tq ≠ Tk, wrong tensor sizes, blocks over the device limit', () => {
    expect(() => flashAttentionForward(h.kernels, { label: 'x', ...ok, hs: 129, ...tensors() })).toThrow(/head size 129 is over/);
    expect(() => flashAttentionForward(h.kernels, { label: 'x', ...ok, Tk: 5, causal: true, ...tensors() })).toThrow(/causal mask needs Tq = Tk/);
    expect(() => flashAttentionForward(h.kernels, { label: 'x', ...ok, ...tensors(), lse: h.empty([5], 'lse') })).toThrow(/lse has 5 values, expected 4/);
    expect(() => flashAttentionForward(h.kernels, { label: 'x', ...ok, Tq: 0, ...tensors() })).toThrow(/Tq must be a positive integer/);
    const limit = h.device.limits.maxComputeWorkgroupStorageSize;
    expect(() => flashAttentionForward(h.kernels, { label: 'x', ...ok, ...tensors(), tuning: { keyBlock: limit } })).toThrow(/workgroup memory/);
    expect(() => flashAttentionProbs(h.kernels, { label: 'x', ...ok, ...tensors(), probs: h.empty([16], 'p'), example: 1 })).toThrow(/example 1 is not a sequence/);
  });
  it('CPU adapters get the looped style, GPUs the unrolled one', () => {
    expect(flashAttentionTuning(64, true).unroll).toBe(false);
    expect(flashAttentionTuning(64, false).unroll).toBe(true);
    const device = (info: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean }) => ({ adapterInfo: { vendor: '', architecture: '', device: '', description: '', ...info } }) as unknown as GPUDevice;
    // What Dawn reports for lavapipe, SwiftShader, and an H100.
    expect(isCpuDevice(device({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7' }))).toBe(true);
    expect(isCpuDevice(device({ vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true }))).toBe(true);
    expect(isCpuDevice(device({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' }))).toBe(false);
    expect(isCpuDevice({} as GPUDevice)).toBe(false);
  });
  it('default blocks fit 16 KiB of workgroup memory for every head size 1 … 128', () => {
    for (let hs = 1; hs <= 128; hs++) {
      const t = flashAttentionTuning(hs);
      const H4 = Math.ceil(hs / 4);
      expect(2 * t.keyBlock * H4 * 16, `hs ${hs}: k, v blocks`).toBeLessThanOrEqual(16384);
      expect(t.gradQueryBlock * (2 * 16 * Math.ceil(H4 / Math.ceil(H4 / 16)) * Math.ceil(H4 / 16) + 8), `hs ${hs}: q, ∇out blocks`).toBeLessThanOrEqual(16384);
    }
  });
});
