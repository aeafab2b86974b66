/**
 * The ledger on PostgreSQL (src/audit/postgres/ledger.ts): cases, notes, holds, purges and report_access
 * written through schoolgate verify; rows there before the ledger are anchored, not failed; a case, note,
 * hold or access row edited, added or deleted with SQL — with the triggers running, or bypassed — makes
 * `audit verify` fail naming the row.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH } from '../../../src/audit/chain.js';
import { loadOrCreateSigningKey } from '../../../src/audit/checkpoints.js';
import { pgCaseStore } from '../../../src/audit/postgres/cases.js';
import { writePgCheckpoint } from '../../../src/audit/postgres/checkpoints.js';
import { addPgHolds, releasePgHold } from '../../../src/audit/postgres/holds.js';
import { PgAccessRecorder } from '../../../src/audit/postgres/report-access.js';
import { PG_MIGRATIONS } from '../../../src/audit/postgres/schema.js';
import { verifyPostgres } from '../../../src/audit/postgres/verify.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { migratedPool } from '../../helpers/pg-migrated.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const actor = { by: 'DSL', osUser: 'it', now: Date.UTC(2026, 10, 2, 9) };
const LEDGER_MIGRATION = PG_MIGRATIONS.indexOf(PG_MIGRATIONS.find((m) => m.includes('CREATE TABLE ledger'))!);

describe.skipIf(!bin)('the ledger on PostgreSQL', { timeout: 120_000 }, () => {
  let cluster: PgCluster;
  let made = 0;

  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** A database brought to the schema before the ledger, with a case and a hold, then migrated. */
  async function database(): Promise<{ url: string; pool: pg.Pool }> {
    const url = await cluster.createDatabase(`ledger${++made}`);
    const old = new pg.Client(url);
    await old.connect();
    await old.query('CREATE TABLE schema_version (version integer NOT NULL)');
    await old.query('INSERT INTO schema_version VALUES ($1)', [LEDGER_MIGRATION]);
    for (const m of PG_MIGRATIONS.slice(0, LEDGER_MIGRATION)) await old.query(m);
    await old.query(`INSERT INTO cases (ref, subject, opened_ms, opened_by, os_user)
                     VALUES ('OLD-1', 'pupil9', 1, 'DSL', 'it')`);
    await old.query(`INSERT INTO case_subjects VALUES ('OLD-1', 'user', 'pupil9')`);
    await old.query(`INSERT INTO holds (kind, value, reason, by_name, os_user, created_ms)
                     VALUES ('user', 'pupil9', 'old hold', 'DSL', 'it', 1)`);
    await old.end();
    const pool = await migratedPool(url, 2);
    // Then the investigation goes on through schoolgate.
    const cases = pgCaseStore(pool);
    await cases.open({
      ...actor,
      ref: '2026-014',
      subjects: [{ kind: 'user', value: 'pupil1' }],
      note: 'raised',
    });
    await cases.note({ ...actor, ref: '2026-014', text: 'spoke to parents' });
    await cases.close({ ...actor, ref: '2026-014', outcome: 'no further action' });
    const [hold] = await addPgHolds(pool, {
      ...actor,
      subjects: [{ kind: 'user', value: 'pupil2' }],
      reason: 'police',
    });
    await releasePgHold(pool, { ...actor, id: hold!.id, reason: 'closed by police' });
    await new PgAccessRecorder(pool).record({
      timeMs: actor.now,
      by: 'DSL',
      osUser: 'it',
      command: 'case note',
      caseRef: '2026-014',
      outcome: 'granted',
    });
    return { url, pool };
  }

  /** Runs SQL as someone with access to the database (not schoolgate's connection). */
  async function bySql(url: string, ...sql: string[]): Promise<void> {
    const c = new pg.Client(url);
    await c.connect();
    try {
      for (const s of sql) await c.query(s);
    } finally {
      await c.end();
    }
  }

  it('verifies what schoolgate wrote, and anchors the rows from before the ledger', async () => {
    const { pool } = await database();
    const v = await verifyPostgres(pool);
    await pool.end();
    expect(v.ok, JSON.stringify(v.ledger)).toBe(true);
    expect(v.ledger).toMatchObject({ ok: true, anchored: 3 });
    // 3 anchors; case, subject, 3 notes, close; hold, release; the access entry
    expect(v.ledger!.entries).toBe(12);
  });

  const edits: [string, string[], RegExp][] = [
    [
      'a note edited',
      [`UPDATE case_notes SET text = 'nothing happened' WHERE id = 2`],
      /case_notes 2 was changed outside schoolgate \(update by hand/,
    ],
    [
      'a case closed by hand',
      [`UPDATE cases SET status = 'closed' WHERE ref = 'OLD-1'`],
      /cases OLD-1 was changed outside schoolgate/,
    ],
    [
      'a hold deleted',
      [`DELETE FROM holds WHERE id = 1`],
      /holds 1 was changed outside schoolgate \(delete by hand/,
    ],
    [
      'an access row edited',
      [`UPDATE report_access SET by_name = 'someone else'`],
      /report_access 1 was changed outside/,
    ],
    [
      'a note edited with the triggers bypassed',
      ['SET session_replication_role = replica', `UPDATE case_notes SET text = 'x' WHERE id = 1`],
      /case_notes 1 differs from its last recorded state/,
    ],
    [
      'an anchored hold released with the triggers bypassed',
      ['SET session_replication_role = replica', `UPDATE holds SET released_ms = 5 WHERE id = 1`],
      /holds 1 differs from its last recorded state/,
    ],
    [
      'an access row deleted with the triggers bypassed',
      ['SET session_replication_role = replica', 'DELETE FROM report_access'],
      /report_access 1 was deleted by hand/,
    ],
    [
      'a hold added with the triggers bypassed',
      [
        'SET session_replication_role = replica',
        `INSERT INTO holds (kind, value, reason, by_name, os_user, created_ms) VALUES ('user', 'x', 'r', 'b', 'o', 1)`,
      ],
      /holds 3: a row the ledger never recorded/,
    ],
  ];

  it.each(edits)('fails verify naming the row: %s', async (_what, sql, reason) => {
    const { url, pool } = await database();
    await bySql(url, ...sql);
    const v = await verifyPostgres(pool);
    await pool.end();
    expect(v.ok).toBe(false);
    expect(v.ledger?.firstBreak?.reason).toMatch(reason);
  });

  it('refuses to change a ledger entry, and a rewritten one breaks the chain', async () => {
    const { url, pool } = await database();
    await expect(bySql(url, `UPDATE ledger SET state = NULL WHERE seq = 5`)).rejects.toThrow(/append-only/);
    await bySql(url, 'SET session_replication_role = replica', `UPDATE ledger SET rkey = 'x' WHERE seq = 5`);
    const v = await verifyPostgres(pool);
    await pool.end();
    expect(v.ledger?.firstBreak).toMatchObject({
      seq: 5,
      reason: expect.stringMatching(/does not match its hash/),
    });
  });

  it('catches a ledger rewritten from an edited note on, by the ledger head a node signed', async () => {
    const { url, pool } = await database();
    const key = loadOrCreateSigningKey(path.join(mkdtempSync(path.join(tmpdir(), 'sg-ledger-')), 'k.key'));
    // A serving node's head (no rows yet), signed with the ledger's head as a node does at open.
    await pool.query(`INSERT INTO chain_heads VALUES ('gate-a', 0, $1)`, [GENESIS_HASH]);
    const signed = await writePgCheckpoint(pool, 'gate-a', key, 'open');
    expect(signed.ledger_seq).toBe(12);
    expect((await verifyPostgres(pool)).ok).toBe(true);
    // The note edited, its entry's state with it, every later hash recomputed and the head moved to match.
    await bySql(
      url,
      'SET session_replication_role = replica',
      `UPDATE case_notes SET text = 'nothing happened' WHERE id = 2`,
      `UPDATE ledger SET state = (SELECT json_strip_nulls(to_json(n))::text FROM case_notes n WHERE id = 2)
       WHERE tbl = 'case_notes' AND rkey = '2'`,
      `DO $$ DECLARE r record; prev text; BEGIN
         SELECT hash INTO prev FROM ledger WHERE seq = (SELECT min(seq) - 1 FROM ledger WHERE tbl = 'case_notes' AND rkey = '2');
         FOR r IN SELECT * FROM ledger WHERE seq > (SELECT min(seq) - 1 FROM ledger WHERE tbl = 'case_notes' AND rkey = '2') ORDER BY seq LOOP
           prev := encode(sha256(convert_to(prev || E'\\n' || r.tbl || E'\\n' || r.op || E'\\n' || r.rkey || E'\\n' || coalesce(r.state, 'null'), 'UTF8')), 'hex');
           UPDATE ledger SET hash = prev WHERE seq = r.seq;
         END LOOP;
         UPDATE ledger_head SET hash = prev;
       END $$`,
    );
    const v = await verifyPostgres(pool);
    await pool.end();
    expect(v.ok).toBe(false);
    expect(v.ledger?.firstBreak?.reason).toMatch(
      /differs from what a signed checkpoint holds at seq 12 .*node gate-a/,
    );
  });
});
