import { useId, useMemo, useState } from 'react';
import {
  BYTES_F32,
  type BlockLayout,
  blockOf,
  DEVICE_COUNT,
  type DeviceCoord,
  deviceCoord,
  formatSi,
  type MatmulSharding,
  MESH,
  planShardedMatmul,
  type Shard,
  type ShardField,
  type ShardPlan,
  setShard,
  shardIndex,
  STRATEGIES,
  type StrategyName,
  strategyOf,
} from '../teaching-scale';
import { TeachingPanel } from './PositionalEncodingView';

const SIZES = [256, 512, 1024, 2048, 4096, 8192, 16384];
/** Each matrix is drawn as GRID × GRID cells: a quarter of an axis is the finest split (model, 4 ways). */
const GRID = 4;
const CELL = 12;
/** Shard colours (Okabe–Ito, as the run colours). */
const SHARD_COLORS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#8a6d00', '#56b4e9', '#555555', '#e69f00'];

function bytes(n: number): string {
  return n === 0 ? '0 B' : formatSi(n, 'B');
}

function shardLabel(s: Shard): string {
  return s === null ? 'replicated' : `split by ${s} (${MESH[s]})`;
}

type CellState = 'held' | 'gathered' | 'partial' | 'none';

/** One matrix on one device as GRID × GRID cells coloured by the shard each cell belongs to. */
function MatrixGrid({ name, cells, colorLayout, hatchId, greyHatchId }: { name: string; cells: CellState[]; colorLayout: BlockLayout; hatchId: string; greyHatchId: string }) {
  const size = GRID * CELL;
  return (
    <figure className="mesh-matrix">
      <svg width={size} height={size} aria-hidden="true">
        {cells.map((state, i) => {
          const r = Math.floor(i / GRID), c = i % GRID;
          const color = SHARD_COLORS[shardIndex(colorLayout, (r + 0.5) / GRID, (c + 0.5) / GRID) % SHARD_COLORS.length];
          const x = c * CELL, y = r * CELL;
          if (state === 'none') return <rect key={i} x={x + 0.5} y={y + 0.5} width={CELL - 1} height={CELL - 1} fill="#fff" stroke="#d9dee5" />;
          if (state === 'partial') return <rect key={i} x={x} y={y} width={CELL - 1} height={CELL - 1} fill={`url(#${greyHatchId})`} stroke="#888" strokeWidth={0.5} />;
          return (
            <g key={i}>
              <rect x={x} y={y} width={CELL - 1} height={CELL - 1} fill={color} fillOpacity={state === 'held' ? 1 : 0.35} />
              {state === 'gathered' && <rect x={x} y={y} width={CELL - 1} height={CELL - 1} fill={`url(#${hatchId})`} />}
            </g>
          );
        })}
      </svg>
      <figcaption>{name}</figcaption>
    </figure>
  );
}

function inBlock(b: { r: [number, number]; c: [number, number] }, r: number, c: number): boolean {
  return r >= b.r[0] && r < b.r[1] && c >= b.c[0] && c < b.c[1];
}

/** Cell states of an operand: held before the step, received by all-gather, or not used here. */
function operandCells(stored: BlockLayout, needed: BlockLayout, coord: DeviceCoord): CellState[] {
  const held = blockOf(stored, coord, GRID, GRID), need = blockOf(needed, coord, GRID, GRID);
  return Array.from({ length: GRID * GRID }, (_, i) => {
    const r = Math.floor(i / GRID) + 0.5, c = (i % GRID) + 0.5;
    return inBlock(held, r, c) ? 'held' : inBlock(need, r, c) ? 'gathered' : 'none';
  });
}

/** Cell states of C: kept after the step, or a partial sum sent away by the reduce-scatter. */
function resultCells(plan: ShardPlan, coord: DeviceCoord): CellState[] {
  const computed = blockOf({ rows: plan.compute.m, cols: plan.compute.n }, coord, GRID, GRID), kept = blockOf(plan.c, coord, GRID, GRID);
  return Array.from({ length: GRID * GRID }, (_, i) => {
    const r = Math.floor(i / GRID) + 0.5, c = (i % GRID) + 0.5;
    return inBlock(kept, r, c) ? 'held' : inBlock(computed, r, c) ? 'partial' : 'none';
  });
}

function Device({ plan, device, hatchId, greyHatchId }: { plan: ShardPlan; device: number; hatchId: string; greyHatchId: string }) {
  const coord = deviceCoord(device);
  const received = plan.bytes.total;
  return (
    <li className="mesh-device" data-testid={`mesh-device-${device}`} aria-label={`device ${device}: data ${coord.data}, model ${coord.model}; receives ${bytes(received)}`}>
      <div className="mesh-device-title">
        device {device} <span className="muted">(data {coord.data}, model {coord.model})</span>
      </div>
      <div className="mesh-matrices">
        <MatrixGrid name="A" cells={operandCells(plan.a.stored, plan.a.needed, coord)} colorLayout={plan.a.stored} hatchId={hatchId} greyHatchId={greyHatchId} />
        <span aria-hidden="true">·</span>
        <MatrixGrid name="B" cells={operandCells(plan.b.stored, plan.b.needed, coord)} colorLayout={plan.b.stored} hatchId={hatchId} greyHatchId={greyHatchId} />
        <span aria-hidden="true">→</span>
        <MatrixGrid name="C" cells={resultCells(plan, coord)} colorLayout={plan.c} hatchId={hatchId} greyHatchId={greyHatchId} />
      </div>
      <div className="small">receives {bytes(received)}</div>
    </li>
  );
}

function ShardSelect({ label, value, onChange, testId }: { label: string; value: Shard; onChange(v: Shard): void; testId: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} data-testid={testId} value={value ?? 'none'} onChange={(e) => onChange(e.target.value === 'none' ? null : (e.target.value as Shard))}>
        <option value="none">replicated</option>
        <option value="data">data (2 ways)</option>
        <option value="model">model (4 ways)</option>
      </select>
    </div>
  );
}

function SizeSelect({ label, value, onChange, testId }: { label: string; value: number; onChange(v: number): void; testId: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} data-testid={testId} value={value} onChange={(e) => onChange(Number(e.target.value))}>
        {SIZES.map((s) => (
          <option key={s} value={s}>
            {s.toLocaleString('en')}
          </option>
        ))}
      </select>
    </div>
  );
}

function MeshBody() {
  const [sharding, setSharding] = useState<MatmulSharding>({ ...STRATEGIES['data-model'].sharding, reduce: 'all-reduce' });
  const [dims, setDims] = useState({ M: 2048, K: 1024, N: 4096 });
  const strategyId = useId(), reduceId = useId(), hatchId = useId().replace(/:/g, ''), greyHatchId = useId().replace(/:/g, '');
  const plan = useMemo(() => planShardedMatmul(sharding, dims), [sharding, dims]);
  const strategy = strategyOf(sharding);
  const set = (field: ShardField) => (v: Shard) => setSharding((s) => setShard(s, field, v));
  const gatherText = (g: BlockLayout, which: 'A' | 'B') => {
    const axes = [g.rows, g.cols].filter((a): a is NonNullable<Shard> => a !== null);
    return axes.length === 0 ? `all-gather ${which}: not needed` : `all-gather ${which} over ${axes.join(' and ')}`;
  };
  const { m, k, n } = plan.local;
  const flopsPerByte = plan.bytes.total > 0 ? plan.flops.perDevice / plan.bytes.total : Infinity;
  return (
    <>
      <p>
        Eight devices form a 2 × 4 mesh with two named axes: <b>data</b> (2 devices) and <b>model</b> (4). To spread C[M, N] = A[M, K]·B[K, N] over
        it, each axis of A and B is either split over one mesh axis or copied to every device. The choice decides what each device must fetch
        from the others before its own matmul, and whether the devices finish with pieces of C or with partial sums that still have to be added.
      </p>
      <div className="demo-controls">
        <div className="field">
          <label htmlFor={strategyId}>Sharding</label>
          <select
            id={strategyId}
            data-testid="mesh-strategy"
            value={strategy}
            onChange={(e) => {
              const name = e.target.value as StrategyName | 'custom';
              if (name !== 'custom') setSharding((s) => ({ ...STRATEGIES[name].sharding, reduce: s.reduce }));
            }}
          >
            {(Object.keys(STRATEGIES) as StrategyName[]).map((name) => (
              <option key={name} value={name}>
                {STRATEGIES[name].label}
              </option>
            ))}
            <option value="custom" disabled>
              custom (set below)
            </option>
          </select>
        </div>
        <SizeSelect label="M (rows of A)" value={dims.M} onChange={(M) => setDims((d) => ({ ...d, M }))} testId="mesh-m" />
        <SizeSelect label="K (summed)" value={dims.K} onChange={(K) => setDims((d) => ({ ...d, K }))} testId="mesh-k" />
        <SizeSelect label="N (columns of B)" value={dims.N} onChange={(N) => setDims((d) => ({ ...d, N }))} testId="mesh-n" />
      </div>
      <div className="demo-controls">
        <fieldset className="choices mesh-fieldset">
          <legend>A [M, K]</legend>
          <ShardSelect label="rows (M)" value={sharding.aRows} onChange={set('aRows')} testId="mesh-a-rows" />
          <ShardSelect label="columns (K)" value={sharding.aCols} onChange={set('aCols')} testId="mesh-a-cols" />
        </fieldset>
        <fieldset className="choices mesh-fieldset">
          <legend>B [K, N]</legend>
          <ShardSelect label="rows (K)" value={sharding.bRows} onChange={set('bRows')} testId="mesh-b-rows" />
          <ShardSelect label="columns (N)" value={sharding.bCols} onChange={set('bCols')} testId="mesh-b-cols" />
        </fieldset>
        <div className="field">
          <label htmlFor={reduceId}>Partial sums (when K is split)</label>
          <select id={reduceId} data-testid="mesh-reduce" value={sharding.reduce} disabled={plan.reduce === null} onChange={(e) => setSharding((s) => ({ ...s, reduce: e.target.value as MatmulSharding['reduce'] }))}>
            <option value="all-reduce">all-reduce</option>
            <option value="reduce-scatter">reduce-scatter</option>
          </select>
        </div>
      </div>
      <p className="mesh-summary" data-testid="mesh-summary">
        Each device multiplies [{m.toLocaleString('en')} × {k.toLocaleString('en')}] · [{k.toLocaleString('en')} × {n.toLocaleString('en')}] (
        {formatSi(plan.flops.perDevice, 'FLOP')}) and receives <b>{bytes(plan.bytes.total)}</b>
        {plan.bytes.total > 0 ? ` (A ${bytes(plan.bytes.gatherA)}, B ${bytes(plan.bytes.gatherB)}, partial sums of C ${bytes(plan.bytes.reduce)})` : ''}.
      </p>
      <ul className="mesh-notes" data-testid="mesh-notes">
        {plan.notes.map((t) => (
          <li key={t}>{t}</li>
        ))}
      </ul>
      <svg width={0} height={0} aria-hidden="true" style={{ position: 'absolute' }}>
        <defs>
          <pattern id={hatchId} width={4} height={4} patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
            <line x1={0} y1={0} x2={0} y2={4} stroke="#111" strokeWidth={1} strokeOpacity={0.55} />
          </pattern>
          <pattern id={greyHatchId} width={4} height={4} patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">
            <rect width={4} height={4} fill="#f1f1f1" />
            <line x1={0} y1={0} x2={0} y2={4} stroke="#888" strokeWidth={1} />
          </pattern>
        </defs>
      </svg>
      <div className="mesh-layout">
        <div>
          <div className="mesh-axis-label muted small">model axis → (4 devices per row); data axis ↓ (2 rows)</div>
          <ol className="mesh-grid" aria-label="The 8 devices of the mesh and the blocks of A, B and C each one holds">
            {Array.from({ length: DEVICE_COUNT }, (_, d) => (
              <Device key={d} plan={plan} device={d} hatchId={hatchId} greyHatchId={greyHatchId} />
            ))}
          </ol>
          <p className="muted small mesh-legend">
            <span className="mesh-key held" /> held before the step (A, B) or kept after it (C); colour = which shard{' '}
            <span className="mesh-key gathered" /> fetched by all-gather <span className="mesh-key partial" /> partial sum handed on by the
            reduce-scatter. Each matrix is drawn as 4 × 4 blocks, not to scale.
          </p>
        </div>
        <table className="stats-table mesh-table" data-testid="mesh-bytes">
          <caption>Per device (f32, ring collectives)</caption>
          <tbody>
            <tr>
              <th scope="row">A held</th>
              <td>
                {shardLabel(plan.a.stored.rows)} × {shardLabel(plan.a.stored.cols)}
              </td>
            </tr>
            <tr>
              <th scope="row">B held</th>
              <td>
                {shardLabel(plan.b.stored.rows)} × {shardLabel(plan.b.stored.cols)}
              </td>
            </tr>
            <tr>
              <th scope="row">Local matmul</th>
              <td data-testid="mesh-local">
                [{m.toLocaleString('en')} × {k.toLocaleString('en')}] · [{k.toLocaleString('en')} × {n.toLocaleString('en')}]
              </td>
            </tr>
            <tr>
              <th scope="row">{gatherText(plan.gatherA, 'A')}</th>
              <td className="num" data-testid="mesh-bytes-a" data-value={plan.bytes.gatherA}>
                {bytes(plan.bytes.gatherA)}
              </td>
            </tr>
            <tr>
              <th scope="row">{gatherText(plan.gatherB, 'B')}</th>
              <td className="num" data-testid="mesh-bytes-b" data-value={plan.bytes.gatherB}>
                {bytes(plan.bytes.gatherB)}
              </td>
            </tr>
            <tr>
              <th scope="row">{plan.reduce ? `${plan.reduce.kind} of C over ${plan.reduce.axis}` : 'reduce C: not needed'}</th>
              <td className="num" data-testid="mesh-bytes-reduce" data-value={plan.bytes.reduce}>
                {bytes(plan.bytes.reduce)}
              </td>
            </tr>
            <tr className="total">
              <th scope="row">Bytes received per device</th>
              <td className="num" data-testid="mesh-bytes-total" data-value={plan.bytes.total}>
                {bytes(plan.bytes.total)}
              </td>
            </tr>
            <tr>
              <th scope="row">FLOPs per device</th>
              <td className="num" data-testid="mesh-flops" data-value={plan.flops.perDevice}>
                {formatSi(plan.flops.perDevice, 'FLOP')}
              </td>
            </tr>
            <tr>
              <th scope="row">Sum over the 8 devices</th>
              <td className="num">
                {formatSi(plan.flops.sumOverDevices, 'FLOP')}
                {plan.flops.redundancy === 1 ? ' = 2·M·N·K' : ` = ${plan.flops.redundancy} × 2·M·N·K (repeated work)`}
              </td>
            </tr>
            <tr>
              <th scope="row">FLOPs per byte received</th>
              <td className="num">{Number.isFinite(flopsPerByte) ? flopsPerByte.toFixed(0) : 'no communication'}</td>
            </tr>
          </tbody>
        </table>
      </div>
      <div className="explain-body small">
        <p>
          <b>Reading the picture.</b> A device can multiply its blocks alone only if the K range of its A block matches the K range of its B block.
          When K is split for one operand and not the other, the split one is all-gathered first: each device collects the pieces the other
          devices on that mesh axis hold, so with n devices on the axis it receives (n − 1)/n of the block. When A and B split K the same way,
          every device multiplies its own slices and gets a full-size but partial C block; adding those up across the axis costs a reduce-scatter
          ((n − 1)/n of the block) or an all-reduce (twice that).
        </p>
        <p>
          Splitting A&apos;s rows by data and B&apos;s columns by model needs no communication at all, and the 8 local products add up to exactly
          2·M·N·K. Copying everything everywhere also needs none, but every device does the whole product. Storing the operands fully sharded
          saves memory and pays for it in gathers. Whether a plan is fast depends on the last row: a device can run many FLOPs in the time one
          byte crosses the link between devices, so a plan with few FLOPs per byte waits on the network.
        </p>
        <p className="muted">
          Sizes in bytes assume f32 ({BYTES_F32} bytes per value) and ring algorithms; the counts are what a device receives (it sends as much).
        </p>
      </div>
    </>
  );
}

/** One matmul sharded over a 2×4 device mesh: who holds which blocks, what they gather, what it costs. */
export function MeshView() {
  return (
    <TeachingPanel title="Sharding one matmul over a 2 × 4 device mesh" hideKey="mesh" testId="mesh-view">
      {() => <MeshBody />}
    </TeachingPanel>
  );
}
