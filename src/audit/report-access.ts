/**
 * The record of every report pulled (and every refusal): who (the --by name, the OS user and, through sudo,
 * the account that ran it), when, which command, whose records or which domain, under which case, why (the
 * purpose, --reason), in which format and to which file. Written before the report is produced, so a
 * report that fails half-way is still on the record.
 */
import type Database from 'better-sqlite3';

export interface AccessEntry {
  timeMs: number;
  by: string | null;
  osUser: string;
  command: string;
  subject?: string | null;
  domain?: string | null;
  caseRef?: string | null;
  fromMs?: number | null;
  toMs?: number | null;
  format?: string | null;
  outcome: 'granted' | 'refused';
  reason?: string | null;
  /** Why the records are read (--reason): the purpose the access log shows. */
  purpose?: string | null;
  /** The file the output went to (--out); null: standard output. */
  outFile?: string | null;
  /** The account that ran the command through sudo (SUDO_USER), when it did. */
  sudoUser?: string | null;
  /** The school of the trust the read was limited to (--site, a site-scoped console account); null: all. */
  site?: string | null;
}

export interface StoredAccessEntry extends AccessEntry {
  id: number;
}

export const ACCESS_COLUMNS =
  'time_ms, by_name, os_user, command, subject, domain, case_ref, from_ms, to_ms, format, outcome, reason, purpose, out_file, sudo_user, site';

/** The entry's values in ACCESS_COLUMNS order (the SQLite and PostgreSQL records both insert them). */
export function accessValues(e: AccessEntry): unknown[] {
  return [
    e.timeMs,
    e.by,
    e.osUser,
    e.command,
    e.subject ?? null,
    e.domain ?? null,
    e.caseRef ?? null,
    e.fromMs ?? null,
    e.toMs ?? null,
    e.format ?? null,
    e.outcome,
    e.reason ?? null,
    e.purpose ?? null,
    e.outFile ?? null,
    e.sudoUser ?? null,
    e.site ?? null,
  ];
}

export function recordAccess(db: Database.Database, e: AccessEntry): number {
  const info = db
    .prepare(
      `INSERT INTO report_access (${ACCESS_COLUMNS}) VALUES (${accessValues(e)
        .map(() => '?')
        .join(', ')})`,
    )
    .run(...accessValues(e));
  return Number(info.lastInsertRowid);
}

/** A report_access row as both engines store it (PostgreSQL's reads map theirs with accessEntryOf). */
export interface AccessRow {
  id: number;
  time_ms: number;
  by_name: string | null;
  os_user: string;
  command: string;
  subject: string | null;
  domain: string | null;
  case_ref: string | null;
  from_ms: number | null;
  to_ms: number | null;
  format: string | null;
  outcome: 'granted' | 'refused';
  reason: string | null;
  purpose: string | null;
  out_file: string | null;
  sudo_user: string | null;
  site: string | null;
}

export const accessEntryOf = (r: AccessRow): StoredAccessEntry => ({
  id: r.id,
  timeMs: r.time_ms,
  by: r.by_name,
  osUser: r.os_user,
  command: r.command,
  subject: r.subject,
  domain: r.domain,
  caseRef: r.case_ref,
  fromMs: r.from_ms,
  toMs: r.to_ms,
  format: r.format,
  outcome: r.outcome,
  reason: r.reason,
  purpose: r.purpose,
  outFile: r.out_file,
  sudoUser: r.sudo_user,
  site: r.site,
});

/** Entries with from <= time < to, newest last; or those of one case. */
export function listAccess(
  db: Database.Database,
  opts: { fromMs?: number; toMs?: number; caseRef?: string; limit?: number } = {},
): StoredAccessEntry[] {
  const limit = opts.limit ?? 10_000;
  if (opts.caseRef !== undefined) {
    return db
      .prepare<[string, number], AccessRow>(
        'SELECT * FROM report_access WHERE case_ref = ? ORDER BY time_ms, id LIMIT ?',
      )
      .all(opts.caseRef, limit)
      .map(accessEntryOf);
  }
  return db
    .prepare<[number, number, number], AccessRow>(
      'SELECT * FROM report_access WHERE time_ms >= ? AND time_ms < ? ORDER BY time_ms, id LIMIT ?',
    )
    .all(opts.fromMs ?? 0, opts.toMs ?? Number.MAX_SAFE_INTEGER, limit)
    .map(accessEntryOf);
}

/** The latest granted entry of a command (e.g. 'digest weekly'): when, and the end of its period. */
export function lastGrantedAccess(
  db: Database.Database,
  command: string,
): { timeMs: number; toMs: number | null } | null {
  const row = db
    .prepare<[string], { time_ms: number; to_ms: number | null }>(
      `SELECT time_ms, to_ms FROM report_access WHERE command = ? AND outcome = 'granted'
       ORDER BY time_ms DESC, id DESC LIMIT 1`,
    )
    .get(command);
  return row ? { timeMs: row.time_ms, toMs: row.to_ms } : null;
}
