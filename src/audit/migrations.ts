/**
 * Versioned schema of the audit database. `PRAGMA user_version` holds how many entries of MIGRATIONS have
 * been applied. Each migration runs in its own transaction together with the user_version bump, so a crash
 * mid-migration leaves the previous version intact. Append new migrations; never edit or reorder old ones.
 *
 * Categories are stored as a JSON text column (a sorted, deduplicated array such as '["chat","social"]')
 * rather than a side table: every report we know of narrows first by user, host or flagged plus a time range
 * (all indexed), then filters categories with `json_each`, and one row per event keeps the hot insert path
 * to a single statement. If a category-wide report ever needs its own index, a later migration can add a
 * side table and fill it from the JSON column.
 */
import type Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';

export type Migration = (db: Database.Database) => void;

export const MIGRATIONS: readonly Migration[] = [
  // 1: the event table, its report indexes, and a small key/value meta table.
  (db) => {
    db.exec(`
      CREATE TABLE audit_events (
        id           TEXT    NOT NULL UNIQUE, -- per-request UUID: a retried write never duplicates a row
        time_ms      INTEGER NOT NULL,        -- epoch milliseconds of the decision
        username     TEXT,
        profile      TEXT,
        client_ip    TEXT    NOT NULL,
        device       TEXT,
        method       TEXT    NOT NULL,
        scheme       TEXT    NOT NULL,
        host         TEXT    NOT NULL,
        port         INTEGER,
        path         TEXT,
        categories   TEXT    NOT NULL DEFAULT '[]', -- JSON array of category names
        action       TEXT    NOT NULL,
        rule         TEXT,
        reason       TEXT    NOT NULL,
        flagged      INTEGER NOT NULL DEFAULT 0,    -- 0 or 1
        status       INTEGER,                       -- HTTP status sent to the client
        bytes_in     INTEGER,                       -- bytes read from the client (set by complete())
        bytes_out    INTEGER,                       -- bytes written to the client (set by complete())
        duration_ms  INTEGER,                       -- decision to end of exchange (set by complete())
        completed_ms INTEGER                        -- when complete() was committed, epoch ms
      );
      CREATE INDEX audit_events_user_time ON audit_events (username, time_ms);
      CREATE INDEX audit_events_host_time ON audit_events (host, time_ms);
      CREATE INDEX audit_events_flagged_time ON audit_events (flagged, time_ms);
      CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
    `);
    db.prepare(`INSERT INTO meta (key, value) VALUES ('created_ms', ?)`).run(String(Date.now()));
  },
  // 2: what kind of exchange the row is (a plain request, a CONNECT tunnel, a request inside an inspected
  // tunnel), the search term of search-engine requests, the rewrites enforced on the request (SafeSearch)
  // and a free-text note (a pupil's "I reached this by accident" comment).
  (db) => {
    db.exec(`
      ALTER TABLE audit_events ADD COLUMN kind TEXT NOT NULL DEFAULT 'request';
      ALTER TABLE audit_events ADD COLUMN search_term TEXT;
      ALTER TABLE audit_events ADD COLUMN search_engine TEXT;
      ALTER TABLE audit_events ADD COLUMN rewrites TEXT; -- JSON array of enforced rewrites, or NULL
      ALTER TABLE audit_events ADD COLUMN note TEXT;
    `);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the database up to SCHEMA_VERSION. Refuses a database written by a newer schoolgate. */
export function migrate(db: Database.Database, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      `The audit database ${path} has schema version ${current}, newer than this schoolgate understands (${SCHEMA_VERSION}).`,
      {
        context: { path, version: current, supported: SCHEMA_VERSION },
        suggestion: 'Upgrade schoolgate, or point audit.path at a different file.',
      },
    );
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    const step = MIGRATIONS[version];
    if (!step) break;
    db.transaction(() => {
      step(db);
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}
