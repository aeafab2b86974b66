/**
 * Legal holds: records kept from purging for as long as a hold stands, independent of any case (a police
 * referral, a tribunal, a subject access request outlast the case that started them). A hold names its
 * subjects as a case does (users; devices or addresses for traffic nobody signed in for), a reason and a
 * person; it is released, never deleted, with a reason and a person too. Both are in the ledger.
 */
import type Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import type { Actor } from './cases.js';
import type { CaseSubject, RowIdentity } from './case-subjects.js';

export interface Hold {
  id: number;
  kind: CaseSubject['kind'];
  value: string;
  reason: string;
  by: string;
  osUser: string;
  createdMs: number;
  releasedMs: number | null;
  releasedBy: string | null;
  releaseReason: string | null;
}

export type HoldRow = {
  id: number;
  kind: CaseSubject['kind'];
  value: string;
  reason: string;
  by_name: string;
  os_user: string;
  created_ms: number;
  released_ms: number | null;
  released_by: string | null;
  release_reason: string | null;
};

export const CREATE_HOLDS_SQL = `
  CREATE TABLE holds (
    id             INTEGER PRIMARY KEY,
    kind           TEXT    NOT NULL CHECK (kind IN ('user', 'device', 'address')),
    value          TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    by_name        TEXT    NOT NULL,
    os_user        TEXT    NOT NULL,
    created_ms     INTEGER NOT NULL,
    released_ms    INTEGER,
    released_by    TEXT,
    release_reason TEXT
  );
`;

export function holdFromRow(r: HoldRow): Hold {
  return {
    id: r.id,
    kind: r.kind,
    value: r.value,
    reason: r.reason,
    by: r.by_name,
    osUser: r.os_user,
    createdMs: r.created_ms,
    releasedMs: r.released_ms,
    releasedBy: r.released_by,
    releaseReason: r.release_reason,
  };
}

export function needReason(reason: string | undefined, what: string): string {
  if (!reason?.trim())
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `a hold is ${what} with a reason`, {
      suggestion: 'give --reason, e.g. --reason "police referral 14/11, keep until told"',
    });
  return reason.trim();
}

export const noSubject = () =>
  new SchoolgateError('SG_ARGUMENT_INVALID', 'a hold names no subject', {
    suggestion: 'give --subject USER, --subject-device NAME or --subject-address IP',
  });

/** Why a release is refused (none, or released already), or null. */
export function releaseRefusal(h: Hold | null, id: number): SchoolgateError | null {
  if (!h)
    return new SchoolgateError('SG_ARGUMENT_INVALID', `there is no hold ${id}`, {
      suggestion: 'see schoolgate hold list --all',
    });
  if (h.releasedMs !== null)
    return new SchoolgateError('SG_ARGUMENT_INVALID', `hold ${id} was released already`, {
      context: { releasedBy: h.releasedBy, releasedMs: h.releasedMs },
    });
  return null;
}

/** One hold per subject; returns them. */
export function addHolds(
  db: Database.Database,
  opts: Actor & { subjects: readonly CaseSubject[]; reason: string | undefined },
): Hold[] {
  const reason = needReason(opts.reason, 'placed');
  if (opts.subjects.length === 0) throw noSubject();
  const insert = db.prepare(
    `INSERT INTO holds (kind, value, reason, by_name, os_user, created_ms) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  return db
    .transaction(() =>
      opts.subjects.map((s) => {
        const id = Number(
          insert.run(s.kind, s.value, reason, opts.by, opts.osUser, opts.now).lastInsertRowid,
        );
        return getHold(db, id)!;
      }),
    )
    .immediate();
}

export function getHold(db: Database.Database, id: number): Hold | null {
  const r = db.prepare(`SELECT * FROM holds WHERE id = ?`).get(id) as HoldRow | undefined;
  return r ? holdFromRow(r) : null;
}

export function releaseHold(
  db: Database.Database,
  opts: Actor & { id: number; reason: string | undefined },
): Hold {
  const reason = needReason(opts.reason, 'released');
  return db
    .transaction(() => {
      const refused = releaseRefusal(getHold(db, opts.id), opts.id);
      if (refused) throw refused;
      db.prepare(`UPDATE holds SET released_ms = ?, released_by = ?, release_reason = ? WHERE id = ?`).run(
        opts.now,
        opts.by,
        reason,
        opts.id,
      );
      return getHold(db, opts.id)!;
    })
    .immediate();
}

export function listHolds(db: Database.Database, opts: { all?: boolean } = {}): Hold[] {
  const rows = db
    .prepare(`SELECT * FROM holds ${opts.all ? '' : 'WHERE released_ms IS NULL'} ORDER BY id`)
    .all() as HoldRow[];
  return rows.map(holdFromRow);
}

/**
 * Everyone whose records are kept from purging now: the subjects of open cases and of standing holds,
 * as sets to test each row against (the same reading as a case's scope: a device or address covers
 * only rows nobody signed in for).
 */
export interface HeldSet {
  users: ReadonlySet<string>;
  devices: ReadonlySet<string>;
  addresses: ReadonlySet<string>;
}

/** The subjects of open cases and standing holds (the same SQL on SQLite and PostgreSQL). */
export const HELD_SUBJECTS_SQL = `SELECT s.kind, s.value FROM case_subjects s JOIN cases c ON c.ref = s.ref
  WHERE c.status = 'open' UNION SELECT kind, value FROM holds WHERE released_ms IS NULL`;

export function heldSet(db: Database.Database): HeldSet {
  const rows = db.prepare(HELD_SUBJECTS_SQL).all() as CaseSubject[];
  return heldSetOf(rows);
}

export function heldSetOf(rows: readonly CaseSubject[]): HeldSet {
  const of = (kind: CaseSubject['kind']) => new Set(rows.filter((r) => r.kind === kind).map((r) => r.value));
  return { users: of('user'), devices: of('device'), addresses: of('address') };
}

export function isHeld(held: HeldSet, row: RowIdentity): boolean {
  if (row.username !== null) return held.users.has(row.username);
  return (row.device !== null && held.devices.has(row.device)) || held.addresses.has(row.client_ip);
}
