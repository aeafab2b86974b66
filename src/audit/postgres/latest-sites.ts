/** The site of each user's latest audit row on PostgreSQL, for people without a users row (site-scope.ts). */
import type { Queryable } from './connect.js';

/** user → site (null when their latest row has none); users with no rows are absent. */
export async function pgLatestSites(
  db: Queryable,
  users: readonly string[],
): Promise<Map<string, string | null>> {
  if (users.length === 0) return new Map();
  // One index range per user (audit_events_user_keyset: username, time_ms, ...), newest first.
  const { rows } = await db.query<{ username: string; site: string | null }>(
    `SELECT u AS username,
            (SELECT site FROM audit_events WHERE username = u ORDER BY time_ms DESC LIMIT 1) AS site
       FROM unnest($1::text[]) u
      WHERE EXISTS (SELECT 1 FROM audit_events WHERE username = u)`,
    [users],
  );
  return new Map(rows.map((r) => [r.username, r.site]));
}
