/**
 * The sections of a per-person report: categories, flagged domains, search terms, self-reports, continues,
 * and their every-row appendices. Cards that add up and the one-page summary are in glance.ts; the timeline
 * is in timeline.ts.
 */
import { Aggregate, type Counts, type RowSummary } from './aggregate.js';
import { phraseSpans } from '../alerts/keywords/highlight.js';
import type { Cell, Chart, Figure, HBarChart, Section, Table } from './model.js';
import { categoryTitle, type ReportSource } from './source.js';
import { fmt, countCells, COUNT_COLUMNS, personLabel } from './report-parts.js';

export { personLabel };

export const UNCATEGORISED = '(uncategorised)';

/** Terms listed in the body; every search is in the appendix. */
const TERMS_IN_BODY = 200;

/**
 * Rows an every-row appendix prints (about 13 A4 pages); past that the CSV export has them. A heavy user's
 * year has thousands of searches: printed whole they were 58 of a 116-page report.
 */
export const APPENDIX_ROWS = 500;

/** The first APPENDIX_ROWS, and a line saying where the rest are. */
function appendixRows<T>(rows: readonly T[]): { shown: readonly T[]; paragraphs: string[] } {
  if (rows.length <= APPENDIX_ROWS) return { shown: rows, paragraphs: [] };
  return {
    shown: rows.slice(0, APPENDIX_ROWS),
    paragraphs: [
      `The first ${APPENDIX_ROWS} of ${rows.length} are printed; the CSV export (--format csv) lists every row.`,
    ],
  };
}

/** The cards: the parts (allowed … other) add up to the total; flagged attempts are a subset, shown apart. */
export function countFigures(total: Counts): Figure[] {
  return [
    { label: 'Requests', value: total.requests, sums: 'total' },
    { label: 'Allowed', value: total.allowed, tone: 'allow', sums: 'part' },
    { label: 'Warned', value: total.warned, tone: 'warn', sums: 'part' },
    { label: 'Continued', value: total.continued, tone: 'continue', sums: 'part' },
    { label: 'Blocked', value: total.blocked, tone: 'block', sums: 'part' },
    { label: 'Other', value: total.other, tone: 'other', sums: 'part' },
  ];
}

/** [one, many] for the actions the Other card counts. */
const OTHER_WORDS: Record<string, [string, string]> = {
  'self-report': ['self-report', 'self-reports'],
  reject: ['malformed request', 'malformed requests'],
  refused: ['refused connection', 'refused connections'],
  error: ['error', 'errors'],
  'auth-failed': ['failed login', 'failed logins'],
  'unblock-request': ['unblock request', 'unblock requests'],
  'unblock-approved': ['unblock approval', 'unblock approvals'],
  'unblock-denied': ['unblock refusal', 'unblock refusals'],
};

/** What the Other card counts, e.g. 'Other: 2 self-reports, 1 malformed request.' */
export function otherBreakdown(
  byAction: ReadonlyMap<string, number>,
  isOther: (action: string) => boolean,
): string {
  const parts = [...byAction.entries()]
    .filter(([action, n]) => n > 0 && isOther(action))
    .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
    .map(([action, n]) => {
      const [one, many] = OTHER_WORDS[action] ?? [action, action];
      return `${n} ${n === 1 ? one : many}`;
    });
  return parts.length > 0 ? `Other: ${parts.join(', ')}.` : 'Other: none.';
}

const SEGMENTS: HBarChart['segments'] = [
  { name: 'allowed', tone: 'allow' },
  { name: 'warned', tone: 'warn' },
  { name: 'continued', tone: 'continue' },
  { name: 'blocked', tone: 'block' },
  { name: 'other', tone: 'other' },
];

function categoryChart(src: ReportSource, title: string, cats: [string, Counts][]): HBarChart {
  return {
    kind: 'hbars',
    title,
    labels: cats.map(([c]) => categoryTitle(src, c)),
    values: cats.map(([, c]) => [c.allowed, c.warned, c.continued, c.blocked, c.other]),
    segments: SEGMENTS,
  };
}

/** Whether a category is one investigations look at (categories.yaml `flagged`, or a flagged row had it). */
export function isFlaggedCategory(src: ReportSource, a: Aggregate, c: string): boolean {
  return src.categories.get(c)?.flagged === true || a.flaggedByCategory.has(c);
}

/**
 * Requests by category. Flagged categories get their own chart on their own scale, and uncategorised
 * requests (ordinary sites, most of anyone's day) are counted in words, not drawn: a bar of thousands would
 * shrink a handful of self-harm attempts to nothing.
 */
export function categoriesSection(src: ReportSource, a: Aggregate): Section {
  const cats = [...a.byCategory.entries()].sort((x, y) => y[1].requests - x[1].requests);
  const flagged = cats.filter(([c]) => c !== UNCATEGORISED && isFlaggedCategory(src, a, c));
  const others = cats.filter(([c]) => c !== UNCATEGORISED && !isFlaggedCategory(src, a, c)).slice(0, 12);
  const uncategorised = a.byCategory.get(UNCATEGORISED)?.requests ?? 0;
  const charts: Chart[] = [];
  if (flagged.length > 0)
    charts.push(categoryChart(src, 'Flagged categories (requests, by outcome)', flagged));
  if (others.length > 0) charts.push(categoryChart(src, 'Other categories (requests, by outcome)', others));
  return {
    heading: 'Categories',
    id: 'categories',
    pageBreak: true,
    paragraphs: [
      `${uncategorised} request${uncategorised === 1 ? '' : 's'} had no category (ordinary sites): listed in ` +
        'the table, not drawn, so that they do not dwarf the categories that matter.',
    ],
    charts,
    table: {
      columns: ['Category', ...COUNT_COLUMNS],
      rows: cats.map(([c, n]) => [categoryTitle(src, c), ...countCells(n)]),
      numeric: [1, 2, 3, 4, 5, 6],
      marked: cats.flatMap(([c], i) => (c !== UNCATEGORISED && isFlaggedCategory(src, a, c) ? [i] : [])),
      empty: 'No requests in this period.',
    },
  };
}

export function flaggedDomainsSection(src: ReportSource, a: Aggregate): Section {
  const list = [...a.flaggedDomains.values()].sort(
    (x, y) => y.requests - x.requests || x.firstMs - y.firstMs,
  );
  return {
    heading: 'Flagged domains',
    paragraphs: ['Every domain in a flagged category that was reached or tried.'],
    table: {
      columns: [
        'Domain',
        'Categories',
        'Attempts',
        'Allowed',
        'Warned',
        'Continued',
        'Blocked',
        'First',
        'Last',
      ],
      rows: list.map((d) => [
        d.host,
        d.categories.map((c) => categoryTitle(src, c)).join(', '),
        d.requests,
        d.allowed,
        d.warned,
        d.continued,
        d.blocked,
        fmt(src, d.firstMs),
        fmt(src, d.lastMs),
      ]),
      numeric: [2, 3, 4, 5, 6],
      empty: 'None.',
    },
  };
}

const categoriesOf = (src: ReportSource, r: RowSummary): string =>
  r.categories.map((c) => categoryTitle(src, c)).join(', ');

export interface TermStat {
  term: string;
  times: number;
  engines: Set<string>;
  outcomes: Set<string>;
  flagged: boolean;
  /** The phrase a safeguarding alert matched in it, if any. */
  phrase: string | null;
  firstMs: number;
  lastMs: number;
}

/** Searches grouped by what was typed: alerted terms first, then flagged, then the most repeated. */
export function searchTerms(
  searches: readonly RowSummary[],
  alertPhrases: ReadonlyMap<string, string>,
): TermStat[] {
  const byTerm = new Map<string, TermStat>();
  for (const s of searches) {
    const term = s.searchTerm ?? '';
    let t = byTerm.get(term);
    if (!t) {
      t = {
        term,
        times: 0,
        engines: new Set(),
        outcomes: new Set(),
        flagged: false,
        phrase: null,
        firstMs: s.timeMs,
        lastMs: s.timeMs,
      };
      byTerm.set(term, t);
    }
    t.times++;
    if (s.searchEngine) t.engines.add(s.searchEngine);
    t.outcomes.add(s.action);
    t.flagged ||= s.flagged;
    t.phrase ??= alertPhrases.get(s.id) ?? null;
    t.firstMs = Math.min(t.firstMs, s.timeMs);
    t.lastMs = Math.max(t.lastMs, s.timeMs);
  }
  const rank = (t: TermStat) => (t.phrase ? 2 : 0) + (t.flagged ? 1 : 0);
  return [...byTerm.values()].sort((x, y) => rank(y) - rank(x) || y.times - x.times || x.firstMs - y.firstMs);
}

const termCell = (text: string, phrase: string | null): Cell =>
  phrase ? { text, marks: phraseSpans(text, phrase) } : text;

/** `alertPhrases`: audit row id → the keyword phrase an alert matched in that row, marked in its term. */
export function searchSection(
  src: ReportSource,
  a: Aggregate,
  alertPhrases: ReadonlyMap<string, string> = new Map(),
): Section {
  const terms = searchTerms(a.searches, alertPhrases);
  const shown = terms.slice(0, TERMS_IN_BODY);
  return {
    heading: 'Search terms',
    id: 'searches',
    paragraphs: [
      `${a.searches.length} searches, ${terms.length} different terms` +
        (terms.length > shown.length ? `; the ${shown.length} that matter most are listed` : '') +
        '. Terms an alert matched come first (the match marked), then terms of flagged searches. ' +
        'Every search is listed one by one in the appendix.',
    ],
    table: {
      columns: ['Search term', 'Times', 'Engines', 'Outcomes', 'First', 'Last'],
      rows: shown.map((t) => [
        termCell(t.term, t.phrase),
        t.times,
        [...t.engines].join(', '),
        [...t.outcomes].join(', '),
        fmt(src, t.firstMs),
        fmt(src, t.lastMs),
      ]),
      numeric: [1],
      marked: shown.flatMap((t, i) => (t.phrase || t.flagged ? [i] : [])),
      empty: 'No search terms recorded (search terms are only seen on inspected or plain-HTTP traffic).',
    },
  };
}

/** Every search, one row each (the appendix of the person report). */
export function searchAppendix(
  src: ReportSource,
  a: Aggregate,
  heading: string,
  alertPhrases: ReadonlyMap<string, string> = new Map(),
): Section {
  const { shown, paragraphs } = appendixRows(a.searches);
  return {
    heading,
    id: 'appendix-searches',
    pageBreak: true,
    paragraphs,
    table: {
      columns: ['Time', 'Engine', 'Search term', 'Outcome'],
      rows: shown.map((s) => [
        fmt(src, s.timeMs),
        s.searchEngine ?? '',
        termCell(s.searchTerm ?? '', alertPhrases.get(s.id) ?? null),
        s.action,
      ]),
      marked: shown.flatMap((s, i) => (s.flagged ? [i] : [])),
      empty: 'No search terms recorded.',
    },
  };
}

const blockedReference = (r: RowSummary): string =>
  r.reason.startsWith('self-report:') ? r.reason.slice('self-report:'.length) : '';

/** Self-reports with the category of the page they name and whether they match a real block of it. */
export function selfReportTable(src: ReportSource, rows: readonly RowSummary[], withUser: boolean): Table {
  return {
    columns: [
      'Time',
      ...(withUser ? ['Person'] : []),
      'Site',
      'Category',
      'Comment',
      'Blocked page reference',
      'Check',
    ],
    rows: rows.map((s) => [
      fmt(src, s.timeMs),
      ...(withUser ? [personLabel(s.user, s.profile)] : []),
      s.address,
      categoriesOf(src, s),
      s.note ?? '',
      blockedReference(s),
      s.check?.text ?? '',
    ]),
    marked: rows.flatMap((s, i) => (s.check && !s.check.matched ? [i] : [])),
    empty: 'None.',
  };
}

export function selfReportSection(src: ReportSource, a: Aggregate): Section {
  const unmatched = a.selfReports.filter((s) => s.check && !s.check.matched).length;
  return {
    heading: 'Self-reports ("I reached this by accident")',
    id: 'self-reports',
    paragraphs: [
      'Each report is checked against the block page it names: the same person, the same site, after the ' +
        `block. ${unmatched} of ${a.selfReports.length} do not match (marked): the reference was invented or ` +
        'copied, or names a site that was not blocked for this person.',
    ],
    table: selfReportTable(src, a.selfReports, false),
  };
}

/** Continues grouped by site (each press is in the appendix). */
export function continuesSection(src: ReportSource, a: Aggregate): Section {
  const bySite = new Map<string, { cats: string; times: number; firstMs: number; lastMs: number }>();
  for (const c of a.continues) {
    const s = bySite.get(c.host);
    if (s) {
      s.times++;
      s.lastMs = Math.max(s.lastMs, c.timeMs);
    } else bySite.set(c.host, { cats: categoriesOf(src, c), times: 1, firstMs: c.timeMs, lastMs: c.timeMs });
  }
  const sites = [...bySite.entries()].sort((x, y) => y[1].times - x[1].times || x[0].localeCompare(y[0]));
  return {
    heading: 'Warnings continued',
    id: 'continues',
    paragraphs: [
      `A warning page was shown and the person chose to continue ${a.continues.length} time` +
        `${a.continues.length === 1 ? '' : 's'}, on ${sites.length} site${sites.length === 1 ? '' : 's'}; ` +
        'each press is listed in the appendix.',
    ],
    table: {
      columns: ['Site', 'Categories', 'Times', 'First', 'Last'],
      rows: sites.map(([host, s]) => [host, s.cats, s.times, fmt(src, s.firstMs), fmt(src, s.lastMs)]),
      numeric: [2],
      empty: 'None.',
    },
  };
}

/** Every Continue press (the appendix of the person report). */
export function continuesAppendix(src: ReportSource, a: Aggregate, heading: string): Section {
  const { shown, paragraphs } = appendixRows(a.continues);
  return {
    heading,
    id: 'appendix-continues',
    pageBreak: true,
    paragraphs,
    table: {
      columns: ['Time', 'Address', 'Categories'],
      rows: shown.map((s) => [fmt(src, s.timeMs), s.address, categoriesOf(src, s)]),
      empty: 'None.',
    },
  };
}
