import { useCallback, useEffect, useRef } from 'react';

/** The messages every job worker (benchmark, sweep, sparsity lab) ends with, and the page's own. */
type Finishing = { type: string };
export type WorkerFailure = { type: 'worker-error'; message: string };

/**
 * One job at a time in its own Web Worker, as the panels that run on the GPU beside the main run use it:
 * `start` ends any job in progress, creates the worker and posts the request; its messages go to
 * `onMessage` until it sends 'done' or 'error' (then it is terminated); a worker that fails to load or
 * sends an unreadable message is reported as `worker-error` naming `what`. Unmounting (leaving the
 * page) ends the job; a panel that is only closed keeps it.
 *
 * `create` must be `() => new Worker(new URL('../x-worker.ts', import.meta.url), …)` written out at the
 * call site: that is the form the bundler finds workers by.
 */
export function useJobWorker<From extends Finishing, To>(what: string, onMessage: (message: From | WorkerFailure) => void) {
  const workerRef = useRef<Worker | null>(null);
  const stop = useCallback(() => {
    workerRef.current?.terminate();
    workerRef.current = null;
  }, []);
  useEffect(() => stop, [stop]);

  const start = useCallback(
    (create: () => Worker, request: To, transfer: Transferable[] = []) => {
      stop();
      let worker: Worker;
      try {
        worker = create();
      } catch (e) {
        onMessage({ type: 'worker-error', message: `could not start the ${what} worker: ${e instanceof Error ? e.message : String(e)}` });
        return;
      }
      workerRef.current = worker;
      const fail = (message: string) => {
        if (workerRef.current !== worker) return;
        onMessage({ type: 'worker-error', message });
        stop();
      };
      worker.onmessage = (event: MessageEvent<From>) => {
        if (workerRef.current !== worker) return;
        onMessage(event.data);
        if (event.data.type === 'done' || event.data.type === 'error') stop();
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        fail(`the ${what} worker failed: ${event.message || 'it could not be loaded'}`);
      };
      worker.onmessageerror = () => fail(`a message from the ${what} worker could not be read`);
      worker.postMessage(request, transfer);
    },
    [what, onMessage, stop],
  );

  /** Posts to the running worker; false when none runs. */
  const post = useCallback((message: To) => {
    if (!workerRef.current) return false;
    workerRef.current.postMessage(message);
    return true;
  }, []);

  return { start, stop, post };
}
