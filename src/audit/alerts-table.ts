/**
 * The `alerts` table (migration 4): written by the audit writer thread for the alerts engine, read by the
 * CLI and the reports. One row per alert; a repeat within the engine's window updates the same row.
 */
import type Database from 'better-sqlite3';

/** The most audit row ids kept on one alert; `count` still counts every request. */
export const ALERT_AUDIT_IDS_KEPT = 50;

export type StoredAlertStatus = 'open' | 'acked';

export interface StoredAlert {
  id: string;
  firstTime: number;
  lastTime: number;
  count: number;
  user: string | null;
  profile: string | null;
  clientIp: string;
  device: string | null;
  /** Schema 12: the school of a trust the alerting requests belong to, when sites are set. */
  site?: string | null;
  rule: string;
  list: string | null;
  severity: 'danger' | 'warning' | 'advisory';
  url: string | null;
  searchTerm: string | null;
  phrase: string | null;
  auditRowIds: string[];
  status: StoredAlertStatus;
  ackedAt: number | null;
  ackedBy: string | null;
  ackedOsUser: string | null;
  ackNote: string | null;
}

/** What the engine writes: a new alert or the new state of one it raised earlier. */
export type AlertWrite = Omit<StoredAlert, 'status' | 'ackedAt' | 'ackedBy' | 'ackedOsUser' | 'ackNote'>;

export interface AlertRow {
  id: string;
  first_ms: number;
  last_ms: number;
  count: number;
  username: string | null;
  profile: string | null;
  client_ip: string;
  device: string | null;
  rule: string;
  list: string | null;
  severity: string;
  url: string | null;
  search_term: string | null;
  phrase: string | null;
  audit_ids: string;
  status: string;
  acked_ms: number | null;
  acked_by: string | null;
  acked_os_user: string | null;
  ack_note: string | null;
  site?: string | null;
}

/**
 * Insert or update by id. An update never moves first_ms back, never lowers count, and leaves the
 * acknowledgement alone: a DSL's ack stays even if the same window counts one more request.
 */
const UPSERT_SQL = `
  INSERT INTO alerts (id, first_ms, last_ms, count, username, profile, client_ip, device, rule, list,
                      severity, url, search_term, phrase, audit_ids, site)
  VALUES (@id, @first_ms, @last_ms, @count, @username, @profile, @client_ip, @device, @rule, @list,
          @severity, @url, @search_term, @phrase, @audit_ids, @site)
  ON CONFLICT (id) DO UPDATE SET
    last_ms = max(last_ms, excluded.last_ms),
    count = max(count, excluded.count),
    audit_ids = excluded.audit_ids`;

export function upsertAlert(db: Database.Database, alert: AlertWrite): void {
  db.prepare(UPSERT_SQL).run(alertColumns(alert));
}

/** The alert as the table's columns (the SQLite and PostgreSQL tables have the same ones). */
export function alertColumns(
  alert: AlertWrite,
): Omit<AlertRow, 'status' | 'acked_ms' | 'acked_by' | 'acked_os_user' | 'ack_note'> {
  return {
    id: alert.id,
    first_ms: alert.firstTime,
    last_ms: alert.lastTime,
    count: alert.count,
    username: alert.user,
    profile: alert.profile,
    client_ip: alert.clientIp,
    device: alert.device,
    rule: alert.rule,
    list: alert.list,
    severity: alert.severity,
    url: alert.url,
    search_term: alert.searchTerm,
    phrase: alert.phrase,
    audit_ids: JSON.stringify(alert.auditRowIds.slice(0, ALERT_AUDIT_IDS_KEPT)),
    site: alert.site ?? null,
  };
}

export function alertFromRow(row: AlertRow): StoredAlert {
  let ids: unknown;
  try {
    ids = JSON.parse(row.audit_ids);
  } catch {
    ids = [];
  }
  return {
    id: row.id,
    firstTime: row.first_ms,
    lastTime: row.last_ms,
    count: row.count,
    user: row.username,
    profile: row.profile,
    clientIp: row.client_ip,
    device: row.device,
    rule: row.rule,
    list: row.list,
    severity: (row.severity === 'danger' || row.severity === 'warning'
      ? row.severity
      : 'advisory') as StoredAlert['severity'],
    url: row.url,
    searchTerm: row.search_term,
    phrase: row.phrase,
    auditRowIds: Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : [],
    status: row.status === 'acked' ? 'acked' : 'open',
    ackedAt: row.acked_ms,
    ackedBy: row.acked_by,
    ackedOsUser: row.acked_os_user,
    ackNote: row.ack_note,
    ...(row.site ? { site: row.site } : {}),
  };
}

export interface AlertQuery {
  /** Only alerts not yet acknowledged. */
  open?: boolean;
  /** Alerts whose last request is at or after this time (epoch ms). */
  since?: number;
  /** Alerts whose first request is before this time (epoch ms). */
  until?: number;
  /** This severity or worse. */
  minSeverity?: StoredAlert['severity'];
  user?: string;
  /** Only this school of a trust's alerts (a site-scoped console account, `alerts list --site`). */
  site?: string;
  limit?: number;
}

const RANK_SQL = `CASE severity WHEN 'danger' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END`;
const RANK: Record<StoredAlert['severity'], number> = { danger: 3, warning: 2, advisory: 1 };

/** Newest first. */
export function queryAlerts(db: Database.Database, q: AlertQuery = {}): StoredAlert[] {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (q.open) where.push(`status = 'open'`);
  if (q.since !== undefined) {
    where.push('last_ms >= @since');
    params.since = q.since;
  }
  if (q.until !== undefined) {
    where.push('first_ms < @until');
    params.until = q.until;
  }
  if (q.minSeverity) {
    where.push(`${RANK_SQL} >= @rank`);
    params.rank = RANK[q.minSeverity];
  }
  if (q.user !== undefined) {
    where.push('username = @user');
    params.user = q.user;
  }
  if (q.site !== undefined) {
    where.push('site = @site');
    params.site = q.site;
  }
  const sql =
    `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
    `ORDER BY last_ms DESC, id DESC LIMIT @limit`;
  params.limit = q.limit ?? -1;
  return (db.prepare(sql).all(params) as AlertRow[]).map(alertFromRow);
}

export function getAlert(db: Database.Database, id: string): StoredAlert | null {
  const row = db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as AlertRow | undefined;
  return row ? alertFromRow(row) : null;
}

/** Records who acknowledged the alert and why. False when there is no such alert. */
export function ackAlert(
  db: Database.Database,
  id: string,
  ack: { at: number; by: string; osUser: string; note: string | null },
): boolean {
  const result = db
    .prepare(
      `UPDATE alerts SET status = 'acked', acked_ms = @at, acked_by = @by, acked_os_user = @os, ack_note = @note
       WHERE id = @id`,
    )
    .run({ id, at: ack.at, by: ack.by, os: ack.osUser, note: ack.note });
  return result.changes > 0;
}

/** Alerts whose first request is at or after `since`: the engine reopens its windows from them at start. */
export function recentAlerts(db: Database.Database, since: number): StoredAlert[] {
  return (
    db.prepare('SELECT * FROM alerts WHERE first_ms >= ? ORDER BY first_ms').all(since) as AlertRow[]
  ).map(alertFromRow);
}
