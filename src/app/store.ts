// The page's state: the chosen run, what the worker reported, and the two actions (train, stop).
// The store talks to the training worker only through typed messages (messages.ts).
import { create } from 'zustand';
import type { StepMetrics } from '../engine/train/trainer';
import type { DatasetChoice, FromWorker, PresetChoice, RunInfo, ToWorker } from './messages';

export type Phase =
  /** Waiting for the worker to report the GPU. */
  | 'probing'
  | 'ready'
  /** No WebGPU or no adapter: nothing can be trained. */
  | 'unavailable'
  | 'starting'
  | 'training'
  | 'stopping'
  | 'evaluating'
  | 'sampling'
  | 'done'
  | 'stopped'
  | 'error';

export interface LossPoint {
  step: number;
  loss: number;
}

export interface RunResult {
  valLoss: number;
  samples: string[];
  steps: number;
  seconds: number;
}

export const DEFAULT_STEPS = 300;
export const MAX_STEPS = 20_000;

export interface AppState {
  dataset: DatasetChoice;
  preset: PresetChoice;
  steps: number;
  /** The dataset of the current or last run (the picker may have changed since). */
  runDataset: DatasetChoice;
  phase: Phase;
  gpuDescription: string | null;
  unavailableMessage: string | null;
  error: string | null;
  info: RunInfo | null;
  /** One point per step record received from the worker. */
  points: LossPoint[];
  latest: StepMetrics | null;
  result: RunResult | null;
  setDataset(dataset: DatasetChoice): void;
  setPreset(preset: PresetChoice): void;
  setSteps(steps: number): void;
  train(): void;
  stop(): void;
}

/** Whether a run is in progress (the pickers and the Train button are locked). */
export function isBusy(phase: Phase): boolean {
  return phase === 'starting' || phase === 'training' || phase === 'stopping' || phase === 'evaluating' || phase === 'sampling';
}

let worker: Worker | null = null;

function send(message: ToWorker): void {
  worker?.postMessage(message);
}

export const useAppStore = create<AppState>()((set, get) => ({
  dataset: 'names',
  preset: 'small',
  steps: DEFAULT_STEPS,
  runDataset: 'names',
  phase: 'probing',
  gpuDescription: null,
  unavailableMessage: null,
  error: null,
  info: null,
  points: [],
  latest: null,
  result: null,
  setDataset: (dataset) => set({ dataset }),
  setPreset: (preset) => set({ preset }),
  setSteps: (steps) => set({ steps: Math.min(MAX_STEPS, Math.max(1, Math.round(steps))) }),
  train: () => {
    const { phase, dataset, preset, steps } = get();
    if (!worker || isBusy(phase) || phase === 'unavailable') return;
    pendingRecords = [];
    set({ phase: 'starting', runDataset: dataset, error: null, info: null, points: [], latest: null, result: null });
    send({ type: 'start', run: { dataset, preset, steps }, baseUrl: document.baseURI });
  },
  stop: () => {
    const { phase } = get();
    if (phase !== 'starting' && phase !== 'training') return;
    set({ phase: 'stopping' });
    send({ type: 'stop' });
  },
}));

/** Step records waiting for the next render: a fast GPU sends hundreds a second, and the chart only
 *  needs to redraw a few times a second. */
const RENDER_INTERVAL_MS = 100;
let pendingRecords: StepMetrics[] = [];
let pendingTimer: ReturnType<typeof setTimeout> | null = null;

function flushRecords(): void {
  if (pendingTimer !== null) clearTimeout(pendingTimer);
  pendingTimer = null;
  if (pendingRecords.length === 0) return;
  const records = pendingRecords;
  pendingRecords = [];
  useAppStore.setState((s) => ({
    points: s.points.concat(records.map((r) => ({ step: r.step, loss: r.loss }))),
    latest: records[records.length - 1],
  }));
}

function handle(message: FromWorker): void {
  const set = useAppStore.setState;
  // Everything after a metrics message (phase changes, results) must not overtake its records.
  if (message.type !== 'metrics') flushRecords();
  switch (message.type) {
    case 'gpu':
      set((s) => ({ gpuDescription: message.description, phase: s.phase === 'probing' ? 'ready' : s.phase }));
      break;
    case 'gpu-unavailable':
      set({ phase: 'unavailable', unavailableMessage: message.message });
      break;
    case 'started':
      set((s) => ({ info: message.info, phase: s.phase === 'stopping' ? 'stopping' : 'training' }));
      break;
    case 'metrics':
      pendingRecords.push(...message.records);
      pendingTimer ??= setTimeout(flushRecords, RENDER_INTERVAL_MS);
      break;
    case 'phase':
      set({ phase: message.phase });
      break;
    case 'done':
      set({ phase: 'done', result: { valLoss: message.valLoss, samples: message.samples, steps: message.steps, seconds: message.seconds } });
      break;
    case 'stopped':
      set({ phase: 'stopped' });
      break;
    case 'error':
      set({ phase: 'error', error: message.message });
      break;
  }
}

/** Starts the training worker (once) and asks it which GPU it has. */
export function connectWorker(): void {
  if (worker) return;
  try {
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  } catch (e) {
    useAppStore.setState({ phase: 'error', error: `could not start the training worker: ${e instanceof Error ? e.message : String(e)}` });
    return;
  }
  worker.onmessage = (event: MessageEvent<FromWorker>) => handle(event.data);
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    useAppStore.setState({ phase: 'error', error: `the training worker failed: ${event.message || 'it could not be loaded'}` });
  };
  send({ type: 'probe' });
}
