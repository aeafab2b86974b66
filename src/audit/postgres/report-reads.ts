/**
 * The reports' reads on PostgreSQL (src/reports/audit-reads.ts): the queries of the SQLite side in
 * PostgreSQL's words, parameterised, each one short, rows in keyset pages of PAGE_ROWS ordered by
 * (time_ms, node, seq) (PostgreSQL has no rowid; a node's seq is its insertion order). Answered from the
 * indexes of PG migration 7 (report-schema.ts; test/integration/postgres/report-plans.test.ts checks the
 * plans). The tamper check follows each row's own node's chain (rows carry `node`).
 */
import type { AlertStore } from '../alert-store.js';
import type { CaseStore } from '../case-store.js';
import { pgAlertStore } from './alerts.js';
import { pgCaseStore } from './cases.js';
import { pgLatestSites } from './latest-sites.js';
import { alertFromRow, type AlertRow } from '../alerts-table.js';
import type { CoverageResult } from '../chain-coverage.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import type {
  AccessLogQuery,
  AlertsQuery,
  AuditReads,
  ChainHeadOf,
  ClaimedAddress,
  ReportedRow,
  UncategorisedAsk,
  UncategorisedRow,
} from '../../reports/audit-reads.js';
import type { Referent } from '../../reports/references.js';
import { PAGE_ROWS, parseCategories, type AuditRowRaw } from '../../reports/source.js';
import { connectOptions } from './config.js';
import { BIGINT_AS_NUMBER, describeServer, pgPool, type Queryable } from './connect.js';
import { NodeChains } from './node-chains.js';
import { listPgAccess, PgAccessRecorder } from './report-access.js';
import { migratePg } from './schema.js';
import type pg from 'pg';

/** The keyset every paged query ends with: after the last row of the previous page. */
const KEYSET = (n: number) => `(time_ms, node, seq) > ($${n}, $${n + 1}, $${n + 2})`;
const ORDER = `ORDER BY time_ms, node, seq LIMIT ${PAGE_ROWS}`;
/** seq stands in for SQLite's rowid (the rows' `rid`): a node's seq is its rows' insertion order. */
const ROW = 'seq AS rid, *';

type Where = { sql: string; params: unknown[] };

/** The paged queries' conditions ($1.. their parameters), as the SQLite side's (source.ts). */
export const PG_ROWS_WHERE = {
  user: 'username = $1 AND time_ms >= $2 AND time_ms < $3 AND selftest_run IS NULL',
  host: 'host = $1 AND time_ms >= $2 AND time_ms < $3 AND selftest_run IS NULL',
  flagged: 'flagged = 1 AND time_ms >= $1 AND time_ms < $2 AND selftest_run IS NULL',
  attention: `action IN ('self-report', 'continue') AND time_ms >= $1 AND time_ms < $2 AND selftest_run IS NULL`,
  /** As SQLite's PILOT_ROWS_SQL, which has no selftest condition: the same rows on both stores. */
  pilot: `action IN ('would-block', 'would-warn') AND time_ms >= $1 AND time_ms < $2`,
} as const;

/** One page after the keyset position given as the three parameters after the condition's `n - 1`. */
export function pgPageSql(where: string, n: number): string {
  return `SELECT ${ROW} FROM audit_events WHERE ${where} AND ${KEYSET(n)} ${ORDER}`;
}

/** `where` (with $1.. for `params`), one site's rows only when `site` is given. */
function sited(where: string, params: unknown[], site?: string): Where {
  return site === undefined
    ? { sql: where, params }
    : { sql: `${where} AND site = $${params.length + 1}`, params: [...params, site] };
}

export class PgReads implements AuditReads {
  readonly store = 'postgres';

  constructor(private readonly db: Queryable) {}

  private async *paged(w: Where): AsyncGenerator<AuditRowRaw, void, undefined> {
    const text = pgPageSql(w.sql, w.params.length + 1);
    let after: unknown[] = [-Number.MAX_SAFE_INTEGER, '', 0];
    for (;;) {
      const { rows } = await this.db.query<AuditRowRaw & { node: string }>({
        text,
        values: [...w.params, ...after],
        types: BIGINT_AS_NUMBER,
      });
      yield* rows;
      if (rows.length < PAGE_ROWS) return;
      const last = rows[rows.length - 1]!;
      after = [last.time_ms, last.node, last.seq];
    }
  }

  userRows(user: string, fromMs: number, toMs: number, site?: string) {
    return this.paged(sited(PG_ROWS_WHERE.user, [user, fromMs, toMs], site));
  }

  hostRows(host: string, fromMs: number, toMs: number, site?: string) {
    return this.paged(sited(PG_ROWS_WHERE.host, [host, fromMs, toMs], site));
  }

  flaggedRows(fromMs: number, toMs: number, site?: string) {
    return this.paged(sited(PG_ROWS_WHERE.flagged, [fromMs, toMs], site));
  }

  attentionRows(fromMs: number, toMs: number, site?: string) {
    return this.paged(sited(PG_ROWS_WHERE.attention, [fromMs, toMs], site));
  }

  pilotRows(fromMs: number, toMs: number, site?: string) {
    return this.paged(sited(PG_ROWS_WHERE.pilot, [fromMs, toMs], site));
  }

  checkedUserRows(
    q: { user: string; fromMs: number; toMs: number; site?: string },
    each: (r: AuditRowRaw) => void | Promise<void>,
  ) {
    return this.checkRows(this.userRows(q.user, q.fromMs, q.toMs, q.site), each);
  }

  /**
   * Each row checked against its own node's chain (one CoverageChecker per node), its neighbours read a
   * page at a time by (node, seq): two short queries per page and node instead of two per row.
   */
  async checkRows(
    rows: AsyncIterable<AuditRowRaw>,
    each: (r: AuditRowRaw) => void | Promise<void>,
  ): Promise<CoverageResult> {
    const chains = new NodeChains(this.db);
    let page: (AuditRowRaw & { node: string })[] = [];
    const flush = async () => {
      await chains.check(page, each);
      page = [];
    };
    for await (const r of rows) {
      page.push(r as AuditRowRaw & { node: string });
      if (page.length >= PAGE_ROWS) await flush();
    }
    await flush();
    return chains.result();
  }

  async rowById(id: string, site?: string): Promise<AuditRowRaw | null> {
    const { rows } = await this.db.query<AuditRowRaw>({
      text: `SELECT ${ROW} FROM audit_events WHERE id = $1${site === undefined ? '' : ' AND site = $2'} LIMIT 1`,
      values: site === undefined ? [id] : [id, site],
      types: BIGINT_AS_NUMBER,
    });
    return rows[0] ?? null;
  }

  async referent(id: string): Promise<Referent | null> {
    const r = await this.rowById(id);
    return r
      ? {
          id: r.id,
          timeMs: r.time_ms,
          user: r.username,
          clientIp: r.client_ip,
          host: r.host,
          action: r.action,
          categories: parseCategories(r),
        }
      : null;
  }

  async blockedThere(report: ReportedRow): Promise<boolean> {
    const { rows } = await this.db.query({
      text: `SELECT 1 FROM audit_events WHERE host = $1 AND time_ms <= $2 AND action = 'block'
        AND (username = $3::text OR ($3::text IS NULL AND client_ip = $4)) LIMIT 1`,
      values: [report.host, report.timeMs, report.user, report.clientIp],
    });
    return rows.length > 0;
  }

  /** The host and its subdomains, by the index on the host's characters reversed. */
  async hostsUnder(domain: string): Promise<string[]> {
    const rev = [...domain].reverse().join('');
    const { rows } = await this.db.query<{ host: string }>({
      text: `SELECT DISTINCT host FROM audit_events
        WHERE reverse(host) = $1 OR reverse(host) LIKE $2 ORDER BY host`,
      values: [rev, `${rev.replace(/[\\%_]/g, (c) => `\\${c}`)}.%`],
    });
    // The SQLite side lists them by reversed labels (the domain first): the same order here.
    const labels = (h: string) => h.split('.').reverse().join('.');
    return rows
      .map((r) => r.host)
      .sort((a, b) => (labels(a) < labels(b) ? -1 : labels(a) > labels(b) ? 1 : 0));
  }

  async chainHeads(): Promise<ChainHeadOf[]> {
    const { rows } = await this.db.query<ChainHeadOf & { node: string }>({
      text: 'SELECT node, seq, hash FROM chain_heads ORDER BY node',
      types: BIGINT_AS_NUMBER,
    });
    return rows;
  }

  /** `audit verify` on PostgreSQL keeps no result file yet: reports say "never run". */
  lastFullVerify() {
    return null;
  }

  async alerts(q: AlertsQuery) {
    // alerts-table.ts queryAlerts' period, person and site, newest first.
    const { rows } = await this.db.query<AlertRow>({
      text: `SELECT * FROM alerts WHERE last_ms >= $1 AND first_ms < $2
          AND ($3::text IS NULL OR username = $3::text) AND ($4::text IS NULL OR site = $4::text)
        ORDER BY last_ms DESC, id DESC`,
      values: [q.fromMs, q.toMs, q.user ?? null, q.site ?? null],
      types: BIGINT_AS_NUMBER,
    });
    return rows.map(alertFromRow);
  }

  async claimedLogins(user: string, fromMs: number, toMs: number): Promise<ClaimedAddress[]> {
    const { rows } = await this.db.query<ClaimedAddress>({
      text: `SELECT client_ip AS "clientIp", count(*)::int AS attempts,
          min(time_ms) AS "firstMs", max(time_ms) AS "lastMs"
        FROM audit_events WHERE claimed_user = $1 AND time_ms >= $2 AND time_ms < $3
        GROUP BY client_ip ORDER BY attempts DESC, client_ip`,
      values: [user, fromMs, toMs],
      types: BIGINT_AS_NUMBER,
    });
    return rows;
  }

  async uncategorised(q: UncategorisedAsk): Promise<UncategorisedRow[]> {
    const { rows } = await this.db.query<UncategorisedRow>({
      text: `SELECT host, count(*)::int AS requests,
          count(DISTINCT COALESCE(username, '@' || client_ip))::int AS users, max(time_ms) AS "lastMs"
        FROM audit_events
        WHERE categories = '[]' AND selftest_run IS NULL
          AND action IN ('allow', 'warn', 'block', 'continue', 'continued', 'would-block', 'would-warn')
          AND time_ms >= $1 AND time_ms < $2 AND ($3::text IS NULL OR profile = $3::text)
          AND ($4::text IS NULL OR site = $4::text)
        GROUP BY host HAVING count(*) >= 2
        ORDER BY requests DESC, host LIMIT $5`,
      values: [q.fromMs, q.toMs, q.profile, q.site ?? null, q.top],
      types: BIGINT_AS_NUMBER,
    });
    return rows;
  }

  accessLog(q: AccessLogQuery) {
    return listPgAccess(this.db, q);
  }

  async close(): Promise<void> {}
}

export interface PgReportStore {
  reads: PgReads;
  recorder: PgAccessRecorder;
  /** The cases a report is pulled under (`case open` keeps them in PostgreSQL too: cases.ts). */
  cases: CaseStore;
  /** The pool under them, for the console's other reads of the same store (console/records.ts). */
  pool: pg.Pool;
  /** Every node's alerts (`alerts list|show|ack`, the console's inbox). */
  alerts: AlertStore;
  /** The site of each person's latest row on any node (absent: no rows; null: no site). */
  latestSites(users: readonly string[]): Promise<Map<string, string | null>>;
  close(): Promise<void>;
}

/** A pool on the configured PostgreSQL, its schema brought up to date; SG_AUDIT_UNAVAILABLE if unreachable. */
export async function openPgReportStore(config: ReadonlyConfig): Promise<PgReportStore> {
  if (config.store === 'sqlite') throw new Error('openPgReportStore: store is sqlite');
  const opts = connectOptions(config.store.postgres);
  const pool = pgPool({ ...opts, max: 2 });
  try {
    const client = await pool.connect();
    try {
      await migratePg(client);
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end();
    throw new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      `Cannot read the PostgreSQL audit store ${describeServer(opts)}: ${err instanceof Error ? err.message : String(err)}`,
      {
        context: { server: describeServer(opts) },
        suggestion: 'Check that PostgreSQL is running and store.postgres in the config; nothing was read.',
        cause: err,
      },
    );
  }
  return openPgReportStoreOn(pool);
}

/** The reads and the recorder over an open pool (tests give their own). */
export function openPgReportStoreOn(pool: pg.Pool): PgReportStore {
  return {
    reads: new PgReads(pool),
    recorder: new PgAccessRecorder(pool),
    cases: pgCaseStore(pool),
    pool,
    alerts: pgAlertStore(pool),
    latestSites: (users) => pgLatestSites(pool, users),
    close: () => pool.end(),
  };
}
