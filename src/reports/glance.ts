/**
 * The first page of a person report, one printed page whatever the range: cards that add up, then the
 * concerns (alerts, flagged categories, matched search terms, self-reports, continues, failed logins under
 * the name), then the trend. Each concern is one line with the few items that matter most; the sections
 * after it and the appendix hold the detail, the CSV every row.
 */
import type { StoredAlert } from '../audit/alerts-table.js';
import { Aggregate, bucketOf } from './aggregate.js';
import type { ClaimedLogins } from './claimed-logins.js';
import type { Section } from './model.js';
import { fmt } from './report-parts.js';
import { countFigures, isFlaggedCategory, otherBreakdown, searchTerms, UNCATEGORISED } from './sections.js';
import { categoryTitle, type ReportSource } from './source.js';
import { requestsChart, timeBins } from './timeline.js';

/** Items named per concern line; the rest are counted ('and 7 more'). */
const TOP = 5;

function few(items: string[], none = 'None.'): string {
  if (items.length === 0) return none;
  const more = items.length > TOP ? `, and ${items.length - TOP} more` : '';
  return `${items.slice(0, TOP).join(', ')}${more}.`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export interface GlanceInput {
  alerts: readonly StoredAlert[];
  /** Audit row id → the phrase an alert matched in that row's search term. */
  alertPhrases: ReadonlyMap<string, string>;
  claimed: ClaimedLogins | null;
  fromMs: number;
  toMs: number;
}

export function glanceSection(src: ReportSource, a: Aggregate, g: GlanceInput): Section {
  const unmatched = a.selfReports.filter((s) => s.check && !s.check.matched).length;
  const severities = (['danger', 'warning', 'advisory'] as const)
    .map((s) => [s, g.alerts.filter((x) => x.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const alertLine =
    g.alerts.length === 0
      ? 'None.'
      : `${g.alerts.length} (${severities.join(', ')}): ` +
        few(g.alerts.map((x) => `${x.rule}${x.phrase ? ` "${x.phrase}"` : ''} ${fmt(src, x.lastTime)}`));
  const flaggedCats = [...a.byCategory.entries()]
    .filter(([c]) => c !== UNCATEGORISED && isFlaggedCategory(src, a, c))
    .sort((x, y) => y[1].requests - x[1].requests)
    .map(([c, n]) => `${categoryTitle(src, c)} ${n.requests} (${n.blocked} blocked)`);
  const matchedTerms = searchTerms(a.searches, g.alertPhrases)
    .filter((t) => t.phrase !== null || t.flagged)
    .map((t) => `"${t.term}"${t.times > 1 ? ` ×${t.times}` : ''}${t.phrase ? ' (alert)' : ''}`);
  const continuedSites = new Map<string, number>();
  for (const c of a.continues) continuedSites.set(c.host, (continuedSites.get(c.host) ?? 0) + 1);
  const claimedLine =
    g.claimed === null
      ? 'Not recorded (the audit database predates this record).'
      : g.claimed.attempts === 0
        ? 'None.'
        : `${plural(g.claimed.attempts, 'attempt')} from ${plural(g.claimed.addresses.length, 'address', 'addresses')}: ` +
          'someone tried this account. Not counted above, as anyone can type a name.';
  const { weekly, bins } = timeBins(src, a, g.fromMs, g.toMs);
  return {
    heading: 'At a glance',
    id: 'summary',
    figures: [
      ...countFigures(a.total),
      { label: 'Flagged attempts (of the requests)', value: a.flagged, tone: 'block' },
      { label: 'Safeguarding alerts', value: g.alerts.length, tone: 'block' },
      { label: 'Self-reports', value: a.selfReports.length, tone: 'continue' },
      { label: 'Someone tried this account', value: g.claimed?.attempts ?? 0, tone: 'other' },
    ],
    paragraphs: [
      'The first six cards add up: every request is allowed, warned, continued, blocked or other. ' +
        otherBreakdown(a.byAction, (action) => bucketOf(action) === 'other'),
    ],
    facts: [
      ['Safeguarding alerts', alertLine],
      ['Flagged categories', few(flaggedCats)],
      ['Matched search terms', few(matchedTerms)],
      [
        'Self-reports',
        a.selfReports.length === 0
          ? 'None.'
          : `${plural(a.selfReports.length, 'report')}: ${a.selfReports.length - unmatched} match the block they name` +
            (unmatched > 0 ? `, ${unmatched} UNMATCHED (see Self-reports).` : '.'),
      ],
      [
        'Warnings continued',
        a.continues.length === 0
          ? 'None.'
          : `${a.continues.length} on ${plural(continuedSites.size, 'site')}: ` +
            few([...continuedSites].sort((x, y) => y[1] - x[1]).map(([h, n]) => `${h} ${n}`)),
      ],
      ['Failed logins under this name', claimedLine],
    ],
    charts: a.total.requests > 0 ? [{ ...requestsChart(bins, weekly), compact: true }] : [],
  };
}
