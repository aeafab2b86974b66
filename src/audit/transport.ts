/**
 * How a WorkerAuditStore reaches the one audit writer: a MessagePort to the writer thread in this process
 * (the single-process proxy and the cluster's primary), or the cluster IPC channel to the primary, which
 * relays to that thread (src/app/cluster/audit-relay.ts). The transport carries ToWorker/FromWorker as-is:
 * what a batch holds is the protocol's business, not the transport's.
 */
import type { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './worker-protocol.js';

export interface AuditTransport {
  post(message: ToWorker): void;
  /** Every message from the writer; returns the function that stops listening. */
  onMessage(listener: (message: FromWorker) => void): () => void;
  /** The writer (or the link to it) is gone while the store was not closing: fail closed. */
  onGone(listener: (err: Error) => void): void;
  /**
   * Ends this side once the store's rows are all acknowledged: the thread is asked to commit and close
   * (resolves with its closing error, if any); a cluster worker's link just lets go (the primary's writer
   * stays open for the other workers).
   */
  close(): Promise<{ code: string; message: string } | undefined>;
  /** A writer that refused to open is stopped at once. */
  abandon(): void;
}

/** The writer thread of this process. */
export function threadTransport(worker: Worker): AuditTransport & { thread: Worker } {
  let closing = false;
  return {
    thread: worker,
    post: (message) => worker.postMessage(message),
    onMessage(listener) {
      worker.on('message', listener);
      return () => worker.off('message', listener);
    },
    onGone(listener) {
      worker.on('error', (err) => listener(err));
      worker.on('exit', (code) => {
        if (!closing) listener(new Error(`audit writer exited with code ${code}`));
      });
    },
    close: () => {
      closing = true;
      return new Promise((resolve) => {
        const onClosed = (m: FromWorker) => {
          if (m.type !== 'closed') return;
          worker.off('message', onClosed);
          void worker.terminate().then(() => resolve(m.error));
        };
        worker.on('message', onClosed);
        worker.postMessage({ type: 'close' } satisfies ToWorker);
      });
    },
    abandon: () => void worker.terminate(),
  };
}
