/**
 * Group commit: one writer, one queue, one transaction per batch.
 *
 * - A record joins the queue and gets a promise that settles only after the batch holding it committed
 *   (resolve) or failed (reject). Nothing is dropped without its caller hearing about it.
 * - The queue is flushed as soon as the event loop is free (setImmediate), or at once when `maxRows`
 *   records plus updates are waiting, so one commit never holds more than `maxRows` statements and the
 *   event loop is never blocked by a single huge transaction.
 * - Updates (outcomes) ride along with the next batch. Nobody awaits them; if their batch fails they are
 *   put back for the next try, up to a cap beyond which the oldest are discarded with a logged count.
 *
 * The queue knows nothing about SQLite: `commit` is a synchronous function that applies a batch in one
 * transaction or throws, and `toError` turns what it threw into the error given to the waiting callers.
 */

export interface Pending<R> {
  value: R;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface BatchReport {
  records: number;
  updates: number;
  durationMs: number;
  ok: boolean;
  error?: Error;
}

export interface GroupCommitOptions<R, U> {
  maxRows: number;
  /** Applies the batch in ONE transaction, or throws (and has rolled back). */
  commit: (records: R[], updates: U[]) => void;
  toError: (err: unknown) => Error;
  /** Called after every attempted commit, successful or not. */
  onBatch?: (report: BatchReport) => void;
  /** Called when outcome updates are discarded because too many piled up behind failing commits. */
  onUpdatesDiscarded?: (count: number, cause: Error) => void;
  /** Most outcome updates kept for retry while commits fail. Default 10 × maxRows. */
  maxRetainedUpdates?: number;
  /** After a failed commit that left only updates queued, wait this long before retrying. Default 1000. */
  retryDelayMs?: number;
}

export class GroupCommitQueue<R, U> {
  private records: Pending<R>[] = [];
  private updates: U[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly maxRetainedUpdates: number;
  private readonly retryDelayMs: number;

  constructor(private readonly opts: GroupCommitOptions<R, U>) {
    if (!Number.isInteger(opts.maxRows) || opts.maxRows < 1) {
      throw new RangeError(`batch size must be a positive integer, got ${String(opts.maxRows)}`);
    }
    this.maxRetainedUpdates = opts.maxRetainedUpdates ?? opts.maxRows * 10;
    this.retryDelayMs = opts.retryDelayMs ?? 1000;
  }

  get depth(): number {
    return this.records.length + this.updates.length;
  }

  enqueue(value: R): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.records.push({ value, resolve, reject });
      this.afterEnqueue();
    });
  }

  enqueueUpdate(update: U): void {
    this.updates.push(update);
    this.afterEnqueue();
  }

  /**
   * Commits everything queued now, in batches of at most maxRows, synchronously. Returns the error of the
   * last failed batch, if any (its callers have already been rejected).
   */
  flushAll(): Error | null {
    this.cancelScheduled();
    let lastError: Error | null = null;
    // Each failed batch rejects its records, and retained updates are bounded, so this terminates.
    let guard = Math.ceil(this.depth / this.opts.maxRows) + 2;
    while (this.depth > 0 && guard-- > 0) {
      const err = this.flushOnce();
      if (err) lastError = err;
    }
    return lastError;
  }

  private afterEnqueue(): void {
    if (this.depth >= this.opts.maxRows) this.flushOnce();
    this.scheduleNext();
  }

  /**
   * Waiting records are flushed on the next turn of the event loop. Updates left over from a failed commit
   * wait for the next record or for a timer, so a failing disk never makes the writer spin.
   */
  private scheduleNext(afterFailure = false): void {
    if (this.depth === 0) return;
    if (this.records.length > 0 || !afterFailure) {
      if (this.immediate !== null) return;
      this.immediate = setImmediate(() => {
        this.immediate = null;
        const err = this.flushOnce();
        this.scheduleNext(err !== null);
      });
    } else if (this.timer === null && this.immediate === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        const err = this.flushOnce();
        this.scheduleNext(err !== null);
      }, this.retryDelayMs);
      this.timer.unref();
    }
  }

  private cancelScheduled(): void {
    if (this.immediate !== null) clearImmediate(this.immediate);
    if (this.timer !== null) clearTimeout(this.timer);
    this.immediate = null;
    this.timer = null;
  }

  /** One transaction of at most maxRows statements, records first (so an update can follow its insert). */
  private flushOnce(): Error | null {
    if (this.depth === 0) return null;
    const max = this.opts.maxRows;
    const records = this.records.splice(0, max);
    const updates = this.updates.splice(0, max - records.length);
    const started = performance.now();
    try {
      this.opts.commit(
        records.map((p) => p.value),
        updates,
      );
    } catch (thrown) {
      const error = this.opts.toError(thrown);
      const durationMs = performance.now() - started;
      for (const p of records) p.reject(error);
      this.retainUpdates(updates, error);
      this.opts.onBatch?.({ records: records.length, updates: updates.length, durationMs, ok: false, error });
      return error;
    }
    const durationMs = performance.now() - started;
    for (const p of records) p.resolve();
    this.opts.onBatch?.({ records: records.length, updates: updates.length, durationMs, ok: true });
    return null;
  }

  private retainUpdates(failed: U[], cause: Error): void {
    this.updates = failed.concat(this.updates);
    const excess = this.updates.length - this.maxRetainedUpdates;
    if (excess > 0) {
      this.updates.splice(0, excess);
      this.opts.onUpdatesDiscarded?.(excess, cause);
    }
  }
}
