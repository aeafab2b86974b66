/**
 * Cases (investigations): the DfE monitoring standard asks for a documented record of each incident, the
 * action taken and the outcome. A case has a subject (the username whose records it concerns), notes with
 * authors and times, the reports pulled under it (report_access.case_ref) and an outcome once closed.
 * While a case is open, its subject's audit rows are held: `audit purge` never deletes them.
 */
import type Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import { caseSubjects, insertCaseSubjects, subjectsLabel, type CaseSubject } from './case-subjects.js';

export interface CaseRecord {
  ref: string;
  /** The subjects' label, for display ('j.smith', 'j.smith, device lab-3'). */
  subject: string;
  subjects: CaseSubject[];
  status: 'open' | 'closed';
  openedMs: number;
  openedBy: string;
  osUser: string;
  closedMs: number | null;
  closedBy: string | null;
  outcome: string | null;
}

export interface CaseNote {
  id: number;
  ref: string;
  timeMs: number;
  author: string;
  osUser: string;
  text: string;
}

const CASE_REF = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$/;

export function checkCaseRef(ref: string): string {
  if (!CASE_REF.test(ref))
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `"${ref}" is not a case reference`, {
      context: { ref },
      suggestion: 'use letters, digits, "-", "_", "." or "/" (up to 64), e.g. 2026-014',
    });
  return ref;
}

export interface CaseRow {
  ref: string;
  subject: string;
  status: 'open' | 'closed';
  opened_ms: number;
  opened_by: string;
  os_user: string;
  closed_ms: number | null;
  closed_by: string | null;
  outcome: string | null;
}

const toCase = (db: Database.Database, r: CaseRow): CaseRecord => caseFromRow(r, caseSubjects(db, r.ref));

/** A stored case row and its subjects as a CaseRecord (both stores). */
export const caseFromRow = (r: CaseRow, subjects: CaseSubject[]): CaseRecord => ({
  ref: r.ref,
  subject: r.subject,
  subjects,
  status: r.status,
  openedMs: r.opened_ms,
  openedBy: r.opened_by,
  osUser: r.os_user,
  closedMs: r.closed_ms,
  closedBy: r.closed_by,
  outcome: r.outcome,
});

export function getCase(db: Database.Database, ref: string): CaseRecord | undefined {
  const row = db.prepare<[string], CaseRow>('SELECT * FROM cases WHERE ref = ?').get(ref);
  return row ? toCase(db, row) : undefined;
}

export function listCases(db: Database.Database): CaseRecord[] {
  return db
    .prepare<[], CaseRow>('SELECT * FROM cases ORDER BY opened_ms')
    .all()
    .map((r) => toCase(db, r));
}

export function requireCase(db: Database.Database, ref: string): CaseRecord {
  const found = getCase(db, checkCaseRef(ref));
  if (!found) throw caseErrors.unknown(ref);
  return found;
}

/** The refusals of the case rules, the same on both stores (postgres/cases.ts). */
export const caseErrors = {
  unknown: (ref: string) =>
    new SchoolgateError('SG_CASE_UNKNOWN', `no case with reference ${ref}`, {
      context: { ref },
      suggestion: `open it first: schoolgate case open ${ref} --subject USER --by NAME`,
    }),
  noSubject: (ref: string) =>
    new SchoolgateError('SG_ARGUMENT_INVALID', `case ${ref} names no subject`, {
      suggestion:
        'give --subject USER, or --subject-device NAME / --subject-address IP for unauthenticated traffic',
    }),
  exists: (ref: string) =>
    new SchoolgateError('SG_CASE_EXISTS', `case ${ref} already exists`, {
      context: { ref },
      suggestion: `add to it with: schoolgate case note ${ref} --by NAME TEXT`,
    }),
  closedForNotes: (ref: string) =>
    new SchoolgateError('SG_CASE_CLOSED', `case ${ref} is closed`, {
      context: { ref },
      suggestion: 'a closed case is a finished record; open a new case for new events',
    }),
  closedAlready: (ref: string) =>
    new SchoolgateError('SG_CASE_CLOSED', `case ${ref} is already closed`, { context: { ref } }),
  reopenNeedsReason: (ref: string) =>
    new SchoolgateError('SG_ARGUMENT_INVALID', `reopening case ${ref} needs a reason`, {
      suggestion: 'give --reason, e.g. --reason "new evidence from the police"',
    }),
  stillOpen: (ref: string) =>
    new SchoolgateError('SG_ARGUMENT_INVALID', `case ${ref} is open`, { context: { ref } }),
};

/** The note that keeps a closing when the case is reopened. */
export function reopenNote(c: CaseRecord, reason: string): string {
  const closed = c.closedMs === null || c.closedMs === undefined ? '?' : new Date(c.closedMs).toISOString();
  return (
    `Reopened: ${reason.trim()}. (It was closed ${closed} by ${c.closedBy ?? '?'}` +
    `${c.outcome ? `, outcome: ${c.outcome}` : ''}.)`
  );
}

export interface Actor {
  by: string;
  osUser: string;
  now: number;
}

export function openCase(
  db: Database.Database,
  opts: Actor & { ref: string; subjects: readonly CaseSubject[]; note?: string | undefined },
): CaseRecord {
  checkCaseRef(opts.ref);
  if (opts.subjects.length === 0) throw caseErrors.noSubject(opts.ref);
  db.transaction(() => {
    if (getCase(db, opts.ref)) throw caseErrors.exists(opts.ref);
    db.prepare(
      `INSERT INTO cases (ref, subject, status, opened_ms, opened_by, os_user) VALUES (?, ?, 'open', ?, ?, ?)`,
    ).run(opts.ref, subjectsLabel(opts.subjects), opts.now, opts.by, opts.osUser);
    insertCaseSubjects(db, opts.ref, opts.subjects);
    if (opts.note) insertNote(db, opts.ref, opts, opts.note);
  }).immediate();
  return getCase(db, opts.ref)!;
}

function insertNote(db: Database.Database, ref: string, actor: Actor, text: string): void {
  db.prepare(`INSERT INTO case_notes (ref, time_ms, author, os_user, text) VALUES (?, ?, ?, ?, ?)`).run(
    ref,
    actor.now,
    actor.by,
    actor.osUser,
    text,
  );
}

export function addCaseNote(db: Database.Database, opts: Actor & { ref: string; text: string }): void {
  const c = requireCase(db, opts.ref);
  if (c.status === 'closed') throw caseErrors.closedForNotes(opts.ref);
  insertNote(db, opts.ref, opts, opts.text);
}

export function closeCase(
  db: Database.Database,
  opts: Actor & { ref: string; outcome?: string | undefined },
): CaseRecord {
  db.transaction(() => {
    const c = requireCase(db, opts.ref);
    if (c.status === 'closed') throw caseErrors.closedAlready(opts.ref);
    db.prepare(
      `UPDATE cases SET status = 'closed', closed_ms = ?, closed_by = ?, outcome = ? WHERE ref = ?`,
    ).run(opts.now, opts.by, opts.outcome ?? null, opts.ref);
    if (opts.outcome) insertNote(db, opts.ref, opts, `Closed. Outcome: ${opts.outcome}`);
  }).immediate();
  return getCase(db, opts.ref)!;
}

/**
 * Opens a closed case again (new evidence, an appeal). The closing is not erased: a note keeps when, by
 * whom and with what outcome it was closed, and the ledger keeps the row as it was.
 */
export function reopenCase(
  db: Database.Database,
  opts: Actor & { ref: string; reason: string | undefined },
): CaseRecord {
  if (!opts.reason?.trim()) throw caseErrors.reopenNeedsReason(opts.ref);
  db.transaction(() => {
    const c = requireCase(db, opts.ref);
    if (c.status !== 'closed') throw caseErrors.stillOpen(opts.ref);
    db.prepare(
      `UPDATE cases SET status = 'open', closed_ms = NULL, closed_by = NULL, outcome = NULL WHERE ref = ?`,
    ).run(opts.ref);
    insertNote(db, opts.ref, opts, reopenNote(c, opts.reason!));
  }).immediate();
  return getCase(db, opts.ref)!;
}

export function caseNotes(db: Database.Database, ref: string): CaseNote[] {
  return db
    .prepare<
      [string],
      { id: number; ref: string; time_ms: number; author: string; os_user: string; text: string }
    >('SELECT * FROM case_notes WHERE ref = ? ORDER BY time_ms, id')
    .all(ref)
    .map((r) => ({
      id: r.id,
      ref: r.ref,
      timeMs: r.time_ms,
      author: r.author,
      osUser: r.os_user,
      text: r.text,
    }));
}
