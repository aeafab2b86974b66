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
import { CREATE_HOLDS_SQL } from './holds.js';
import { createLedger, recreateLedgerTriggers } from './ledger.js';
import type Database from 'better-sqlite3';
import { SchoolgateError } from '../errors.js';
import { backfillChain } from './chain.js';

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
  // 3: investigations. See chain.ts for the hash chain, purge.ts for retention, cases.ts for cases and holds,
  // report-access.ts for the record of every report pulled.
  // - seq: the writer's insertion sequence (1, 2, 3, ...), the chain's order. Not the rowid: VACUUM may
  //   renumber rowids of a table without an INTEGER PRIMARY KEY.
  // - chain_hash: sha256(previous row's chain_hash, this row's decision-time columns); outcome_hash:
  //   sha256(chain_hash, the outcome columns complete() updates later). Existing rows are chained here.
  // - audit_hosts: every host seen, keyed by its labels reversed ('com.facebook.m'), so a domain report finds
  //   a domain's subdomains by an index range instead of a LIKE '%.x' full scan.
  // - a partial index for the weekly review's self-reports and continued warnings (few rows, all users).
  (db) => {
    db.exec(`
      ALTER TABLE audit_events ADD COLUMN seq INTEGER;
      ALTER TABLE audit_events ADD COLUMN chain_hash TEXT;
      ALTER TABLE audit_events ADD COLUMN outcome_hash TEXT;
      CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
      CREATE INDEX audit_events_attention_time ON audit_events (action, time_ms)
        WHERE action IN ('self-report', 'continue');
      CREATE TABLE audit_hosts (rev TEXT PRIMARY KEY NOT NULL, host TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE chain_gaps (
        seq        INTEGER PRIMARY KEY, -- the first row after rows a purge deleted (or the next seq to come)
        prev_hash  TEXT    NOT NULL,    -- chain_hash of the deleted row just before it
        deleted    INTEGER NOT NULL,    -- rows deleted in this gap
        purge_id   INTEGER NOT NULL
      );
      CREATE TABLE purges (
        id             INTEGER PRIMARY KEY,
        started_ms     INTEGER NOT NULL,
        finished_ms    INTEGER,
        os_user        TEXT    NOT NULL,
        by_name        TEXT,
        retention_days INTEGER NOT NULL,
        cutoff_ms      INTEGER NOT NULL,
        deleted        INTEGER NOT NULL DEFAULT 0,
        held           INTEGER NOT NULL DEFAULT 0  -- rows past retention kept for an open case
      );
      CREATE TABLE purge_days (
        purge_id INTEGER NOT NULL,
        day      TEXT    NOT NULL, -- YYYY-MM-DD in the school's time zone
        deleted  INTEGER NOT NULL,
        PRIMARY KEY (purge_id, day)
      ) WITHOUT ROWID;
      CREATE TABLE cases (
        ref        TEXT PRIMARY KEY NOT NULL,
        subject    TEXT    NOT NULL, -- the username whose records are held while the case is open
        status     TEXT    NOT NULL DEFAULT 'open', -- 'open' | 'closed'
        opened_ms  INTEGER NOT NULL,
        opened_by  TEXT    NOT NULL,
        os_user    TEXT    NOT NULL,
        closed_ms  INTEGER,
        closed_by  TEXT,
        outcome    TEXT
      );
      CREATE INDEX cases_subject ON cases (subject, status);
      CREATE TABLE case_notes (
        id       INTEGER PRIMARY KEY,
        ref      TEXT    NOT NULL REFERENCES cases (ref),
        time_ms  INTEGER NOT NULL,
        author   TEXT    NOT NULL,
        os_user  TEXT    NOT NULL,
        text     TEXT    NOT NULL
      );
      CREATE INDEX case_notes_ref ON case_notes (ref, time_ms);
      CREATE TABLE report_access (
        id        INTEGER PRIMARY KEY,
        time_ms   INTEGER NOT NULL,
        by_name   TEXT,
        os_user   TEXT    NOT NULL,
        command   TEXT    NOT NULL, -- e.g. 'report user'
        subject   TEXT,             -- whose records
        domain    TEXT,
        case_ref  TEXT,
        from_ms   INTEGER,
        to_ms     INTEGER,
        format    TEXT,
        outcome   TEXT    NOT NULL, -- 'granted' | 'refused'
        reason    TEXT              -- why it was refused
      );
      CREATE INDEX report_access_time ON report_access (time_ms);
      CREATE INDEX report_access_case ON report_access (case_ref, time_ms);
    `);
    backfillChain(db);
  },
  // 4: safeguarding alerts (src/alerts/). One row per alert: the same user and rule within the engine's
  // window update the row (count, last_ms, audit_ids) instead of adding one. audit_ids holds the first
  // rows counted (JSON array, capped), enough to open the record; count says how many there were.
  // claimed_user: the name a failed or throttled proxy login claimed, kept apart from username so
  // `report user X` never counts an attempt X did not make (issue 11, item 4). Chained only where set
  // (chain.ts, LATER_CHAINED_COLUMNS), so the rows written before it keep their hashes.
  (db) => {
    db.exec(`
      CREATE TABLE alerts (
        id          TEXT    PRIMARY KEY NOT NULL, -- UUIDv7, the sinks' idempotency key
        first_ms    INTEGER NOT NULL,
        last_ms     INTEGER NOT NULL,
        count       INTEGER NOT NULL DEFAULT 1,
        username    TEXT,
        profile     TEXT,
        client_ip   TEXT    NOT NULL,
        device      TEXT,
        rule        TEXT    NOT NULL,             -- 'keyword:selfharm', 'category:extremism', 'repeated:blocked-flagged'
        list        TEXT,                         -- the keyword list or category
        severity    TEXT    NOT NULL,             -- 'danger' | 'warning' | 'advisory'
        url         TEXT,
        search_term TEXT,
        phrase      TEXT,                         -- the list entry that matched
        audit_ids   TEXT    NOT NULL DEFAULT '[]',
        status      TEXT    NOT NULL DEFAULT 'open', -- 'open' | 'acked'
        acked_ms    INTEGER,
        acked_by    TEXT,
        acked_os_user TEXT,
        ack_note    TEXT
      );
      CREATE INDEX alerts_first ON alerts (first_ms);
      CREATE INDEX alerts_user_first ON alerts (username, first_ms);
      CREATE INDEX alerts_status_last ON alerts (status, last_ms);
      ALTER TABLE audit_events ADD COLUMN claimed_user TEXT;
    `);
  },
  // 5: the per-person report's "failed logins claiming this name" (src/reports/claimed-logins.ts) from an
  // index, like every report query. Partial: only failed logins carry a claimed name, so it stays small.
  (db) => {
    db.exec(`
      CREATE INDEX audit_events_claimed_time ON audit_events (claimed_user, time_ms)
        WHERE claimed_user IS NOT NULL;
    `);
  },
  // 6: a case's subjects (case-subjects.ts): users, and devices or addresses for traffic nobody signed in
  // for. A report under a case is granted only for them. cases.subject keeps their label for display.
  (db) => {
    db.exec(`
      CREATE TABLE case_subjects (
        ref   TEXT NOT NULL REFERENCES cases (ref),
        kind  TEXT NOT NULL CHECK (kind IN ('user', 'device', 'address')),
        value TEXT NOT NULL,
        UNIQUE (ref, kind, value)
      );
      INSERT INTO case_subjects (ref, kind, value) SELECT ref, 'user', subject FROM cases;
    `);
  },
  // 7: legal holds (holds.ts) and a purge's reason; then the ledger (ledger.ts): a hash chain over cases,
  // their subjects and notes, report access, purges and their gaps, and holds, kept by triggers; signed
  // with the audit chain's head in checkpoints.ts.
  (db) => {
    db.exec(CREATE_HOLDS_SQL);
    db.exec(`ALTER TABLE purges ADD COLUMN reason TEXT`);
    createLedger(db);
  },
  // 8 (selftest probe rows): selftest_run marks the rows of `schoolgate selftest` probes with the run that
  // sent them (src/exchange/selftest-probes.ts). Reports, reviews and alerts leave these rows out; `selftest
  // --history` lists them. Chained only where set (chain.ts, LATER_CHAINED_COLUMNS): marking a real row as a
  // probe afterwards breaks the chain. A partial index: only probes carry it.
  (db) => {
    db.exec(`
      ALTER TABLE audit_events ADD COLUMN selftest_run TEXT;
      CREATE INDEX audit_events_selftest_time ON audit_events (selftest_run, time_ms)
        WHERE selftest_run IS NOT NULL;
    `);
  },
  // 9: pilot mode's rows (profile mode: monitor) for `report pilot` (src/reports/build-pilot.ts), from an
  // index like every report query. Partial: only pilot-mode rows carry these actions.
  (db) => {
    db.exec(`
      CREATE INDEX audit_events_pilot_time ON audit_events (action, time_ms)
        WHERE action IN ('would-block', 'would-warn');
    `);
  },
  // 10: why a record was read and where it went (issue 10 item 2): the purpose (--reason), the output file,
  // and the account that ran the command through sudo. The ledger triggers are rebuilt over the new
  // columns, and every earlier row is entered once in its new shape (an update with the new columns
  // empty), so `verifyLedger` keeps comparing each row with its last recorded state.
  (db) => {
    db.exec(`
      ALTER TABLE report_access ADD COLUMN purpose TEXT;
      ALTER TABLE report_access ADD COLUMN out_file TEXT;
      ALTER TABLE report_access ADD COLUMN sudo_user TEXT;
    `);
    recreateLedgerTriggers(db);
    db.exec(`UPDATE report_access SET purpose = NULL`);
  },
  // 11: `lists uncategorised` and the weekly review's uncategorised sites (src/reports/build-uncategorised.ts):
  // decided rows that matched no category, covering (time first, then every column the query reads, the
  // partial WHERE's own columns too: SQLite checks them from the index, they cost a few bytes as every row
  // here holds the same values) so a week of them is read from the index alone, never the table. Its WHERE
  // is repeated in the query verbatim.
  (db) => {
    db.exec(`
      CREATE INDEX audit_events_uncategorised ON audit_events
        (time_ms, host, profile, username, client_ip, action, categories, selftest_run)
        WHERE categories = '[]' AND selftest_run IS NULL
          AND action IN ('allow', 'warn', 'block', 'continue', 'continued', 'would-block', 'would-warn');
    `);
  },
  // 12: schools within a trust (src/identity/site.ts): the site a request was resolved to, null in a single
  // school and on every earlier row. Chained only where set (chain.ts, LATER_CHAINED_COLUMNS), so the rows
  // written before it keep their hashes and a new row's site is covered. The flagged rows of one site for a
  // period (`report flagged --site`, a site-scoped DSL's alerts) from an index; partial: only sited rows.
  (db) => {
    db.exec(`
      ALTER TABLE audit_events ADD COLUMN site TEXT;
      CREATE INDEX audit_events_site_flagged_time ON audit_events (site, flagged, time_ms)
        WHERE site IS NOT NULL;
      ALTER TABLE alerts ADD COLUMN site TEXT;
      CREATE INDEX alerts_site_first ON alerts (site, first_ms) WHERE site IS NOT NULL;
    `);
  },
  // 13: which school of the trust a read was limited to (report_access.site: `--site`, a site-scoped
  // console account; null: the whole trust, and every earlier entry). As migration 10: the ledger triggers
  // rebuilt over the new column and every earlier entry entered once in its new shape, so `verifyLedger`
  // keeps matching each row with its last recorded state.
  (db) => {
    db.exec(`ALTER TABLE report_access ADD COLUMN site TEXT`);
    recreateLedgerTriggers(db);
    db.exec(`UPDATE report_access SET site = NULL`);
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
