/**
 * Migration 13 adds the site a read was limited to (report_access.site), a table in the ledger: a database
 * with access records written before it still verifies after it (each earlier row entered once in its new
 * shape, site empty), a new record keeps its site, and the site is chained (one rewritten by hand is named).
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

/** The access-record site migration's index in MIGRATIONS (migration 13). */
const SITE_MIGRATION = 12;

beforeEach(() => {
  let dir: string;
  ({ dir, cleanup } = tempDir());
  file = path.join(dir, 'audit.sqlite');
  // A database as schoolgate left it before migration 13, with two access records.
  const old = databaseAtMigration(file, SITE_MIGRATION);
  const insert = old.prepare(
    `INSERT INTO report_access (time_ms, by_name, os_user, command, outcome, purpose) VALUES (?, ?, 'dsl', ?, ?, ?)`,
  );
  insert.run(1, 'DSL Jones', 'report user', 'granted', 'concern from tutor');
  insert.run(2, 'Somebody', 'report flagged', 'refused', null);
  old.close();
});
afterEach(() => cleanup());

describe('report_access site column (migration 13)', () => {
  it('keeps the ledger whole across the migration, old entries of no site, and chains the site', () => {
    const db = openWritableDatabase(file, { busyTimeoutMs: 1000 });
    expect(db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(13);
    expect(verifyLedger(db)).toMatchObject({ ok: true });
    expect(listAccess(db).map((e) => [e.command, e.site])).toEqual([
      ['report user', null],
      ['report flagged', null],
    ]);
    recordAccess(db, {
      timeMs: 3,
      by: 'DSL North',
      osUser: 'dsl',
      command: 'report weekly',
      outcome: 'granted',
      purpose: 'weekly safeguarding review',
      site: 'north',
    });
    expect(listAccess(db).at(-1)).toMatchObject({ command: 'report weekly', site: 'north' });
    expect(verifyLedger(db)).toMatchObject({ ok: true });
    db.close();

    // A plain sqlite3 edit of a site, triggers dropped first: named by the ledger.
    const plain = new Database(file);
    for (const t of plain
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger_%'`)
      .pluck()
      .all() as string[])
      plain.exec(`DROP TRIGGER ${t}`);
    plain.prepare(`UPDATE report_access SET site = 'south' WHERE site = 'north'`).run();
    const r = verifyLedger(plain);
    plain.close();
    expect(r.ok).toBe(false);
    expect(r.firstBreak?.id).toMatch(/^report_access /);
  });
});
