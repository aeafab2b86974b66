/**
 * The SQLite implementation of AuditStore: one connection, one writer, group commit (see batch-queue.ts).
 *
 * Threading: the writer runs on the main thread. better-sqlite3 is synchronous, so each batch commit
 * (inserts + one WAL fsync) blocks the event loop for its duration. Batches grow with load (records arriving
 * during one commit form the next batch), so the fsync is paid once per event-loop turn, not per request.
 * scripts/bench-audit.ts compares, on the same machine, a bare HTTP forwarder with the forwarder awaiting
 * record() on the main thread and with a worker_thread writer prototype: on our shared 2-core VM the worker was
 * not clearly better (main 0.51-0.76x, worker 0.65-0.78x of bare, within run-to-run noise), while it adds a
 * structured-clone hop per batch, a second failure domain and harder shutdown. The seam is the queue's
 * `commit` function; revisit if school hardware shows slow fsyncs (watch `stats.maxCommitMs`).
 */
import {
  appendCheckpoint,
  checkpointFilePath,
  currentBody,
  loadOrCreateSigningKey,
  signCheckpoint as signCheckpointBody,
  signingKeyPath,
  type SigningKey,
} from './checkpoints.js';
import { SIGNING_OK, signingFailed, type SigningState } from './signing-state.js';
import type Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import { GroupCommitQueue, type BatchReport } from './batch-queue.js';
import { BackgroundCheckpointer, WRITER_AUTOCHECKPOINT_PAGES } from './checkpointer.js';
import { sqliteCode } from './open-database.js';
import { openCheckedAuditDatabase, recordHead, type AuditOpenReport } from './open-checked.js';
import type { IntegrityMode } from './start-check.js';
import { registerChainFunctions } from './chain.js';
import { chainedBatch } from './chained-batch.js';
import {
  eventToRow,
  invalidEventReason,
  outcomeToRow,
  type EventRow,
  type OutcomeRow,
} from './row-mapping.js';
import type { AuditEvent, AuditOutcome, AuditStore } from './types.js';
import { recentAlerts, upsertAlert, type AlertWrite, type StoredAlert } from './alerts-table.js';
import { recordAccess, type AccessEntry } from './report-access.js';

/** Pino-compatible subset; the store logs health transitions and discarded updates only. */
export interface AuditLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SqliteAuditStoreOptions {
  /** Database file; its folder is created if missing. */
  path: string;
  /** Most statements (records + outcome updates) per transaction. Default 1000. */
  batchMaxRows?: number;
  /** How long a commit waits for a lock held by another connection. Default 2000 ms. */
  busyTimeoutMs?: number;
  logger?: AuditLogger;
  /** Called after every commit attempt (tests, metrics). */
  onBatch?: (report: BatchReport) => void;
  /** The check before the database is trusted (start-check.ts): 'quick' (default) or 'full'. */
  integrity?: IntegrityMode;
  /** Set a database the check refuses aside and start a new one (serve --new-audit-database). */
  newDatabase?: boolean;
  /** The clock for the set-aside folder's name and the head file (tests). */
  now?: () => number;
  /**
   * Checkpoint the WAL on a thread of its own (checkpointer.ts), off the commit path, after this many
   * committed rows and outcomes (the serving writer: CHECKPOINT_EVERY_ROWS). Unset: SQLite's own checkpoint.
   */
  backgroundCheckpointRows?: number;
}

export interface AuditStoreStats {
  /** Transactions committed. */
  batches: number;
  /** Transactions that failed and were rolled back. */
  failedBatches: number;
  rowsCommitted: number;
  updatesCommitted: number;
  /** Longest time one commit held the event loop, ms. */
  maxCommitMs: number;
  lastCommitMs: number;
}

export const DEFAULT_BATCH_MAX_ROWS = 1000;
/** SQLite's own default wal_autocheckpoint, which the writer keeps without a background checkpointer. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;
/**
 * The writer runs on the main thread, so a lock held by another connection (a CLI purge, say) stalls the event
 * loop for up to this long before the batch fails closed. Keep it short; other writers must keep transactions short.
 */
export const DEFAULT_BUSY_TIMEOUT_MS = 2000;

export class SqliteAuditStore implements AuditStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly queue: GroupCommitQueue<EventRow, OutcomeRow>;
  private readonly logger: AuditLogger | undefined;
  private readonly stats_: AuditStoreStats = {
    batches: 0,
    failedBatches: 0,
    rowsCommitted: 0,
    updatesCommitted: 0,
    maxCommitMs: 0,
    lastCommitMs: 0,
  };
  private healthy_ = true;
  private lastError_: SchoolgateError | null = null;
  private closing: Promise<void> | null = null;
  /** What the check at open found, and what it did (for the log and `status`). */
  readonly opened: AuditOpenReport;
  /** Rows were committed since the head file was last written. */
  private headDirty = false;
  /** Signs checkpoints (checkpoints.ts); null when the key could not be read or made (logged, in status). */
  private readonly signingKey: SigningKey | null;
  /** The heads the last checkpoint signed: a minute with no movement signs nothing. */
  private signed: { seq: number; ledgerSeq: number } | null = null;
  private signing_: SigningState = SIGNING_OK;
  private readonly checkpointer: BackgroundCheckpointer | null;

  constructor(opts: SqliteAuditStoreOptions) {
    this.path = opts.path;
    this.logger = opts.logger;
    const maxRows = opts.batchMaxRows ?? DEFAULT_BATCH_MAX_ROWS;
    const { db, report } = openCheckedAuditDatabase(opts.path, {
      busyTimeoutMs: opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      integrity: opts.integrity ?? 'quick',
      newDatabase: opts.newDatabase ?? false,
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.db = db;
    this.opened = report;
    registerChainFunctions(this.db);
    this.signingKey = this.loadSigningKey();
    this.signCheckpoint('open');
    this.checkpointer = opts.backgroundCheckpointRows
      ? this.startCheckpointer(opts.backgroundCheckpointRows)
      : null;
    const seenHosts = new Set<string>();
    const commitBatch = chainedBatch(this.db, seenHosts);
    this.queue = new GroupCommitQueue<EventRow, OutcomeRow>({
      maxRows,
      commit: (records, updates) => {
        try {
          const newHosts = commitBatch.immediate(records, updates);
          // Remembered only after the commit, so a rolled-back batch's hosts are inserted again next time.
          if (seenHosts.size > 100_000) seenHosts.clear();
          for (const h of newHosts) seenHosts.add(h);
        } catch (err) {
          // better-sqlite3 rolls back on throw; make sure, so the next batch starts clean.
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          throw err;
        }
      },
      toError: (err) => this.commitError(err),
      onBatch: (report) => {
        this.noteBatch(report);
        opts.onBatch?.(report);
      },
      onUpdatesDiscarded: (count, cause) =>
        this.logger?.error(
          { count, code: cause instanceof SchoolgateError ? cause.code : undefined },
          'audit: outcome updates discarded after repeated commit failures',
        ),
    });
  }

  private startCheckpointer(everyRows: number): BackgroundCheckpointer | null {
    const checkpointer = BackgroundCheckpointer.start(
      this.path,
      () => {
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
      },
      everyRows,
      this.logger,
    );
    if (checkpointer) this.db.pragma(`wal_autocheckpoint = ${WRITER_AUTOCHECKPOINT_PAGES}`);
    return checkpointer;
  }

  /** Background WAL checkpoints completed (checkpointer.ts), for tests and benchmarks. */
  get backgroundCheckpoints(): number {
    return this.checkpointer?.checkpoints ?? 0;
  }

  /** False after a failed commit, true again after the next successful one. */
  get healthy(): boolean {
    return this.healthy_;
  }

  /** The error of the most recent failed commit (kept after recovery, for `status`). */
  get lastError(): SchoolgateError | null {
    return this.lastError_;
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  get stats(): Readonly<AuditStoreStats> {
    return { ...this.stats_ };
  }

  record(event: AuditEvent): Promise<void> {
    if (this.closing) {
      return Promise.reject(
        new SchoolgateError(
          'SG_AUDIT_UNAVAILABLE',
          'The audit store is closed; the event was not recorded.',
          {
            context: { path: this.path, id: event?.id },
            suggestion: 'This happens only during shutdown; the request is refused.',
          },
        ),
      );
    }
    const invalid = invalidEventReason(event);
    if (invalid) {
      return Promise.reject(
        new SchoolgateError('SG_AUDIT_UNAVAILABLE', `Audit event not recorded: ${invalid}.`, {
          context: {
            path: this.path,
            id: (event as Partial<AuditEvent> | null)?.id,
            reason: 'invalid-event',
          },
          suggestion: 'This is a bug in the caller; please report it with the log line.',
        }),
      );
    }
    return this.queue.enqueue(eventToRow(event));
  }

  complete(id: string, outcome: AuditOutcome): void {
    if (this.closing || typeof id !== 'string' || outcome === null || typeof outcome !== 'object') return;
    this.queue.enqueueUpdate(outcomeToRow(id, outcome, Date.now()));
  }

  /**
   * Writes the head file (head-file.ts) if rows were committed since it was last written. Called by the
   * writer thread on a timer and at close; the cost (a small file, two fsyncs: about 1.5 ms) stays off
   * the requests' path.
   */
  recordHeadIfMoved(): void {
    if (this.db.open) this.signCheckpoint('minute');
    if (!this.headDirty || !this.db.open) return;
    this.headDirty = false;
    try {
      recordHead(this.db, this.opened.headFile, Date.now());
    } catch (err) {
      this.headDirty = true;
      this.logger?.warn(
        { headFile: this.opened.headFile, err: err instanceof Error ? err.message : String(err) },
        'audit: could not record the chain head outside the database; the next start compares an older one',
      );
    }
  }

  /** Whether checkpoints are being signed (for `status` and /healthz). */
  get signing(): SigningState {
    return this.signing_;
  }

  private loadSigningKey(): SigningKey | null {
    try {
      return loadOrCreateSigningKey(signingKeyPath(this.path));
    } catch (err) {
      this.signing_ = signingFailed(
        this.signing_,
        `cannot read or create the signing key ${signingKeyPath(this.path)}: ${err instanceof Error ? err.message : String(err)}`,
        Date.now(),
      );
      this.logger?.error(
        { file: signingKeyPath(this.path), err: err instanceof Error ? err.message : String(err) },
        'audit: cannot read or create the checkpoint signing key; no signed checkpoints until it is fixed',
      );
      return null;
    }
  }

  /**
   * Signs both heads (audit rows, ledger) if either moved since the last checkpoint — or always, at open
   * and at a clean stop. Off the requests' path (a timer on the writer thread); a failure is logged, never
   * fatal: the rows are committed, and `audit verify` reports them as not yet signed.
   */
  private signCheckpoint(reason: 'open' | 'minute' | 'close', always = reason === 'open'): void {
    if (!this.signingKey) return;
    try {
      const body = currentBody(this.db, reason, Date.now());
      if (!always && this.signed && this.signed.seq === body.seq && this.signed.ledgerSeq === body.ledger_seq)
        return;
      appendCheckpoint(checkpointFilePath(this.path), signCheckpointBody(body, this.signingKey));
      this.signed = { seq: body.seq, ledgerSeq: body.ledger_seq };
      this.signing_ = SIGNING_OK;
    } catch (err) {
      this.signing_ = signingFailed(
        this.signing_,
        `cannot write a signed checkpoint: ${err instanceof Error ? err.message : String(err)}`,
        Date.now(),
      );
      this.logger?.warn(
        { err: err instanceof Error ? err.message : String(err), reason },
        'audit: could not write a signed checkpoint',
      );
    }
  }

  /** Commits everything queued, then closes the connection. Safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const err = this.queue.flushAll();
      this.recordHeadIfMoved();
      if (!err) this.signCheckpoint('close', true);
      // Its connection first: the writer's, closed last, checkpoints what is left and removes the WAL.
      await this.checkpointer?.close();
      this.db.close();
      if (err) throw err;
    })();
    return this.closing;
  }

  /**
   * Writes a safeguarding alert (insert, or the new count of one raised earlier) in its own short
   * transaction. Alerts are rare (a few an hour), so they stay out of the audit rows' group commit.
   */
  writeAlert(alert: AlertWrite): void {
    if (this.closing) throw new SchoolgateError('SG_AUDIT_UNAVAILABLE', 'The audit store is closed.');
    upsertAlert(this.db, alert);
  }

  /** Alerts first raised at or after `since` (epoch ms). */
  recentAlerts(since: number): StoredAlert[] {
    return recentAlerts(this.db, since);
  }

  /** A report_access entry written by the proxy itself (a scheduled digest that was sent). */
  recordAccess(entry: AccessEntry): number {
    if (this.closing) throw new SchoolgateError('SG_AUDIT_UNAVAILABLE', 'The audit store is closed.');
    return recordAccess(this.db, entry);
  }

  /** `PRAGMA integrity_check`: 'ok' or the problems found. */
  integrityCheck(): string {
    const rows = this.db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('\n');
  }

  /** Copies the WAL into the database and truncates it; run on a schedule (readers can starve checkpoints). */
  checkpoint(): { busy: number; log: number; checkpointed: number } {
    const [row] = this.db.pragma('wal_checkpoint(TRUNCATE)') as {
      busy: number;
      log: number;
      checkpointed: number;
    }[];
    return row ?? { busy: 0, log: 0, checkpointed: 0 };
  }

  /** Runs a PRAGMA on the writer's connection (diagnostics and tests, e.g. max_page_count). */
  pragma(source: string): unknown {
    return this.db.pragma(source, { simple: true });
  }

  private commitError(err: unknown): SchoolgateError {
    const code = sqliteCode(err);
    const detail = err instanceof Error ? err.message : String(err);
    return new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      `The audit database ${this.path} could not be written (${detail}); requests are refused until it can.`,
      {
        context: { path: this.path, sqliteCode: code },
        suggestion:
          code === 'SQLITE_FULL'
            ? 'Free disk space on the volume holding the audit database; writing resumes by itself.'
            : code === 'SQLITE_BUSY'
              ? 'Another program holds a write lock on the audit database; stop it. Writing resumes by itself.'
              : 'Check that the audit database and its folder are writable; writing resumes by itself.',
        cause: err,
      },
    );
  }

  private noteBatch(report: BatchReport): void {
    const s = this.stats_;
    s.lastCommitMs = report.durationMs;
    if (report.durationMs > s.maxCommitMs) s.maxCommitMs = report.durationMs;
    if (report.ok) {
      s.batches++;
      s.rowsCommitted += report.records;
      s.updatesCommitted += report.updates;
      if (report.records > 0) this.headDirty = true;
      this.checkpointer?.committed(report.records + report.updates);
      if (!this.healthy_) {
        this.healthy_ = true;
        this.logger?.info({ path: this.path }, 'audit: database writable again; accepting requests');
      }
      return;
    }
    s.failedBatches++;
    const error = report.error instanceof SchoolgateError ? report.error : this.commitError(report.error);
    this.lastError_ = error;
    if (this.healthy_) {
      this.healthy_ = false;
      this.logger?.error(
        { path: this.path, sqliteCode: error.context['sqliteCode'], err: error.message },
        'audit: commit failed; refusing requests until the database is writable',
      );
    }
  }
}

export function openSqliteAuditStore(opts: SqliteAuditStoreOptions): SqliteAuditStore {
  return new SqliteAuditStore(opts);
}
