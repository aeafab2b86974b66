/**
 * The `alerts` table on PostgreSQL (PG migration 2): what the alerts engine of a node serving on
 * PostgreSQL writes and reads back at start, with the SQLite table's columns (alerts-table.ts) and its
 * rules: an update never moves first_ms back, never lowers count, and leaves an acknowledgement alone.
 */
import {
  alertColumns,
  alertFromRow,
  type AlertRow,
  type AlertWrite,
  type StoredAlert,
} from '../alerts-table.js';
import type { Queryable } from './connect.js';

export const PG_ALERTS_MIGRATION = `CREATE TABLE alerts (
     id            text    PRIMARY KEY,
     first_ms      bigint  NOT NULL,
     last_ms       bigint  NOT NULL,
     count         integer NOT NULL DEFAULT 1,
     username      text,
     profile       text,
     client_ip     text    NOT NULL,
     device        text,
     rule          text    NOT NULL,
     list          text,
     severity      text    NOT NULL,
     url           text,
     search_term   text,
     phrase        text,
     audit_ids     text    NOT NULL DEFAULT '[]',
     status        text    NOT NULL DEFAULT 'open',
     acked_ms      bigint,
     acked_by      text,
     acked_os_user text,
     ack_note      text
   );
   CREATE INDEX alerts_first ON alerts (first_ms);
   CREATE INDEX alerts_user_first ON alerts (username, first_ms);
   CREATE INDEX alerts_status_last ON alerts (status, last_ms);`;

const COLUMNS = [
  'id',
  'first_ms',
  'last_ms',
  'count',
  'username',
  'profile',
  'client_ip',
  'device',
  'rule',
  'list',
  'severity',
  'url',
  'search_term',
  'phrase',
  'audit_ids',
  'site',
] as const;

const UPSERT_SQL = `INSERT INTO alerts (${COLUMNS.join(', ')})
  VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
  ON CONFLICT (id) DO UPDATE SET
    last_ms = GREATEST(alerts.last_ms, excluded.last_ms),
    count = GREATEST(alerts.count, excluded.count),
    audit_ids = excluded.audit_ids`;

export async function upsertPgAlert(db: Queryable, alert: AlertWrite): Promise<void> {
  const row = alertColumns(alert);
  await db.query({ name: 'sg_alert_upsert', text: UPSERT_SQL, values: COLUMNS.map((c) => row[c]) });
}

/** Alerts first raised at or after `since`, oldest first (the engine reopens its windows from them). */
export async function recentPgAlerts(db: Queryable, since: number): Promise<StoredAlert[]> {
  const { rows } = await db.query<AlertRow>('SELECT * FROM alerts WHERE first_ms >= $1 ORDER BY first_ms', [
    since,
  ]);
  return rows.map(alertFromRow);
}
