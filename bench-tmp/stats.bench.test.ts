// Timings of the measurement kernels at the 'medium' preset's shapes (N = 32·64 = 2048 tokens).
import { it } from 'vitest';
import { type Dispatch, recordDispatches } from '../src/engine/gpu/kernels';
import { gpuHarness } from '../src/engine/gpu/test-utils';
import { matmul } from '../src/engine/ops/matmul';
import { columnAbsMax, copyScaled, linearStatsLayout, outlierSummary, relativeError, relativeErrorPartials, rowNormHistogram } from '../src/engine/ops/stats';
import { SeededRandom } from '../src/engine/reference/test-helpers';

it('timings', async () => {
  const h = await gpuHarness();
  const dev = h.device;
  const ts = dev.features.has('timestamp-query');
  console.log('adapter features timestamp-query:', ts);
  const qs = ts ? dev.createQuerySet({ type: 'timestamp', count: 2 }) : null;
  const qbuf = dev.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const qread = dev.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  async function time(ds: Dispatch[], reps: number): Promise<{ gpu: number; wall: number }> {
    // warm up
    { const e = dev.createCommandEncoder(); const p = e.beginComputePass(); recordDispatches(p, ds); p.end(); dev.queue.submit([e.finish()]); await dev.queue.onSubmittedWorkDone(); }
    const e = dev.createCommandEncoder();
    const p = e.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    for (let r = 0; r < reps; r++) recordDispatches(p, ds);
    p.end();
    if (qs) { e.resolveQuerySet(qs, 0, 2, qbuf, 0); e.copyBufferToBuffer(qbuf, 0, qread, 0, 16); }
    const t0 = performance.now();
    dev.queue.submit([e.finish()]);
    await dev.queue.onSubmittedWorkDone();
    const wall = (performance.now() - t0) / reps;
    let gpu = NaN;
    if (qs) { await qread.mapAsync(GPUMapMode.READ); const v = new BigUint64Array(qread.getMappedRange().slice(0)); qread.unmap(); gpu = Number(v[1] - v[0]) / 1e6 / reps; }
    return { gpu, wall };
  }
  const reps = Number(process.env.REPS ?? 5);
  const N = Number(process.env.ROWS ?? 2048);
  const shapes0 = [
    { name: 'c_attn', D: 256, C: 768 },
    { name: 'c_proj', D: 256, C: 256 },
    { name: 'c_fc', D: 256, C: 1024 },
    { name: 'mlp.c_proj', D: 1024, C: 256 },
  ];
  const shapes = process.env.ONE ? shapes0.slice(0, 1) : shapes0;
  const rng = new SeededRandom(1);
  const bins = 24;
  const metrics = h.empty([shapes.reduce((a, s) => a + linearStatsLayout(bins, s.D).size, 0) * 6], 'metrics');
  const partials = h.empty([relativeErrorPartials(1 << 24)], 'partials');
  const all: Dispatch[] = [];
  let base = 0;
  const fmt = (t: { gpu: number; wall: number }) => `gpu ${t.gpu.toFixed(3)} ms, wall ${t.wall.toFixed(3)} ms`;
  for (const s of shapes) {
    const L = linearStatsLayout(bins, s.D);
    const up = (n: number, std: number, name: string) => h.upload([n], rng.normalArray(n, std), name);
    const x = up(N * s.D, 1, 'x'), xh = up(N * s.D, 1, 'xh'), xq = up(N * s.D, 1, 'xq');
    const wh = up(s.C * s.D, 0.1, 'wh'), wq = up(s.C * s.D, 0.1, 'wq');
    const dy = up(N * s.C, 1e-3, 'dy'), hi = up(N * s.C, 3, 'hi'), lo = up(N * s.C, 3, 'lo');
    const state = h.upload([4], [1, 0.1, 0.01, 0], 'state');
    const scalars = h.upload([4], [1, 1, 1, 1], 'sc');
    const groups: [string, Dispatch[]][] = [
      ['rowNormHistogram ∇Y', rowNormHistogram(h.kernels, { label: 'h', dy, rows: N, cols: s.C, bins, logMin: -8, logMax: 0, norms: h.empty([N], 'n'), out: metrics, outOffset: base + L.gradHistogram })],
      ['columnAbsMax X, XH', [...columnAbsMax(h.kernels, { label: 'c', x, rows: N, cols: s.D, out: metrics, outOffset: base + L.colMaxX }), ...columnAbsMax(h.kernels, { label: 'c', x: xh, rows: N, cols: s.D, out: metrics, outOffset: base + L.colMaxXH })]],
      ['outlierSummary ×2', [outlierSummary(h.kernels, { label: 'o', values: metrics, valuesOffset: base + L.colMaxX, count: s.D, out: metrics, outOffset: base + L.outliersX }), outlierSummary(h.kernels, { label: 'o', values: metrics, valuesOffset: base + L.colMaxXH, count: s.D, out: metrics, outOffset: base + L.outliersXH })]],
      ['relativeError XH, WH, ∇Y(split)', [
        ...relativeError(h.kernels, { label: 'e', a: xh, b: xq, n: N * s.D, partials, out: metrics, outOffset: base + L.errorXH }),
        ...relativeError(h.kernels, { label: 'e', a: wh, b: wq, n: s.C * s.D, partials, out: metrics, outOffset: base + L.errorWH }),
        ...relativeError(h.kernels, { label: 'e', a: dy, b: { hi, lo, splitState: state }, n: N * s.C, partials, out: metrics, outOffset: base + L.errorDY }),
      ]],
      ['copyScaled ×2', [copyScaled(h.kernels, { label: 's', src: scalars, count: 2, out: metrics, outOffset: base + L.stepX }), copyScaled(h.kernels, { label: 'k', src: scalars, srcOffset: 2, count: 2, scale: 1 / (2 * N), out: metrics, outOffset: base + L.keptW })]],
    ];
    base += L.size;
    const c = h.empty([N * s.C], 'y');
    const mm = [matmul(h.kernels, { label: 'mm', a: x, b: wh, c, M: N, N: s.C, K: s.D, transB: true })];
    console.log(`${s.name} [N ${N}, D ${s.D}, C ${s.C}]  reference: f32 matmul X·Wᵀ ${fmt(await time(mm, reps))}`);
    let layer: Dispatch[] = [];
    for (const [name, ds] of groups) {
      console.log(`  ${name.padEnd(34)} ${ds.length} dispatches  ${fmt(await time(ds, reps))}`);
      if (process.env.EACH) for (const d of ds) console.log(`      ${d.label} ${fmt(await time([d], reps))}`);
      layer = layer.concat(ds);
    }
    console.log(`  all stats of the layer: ${layer.length} dispatches  ${fmt(await time(layer, reps))}`);
    all.push(...layer);
  }
  const model: Dispatch[] = [];
  for (let b = 0; b < 6; b++) model.push(...all);
  console.log(`24 layers (6 blocks × 4): ${model.length} dispatches  ${fmt(await time(model, Math.max(1, Math.floor(reps / 2))))}`);
  console.log(`metrics record per layer set: ${base} floats (${(base * 4 / 1024).toFixed(1)} KiB), ×6 blocks = ${(base * 6 * 4 / 1024).toFixed(1)} KiB`);
});
