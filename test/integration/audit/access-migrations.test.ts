/**
 * Migrations that add columns to report_access, a table in the ledger. Each case: a database as schoolgate
 * left it before the migration, with two access records; after it the ledger still verifies (each earlier
 * row entered once in its new shape), a new record keeps its new columns, and they are chained (one
 * rewritten by a plain sqlite3 edit, ledger triggers dropped first, is named).
 *   - migration 10: the purpose, output file and sudo account;
 *   - migration 13: the site a read was limited to (old entries of no site).
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../../src/audit/ledger.js';
import { openWritableDatabase } from '../../../src/audit/open-database.js';
import { listAccess, recordAccess, type AccessEntry } from '../../../src/audit/report-access.js';
import { databaseAtMigration, tempDir } from './helpers.js';

interface MigrationCase {
  name: string;
  /** How many migrations the old database has (the new one's index in MIGRATIONS). */
  before: number;
  /** The two old records' insert, and their values. */
  oldInsert: string;
  oldRows: unknown[][];
  /** What the old records read as after the migration. */
  oldRead: (e: ReturnType<typeof listAccess>[number]) => unknown;
  oldExpected: unknown[];
  newEntry: AccessEntry;
  newExpected: Record<string, unknown>;
  /** A hand edit of a new column. */
  handEdit: string;
}

const CASES: MigrationCase[] = [
  {
    name: 'purpose, output file and sudo account (migration 10)',
    before: 9,
    oldInsert: `INSERT INTO report_access (time_ms, by_name, os_user, command, outcome) VALUES (?, ?, 'dsl', ?, ?)`,
    oldRows: [
      [1, 'DSL Jones', 'report user', 'granted'],
      [2, 'Somebody', 'report flagged', 'refused'],
    ],
    oldRead: (e) => [e.command, e.purpose ?? null, e.outFile ?? null],
    oldExpected: [
      ['report user', null, null],
      ['report flagged', null, null],
    ],
    newEntry: {
      timeMs: 3,
      by: 'DSL Jones',
      osUser: 'dsl',
      command: 'report weekly',
      outcome: 'granted',
      purpose: 'weekly safeguarding review',
      format: 'html',
      outFile: '/home/dsl/week.html',
      sudoUser: 'dsl.jones',
    },
    newExpected: {
      purpose: 'weekly safeguarding review',
      outFile: '/home/dsl/week.html',
      sudoUser: 'dsl.jones',
    },
    handEdit: `UPDATE report_access SET purpose = 'routine' WHERE purpose IS NOT NULL`,
  },
  {
    name: 'site (migration 13)',
    before: 12,
    oldInsert: `INSERT INTO report_access (time_ms, by_name, os_user, command, outcome, purpose) VALUES (?, ?, 'dsl', ?, ?, ?)`,
    oldRows: [
      [1, 'DSL Jones', 'report user', 'granted', 'concern from tutor'],
      [2, 'Somebody', 'report flagged', 'refused', null],
    ],
    oldRead: (e) => [e.command, e.site],
    oldExpected: [
      ['report user', null],
      ['report flagged', null],
    ],
    newEntry: {
      timeMs: 3,
      by: 'DSL North',
      osUser: 'dsl',
      command: 'report weekly',
      outcome: 'granted',
      purpose: 'weekly safeguarding review',
      site: 'north',
    },
    newExpected: { command: 'report weekly', site: 'north' },
    handEdit: `UPDATE report_access SET site = 'south' WHERE site = 'north'`,
  },
];

let cleanup: () => void = () => {};
afterEach(() => cleanup());

/** Runs `sql` as someone with sqlite3 and the file would, ledger triggers dropped first; the ledger's verdict. */
function editByHand(file: string, sql: string): ReturnType<typeof verifyLedger> {
  const plain = new Database(file);
  try {
    for (const t of plain
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger_%'`)
      .pluck()
      .all() as string[])
      plain.exec(`DROP TRIGGER ${t}`);
    plain.prepare(sql).run();
    return verifyLedger(plain);
  } finally {
    plain.close();
  }
}

describe('report_access migrations', () => {
  it.each(CASES)('$name: keeps the ledger whole across it, and chains the new columns', (c) => {
    let dir: string;
    ({ dir, cleanup } = tempDir());
    const file = path.join(dir, 'audit.sqlite');
    const old = databaseAtMigration(file, c.before);
    const insert = old.prepare(c.oldInsert);
    for (const values of c.oldRows) insert.run(...values);
    old.close();

    const db = openWritableDatabase(file, { busyTimeoutMs: 1000 });
    expect(db.pragma('user_version', { simple: true })).toBeGreaterThan(c.before);
    expect(verifyLedger(db)).toMatchObject({ ok: true });
    expect(listAccess(db).map(c.oldRead)).toEqual(c.oldExpected);
    recordAccess(db, c.newEntry);
    expect(listAccess(db).at(-1)).toMatchObject(c.newExpected);
    expect(verifyLedger(db)).toMatchObject({ ok: true });
    db.close();

    const r = editByHand(file, c.handEdit);
    expect(r.ok).toBe(false);
    expect(r.firstBreak?.id).toMatch(/^report_access /);
  });
});
