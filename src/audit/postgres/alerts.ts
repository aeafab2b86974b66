/**
 * The `alerts` table on PostgreSQL (PG migration 2): what the alerts engine of a node serving on
 * PostgreSQL writes and reads back at start, with the SQLite table's columns (alerts-table.ts) and its
 * rules: an update never moves first_ms back, never lowers count, and leaves an acknowledgement alone.
 */
import type { AlertAck, AlertStore } from '../alert-store.js';
import {
  alertColumns,
  alertFromRow,
  type AlertQuery,
  type AlertRow,
  type AlertWrite,
  type StoredAlert,
} from '../alerts-table.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';

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

const RANK_SQL = `CASE severity WHEN 'danger' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END`;
const RANK: Record<StoredAlert['severity'], number> = { danger: 3, warning: 2, advisory: 1 };

/** alerts-table.ts queryAlerts in PostgreSQL's words: the same filters, newest first. */
export async function queryPgAlerts(db: Queryable, q: AlertQuery = {}): Promise<StoredAlert[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  if (q.open) where.push(`status = 'open'`);
  if (q.since !== undefined) where.push(`last_ms >= ${param(q.since)}`);
  if (q.until !== undefined) where.push(`first_ms < ${param(q.until)}`);
  if (q.minSeverity) where.push(`${RANK_SQL} >= ${param(RANK[q.minSeverity])}`);
  if (q.user !== undefined) where.push(`username = ${param(q.user)}`);
  if (q.site !== undefined) where.push(`site = ${param(q.site)}`);
  const text =
    `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
    `ORDER BY last_ms DESC, id DESC${q.limit !== undefined ? ` LIMIT ${param(q.limit)}` : ''}`;
  const { rows } = await db.query<AlertRow>({ text, values, types: BIGINT_AS_NUMBER });
  return rows.map(alertFromRow);
}

export async function getPgAlert(db: Queryable, id: string): Promise<StoredAlert | null> {
  const { rows } = await db.query<AlertRow>({
    text: 'SELECT * FROM alerts WHERE id = $1',
    values: [id],
    types: BIGINT_AS_NUMBER,
  });
  return rows[0] ? alertFromRow(rows[0]) : null;
}

/**
 * The acknowledgement as one conditional UPDATE: PostgreSQL locks the row and re-checks `status = 'open'`
 * after a concurrent ack commits, so of two DSLs on any nodes the first wins and the second changes nothing.
 */
export async function ackPgAlertIfOpen(db: Queryable, id: string, ack: AlertAck): Promise<boolean> {
  const r = await db.query(
    `UPDATE alerts SET status = 'acked', acked_ms = $2, acked_by = $3, acked_os_user = $4, ack_note = $5
     WHERE id = $1 AND status = 'open'`,
    [id, ack.at, ack.by, ack.osUser, ack.note],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Every node's alerts in the shared database (alert-store.ts). */
export function pgAlertStore(db: Queryable): AlertStore {
  return {
    list: (q) => queryPgAlerts(db, q),
    get: (id) => getPgAlert(db, id),
    ackIfOpen: (id, ack) => ackPgAlertIfOpen(db, id, ack),
  };
}
