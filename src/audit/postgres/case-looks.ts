/** The reports pulled and refused under one case, from PostgreSQL's report_access (listAccess's caseRef). */
import { toAccessEntry, type AccessRow, type StoredAccessEntry } from '../report-access.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';

/** Oldest first, at most `limit` (report_access_case_keyset answers it: case_ref, time_ms, id). */
export async function pgCaseLooks(db: Queryable, ref: string, limit: number): Promise<StoredAccessEntry[]> {
  const { rows } = await db.query<AccessRow>({
    text: 'SELECT * FROM report_access WHERE case_ref = $1 ORDER BY time_ms, id LIMIT $2',
    values: [ref, limit],
    types: BIGINT_AS_NUMBER,
  });
  return rows.map(toAccessEntry);
}
