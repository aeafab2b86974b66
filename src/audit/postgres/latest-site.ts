/**
 * The school of the trust a person's latest request was resolved to, over every node's rows: what a
 * site-scoped console account checks a directory person (no users row) against (console/site-scope.ts).
 * Answered from audit_events_user_time (username, time_ms), newest first.
 */
import type { Queryable } from './connect.js';

export async function pgLatestSite(db: Queryable, user: string): Promise<string | null> {
  const { rows } = await db.query<{ site: string | null }>(
    'SELECT site FROM audit_events WHERE username = $1 ORDER BY time_ms DESC LIMIT 1',
    [user],
  );
  return rows[0]?.site ?? null;
}
