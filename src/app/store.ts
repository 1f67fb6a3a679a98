// The page's state (zustand): the config being edited (mirrored in the URL), the runs and what the worker
// reported about them, and the actions. The store talks to the training worker only through typed
// messages (messages.ts); run bookkeeping is the pure reducer in runs.ts.
import { create } from 'zustand';
import { CheckpointError } from '../engine/train/checkpoint';
import type { MeasurementSnapshot } from '../engine/train/measurements';
import { runFromCheckpoint } from '../engine/train/run-checkpoint';
import type { AttentionExample, AttentionSnapshot } from './attention';
import { type CheckpointSummary, checkCheckpointSize, inspectCheckpoint } from './checkpoint-file';
import { type ComparisonChoice, comparisonConfig, configProblems, DEFAULT_COMPARISON, DEFAULT_CONFIG, type PageConfig } from './config';
import { download, fileNameFor, runsToCsv, runsToJson } from './export';
import type { AdapterSummary, FromWorker, RecoverAction, RunSpec, ToWorker } from './messages';
import * as persist from './persist';
import { writeWithinQuota } from './quota';
import { checkRunFileSize, decodeRunFile, encodeRunFile, RunFileError, runFileName } from './run-file';
import { isActive, isFinished, newRun, type RunRecord, reduceRuns } from './runs';
import { type HideableControl, parseUrl, toSearch } from './url';

export interface GpuState {
  status: 'probing' | 'ready' | 'unavailable';
  description: string | null;
  adapter: AdapterSummary | null;
  unavailableMessage: string | null;
}

export interface Notice {
  kind: 'error' | 'info';
  text: string;
}

/** Snapshots kept per run for the step slider (the oldest are dropped beyond this). */
export const MAX_SNAPSHOTS = 400;

export interface AppState {
  gpu: GpuState;
  config: PageConfig;
  compare: ComparisonChoice[];
  hidden: HideableControl[];
  urlProblems: string[];
  runs: RunRecord[];
  /** The worker is running a queue (one run or a comparison). */
  busy: boolean;
  /** Pause was asked for and not yet undone; the run shows 'paused' once the worker confirms. */
  pauseRequested: boolean;
  notice: Notice | null;
  /** The run the detail charts (measurements, samples) show; null = the newest. */
  selectedRunId: string | null;
  hiddenRuns: string[];
  /** The comparison whose table is shown. */
  comparisonGroupId: string | null;
  measurements: Record<string, MeasurementSnapshot[]>;
  /** The latest attention maps of each run (not saved: they are of the model in the worker). */
  attention: Record<string, AttentionSnapshot>;
  /** Why the last example asked for could not be shown, per run. */
  attentionErrors: Record<string, string>;
  checkpoints: Record<string, Uint8Array>;
  upload: CheckpointSummary | null;
  uploadError: string | null;
  /** Why the last run file could not be imported. */
  importError: string | null;
  logScale: boolean;
  /** Config fields whose text is not a usable value right now (Start is refused while any is). */
  invalidFields: string[];
  setFieldValid(field: string, valid: boolean): void;
  setConfig(patch: Partial<PageConfig>): void;
  /** Removes the quantizer overrides (back to the precision's own choices). */
  clearOverrides(): void;
  setCompare(choices: ComparisonChoice[]): void;
  train(): void;
  runComparison(): void;
  pause(): void;
  resume(): void;
  stop(): void;
  reset(): void;
  selectRun(id: string | null): void;
  toggleRunVisible(id: string): void;
  deleteRun(id: string): void;
  setLogScale(on: boolean): void;
  dismissNotice(): void;
  uploadCheckpoint(file: File): Promise<void>;
  startFromUpload(mode: 'evaluate' | 'continue'): void;
  clearUpload(): void;
  exportCsv(ids?: string[]): void;
  exportJson(ids?: string[]): void;
  exportCheckpoint(id: string): Promise<void>;
  /** The answer to a run halted by a NaN: go on with learning rate `lr`, or roll back at the same rate. */
  recover(action: RecoverAction, lr?: number): void;
  /** Asks for the attention maps of `example` (null: the run's default) of a run whose model the worker
   *  holds (the one in progress or the last trained). */
  showAttentionExample(runId: string, example: AttentionExample | null): void;
  /** Downloads the run (config, metrics, samples, events) and its latest checkpoint as one file. */
  exportRun(id: string): Promise<void>;
  importRun(file: File): Promise<void>;
}

let worker: Worker | null = null;
let counter = 0;

function send(message: ToWorker, transfer: Transferable[] = []): void {
  worker?.postMessage(message, transfer);
}

function newId(): string {
  counter += 1;
  return `run-${Date.now().toString(36)}-${counter}`;
}

/** Mirrors the config in the address bar (replaceState: editing a field is not a history entry). */
function writeUrl(state: Pick<AppState, 'config' | 'compare' | 'hidden'>): void {
  if (typeof window === 'undefined') return;
  const search = toSearch(state);
  const url = `${window.location.pathname}${search}${window.location.hash}`;
  if (url !== `${window.location.pathname}${window.location.search}${window.location.hash}`) window.history.replaceState(null, '', url);
}

function selectedRuns(runs: RunRecord[], ids?: string[]): RunRecord[] {
  return ids ? runs.filter((r) => ids.includes(r.id)) : runs;
}

export const useAppStore = create<AppState>()((set, get) => ({
  gpu: { status: 'probing', description: null, adapter: null, unavailableMessage: null },
  config: { ...DEFAULT_CONFIG },
  compare: [...DEFAULT_COMPARISON],
  hidden: [],
  urlProblems: [],
  runs: [],
  busy: false,
  pauseRequested: false,
  notice: null,
  selectedRunId: null,
  hiddenRuns: [],
  comparisonGroupId: null,
  measurements: {},
  attention: {},
  attentionErrors: {},
  checkpoints: {},
  upload: null,
  uploadError: null,
  importError: null,
  logScale: false,
  invalidFields: [],
  setFieldValid: (field, valid) =>
    set((s) => {
      const has = s.invalidFields.includes(field);
      if (valid === !has) return s;
      return { invalidFields: valid ? s.invalidFields.filter((f) => f !== field) : [...s.invalidFields, field] };
    }),
  setConfig: (patch) => {
    set((s) => ({ config: { ...s.config, ...patch } }));
    writeUrl(get());
  },
  clearOverrides: () => {
    set((s) => {
      const config = { ...s.config };
      delete config.forwardQuantizer;
      delete config.backwardQuantizer;
      delete config.bits;
      return { config };
    });
    writeUrl(get());
  },
  setCompare: (compare) => {
    set({ compare });
    writeUrl(get());
  },
  train: () => {
    const { busy, config, gpu } = get();
    if (!worker || busy || gpu.status !== 'ready') return;
    const problems = [...get().invalidFields.map((f) => `${f} is not a valid value`), ...configProblems(config)];
    if (problems.length) {
      set({ notice: { kind: 'error', text: `The configuration cannot run: ${problems.join('; ')}` } });
      return;
    }
    startQueue([{ id: newId(), config: { ...config } }], null);
  },
  runComparison: () => {
    const { busy, config, compare, gpu } = get();
    if (!worker || busy || gpu.status !== 'ready' || compare.length === 0) return;
    const specs = compare.map((choice) => ({ id: newId(), config: comparisonConfig(config, choice) }));
    const problems = specs.flatMap((s) => configProblems(s.config).map((p) => `${s.config.precision}: ${p}`));
    if (problems.length) {
      set({ notice: { kind: 'error', text: `The comparison cannot run: ${problems.join('; ')}` } });
      return;
    }
    startQueue(specs, newId().replace('run-', 'group-'));
  },
  pause: () => {
    if (!get().busy) return;
    set({ pauseRequested: true });
    send({ type: 'pause' });
  },
  resume: () => {
    set({ pauseRequested: false });
    send({ type: 'resume' });
  },
  stop: () => {
    if (!get().busy) return;
    set({ pauseRequested: false });
    send({ type: 'stop' });
  },
  reset: () => {
    if (get().busy) send({ type: 'stop' });
    set({ runs: [], measurements: {}, attention: {}, attentionErrors: {}, checkpoints: {}, selectedRunId: null, hiddenRuns: [], comparisonGroupId: null, notice: null, pauseRequested: false });
    void persist.clearAll();
  },
  selectRun: (id) => set({ selectedRunId: id }),
  toggleRunVisible: (id) => set((s) => ({ hiddenRuns: s.hiddenRuns.includes(id) ? s.hiddenRuns.filter((h) => h !== id) : [...s.hiddenRuns, id] })),
  deleteRun: (id) => {
    const run = get().runs.find((r) => r.id === id);
    if (!run || !isFinished(run.status)) return;
    set((s) => {
      const measurements = { ...s.measurements };
      const checkpoints = { ...s.checkpoints };
      const attention = { ...s.attention };
      delete measurements[id];
      delete checkpoints[id];
      delete attention[id];
      return { runs: s.runs.filter((r) => r.id !== id), measurements, checkpoints, attention, selectedRunId: s.selectedRunId === id ? null : s.selectedRunId };
    });
    void persist.deleteRun(id);
  },
  setLogScale: (logScale) => set({ logScale }),
  dismissNotice: () => set({ notice: null }),
  uploadCheckpoint: async (file) => {
    set({ upload: null, uploadError: null });
    try {
      // Refuse an oversized file before reading it into memory.
      checkCheckpointSize(file.name, file.size);
      const bytes = new Uint8Array(await file.arrayBuffer());
      set({ upload: inspectCheckpoint(file.name, bytes) });
    } catch (e) {
      const reason = e instanceof CheckpointError ? e.message : `could not read ${file.name}: ${e instanceof Error ? e.message : String(e)}`;
      set({ uploadError: reason });
    }
  },
  startFromUpload: (mode) => {
    const { upload, busy, config, gpu } = get();
    if (!upload || !worker || busy || gpu.status !== 'ready') return;
    // The checkpoint fixes the model (its architecture, context and source length) and the dataset; the
    // page's config gives precision and schedule.
    const model = runFromCheckpoint(upload.bytes, upload.name).model;
    const runConfig: PageConfig = { ...config, architecture: model.architecture, dataset: upload.dataset, contextLength: model.contextLength, steps: mode === 'evaluate' ? 0 : config.steps };
    if (model.sourceLength !== undefined) runConfig.sourceLength = model.sourceLength;
    else delete runConfig.sourceLength;
    const problems = configProblems({ ...runConfig, steps: Math.max(1, runConfig.steps) });
    if (problems.length) {
      set({ notice: { kind: 'error', text: `The configuration cannot run: ${problems.join('; ')}` } });
      return;
    }
    const id = newId();
    startQueue([{ id, config: runConfig }], null, upload, `${upload.name} (${mode === 'evaluate' ? 'evaluated' : 'continued'}) · ${runConfig.precision}`);
  },
  clearUpload: () => set({ upload: null, uploadError: null }),
  exportCsv: (ids) => {
    const runs = selectedRuns(get().runs, ids);
    if (runs.length) download(runsToCsv(runs), runs.length === 1 ? fileNameFor(runs[0].label, 'csv') : 'runs.csv', 'text/csv');
  },
  exportJson: (ids) => {
    const runs = selectedRuns(get().runs, ids);
    if (runs.length) download(runsToJson(runs), runs.length === 1 ? fileNameFor(runs[0].label, 'json') : 'runs.json', 'application/json');
  },
  exportCheckpoint: async (id) => {
    const run = get().runs.find((r) => r.id === id);
    const bytes = get().checkpoints[id] ?? (await persist.loadCheckpoint(id));
    if (!run || !bytes) {
      set({ notice: { kind: 'error', text: 'This run has no saved weights (it failed before training, or its weights were not kept).' } });
      return;
    }
    download(bytes as BlobPart, fileNameFor(run.label, 'safetensors'), 'application/octet-stream');
  },
  showAttentionExample: (runId, example) => {
    set((s) => {
      const attentionErrors = { ...s.attentionErrors };
      delete attentionErrors[runId];
      return { attentionErrors };
    });
    send({ type: 'attention-example', runId, example });
  },
  recover: (action, lr) => {
    if (!get().busy) return;
    send({ type: 'recover', action, lr });
  },
  exportRun: async (id) => {
    const run = get().runs.find((r) => r.id === id);
    if (!run) return;
    const checkpoint = get().checkpoints[id] ?? (await persist.loadCheckpoint(id));
    download(encodeRunFile(run, checkpoint ?? null) as BlobPart, runFileName(run.label), 'application/octet-stream');
  },
  importRun: async (file) => {
    set({ importError: null });
    try {
      // Refuse an oversized file before reading it into memory.
      checkRunFileSize(file.name, file.size);
      const { run, checkpoint } = decodeRunFile(file.name, new Uint8Array(await file.arrayBuffer()), newId(), Date.now());
      set((s) => ({
        runs: [...s.runs, run],
        checkpoints: checkpoint ? { ...s.checkpoints, [run.id]: checkpoint } : s.checkpoints,
        selectedRunId: run.id,
        notice: { kind: 'info', text: `Imported ${run.label}: ${run.points.length} steps${checkpoint ? ', with its checkpoint' : ''}.` },
      }));
      await persistWithinQuota(run.id, () => persist.saveRun(run), `the imported run ${run.label}`);
      if (checkpoint) await persistWithinQuota(run.id, () => persist.saveCheckpoint(run.id, checkpoint), `the checkpoint of ${run.label}`);
    } catch (e) {
      set({ importError: e instanceof RunFileError ? e.message : `could not read ${file.name}: ${e instanceof Error ? e.message : String(e)}` });
    }
  },
}));

/** Writes to this browser's storage through the quota policy (quota.ts): when it is full, the saved
 *  checkpoints of the oldest runs go first and metrics and configs stay; the user is told what went. */
async function persistWithinQuota(forRun: string, write: () => Promise<void>, what: string): Promise<void> {
  const runs = useAppStore.getState().runs;
  try {
    const out = await writeWithinQuota(persist, write, forRun, new Map(runs.map((r) => [r.id, r.createdAt])));
    if (out.dropped.length === 0 && out.saved) return;
    const parts: string[] = [];
    if (out.dropped.length) {
      const labels = out.dropped.map((id) => runs.find((r) => r.id === id)?.label ?? 'a deleted run');
      parts.push(`the saved weights of ${out.dropped.length} older run${out.dropped.length > 1 ? 's' : ''} (${labels.join('; ')}) were removed to make room; their metrics and configs are kept`);
    }
    if (!out.saved) parts.push(`${what} could not be saved even so`);
    useAppStore.setState({ notice: { kind: 'info', text: `This browser's storage is full: ${parts.join(', and ')}.` } });
  } catch (e) {
    useAppStore.setState({ notice: { kind: 'info', text: `${what} could not be saved in this browser's storage: ${e instanceof Error ? e.message : String(e)}` } });
  }
}

/** Training checkpoints arrive every checkpointEvery steps, which on a fast GPU is several a second:
 *  the latest is kept in memory at once and written to storage at most this often. */
const CHECKPOINT_SAVE_INTERVAL_MS = 5000;
const checkpointSaveTimers = new Map<string, ReturnType<typeof setTimeout>>();
const lastCheckpointSave = new Map<string, number>();

/** Writes the run's checkpoint as it is in memory when the write happens (so a later final checkpoint
 *  is never overwritten by an older one), now or at the end of the interval. */
function saveCheckpointSoon(runId: string, immediately: boolean): void {
  const pending = checkpointSaveTimers.get(runId);
  if (pending !== undefined && !immediately) return;
  if (pending !== undefined) clearTimeout(pending);
  checkpointSaveTimers.delete(runId);
  const wait = immediately ? 0 : Math.max(0, (lastCheckpointSave.get(runId) ?? 0) + CHECKPOINT_SAVE_INTERVAL_MS - Date.now());
  const save = () => {
    checkpointSaveTimers.delete(runId);
    lastCheckpointSave.set(runId, Date.now());
    const bytes = useAppStore.getState().checkpoints[runId];
    const run = useAppStore.getState().runs.find((r) => r.id === runId);
    if (bytes && run) void persistWithinQuota(runId, () => persist.saveCheckpoint(runId, bytes), `the checkpoint of ${run.label}`);
  };
  if (wait === 0) save();
  else checkpointSaveTimers.set(runId, setTimeout(save, wait));
}

function startQueue(specs: RunSpec[], groupId: string | null, upload?: CheckpointSummary, label?: string): void {
  const now = Date.now();
  const records = specs.map((s, i) => {
    const r = newRun(s.id, s.config, groupId, now + i);
    return label ? { ...r, label } : r;
  });
  pendingMetrics = [];
  useAppStore.setState((s) => ({
    runs: [...s.runs, ...records],
    busy: true,
    pauseRequested: false,
    notice: null,
    selectedRunId: null,
    comparisonGroupId: groupId ?? s.comparisonGroupId,
  }));
  // The upload's bytes are copied, not transferred: the user may start from the same file again.
  send({ type: 'start', runs: specs, baseUrl: document.baseURI, checkpoint: upload ? { bytes: upload.bytes.slice(), name: upload.name } : undefined });
}

/** Metric messages waiting for the next render: a fast GPU sends hundreds a second, and the charts only
 *  need to redraw a few times a second. */
const RENDER_INTERVAL_MS = 100;
let pendingMetrics: FromWorker[] = [];
let pendingTimer: ReturnType<typeof setTimeout> | null = null;

function flushMetrics(): void {
  if (pendingTimer !== null) clearTimeout(pendingTimer);
  pendingTimer = null;
  if (pendingMetrics.length === 0) return;
  const batch = pendingMetrics;
  pendingMetrics = [];
  useAppStore.setState((s) => ({ runs: batch.reduce(reduceRuns, s.runs) }));
  saveActiveSoon();
}

/** Runs in progress are saved every few seconds too, so a reload (or a crash of the tab) loses at most
 *  the last few seconds of a run's metrics; restoreRuns marks them as stopped. */
const SAVE_ACTIVE_INTERVAL_MS = 2000;
let lastActiveSave = 0;

function saveActiveSoon(): void {
  const now = Date.now();
  if (now - lastActiveSave < SAVE_ACTIVE_INTERVAL_MS) return;
  lastActiveSave = now;
  for (const run of useAppStore.getState().runs) {
    if (isActive(run.status) && run.points.length > 0) void persistWithinQuota(run.id, () => persist.saveRun(run), `the run ${run.label}`);
  }
}

function saveFinished(runId: string): void {
  const run = useAppStore.getState().runs.find((r) => r.id === runId);
  if (run && isFinished(run.status)) void persistWithinQuota(run.id, () => persist.saveRun(run), `the run ${run.label}`);
}

function knownRun(runId: string): boolean {
  return useAppStore.getState().runs.some((r) => r.id === runId);
}

/** Applies one message from the worker to the store. Exported for tests of the store's wiring. */
export function handleWorkerMessage(message: FromWorker): void {
  const set = useAppStore.setState;
  if (message.type === 'metrics') {
    pendingMetrics.push(message);
    pendingTimer ??= setTimeout(flushMetrics, RENDER_INTERVAL_MS);
    return;
  }
  // Everything after a metrics message (phase changes, results) must not overtake its records.
  flushMetrics();
  switch (message.type) {
    case 'gpu':
      set((s) => ({ gpu: { ...s.gpu, status: s.gpu.status === 'probing' ? 'ready' : s.gpu.status, description: message.description, adapter: message.adapter } }));
      return;
    case 'gpu-unavailable':
      set((s) => ({ gpu: { ...s.gpu, status: 'unavailable', unavailableMessage: message.message } }));
      return;
    case 'measurements':
      // A run cleared by Reset may still report while the worker stops it: keep nothing of it.
      if (!knownRun(message.runId)) return;
      set((s) => {
        const list = (s.measurements[message.runId] ?? []).concat(message.snapshot);
        return { measurements: { ...s.measurements, [message.runId]: list.slice(-MAX_SNAPSHOTS) } };
      });
      return;
    case 'attention':
      if (!knownRun(message.runId)) return;
      set((s) => {
        const attentionErrors = { ...s.attentionErrors };
        // Maps of the example asked for answer its error; the periodic ones of the default do not.
        if (!message.snapshot.isDefault) delete attentionErrors[message.runId];
        return { attention: { ...s.attention, [message.runId]: message.snapshot }, attentionErrors };
      });
      return;
    case 'attention-error':
      if (!knownRun(message.runId)) return;
      set((s) => ({ attentionErrors: { ...s.attentionErrors, [message.runId]: message.message } }));
      return;
    case 'checkpoint':
      if (!knownRun(message.runId)) return;
      set((s) => ({ checkpoints: { ...s.checkpoints, [message.runId]: message.bytes } }));
      saveCheckpointSoon(message.runId, true);
      return;
    case 'run-checkpoint':
      // The latest training checkpoint stands for the run's weights until the final ones arrive.
      if (!knownRun(message.runId)) return;
      set((s) => ({ runs: reduceRuns(s.runs, message), checkpoints: { ...s.checkpoints, [message.runId]: message.bytes } }));
      saveCheckpointSoon(message.runId, false);
      return;
    case 'run-rewind':
      set((s) => {
        const snapshots = s.measurements[message.runId];
        const measurements = snapshots ? { ...s.measurements, [message.runId]: snapshots.filter((m) => m.step <= message.step) } : s.measurements;
        return { runs: reduceRuns(s.runs, message), measurements };
      });
      return;
    case 'run-halted':
      set((s) => ({ runs: reduceRuns(s.runs, message), pauseRequested: false }));
      saveActiveSoon();
      return;
    case 'run-event':
      set((s) => ({ runs: reduceRuns(s.runs, message), notice: { kind: 'info', text: message.event.text } }));
      return;
    case 'run-error': {
      const kind = message.kind === 'config' ? 'Configuration error' : message.kind === 'checkpoint' ? 'Checkpoint error' : message.kind === 'dataset' ? 'Dataset error' : 'Error';
      set((s) => ({ runs: reduceRuns(s.runs, message), notice: { kind: 'error', text: `${kind}: ${message.message}` } }));
      if (message.runId) saveFinished(message.runId);
      return;
    }
    case 'idle':
      set((s) => ({ runs: reduceRuns(s.runs, message), busy: false, pauseRequested: false }));
      return;
    case 'run-phase':
      set((s) => ({ runs: reduceRuns(s.runs, message), pauseRequested: message.phase === 'paused' ? true : s.pauseRequested }));
      return;
    default:
      set((s) => ({ runs: reduceRuns(s.runs, message) }));
      if (message.type === 'run-done' || message.type === 'run-stopped') saveFinished(message.runId);
  }
}

/** Reads the URL into the store; called once at start-up. */
export function initFromUrl(search: string): void {
  const { config, compare, hidden, problems } = parseUrl(search);
  useAppStore.setState({ config, compare, hidden, urlProblems: problems });
}

/** Restores the finished runs of earlier visits (before any run of this visit starts). */
export async function restoreRuns(): Promise<void> {
  try {
    // A run saved while it was training was cut short by the reload: it comes back as stopped, with the
    // steps it had finished.
    const saved = (await persist.loadRuns()).map((r) => (isFinished(r.status) ? r : { ...r, status: 'stopped' as const, halt: null }));
    if (saved.length === 0) return;
    useAppStore.setState((s) => {
      const ids = new Set(s.runs.map((r) => r.id));
      const runs = [...saved.filter((r) => !ids.has(r.id)), ...s.runs];
      // The newest comparison's table comes back too.
      const lastGroup = [...saved].reverse().find((r) => r.groupId !== null)?.groupId ?? null;
      return { runs, comparisonGroupId: s.comparisonGroupId ?? lastGroup };
    });
  } catch (e) {
    useAppStore.setState({ notice: { kind: 'info', text: `Saved runs could not be read from this browser's storage: ${e instanceof Error ? e.message : String(e)}` } });
  }
}

/** Starts the training worker (once) and asks it which GPU it has. */
export function connectWorker(): void {
  if (worker) return;
  try {
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  } catch (e) {
    useAppStore.setState({ notice: { kind: 'error', text: `could not start the training worker: ${e instanceof Error ? e.message : String(e)}` } });
    return;
  }
  worker.onmessage = (event: MessageEvent<FromWorker>) => handleWorkerMessage(event.data);
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    useAppStore.setState({ busy: false, notice: { kind: 'error', text: `the training worker failed: ${event.message || 'it could not be loaded'}` } });
  };
  send({ type: 'probe' });
}

/** The run the detail views show: the selected one, else the newest run that has started. */
export function detailRun(s: Pick<AppState, 'runs' | 'selectedRunId'>): RunRecord | null {
  if (s.selectedRunId) {
    const r = s.runs.find((x) => x.id === s.selectedRunId);
    if (r) return r;
  }
  for (let i = s.runs.length - 1; i >= 0; i--) if (s.runs[i].status !== 'queued') return s.runs[i];
  return s.runs[s.runs.length - 1] ?? null;
}

/** The run the controls act on and report: the one the worker is on now. */
export function currentRun(s: Pick<AppState, 'runs'>): RunRecord | null {
  for (let i = s.runs.length - 1; i >= 0; i--) {
    const st = s.runs[i].status;
    if (st !== 'queued' && !isFinished(st)) return s.runs[i];
  }
  return null;
}

/** What the e2e tests reach through `window.__playgroundTest` with ?testHooks=1 (main.tsx): things a
 *  user cannot do from the page, such as losing the GPU device or an absurd learning rate. */
export interface TestHooks {
  /** Destroys the worker's GPU device, as a driver reset would. */
  loseDevice(): void;
  /** Starts a run of the page's config with `patch` applied, past the fields' ranges (the engine's own
   *  checks still apply): e.g. { lr: 1e30 } to force a NaN. */
  start(patch: Partial<PageConfig>): void;
  /** The runs' steps and losses, events and halts, as plain data. */
  runs(): { id: string; status: string; steps: number[]; losses: number[]; events: unknown[]; halt: unknown; checkpointStep: number | null }[];
}

declare global {
  interface Window {
    __playgroundTest?: TestHooks;
  }
}

export function installTestHooks(): void {
  window.__playgroundTest = {
    loseDevice: () => send({ type: 'test-lose-device' }),
    start: (patch) => {
      const { busy, gpu, config } = useAppStore.getState();
      if (!worker || busy || gpu.status !== 'ready') throw new Error('the page is not ready to start a run');
      const patched = { ...config, ...patch };
      const problems = configProblems(patched);
      if (problems.length) throw new Error(problems.join('; '));
      startQueue([{ id: newId(), config: patched }], null);
    },
    runs: () =>
      useAppStore.getState().runs.map((r) => ({
        id: r.id, status: r.status, steps: r.points.map((p) => p.step), losses: r.points.map((p) => p.loss),
        events: r.events ?? [], halt: r.halt ?? null, checkpointStep: r.checkpointStep ?? null,
      })),
  };
}
