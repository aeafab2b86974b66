/**
 * Keeps the WAL checkpoint off the commit path. SQLite's automatic checkpoint runs inside the commit that
 * crosses its threshold (1000 pages): that batch, and every batch queued behind it, waits for the WAL to be
 * copied into the database and fsynced, which was the tail of the commit wait. Here a thread of its own
 * (checkpoint-worker.ts) checkpoints after every `everyRows` committed rows, while the writer goes on.
 *
 * The writer's own automatic checkpoint stays, with a higher threshold (WRITER_AUTOCHECKPOINT_PAGES): it
 * bounds the WAL if this thread falls behind or fails, and then has little left to copy. A checkpoint only
 * moves committed pages from one file to the other, so a failure here never loses a row; it is logged.
 */
import { Worker } from 'node:worker_threads';
import { workerScript } from '../worker-script.js';
import type { AuditLogger } from './sqlite-store.js';

/** The writer's autocheckpoint while this thread runs: the WAL stays below ~40 MB (4 KiB pages) whatever happens. */
export const WRITER_AUTOCHECKPOINT_PAGES = 10_000;
/** Committed rows between two checkpoints: a few hundred pages of WAL, copied while the writer commits on. */
export const CHECKPOINT_EVERY_ROWS = 2000;

type FromCheckpointer =
  | { type: 'ready' }
  | { type: 'done'; busy: number; log: number; checkpointed: number }
  | { type: 'failed'; error: string };

export class BackgroundCheckpointer {
  private busy = true; // until 'ready'
  private rowsSince = 0;
  private gaveUp = false;
  private readonly exited: Promise<void>;
  checkpoints = 0;

  private closing = false;

  private constructor(
    private readonly worker: Worker,
    private readonly logger: AuditLogger | undefined,
    private readonly everyRows: number,
    /** Called once when this thread gives up: the writer goes back to checkpointing as often as before. */
    private readonly onGiveUp: () => void,
  ) {
    this.exited = new Promise((resolve) =>
      worker.once('exit', () => {
        if (!this.closing) this.failed('the checkpoint thread stopped');
        resolve();
      }),
    );
    worker.on('message', (m: FromCheckpointer) => this.onMessage(m));
    worker.on('error', (err) => this.failed(err.message));
    worker.unref();
  }

  /** Starts the thread, or returns null (logged) when it cannot: the writer then checkpoints as before. */
  static start(
    path: string,
    onGiveUp: () => void,
    everyRows = CHECKPOINT_EVERY_ROWS,
    logger?: AuditLogger,
  ): BackgroundCheckpointer | null {
    const script = workerScript(import.meta.url, 'checkpoint-worker.js');
    if (!script.built) {
      logger?.warn(
        { script: script.path },
        'audit: WAL checkpointer not built; the writer checkpoints itself',
      );
      return null;
    }
    const worker = new Worker(script.path, { workerData: { path } });
    return new BackgroundCheckpointer(worker, logger, everyRows, onGiveUp);
  }

  /** After each commit: asks for a checkpoint once enough rows went into the WAL and none is running. */
  committed(rows: number): void {
    this.rowsSince += rows;
    this.askIfDue();
  }

  private askIfDue(): void {
    if (this.busy || this.rowsSince < this.everyRows) return;
    this.busy = true;
    this.rowsSince = 0;
    this.worker.postMessage('checkpoint');
  }

  /** Lets a running checkpoint finish, then closes the thread's connection (before the writer closes its own). */
  async close(): Promise<void> {
    this.closing = true;
    this.worker.postMessage('close');
    await this.exited;
  }

  private onMessage(m: FromCheckpointer): void {
    if (this.gaveUp) return;
    if (m.type === 'failed') return this.failed(m.error);
    this.busy = false;
    if (m.type === 'done') this.checkpoints++;
    // Rows committed while it started or ran (a burst that then stopped) are not left waiting for the next.
    this.askIfDue();
  }

  /** Any failure ends it: no more asks, and the writer checkpoints itself as it did before this thread. */
  private failed(error: string): void {
    if (this.gaveUp) return;
    this.gaveUp = true;
    this.busy = true;
    this.logger?.warn(
      { err: error },
      'audit: background WAL checkpoint failed; the writer checkpoints itself',
    );
    this.onGiveUp();
  }
}
