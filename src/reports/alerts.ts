/**
 * Safeguarding alerts in the reports: the alerts of a person or a period (the `alerts` table, migration 4),
 * their section with the matched search term highlighted, and the per-person tallies `report flagged`
 * ranks by (danger first, then warning, then how many requests the alerts counted).
 */
import type { StoredAlert } from '../audit/alerts-table.js';
import { phraseSpans } from '../alerts/keywords/highlight.js';
import type { Cell, MarkedText, Section } from './model.js';
import { fmt } from './report-parts.js';
import type { ReportSource } from './source.js';

/** The same name reports use for rows without a user (aggregate.ts). */
export const NO_USER = '(no user)';

const RANK: Record<StoredAlert['severity'], number> = { danger: 3, warning: 2, advisory: 1 };

/** Alerts that overlap [fromMs, toMs): any request counted in them falls in the period. Worst first, then newest. */
export async function alertsIn(
  src: ReportSource,
  q: { user?: string; fromMs: number; toMs: number },
): Promise<StoredAlert[]> {
  const list = await src.reads.alerts({
    fromMs: q.fromMs,
    toMs: q.toMs,
    ...(q.user !== undefined ? { user: q.user } : {}),
    ...(src.site !== undefined ? { site: src.site } : {}),
  });
  return list.sort((x, y) => RANK[y.severity] - RANK[x.severity] || y.lastTime - x.lastTime);
}

/** What the alert was about: the search term (else the address), the matched phrase marked in it. */
export function alertSubjectText(a: StoredAlert): MarkedText {
  const text = a.searchTerm ?? a.url ?? '';
  if (!a.phrase || text === '') return { text, marks: [] };
  const marks = phraseSpans(text, a.phrase);
  // A keyword alert's search term matched as a whole even where no smaller span can be shown.
  return { text, marks: marks.length > 0 || a.searchTerm === null ? marks : [[0, text.length]] };
}

/** Who: the username, or the device and address of a guest. */
export function alertPerson(a: StoredAlert): string {
  return a.user ?? `${NO_USER} ${a.device ?? a.clientIp}`;
}

export function alertStatus(src: ReportSource, a: StoredAlert): string {
  return a.status === 'acked' ? `acknowledged ${fmt(src, a.ackedAt)} by ${a.ackedBy ?? ''}` : 'open';
}

export function alertsSection(src: ReportSource, alerts: StoredAlert[], withUser: boolean): Section {
  return {
    heading: 'Safeguarding alerts',
    paragraphs: [
      'Alerts raised by the alert rules (keyword lists, alert categories, repeated attempts), worst first. ' +
        'A repeat by the same person under the same rule within the alert window is counted on one alert. ' +
        'The matched phrase is marked in the search term.',
    ],
    figures: (['danger', 'warning', 'advisory'] as const).map((s) => ({
      label: s,
      value: alerts.filter((a) => a.severity === s).length,
      tone: s === 'danger' ? 'block' : s === 'warning' ? 'warn' : 'other',
    })),
    table: {
      columns: [
        'Severity',
        ...(withUser ? ['Person'] : []),
        'Rule',
        'Phrase',
        'Count',
        'First',
        'Last',
        'Search term / address',
        'Status',
      ],
      rows: alerts.map((a): Cell[] => [
        a.severity,
        ...(withUser ? [alertPerson(a)] : []),
        a.rule,
        a.phrase ?? '',
        a.count,
        fmt(src, a.firstTime),
        fmt(src, a.lastTime),
        alertSubjectText(a),
        alertStatus(src, a),
      ]),
      numeric: [withUser ? 4 : 3],
      marked: alerts.flatMap((a, i) => (a.severity === 'danger' ? [i] : [])),
      empty: 'No safeguarding alerts in this period.',
    },
  };
}

/** Audit row id → the phrase a keyword alert matched in it (for marking the person's search terms). */
export function phrasesByRow(alerts: readonly StoredAlert[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of alerts)
    if (a.phrase) for (const id of a.auditRowIds) if (!out.has(id)) out.set(id, a.phrase);
  return out;
}

export interface AlertTally {
  danger: number;
  warning: number;
  advisory: number;
  /** Requests counted over all the person's alerts. */
  count: number;
}

export const noAlerts = (): AlertTally => ({ danger: 0, warning: 0, advisory: 0, count: 0 });

/** Alerts per person (the username, or NO_USER as the flagged rows have it). */
export function tallyByPerson(alerts: readonly StoredAlert[]): Map<string, AlertTally> {
  const out = new Map<string, AlertTally>();
  for (const a of alerts) {
    const key = a.user ?? NO_USER;
    const t = out.get(key) ?? noAlerts();
    t[a.severity]++;
    t.count += a.count;
    out.set(key, t);
  }
  return out;
}

/** Negative when x ranks before y: more danger alerts, then more warning alerts, then more requests counted. */
export function compareByAlerts(x: AlertTally, y: AlertTally): number {
  return y.danger - x.danger || y.warning - x.warning || y.count - x.count;
}

/** JSON form of an alert for the reports' data. */
export function alertData(a: StoredAlert) {
  return {
    ...a,
    firstTime: new Date(a.firstTime).toISOString(),
    lastTime: new Date(a.lastTime).toISOString(),
    ackedAt: a.ackedAt === null ? null : new Date(a.ackedAt).toISOString(),
  };
}
