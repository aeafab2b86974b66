/**
 * The primary's side of the audit link: every proxy worker's ToWorker message goes to the one writer
 * wrapped with the worker's id, and the writer's answer goes back to that worker. One writer, one chain,
 * whatever the number of workers; a worker still answers a client only after the ack for its row.
 * The writer is SQLite's writer thread, or on PostgreSQL the primary's store (pg-writer-link.ts).
 */
import type { Worker as ClusterWorker } from 'node:cluster';
import type { FromWorker, Relayed, ToWorker } from '../../audit/worker-protocol.js';
import type { FromProxyWorker, ToProxyWorker } from './messages.js';

/** What the relay needs of the writer: a worker_threads Worker has this shape. */
export interface WriterLink {
  postMessage(message: Relayed<ToWorker>): void;
  on(event: 'message', listener: (raw: FromWorker | Relayed<FromWorker>) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
}

export class AuditRelay {
  private readonly workers = new Map<number, ClusterWorker>();
  private goneMessage: string | null = null;

  constructor(
    /** The writer's `ready`, as each worker asks for it. */
    private readonly ready: () => Extract<FromWorker, { type: 'ready' }>,
    private readonly writer: WriterLink,
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
      else this.send(worker, { sg: 'audit', m: this.ready() });
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
