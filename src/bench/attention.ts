// Attention micro-benchmark: the fused FlashAttention-style kernels (ops/flash-attention.ts) against the
// separate path (ops/attention.ts: batched matmuls with the masked softmax between them, S and P kept), on
// the per-head tensors q, k, v [B, nh, T, hs] both work on. The split/merge relayouts around either path
// are the same dispatches and are left out of both timings.
//   attention forward    out (and lse) from q, k, v
//   attention backward   ∇q, ∇k, ∇v from ∇out (fused: rowstats + ∇q + ∇k/∇v; separate: ∇P, ∇v, softmax
//                        backward, ∇q, ∇k)
// Throughput counts the products over the visible (query, key) pairs, the same count for both paths, so
// the rows compare as times: forward 4·hs flops per pair (S = q·kᵀ, out = P·v), backward 10·hs (S again,
// ∇P, ∇v, ∇q, ∇k), the convention of the FlashAttention papers; with the causal mask T(T+1)/2 pairs.
// Before timing, each path's outputs are checked on two heads against float64 computed on the CPU.
import type { GpuContext } from '../engine/gpu/device';
import { type Dispatch, grid1d, Kernels } from '../engine/gpu/kernels';
import { GpuMemory, readBytes } from '../engine/gpu/memory';
import { PassTimer, type TimingOptions } from '../engine/gpu/timing';
import { allocAttentionActivations, allocAttentionGrads, attentionBackward, attentionForward, required } from '../engine/ops/attention';
import {
  type FlashAttentionShape,
  type FlashAttentionTuning,
  flashAttentionBackward,
  flashAttentionForward,
  flashAttentionLseFloats,
  flashAttentionScratchFloats,
  flashAttentionTuning,
  isCpuDevice,
} from '../engine/ops/flash-attention';
import type { Tensor } from '../engine/tensor';
import { type BenchResults, buildChecked, runOnce } from './kernels';
import { adapterName, type BenchRow } from './rows';

export interface AttentionBenchShape {
  B: number;
  nHead: number;
  T: number;
  hs: number;
}

/** The sizes of the issue: d_model 2048 with 32 heads of 64, batch 32, at T 256 and 1024. */
export const ATTENTION_BENCH_SHAPES: readonly AttentionBenchShape[] = [
  { B: 32, nHead: 32, T: 256, hs: 64 },
  { B: 32, nHead: 32, T: 1024, hs: 64 },
];

export interface AttentionBenchOptions {
  /** Default ATTENTION_BENCH_SHAPES. */
  shapes?: readonly AttentionBenchShape[];
  /** The decoder's causal mask (default true). */
  causal?: boolean;
  timing: TimingOptions;
  /** Query and key rows compared with float64 in each of the two checked heads (default 8). */
  checkRows?: number;
  seed: number;
  /** Block sizes / code style of the fused kernels (default flashAttentionTuning for the device); the
   *  rows name what ran, so a sweep can call this once per setting. */
  tuning?: Partial<FlashAttentionTuning>;
  /** Which paths run (default both). */
  paths?: readonly ('fused' | 'separate')[];
  log?: (line: string) => void;
  onRow?: (row: BenchRow) => void;
}

/** Values in [−1, 1) from (seed, index) alone, so the check can regenerate any head without keeping the
 *  operands (GiBs at T 1024) on the CPU. */
function hashed(seed: number, i: number): number {
  let x = (Math.imul(i, 0x9e3779b1) ^ Math.imul(seed + 1, 0x85ebca77)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return Math.fround(x / 2 ** 31 - 1);
}

/** Fills a tensor with hashed(seed, i), a chunk at a time. */
function fillHashed(device: GPUDevice, t: Tensor, seed: number): void {
  const chunk = 1 << 22;
  const data = new Float32Array(chunk);
  for (let start = 0; start < t.size; start += chunk) {
    const n = Math.min(chunk, t.size - start);
    for (let i = 0; i < n; i++) data[i] = hashed(seed, start + i);
    device.queue.writeBuffer(t.buffer, t.offsetBytes + 4 * start, data.buffer, 0, 4 * n);
  }
}

/** Operand seeds: q, k, v, ∇out. */
const SEEDS = { q: 1, k: 2, v: 3, dOut: 4 } as const;

interface HeadReference {
  out: Float64Array;
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

/** Float64 attention of one head [T, hs] (rows listed in `rows` only; the whole head enters every sum). */
function headReference(seed: number, head: number, s: AttentionBenchShape, causal: boolean, rows: number[]): HeadReference {
  const { T, hs } = s;
  const base = head * T * hs;
  const load = (which: number) => Float64Array.from({ length: T * hs }, (_, i) => hashed(seed + which, base + i));
  const [q, k, v, dO] = [load(SEEDS.q), load(SEEDS.k), load(SEEDS.v), load(SEEDS.dOut)];
  const scale = 1 / Math.sqrt(hs);
  const visible = (t: number) => (causal ? t + 1 : T);
  // P row t (normalised), D_t = Σ_s P·(∇out_t·v_s).
  const probsRow = (t: number): Float64Array => {
    const p = new Float64Array(T);
    let m = -Infinity;
    for (let j = 0; j < visible(t); j++) {
      let dot = 0;
      for (let d = 0; d < hs; d++) dot += q[t * hs + d] * k[j * hs + d];
      p[j] = dot * scale;
      m = Math.max(m, p[j]);
    }
    let sum = 0;
    for (let j = 0; j < visible(t); j++) sum += p[j] = Math.exp(p[j] - m);
    for (let j = 0; j < visible(t); j++) p[j] /= sum;
    return p;
  };
  const dP = (t: number, j: number) => {
    let dot = 0;
    for (let d = 0; d < hs; d++) dot += dO[t * hs + d] * v[j * hs + d];
    return dot;
  };
  const P: Float64Array[] = [];
  const D = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    P.push(probsRow(t));
    for (let j = 0; j < visible(t); j++) D[t] += P[t][j] * dP(t, j);
  }
  const n = rows.length * hs;
  const r: HeadReference = { out: new Float64Array(n), dq: new Float64Array(n), dk: new Float64Array(n), dv: new Float64Array(n) };
  rows.forEach((t, i) => {
    for (let j = 0; j < visible(t); j++) {
      const ds = P[t][j] * (dP(t, j) - D[t]) * scale;
      for (let d = 0; d < hs; d++) {
        r.out[i * hs + d] += P[t][j] * v[j * hs + d];
        r.dq[i * hs + d] += ds * k[j * hs + d];
      }
    }
    const key = t;
    for (let tq = causal ? key : 0; tq < T; tq++) {
      const p = P[tq][key];
      const ds = p * (dP(tq, key) - D[tq]) * scale;
      for (let d = 0; d < hs; d++) {
        r.dv[i * hs + d] += p * dO[tq * hs + d];
        r.dk[i * hs + d] += ds * q[tq * hs + d];
      }
    }
  });
  return r;
}

/** Reads rows `rows` of head `head` of a [B·nh, T, hs] tensor. */
async function readHeadRows(device: GPUDevice, t: Tensor, head: number, s: AttentionBenchShape, rows: number[]): Promise<Float32Array> {
  const out = new Float32Array(rows.length * s.hs);
  for (const [i, r] of rows.entries()) {
    const bytes = await readBytes(device, t.buffer, t.offsetBytes + 4 * (head * s.T + r) * s.hs, 4 * s.hs);
    out.set(new Float32Array(bytes), i * s.hs);
  }
  return out;
}

/** max|gpu − ref| / max|ref| over the checked rows, per tensor; ok below 2e-4 (f32 sums over ≤ T·hs
 *  products are ~1e-6 off; a wrong block is far above). */
function compare(name: string, gpu: Float32Array, ref: Float64Array): { err: number; text: string } {
  let worst = 0;
  let scale = 1e-30;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    const d = Math.abs(gpu[i] - ref[i]);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  const err = worst / scale;
  return { err, text: `${name} ${err.toExponential(1)}` };
}

const TOLERANCE = 2e-4;

/**
 * Fused vs separate attention at each shape: forward and backward rows per path, each checked on two heads
 * (the first and the last) before it is timed. Shapes or paths whose buffers are over the device's limits
 * are reported as skipped.
 */
export async function runAttentionBenches(ctx: GpuContext, o: AttentionBenchOptions): Promise<BenchResults> {
  const out: BenchResults = { rows: [], skipped: [] };
  const timer = new PassTimer(ctx.device, true);
  try {
    for (const shape of o.shapes ?? ATTENTION_BENCH_SHAPES) await benchShape(ctx, shape, o, timer, out);
  } finally {
    timer.destroy();
  }
  return out;
}

async function benchShape(ctx: GpuContext, shape: AttentionBenchShape, o: AttentionBenchOptions, timer: PassTimer, out: BenchResults): Promise<void> {
  const device = ctx.device;
  const causal = o.causal ?? true;
  const { B, nHead, T, hs } = shape;
  const size = `B${B} nh${nHead} T${T} hs${hs}${causal ? ' causal' : ''}`;
  const flash: FlashAttentionShape = { B, nHead, Tq: T, Tk: T, hs, causal };
  const pairs = causal ? (T * (T + 1)) / 2 : T * T;
  const flops = { forward: 4 * hs * pairs * B * nHead, backward: 10 * hs * pairs * B * nHead };
  const heads = [0, B * nHead - 1];
  const checkRows = o.checkRows ?? 8;
  const rows = Array.from(new Set([0, T - 1, ...Array.from({ length: Math.max(0, checkRows - 2) }, (_, i) => Math.floor(((i + 1) * T) / (checkRows - 1)))])).filter((r) => r < T);
  const refs = heads.map((head) => headReference(o.seed, head, shape, causal, rows));
  const paths = o.paths ?? ['fused', 'separate'];
  const tuning = { ...flashAttentionTuning(hs, isCpuDevice(device)), ...o.tuning };
  const tuningText = `fwd ${tuning.forwardThreads}×${tuning.rowsPerThread} rows, keys/block ${tuning.keyBlock}, ∇kv queries/block ${tuning.gradQueryBlock}, ${tuning.unroll ? 'unrolled' : 'looped'}`;
  const seconds: Record<string, number> = {};

  const memory = new GpuMemory(device);
  try {
    const k = new Kernels(device, memory, ctx.capabilities);
    const n = B * nHead * T * hs;
    let t: Record<'q' | 'k' | 'v' | 'dOut' | 'out' | 'dq' | 'dk' | 'dv', Tensor>;
    try {
      t = await buildChecked(device, () => ({
        q: memory.tensor([n], 'q'),
        k: memory.tensor([n], 'k'),
        v: memory.tensor([n], 'v'),
        dOut: memory.tensor([n], 'dout'),
        out: memory.tensor([n], 'out'),
        dq: memory.tensor([n], 'dq'),
        dk: memory.tensor([n], 'dk'),
        dv: memory.tensor([n], 'dv'),
      }));
    } catch (e) {
      out.skipped.push({ section: 'kernel', name: 'attention', size, reason: (e as Error).message });
      return;
    }
    for (const key of ['q', 'k', 'v', 'dOut'] as const) fillHashed(device, t[key], o.seed + SEEDS[key]);

    /** Checks out (after the forward) or ∇q, ∇k, ∇v (after the backward) on the checked heads. */
    const check = async (what: 'forward' | 'backward', y: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) => {
      const parts: { err: number; text: string }[] = [];
      for (const [i, head] of heads.entries()) {
        const targets: [string, Tensor, Float64Array][] = what === 'forward' ? [['out', y, refs[i].out]] : [['dq', dq, refs[i].dq], ['dk', dk, refs[i].dk], ['dv', dv, refs[i].dv]];
        for (const [name, tensor, ref] of targets) parts.push(compare(`${name}[head ${head}]`, await readHeadRows(device, tensor, head, shape, rows), ref));
      }
      const worst = Math.max(...parts.map((p) => p.err));
      return { ok: worst <= TOLERANCE, text: `${rows.length} rows of 2 heads vs float64, max err/max|ref|: ${parts.map((p) => p.text).join(', ')} (≤ ${TOLERANCE})` };
    };

    const timeRow = async (name: string, path: string, pathKey: string, work: Dispatch[], pass: 'forward' | 'backward', verify: () => Promise<{ ok: boolean; text: string }>, extra: Record<string, number | string>) => {
      try {
        await runOnce(device, work);
        const c = await verify();
        const time = await timer.time(work, o.timing);
        seconds[`${pathKey} ${pass}`] = time.seconds;
        const value = flops[pass] / time.seconds / 1e12;
        // fusedSpeedup: separate time / fused time (on both rows of the pair); the in-place rows say how their
        // time compares with the fused kernels on per-head tensors (inPlaceVsHeads, < 1 faster).
        const ratios: Record<string, number> = {};
        const separate = seconds[`separate ${pass}`];
        const fused = seconds[`fused ${pass}`];
        if (pathKey === 'fused-tokens') {
          if (fused) ratios.inPlaceVsHeads = time.seconds / fused;
        } else {
          const other = pathKey === 'fused' ? separate : fused;
          if (other) ratios.fusedSpeedup = pathKey === 'fused' ? other / time.seconds : time.seconds / other;
        }
        const row: BenchRow = {
          section: 'kernel', device: adapterName(ctx), name, size, path, metric: 'TFLOP/s', value,
          seconds: time.seconds, timing: time.method, checked: c.ok, check: c.text,
          extra: { ...extra, dispatches: work.length, dispatchesPerPass: time.perPass, ...ratios },
        };
        out.rows.push(row);
        o.onRow?.(row);
        o.log?.(`kernel ${name} ${size}: ${value.toPrecision(3)} TFLOP/s, ${(time.seconds * 1e3).toFixed(3)} ms (${c.ok ? 'checked' : 'CHECK FAILED'})`);
      } catch (e) {
        out.skipped.push({ section: 'kernel', name, size, reason: (e as Error).message });
      }
    };

    if (paths.includes('separate')) {
      // The separate path on the same per-head operands: q, k, v and ∇out copied into its tensors, and its
      // split/merge relayouts (which would overwrite them from qkv) left out.
      try {
        const s = { B, T, C: nHead * hs, nHead, causal };
        const { acts, grads, dummy } = await buildChecked(device, () => {
          const unused = memory.tensor([4], 'unused qkv / out');
          return { acts: allocAttentionActivations(memory, s, 'separate', { qkv: unused, out: unused }), grads: allocAttentionGrads(memory, s), dummy: unused };
        });
        const perHead = (x: Tensor | null) => required(x, 'attention bench', 'a separate-kernel tensor');
        const [y, dq, dk, dv] = [perHead(acts.y), perHead(grads.dq), perHead(grads.dk), perHead(grads.dv)];
        const encoder = device.createCommandEncoder();
        for (const [from, to] of [[t.q, perHead(acts.q)], [t.k, perHead(acts.k)], [t.v, perHead(acts.v)], [t.dOut, perHead(grads.dy)]] as const) encoder.copyBufferToBuffer(from.buffer, from.offsetBytes, to.buffer, to.offsetBytes, from.byteLength);
        device.queue.submit([encoder.finish()]);
        const relayout = (d: Dispatch) => /\.(d?split|d?merge)$/.test(d.label);
        const forward = (await buildChecked(device, () => attentionForward(k, 'separate', s, acts))).filter((d) => !relayout(d));
        const backward = (await buildChecked(device, () => attentionBackward(k, 'separate', s, acts, grads, dummy, dummy))).filter((d) => !relayout(d));
        const kept = { keptBytesPerLayer: 2 * B * nHead * T * T * 4, gradScratchBytes: 2 * B * nHead * T * T * 4 };
        await timeRow('attention forward', 'separate: q·kᵀ matmul, masked softmax, P·v matmul', 'separate', forward, 'forward', () => check('forward', y, dq, dk, dv), kept);
        await timeRow('attention backward', 'separate: ∇P, ∇v matmuls, softmax backward, ∇q, ∇k matmuls', 'separate', backward, 'backward', () => check('backward', y, dq, dk, dv), kept);
      } catch (e) {
        out.skipped.push({ section: 'kernel', name: 'attention separate', size, reason: (e as Error).message });
      }
    }

    if (paths.includes('fused')) {
      try {
        const { lse, scratch } = await buildChecked(device, () => ({
          lse: memory.tensor([flashAttentionLseFloats(flash)], 'lse'),
          scratch: memory.tensor([flashAttentionScratchFloats(flash)], 'rowstats'),
        }));
        const forward = await buildChecked(device, () => [flashAttentionForward(k, { label: 'fused', ...flash, q: t.q, k: t.k, v: t.v, out: t.out, lse, tuning: o.tuning })]);
        const backward = await buildChecked(device, () =>
          flashAttentionBackward(k, { label: 'fused.backward', ...flash, q: t.q, k: t.k, v: t.v, out: t.out, lse, dOut: t.dOut, dq: t.dq, dk: t.dk, dv: t.dv, scratch, tuning: o.tuning }),
        );
        const kept = { keptBytesPerLayer: lse.byteLength, gradScratchBytes: scratch.byteLength };
        await timeRow('attention forward', `fused (FlashAttention): ${tuningText}`, 'fused', forward, 'forward', () => check('forward', t.out, t.dq, t.dk, t.dv), kept);
        // The backward reads the forward's out and lse: the forward ran (and was checked) just above.
        await timeRow('attention backward', `fused (FlashAttention): rowstats, ∇q, ∇k/∇v; ${tuningText}`, 'fused', backward, 'backward', () => check('backward', t.out, t.dq, t.dk, t.dv), kept);
        // The same kernels as the models run them: q, k, v read inside qkv [B·T, 3C], the output written
        // [B·T, C], the gradients into ∇qkv (layout 'tokens'). The operands are the per-head ones put in
        // place by the merge kernels, and the results are split back to heads for the same check.
        const C = nHead * hs;
        const io = await buildChecked(device, () => ({
          qkv: memory.tensor([B * T * 3 * C], 'qkv'),
          rows: memory.tensor([B * T * C], 'out rows'),
          dRows: memory.tensor([B * T * C], 'dout rows'),
          dqkv: memory.tensor([B * T * 3 * C], 'dqkv'),
        }));
        const s = [B, T, C, nHead, causal ? 1 : 0];
        const relayout = (entry: string, bindings: Tensor[], what: string) => k.dispatch({ shader: 'attention', entry, label: `fused.tokens.${what}`, uniforms: s, bindings, workgroups: grid1d(B * T * C) });
        await runOnce(device, await buildChecked(device, () => [relayout('merge_heads_qkv', [t.q, t.k, t.v, io.qkv], 'place_qkv'), relayout('merge_heads', [t.dOut, io.dRows], 'place_dout')]));
        const inPlace = { label: 'fused.tokens', layout: 'tokens' as const, ...flash, q: io.qkv, k: io.qkv, v: io.qkv, out: io.rows, lse, tuning: o.tuning };
        const forwardTokens = await buildChecked(device, () => [flashAttentionForward(k, inPlace)]);
        const backwardTokens = await buildChecked(device, () => flashAttentionBackward(k, { ...inPlace, dOut: io.dRows, dq: io.dqkv, dk: io.dqkv, dv: io.dqkv, scratch }));
        const toHeads = await buildChecked(device, () => [relayout('split_heads_grad', [io.rows, t.out], 'out_to_heads'), relayout('split_heads', [io.dqkv, t.dq, t.dk, t.dv], 'grads_to_heads')]);
        const checkTokens = async (what: 'forward' | 'backward') => {
          await runOnce(device, toHeads);
          return check(what, t.out, t.dq, t.dk, t.dv);
        };
        await timeRow('attention forward', `fused in place (q, k, v read inside qkv, out written by token): ${tuningText}`, 'fused-tokens', forwardTokens, 'forward', () => checkTokens('forward'), kept);
        await timeRow('attention backward', `fused in place (∇q, ∇k, ∇v written into ∇qkv): rowstats, ∇q, ∇k/∇v; ${tuningText}`, 'fused-tokens', backwardTokens, 'backward', () => checkTokens('backward'), kept);
      } catch (e) {
        out.skipped.push({ section: 'kernel', name: 'attention fused', size, reason: (e as Error).message });
      }
    }
  } finally {
    memory.destroy();
  }
}
