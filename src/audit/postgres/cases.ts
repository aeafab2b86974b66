/**
 * Cases on PostgreSQL (PG migration 7), shared by every node: an open case on any node holds its subjects'
 * rows in every node's chain from the purge. The same rules and refusals as SQLite's cases.ts; a case's
 * row is locked (FOR UPDATE) while it changes, as SQLite's IMMEDIATE transaction serialises them.
 */
import type pg from 'pg';
import type { CaseStore } from '../case-store.js';
import { subjectsLabel, type CaseSubject } from '../case-subjects.js';
import {
  caseErrors,
  caseFromRow,
  checkCaseRef,
  reopenNote,
  type Actor,
  type CaseRecord,
  type CaseRow,
} from '../cases.js';
import { pgCaseLooks } from './case-looks.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';
import { inPgTransaction } from './transaction.js';

async function rows<T extends pg.QueryResultRow>(
  db: Queryable,
  text: string,
  values: unknown[],
): Promise<T[]> {
  return (await db.query<T>({ text, values, types: BIGINT_AS_NUMBER })).rows;
}

async function getCase(db: Queryable, ref: string, lock = false): Promise<CaseRecord | undefined> {
  const [r] = await rows<CaseRow>(db, `SELECT * FROM cases WHERE ref = $1${lock ? ' FOR UPDATE' : ''}`, [
    ref,
  ]);
  if (!r) return undefined;
  const subjects = await rows<CaseSubject>(
    db,
    'SELECT kind, value FROM case_subjects WHERE ref = $1 ORDER BY ctid',
    [ref],
  );
  return caseFromRow(r, subjects);
}

async function requireCase(db: Queryable, ref: string, lock = false): Promise<CaseRecord> {
  const found = await getCase(db, checkCaseRef(ref), lock);
  if (!found) throw caseErrors.unknown(ref);
  return found;
}

async function insertNote(db: Queryable, ref: string, actor: Actor, text: string): Promise<void> {
  await db.query('INSERT INTO case_notes (ref, time_ms, author, os_user, text) VALUES ($1, $2, $3, $4, $5)', [
    ref,
    actor.now,
    actor.by,
    actor.osUser,
    text,
  ]);
}

export function pgCaseStore(pool: pg.Pool): CaseStore {
  return {
    open: (o) => {
      checkCaseRef(o.ref);
      if (o.subjects.length === 0) throw caseErrors.noSubject(o.ref);
      return inPgTransaction(pool, async (db) => {
        const made = await db.query(
          `INSERT INTO cases (ref, subject, status, opened_ms, opened_by, os_user)
           VALUES ($1, $2, 'open', $3, $4, $5) ON CONFLICT (ref) DO NOTHING`,
          [o.ref, subjectsLabel(o.subjects), o.now, o.by, o.osUser],
        );
        if (made.rowCount === 0) throw caseErrors.exists(o.ref);
        for (const s of o.subjects)
          await db.query(
            'INSERT INTO case_subjects (ref, kind, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
            [o.ref, s.kind, s.value],
          );
        if (o.note) await insertNote(db, o.ref, o, o.note);
        return (await getCase(db, o.ref))!;
      });
    },
    note: (o) =>
      inPgTransaction(pool, async (db) => {
        const c = await requireCase(db, o.ref, true);
        if (c.status === 'closed') throw caseErrors.closedForNotes(o.ref);
        await insertNote(db, o.ref, o, o.text);
      }),
    close: (o) =>
      inPgTransaction(pool, async (db) => {
        const c = await requireCase(db, o.ref, true);
        if (c.status === 'closed') throw caseErrors.closedAlready(o.ref);
        await db.query(
          `UPDATE cases SET status = 'closed', closed_ms = $1, closed_by = $2, outcome = $3 WHERE ref = $4`,
          [o.now, o.by, o.outcome ?? null, o.ref],
        );
        if (o.outcome) await insertNote(db, o.ref, o, `Closed. Outcome: ${o.outcome}`);
        return (await getCase(db, o.ref))!;
      }),
    reopen: (o) => {
      if (!o.reason?.trim()) throw caseErrors.reopenNeedsReason(o.ref);
      return inPgTransaction(pool, async (db) => {
        const c = await requireCase(db, o.ref, true);
        if (c.status !== 'closed') throw caseErrors.stillOpen(o.ref);
        await db.query(
          `UPDATE cases SET status = 'open', closed_ms = NULL, closed_by = NULL, outcome = NULL WHERE ref = $1`,
          [o.ref],
        );
        await insertNote(db, o.ref, o, reopenNote(c, o.reason!));
        return (await getCase(db, o.ref))!;
      });
    },
    get: (ref) => getCase(pool, ref),
    require: (ref) => requireCase(pool, ref),
    list: async () => {
      const refs = await rows<{ ref: string }>(pool, 'SELECT ref FROM cases ORDER BY opened_ms, ref', []);
      return Promise.all(refs.map((r) => getCase(pool, r.ref).then((c) => c!)));
    },
    notes: async (ref) =>
      (
        await rows<{
          id: number;
          ref: string;
          time_ms: number;
          author: string;
          os_user: string;
          text: string;
        }>(pool, 'SELECT * FROM case_notes WHERE ref = $1 ORDER BY time_ms, id', [ref])
      ).map((r) => ({
        id: r.id,
        ref: r.ref,
        timeMs: r.time_ms,
        author: r.author,
        osUser: r.os_user,
        text: r.text,
      })),
    looks: (ref, limit) => pgCaseLooks(pool, ref, limit),
  };
}
