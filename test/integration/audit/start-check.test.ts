/**
 * The audit database is checked before it is trusted (src/audit/start-check.ts): real SQLite files, real
 * damage, the real store (and its writer thread for the crash). A refused database is never written to,
 * never replaced silently, and `newDatabase` (serve --new-audit-database) keeps it as evidence.
 */
import {
  copyFileSync,
  existsSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { headFilePath, openSqliteAuditStore, WorkerAuditStore } from '../../../src/audit/index.js';
import { purgeAudit } from '../../../src/audit/purge.js';
import { isSchoolgateError, type SchoolgateError } from '../../../src/errors.js';
import { fillAuditDatabase, overwriteMiddle, sha256Of } from './damage.js';
import { makeEvent, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
let file: string;

beforeEach(() => {
  ({ dir, cleanup } = tempDir('sg-start-check-'));
  file = join(dir, 'audit.sqlite');
});
afterEach(() => cleanup());

function refusal(open: () => unknown): SchoolgateError {
  let thrown: unknown;
  try {
    const store = open() as { close(): Promise<void> };
    void store.close();
  } catch (err) {
    thrown = err;
  }
  if (!isSchoolgateError(thrown)) throw new Error(`expected a refusal, got ${String(thrown)}`);
  return thrown;
}

function recordedHead(): { seq: number; chain_hash: string; database_id: string } {
  return JSON.parse(readFileSync(headFilePath(file), 'utf8')) as never;
}

function sql(statement: string): void {
  const db = new Database(file);
  db.exec(statement);
  db.close();
}

describe('the audit database is checked before it is trusted', () => {
  it('refuses a database with 8 KiB of garbage in the middle, and leaves the file as it was', async () => {
    await fillAuditDatabase(file, 3000);
    overwriteMiddle(file);
    const before = sha256Of(file);
    for (const integrity of ['quick', 'full'] as const) {
      const err = refusal(() => openSqliteAuditStore({ path: file, integrity }));
      expect(err.code).toBe('SG_AUDIT_DAMAGED');
      // Garbage over an interior page makes the check itself fail; over a leaf page, it lists problems.
      expect(err.message).toMatch(
        new RegExp(`^The audit database ${file} is damaged: ${integrity}_check (found|failed): `),
      );
      expect(err.suggestion).toContain('schoolgate serve --new-audit-database');
      expect(err.suggestion).toContain(`${dir}/audit-set-aside-<time>/`);
    }
    expect(sha256Of(file)).toBe(before);
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it('refuses an empty (0 bytes) or missing database where a head was recorded, creating nothing', async () => {
    await fillAuditDatabase(file, 10);
    truncateSync(file, 0);
    const empty = refusal(() => openSqliteAuditStore({ path: file }));
    expect(empty.code).toBe('SG_AUDIT_REPLACED');
    expect(empty.message).toMatch(/the database file is empty \(0 bytes\); the head file records seq 10 of/);
    expect(readFileSync(file).length).toBe(0);

    rmSync(file);
    const missing = refusal(() => openSqliteAuditStore({ path: file }));
    expect(missing.message).toMatch(/the database file is missing; the head file records seq 10/);
    expect(existsSync(file)).toBe(false);
  });

  it('starts a new database where there is neither a database nor a head (first start)', async () => {
    const store = openSqliteAuditStore({ path: file });
    expect(store.opened).toMatchObject({ created: 'missing', check: null, setAside: null });
    await store.close();
    expect(recordedHead().seq).toBe(0);
  });

  it('refuses another valid audit database put in its place', async () => {
    await fillAuditDatabase(file, 20);
    const other = join(dir, 'other', 'audit.sqlite');
    await fillAuditDatabase(other, 20);
    const ours = recordedHead().database_id;
    copyFileSync(other, file);
    const err = refusal(() => openSqliteAuditStore({ path: file }));
    expect(err.code).toBe('SG_AUDIT_REPLACED');
    expect(err.message).toContain('it is another audit database (');
    expect(err.message).toContain(`the head file records seq 20 of database ${ours}`);
  });

  it('refuses an older copy of the same database: the rows after the copy are gone', async () => {
    await fillAuditDatabase(file, 20);
    copyFileSync(file, join(dir, 'copy.sqlite'));
    const store = openSqliteAuditStore({ path: file });
    await store.record(makeEvent());
    await store.close();
    copyFileSync(join(dir, 'copy.sqlite'), file);
    const err = refusal(() => openSqliteAuditStore({ path: file }));
    expect(err.message).toContain('its chain ends at seq 20, before the recorded seq 21');
  });

  it('refuses when the newest rows were deleted by hand, with or without the meta head edited to match', async () => {
    await fillAuditDatabase(file, 50);
    sql(`DELETE FROM audit_events WHERE seq > 45`);
    expect(refusal(() => openSqliteAuditStore({ path: file })).message).toContain(
      'row seq 50 (the recorded head) is missing and no purge explains it',
    );
    sql(
      `UPDATE meta SET value = (SELECT seq || ':' || chain_hash FROM audit_events WHERE seq = 45) WHERE key = 'chain_head'`,
    );
    expect(refusal(() => openSqliteAuditStore({ path: file })).message).toContain(
      'its chain ends at seq 45, before the recorded seq 50',
    );
  });

  it('refuses a recorded row whose hash changed (the chain was rewritten)', async () => {
    await fillAuditDatabase(file, 5);
    sql(`UPDATE audit_events SET chain_hash = '${'f'.repeat(64)}' WHERE seq = 5`);
    expect(refusal(() => openSqliteAuditStore({ path: file })).message).toContain(
      'row seq 5 does not match the recorded chain hash',
    );
  });

  it('starts when a purge deleted the recorded row, again at the next start, and after more rows', async () => {
    await fillAuditDatabase(file, 50, Date.now() - 500 * 86_400_000);
    const db = new Database(file);
    const purged = await purgeAudit(db, { retentionDays: 365, timeZone: 'UTC', osUser: 'test', pauseMs: 0 });
    db.close();
    expect(purged.deleted).toBe(50);
    for (let start = 0; start < 2; start++) {
      const store = openSqliteAuditStore({ path: file });
      expect(store.opened.check?.recorded?.seq).toBe(50);
      await store.close();
    }
    await fillAuditDatabase(file, 3);
    const store = openSqliteAuditStore({ path: file });
    expect(store.opened.check?.recorded?.seq).toBe(53);
    await store.close();
  });

  it('refuses a -wal file beside a missing database, even with no head recorded', () => {
    writeFileSync(`${file}-wal`, Buffer.alloc(4096, 1));
    const err = refusal(() => openSqliteAuditStore({ path: file }));
    expect(err.code).toBe('SG_AUDIT_REPLACED');
    expect(err.message).toContain('its -wal file is there but the database file is missing');
  });

  it('refuses a head file it cannot read as damage', async () => {
    await fillAuditDatabase(file, 5);
    writeFileSync(headFilePath(file), '{"version":1,"seq":"five"}');
    const err = refusal(() => openSqliteAuditStore({ path: file }));
    expect(err.code).toBe('SG_AUDIT_DAMAGED');
    expect(err.message).toContain('the head file is unreadable');
  });

  it('records the last row at a clean close, and a clean restart starts', async () => {
    await fillAuditDatabase(file, 30);
    const db = new Database(file, { readonly: true });
    const last = db.prepare(`SELECT seq, chain_hash FROM audit_events ORDER BY seq DESC LIMIT 1`).get();
    db.close();
    expect(recordedHead()).toMatchObject(last as object);
    const store = openSqliteAuditStore({ path: file });
    expect(store.opened.check).toMatchObject({ mode: 'quick', recorded: { seq: 30 } });
    await store.close();
  });

  it('starts after a crash: rows committed after the last head write, the writer thread killed', async () => {
    await fillAuditDatabase(file, 20);
    const store = await WorkerAuditStore.open({ path: file, batchMaxRows: 100 });
    await Promise.all(Array.from({ length: 30 }, () => store.record(makeEvent())));
    await (store.transport as unknown as { thread: { terminate(): Promise<number> } }).thread.terminate();
    await store.close();
    expect(recordedHead().seq).toBe(20); // the head written at open; the 30 rows after it are not in it

    const again = await WorkerAuditStore.open({ path: file, batchMaxRows: 100 });
    expect(again.opened?.check?.recorded?.seq).toBe(20);
    await again.close();
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM audit_events').pluck().get()).toBe(50);
    db.close();
    expect(recordedHead().seq).toBe(50);
  });

  it('newDatabase sets the refused files aside unchanged, starts a new chain and records the move', async () => {
    await fillAuditDatabase(file, 3000);
    overwriteMiddle(file);
    const damaged = sha256Of(file);
    const head = readFileSync(headFilePath(file), 'utf8');
    const store = openSqliteAuditStore({ path: file, newDatabase: true, now: () => Date.UTC(2026, 11, 3) });
    await store.record(makeEvent());
    await store.close();

    const folder = join(dir, 'audit-set-aside-2026-12-03T00-00-00.000Z');
    expect(readdirSync(dir).sort()).toEqual([
      'audit-set-aside-2026-12-03T00-00-00.000Z',
      'audit.checkpoints', // one file for every database, each checkpoint naming its database_id
      'audit.head',
      'audit.sqlite',
      'keys',
    ]);
    expect(readdirSync(folder).sort()).toEqual(['NOTE.txt', 'audit.head', 'audit.sqlite']);
    expect(sha256Of(join(folder, 'audit.sqlite'))).toBe(damaged);
    expect(readFileSync(join(folder, 'audit.head'), 'utf8')).toBe(head);
    // Where the garbage lands decides how quick_check reports it: it throws SQLITE_CORRUPT, or lists what
    // it found. Either is the refusal.
    expect(readFileSync(join(folder, 'NOTE.txt'), 'utf8')).toMatch(
      /Why: SG_AUDIT_DAMAGED: quick_check (failed: SQLITE_CORRUPT|found: )/,
    );
    expect(store.opened.setAside).toMatchObject({
      folder,
      code: 'SG_AUDIT_DAMAGED',
      files: [file, headFilePath(file)],
    });

    // The new database says what it replaced, at this start and every later one.
    const next = openSqliteAuditStore({ path: file, newDatabase: true });
    expect(next.opened).toMatchObject({ setAside: null, newDatabaseNotNeeded: true });
    expect(next.opened.replaced).toMatchObject({ folder, code: 'SG_AUDIT_DAMAGED' });
    await next.close();
    expect(readdirSync(dir)).toHaveLength(5); // nothing moved the second time
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM audit_events').pluck().get()).toBe(1);
    expect(
      JSON.parse(
        db.prepare(`SELECT value FROM meta WHERE key = 'replaced_database'`).pluck().get() as string,
      ),
    ).toMatchObject({ folder });
    db.close();
  });
});
