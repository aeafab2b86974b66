/**
 * PostgreSQL's report_access (PG migration 9): the record of every look at the records on a PostgreSQL
 * store, written before the report reads anything, and read back (keyset-ordered by time, id) for the
 * access log, as the SQLite side's src/audit/report-access.ts.
 */
import {
  ACCESS_COLUMNS,
  accessValues,
  toAccessEntry,
  type AccessEntry,
  type AccessRow,
  type StoredAccessEntry,
} from '../report-access.js';
import type { AccessLogQuery, AccessRecorder } from '../../reports/audit-reads.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';

/** Records report access in PostgreSQL (report_access), before the report reads anything. */
export class PgAccessRecorder implements AccessRecorder {
  readonly store = 'postgres';

  constructor(private readonly db: Queryable) {}

  async record(e: AccessEntry): Promise<number> {
    const values = accessValues(e);
    const { rows } = await this.db.query<{ id: number }>({
      text: `INSERT INTO report_access (${ACCESS_COLUMNS})
        VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
      values,
      types: BIGINT_AS_NUMBER,
    });
    return rows[0]!.id;
  }

  async close(): Promise<void> {}
}

/** Entries per query of the access log: each page one short index range. */
const ACCESS_PAGE = 1000;

/**
 * One page of the access log ($1.. the case, or from and to; then the keyset position and the page size),
 * answered in order from report_access_case_keyset or report_access_time_keyset (PG migration 10).
 */
export function pgAccessPageSql(byCase: boolean): string {
  const [where, n] = byCase ? ['case_ref = $1', 1] : ['time_ms >= $1 AND time_ms < $2', 2];
  return `SELECT * FROM report_access WHERE ${where} AND (time_ms, id) > ($${n + 1}, $${n + 2})
    ORDER BY time_ms, id LIMIT $${n + 3}`;
}

/** The access log's entries (as listAccess): from <= time < to, oldest first, or one case's; at most `limit`. */
export async function listPgAccess(db: Queryable, q: AccessLogQuery): Promise<StoredAccessEntry[]> {
  const limit = q.limit ?? 10_000;
  const byCase = q.caseRef !== undefined;
  const params = byCase ? [q.caseRef] : [q.fromMs ?? 0, q.toMs ?? Number.MAX_SAFE_INTEGER];
  const text = pgAccessPageSql(byCase);
  const entries: StoredAccessEntry[] = [];
  let after: [number, number] = [-Number.MAX_SAFE_INTEGER, 0];
  while (entries.length < limit) {
    const page = Math.min(ACCESS_PAGE, limit - entries.length);
    const { rows } = await db.query<AccessRow>({
      text,
      values: [...params, ...after, page],
      types: BIGINT_AS_NUMBER,
    });
    for (const r of rows) entries.push(toAccessEntry(r));
    if (rows.length < page) break;
    const last = rows[rows.length - 1]!;
    after = [last.time_ms, last.id];
  }
  return entries;
}
