/**
 * Where reports read from: a read-only connection to the audit database. Every query is one short statement
 * (rows are fetched in pages of PAGE_ROWS by keyset), so a report never holds a read transaction open for
 * long and never starves the writer's WAL checkpoints, however many rows it covers.
 */
import type { UnblockRequest } from '../state/unblock-requests.js';
import Database from 'better-sqlite3';
import { isSchoolgateError, SchoolgateError } from '../errors.js';
import { loadCategoryMetadata } from '../lists/load.js';
import { localLayerDir, readLocalLayer } from '../lists/local-layer.js';
import type { CategoryMeta } from '../policy/types.js';
import { NEIGHBOUR_JOIN, NEIGHBOUR_SELECT } from '../audit/chain-coverage.js';
import type { RawRow } from '../audit/row-mapping.js';
import type { AuditReads } from './audit-reads.js';
import { LocalClock } from './time.js';

// Small pages: a page of rows is garbage once aggregated, and 1,000 rows die young where 5,000 survived into
// V8's old generation (garbage collection was a fifth of a heavy user's report). Each page is one keyset seek.
export const PAGE_ROWS = 1000;

export type AuditRowRaw = RawRow & {
  rid: number;
  seq: number | null;
  chain_hash: string | null;
  outcome_hash: string | null;
};

export interface CategoryInfo {
  title: string;
  flagged: boolean;
  alert: boolean;
}

/** What a report reads (audit-reads.ts: SQLite or PostgreSQL) and how it shows times and categories. */
export interface ReportSource {
  reads: AuditReads;
  timeZone: string;
  now: number;
  clock: LocalClock;
  categories: ReadonlyMap<string, CategoryInfo>;
  /**
   * Only this school of a trust's rows and alerts (src/identity/site.ts): `--site`, or a site-scoped console
   * account. Every query of the reports adds it (sitedRows); absent: the whole trust.
   */
  site?: string;
  /** Unblock requests sent or decided in [from, to) (the state database); absent: none to review. */
  unblockRequests?: (fromMs: number, toMs: number) => UnblockRequest[];
}

/**
 * A source on the SQLite file, for the commands not yet behind AuditReads (cases, alerts): they refuse on
 * PostgreSQL rather than read a stale file.
 */
export interface SqliteSource extends ReportSource {
  db: Database.Database;
}

export function openReadOnly(dbPath: string): Database.Database {
  try {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    db.pragma('query_only = ON');
    // A report looks rows up by index at random places in a big file: keep the B-tree's interior pages in
    // memory (the 2 MB default thrashes on 10M rows) and read pages through mmap rather than a pread each.
    db.pragma('cache_size = -131072');
    db.pragma('mmap_size = 17179869184');
    return db;
  } catch (err) {
    throw new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      `Cannot open the audit database ${dbPath} for reading.`,
      {
        context: { path: dbPath, detail: err instanceof Error ? err.message : String(err) },
        suggestion: 'Check --data / dataDir and that the audit database exists and is readable.',
        cause: err,
      },
    );
  }
}

/**
 * Category titles and flags, the one way reports get them: the metadata the proxy loads (shipped
 * categories.yaml plus the school's local layer, src/lists/load.ts loadCategoryMetadata), without reading
 * any list entry. A categories.yaml the proxy would refuse is an error here too, not a report of bare names.
 */
export async function loadCategoryInfo(
  categoriesDir: string,
  dataDir: string,
): Promise<Map<string, CategoryInfo>> {
  let metas: CategoryMeta[];
  try {
    ({ metas } = await loadCategoryMetadata(categoriesDir, { local: await readLocalLayer(dataDir) }));
  } catch (err) {
    if (isSchoolgateError(err)) throw err;
    throw new SchoolgateError(
      'SG_CATEGORY_INVALID',
      `Cannot read the category metadata (${categoriesDir}, ${localLayerDir(dataDir)}): ${err instanceof Error ? err.message : String(err)}`,
      {
        context: { categoriesDir, localDir: localLayerDir(dataDir) },
        suggestion:
          'Check that both directories are readable; `schoolgate lists categories` reads the same files.',
        cause: err,
      },
    );
  }
  return new Map(metas.map((m) => [m.name, { title: m.title, flagged: m.flagged, alert: m.alert }]));
}

export function categoryTitle(src: ReportSource, name: string): string {
  const t = src.categories.get(name)?.title;
  return t && t !== name ? `${t} (${name})` : name;
}

/**
 * Pages through a keyed range: `sql` must select `rowid AS rid, *`, take the caller's parameters followed by
 * (after_time, after_rid, limit), and order by time_ms, rowid.
 */
export function* pagedRows(
  db: Database.Database,
  sql: string,
  params: unknown[],
): Generator<AuditRowRaw, void, undefined> {
  // Raw arrays made into objects here: a fifth cheaper than better-sqlite3's own row objects (which set each
  // property through the V8 API), on the ~60 columns a person's rows come with.
  const stmt = db.prepare(sql).raw();
  const names = stmt.columns().map((c) => c.name);
  let afterTime = -Number.MAX_SAFE_INTEGER;
  let afterRid = 0;
  for (;;) {
    const page = (stmt.all(...params, afterTime, afterRid, PAGE_ROWS) as unknown[][]).map((values) => {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) row[names[i]!] = values[i];
      return row as unknown as AuditRowRaw;
    });
    for (const r of page) yield r;
    if (page.length < PAGE_ROWS) return;
    const last = page[page.length - 1]!;
    afterTime = last.time_ms;
    afterRid = last.rid;
  }
}

// Every report leaves out the probes of `schoolgate selftest` (selftest_run set, schema 7): they are
// nobody's activity. `selftest --history` lists them.
// A person's rows come with their chain neighbours (NEIGHBOUR_SELECT): the tamper check of a heavy user's
// year then needs no statement per row (67 k rows on 10 M: two lookups each were a third of the report).
/** A person's rows (alias `e`; parameters user, from, to): the report's pass (checked-scan.ts) and exports. */
export const USER_ROWS_WHERE =
  'e.username = ? AND e.time_ms >= ? AND e.time_ms < ? AND e.selftest_run IS NULL';
export const USER_ROWS_SQL = `SELECT e.rowid AS rid, e.*, ${NEIGHBOUR_SELECT} FROM audit_events e ${NEIGHBOUR_JOIN}
  WHERE ${USER_ROWS_WHERE}
    AND (e.time_ms, e.rowid) > (?, ?)
  ORDER BY e.time_ms, e.rowid LIMIT ?`;

export const HOST_ROWS_SQL = `SELECT rowid AS rid, * FROM audit_events
  WHERE host = ? AND time_ms >= ? AND time_ms < ? AND selftest_run IS NULL
    AND (time_ms, rowid) > (?, ?)
  ORDER BY time_ms, rowid LIMIT ?`;

export const FLAGGED_ROWS_SQL = `SELECT rowid AS rid, * FROM audit_events
  WHERE flagged = 1 AND time_ms >= ? AND time_ms < ? AND selftest_run IS NULL
    AND (time_ms, rowid) > (?, ?)
  ORDER BY time_ms, rowid LIMIT ?`;

export const ATTENTION_ROWS_SQL = `SELECT rowid AS rid, * FROM audit_events
  WHERE action IN ('self-report', 'continue') AND time_ms >= ? AND time_ms < ? AND selftest_run IS NULL
    AND (time_ms, rowid) > (?, ?)
  ORDER BY time_ms, rowid LIMIT ?`;

/** Pilot mode's rows (would-block, would-warn), by the partial index of migration 7. */
export const PILOT_ROWS_SQL = `SELECT rowid AS rid, * FROM audit_events
  WHERE action IN ('would-block', 'would-warn') AND time_ms >= ? AND time_ms < ? AND (time_ms, rowid) > (?, ?)
  ORDER BY time_ms, rowid LIMIT ?`;

/** The keyset condition every paged query ends its WHERE with (`e.` for the person's rows). */
const KEYSET = /AND \((e\.)?time_ms, (?:e\.)?rowid\) > \(\?, \?\)/;

/** The paged query with `site = ?` before its keyset condition: one site's rows only. */
export function sitedSql(sql: string): string {
  if (!KEYSET.test(sql)) throw new Error('sitedSql: the query has no keyset condition');
  return sql.replace(KEYSET, (m: string, e: string | undefined) => `AND ${e ?? ''}site = ? ${m}`);
}

const sitedCache = new Map<string, string>();

/** pagedRows within `site` when given (the site bound after the caller's parameters). */
export function sitedPagedRows(db: Database.Database, sql: string, params: unknown[], site?: string) {
  if (site === undefined) return pagedRows(db, sql, params);
  let sited = sitedCache.get(sql);
  if (!sited) sitedCache.set(sql, (sited = sitedSql(sql)));
  return pagedRows(db, sited, [...params, site]);
}

/** pagedRows within the source's site, when it has one. */
export function sitedRows(src: SqliteSource, sql: string, params: unknown[]) {
  return sitedPagedRows(src.db, sql, params, src.site);
}

export function parseCategories(r: AuditRowRaw): string[] {
  try {
    const v = JSON.parse(r.categories) as unknown;
    return Array.isArray(v) ? v.filter((c): c is string => typeof c === 'string') : [];
  } catch {
    return [];
  }
}

/** The address as requested: scheme://host[:port]path. */
export function rowAddress(r: AuditRowRaw): string {
  const defaultPort = (r.scheme === 'https' && r.port === 443) || (r.scheme === 'http' && r.port === 80);
  const port = r.port === null || defaultPort ? '' : `:${r.port}`;
  return `${r.scheme}://${r.host}${port}${r.path ?? ''}`;
}
