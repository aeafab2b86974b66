/**
 * Migration 10 adds the purpose, output file and sudo account to report_access, a table in the ledger: a
 * database with access records written before it still verifies after it (each earlier row entered once in
 * its new shape), and the new columns are chained (a purpose rewritten by hand is named).
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../../src/audit/ledger.js';
import { openWritableDatabase } from '../../../src/audit/open-database.js';
import { listAccess, recordAccess } from '../../../src/audit/report-access.js';
import { databaseAtMigration, tempDir } from './helpers.js';

let cleanup: () => void;
let file: string;

/** The access-record migration's index in MIGRATIONS. */
const PURPOSE_MIGRATION = 9;

beforeEach(() => {
  let dir: string;
  ({ dir, cleanup } = tempDir());
  file = path.join(dir, 'audit.sqlite');
  // A database as schoolgate left it before migration 10, with two access records.
  const old = databaseAtMigration(file, PURPOSE_MIGRATION);
  const insert = old.prepare(
    `INSERT INTO report_access (time_ms, by_name, os_user, command, outcome) VALUES (?, ?, 'dsl', ?, ?)`,
  );
  insert.run(1, 'DSL Jones', 'report user', 'granted');
  insert.run(2, 'Somebody', 'report flagged', 'refused');
  old.close();
});
afterEach(() => cleanup());

describe('report_access purpose columns (migration 10)', () => {
  it('keeps the ledger whole across the migration, and chains the new columns', () => {
    const db = openWritableDatabase(file, { busyTimeoutMs: 1000 });
    expect(verifyLedger(db)).toMatchObject({ ok: true });
    recordAccess(db, {
      timeMs: 3,
      by: 'DSL Jones',
      osUser: 'dsl',
      command: 'report weekly',
      outcome: 'granted',
      purpose: 'weekly safeguarding review',
      format: 'html',
      outFile: '/home/dsl/week.html',
      sudoUser: 'dsl.jones',
    });
    expect(listAccess(db).at(-1)).toMatchObject({
      purpose: 'weekly safeguarding review',
      outFile: '/home/dsl/week.html',
      sudoUser: 'dsl.jones',
    });
    expect(verifyLedger(db)).toMatchObject({ ok: true });
    db.close();

    // A plain sqlite3 edit of a purpose, triggers dropped first: named by the ledger.
    const plain = new Database(file);
    for (const t of plain
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger_%'`)
      .pluck()
      .all() as string[])
      plain.exec(`DROP TRIGGER ${t}`);
    plain.prepare(`UPDATE report_access SET purpose = 'routine' WHERE purpose IS NOT NULL`).run();
    const r = verifyLedger(plain);
    plain.close();
    expect(r.ok).toBe(false);
    expect(r.firstBreak?.id).toMatch(/^report_access /);
  });
});
