/**
 * CSV export of a report's rows (RFC 4180). Spreadsheet formula injection is neutralised: a cell that starts
 * with =, +, -, @, a tab or a carriage return (or a line feed) is prefixed with an apostrophe, so Excel and
 * LibreOffice show it as text instead of evaluating it (OWASP "CSV injection").
 */
import { isMarked } from './model.js';
import type { AuditRowRaw } from './source.js';

const FORMULA_START = /^[=+\-@\t\r\n]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (isMarked(value)) return csvCell(value.text); // a spreadsheet has no highlight: the bare text
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const CSV_COLUMNS = [
  'reference',
  'seq',
  'time_local',
  'time_utc',
  'user',
  'profile',
  'client_ip',
  'device',
  'action',
  'flagged',
  'categories',
  'method',
  'scheme',
  'host',
  'port',
  'path',
  'kind',
  'search_engine',
  'search_term',
  'note',
  'rule',
  'reason',
  'status',
  'bytes_in',
  'bytes_out',
  'duration_ms',
] as const;

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(r: AuditRowRaw, local: (ms: number) => string): string {
  const cells: unknown[] = [
    r.id,
    r.seq,
    local(r.time_ms),
    new Date(r.time_ms).toISOString(),
    r.username,
    r.profile,
    r.client_ip,
    r.device,
    r.action,
    r.flagged,
    (JSON.parse(r.categories) as string[]).join(' '),
    r.method,
    r.scheme,
    r.host,
    r.port,
    r.path,
    r.kind,
    r.search_engine,
    r.search_term,
    r.note,
    r.rule,
    r.reason,
    r.status,
    r.bytes_in,
    r.bytes_out,
    r.duration_ms,
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}
