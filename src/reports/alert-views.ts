/**
 * What `schoolgate alerts list` and `alerts show` print: the alerts as a terminal table or JSON lines, one
 * alert in full with the audit rows it references. Text goes through render-text.ts (control and bidi
 * characters made visible); JSON lines escape the same characters, so neither can drive a terminal.
 */
import type Database from 'better-sqlite3';
import type { StoredAlert } from '../audit/alerts-table.js';
import { alertData, alertStatus, alertSubjectText, NO_USER } from './alerts.js';
import type { ReportDoc, Section } from './model.js';
import { fmt, FOOTER } from './report-parts.js';
import type { ReportSource } from './source.js';

/** Who, in one cell: the user (or a guest's "(no user)"), then profile, device and address. */
function who(a: StoredAlert): string {
  const parts = [a.profile, a.device, a.clientIp].filter((p): p is string => !!p);
  return `${a.user ?? NO_USER} (${parts.join(', ')})`;
}

export function alertListDoc(src: ReportSource, alerts: StoredAlert[], title: string): ReportDoc {
  return {
    title,
    subtitle: '',
    header: [],
    sections: [
      {
        heading: `${alerts.length} alerts, newest first (times ${src.timeZone})`,
        table: {
          columns: ['Last', 'First', 'Severity', 'Rule', 'Who', 'Count', 'Search term / URL', 'Status', 'ID'],
          rows: alerts.map((a) => [
            fmt(src, a.lastTime),
            fmt(src, a.firstTime),
            a.severity,
            a.rule,
            who(a),
            a.count,
            alertSubjectText(a),
            a.status === 'acked' ? `acked by ${a.ackedBy ?? ''}` : 'open',
            a.id,
          ]),
          numeric: [5],
          marked: alerts.flatMap((a, i) => (a.severity === 'danger' ? [i] : [])),
          empty: 'No alerts match.',
        },
      },
    ],
    footer: FOOTER,
  };
}

const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** JSON whose text holds no C1 control or bidi character (JSON.stringify escapes only C0). Same value. */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    JSON_UNSAFE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** One line of `alerts list --json`. */
export function alertJsonLine(a: StoredAlert): string {
  return terminalSafeJson(alertData(a));
}

export interface ReferencedRow {
  id: string;
  timeMs: number;
  action: string;
  host: string;
  path: string | null;
  searchTerm: string | null;
}

/** The audit rows an alert references, oldest first; ids no longer in the log (purged) are left out. */
export function referencedRows(db: Database.Database, ids: readonly string[]): ReferencedRow[] {
  if (ids.length === 0) return [];
  return db
    .prepare(
      `SELECT id, time_ms AS timeMs, action, host, path, search_term AS searchTerm FROM audit_events
       WHERE id IN (SELECT value FROM json_each(?)) ORDER BY time_ms, rowid`,
    )
    .all(JSON.stringify(ids)) as ReferencedRow[];
}

export function alertShowDoc(src: ReportSource, a: StoredAlert, rows: ReferencedRow[]): ReportDoc {
  const missing = a.auditRowIds.length - rows.length;
  const rowsSection: Section = {
    heading: 'Audit rows referenced',
    paragraphs: [
      `Requests counted on this alert: ${a.count}; referenced: ${a.auditRowIds.length}` +
        (missing > 0 ? `; no longer in the audit log (purged): ${missing}.` : '.'),
    ],
    table: {
      columns: ['Time', 'Action', 'Host', 'Path', 'Search term', 'Reference'],
      rows: rows.map((r) => [fmt(src, r.timeMs), r.action, r.host, r.path, r.searchTerm, r.id]),
      empty: 'None of the referenced rows is in the audit log.',
    },
  };
  const facts: [string, string][] = [
    ['ID', a.id],
    ['Severity', a.severity],
    ['Rule', a.rule],
    ['List', a.list ?? ''],
    ['Phrase matched', a.phrase ?? ''],
    ['User', a.user ?? '(no user)'],
    ['Profile', a.profile ?? ''],
    ['Device', a.device ?? ''],
    ['Address', a.clientIp],
    ['First request', `${fmt(src, a.firstTime)} ${src.timeZone}`],
    ['Last request', `${fmt(src, a.lastTime)} ${src.timeZone}`],
    ['Count', String(a.count)],
    ['URL', a.url ?? ''],
    ['Status', alertStatus(src, a)],
  ];
  if (a.status === 'acked')
    facts.push(['Acknowledged as OS user', a.ackedOsUser ?? ''], ['Note', a.ackNote ?? '']);
  return {
    title: `Safeguarding alert ${a.id}`,
    subtitle: '',
    header: [],
    sections: [
      {
        heading: 'Alert',
        facts,
        table: {
          columns: ['Search term / URL'],
          rows: [[alertSubjectText(a)]],
          empty: 'No search term.',
        },
      },
      rowsSection,
    ],
    footer: FOOTER,
  };
}
