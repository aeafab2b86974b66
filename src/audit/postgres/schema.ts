/**
 * Versioned schema of the PostgreSQL audit store. `schema_version` holds how many entries of PG_MIGRATIONS
 * have been applied; each runs in one transaction with its bump, under an advisory lock so two nodes
 * starting together do not both migrate. Append new migrations; never edit or reorder old ones.
 *
 * The columns are the SQLite audit table's (src/audit/migrations.ts) plus `node`: several nodes write one
 * database, each its own hash chain (chain_heads, one row per node), so they never wait on one head.
 * Rows are range-partitioned by month of time_ms (partitions.ts), so retention can drop a month; a
 * partitioned table's unique keys must hold the partition key, hence (id, time_ms) and (node, seq, time_ms):
 * a retried write carries the same time, and one node's seq is kept unique by its locked head row.
 */
import type pg from 'pg';
import { SchoolgateError } from '../../errors.js';
import { PG_ALERTS_MIGRATION } from './alerts.js';
import { PG_CASES_MIGRATION } from './case-tables.js';
import { PG_CHECKPOINTS_MIGRATION } from './checkpoints.js';
import { PG_DIGEST_CLAIMS_MIGRATION } from './digest-claims.js';
import { PG_LEDGER_MIGRATION } from './ledger.js';
import { PG_NODES_MIGRATION } from './nodes.js';
import { PG_POLICY_APPLIED_MIGRATION, PG_POLICY_MIGRATION } from './policy.js';
import { PG_PILOT_ACCESS_MIGRATION, PG_REPORTS_MIGRATION } from './report-schema.js';

export type PgMigration = string;

export const PG_MIGRATIONS: readonly PgMigration[] = [
  // 1: the rows, one chain head per node, purge anchors per node.
  `CREATE TABLE audit_events (
     node          text    NOT NULL,
     seq           bigint  NOT NULL,
     id            text    NOT NULL,
     time_ms       bigint  NOT NULL,
     username      text,
     profile       text,
     client_ip     text    NOT NULL,
     device        text,
     method        text    NOT NULL,
     scheme        text    NOT NULL,
     host          text    NOT NULL,
     port          integer,
     path          text,
     categories    text    NOT NULL DEFAULT '[]',
     action        text    NOT NULL,
     rule          text,
     reason        text    NOT NULL,
     flagged       smallint NOT NULL DEFAULT 0,
     status        integer,
     bytes_in      bigint,
     bytes_out     bigint,
     duration_ms   bigint,
     completed_ms  bigint,
     kind          text    NOT NULL DEFAULT 'request',
     search_term   text,
     search_engine text,
     rewrites      text,
     note          text,
     claimed_user  text,
     selftest_run  text,
     chain_hash    text    NOT NULL,
     outcome_hash  text,
     UNIQUE (id, time_ms),
     UNIQUE (node, seq, time_ms)
   ) PARTITION BY RANGE (time_ms);
   CREATE INDEX audit_events_node_seq ON audit_events (node, seq);
   CREATE INDEX audit_events_user_time ON audit_events (username, time_ms);
   CREATE INDEX audit_events_host_time ON audit_events (host, time_ms);
   CREATE INDEX audit_events_flagged_time ON audit_events (flagged, time_ms);
   CREATE TABLE chain_heads (
     node text PRIMARY KEY,
     seq  bigint NOT NULL,
     hash text   NOT NULL
   );
   CREATE TABLE chain_gaps (
     node      text   NOT NULL,
     seq       bigint NOT NULL,
     prev_hash text   NOT NULL,
     deleted   bigint NOT NULL,
     purge_id  bigint NOT NULL,
     PRIMARY KEY (node, seq)
   );`,
  // 2: the alerts engine's table, for nodes that serve on PostgreSQL.
  PG_ALERTS_MIGRATION,
  // 3: each serving node's start and last heartbeat, for `status` on every node.
  PG_NODES_MIGRATION,
  // 4: each node's signed checkpoints of its chain head.
  PG_CHECKPOINTS_MIGRATION,
  // 5: schools within a trust: the site a request was resolved to (as SQLite's schema 12), and an alert's.
  `ALTER TABLE audit_events ADD COLUMN site text;
   CREATE INDEX audit_events_site_flagged_time ON audit_events (site, flagged, time_ms)
     WHERE site IS NOT NULL;
   ALTER TABLE alerts ADD COLUMN site text;`,
  // 6: policy replicated between nodes (policy.ts): the files and their numbered versions.
  PG_POLICY_MIGRATION,
  // 7: the policy version each node runs (pruning keeps it; `status` shows who is behind).
  PG_POLICY_APPLIED_MIGRATION,
  // 8: holds, cases and the purge record (case-tables.ts), for retention and investigations on PostgreSQL.
  PG_CASES_MIGRATION,
  // 9: reports on PostgreSQL (report-reads.ts): the access record and the report queries' indexes.
  PG_REPORTS_MIGRATION,
  // 10: report pilot and the access log on PostgreSQL: their pages' indexes.
  PG_PILOT_ACCESS_MIGRATION,
  // 11: the ledger (ledger.ts): cases, notes, holds, purges and report_access hash-chained by triggers;
  // the rows already there entered as anchors.
  PG_LEDGER_MIGRATION,
  // 12: one send per scheduled digest across the nodes (digest-claims.ts).
  PG_DIGEST_CLAIMS_MIGRATION,
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/** Any number: the advisory lock that serialises migrations between nodes. */
const MIGRATE_LOCK = 0x5c6a7e01;

/** Brings the database up to PG_SCHEMA_VERSION. Refuses a database written by a newer schoolgate. */
export async function migratePg(client: pg.ClientBase): Promise<void> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
  try {
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_version');
    let current = rows[0]?.version ?? 0;
    if (rows.length === 0) await client.query('INSERT INTO schema_version (version) VALUES (0)');
    if (current > PG_SCHEMA_VERSION)
      throw new SchoolgateError(
        'SG_AUDIT_UNAVAILABLE',
        `The PostgreSQL audit store has schema version ${current}, newer than this schoolgate understands (${PG_SCHEMA_VERSION}).`,
        { context: { version: current, supported: PG_SCHEMA_VERSION }, suggestion: 'Upgrade schoolgate.' },
      );
    for (; current < PG_SCHEMA_VERSION; current++) {
      await client.query('BEGIN');
      try {
        await client.query(PG_MIGRATIONS[current]!);
        await client.query('UPDATE schema_version SET version = $1', [current + 1]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]);
  }
}
