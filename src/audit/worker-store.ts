/**
 * The AuditStore the proxy uses: rows go to a writer thread (writer-worker.ts) in one message per event-loop
 * turn, packed into one string (wire-batch.ts), and record() resolves when the writer says the row's
 * transaction committed (one acknowledgement per batch). Measured: with the writer on the main thread the
 * commit (fsync included) took a fifth of the proxy's event loop.
 *
 * Outcomes wait for the next batch of rows, or OUTCOME_DELAY_MS when no row comes: a turn with only
 * outcomes would otherwise cost a message and a wake-up of the writer of its own (close() sends them all).
 */
import { Worker } from 'node:worker_threads';
import { SchoolgateError } from '../errors.js';
import { workerScript } from '../worker-script.js';
import type { AlertWrite, StoredAlert } from './alerts-table.js';
import type { AuditOpenReport } from './open-checked.js';
import {
  FailureClock,
  type AuditStoreFailure,
  type AuditStoreWhere,
  type ServingAuditStore,
} from './serving-store.js';
import type { AccessEntry } from './report-access.js';
import type { SigningState } from './signing-state.js';
import type { AuditLogger } from './sqlite-store.js';
import { threadTransport, type AuditTransport } from './transport.js';
import type { AuditEvent, AuditOutcome } from './types.js';
import { encodeBatch, type OutcomeUpdate } from './wire-batch.js';
import { errorFromWire, type FromWorker, type ToWorker, type WorkerOptions } from './worker-protocol.js';

/** How long outcomes alone wait for rows to ride with. Short: a crash loses at most this much of them. */
const OUTCOME_DELAY_MS = 20;

interface Waiter {
  resolve: () => void;
  reject: (err: SchoolgateError) => void;
}

export class WorkerAuditStore implements ServingAuditStore {
  private records: AuditEvent[] = [];
  /** The callers of `records`, in the same order. */
  private waiters: Waiter[] = [];
  private updates: OutcomeUpdate[] = [];
  /** Batches posted and not yet acknowledged: their callers, in the order of their rows. */
  private readonly inFlight = new Map<number, Waiter[]>();
  private nextBatch = 1;
  private flushScheduled = false;
  private outcomeTimer: NodeJS.Timeout | null = null;
  private healthy_ = true;
  private lastError_: SchoolgateError | null = null;
  private readonly failures = new FailureClock();
  private closing: Promise<void> | null = null;
  private dead: SchoolgateError | null = null;
  private workerQueue = 0;
  private nextAsk = 1;
  private readonly asked = new Map<
    number,
    { resolve: (answer: StoredAlert[] | number | undefined) => void; reject: (err: SchoolgateError) => void }
  >();
  /** close() waits here until every batch and question it sent is answered. */
  private drained: (() => void) | null = null;

  private constructor(
    /** The link to the writer: its thread here, or the primary's relay in a cluster worker. */
    readonly transport: AuditTransport,
    private readonly logger: AuditLogger | undefined,
    /** What the writer's check at open found and did (start-check.ts, open-checked.ts). */
    readonly opened: AuditOpenReport | null,
    private signing_: SigningState | null,
    /** Where the writer records, when it is not this SQLite file (a primary's PostgreSQL store). */
    private readonly where_?: AuditStoreWhere,
  ) {
    transport.onMessage((m) => this.onMessage(m));
    transport.onGone((err) => {
      if (!this.closing) this.fail(err);
    });
  }

  /** Starts the writer thread and waits until its database is open (or reports why it is not). */
  static open(options: WorkerOptions & { logger?: AuditLogger }): Promise<WorkerAuditStore> {
    const { logger, ...workerData } = options;
    const worker = new Worker(writerScript(), { workerData });
    const started = new Promise<never>((_, reject) =>
      worker.once('error', (err) => reject(unavailable(`audit writer failed to start: ${err.message}`))),
    );
    return Promise.race([started, WorkerAuditStore.connect(threadTransport(worker), logger)]);
  }

  /** Waits for the writer's `ready` on a transport (a cluster worker's link to the primary's writer). */
  static connect(transport: AuditTransport, logger?: AuditLogger): Promise<WorkerAuditStore> {
    return new Promise((resolve, reject) => {
      const off = transport.onMessage((m) => {
        if (m.type === 'log') return void logFrom(logger, m);
        off();
        if (m.type === 'ready')
          resolve(new WorkerAuditStore(transport, logger, m.opened, m.signing, m.where));
        else if (m.type === 'open-error') {
          transport.abandon();
          reject(errorFromWire(m.error));
        }
      });
    });
  }

  get healthy(): boolean {
    return this.healthy_ && !this.dead;
  }

  /** Whether the writer signs checkpoints (signing-state.ts): for `status` and /healthz. */
  get signing(): SigningState | null {
    return this.signing_;
  }

  get lastError(): SchoolgateError | null {
    return this.lastError_;
  }

  get where(): AuditStoreWhere {
    return this.where_ ?? { kind: 'sqlite', path: this.opened?.path ?? '' };
  }

  get failure(): AuditStoreFailure | null {
    return this.failures.failure(this.dead ?? this.lastError_);
  }

  get queueDepth(): number {
    return this.records.length + this.updates.length + this.workerQueue;
  }

  record(event: AuditEvent): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(unavailable('the audit store is closing'));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.records.push(event);
      this.scheduleFlush();
    });
  }

  complete(id: string, outcome: AuditOutcome): void {
    if (this.dead) return;
    this.updates.push({ id, outcome });
    if (this.records.length === 0 && this.outcomeTimer === null) {
      this.outcomeTimer = setTimeout(() => this.flush(), OUTCOME_DELAY_MS);
      this.outcomeTimer.unref();
    }
  }

  /**
   * Writes a safeguarding alert on the writer thread (never on the proxy's event loop); resolves when it
   * is committed. Rejects with SG_AUDIT_UNAVAILABLE when it cannot be written.
   */
  writeAlert(alert: AlertWrite): Promise<void> {
    return this.askWriter({ type: 'alert', seq: 0, alert }).then(() => undefined);
  }

  /** Alerts first raised at or after `since`: the alerts engine reopens its windows from them at start. */
  recentAlerts(since: number): Promise<StoredAlert[]> {
    return this.askWriter({ type: 'recent-alerts', seq: 0, since }).then((a) => (Array.isArray(a) ? a : []));
  }

  /** Writes a report_access entry on the writer thread; resolves with its id once committed. */
  recordAccess(entry: AccessEntry): Promise<number> {
    return this.askWriter({ type: 'access', seq: 0, entry }).then((id) => Number(id));
  }

  private askWriter(
    message: Extract<ToWorker, { seq: number }>,
  ): Promise<StoredAlert[] | number | undefined> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(unavailable('the audit store is closing'));
    const seq = this.nextAsk++;
    return new Promise((resolve, reject) => {
      this.asked.set(seq, { resolve, reject });
      this.post({ ...message, seq });
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.flush();
      if (this.dead) return;
      if (this.inFlight.size > 0 || this.asked.size > 0)
        await new Promise<void>((resolve) => (this.drained = resolve));
      const error = await this.transport.close();
      if (error) this.logger?.error({ code: error.code }, error.message);
    })();
    return this.closing;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outcomeTimer !== null) clearTimeout(this.outcomeTimer);
    this.outcomeTimer = null;
    if (this.dead || (this.records.length === 0 && this.updates.length === 0)) return;
    const batch = this.nextBatch++;
    if (this.records.length > 0) this.inFlight.set(batch, this.waiters);
    this.post({ type: 'batch', batch, packed: encodeBatch(this.records, this.updates) });
    this.records = [];
    this.waiters = [];
    this.updates = [];
  }

  private post(message: ToWorker): void {
    this.transport.post(message);
  }

  private checkDrained(): void {
    if (this.drained && this.inFlight.size === 0 && this.asked.size === 0) this.drained();
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'acks':
        return this.acknowledged(m);
      case 'alert-done':
      case 'access-done': {
        const ask = this.asked.get(m.seq);
        this.asked.delete(m.seq);
        if (m.error) ask?.reject(errorFromWire(m.error));
        else ask?.resolve(m.type === 'alert-done' ? m.alerts : m.id);
        return this.checkDrained();
      }
      case 'signing':
        this.signing_ = m.signing;
        return;
      case 'log':
        return logFrom(this.logger, m);
      default:
        return;
    }
  }

  private acknowledged(m: Extract<FromWorker, { type: 'acks' }>): void {
    this.workerQueue = m.queueDepth;
    this.healthy_ = m.healthy;
    this.failures.note(m.healthy);
    const waiters = this.inFlight.get(m.batch) ?? [];
    this.inFlight.delete(m.batch);
    const whole = m.error && errorFromWire(m.error);
    const failed = new Map(m.failed.map((f) => [f.index, errorFromWire(f.error)]));
    waiters.forEach((waiter, index) => {
      const err = whole ?? failed.get(index);
      if (err) waiter.reject(err);
      else waiter.resolve();
    });
    const first = whole ?? failed.values().next().value;
    if (first) this.lastError_ = first;
    this.checkDrained();
  }

  /** The writer thread died: nothing can be recorded, so every waiting request fails closed. */
  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = unavailable(`the audit writer stopped: ${err.message}`);
    this.lastError_ = this.dead;
    this.failures.note(false);
    this.logger?.error({ err: err.message }, 'audit writer stopped; refusing requests');
    for (const waiter of this.waiters) waiter.reject(this.dead);
    for (const batch of this.inFlight.values()) for (const waiter of batch) waiter.reject(this.dead);
    this.records = [];
    this.waiters = [];
    for (const ask of this.asked.values()) ask.reject(this.dead);
    this.asked.clear();
    this.inFlight.clear();
    this.drained?.();
  }
}

function unavailable(message: string): SchoolgateError {
  return new SchoolgateError('SG_AUDIT_UNAVAILABLE', message, {
    suggestion: 'check the audit database and the process log, then restart schoolgate',
  });
}

function logFrom(logger: AuditLogger | undefined, m: Extract<FromWorker, { type: 'log' }>): void {
  logger?.[m.level](m.obj, m.msg);
}

/** The compiled writer thread (src/worker-script.ts). */
function writerScript(): string {
  const script = workerScript(import.meta.url, 'writer-worker.js');
  if (!script.built)
    throw new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      `the audit writer is not built: ${script.path} is missing`,
      { suggestion: 'run `npm run build` (npm install and npm test do it)' },
    );
  return script.path;
}
