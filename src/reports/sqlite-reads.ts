/**
 * The reports' reads on the SQLite audit file (audit-reads.ts): the statements of source.ts, checked-scan.ts,
 * references.ts and the builders, unchanged (test/integration/reports/query-plans.test.ts checks their plans),
 * behind the async interface PostgreSQL also answers.
 */
import type Database from 'better-sqlite3';
import { queryAlerts } from '../audit/alerts-table.js';
import { parseHead, READ_HEAD_SQL, type VerifyRow } from '../audit/chain.js';
import { CoverageChecker } from '../audit/chain-coverage.js';
import { readLastVerify } from '../audit/last-verify.js';
import { listAccess } from '../audit/report-access.js';
import type {
  AccessLogQuery,
  AlertsQuery,
  AuditReads,
  ChainHeadOf,
  ClaimedAddress,
  ReportedRow,
  UncategorisedAsk,
} from './audit-reads.js';
import { scanChecked } from './checked-scan.js';
import { CLAIMED_LOGINS_SQL } from './claimed-logins.js';
import { References } from './references.js';
import {
  ATTENTION_ROWS_SQL,
  FLAGGED_ROWS_SQL,
  HOST_ROWS_SQL,
  PILOT_ROWS_SQL,
  sitedPagedRows,
  USER_ROWS_SQL,
  USER_ROWS_WHERE,
  type AuditRowRaw,
} from './source.js';
import { SITED_UNCATEGORISED_SQL, UNCATEGORISED_SQL } from './build-uncategorised.js';

/** A sync page generator as an async iterable (one await per row: cheap beside the row's own work). */
async function* asAsync<T>(rows: Iterable<T>): AsyncGenerator<T, void, undefined> {
  yield* rows;
}

export class SqliteReads implements AuditReads {
  readonly store = 'sqlite';
  private readonly refs: References;

  constructor(readonly db: Database.Database) {
    this.refs = new References(db);
  }

  private sitedRows(sql: string, params: unknown[], site?: string): Iterable<AuditRowRaw> {
    return sitedPagedRows(this.db, sql, params, site);
  }

  checkedUserRows(
    q: { user: string; fromMs: number; toMs: number; site?: string },
    each: (r: AuditRowRaw) => void | Promise<void>,
  ) {
    const where = q.site === undefined ? USER_ROWS_WHERE : `${USER_ROWS_WHERE} AND e.site = ?`;
    const params = [q.user, q.fromMs, q.toMs, ...(q.site === undefined ? [] : [q.site])];
    return scanChecked(this.db, where, params, each);
  }

  async checkRows(rows: AsyncIterable<AuditRowRaw>, each: (r: AuditRowRaw) => void | Promise<void>) {
    const checker = new CoverageChecker(this.db);
    for await (const r of rows) {
      const p = each(r);
      if (p) await p;
      checker.check(r as unknown as VerifyRow & { rid: number });
    }
    return checker.result();
  }

  userRows(user: string, fromMs: number, toMs: number, site?: string) {
    return asAsync(this.sitedRows(USER_ROWS_SQL, [user, fromMs, toMs], site));
  }

  hostRows(host: string, fromMs: number, toMs: number, site?: string) {
    return asAsync(this.sitedRows(HOST_ROWS_SQL, [host, fromMs, toMs], site));
  }

  flaggedRows(fromMs: number, toMs: number, site?: string) {
    return asAsync(this.sitedRows(FLAGGED_ROWS_SQL, [fromMs, toMs], site));
  }

  attentionRows(fromMs: number, toMs: number, site?: string) {
    return asAsync(this.sitedRows(ATTENTION_ROWS_SQL, [fromMs, toMs], site));
  }

  pilotRows(fromMs: number, toMs: number, site?: string) {
    return asAsync(this.sitedRows(PILOT_ROWS_SQL, [fromMs, toMs], site));
  }

  async rowById(id: string, site?: string): Promise<AuditRowRaw | null> {
    const row =
      site === undefined
        ? this.db.prepare(`SELECT rowid AS rid, * FROM audit_events WHERE id = ?`).get(id)
        : this.db.prepare(`SELECT rowid AS rid, * FROM audit_events WHERE id = ? AND site = ?`).get(id, site);
    return (row as AuditRowRaw | undefined) ?? null;
  }

  async referent(id: string) {
    return this.refs.get(id);
  }

  async blockedThere(report: ReportedRow) {
    return this.refs.blockedThere(report);
  }

  /** By the audit_hosts index (labels reversed). */
  async hostsUnder(domain: string): Promise<string[]> {
    const rev = domain.split('.').reverse().join('.');
    return this.db
      .prepare(`SELECT host FROM audit_hosts WHERE rev = ? OR (rev >= ? AND rev < ?) ORDER BY rev`)
      .pluck()
      .all(rev, `${rev}.`, `${rev}/`) as string[];
  }

  async chainHeads(): Promise<ChainHeadOf[]> {
    const head = parseHead(this.db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined);
    return [{ node: null, ...head }];
  }

  lastFullVerify() {
    return readLastVerify(this.db.name);
  }

  async alerts(q: AlertsQuery) {
    return queryAlerts(this.db, {
      since: q.fromMs,
      until: q.toMs,
      ...(q.user !== undefined ? { user: q.user } : {}),
      ...(q.site !== undefined ? { site: q.site } : {}),
    });
  }

  /** Null for a database written before schema 5 (no claimed names are recorded there). */
  async claimedLogins(user: string, fromMs: number, toMs: number): Promise<ClaimedAddress[] | null> {
    if ((this.db.pragma('user_version', { simple: true }) as number) < 5) return null;
    return this.db.prepare(CLAIMED_LOGINS_SQL).all(user, fromMs, toMs) as ClaimedAddress[];
  }

  async uncategorised(q: UncategorisedAsk) {
    const params = [q.fromMs, q.toMs, q.profile, q.profile, ...(q.site !== undefined ? [q.site] : []), q.top];
    const sql = q.site !== undefined ? SITED_UNCATEGORISED_SQL : UNCATEGORISED_SQL;
    const rows = this.db.prepare(sql).all(...params) as {
      host: string;
      requests: number;
      users: number;
      last_ms: number;
    }[];
    return rows.map((r) => ({ host: r.host, requests: r.requests, users: r.users, lastMs: r.last_ms }));
  }

  async accessLog(q: AccessLogQuery) {
    return listAccess(this.db, q);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
