/**
 * Legal holds on PostgreSQL (holds.ts is SQLite's, with the same rules and messages): one table shared by
 * every node, so a hold placed on any node keeps the rows of every node's chain from the purge.
 */
import type pg from 'pg';
import type { Actor } from '../cases.js';
import type { HoldStore } from '../hold-store.js';
import type { CaseSubject } from '../case-subjects.js';
import {
  HELD_SUBJECTS_SQL,
  heldSetOf,
  holdFromRow,
  needReason,
  noSubject,
  releaseRefusal,
  type HeldSet,
  type Hold,
  type HoldRow,
} from '../holds.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';
import { inPgTransaction, type PgTransactional } from './transaction.js';

export async function addPgHolds(
  db: PgTransactional,
  opts: Actor & { subjects: readonly CaseSubject[]; reason: string | undefined },
): Promise<Hold[]> {
  const reason = needReason(opts.reason, 'placed');
  if (opts.subjects.length === 0) throw noSubject();
  return inPgTransaction(db, async (client) => {
    const holds: Hold[] = [];
    for (const s of opts.subjects) {
      const { rows } = await client.query<HoldRow>({
        text: `INSERT INTO holds (kind, value, reason, by_name, os_user, created_ms)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        values: [s.kind, s.value, reason, opts.by, opts.osUser, opts.now],
        types: BIGINT_AS_NUMBER,
      });
      holds.push(holdFromRow(rows[0]!));
    }
    return holds;
  });
}

export async function getPgHold(db: Queryable, id: number): Promise<Hold | null> {
  const { rows } = await db.query<HoldRow>({
    text: 'SELECT * FROM holds WHERE id = $1',
    values: [id],
    types: BIGINT_AS_NUMBER,
  });
  return rows[0] ? holdFromRow(rows[0]) : null;
}

export async function releasePgHold(
  db: PgTransactional,
  opts: Actor & { id: number; reason: string | undefined },
): Promise<Hold> {
  const reason = needReason(opts.reason, 'released');
  return inPgTransaction(db, async (client) => {
    // FOR UPDATE: two releases at once, one wins and the other is told it was released already.
    await client.query('SELECT 1 FROM holds WHERE id = $1 FOR UPDATE', [opts.id]);
    const refused = releaseRefusal(await getPgHold(client, opts.id), opts.id);
    if (refused) throw refused;
    await client.query(
      'UPDATE holds SET released_ms = $1, released_by = $2, release_reason = $3 WHERE id = $4',
      [opts.now, opts.by, reason, opts.id],
    );
    return (await getPgHold(client, opts.id))!;
  });
}

export async function listPgHolds(db: Queryable, opts: { all?: boolean } = {}): Promise<Hold[]> {
  const { rows } = await db.query<HoldRow>({
    text: `SELECT * FROM holds ${opts.all ? '' : 'WHERE released_ms IS NULL'} ORDER BY id`,
    types: BIGINT_AS_NUMBER,
  });
  return rows.map(holdFromRow);
}

/** Everyone whose rows are kept from the purge now: open cases' subjects and standing holds'. */
export async function pgHeldSet(db: Queryable): Promise<HeldSet> {
  const { rows } = await db.query<CaseSubject>(HELD_SUBJECTS_SQL);
  return heldSetOf(rows);
}

/** The holds of the shared database behind the stores' one interface (hold-store.ts). */
export function pgHoldStore(pool: pg.Pool): HoldStore {
  return {
    add: (o) => addPgHolds(pool, o),
    release: (o) => releasePgHold(pool, o),
    list: (o) => listPgHolds(pool, o),
    get: (id) => getPgHold(pool, id),
  };
}
