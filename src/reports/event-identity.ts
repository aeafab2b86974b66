/** Whose row an audit reference is, for the access check and record of a context report (CLI and console). */
import type { RowIdentity } from '../audit/case-subjects.js';
import type { ReadonlyConfig } from '../config/load.js';
import { auditPathOf } from './run.js';
import { openReadOnly } from './source.js';

/** An audit row's identity and the school of the trust it was resolved to (null: none, or a single school). */
export interface EventIdentity extends RowIdentity {
  site: string | null;
}

/**
 * The row's user, device, address and site, from the store the report reads (config.store: on PostgreSQL
 * any node's row); null when there is no such row (or no audit log yet). Read to decide the access, before
 * it is recorded, as a person's report reads who they are; a PostgreSQL that cannot be reached is
 * SG_AUDIT_UNAVAILABLE (the access could not be recorded either).
 */
export async function identityOfEvent(config: ReadonlyConfig, ref: string): Promise<EventIdentity | null> {
  if (config.store === 'sqlite') return identityInSqlite(config, ref);
  const { openPgReportStore } = await import('../audit/postgres/report-reads.js');
  const store = await openPgReportStore(config);
  try {
    const row = await store.reads.rowById(ref);
    return row
      ? { username: row.username, device: row.device, client_ip: row.client_ip, site: row.site ?? null }
      : null;
  } finally {
    await store.close();
  }
}

function identityInSqlite(config: ReadonlyConfig, ref: string): EventIdentity | null {
  try {
    const db = openReadOnly(auditPathOf(config));
    try {
      // `*`: a log not yet migrated to schema 12 has no site column (its rows have no site).
      const row = db.prepare('SELECT * FROM audit_events WHERE id = ?').get(ref) as
        (RowIdentity & { site?: string | null }) | undefined;
      return row
        ? { username: row.username, device: row.device, client_ip: row.client_ip, site: row.site ?? null }
        : null;
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

/** The access record's subject for a context report: the row's person, or the reference itself. */
export function eventSubject(row: RowIdentity | null, ref: string): string {
  return row ? (row.username ?? row.device ?? row.client_ip) : `(event ${ref})`;
}

/** With --site: another site's row (or one with no site) is refused before anything is read. */
export function otherSiteRowRefusal(
  row: EventIdentity | null,
  ref: string,
  site: string | undefined,
): { reason: string; suggestion: string } | null {
  if (site === undefined || row === null || row.site === site) return null;
  return {
    reason: `audit row ${ref} is not of site ${site} (it is ${row.site === null ? 'of no site' : `of site ${row.site}`})`,
    suggestion: 'check the reference; give the row’s own site, or leave --site out for the whole trust',
  };
}
