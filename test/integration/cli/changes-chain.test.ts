/**
 * The admin-changes record (state.sqlite) as a hash chain (issue 10, item 3a): changes recorded by
 * schoolgate verify with `schoolgate changes --verify`; plain sqlite3 cannot add, edit or delete one; an
 * editor who drops the triggers first is named at the first change that breaks the chain; a record
 * written before the chain existed is chained when it is first opened.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../../src/state/store.js';
import { runCli } from '../../helpers/cli.js';
import { serveFiles } from '../../helpers/schoolgate.js';

let args: string[];
let file: string;

beforeEach(() => {
  const files = serveFiles();
  args = files.args;
  file = path.join(files.data, 'state.sqlite');
  const state = new StateStore(files.data);
  try {
    state.changes.record({ action: 'lists.add', target: 'social: example.com', by: 'IT', reason: 'policy' });
    state.changes.record({ action: 'users.disable', target: 'user j.smith', by: 'IT', reason: 'left' });
    state.changes.record({ action: 'networks.add', target: '10.0.3.0/24', by: 'IT' });
  } finally {
    state.close();
  }
});

let plainDb: Database.Database | null = null;
afterEach(() => plainDb?.close());

/** A plain sqlite3 connection: none of schoolgate's functions registered. */
function plain(): Database.Database {
  plainDb = new Database(file);
  return plainDb;
}

function dropTriggers(db: Database.Database): void {
  for (const t of db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'admin_changes_%'`)
    .pluck()
    .all() as string[])
    db.exec(`DROP TRIGGER ${t}`);
}

async function verify(): Promise<{ code: number | null; out: string }> {
  const r = await runCli(['changes', '--verify', ...args]);
  return { code: r.code, out: r.stdout + r.stderr };
}

describe('changes --verify', { timeout: 60_000 }, () => {
  it('passes on the record as schoolgate wrote it', async () => {
    const r = await verify();
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^ok: 3 changes chained; head change 3 [0-9a-f]{64}$/m);
  });

  it('leaves plain sqlite3 unable to add, edit or delete a change', () => {
    const db = plain();
    expect(() =>
      db
        .prepare(
          `INSERT INTO admin_changes (at, os_user, action, target) VALUES (1, 'root', 'lists.remove', 'x')`,
        )
        .run(),
    ).toThrow(/sg_change_hash/);
    expect(() => db.prepare(`UPDATE admin_changes SET reason = 'none' WHERE id = 2`).run()).toThrow(
      /append-only/,
    );
    expect(() => db.prepare(`DELETE FROM admin_changes WHERE id = 3`).run()).toThrow(/append-only/);
  });

  it.each([
    ['an edited reason', `UPDATE admin_changes SET reason = 'routine' WHERE id = 2`, 2, 'does not follow'],
    ['a deleted change', `DELETE FROM admin_changes WHERE id = 1`, 2, 'one before it deleted'],
    [
      'a change added by hand',
      `INSERT INTO admin_changes (at, os_user, action, target) VALUES (1, 'root', 'lists.remove', 'x')`,
      4,
      'added by hand',
    ],
  ])('names %s, triggers dropped first, with SG_AUDIT_TAMPERED', async (_, sql, id, said) => {
    const db = plain();
    dropTriggers(db);
    db.exec(sql);
    db.close();
    plainDb = null;
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.out).toContain(`SG_AUDIT_TAMPERED`);
    expect(r.out).toContain(`broken at change ${id}`);
    expect(r.out).toContain(said);
  });

  it('chains a record written before the chain existed when it is first opened', async () => {
    // The record as the schema before the chain left it: no chain column, no triggers.
    const db = plain();
    dropTriggers(db);
    db.exec(`ALTER TABLE admin_changes DROP COLUMN chain_hash`);
    // The migrations after the chain (the console's accounts, their directory column, then the sites of
    // networks, devices and users) did not exist then either.
    db.exec(`DROP TABLE console_users; DROP TABLE console_signins`);
    for (const table of ['networks', 'devices', 'users']) db.exec(`ALTER TABLE ${table} DROP COLUMN site`);
    const version = db.pragma('user_version', { simple: true }) as number;
    db.pragma(`user_version = ${version - 4}`);
    db.close();
    plainDb = null;
    const r = await verify();
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('ok: 3 changes chained');
    expect(() => plain().prepare(`DELETE FROM admin_changes`).run()).toThrow(/append-only/);
  });
});
