/**
 * The primary's side of the audit link: every proxy worker's ToWorker message goes to the one writer thread
 * wrapped with the worker's id, and the writer's answer goes back to that worker. One writer, one chain,
 * whatever the number of workers; a worker still answers a client only after the ack for its row.
 */
import type { Worker as ClusterWorker } from 'node:cluster';
import type { Worker as ThreadWorker } from 'node:worker_threads';
import type { WorkerAuditStore } from '../../audit/index.js';
import type { FromWorker, Relayed, ToWorker } from '../../audit/worker-protocol.js';
import type { FromProxyWorker, ToProxyWorker } from './messages.js';

export class AuditRelay {
  private readonly workers = new Map<number, ClusterWorker>();
  private goneMessage: string | null = null;

  constructor(
    private readonly store: WorkerAuditStore,
    private readonly writer: ThreadWorker,
  ) {
    writer.on('message', (raw: FromWorker | Relayed<FromWorker>) => {
      if ('via' in raw) return this.send(this.workers.get(raw.via), { sg: 'audit', m: raw.m });
      // Checkpoint signing started or stopped failing: every worker's `status` shows it.
      if (raw.type === 'signing')
        for (const w of this.workers.values()) this.send(w, { sg: 'audit', m: raw });
    });
    const gone = (why: string) => {
      this.goneMessage ??= why;
      for (const w of this.workers.values()) this.send(w, { sg: 'audit-gone', message: why });
    };
    writer.on('error', (err) => gone(`the audit writer stopped: ${err.message}`));
    writer.on('exit', (code) => gone(`the audit writer exited with code ${code}`));
  }

  /** Relays this worker's audit messages from now on (until it exits). */
  attach(worker: ClusterWorker): void {
    this.workers.set(worker.id, worker);
    worker.on('exit', () => this.workers.delete(worker.id));
  }

  /** Handles one of the worker's messages if it is for the audit writer; false otherwise. */
  handle(worker: ClusterWorker, message: FromProxyWorker): boolean {
    if (message.sg === 'audit-hello') {
      if (this.goneMessage) this.send(worker, { sg: 'audit-gone', message: this.goneMessage });
      else
        this.send(worker, {
          sg: 'audit',
          m: { type: 'ready', opened: this.store.opened, signing: this.store.signing },
        });
      return true;
    }
    if (message.sg !== 'audit') return false;
    // The writer is the primary's to close, never a worker's.
    if (message.m.type === 'close') return true;
    this.writer.postMessage({ via: worker.id, m: message.m } satisfies Relayed<ToWorker>);
    return true;
  }

  private send(worker: ClusterWorker | undefined, message: ToProxyWorker): void {
    if (!worker?.isConnected()) return; // it died: its rows were committed or its clients saw an error
    worker.send(message);
  }
}
