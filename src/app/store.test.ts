// The store's handling of worker messages, in Node (no IndexedDB: persistence is a no-op here).
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from './config';
import { newRun } from './runs';
import { currentRun, detailRun, handleWorkerMessage, initFromUrl, MAX_SNAPSHOTS, useAppStore } from './store';

const initial = useAppStore.getState();

beforeEach(() => {
  useAppStore.setState(initial, true);
});

describe('store', () => {
  it('reads the URL into the config, hidden controls and problems', () => {
    initFromUrl('?precision=fp16&steps=9&hide=seed&bogus=1');
    const s = useAppStore.getState();
    expect(s.config).toEqual({ ...DEFAULT_CONFIG, precision: 'fp16', steps: 9 });
    expect(s.hidden).toEqual(['seed']);
    expect(s.urlProblems).toHaveLength(1);
  });

  it('goes ready on the GPU report and unavailable without one', () => {
    handleWorkerMessage({ type: 'gpu', description: 'x', adapter: { vendor: 'v', architecture: '', device: '', description: '', isFallbackAdapter: true, features: [] } });
    expect(useAppStore.getState().gpu.status).toBe('ready');
    handleWorkerMessage({ type: 'gpu-unavailable', message: 'no adapter' });
    expect(useAppStore.getState().gpu).toMatchObject({ status: 'unavailable', unavailableMessage: 'no adapter' });
  });

  it('applies buffered metrics before a later message, shows run errors, and ends busy on idle', () => {
    useAppStore.setState({ runs: [newRun('a', DEFAULT_CONFIG, null, 1)], busy: true });
    handleWorkerMessage({ type: 'run-phase', runId: 'a', phase: 'training' });
    handleWorkerMessage({ type: 'metrics', runId: 'a', records: [{ step: 1, loss: 4, gradNorm: 1, lossScale: 1, skipped: false, lr: 1e-3, tokensPerSecond: 10, elapsedSeconds: 1 }] });
    // Still buffered for the next render…
    expect(useAppStore.getState().runs[0].points).toHaveLength(0);
    expect(currentRun(useAppStore.getState())?.id).toBe('a');
    // …and applied before the error that follows it.
    handleWorkerMessage({ type: 'run-error', runId: 'a', kind: 'config', message: 'bits must be an integer from 2 to 8' });
    const s = useAppStore.getState();
    expect(s.runs[0].points).toHaveLength(1);
    expect(s.runs[0].status).toBe('error');
    expect(s.notice).toEqual({ kind: 'error', text: 'Configuration error: bits must be an integer from 2 to 8' });
    handleWorkerMessage({ type: 'idle' });
    expect(useAppStore.getState().busy).toBe(false);
    expect(currentRun(useAppStore.getState())).toBeNull();
    expect(detailRun(useAppStore.getState())?.id).toBe('a');
  });

  it('keeps at most MAX_SNAPSHOTS measurement snapshots per run, the newest, and none of unknown runs', () => {
    handleWorkerMessage({ type: 'measurements', runId: 'a', snapshot: { step: 1, layers: [] } });
    expect(useAppStore.getState().measurements.a).toBeUndefined();
    useAppStore.setState({ runs: [newRun('a', DEFAULT_CONFIG, null, 1)] });
    for (let step = 1; step <= MAX_SNAPSHOTS + 5; step++) handleWorkerMessage({ type: 'measurements', runId: 'a', snapshot: { step, layers: [] } });
    const list = useAppStore.getState().measurements.a;
    expect(list).toHaveLength(MAX_SNAPSHOTS);
    expect(list[list.length - 1].step).toBe(MAX_SNAPSHOTS + 5);
    expect(list[0].step).toBe(6);
  });

  it('marks a run done and keeps its checkpoint bytes', () => {
    useAppStore.setState({ runs: [newRun('a', DEFAULT_CONFIG, null, 1)] });
    handleWorkerMessage({ type: 'run-done', runId: 'a', valLoss: 3, steps: 1, seconds: 1 });
    handleWorkerMessage({ type: 'checkpoint', runId: 'a', bytes: new Uint8Array([1, 2]) });
    const s = useAppStore.getState();
    expect(s.runs[0].status).toBe('done');
    expect(Array.from(s.checkpoints.a)).toEqual([1, 2]);
  });

  it('a training checkpoint stands for the run\'s weights until the final ones replace it', () => {
    useAppStore.setState({ runs: [newRun('a', DEFAULT_CONFIG, null, 1)] });
    handleWorkerMessage({ type: 'run-checkpoint', runId: 'a', step: 100, bytes: new Uint8Array([7]) });
    expect(Array.from(useAppStore.getState().checkpoints.a)).toEqual([7]);
    expect(useAppStore.getState().runs[0].checkpointStep).toBe(100);
    handleWorkerMessage({ type: 'checkpoint', runId: 'a', bytes: new Uint8Array([8, 9]) });
    expect(Array.from(useAppStore.getState().checkpoints.a)).toEqual([8, 9]);
    // Of an unknown (reset) run, nothing is kept.
    handleWorkerMessage({ type: 'run-checkpoint', runId: 'gone', step: 100, bytes: new Uint8Array([1]) });
    expect(useAppStore.getState().checkpoints.gone).toBeUndefined();
  });

  it('a rewind drops the run\'s later measurement snapshots too; a halt and the event that ends it reach the run and the notice', () => {
    useAppStore.setState({ runs: [newRun('a', DEFAULT_CONFIG, null, 1)], busy: true, pauseRequested: true });
    for (const step of [1, 10, 20, 30]) handleWorkerMessage({ type: 'measurements', runId: 'a', snapshot: { step, layers: [] } });
    handleWorkerMessage({ type: 'run-rewind', runId: 'a', step: 20 });
    expect(useAppStore.getState().measurements.a.map((m) => m.step)).toEqual([1, 10, 20]);
    const halt = { step: 25, activation: null, gradients: ['lm_head.weight'], message: 'NaN', lr: 0.5, checkpointStep: 20 };
    handleWorkerMessage({ type: 'run-halted', runId: 'a', halt });
    expect(useAppStore.getState().runs[0]).toMatchObject({ status: 'paused', halt });
    expect(useAppStore.getState().pauseRequested).toBe(false);
    handleWorkerMessage({ type: 'run-event', runId: 'a', event: { kind: 'rollback', step: 20, text: 'rolled back to step 20' } });
    expect(useAppStore.getState().runs[0].halt).toBeNull();
    expect(useAppStore.getState().notice).toEqual({ kind: 'info', text: 'rolled back to step 20' });
  });
  it('keeps the latest attention maps of known runs, and the error of an example until maps of a chosen one arrive', () => {
    const snapshot = (step: number, isDefault: boolean) => ({
      step, architecture: 'decoder' as const, example: { text: 'ab' }, targetFromModel: false, isDefault,
      maps: [{ layer: 0, kind: 'self' as const, name: 'transformer.h.0.attn', causal: true, queries: ['\n', 'a', 'b'], keys: ['\n', 'a', 'b'], padKeys: 0, heads: [new Float32Array(9)] }],
    });
    handleWorkerMessage({ type: 'attention', runId: 'a', snapshot: snapshot(1, true) });
    expect(useAppStore.getState().attention.a).toBeUndefined();
    useAppStore.setState({ runs: [newRun('a', DEFAULT_CONFIG, null, 1)] });
    handleWorkerMessage({ type: 'attention', runId: 'a', snapshot: snapshot(1, true) });
    handleWorkerMessage({ type: 'attention', runId: 'a', snapshot: snapshot(25, true) });
    expect(useAppStore.getState().attention.a.step).toBe(25);
    handleWorkerMessage({ type: 'attention-error', runId: 'a', message: 'the text has "Z", not in the vocabulary' });
    // The periodic maps of the default example leave the error standing…
    handleWorkerMessage({ type: 'attention', runId: 'a', snapshot: snapshot(50, true) });
    expect(useAppStore.getState().attentionErrors.a).toMatch(/"Z"/);
    // …the maps of an example the user chose answer it.
    handleWorkerMessage({ type: 'attention', runId: 'a', snapshot: snapshot(51, false) });
    expect(useAppStore.getState().attentionErrors.a).toBeUndefined();
  });
});
