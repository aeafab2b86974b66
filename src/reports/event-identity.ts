/** Whose row an audit reference is, for the access check and record of a context report (CLI and console). */
import type { RowIdentity } from '../audit/case-subjects.js';
import type { ReadonlyConfig } from '../config/load.js';
import { auditPathOf } from './run.js';
import { openReadOnly } from './source.js';

/** The row's user, device and address; null when there is no such row (or no audit log yet). */
export function identityOfEvent(config: ReadonlyConfig, ref: string): RowIdentity | null {
  try {
    const db = openReadOnly(auditPathOf(config));
    try {
      const row = db.prepare('SELECT username, device, client_ip FROM audit_events WHERE id = ?').get(ref) as
        RowIdentity | undefined;
      return row ?? null;
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
