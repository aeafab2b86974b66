/**
 * What the scheduled digests need of the audit record, on either store (config.store): where the compose
 * worker reads, where a send is recorded (report_access), and what the start-up catch-up reads back (the
 * last digest sent, when the proxy first recorded anything). SQLite: the file and its writer thread;
 * PostgreSQL: the same tables there, through a small pool of the digests' own.
 */
import { PgAccessRecorder } from '../../audit/postgres/report-access.js';
import { pgPool, type PgConnectOptions } from '../../audit/postgres/connect.js';
import { claimDigest, settleDigest } from '../../audit/postgres/digest-claims.js';
import { lastGrantedAccess, type AccessEntry } from '../../audit/report-access.js';
import { openReadOnly } from '../../reports/source.js';
import type { DigestReadFrom } from './compose.js';

export interface LastGranted {
  timeMs: number;
  toMs: number | null;
}

export interface DigestStore {
  readFrom: DigestReadFrom;
  recordAccess(entry: AccessEntry): Promise<number>;
  /** The last granted access under this command (report-access.ts lastGrantedAccess), or null. */
  lastGranted(command: string): Promise<LastGranted | null>;
  /** The time of the oldest audit row, or null on a new install. */
  firstRecordAt(): Promise<number | null>;
  /**
   * Several nodes (PostgreSQL): takes the send of the digest due at `dueAt` for this node; false: another
   * node has it (digest-claims.ts). Absent on SQLite: one node sends.
   */
  claim?(kind: string, dueAt: number, now: number): Promise<boolean>;
  /** The claim marked sent (after the send was recorded), or released (given up). */
  settle?(kind: string, dueAt: number, sent: boolean, now: number): Promise<void>;
  close(): Promise<void>;
}

function withReadOnly<T>(auditPath: string, read: (db: ReturnType<typeof openReadOnly>) => T): T {
  const db = openReadOnly(auditPath);
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The SQLite file, its sends recorded on the audit writer thread (WorkerAuditStore). */
export function sqliteDigestStore(
  auditPath: string,
  writer: { recordAccess(entry: AccessEntry): Promise<number> },
): DigestStore {
  return {
    readFrom: { auditPath },
    recordAccess: (entry) => writer.recordAccess(entry),
    lastGranted: async (command) => withReadOnly(auditPath, (db) => lastGrantedAccess(db, command)),
    firstRecordAt: async () =>
      withReadOnly(
        auditPath,
        (db) =>
          (db.prepare('SELECT time_ms FROM audit_events ORDER BY rowid LIMIT 1').pluck().get() as
            number | undefined) ?? null,
      ),
    close: async () => {},
  };
}

/**
 * PostgreSQL (store: { postgres }): the nodes' shared report_access and audit rows; each send claimed by
 * `node` first, so one node of the trust sends each digest.
 */
export function pgDigestStore(connect: PgConnectOptions, node: string): DigestStore {
  const pool = pgPool({ ...connect, max: 1 });
  const recorder = new PgAccessRecorder(pool);
  return {
    readFrom: { postgres: connect },
    recordAccess: (entry) => recorder.record(entry),
    lastGranted: async (command) => {
      const { rows } = await pool.query<{ time_ms: number; to_ms: number | null }>(
        `SELECT time_ms, to_ms FROM report_access WHERE command = $1 AND outcome = 'granted'
         ORDER BY time_ms DESC, id DESC LIMIT 1`,
        [command],
      );
      return rows[0] ? { timeMs: rows[0].time_ms, toMs: rows[0].to_ms } : null;
    },
    firstRecordAt: async () => {
      const { rows } = await pool.query<{ first: number | null }>(
        'SELECT min(time_ms) AS first FROM audit_events',
      );
      return rows[0]?.first ?? null;
    },
    claim: (kind, dueAt, now) => claimDigest(pool, node, kind, dueAt, now),
    settle: (kind, dueAt, sent, now) => settleDigest(pool, node, kind, dueAt, sent, now),
    close: () => pool.end(),
  };
}
