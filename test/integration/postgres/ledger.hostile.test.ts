/**
 * An attacker's tests against the PostgreSQL ledger (ledger.ts, PG migration 11), as a database superuser
 * who wants to change the investigation record without `audit verify` noticing. Each attempt runs in a
 * transaction on the attacker's own connection, verify reads through that connection (it sees the change
 * as if committed), then the transaction is rolled back: one database serves every attempt.
 *
 * Attempts that verify does NOT notice are `it.fails`: known limits, each said in README (see the comments).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH } from '../../../src/audit/chain.js';
import { loadOrCreateSigningKey } from '../../../src/audit/checkpoints.js';
import { writePgCheckpoint } from '../../../src/audit/postgres/checkpoints.js';
import { pgCaseStore } from '../../../src/audit/postgres/cases.js';
import { addPgHolds, releasePgHold } from '../../../src/audit/postgres/holds.js';
import { PgAccessRecorder } from '../../../src/audit/postgres/report-access.js';
import { PG_LEDGER_TABLES } from '../../../src/audit/postgres/ledger.js';
import { verifyPostgres } from '../../../src/audit/postgres/verify.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { migratedPool } from '../../helpers/pg-migrated.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const actor = { by: 'DSL', osUser: 'it', now: Date.UTC(2026, 10, 2, 9) };

/** The record: two cases with notes, a released hold, a purge with its days and anchor, access rows. */
async function investigation(pool: pg.Pool): Promise<void> {
  const cases = pgCaseStore(pool);
  await cases.open({
    ...actor,
    ref: '2026-014',
    subjects: [{ kind: 'user', value: 'pupil1' }],
    note: 'raised',
  });
  await cases.note({ ...actor, ref: '2026-014', text: 'spoke to parents — café' });
  await cases.close({ ...actor, ref: '2026-014', outcome: 'no further action' });
  await cases.open({
    ...actor,
    ref: '2026-015',
    subjects: [{ kind: 'user', value: 'pupil3' }],
    note: 'second',
  });
  const [hold] = await addPgHolds(pool, {
    ...actor,
    subjects: [{ kind: 'user', value: 'pupil2' }],
    reason: 'police',
  });
  await releasePgHold(pool, { ...actor, id: hold!.id, reason: 'closed by police' });
  await addPgHolds(pool, { ...actor, subjects: [{ kind: 'device', value: 'aa:bb' }], reason: 'kept' });
  // A purge's record as purgePostgres writes it (schoolgate's own connection).
  await pool.query(`INSERT INTO purges (started_ms, finished_ms, os_user, by_name, reason, retention_days,
                      cutoff_ms, deleted, held, dropped) VALUES (1, 2, 'it', 'DSL', 'retention', 30, 3, 7, 1, '[]')`);
  await pool.query(`INSERT INTO purge_days VALUES (1, '2026-10-01', 7)`);
  await pool.query(`INSERT INTO chain_gaps VALUES ('n1', 8, '${'0'.repeat(64)}', 7, 1)`);
  const recorder = new PgAccessRecorder(pool);
  for (const command of ['report user', 'case note'])
    await recorder.record({
      timeMs: actor.now,
      by: 'DSL',
      osUser: 'it',
      command,
      subject: 'pupil1',
      caseRef: '2026-014',
      outcome: 'granted',
      site: 'north',
    });
}

describe.skipIf(!bin)('the PostgreSQL ledger against a superuser', { timeout: 300_000 }, () => {
  let cluster: PgCluster;
  let url: string;
  let attacker: pg.Client;

  beforeAll(async () => {
    cluster = await startPgCluster();
    url = await cluster.createDatabase('ledgerhostile');
    const pool = await migratedPool(url, 2);
    await investigation(pool);
    const clean = await verifyPostgres(pool);
    await pool.end();
    expect(clean.ok, JSON.stringify(clean.ledger)).toBe(true);
    attacker = new pg.Client(url);
    await attacker.connect();
  });
  afterAll(async () => {
    await attacker?.end();
    await cluster?.stop();
  });

  /** Runs the attack in a transaction, verifies through the same connection, rolls back. */
  async function attempt(sql: string[]) {
    await attacker.query('BEGIN');
    try {
      for (const s of sql) await attacker.query(s);
      return await verifyPostgres(attacker);
    } finally {
      await attacker.query('ROLLBACK');
    }
  }

  async function expectNoticed(sql: string[], reason: RegExp = /./) {
    const v = await attempt(sql);
    expect(v.ok, `verify passed after: ${sql.join('; ')}`).toBe(false);
    expect(v.ledger?.firstBreak?.reason).toMatch(reason);
  }

  const REPLICA = 'SET LOCAL session_replication_role = replica';
  /** Two rows trade their key (through -1, the key being unique). */
  const swap = (t: string, c: string, a: number, b: number) => [
    `UPDATE ${t} SET ${c} = -1 WHERE ${c} = ${a}`,
    `UPDATE ${t} SET ${c} = ${a} WHERE ${c} = ${b}`,
    `UPDATE ${t} SET ${c} = ${b} WHERE ${c} = -1`,
  ];

  const noticed: [string, string[], RegExp][] = [
    ['a note edited', [`UPDATE case_notes SET text = 'x' WHERE id = 2`], /case_notes 2 .*by hand/],
    ['a note deleted', [`DELETE FROM case_notes WHERE id = 2`], /case_notes 2 .*delete by hand/],
    [
      'a note inserted',
      [
        `INSERT INTO case_notes (ref, time_ms, author, os_user, text) VALUES ('2026-014', 1, 'DSL', 'it', 'x')`,
      ],
      /case_notes \d+ .*insert by hand/,
    ],
    [
      'a case reopened',
      [`UPDATE cases SET status = 'open', closed_ms = NULL WHERE ref = '2026-014'`],
      /cases 2026-014/,
    ],
    [
      'a subject inserted',
      [`INSERT INTO case_subjects VALUES ('2026-014', 'user', 'pupil9')`],
      /case_subjects/,
    ],
    ['a hold unreleased', [`UPDATE holds SET released_ms = NULL WHERE id = 1`], /holds 1/],
    ['a purge count edited', [`UPDATE purges SET deleted = 1`], /purges 1/],
    ['a purge day deleted', [`DELETE FROM purge_days`], /purge_days 1\/2026-10-01/],
    ['a chain gap inserted', [`INSERT INTO chain_gaps VALUES ('n1', 20, 'x', 1, 1)`], /chain_gaps n1\/20/],
    ['an access row deleted', [`DELETE FROM report_access WHERE id = 1`], /report_access 1/],
    // The triggers bypassed: the row then differs from its last entry.
    [
      'a note edited, replica',
      [REPLICA, `UPDATE case_notes SET text = 'x' WHERE id = 2`],
      /case_notes 2 differs/,
    ],
    ['a note deleted, replica', [REPLICA, `DELETE FROM case_notes WHERE id = 2`], /case_notes 2 was deleted/],
    [
      'a note edited, trigger disabled',
      [
        'ALTER TABLE case_notes DISABLE TRIGGER ALL',
        `UPDATE case_notes SET text = 'x' WHERE id = 2`,
        'ALTER TABLE case_notes ENABLE TRIGGER ALL',
      ],
      /case_notes 2 differs/,
    ],
    ['report_access truncated', ['TRUNCATE report_access'], /report_access 1 was deleted/],
    ['chain_gaps truncated', ['TRUNCATE chain_gaps'], /chain_gaps n1\/8 was deleted/],
    ['two notes swap ids, replica', [REPLICA, ...swap('case_notes', 'id', 1, 2)], /case_notes [12] differs/],
    [
      'the last ledger entry deleted, head kept',
      [REPLICA, 'DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)'],
      /ends at seq/,
    ],
    ['a middle ledger entry deleted', [REPLICA, 'DELETE FROM ledger WHERE seq = 3'], /missing/],
    ['two ledger entries swap seq', [REPLICA, ...swap('ledger', 'seq', 3, 4)], /hash/],
    [
      'the head replayed to an old hash',
      [REPLICA, 'UPDATE ledger_head SET hash = (SELECT hash FROM ledger WHERE seq = 3)'],
      /head says/,
    ],
    ['the head deleted', [REPLICA, 'DELETE FROM ledger_head'], /head says nothing/],
    [
      'a ledger state rewritten',
      [REPLICA, `UPDATE ledger SET state = replace(state, 'raised', 'fine') WHERE state LIKE '%raised%'`],
      /hash/,
    ],
    [
      'NULL to empty text, replica',
      [REPLICA, `UPDATE holds SET released_by = '' WHERE id = 2`],
      /holds 2 differs/,
    ],
    [
      'a value to NULL, replica',
      [REPLICA, `UPDATE report_access SET by_name = NULL WHERE id = 1`],
      /report_access 1 differs/,
    ],
    [
      'a note in another unicode normal form (NFD), replica',
      [REPLICA, `UPDATE case_notes SET text = normalize(text, NFD) WHERE id = 2`],
      /case_notes 2 differs/,
    ],
    [
      'a column added and filled, replica',
      [
        REPLICA,
        'ALTER TABLE case_notes ADD COLUMN extra text',
        `UPDATE case_notes SET extra = 'x' WHERE id = 2`,
      ],
      /case_notes 2 differs/,
    ],
  ];

  it.each(noticed)('verify names it: %s', async (_what, sql, reason) => {
    await expectNoticed(sql, reason);
  });

  it('verify names every column of every chained table changed with the triggers bypassed', async () => {
    const { rows: cols } = await attacker.query<{ t: string; c: string; type: string }>(
      `SELECT table_name AS t, column_name AS c, data_type AS type FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name = ANY($1) ORDER BY 1, ordinal_position`,
      [PG_LEDGER_TABLES],
    );
    expect(cols.length).toBeGreaterThan(50);
    const missed: string[] = [];
    for (const { t, c, type } of cols) {
      const changed = type === 'text' ? `coalesce(${c} || 'x', 'x')` : `coalesce(${c} + 100, 100)`;
      // A column that takes part in a CHECK (kind, status) gets a value the check allows.
      const value =
        c === 'kind'
          ? `CASE ${c} WHEN 'user' THEN 'device' ELSE 'user' END`
          : c === 'status'
            ? `CASE ${c} WHEN 'open' THEN 'closed' ELSE 'open' END`
            : changed;
      const v = await attempt([
        REPLICA,
        `UPDATE ${t} SET ${c} = ${value} WHERE ctid = (SELECT min(ctid) FROM ${t})`,
      ]);
      if (v.ok) missed.push(`${t}.${c}`);
    }
    expect(missed).toEqual([]);
  });

  // ---- Findings: changes verify does not notice ------------------------------------------------------

  /** Recomputes every hash from `from` on (sg_ledger_append's formula) and moves the head to the end. */
  const REHASH = `DO $$ DECLARE r record; prev text; BEGIN
      FOR r IN SELECT * FROM ledger ORDER BY seq LOOP
        IF prev IS NOT NULL THEN
          UPDATE ledger SET hash = encode(sha256(convert_to(prev || E'\\n' || r.tbl || E'\\n' || r.op || E'\\n'
            || r.rkey || E'\\n' || coalesce(r.state, 'null'), 'UTF8')), 'hex') WHERE seq = r.seq;
        END IF;
        SELECT hash INTO prev FROM ledger WHERE seq = r.seq;
      END LOOP;
      UPDATE ledger_head SET seq = (SELECT max(seq) FROM ledger), hash = (SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1);
    END $$`;

  // L1 (fixed): `schoolgate.writer` is a session setting anyone may set; an edit made with it on is entered
  // as schoolgate's own ('update', not 'update by hand'). Verify now refuses what schoolgate never does:
  // a note is never updated. (An operation schoolgate does make, e.g. a hold's release, is still entered
  // as schoolgate's: README tells to keep writes to schoolgate's own database role.)
  it('L1: a note edited by a session that sets schoolgate.writer = on', async () => {
    await expectNoticed([
      `SET LOCAL schoolgate.writer = 'on'`,
      `UPDATE case_notes SET text = 'nothing said' WHERE id = 2`,
    ]);
  });

  // FINDING L2: tail truncation. Since wt-pgledger b0b0cd1 a node's PG checkpoint signs the ledger head:
  // entries up to the latest signed checkpoint are covered (the test after these), entries written after
  // it are not (by design: nothing signed holds them yet). These tests sign no checkpoint at all, as on a
  // database where no node has signed since the entries.
  it.fails('FINDING L2: the last access entry removed with its row, the head moved back', async () => {
    await expectNoticed([
      REPLICA,
      'DELETE FROM report_access WHERE id = 2',
      'DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)',
      'UPDATE ledger_head SET seq = seq - 1, hash = (SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1)',
    ]);
  });

  it.fails(
    'FINDING L2: the last 3 entries (both access rows, a purge anchor) removed, the head moved back',
    async () => {
      await expectNoticed([
        REPLICA,
        'DELETE FROM report_access',
        'DELETE FROM chain_gaps',
        'DELETE FROM ledger WHERE seq > (SELECT max(seq) - 3 FROM ledger)',
        'UPDATE ledger_head SET seq = seq - 3, hash = (SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1)',
      ]);
    },
  );

  it.fails('FINDING L2: everything truncated and the head set back to genesis', async () => {
    await expectNoticed([
      REPLICA,
      `TRUNCATE ledger, ${PG_LEDGER_TABLES.join(', ')}`,
      `UPDATE ledger_head SET seq = 0, hash = '${GENESIS_HASH}'`,
    ]);
  });

  // FINDING L3: the hash is unkeyed, so a ledger rewritten after the latest signed checkpoint (here: none)
  // with its hashes recomputed in SQL passes; ledger.test.ts shows the checkpoint catching one before it.
  it.fails('FINDING L3: a note rewritten in its row and its entries, the chain re-hashed', async () => {
    await expectNoticed([
      REPLICA,
      `UPDATE case_notes SET text = 'nothing said' WHERE id = 2`,
      `UPDATE ledger SET state = replace(state, 'spoke to parents — café', 'nothing said')
         WHERE tbl = 'case_notes' AND rkey = '2'`,
      REHASH,
    ]);
  });

  const CUT_LAST = [
    REPLICA,
    'DELETE FROM report_access WHERE id = 2',
    'DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)',
    'UPDATE ledger_head SET seq = seq - 1, hash = (SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1)',
  ];
  /** A serving node's head and a checkpoint it signs now (ledger head included), inside the attempt. */
  async function signCheckpoint(): Promise<void> {
    const key = loadOrCreateSigningKey(path.join(mkdtempSync(path.join(tmpdir(), 'sg-hostile-')), 'k.key'));
    await attacker.query(`INSERT INTO chain_heads VALUES ('gate-a', 0, '${GENESIS_HASH}')`);
    await writePgCheckpoint(attacker, 'gate-a', key, 'open');
  }

  it('with a checkpoint signed at the ledger head, the last entry cut (head moved back) is named', async () => {
    await attacker.query('BEGIN');
    try {
      await signCheckpoint();
      for (const s of CUT_LAST) await attacker.query(s);
      const v = await verifyPostgres(attacker);
      expect(v.ok).toBe(false);
      expect(JSON.stringify(v)).toMatch(/behind a signed checkpoint/);
    } finally {
      await attacker.query('ROLLBACK');
    }
  });

  it.fails(
    'FINDING L2 (by design): an entry written after the latest checkpoint, cut with its row',
    async () => {
      await attacker.query('BEGIN');
      try {
        await signCheckpoint();
        await attacker.query(`SET LOCAL schoolgate.writer = 'on'`);
        await attacker.query(
          `INSERT INTO report_access (time_ms, os_user, command, outcome) VALUES (1, 'it', 'report user', 'granted')`,
        );
        await attacker.query(`SET LOCAL schoolgate.writer = 'off'`);
        await attacker.query(REPLICA);
        await attacker.query('DELETE FROM report_access WHERE id = (SELECT max(id) FROM report_access)');
        await attacker.query('DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)');
        await attacker.query(
          'UPDATE ledger_head SET seq = seq - 1, hash = (SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1)',
        );
        expect((await verifyPostgres(attacker)).ok).toBe(false);
      } finally {
        await attacker.query('ROLLBACK');
      }
    },
  );

  // L4 (fixed): sg_ledger_append is callable by anyone, and an 'anchor' entry was accepted anywhere in the
  // chain: an edit with the triggers off, then an appended anchor of the new state, passed. Anchors are now
  // accepted only before the ledger's first write.
  it('L4: an edit with the triggers off followed by a hand-appended anchor', async () => {
    await expectNoticed([
      REPLICA,
      `UPDATE holds SET released_ms = NULL, released_by = NULL, release_reason = NULL WHERE id = 1`,
      `SELECT sg_ledger_append('holds', 'anchor', '1', (SELECT json_strip_nulls(to_json(h))::text FROM holds h WHERE id = 1))`,
    ]);
  });

  // FINDING L5: ledger.time_ms (when a change was made) is not in the hash.
  it.fails('FINDING L5: the time of a ledger entry moved', async () => {
    await expectNoticed([REPLICA, 'UPDATE ledger SET time_ms = 0 WHERE seq = 3']);
  });
});
