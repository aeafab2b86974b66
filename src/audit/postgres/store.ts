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
import { GENESIS_HASH, outcomeHash, rowHash, type ChainHead } from '../chain.js';
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
import { insertRows, type PgRow } from './rows.js';
import { migratePg } from './schema.js';
import { loadOrCreateSigningKey, type CheckpointReason, type SigningKey } from '../checkpoints.js';
import { SIGNING_OK, signingFailed, type SigningState } from '../signing-state.js';
import {
  latestPgCheckpoint,
  PG_CHECKPOINT_EVERY_MS,
  pgSignatureProblem,
  writePgCheckpoint,
} from './checkpoints.js';
import { verifyPostgres } from './verify.js';

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
  private signingKey: SigningKey | null = null;
  private signing_: SigningState | null = null;
  private lastSignedSeq = -1;
  private signer: NodeJS.Timeout | null = null;

  private constructor(
    pool: pg.Pool,
    private readonly opts: PostgresAuditStoreOptions,
  ) {
    this.pool = pool;
    this.node = opts.node;
    this.maxRows = opts.batchMaxRows ?? 1000;
    if (opts.signingKeyFile !== undefined) this.signing_ = SIGNING_OK;
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
    if (opts.signingKeyFile !== undefined)
      store.startSigning(opts.checkpointEveryMs ?? PG_CHECKPOINT_EVERY_MS);
    return store;
  }

  /** Whether this node signs its checkpoints; null where no key was given. */
  get signing(): SigningState | null {
    return this.signing_;
  }

  private loadSigningKey(file: string): void {
    if (this.signingKey) return;
    try {
      this.signingKey = loadOrCreateSigningKey(file);
    } catch (err) {
      this.signingFailed(`cannot read or create the signing key ${file}: ${String(err)}`);
    }
  }

  private signingFailed(message: string): void {
    if (this.signing_?.state !== 'failing')
      this.opts.logger?.error(
        { code: 'SG_AUDIT_SIGNING_FAILED', node: this.node, err: message },
        'audit: checkpoint signing failed; rows are still recorded, unsigned, until it works again',
      );
    this.signing_ = signingFailed(this.signing_ ?? SIGNING_OK, message, Date.now());
  }

  /**
   * The check at start (start-check.ts's on SQLite): the tail of this node's chain, from its last signed
   * checkpoint to its head, walked and linked, and the checkpoint signed by this node's key. A break
   * refuses to serve (SG_AUDIT_DAMAGED): rows changed, removed or appended around the writer.
   */
  private async checkAtStart(client: pg.ClientBase): Promise<void> {
    const last = await latestPgCheckpoint(client, this.node);
    if (!last) return;
    const key = this.signingKey?.publicKeyText ?? last.publicKey;
    const walked = await verifyPostgres(client, {
      node: this.node,
      from: { seq: last.seq, hash: last.hash },
      checkpoints: false,
    });
    const problem =
      pgSignatureProblem(last, key) ??
      (walked.nodes[0]?.ok === false ? (walked.nodes[0].firstBreak?.reason ?? 'the chain is broken') : null);
    if (problem)
      throw new SchoolgateError(
        'SG_AUDIT_DAMAGED',
        `The PostgreSQL audit chain of node ${this.node} does not match its last signed checkpoint: ${problem}.`,
        {
          context: { node: this.node, checkpointSeq: last.seq },
          suggestion:
            "Run `schoolgate audit verify`, keep a copy of the database and this node's keys/ as they are (evidence), and tell the headteacher; a node must never share its name with another.",
        },
      );
  }

  /** Signs the head now, or (moved) only if it moved since the last checkpoint; a failure is only shown. */
  private async sign(db: pg.ClientBase | pg.Pool, reason: CheckpointReason, moved = false): Promise<void> {
    if (!this.signingKey) return;
    try {
      if (moved) {
        const { rows } = await db.query<{ seq: number }>('SELECT seq FROM chain_heads WHERE node = $1', [
          this.node,
        ]);
        if (Number(rows[0]?.seq ?? 0) === this.lastSignedSeq) return;
      }
      const c = await writePgCheckpoint(db, this.node, this.signingKey, reason);
      this.lastSignedSeq = c.seq;
      if (this.signing_?.state === 'failing')
        this.opts.logger?.info({ node: this.node }, 'audit: checkpoint signing works again');
      this.signing_ = SIGNING_OK;
    } catch (err) {
      // The database down is the store's failure, shown already; signing failed only if the database answers.
      if (this.healthy_) this.signingFailed(`cannot store a signed checkpoint: ${String(err)}`);
    }
  }

  private startSigning(ms: number): void {
    let busy = false;
    this.signer = setInterval(() => {
      if (busy || !this.setUpDone || !this.healthy_ || this.closing) return;
      busy = true;
      void this.sign(this.pool, 'minute', true).finally(() => (busy = false));
    }, ms);
    this.signer.unref();
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
    if (this.opts.signingKeyFile !== undefined) {
      this.loadSigningKey(this.opts.signingKeyFile);
      await this.checkAtStart(client);
      await this.sign(client, 'open');
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
      if (this.signer) clearInterval(this.signer);
      if (this.running) await this.draining;
      if (this.queueDepth > 0) {
        this.running = true;
        await this.drain(false);
      }
      if (this.setUpDone && this.healthy_) await this.sign(this.pool, 'close');
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
   * While failing, and the database answers again: one empty transaction on this node's chain, so a node
   * that a load balancer took out of rotation (/healthz 503) comes back without waiting for a request.
   */
  private probe(): void {
    if (this.healthy_ || this.running || this.closing) return;
    this.running = true;
    this.draining = this.commit([], [])
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

  /** One transaction: the rows on this node's chain, the outcome updates, the new head. */
  private async commit(records: EventRow[], updates: OutcomeRow[]): Promise<void> {
    const client = await this.pool.connect();
    let broken: unknown = undefined;
    try {
      if (!this.setUpDone) await this.setUp(client);
      if (records.length > 0)
        await this.partitions.ensure(
          client,
          records.map((r) => r.time_ms),
        );
      await client.query('BEGIN');
      let head = await this.lockHead(client);
      let rows = records;
      for (;;) {
        const { chained, last } = chain(head, rows);
        const inserted =
          chained.length > 0 ? await insertRows(client, this.node, chained) : new Set<string>();
        if (inserted.size === chained.length) {
          if (chained.length > 0)
            await client.query('UPDATE chain_heads SET seq = $2, hash = $3 WHERE node = $1', [
              this.node,
              last.seq,
              last.hash,
            ]);
          break;
        }
        // A retried id already stored (or twice in this batch): start the batch again without it, so the chain
        // has no hole where the skipped row would have been. Its caller is answered: the row is stored.
        await client.query('ROLLBACK');
        await client.query('BEGIN');
        head = await this.lockHead(client);
        const seen = new Set<string>();
        rows = rows.filter((r) => inserted.has(r.id) && !seen.has(r.id) && seen.add(r.id));
      }
      if (updates.length > 0) await applyOutcomes(client, updates);
      await client.query('COMMIT');
    } catch (err) {
      broken = err;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      // A connection that failed mid-transaction is discarded, not handed to the next batch.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  private async lockHead(client: pg.ClientBase): Promise<ChainHead> {
    const { rows } = await client.query<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM chain_heads WHERE node = $1 FOR UPDATE',
      [this.node],
    );
    return rows[0] ?? { seq: 0, hash: GENESIS_HASH };
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

/** The rows with their place in the chain after `head`, and the new head. */
function chain(head: ChainHead, records: readonly EventRow[]): { chained: PgRow[]; last: ChainHead } {
  let last = head;
  const chained = records.map((r): PgRow => {
    const seq = last.seq + 1;
    const chain_hash = rowHash(last.hash, { ...r, seq });
    last = { seq, hash: chain_hash };
    const outcome = {
      status: r.status,
      bytes_in: null,
      bytes_out: null,
      duration_ms: null,
      completed_ms: null,
    };
    return { ...r, ...outcome, seq, chain_hash, outcome_hash: outcomeHash(chain_hash, outcome) };
  });
  return { chained, last };
}

/** Outcome updates with their outcome_hash over the row's chain_hash (as sg_outcome_hash does on SQLite). */
async function applyOutcomes(client: pg.ClientBase, updates: readonly OutcomeRow[]): Promise<void> {
  const { rows } = await client.query<{
    id: string;
    time_ms: number;
    chain_hash: string;
    status: number | null;
  }>('SELECT id, time_ms, chain_hash, status FROM audit_events WHERE id = ANY($1::text[]) FOR UPDATE', [
    updates.map((u) => u.id),
  ]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  // One entry per row (an UPDATE … FROM joins a row to one of its matches only): the last update wins.
  const byRow = new Map<
    string,
    { row: (typeof rows)[number]; u: OutcomeRow; status: number | null; hash: string }
  >();
  for (const u of updates) {
    const row = byId.get(u.id);
    if (!row) continue; // like SQLite's UPDATE of an unknown id: nothing to complete
    const status = u.status ?? row.status;
    const hash = outcomeHash(row.chain_hash, { ...u, status });
    row.status = status; // a second update of the same row in this batch builds on the first
    byRow.set(u.id, { row, u, status, hash });
  }
  const set = [...byRow.values()];
  if (set.length === 0) return;
  await client.query(
    `UPDATE audit_events a SET status = u.status, bytes_in = u.bytes_in, bytes_out = u.bytes_out,
       duration_ms = u.duration_ms, completed_ms = u.completed_ms, outcome_hash = u.outcome_hash
     FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[])
       AS u(id, time_ms, status, bytes_in, bytes_out, duration_ms, completed_ms, outcome_hash)
     WHERE a.id = u.id AND a.time_ms = u.time_ms`,
    [
      set.map((s) => s.row.id),
      set.map((s) => s.row.time_ms),
      set.map((s) => s.status),
      set.map((s) => s.u.bytes_in),
      set.map((s) => s.u.bytes_out),
      set.map((s) => s.u.duration_ms),
      set.map((s) => s.u.completed_ms),
      set.map((s) => s.hash),
    ],
  );
}
