/** Shared pieces of every report: who pulled it, the period, the tamper-evidence line, the row table. */
import type { LastVerify } from '../audit/last-verify.js';
import type { CoverageResult } from '../audit/chain-coverage.js';
import type { ChainHeadOf } from './audit-reads.js';
import { Aggregate, type Counts, type RowSummary } from './aggregate.js';
import type { Cell, ReportDoc, Section } from './model.js';
import { categoryTitle, type AuditRowRaw, type ReportSource } from './source.js';
import { formatLocal, startOfDay } from './time.js';

export interface Puller {
  by: string;
  osUser: string;
  caseRef: string | null;
  /** Why it was pulled (--reason), printed in the header as the access log keeps it. */
  purpose?: string | null;
}

export interface BuiltReport {
  doc: ReportDoc;
  data: Record<string, unknown>;
  /** The full row list (CSV, JSON), streamed. */
  rows?: () => AsyncIterable<AuditRowRaw>;
}

export const fmt = (src: ReportSource, ms: number | null): string =>
  ms === null ? '' : formatLocal(ms, src.timeZone);

/** "2026-11-02 to 2026-11-06" for whole days (the end is exclusive inside, inclusive on paper), else times. */
export function period(src: ReportSource, fromMs: number, toMs: number): string {
  const tz = src.timeZone;
  if (startOfDay(fromMs, tz) === fromMs && startOfDay(toMs, tz) === toMs) {
    const lastDay = formatLocal(toMs - 1, tz).slice(0, 10);
    return `${formatLocal(fromMs, tz).slice(0, 10)} to ${lastDay} inclusive (${tz})`;
  }
  return `${formatLocal(fromMs, tz, false)} to ${formatLocal(toMs, tz, false)} (${tz})`;
}

export function pulledHeader(src: ReportSource, p: Puller): [string, string][] {
  const h: [string, string][] = [
    ['Pulled by', `${p.by} (OS user ${p.osUser})`],
    ['Pulled at', `${formatLocal(src.now, src.timeZone)} ${src.timeZone}`],
  ];
  if (p.caseRef !== null) h.push(['Case', p.caseRef]);
  if (src.site !== undefined) h.push(['Site', src.site]);
  if (p.purpose) h.push(['Purpose', p.purpose]);
  return h;
}

export const FOOTER =
  'Monitoring information: confidential. Seen by as few people as necessary; kept no longer than the retention schedule.';

// ---- tamper evidence -------------------------------------------------------------------------------------

export type { LastVerify } from '../audit/last-verify.js';

export function lastFullVerify(src: ReportSource): LastVerify | null {
  return src.reads.lastFullVerify();
}

/** 'seq 12 ab…' (SQLite's one chain), or each node's head on PostgreSQL. */
export function headsLine(heads: readonly ChainHeadOf[]): string {
  if (heads.length === 0) return 'seq 0 (no rows)';
  return heads.map((h) => `${h.node === null ? '' : `node ${h.node}: `}seq ${h.seq} ${h.hash}`).join('; ');
}

export async function tamperSection(src: ReportSource, cover: CoverageResult): Promise<Section> {
  const last = lastFullVerify(src);
  const heads = await src.reads.chainHeads();
  const facts: [string, string][] = [
    [
      'Rows in this report',
      cover.ok
        ? `verified: ${cover.checked} rows match the hash chain` +
          (cover.unchained ? `; ${cover.unchained} rows are not chained` : '')
        : `FAILED at seq ${cover.firstBreak?.seq ?? '?'} (ref ${cover.firstBreak?.id ?? '?'}): ${cover.firstBreak?.reason ?? ''}`,
    ],
    [
      'Last full check (audit verify)',
      last
        ? `${fmt(src, last.atMs)}: ${last.ok ? `ok, ${last.rows} rows` : `FAILED: ${last.firstBreak ?? ''}`}`
        : 'never run',
    ],
    [heads.length > 1 ? 'Chain heads' : 'Chain head', headsLine(heads)],
  ];
  return { heading: 'Tamper evidence', id: 'tamper', facts };
}

export function tamperLine(data: { verification: CoverageResult }): string {
  const v = data.verification;
  return v.ok
    ? `verified (${v.checked} rows)`
    : `FAILED at seq ${v.firstBreak?.seq}: ${v.firstBreak?.reason}`;
}

/** One pass over the rows: aggregate them and check their place in the hash chain. */
export function scan(
  src: ReportSource,
  rows: AsyncIterable<AuditRowRaw>,
  a: Aggregate,
  each?: (r: AuditRowRaw) => void,
): Promise<CoverageResult> {
  return src.reads.checkRows(rows, (r) => {
    each?.(r);
    return a.add(r);
  });
}

// ---- shared sections -------------------------------------------------------------------------------------

export const countCells = (c: Counts): Cell[] => [
  c.requests,
  c.allowed,
  c.warned,
  c.continued,
  c.blocked,
  c.other,
];
export const COUNT_COLUMNS = ['Requests', 'Allowed', 'Warned', 'Continued', 'Blocked', 'Other'];

/** 'j.smith (staff)': the person and the profile(s) their rows were decided under. */
export function personLabel(user: string | null, profile: string | null | Iterable<string>): string {
  const profiles = profile === null ? [] : typeof profile === 'string' ? [profile] : [...profile].sort();
  return `${user ?? '(no user)'}${profiles.length > 0 ? ` (${profiles.join(', ')})` : ''}`;
}

export function rowTable(src: ReportSource, rows: RowSummary[], withUser: boolean): Section['table'] {
  return {
    columns: [
      'Time',
      ...(withUser ? ['User'] : []),
      'Outcome',
      'Categories',
      'Address',
      'Search term / comment',
      'Reference',
    ],
    rows: rows.map((r) => [
      fmt(src, r.timeMs),
      ...(withUser ? [personLabel(r.user, r.profile)] : []),
      r.action,
      r.categories.map((c) => categoryTitle(src, c)).join(', '),
      r.address,
      r.searchTerm ?? r.note ?? '',
      r.id,
    ]),
    marked: rows.flatMap((r, i) => (r.flagged ? [i] : [])),
    empty: 'None.',
  };
}

export function countsData(c: Counts) {
  return { ...c };
}

// ---- report user -----------------------------------------------------------------------------------------
