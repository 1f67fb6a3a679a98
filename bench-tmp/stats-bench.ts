// Timings of the measurement kernels (ops/stats.ts) at the 'medium' preset's shapes, with a matmul of
// the same layer for scale. Standalone (node), for lavapipe here and the GPU machine.
import { describeGpu } from '../src/engine/gpu/device';
import { type Dispatch, Kernels, recordDispatches } from '../src/engine/gpu/kernels';
import { GpuMemory, writeTensor } from '../src/engine/gpu/memory';
import { acquireNodeGpu } from '../src/engine/gpu/node';
import { matmul } from '../src/engine/ops/matmul';
import { columnAbsMax, copyScaled, linearStatsLayout, outlierSummary, relativeError, relativeErrorPartials, rowNormHistogram } from '../src/engine/ops/stats';
import { SeededRandom } from '../src/engine/reference/test-helpers';
import type { Tensor } from '../src/engine/tensor';

const ctx = await acquireNodeGpu();
const dev = ctx.device;
console.log(describeGpu(ctx));
const mem = new GpuMemory(dev);
const k = new Kernels(dev, mem, ctx.capabilities);
const ts = dev.features.has('timestamp-query');
const qs = ts ? dev.createQuerySet({ type: 'timestamp', count: 2 }) : null;
const qbuf = dev.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
const qread = dev.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
const reps = Number(process.env.REPS ?? 5);

async function once(ds: Dispatch[], r: number): Promise<{ gpu: number; wall: number }> {
  const e = dev.createCommandEncoder();
  const p = e.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  for (let i = 0; i < r; i++) recordDispatches(p, ds);
  p.end();
  if (qs) {
    e.resolveQuerySet(qs, 0, 2, qbuf, 0);
    e.copyBufferToBuffer(qbuf, 0, qread, 0, 16);
  }
  const t0 = performance.now();
  dev.queue.submit([e.finish()]);
  await dev.queue.onSubmittedWorkDone();
  const wall = (performance.now() - t0) / r;
  let gpu = NaN;
  if (qs) {
    await qread.mapAsync(GPUMapMode.READ);
    const v = new BigUint64Array(qread.getMappedRange().slice(0));
    qread.unmap();
    gpu = Number(v[1] - v[0]) / 1e6 / r;
  }
  return { gpu, wall };
}
/** Best of 3 submissions of `reps` back-to-back repetitions, after a warm-up. */
async function time(ds: Dispatch[], r = reps): Promise<string> {
  await once(ds, 1);
  let best = { gpu: Infinity, wall: Infinity };
  for (let i = 0; i < 3; i++) {
    const t = await once(ds, r);
    best = { gpu: Math.min(best.gpu, t.gpu), wall: Math.min(best.wall, t.wall) };
  }
  return `${ts ? `gpu ${(best.gpu * 1000).toFixed(1)} µs, ` : ''}wall ${(best.wall * 1000).toFixed(1)} µs`;
}

const rng = new SeededRandom(1);
function up(n: number, std: number, label: string): Tensor {
  const t = mem.tensor([n], label);
  writeTensor(dev, t, Float32Array.from(rng.normalArray(n, std)));
  return t;
}
const N = Number(process.env.ROWS ?? 2048);
const shapes = [
  { name: 'attn.c_attn', D: 256, C: 768 },
  { name: 'attn.c_proj', D: 256, C: 256 },
  { name: 'mlp.c_fc', D: 256, C: 1024 },
  { name: 'mlp.c_proj', D: 1024, C: 256 },
];
const bins = 24;
const recordSize = shapes.reduce((a, s) => a + linearStatsLayout(bins, s.D).size, 0);
const metrics = mem.tensor([recordSize * 6], 'metrics');
const partials = mem.tensor([relativeErrorPartials(1 << 24)], 'partials');
const all: Dispatch[] = [];
let base = 0;
for (const s of shapes) {
  const L = linearStatsLayout(bins, s.D);
  const x = up(N * s.D, 1, 'x'), xh = up(N * s.D, 1, 'xh'), xq = up(N * s.D, 1, 'xq');
  const wh = up(s.C * s.D, 0.1, 'wh'), wq = up(s.C * s.D, 0.1, 'wq');
  const dy = up(N * s.C, 1e-3, 'dy'), hi = up(N * s.C, 3, 'hi'), lo = up(N * s.C, 3, 'lo');
  const state = up(4, 0.1, 'state');
  const scalars = up(4, 1, 'scalars');
  const groups: [string, Dispatch[]][] = [
    ['rowNormHistogram(∇Y)', rowNormHistogram(k, { label: 'h', dy, rows: N, cols: s.C, bins, logMin: -8, logMax: 0, norms: mem.tensor([N], 'n'), out: metrics, outOffset: base + L.gradHistogram })],
    ['columnAbsMax(X), (XH)', [...columnAbsMax(k, { label: 'c', x, rows: N, cols: s.D, out: metrics, outOffset: base + L.colMaxX }), ...columnAbsMax(k, { label: 'c', x: xh, rows: N, cols: s.D, out: metrics, outOffset: base + L.colMaxXH })]],
    ['outlierSummary ×2', [outlierSummary(k, { label: 'o', values: metrics, valuesOffset: base + L.colMaxX, count: s.D, out: metrics, outOffset: base + L.outliersX }), outlierSummary(k, { label: 'o', values: metrics, valuesOffset: base + L.colMaxXH, count: s.D, out: metrics, outOffset: base + L.outliersXH })]],
    ['relativeError XH, WH, ∇Y(split)', [
      ...relativeError(k, { label: 'e', a: xh, b: xq, n: N * s.D, partials, out: metrics, outOffset: base + L.errorXH }),
      ...relativeError(k, { label: 'e', a: wh, b: wq, n: s.C * s.D, partials, out: metrics, outOffset: base + L.errorWH }),
      ...relativeError(k, { label: 'e', a: dy, b: { hi, lo, splitState: state }, n: N * s.C, partials, out: metrics, outOffset: base + L.errorDY }),
    ]],
    ['copyScaled ×2', [copyScaled(k, { label: 's', src: scalars, count: 2, out: metrics, outOffset: base + L.stepX }), copyScaled(k, { label: 'k', src: scalars, srcOffset: 2, count: 2, scale: 1 / (2 * N), out: metrics, outOffset: base + L.keptW })]],
  ];
  base += L.size;
  const y = mem.tensor([N * s.C], 'y');
  console.log(`${s.name} [N ${N}, D ${s.D}, C ${s.C}]; for scale, the f32 matmul X·Wᵀ: ${await time([matmul(k, { label: 'mm', a: x, b: wh, c: y, M: N, N: s.C, K: s.D, transB: true })])}`);
  let layer: Dispatch[] = [];
  for (const [name, ds] of groups) {
    console.log(`  ${name.padEnd(32)} ${String(ds.length).padStart(2)} dispatches  ${await time(ds)}`);
    if (process.env.EACH) for (const d of ds) console.log(`      ${d.label.padEnd(20)} ${await time([d])}`);
    layer = layer.concat(ds);
  }
  console.log(`  all statistics of the layer      ${layer.length} dispatches  ${await time(layer)}`);
  all.push(...layer);
}
const model: Dispatch[] = [];
for (let b = 0; b < 6; b++) model.push(...all);
console.log(`all 24 INT4 layers (6 blocks × 4): ${model.length} dispatches  ${await time(model, Math.max(1, Math.ceil(reps / 4)))}`);
console.log(`metrics record: ${recordSize} floats per block, ${recordSize * 6} for the model (${((recordSize * 6 * 4) / 1024).toFixed(1)} KiB)`);
process.exit(0);
