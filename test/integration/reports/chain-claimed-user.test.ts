/**
 * claimed_user (schema 4) in the hash chain: rows written before the column existed keep the hash they were
 * written with (computed here with the schema 3 formula, not with rowHash()), and on rows that
 * carry a claimed name, editing, clearing or forging it breaks the chain for `audit verify` and for the
 * reports' own check. Likewise marking a real row as a selftest probe (selftest_run, schema 7).
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHAINED_COLUMNS, verifyChain, type VerifyRow } from '../../../src/audit/chain.js';
import { verifyCoveredRows } from '../../../src/audit/chain-coverage.js';
import { openSqliteAuditStore } from '../../../src/audit/index.js';
import { MIGRATIONS } from '../../../src/audit/migrations.js';
import { eventToRow, INSERT_SQL } from '../../../src/audit/row-mapping.js';
import { tempDir } from '../../helpers/schoolgate.js';
import { ev } from './fixture.js';

/** The chain link as schema 3 wrote it: CHAINED_COLUMNS (never changed since) and nothing else. */
function schema3Hash(prev: string, row: Record<string, unknown>): string {
  const values = CHAINED_COLUMNS.map((c) => row[c] ?? null);
  return createHash('sha256')
    .update(`${prev}\n${JSON.stringify(values)}`, 'utf8')
    .digest('hex');
}

let dir: string;
let file: string;
let ids: { old: string[]; failed: string; allowed: string };

/** A schema 3 database with three chained rows, then the current writer adds a failed login and a row. */
beforeEach(async () => {
  dir = tempDir('sg-chain-claimed-');
  file = `${dir}/audit.sqlite`;
  const old = new Database(file);
  old.pragma('journal_mode = WAL');
  const oldEvents = [0, 1, 2].map((i) => ev({ time: Date.UTC(2026, 0, 5, 9, i) }));
  for (const [i, step] of MIGRATIONS.slice(0, 3).entries()) {
    // Rows of schema 2, chained by migration 3 as any database upgraded to schema 3 was.
    if (i === 2) for (const e of oldEvents) old.prepare(INSERT_SQL).run(eventToRow(e));
    step(old);
    old.pragma(`user_version = ${i + 1}`);
  }
  old.close();
  const failed = ev({
    time: Date.now(),
    user: null,
    claimedUser: 'staff1',
    profile: null,
    action: 'auth-failed',
    reason: 'auth:bad-credentials',
    status: 407,
  });
  const allowed = ev({ time: Date.now() + 1 });
  const store = openSqliteAuditStore({ path: file });
  await store.record(failed);
  await store.record(allowed);
  await store.close();
  ids = { old: oldEvents.map((e) => e.id), failed: failed.id, allowed: allowed.id };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function edit(sql: string, ...params: unknown[]): void {
  const db = new Database(file);
  db.prepare(sql).run(...params);
  db.close();
}

function verified(): { ok: boolean; rows: number; brokenAt: string | null; coverage: boolean } {
  const db = new Database(file, { readonly: true });
  try {
    const v = verifyChain(db);
    const rows = db.prepare('SELECT rowid AS rid, * FROM audit_events ORDER BY seq').all() as VerifyRow[];
    const coverage = verifyCoveredRows(db, rows).ok;
    return { ok: v.ok, rows: v.rows, brokenAt: v.firstBreak?.id ?? null, coverage };
  } finally {
    db.close();
  }
}

describe('claimed_user in the hash chain', () => {
  it('leaves the hashes of rows written before it unchanged, and chains the new rows', () => {
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Record<string, unknown>[];
    db.close();
    let prev = '0'.repeat(64);
    for (const r of rows.slice(0, 3)) {
      expect(r.chain_hash).toBe(schema3Hash(prev, r));
      prev = r.chain_hash as string;
    }
    expect(rows[3]).toMatchObject({ id: ids.failed, username: null, claimed_user: 'staff1' });
    // The new row's link covers its claimed name: the schema 3 formula no longer matches it.
    expect(rows[3]!.chain_hash).not.toBe(schema3Hash(prev, rows[3]!));
    expect(verified()).toEqual({ ok: true, rows: 5, brokenAt: null, coverage: true });
  });

  it.each([
    ['edited to another name', `UPDATE audit_events SET claimed_user = 'pupil1' WHERE id = ?`, 'failed'],
    ['cleared', `UPDATE audit_events SET claimed_user = NULL WHERE id = ?`, 'failed'],
    [
      'moved to the user column',
      `UPDATE audit_events SET claimed_user = NULL, username = 'staff1' WHERE id = ?`,
      'failed',
    ],
    [
      'forged on a row written before the column',
      `UPDATE audit_events SET claimed_user = 'staff1' WHERE id = ?`,
      'old',
    ],
    ['forged on a newer row', `UPDATE audit_events SET claimed_user = 'staff1' WHERE id = ?`, 'allowed'],
  ] as const)('is detected when %s', (_what, sql, which) => {
    const id = which === 'old' ? ids.old[1]! : ids[which];
    edit(sql, id);
    expect(verified()).toMatchObject({ ok: false, brokenAt: id, coverage: false });
  });
});

describe('selftest_run (schema 7) in the hash chain', () => {
  // A real attempt marked as a selftest probe afterwards would vanish from every report: the chain says so.
  it.each([
    ['a row written before the column', 'old'],
    ['a newer row', 'allowed'],
  ] as const)('breaks when %s is marked as a probe', (_what, which) => {
    const id = which === 'old' ? ids.old[1]! : ids[which];
    edit(`UPDATE audit_events SET selftest_run = 'run-1' WHERE id = ?`, id);
    expect(verified()).toMatchObject({ ok: false, brokenAt: id, coverage: false });
  });
});
