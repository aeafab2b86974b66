import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { registerChainFunctions } from '../../../src/audit/chain.js';
import type { AuditEvent } from '../../../src/audit/index.js';
import { registerLedgerFunctions } from '../../../src/audit/ledger.js';
import { MIGRATIONS } from '../../../src/audit/migrations.js';

export function makeEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: randomUUID(),
    time: Date.now(),
    user: 'pupil1',
    profile: 'pupil',
    clientIp: '10.0.0.12',
    device: null,
    method: 'GET',
    scheme: 'http',
    host: 'blocked.example',
    port: 80,
    path: '/',
    categories: ['social'],
    action: 'block',
    rule: 'category:social:blocked.example',
    reason: 'category',
    flagged: true,
    status: 403,
    ...overrides,
  };
}

/** A fresh temp folder per test; removed by the returned cleanup. */
export function tempDir(prefix = 'sg-audit-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An audit database as schoolgate left it after the first `count` migrations (to test the next one). */
export function databaseAtMigration(file: string, count: number): Database.Database {
  const db = new Database(file);
  registerChainFunctions(db);
  registerLedgerFunctions(db);
  for (const [i, step] of MIGRATIONS.slice(0, count).entries()) {
    step(db);
    db.pragma(`user_version = ${i + 1}`);
  }
  return db;
}

/**
 * A copy of the database `clean` (beside it, as `name`.sqlite) changed by `edit` through a plain sqlite3
 * connection: none of schoolgate's functions, as a determined editor with the file has.
 */
export function editedCopy(
  clean: string,
  name: string,
  edit: string | ((db: Database.Database) => void),
): string {
  const file = join(dirname(clean), `${name}.sqlite`);
  copyFileSync(clean, file);
  const db = new Database(file);
  try {
    if (typeof edit === 'string') db.exec(edit);
    else edit(db);
  } finally {
    db.close();
  }
  return file;
}
