// The 2:4 sparsity lab: trains dense, one-shot, progressive and Sparse-QAT (with distillation) on the same
// model, data, seed and step budget in its own Web Worker (src/app/sparsity-worker.ts, the engine's
// sparsity/recipes-run.ts) and shows the loss curves overlaid with the prune points, the share of zeros
// of every sparse weight matrix, the mask pattern of a chosen matrix (zoomable, groups of 4 along the
// reduction dimension) and how much of the dense validation loss each sparse recipe recovers. The
// recipes are those of NVIDIA's 2:4 sparsity article (../shared/docs/sources.md §2). The page never
// touches the GPU: a lab is one worker, and Cancel terminates it.
import { type MouseEvent, useCallback, useEffect, useId, useMemo, useReducer, useRef, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { architectureOf, PRECISION_LABELS, PRECISIONS, PRESET_CHOICES, type PresetChoice, presetDefaults } from '../config';
import { loadCheckpoint } from '../persist';
import {
  cellAt,
  cellColor,
  curveChartData,
  DEFAULT_LAB_CONFIG,
  describePhases,
  effectiveBatch,
  fitZoom,
  formatGap,
  INITIAL_LAB_STATE,
  isBusy,
  type LabConfig,
  type LabState,
  labProblems,
  labProgress,
  labRecipes,
  LAB_DATASETS,
  labReducer,
  layerBarData,
  maskStats,
  OUTLINE_ZOOM,
  phasePreview,
  pruneMarkers,
  RECIPE_COLORS,
  RECIPE_KEYS,
  RECIPE_LABELS,
  recoverySummary,
  shortLayerName,
  SPARSITY_RECIPES,
  type SparsityRecipeName,
  stepZoom,
  type TeacherChoice,
} from '../sparsity-lab';
import type { FromSparsityWorker, ToSparsityWorker, WeightMatrix } from '../sparsity-messages';
import { useAppStore } from '../store';
import { Explain } from './Explain';
import { NumberField } from './NumberField';
import './SparsityLab.css';
import { DisclosurePanel } from './DisclosurePanel';
import { useJobWorker } from './useJobWorker';

const SOURCE_NOTE = (
  <p className="muted small sparsity-source">
    Source: NVIDIA&apos;s article on fine-grained 2:4 structured sparsity and how to train for it (the project&apos;s sources, §2: one-shot and
    progressive recipes, Sparse-QAT with distillation). Measured at this playground&apos;s scale: <code>docs/results-sparsity.md</code>.
  </p>
);

function pct(v: number, digits = 1): string {
  return `${(v * 100).toFixed(digits)}%`;
}

// ---------------------------------------------------------------------------------------------------
// The form

interface TeacherOption {
  id: string;
  label: string;
  choice: TeacherChoice;
}

function useTeacherOptions(): TeacherOption[] {
  const runs = useAppStore((s) => s.runs);
  return useMemo(
    () =>
      runs
        .filter((r) => r.status === 'done')
        .map((r) => ({
          id: r.id,
          label: `${r.label}${r.result ? ` (val loss ${r.result.valLoss.toFixed(3)})` : ''}`,
          choice: { kind: 'run' as const, runId: r.id, label: r.label, preset: r.config.preset, dataset: r.config.dataset, architecture: architectureOf(r.config) },
        })),
    [runs],
  );
}

function PhaseField({ config, recipe, disabled, onChange }: { config: LabConfig; recipe: 'oneshot' | 'progressive'; disabled: boolean; onChange(text: string): void }) {
  const id = useId();
  const preview = phasePreview(config, recipe);
  const used = recipe === 'oneshot' ? config.recipes.includes('oneshot') : config.recipes.includes('progressive') || config.recipes.includes('sparse-qat');
  const value = recipe === 'oneshot' ? config.oneshotPhases : config.progressivePhases;
  return (
    <div className="field">
      <label htmlFor={id}>{recipe === 'oneshot' ? 'One-shot phases: dense, 2:4' : 'Progressive phases: dense, 25%, 2:4'}</label>
      <input
        id={id}
        type="text"
        value={value}
        disabled={disabled || !used}
        aria-invalid={used && 'error' in preview}
        aria-describedby={`${id}-hint`}
        data-testid={`sparsity-phases-${recipe}`}
        onChange={(e) => onChange(e.target.value)}
      />
      <small id={`${id}-hint`} className={used && 'error' in preview ? 'hint invalid' : 'hint'} data-testid={`sparsity-phases-${recipe}-preview`}>
        {!used ? 'not used by the chosen recipes' : 'error' in preview ? preview.error : describePhases(preview.phases)}
      </small>
    </div>
  );
}

function LabForm({ config, setConfig, disabled, onValidity }: { config: LabConfig; setConfig(c: LabConfig): void; disabled: boolean; onValidity(field: string, ok: boolean): void }) {
  const teachers = useTeacherOptions();
  const ids = { dataset: useId(), preset: useId(), precision: useId(), schedule: useId(), teacher: useId() };
  const set = (patch: Partial<LabConfig>) => setConfig({ ...config, ...patch });
  const toggle = (r: SparsityRecipeName, on: boolean) => set({ recipes: SPARSITY_RECIPES.filter((x) => (x === r ? on : config.recipes.includes(x))) });
  const teacherValue = config.teacher.kind === 'run' ? config.teacher.runId : 'lab';
  const defaults = presetDefaults(config.preset);
  const stepsValidity = useCallback((ok: boolean) => onValidity('steps', ok), [onValidity]);
  const batchValidity = useCallback((ok: boolean) => onValidity('batch', ok), [onValidity]);
  const seedValidity = useCallback((ok: boolean) => onValidity('seed', ok), [onValidity]);
  return (
    <div className="sparsity-form">
      <fieldset className="choices" disabled={disabled}>
        <legend>Recipes (same model, data order, seed and step budget)</legend>
        {SPARSITY_RECIPES.map((r) => (
          <label key={r} className="inline">
            <input type="checkbox" data-testid={`sparsity-recipe-${r}`} checked={config.recipes.includes(r)} onChange={(e) => toggle(r, e.target.checked)} />
            <span className="swatch" style={{ background: RECIPE_COLORS[r] }} aria-hidden="true" />
            {RECIPE_LABELS[r]}
          </label>
        ))}
      </fieldset>
      <div className="sparsity-fields">
        <div className="field">
          <label htmlFor={ids.dataset}>Dataset</label>
          <select id={ids.dataset} value={config.dataset} disabled={disabled} data-testid="sparsity-dataset" onChange={(e) => set({ dataset: e.target.value })}>
            {LAB_DATASETS.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.preset}>Model</label>
          <select id={ids.preset} value={config.preset} disabled={disabled} data-testid="sparsity-preset" onChange={(e) => set({ preset: e.target.value as PresetChoice })}>
            {PRESET_CHOICES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.precision}>Precision (dense, one-shot, progressive)</label>
          <select id={ids.precision} value={config.precision} disabled={disabled} data-testid="sparsity-precision" onChange={(e) => set({ precision: e.target.value as LabConfig['precision'] })}>
            {PRECISIONS.map((p) => (
              <option key={p} value={p}>
                {PRECISION_LABELS[p]}
              </option>
            ))}
          </select>
        </div>
        <NumberField label="Steps per recipe" value={config.steps} min={1} max={20000} integer disabled={disabled} testId="sparsity-steps" onChange={(v) => v !== undefined && set({ steps: v })} onValidity={stepsValidity} />
        <NumberField
          label="Batch"
          value={config.batchSize}
          placeholder={String(defaults.batchSize)}
          min={1}
          max={256}
          integer
          optional
          disabled={disabled}
          testId="sparsity-batch"
          onChange={(v) => set({ batchSize: v })}
          onValidity={batchValidity}
        />
        <NumberField label="Seed" value={config.seed} min={0} max={4294967295} integer disabled={disabled} testId="sparsity-seed" onChange={(v) => v !== undefined && set({ seed: v })} onValidity={seedValidity} />
      </div>
      <div className="sparsity-fields">
        <PhaseField config={config} recipe="oneshot" disabled={disabled} onChange={(t) => set({ oneshotPhases: t })} />
        <PhaseField config={config} recipe="progressive" disabled={disabled} onChange={(t) => set({ progressivePhases: t })} />
        <div className="field">
          <label htmlFor={ids.schedule}>Learning rate between phases</label>
          <select id={ids.schedule} value={config.schedule} disabled={disabled} data-testid="sparsity-schedule" onChange={(e) => set({ schedule: e.target.value as LabConfig['schedule'] })}>
            <option value="restart">restarts each phase</option>
            <option value="continue">one schedule for the run</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.teacher}>Sparse-QAT&apos;s teacher</label>
          <select
            id={ids.teacher}
            value={teacherValue}
            disabled={disabled || !config.recipes.includes('sparse-qat')}
            data-testid="sparsity-teacher"
            onChange={(e) => set({ teacher: teachers.find((t) => t.id === e.target.value)?.choice ?? { kind: 'lab' } })}
          >
            <option value="lab">this lab&apos;s dense run</option>
            {teachers.map((t) => (
              <option key={t.id} value={t.id}>
                finished run: {t.label}
              </option>
            ))}
          </select>
          <small className="hint">This lab&apos;s dense run trains first; a finished run of the runs list must be the same model on the same dataset.</small>
        </div>
      </div>
      <p className="hint sparsity-note">
        Fractions (0.5, 0.5), percentages (50%, 50%) or step counts summing to the steps. Sparse-QAT runs on FP32 weights that it fake-quantizes
        to INT8 itself, so the precision applies to the other recipes. Batch {effectiveBatch(config)}, learning rate {defaults.lr} (the
        preset&apos;s).
      </p>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------------
// Status

function StatusLine({ state }: { state: LabState }) {
  const { done, total } = labProgress(state);
  let text: string;
  switch (state.phase) {
    case 'idle':
      text = 'Not run yet.';
      break;
    case 'starting':
      text = state.plan.length ? 'Checked; starting a GPU device in the lab worker…' : 'Checking the configs and loading the dataset…';
      break;
    case 'running': {
      const i = state.plan.findIndex((p) => p.recipe === state.current);
      const steps = state.current ? (state.curves[state.current]?.length ?? 0) : 0;
      text = state.current
        ? `Recipe ${i + 1} of ${state.plan.length}: ${RECIPE_LABELS[state.current]}, step ${steps} of ${state.plan[i]?.steps ?? '?'}`
        : 'Preparing…';
      break;
    }
    case 'done':
      text = `Done in ${state.seconds !== null ? `${state.seconds.toFixed(1)} s` : '?'}: ${Object.keys(state.results).length} recipe${Object.keys(state.results).length === 1 ? '' : 's'} trained and evaluated.`;
      break;
    case 'cancelled':
      text = 'Cancelled.';
      break;
    case 'error':
      text = 'Stopped by an error.';
      break;
  }
  return (
    <div className="job-status">
      <span data-testid="sparsity-status" data-phase={state.phase} className={state.phase === 'error' ? 'phase-error' : state.phase === 'done' ? 'phase-done' : undefined}>
        {text}
      </span>
      {isBusy(state) && total > 0 && (
        <progress data-testid="sparsity-progress" value={done} max={total} aria-label={`${done} of ${total} steps done`}>
          {done} of {total}
        </progress>
      )}
    </div>
  );
}

function errorTitle(kind: NonNullable<LabState['error']>['kind']): string {
  switch (kind) {
    case 'config':
      return 'Configuration error';
    case 'teacher':
      return 'Teacher error';
    case 'dataset':
      return 'Dataset error';
    case 'unavailable':
      return 'WebGPU is not available';
    case 'out-of-memory':
      return 'Out of GPU memory';
    case 'device-lost':
      return 'The GPU device was lost';
    default:
      return 'The lab failed';
  }
}

// ---------------------------------------------------------------------------------------------------
// View 1: loss curves

function CurvesView({ state }: { state: LabState }) {
  const [smooth, setSmooth] = useState(true);
  const data = useMemo(() => curveChartData(state.curves, smooth ? 0.9 : 0), [state.curves, smooth]);
  const markers = useMemo(() => pruneMarkers(state.plan), [state.plan]);
  const drawn = SPARSITY_RECIPES.filter((r) => state.curves[r]?.length);
  const maxStep = Math.max(1, ...state.plan.map((p) => p.steps));
  const summary = `Training loss of ${drawn.map((r) => RECIPE_LABELS[r]).join(', ') || 'no recipe yet'} over ${maxStep} steps; prune points at ${markers.map((m) => `after step ${m.after} (${m.label})`).join('; ') || 'none'}.`;
  return (
    <section className="sparsity-view" aria-labelledby="sparsity-curves-heading">
      <div className="panel-head">
        <h3 id="sparsity-curves-heading">Loss curves, overlaid</h3>
        <label className="inline">
          <input type="checkbox" checked={smooth} onChange={(e) => setSmooth(e.target.checked)} data-testid="sparsity-smooth" /> smooth (moving average)
        </label>
      </div>
      <div className="chart" data-testid="sparsity-curves" data-lines={drawn.length} data-markers={markers.length} role="img" aria-label={summary}>
        <ResponsiveContainer width="100%" height={300}>
          <LineChart data={data} margin={{ top: 28, right: 16, bottom: 8, left: 0 }}>
            <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
            <XAxis dataKey="step" type="number" domain={[0, maxStep]} allowDecimals={false} tick={{ fontSize: 12 }} label={{ value: 'step', position: 'insideBottomRight', offset: -4, fontSize: 12 }} />
            <YAxis type="number" domain={['auto', 'auto']} tick={{ fontSize: 12 }} tickFormatter={(v: number) => v.toFixed(2)} width={48} />
            <Tooltip formatter={(v) => (typeof v === 'number' ? v.toFixed(4) : String(v))} labelFormatter={(s) => `step ${s}`} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            {markers.map((m, i) => (
              <ReferenceLine key={m.x} x={m.x} stroke={m.color} strokeDasharray="5 4" label={{ value: `prune ${i + 1}`, position: 'top', fontSize: 11, fill: m.color }} />
            ))}
            {drawn.map((r) => (
              <Line key={r} dataKey={RECIPE_KEYS[r]} name={RECIPE_LABELS[r]} type="linear" stroke={RECIPE_COLORS[r]} strokeWidth={2} dot={false} connectNulls isAnimationActive={false} />
            ))}
          </LineChart>
        </ResponsiveContainer>
        {drawn.length === 0 && <div className="chart-empty">The training loss of each recipe appears here as it trains.</div>}
      </div>
      {markers.length > 0 && (
        <ol className="small sparsity-markers" data-testid="sparsity-markers">
          {markers.map((m) => (
            <li key={m.x} style={{ color: m.color }}>
              after step {m.after}: {m.label.replace(/^prune: /, '')}
            </li>
          ))}
        </ol>
      )}
      <Explain title="One-shot vs progressive: what the dashed lines mean">
        Every recipe starts with the same dense training (same seed, same batches), so the curves lie on top of each other until the first
        dashed line, a <b>prune point</b>. <b>One-shot</b> removes half the weights at once, the 2 smallest |w| of every group of 4, and retrains with
        the mask fixed and the same optimizer and learning-rate schedule again: the jump in loss right after the line is what retraining must
        win back. <b>Progressive</b> removes a quarter first (the smallest of each group), fine-tunes, then recomputes the mask on the 3
        survivors to reach 2:4: each cut is smaller and the network adapts in between. The article reports that progressive recovers better
        than one-shot in the same number of iterations; at this tiny scale the difference is often within seed noise (see the summary).
        Smoothing is a bias-corrected moving average (β = 0.9) of the per-step losses.
      </Explain>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------------
// View 2: per-layer sparsity

function LayersView({ state }: { state: LabState }) {
  const data = useMemo(() => layerBarData(state.results), [state.results]);
  const recipes = SPARSITY_RECIPES.filter((r) => state.results[r]);
  const bars = data.length * recipes.length;
  const summary = `Share of zero weights per sparse weight matrix: ${data.map((d) => `${d.layer} ${recipes.map((r) => `${RECIPE_LABELS[r]} ${typeof d[RECIPE_KEYS[r]] === 'number' ? (d[RECIPE_KEYS[r]] as number).toFixed(1) : '—'}%`).join(', ')}`).join('; ')}`;
  return (
    <section className="sparsity-view" aria-labelledby="sparsity-layers-heading">
      <h3 id="sparsity-layers-heading">Per-layer sparsity</h3>
      <div className="chart" data-testid="sparsity-layers" data-bars={bars} role="img" aria-label={summary}>
        {bars === 0 ? (
          <div className="chart-empty sparsity-empty">The share of zeros of every sparse weight matrix appears here when a recipe finishes.</div>
        ) : (
          <ResponsiveContainer width="100%" height={320}>
            <BarChart data={data} margin={{ top: 16, right: 64, bottom: 8, left: 0 }} barCategoryGap="18%">
              <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" vertical={false} />
              <XAxis dataKey="layer" tick={{ fontSize: 11 }} interval={0} angle={-35} textAnchor="end" height={78} />
              <YAxis domain={[0, 100]} ticks={[0, 25, 50, 75, 100]} tickFormatter={(v: number) => `${v}%`} tick={{ fontSize: 11 }} width={44} />
              <Tooltip formatter={(v) => (typeof v === 'number' ? `${v.toFixed(2)}% zeros` : String(v))} labelFormatter={(l, p) => `${l} (${(p?.[0]?.payload as { shape?: string } | undefined)?.shape ?? ''})`} />
              <Legend wrapperStyle={{ fontSize: 12 }} />
              <ReferenceLine y={50} stroke="#b42318" strokeDasharray="5 4" label={{ value: '2:4 = 50%', position: 'right', fontSize: 11, fill: '#b42318' }} />
              {recipes.map((r) => (
                <Bar key={r} dataKey={RECIPE_KEYS[r]} name={RECIPE_LABELS[r]} fill={RECIPE_COLORS[r]} isAnimationActive={false} />
              ))}
            </BarChart>
          </ResponsiveContainer>
        )}
      </div>
      <Explain title="Which matrices go sparse, and why 50%">
        The bars are the share of weights that are exactly zero in each block linear layer: attention&apos;s query-key-value projection (
        <code>attn.c_attn</code>) and output projection (<code>attn.c_proj</code>), the MLP&apos;s expansion (<code>mlp.c_fc</code>) and
        contraction (<code>mlp.c_proj</code>), per layer <code>h0</code>, <code>h1</code>, …. These are the matrix products a sparse tensor
        core would run; the embeddings and the output head stay dense. A 2:4 matrix has exactly 2 zeros in every group of 4, so every sparse
        recipe ends on the 50% line (a kept weight that landed on 0.0 exactly would add a hair); dense stays at 0%.
      </Explain>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------------
// View 3: the mask pattern

function MaskCanvas({ matrix, zoom }: { matrix: WeightMatrix; zoom: number }) {
  const ref = useRef<HTMLCanvasElement | null>(null);
  const stats = useMemo(() => maskStats(matrix), [matrix]);
  const [hover, setHover] = useState<string | null>(null);
  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const { rows, cols, data } = matrix;
    canvas.width = cols * zoom;
    canvas.height = rows * zoom;
    // From 12 px on, a 1 px gap between the cells of a group, so that each weight reads as its own.
    const size = zoom >= 12 ? zoom - 1 : zoom;
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        ctx.fillStyle = cellColor(data[r * cols + c], stats.maxAbs);
        ctx.fillRect(c * zoom, r * zoom, size, size);
      }
    }
    if (zoom >= OUTLINE_ZOOM) {
      // Each group of 4 along a row (the reduction dimension) outlined.
      ctx.strokeStyle = '#3e4c59';
      ctx.lineWidth = 1;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c += 4) ctx.strokeRect(c * zoom + 0.5, r * zoom + 0.5, 4 * zoom - 1, zoom - 1);
    }
  }, [matrix, zoom, stats.maxAbs]);
  const onMove = (e: MouseEvent<HTMLCanvasElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const cell = cellAt(e.clientX - rect.left, e.clientY - rect.top, zoom, matrix.rows, matrix.cols);
    if (!cell) return setHover(null);
    const v = matrix.data[cell.row * matrix.cols + cell.col];
    const g = Math.floor(cell.col / 4);
    let zeros = 0;
    for (let j = 4 * g; j < Math.min(4 * g + 4, matrix.cols); j++) if (matrix.data[cell.row * matrix.cols + j] === 0) zeros++;
    setHover(`output ${cell.row}, input ${cell.col} (group ${g}, position ${cell.col % 4}): w = ${v === 0 ? '0 (pruned)' : `${v.toPrecision(4)} (kept)`}; this group has ${zeros} zero${zeros === 1 ? '' : 's'}`);
  };
  return (
    <>
      <div className="mask-scroll">
        <canvas
          ref={ref}
          data-testid="mask-canvas"
          data-zoom={zoom}
          data-rows={matrix.rows}
          data-cols={matrix.cols}
          data-outlined={zoom >= OUTLINE_ZOOM}
          onMouseMove={onMove}
          onMouseLeave={() => setHover(null)}
          role="img"
          aria-label={`Mask of ${matrix.name}: ${matrix.rows} outputs by ${matrix.cols} inputs, ${stats.pruned} of ${matrix.rows * matrix.cols} weights pruned; groups of 4 by zeros: ${stats.groupsByZeros.map((n, z) => `${z} zeros ${n}`).join(', ')}`}
        />
      </div>
      <p className="small mask-readout" data-testid="mask-readout" aria-live="polite">
        {hover ?? 'Point at a weight to read it.'}
      </p>
      <p className="small" data-testid="mask-stats">
        {stats.pruned} of {matrix.rows * matrix.cols} weights pruned ({pct(stats.pruned / (matrix.rows * matrix.cols))}); groups of 4 with 0/1/2/3/4 zeros:{' '}
        {stats.groupsByZeros.join(' / ')} of {stats.groups}.
      </p>
    </>
  );
}

function MaskView({ state, onReadNow }: { state: LabState; onReadNow(): void }) {
  const available = SPARSITY_RECIPES.filter((r) => state.snapshots[r]);
  const [recipe, setRecipe] = useState<SparsityRecipeName | null>(null);
  const [layer, setLayer] = useState<string | null>(null);
  const [zoom, setZoom] = useState<number | null>(null);
  const wrapRef = useRef<HTMLDivElement | null>(null);
  const ids = { recipe: useId(), layer: useId() };
  // Default: the latest sparse recipe read back (the mask is the point), else whatever there is.
  const shown = recipe && state.snapshots[recipe] ? recipe : ([...available].reverse().find((r) => r !== 'dense') ?? available[0] ?? null);
  const snapshot = shown ? state.snapshots[shown]! : null;
  const matrix = snapshot ? (snapshot.layers.find((l) => l.name === layer) ?? snapshot.layers[0]) : null;
  const fit = matrix ? fitZoom(matrix.rows, matrix.cols, Math.max(200, (wrapRef.current?.clientWidth ?? 640) - 24)) : 1;
  const z = zoom ?? fit;
  return (
    <section className="sparsity-view wide" aria-labelledby="sparsity-mask-heading" ref={wrapRef} data-testid="sparsity-mask-view">
      <h3 id="sparsity-mask-heading">Mask pattern of one weight matrix</h3>
      <div className="mask-controls">
        <div className="field">
          <label htmlFor={ids.recipe}>Recipe</label>
          <select id={ids.recipe} value={shown ?? ''} disabled={!available.length} data-testid="mask-recipe" onChange={(e) => setRecipe(e.target.value as SparsityRecipeName)}>
            {available.map((r) => (
              <option key={r} value={r}>
                {RECIPE_LABELS[r]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.layer}>Layer</label>
          <select id={ids.layer} value={matrix?.name ?? ''} disabled={!snapshot} data-testid="mask-layer" onChange={(e) => (setLayer(e.target.value), setZoom(null))}>
            {snapshot?.layers.map((l) => (
              <option key={l.name} value={l.name}>
                {shortLayerName(l.name)} ({l.rows}×{l.cols})
              </option>
            ))}
          </select>
        </div>
        <div className="mask-zoom" role="group" aria-label="Zoom">
          <button type="button" data-testid="mask-zoom-out" disabled={!matrix} onClick={() => matrix && setZoom(stepZoom(matrix.rows, matrix.cols, z, -1))} aria-label="Zoom out">
            −
          </button>
          <span className="small nowrap" data-testid="mask-zoom">
            {z} px per weight
          </span>
          <button type="button" data-testid="mask-zoom-in" disabled={!matrix} onClick={() => matrix && setZoom(stepZoom(matrix.rows, matrix.cols, z, 1))} aria-label="Zoom in">
            +
          </button>
          <button type="button" disabled={!matrix || zoom === null} onClick={() => setZoom(null)}>
            Fit
          </button>
        </div>
        <button type="button" data-testid="mask-read-now" disabled={state.phase !== 'running' || !state.current || state.snapshotPending} onClick={onReadNow}>
          {state.snapshotPending ? 'Reading back…' : 'Read the running recipe’s weights now'}
        </button>
      </div>
      {snapshot && matrix ? (
        <>
          <p className="small" data-testid="mask-caption">
            {RECIPE_LABELS[snapshot.recipe]} after step {snapshot.step} ({snapshot.phase}
            {snapshot.final ? ', the end of the recipe' : ', read back on request'}): <code>{matrix.name}</code>, {matrix.rows} outputs (rows) ×{' '}
            {matrix.cols} inputs (columns, the reduction dimension).{' '}
            <span className="mask-key">
              <span className="swatch" style={{ background: cellColor(1, 1) }} aria-hidden="true" />
              kept (darker: larger |w|)
              <span className="swatch" style={{ background: cellColor(0, 1), border: '1px solid #cbd2d9' }} aria-hidden="true" />
              pruned (0)
            </span>
          </p>
          <MaskCanvas matrix={matrix} zoom={z} />
        </>
      ) : (
        <div className="chart-empty sparsity-empty" data-testid="mask-empty">
          The weights of each recipe are read back from the GPU when it finishes, or when you ask during a run.
        </div>
      )}
      <Explain title="Why 2 of every 4 along the reduction dimension">
        Each cell is one weight of <i>W</i> [outputs × inputs]; a layer computes <i>Y</i> = <i>X</i>·<i>W</i>ᵀ, so every output is a dot product
        along a row of <i>W</i>: the inputs are the <b>reduction dimension</b>. NVIDIA&apos;s sparse tensor cores (Ampere and later) take a
        matrix in which every group of 4 consecutive weights along that dimension has at least 2 zeros, stored compressed as the 2 kept values
        plus a 2-bit position each; the hardware picks the 2 matching inputs of each 4 and does <b>half the multiply-adds</b>, with about half
        the weight memory. Grouping along the reduction keeps every output a plain (shorter) dot product, which is why the pattern is per row
        and not per column. Zoom in to see the outlined groups: each holds 2 blue (kept, the larger |w| when the mask was computed) and 2 grey
        (pruned) cells. The engine multiplies the compressed storage in the 2:4 phase too (half the products), and keeps the pruned weights
        exactly at zero after every optimizer step (masked gradients and masked Adam moments).
      </Explain>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------------
// View 4: the summary

function SummaryView({ state }: { state: LabState }) {
  const summary = useMemo(() => recoverySummary(state.results), [state.results]);
  const anyAccuracy = summary.rows.some((r) => r.accuracy !== null);
  const d = summary.progressiveMinusOneshot;
  return (
    <section className="sparsity-view wide" aria-labelledby="sparsity-summary-heading">
      <h3 id="sparsity-summary-heading">What the sparse recipes recover</h3>
      {summary.rows.length === 0 ? (
        <div className="chart-empty sparsity-empty">Each recipe&apos;s final validation loss and its gap to dense appear here when it finishes.</div>
      ) : (
        <div className="table-wrap">
          <table className="summary sparsity-summary" data-testid="sparsity-summary">
            <caption>Final validation loss (the fixed validation set, plain cross-entropy) and the gap to dense, (val − dense) / dense</caption>
            <thead>
              <tr>
                <th scope="col">Recipe</th>
                <th scope="col" className="num">
                  Val loss
                </th>
                <th scope="col" className="num">
                  Gap to dense
                </th>
                <th scope="col">Target</th>
                {anyAccuracy && (
                  <th scope="col" className="num">
                    Task accuracy
                  </th>
                )}
                <th scope="col" className="num">
                  Zeros
                </th>
                <th scope="col" className="num">
                  Groups with &lt; 2 zeros
                </th>
                <th scope="col">Forward product</th>
              </tr>
            </thead>
            <tbody>
              {summary.rows.map((r) => (
                <tr key={r.recipe} data-testid="sparsity-summary-row" data-recipe={r.recipe} data-within={r.withinTarget === null ? '' : String(r.withinTarget)}>
                  <th scope="row">
                    <span className="swatch" style={{ background: RECIPE_COLORS[r.recipe] }} aria-hidden="true" />
                    {r.label}
                  </th>
                  <td className="num">{r.valLoss.toFixed(4)}</td>
                  <td className="num">{r.recipe === 'dense' ? '—' : r.gap === null ? 'no dense run' : formatGap(r.gap)}</td>
                  <td>
                    {r.target === null ? (
                      '—'
                    ) : r.withinTarget === null ? (
                      `≤ ${pct(r.target, 0)}`
                    ) : (
                      <b className={r.withinTarget ? 'sparsity-ok' : 'sparsity-bad'}>
                        {r.withinTarget ? '✓' : '✗'} ≤ {pct(r.target, 0)}
                      </b>
                    )}
                  </td>
                  {anyAccuracy && <td className="num">{r.accuracy === null ? '—' : pct(r.accuracy)}</td>}
                  <td className="num">{pct(r.zeroShare)}</td>
                  <td className="num">{r.recipe === 'dense' ? '—' : r.groupsViolating}</td>
                  <td className="small">{r.compressedForward === null ? 'dense' : r.compressedForward ? 'compressed 2:4 (half the products)' : 'dense product of the masked matrix'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {d !== null && (
        <p className="small" data-testid="sparsity-order">
          Progressive {d < 0 ? `recovered more than one-shot (${formatGap(d)} of the dense loss)` : d === 0 ? 'and one-shot recovered the same' : `recovered less than one-shot (${formatGap(d)} of the dense loss)`} in the
          same budget{d > 0 ? '; the article found the opposite at scale. One seed at this size is noisy: try others.' : '.'}
        </p>
      )}
      <Explain title="Targets, and what distillation adds">
        The issue&apos;s targets: one-shot and progressive within 2% of the dense validation loss, Sparse-QAT with distillation within 3%.{' '}
        <b>Sparse-QAT</b> trains the progressive recipe while fake-quantizing weights and activations to INT8 in the forward pass (scale chosen
        so that 99.99% of the values fall inside the range; the backward passes gradients straight through inside the clip range and zero
        outside), so the model learns to live with both the mask and INT8. It also learns from the dense model as a <b>teacher</b>{' '}
        (knowledge distillation): half its loss is the cross-entropy with the data, half the KL divergence from the teacher&apos;s softened
        next-character distribution (temperature 2), plus the squared error between the last layer&apos;s hidden states (MiniLM-style). The
        teacher&apos;s full distribution says more per example than the one right answer, which is why a distilled student can even beat its
        teacher at this scale. The teacher must be the same model (architecture and sizes) on the same characters.
      </Explain>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------------
// The lab

function LabBody() {
  const [state, dispatch] = useReducer(labReducer, INITIAL_LAB_STATE);
  const [config, setConfig] = useState<LabConfig>(DEFAULT_LAB_CONFIG);
  const [invalid, setInvalid] = useState<string[]>([]);
  const problems = useMemo(() => labProblems(config), [config]);
  const job = useJobWorker<FromSparsityWorker, ToSparsityWorker>('sparsity', dispatch);
  const onValidity = useCallback((field: string, ok: boolean) => setInvalid((xs) => (ok ? xs.filter((x) => x !== field) : xs.includes(field) ? xs : [...xs, field])), []);

  const run = async () => {
    if (problems.length || invalid.length) return;
    job.stop();
    dispatch({ type: 'start' });
    let teacher: { label: string; bytes: Uint8Array } | undefined;
    if (config.recipes.includes('sparse-qat') && config.teacher.kind === 'run') {
      const t = config.teacher;
      const bytes = useAppStore.getState().checkpoints[t.runId] ?? (await loadCheckpoint(t.runId).catch(() => null));
      // Without weights the worker reports the teacher error (before any GPU work).
      if (bytes) teacher = { label: t.label, bytes: bytes.slice() };
    }
    job.start(
      () => new Worker(new URL('../sparsity-worker.ts', import.meta.url), { type: 'module', name: 'sparsity-lab' }),
      { type: 'run', config, baseUrl: document.baseURI, teacher },
      teacher ? [teacher.bytes.buffer] : [],
    );
  };

  const cancel = () => {
    job.stop();
    dispatch({ type: 'cancel' });
  };

  const readNow = () => {
    if (job.post({ type: 'snapshot' })) dispatch({ type: 'request-snapshot' });
  };

  const busy = isBusy(state);
  const order = labRecipes(config);
  const added = order.filter((r) => !config.recipes.includes(r));
  const started = state.phase !== 'idle';
  return (
    <div className="sparsity-body">
      <p>
        NVIDIA&apos;s sparse tensor cores skip half the multiply-adds of a matrix product when every group of 4 consecutive weights along the
        reduction dimension holds at least 2 zeros (<b>2:4 sparsity</b>). Pruning half the weights costs accuracy; the recipes below are ways to
        train for the pattern and win it back. The lab trains each chosen recipe on the same model, data order, seed and step budget, in its
        own worker on this GPU, and compares them.
      </p>
      <LabForm config={config} setConfig={setConfig} disabled={busy} onValidity={onValidity} />
      {added.length > 0 && (
        <p className="hint" data-testid="sparsity-added">
          {added.map((r) => RECIPE_LABELS[r]).join(', ')} runs first: Sparse-QAT distills from this lab&apos;s dense run.
        </p>
      )}
      {(problems.length > 0 || invalid.length > 0) && (
        <div className="error" role="alert" data-testid="sparsity-problems">
          <b>Fix these before running:</b>
          <ul>
            {invalid.length > 0 && <li>the marked fields ({invalid.join(', ')}) hold no valid number</li>}
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}
      <div className="buttons">
        <button type="button" className="primary" data-testid="sparsity-run" onClick={() => void run()} disabled={busy || problems.length > 0 || invalid.length > 0}>
          {state.phase === 'idle' ? 'Run the lab' : 'Run again'}
        </button>
        <button type="button" data-testid="sparsity-cancel" onClick={cancel} disabled={!busy}>
          Cancel
        </button>
      </div>
      <StatusLine state={state} />
      {state.plan.length > 0 && (
        <div className="detail" data-testid="sparsity-plan">
          <b>Plan:</b> {state.model} on {state.dataset}; {state.plan.map((p) => `${RECIPE_LABELS[p.recipe]} (${p.precision}${p.phases.length ? `: ${describePhases(p.phases)}` : `, ${p.steps} steps`})`).join('; ')}
          {state.teacher && <>; Sparse-QAT&apos;s teacher: {state.teacher}</>}.
          {state.adapter && (
            <span className="muted" data-testid="sparsity-adapter">
              {' '}
              GPU: {state.adapter}
            </span>
          )}
        </div>
      )}
      {Object.keys(state.kernelPaths).length > 0 && (
        <details className="small sparsity-paths">
          <summary>Kernel paths</summary>
          <ul>
            {SPARSITY_RECIPES.filter((r) => state.kernelPaths[r]).map((r) => (
              <li key={r}>
                <b>{RECIPE_LABELS[r]}:</b> {state.kernelPaths[r]}
                {state.descriptions[r] ? ` — ${state.descriptions[r]}` : ''}
              </li>
            ))}
          </ul>
        </details>
      )}
      {state.error && (
        <div className="error" role="alert" data-testid="sparsity-error" data-kind={state.error.kind}>
          <b>{errorTitle(state.error.kind)}.</b> {state.error.message}
          {state.error.kind === 'unavailable' && <> Use Chrome or Edge 113+ (on Linux start it with --enable-unsafe-webgpu --enable-features=Vulkan), Safari 26+ or Firefox 141+.</>}
          {state.error.kind === 'out-of-memory' && <> Choose the tiny model or a smaller batch, or close other tabs that use the GPU, and run again.</>}
        </div>
      )}
      {started && (
        <div className="sparsity-views">
          <CurvesView state={state} />
          <LayersView state={state} />
          <SummaryView state={state} />
          <MaskView state={state} onReadNow={readNow} />
        </div>
      )}
      {SOURCE_NOTE}
    </div>
  );
}

/** Collapsed until opened: no worker starts until Run is pressed; closing it keeps a lab run going. */
export function SparsityLab() {
  return (
    <DisclosurePanel title="2:4 sparsity lab: dense vs one-shot vs progressive vs Sparse-QAT" testId="sparsity-lab" keepMounted>
      {() => <LabBody />}
    </DisclosurePanel>
  );
}

