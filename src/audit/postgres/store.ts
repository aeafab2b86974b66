/**
 * The PostgreSQL implementation of AuditStore, for several nodes writing one database (issue 18).
 *
 * Group commit as on SQLite (batch-queue.ts), but asynchronous: records queue while a commit is in flight
 * and form the next batch; each batch is ONE transaction holding one multi-row INSERT (rows.ts) and the
 * node's new chain head, committed with synchronous_commit on (connect.ts). record() resolves only after
 * that COMMIT returned, and rejects with SG_AUDIT_UNAVAILABLE when it failed: fail closed.
 *
 * One hash chain per node (chain.ts's hashing, unchanged): the batch locks only its own node's row in
 * chain_heads, so nodes never wait on each other's head.
 */
import type pg from 'pg';
import { SchoolgateError } from '../../errors.js';
import { GENESIS_HASH } from '../chain.js';
import {
  eventToRow,
  invalidEventReason,
  outcomeToRow,
  type EventRow,
  type OutcomeRow,
} from '../row-mapping.js';
import type { BatchReport } from '../batch-queue.js';
import type { AuditLogger } from '../sqlite-store.js';
import type { AlertWrite, StoredAlert } from '../alerts-table.js';
import {
  FailureClock,
  type AuditStoreFailure,
  type AuditStoreWhere,
  type ServingAuditStore,
} from '../serving-store.js';
import type { AuditEvent, AuditOutcome } from '../types.js';
import { recentPgAlerts, upsertPgAlert } from './alerts.js';
import { describeServer, pgPool, type PgConnectOptions } from './connect.js';
import { listNodes, registerNode, touchNode, type NodeSeen } from './nodes.js';
import { Partitions } from './partitions.js';
import { trialRow, writeBatch } from './commit-batch.js';
import { migratePg } from './schema.js';
import type { SigningState } from '../signing-state.js';
import { PG_CHECKPOINT_EVERY_MS } from './checkpoints.js';
import { PgNodeSigner } from './node-signer.js';

export interface PostgresAuditStoreOptions extends PgConnectOptions {
  /** This node's name: its own chain. */
  node: string;
  /** Most records + outcome updates per transaction. Default 1000. */
  batchMaxRows?: number;
  logger?: AuditLogger;
  onBatch?: (report: BatchReport) => void;
  /** A serving node: registered in `nodes` at open and its last_seen updated this often. Absent: neither. */
  heartbeatMs?: number;
  /**
   * A serving node started while the server is down or unreachable: open anyway, failing closed (every
   * record refused) until a commit reaches the server, which first runs what open would have (setUp).
   */
  openWhileDown?: boolean;
  /**
   * This node's checkpoint signing key (created the first time): the start check verifies the chain's tail
   * against the node's last signed checkpoint before serving, and the head is signed at open, while it
   * moves (checkpointEveryMs) and at close (postgres/checkpoints.ts). Absent: neither (scripts, tests).
   */
  signingKeyFile?: string;
  /** Default PG_CHECKPOINT_EVERY_MS. */
  checkpointEveryMs?: number;
}

interface Pending {
  row: EventRow;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Outcome updates kept for retry while commits fail, as a multiple of batchMaxRows (as on SQLite). */
const RETAINED_UPDATES_FACTOR = 10;

/** check_violation: PostgreSQL's "no partition of relation … found for row". */
const NO_PARTITION = '23514';

export class PostgresAuditStore implements ServingAuditStore {
  readonly node: string;
  private readonly pool: pg.Pool;
  private readonly maxRows: number;
  private readonly partitions = new Partitions();
  private records: Pending[] = [];
  private updates: OutcomeRow[] = [];
  private draining: Promise<void> | null = null;
  private running = false;
  private closing: Promise<void> | null = null;
  private healthy_ = true;
  private lastError_: SchoolgateError | null = null;
  private readonly failures = new FailureClock();
  private heartbeat: NodeJS.Timeout | null = null;
  /** setUp done: at open, or at the first commit that reached the server after a start while it was down. */
  private setUpDone = false;
  /** This node's checkpoint signing (node-signer.ts); null without a key file. */
  private readonly signer: PgNodeSigner | null;

  private constructor(
    pool: pg.Pool,
    private readonly opts: PostgresAuditStoreOptions,
  ) {
    this.pool = pool;
    this.node = opts.node;
    this.maxRows = opts.batchMaxRows ?? 1000;
    this.signer =
      opts.signingKeyFile === undefined
        ? null
        : new PgNodeSigner(opts.node, opts.signingKeyFile, opts.logger, () => this.healthy_);
  }

  /** Connects, brings the schema up to date, makes this month's and next month's partitions. */
  static async open(opts: PostgresAuditStoreOptions): Promise<PostgresAuditStore> {
    const pool = pgPool(opts);
    const store = new PostgresAuditStore(pool, opts);
    try {
      const client = await pool.connect();
      let broken: unknown = undefined;
      try {
        await store.setUp(client);
      } catch (err) {
        broken = err;
        throw err;
      } finally {
        client.release(broken instanceof Error ? broken : undefined);
      }
    } catch (err) {
      if (!(opts.openWhileDown && serverUnreachable(err))) {
        await pool.end().catch(() => undefined);
        throw store.commitError(err);
      }
      store.noteHealth({ ok: false, error: store.commitError(err) });
    }
    if (opts.heartbeatMs !== undefined) store.startHeartbeat(opts.heartbeatMs);
    store.signer?.start(
      opts.checkpointEveryMs ?? PG_CHECKPOINT_EVERY_MS,
      pool,
      () => store.setUpDone && store.healthy_ && !store.closing,
    );
    return store;
  }

  /** Whether this node signs its checkpoints; null where no key was given. */
  get signing(): SigningState | null {
    return this.signer?.state ?? null;
  }

  /** Migrations, this month's and next month's partitions, this node's chain head and its `nodes` row. */
  private async setUp(client: pg.ClientBase): Promise<void> {
    await migratePg(client);
    const now = Date.now();
    await this.partitions.ensure(client, [now, now + 31 * 86_400_000]);
    await client.query(
      `INSERT INTO chain_heads (node, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING`,
      [this.node, GENESIS_HASH],
    );
    if (this.opts.heartbeatMs !== undefined) await registerNode(client, this.node);
    if (this.signer) {
      this.signer.loadKey();
      await this.signer.checkAtStart(client);
      await this.signer.sign(client, 'open');
    }
    this.setUpDone = true;
  }

  get healthy(): boolean {
    return this.healthy_;
  }

  get lastError(): SchoolgateError | null {
    return this.lastError_;
  }

  get where(): AuditStoreWhere {
    return { kind: 'postgres', server: describeServer(this.opts), node: this.node };
  }

  get failure(): AuditStoreFailure | null {
    return this.failures.failure(this.lastError_);
  }

  /** Every node that registered in this database, with how long ago each was last seen. */
  nodes(): Promise<NodeSeen[]> {
    return listNodes(this.pool);
  }

  /** An alert of the engine (upserted by id); rejects with SG_AUDIT_UNAVAILABLE when it cannot be written. */
  async writeAlert(alert: AlertWrite): Promise<void> {
    await upsertPgAlert(this.pool, alert).catch((err: unknown) => {
      throw this.commitError(err);
    });
  }

  async recentAlerts(since: number): Promise<StoredAlert[]> {
    return recentPgAlerts(this.pool, since).catch((err: unknown) => {
      throw this.commitError(err);
    });
  }

  get queueDepth(): number {
    return this.records.length + this.updates.length;
  }

  record(event: AuditEvent): Promise<void> {
    if (this.closing)
      return Promise.reject(
        new SchoolgateError(
          'SG_AUDIT_UNAVAILABLE',
          'The audit store is closed; the event was not recorded.',
          {
            context: { node: this.node, id: event?.id },
          },
        ),
      );
    const invalid = invalidEventReason(event);
    if (invalid)
      return Promise.reject(
        new SchoolgateError('SG_AUDIT_UNAVAILABLE', `Audit event not recorded: ${invalid}.`, {
          context: {
            node: this.node,
            id: (event as Partial<AuditEvent> | null)?.id,
            reason: 'invalid-event',
          },
          suggestion: 'This is a bug in the caller; please report it with the log line.',
        }),
      );
    return new Promise<void>((resolve, reject) => {
      this.records.push({ row: eventToRow(event), resolve, reject });
      this.kick();
    });
  }

  complete(id: string, outcome: AuditOutcome): void {
    if (this.closing || typeof id !== 'string' || outcome === null || typeof outcome !== 'object') return;
    this.updates.push(outcomeToRow(id, outcome, Date.now()));
    this.kick();
  }

  /** Commits everything queued, then closes the pool. Safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.signer?.stop();
      if (this.running) await this.draining;
      if (this.queueDepth > 0) {
        this.running = true;
        await this.drain(false);
      }
      if (this.setUpDone && this.healthy_) await this.signer?.sign(this.pool, 'close');
      await this.pool.end();
    })();
    return this.closing;
  }

  /** last_seen every `ms`; a missed beat (the database down) is only a later last_seen: commits say the health. */
  private startHeartbeat(ms: number): void {
    let beating = false;
    this.heartbeat = setInterval(() => {
      if (beating) return;
      beating = true;
      // Before setUp (started while the server was down) there may be no `nodes` table: the probe sets up.
      void (this.setUpDone ? touchNode(this.pool, this.node) : Promise.resolve())
        .then(() => this.probe())
        .catch(() => undefined)
        .finally(() => (beating = false));
    }, ms);
    this.heartbeat.unref();
  }

  /**
   * While failing, and the database answers again: a trial batch of one row on this node's chain, rolled
   * back, so a node that a load balancer took out of rotation (/healthz 503) comes back without waiting for
   * a request, and only once a row would really go in.
   */
  private probe(): void {
    if (this.healthy_ || this.running || this.closing) return;
    this.running = true;
    this.draining = this.commit([trialRow(this.node, Date.now())], [], true)
      .then(
        () => this.noteHealth({ ok: true }),
        () => undefined, // still failing: the failure shown stays the last batch's
      )
      .finally(() => {
        this.running = false;
        if (this.queueDepth > 0) this.kick(); // queued meanwhile, or outcomes kept from the outage
      });
  }

  /** Starts the commit loop unless it runs; records arriving meanwhile form its next batch. */
  private kick(): void {
    if (this.running) return;
    this.running = true;
    this.draining = this.drain(true);
  }

  /**
   * Commits batches until the queue is empty. `running` is cleared in the same synchronous step that saw
   * the queue empty, so a record queued at any later moment starts a new loop instead of waiting forever.
   */
  private async drain(waitTurn: boolean): Promise<void> {
    try {
      // One turn of the event loop first, so the records of this turn share a commit.
      if (waitTurn) await new Promise<void>((resolve) => setImmediate(resolve));
      for (;;) {
        if (this.records.length === 0 && this.updates.length === 0) break;
        // Left-over updates after a failure wait for the next record: a stopped database must not spin.
        if (!(await this.commitBatch()) && this.records.length === 0) break;
      }
    } finally {
      this.running = false;
    }
  }

  /** Commits one batch; false when it failed (its callers were rejected). */
  private async commitBatch(): Promise<boolean> {
    const records = this.records.splice(0, this.maxRows);
    const updates = this.updates.splice(0, this.maxRows - records.length);
    const started = performance.now();
    const report = { records: records.length, updates: updates.length };
    try {
      await this.commit(
        records.map((p) => p.row),
        updates,
      );
    } catch (thrown) {
      const error = this.commitError(thrown);
      for (const p of records) p.reject(error);
      this.retainUpdates(updates);
      this.noteBatch({ ...report, durationMs: performance.now() - started, ok: false, error });
      return false;
    }
    for (const p of records) p.resolve();
    this.noteBatch({ ...report, durationMs: performance.now() - started, ok: true });
    return true;
  }

  /** One transaction: the rows on this node's chain, the outcome updates, the new head (`trial`: rolled back). */
  private async commit(records: EventRow[], updates: OutcomeRow[], trial = false): Promise<void> {
    const client = await this.pool.connect();
    let broken: unknown = undefined;
    try {
      if (!this.setUpDone) await this.setUp(client);
      if (records.length > 0)
        await this.partitions.ensure(
          client,
          records.map((r) => r.time_ms),
        );
      await writeBatch(client, this.node, records, updates, trial);
    } catch (err) {
      broken = err;
      await client.query('ROLLBACK').catch(() => undefined);
      // No partition for the row: a month made earlier was dropped or detached by hand; make it again next time.
      if ((err as { code?: string }).code === NO_PARTITION) this.partitions.forget();
      throw err;
    } finally {
      // A connection that failed mid-transaction is discarded, not handed to the next batch.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  private retainUpdates(failed: OutcomeRow[]): void {
    this.updates = failed.concat(this.updates);
    const excess = this.updates.length - this.maxRows * RETAINED_UPDATES_FACTOR;
    if (excess > 0) {
      this.updates.splice(0, excess);
      this.opts.logger?.error(
        { count: excess, node: this.node },
        'audit: outcome updates discarded after repeated commit failures',
      );
    }
  }

  private noteBatch(report: BatchReport): void {
    this.opts.onBatch?.(report);
    this.noteHealth(report);
  }

  private noteHealth(report: { ok: true } | { ok: false; error?: Error }): void {
    this.failures.note(report.ok);
    if (report.ok) {
      if (!this.healthy_) {
        this.healthy_ = true;
        this.opts.logger?.info({ node: this.node }, 'audit: PostgreSQL writable again; accepting requests');
      }
      return;
    }
    this.lastError_ = report.error as SchoolgateError;
    if (this.healthy_) {
      this.healthy_ = false;
      this.opts.logger?.error(
        {
          code: this.lastError_.code,
          node: this.node,
          pgCode: this.lastError_.context['pgCode'],
          err: this.lastError_.message,
        },
        'audit: commit failed; refusing requests until PostgreSQL is writable',
      );
    }
  }

  private commitError(err: unknown): SchoolgateError {
    if (err instanceof SchoolgateError) return err;
    const detail = err instanceof Error ? err.message : String(err);
    const pgCode = (err as { code?: string } | null)?.code;
    return new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      `The PostgreSQL audit store could not be written (${detail}); requests are refused until it can.`,
      {
        context: { node: this.node, pgCode },
        suggestion:
          'Check that PostgreSQL is running and reachable with the configured account; writing resumes by itself.',
        cause: err,
      },
    );
  }
}

/**
 * The server is down, starting, stopping or unreachable (no SQLSTATE, or class 08 connection exception /
 * 57P operator intervention): worth waiting for. Anything else (a wrong password, no such database) is a
 * configuration fault that start reports at once.
 */
function serverUnreachable(err: unknown): boolean {
  if (err instanceof SchoolgateError) return false; // our own refusal (a newer schema): not an outage
  const code = (err as { code?: unknown } | null)?.code;
  // No code (a timeout) or a Node errno (ECONNREFUSED, EPIPE…; no SQLSTATE class starts with E).
  if (typeof code !== 'string' || code.startsWith('E') || code.length !== 5) return true;
  return code.startsWith('08') || code.startsWith('57P');
}
