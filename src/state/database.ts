/**
 * The state database, data/state.sqlite: users, networks, devices, exceptions, the admin-changes record and
 * selftest results — everything the technician changes from the CLI. Separate from the audit database so the audit
 * store can move to a shared engine without taking the school's local state with it.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { createPrivateFile, makePrivateDir } from '../app/file-modes.js';
import { chainAdminChanges, registerChangeChain } from './change-chain.js';

/** Append only: a migration, once shipped, is never edited (user_version counts them). */
const MIGRATIONS: (string | ((db: Database.Database) => void))[] = [
  `CREATE TABLE users (
     name TEXT PRIMARY KEY,
     display_name TEXT NOT NULL DEFAULT '',
     profile TEXT NOT NULL,
     password_hash TEXT,
     disabled INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   )`,
  `CREATE TABLE admin_changes (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     os_user TEXT NOT NULL,
     by_name TEXT,
     action TEXT NOT NULL,
     target TEXT NOT NULL,
     before_json TEXT,
     after_json TEXT,
     reason TEXT
   );
   CREATE INDEX admin_changes_at ON admin_changes (at);
   CREATE TABLE networks (
     cidr TEXT PRIMARY KEY,
     profile TEXT NOT NULL,
     name TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE devices (
     address TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     user TEXT,
     profile TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE selftest_runs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     os_user TEXT NOT NULL,
     by_name TEXT,
     passed INTEGER NOT NULL,
     failed INTEGER NOT NULL,
     result_json TEXT NOT NULL
   )`,
  // Exceptions for a user, a profile or everyone (src/state/exceptions.ts). A removed one keeps its row
  // (removed_at, removed_by): the record of what was allowed, by whom and why outlives the exception.
  `CREATE TABLE exceptions (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     site TEXT NOT NULL,
     action TEXT NOT NULL CHECK (action IN ('allow', 'block')),
     scope TEXT NOT NULL CHECK (scope IN ('user', 'profile', 'everyone')),
     subject TEXT NOT NULL DEFAULT '',
     reason TEXT NOT NULL,
     created_by TEXT NOT NULL,
     created_os_user TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER,
     removed_at INTEGER,
     removed_by TEXT,
     origin TEXT NOT NULL DEFAULT 'cli'
   );
   CREATE INDEX exceptions_live ON exceptions (removed_at, expires_at)`,
  // Unblock requests from the block page (src/state/unblock-requests.ts): who asked (user, or the address
  // of a guest), for which site, why; and what the technician decided, with the exception it became.
  `CREATE TABLE unblock_requests (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     created_at INTEGER NOT NULL,
     subject TEXT NOT NULL,
     user TEXT,
     client_ip TEXT NOT NULL,
     profile TEXT NOT NULL,
     site TEXT NOT NULL,
     url TEXT NOT NULL,
     reason TEXT NOT NULL,
     block_ref TEXT NOT NULL,
     status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
     decided_at INTEGER,
     decided_by TEXT,
     decided_os_user TEXT,
     note TEXT,
     exception_id INTEGER
   );
   CREATE INDEX unblock_requests_subject ON unblock_requests (subject, site, id);
   CREATE INDEX unblock_requests_status ON unblock_requests (status, id);
   CREATE INDEX unblock_requests_created ON unblock_requests (created_at)`,
  // The admin-changes record as a hash chain kept by triggers (change-chain.ts); `changes --verify` walks it.
  chainAdminChanges,
  // Web console accounts (src/console/accounts.ts): people with a role, a scrypt hash, a TOTP secret for the
  // roles that see personal data, and the failure count that locks them; every sign-in and failure.
  `CREATE TABLE console_users (
     name TEXT PRIMARY KEY,
     role TEXT NOT NULL CHECK (role IN ('headteacher', 'dsl', 'technician', 'auditor')),
     password_hash TEXT NOT NULL,
     totp_secret TEXT,
     last_totp_step INTEGER,
     failures INTEGER NOT NULL DEFAULT 0,
     locked_until INTEGER,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE console_signins (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     name TEXT NOT NULL,
     client_ip TEXT NOT NULL,
     outcome TEXT NOT NULL CHECK (outcome IN ('signed-in', 'failed', 'locked', 'signed-out')),
     reason TEXT
   );
   CREATE INDEX console_signins_at ON console_signins (at)`,
  // A console account of a directory person (console.directory): no password here (the directory checks it),
  // the TOTP secret enrolled here; the role is set from their groups at every sign-in.
  `ALTER TABLE console_users ADD COLUMN directory INTEGER NOT NULL DEFAULT 0`,
  // Schools within a trust (src/identity/site.ts): the site a network, device or user belongs to, and the site
  // a console account is limited to (null: the whole trust). Nullable: a single school never sets them.
  `ALTER TABLE networks ADD COLUMN site TEXT;
   ALTER TABLE devices ADD COLUMN site TEXT;
   ALTER TABLE users ADD COLUMN site TEXT;
   ALTER TABLE console_users ADD COLUMN site TEXT`,
];

export type StateDatabase = Database.Database;

export function stateDbPath(dataDir: string): string {
  return path.join(dataDir, 'state.sqlite');
}

export function openStateDatabase(dataDir: string, opts: { readonly?: boolean } = {}): StateDatabase {
  makePrivateDir(dataDir);
  // Every user's password hash: owner-only before SQLite creates it 0644 (-wal and -shm copy its mode).
  if (!opts.readonly) createPrivateFile(stateDbPath(dataDir));
  const db = new Database(stateDbPath(dataDir), { readonly: opts.readonly ?? false });
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // Before the migrations: the admin-changes triggers call it on every insert.
    registerChangeChain(db);
    if (schemaVersion(db) < MIGRATIONS.length) migrate(db);
  }
  return db;
}

function schemaVersion(db: StateDatabase): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the schema up to date in one IMMEDIATE transaction that reads the version itself: two commands opening
 * a new data dir at once (two technicians' `lists add`) would otherwise both read version 0 and the second would
 * fail on "table already exists". The write lock makes the second wait (busy_timeout) and then find nothing to do.
 */
function migrate(db: StateDatabase): void {
  db.transaction(() => {
    for (let v = schemaVersion(db); v < MIGRATIONS.length; v++) {
      const step = MIGRATIONS[v]!;
      if (typeof step === 'string') db.exec(step);
      else step(db);
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
}
