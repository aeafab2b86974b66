/** The sections of a per-person report: summary, flagged domains, search terms, self-reports, continues, timeline. */
import { Aggregate } from './aggregate.js';
import { phraseSpans } from '../alerts/keywords/highlight.js';
import type { Cell, Chart, Section } from './model.js';
import { categoryTitle, type ReportSource } from './source.js';
import { startOfDay } from './time.js';
import { fmt, countCells, COUNT_COLUMNS } from './report-parts.js';

export function summarySection(src: ReportSource, a: Aggregate): Section {
  const cats = [...a.byCategory.entries()].sort((x, y) => y[1].requests - x[1].requests);
  const top = cats.slice(0, 12);
  const charts: Chart[] = [
    {
      kind: 'hbars',
      title: 'Requests by category (most first)',
      labels: top.map(([c]) => categoryTitle(src, c)),
      values: top.map(([, c]) => [c.allowed, c.warned, c.continued, c.blocked, c.other]),
      segments: [
        { name: 'allowed', tone: 'allow' },
        { name: 'warned', tone: 'warn' },
        { name: 'continued', tone: 'continue' },
        { name: 'blocked', tone: 'block' },
        { name: 'other', tone: 'other' },
      ],
    },
  ];
  return {
    heading: 'Summary',
    figures: [
      { label: 'Requests', value: a.total.requests },
      { label: 'Allowed', value: a.total.allowed, tone: 'allow' },
      { label: 'Warned', value: a.total.warned, tone: 'warn' },
      { label: 'Continued', value: a.total.continued, tone: 'continue' },
      { label: 'Blocked', value: a.total.blocked, tone: 'block' },
      { label: 'Flagged attempts', value: a.flagged, tone: 'block' },
    ],
    paragraphs: [
      'Allowed: let through. Warned: a warning page was shown. Continued: the person pressed Continue on a ' +
        'warning, or visited under a Continue already given. Blocked: a block page was shown. Other: malformed ' +
        'requests, refusals, errors and self-reports.',
    ],
    charts: a.total.requests > 0 ? charts : [],
    table: {
      columns: ['Category', ...COUNT_COLUMNS],
      rows: cats.map(([c, n]) => [categoryTitle(src, c), ...countCells(n)]),
      numeric: [1, 2, 3, 4, 5, 6],
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

/** `alertPhrases`: audit row id → the keyword phrase an alert matched in that row, marked in its term. */
export function searchSection(
  src: ReportSource,
  a: Aggregate,
  alertPhrases: ReadonlyMap<string, string> = new Map(),
): Section {
  const term = (id: string, text: string): Cell => {
    const phrase = alertPhrases.get(id);
    return phrase ? { text, marks: phraseSpans(text, phrase) } : text;
  };
  return {
    heading: 'Search terms',
    table: {
      columns: ['Time', 'Engine', 'Search term', 'Outcome'],
      rows: a.searches.map((s) => [
        fmt(src, s.timeMs),
        s.searchEngine ?? '',
        term(s.id, s.searchTerm ?? ''),
        s.action,
      ]),
      marked: a.searches.flatMap((s, i) => (s.flagged ? [i] : [])),
      empty: 'No search terms recorded (search terms are only seen on inspected or plain-HTTP traffic).',
    },
  };
}

export function selfReportSection(src: ReportSource, a: Aggregate): Section {
  return {
    heading: 'Self-reports ("I reached this by accident")',
    table: {
      columns: ['Time', 'Address', 'Comment', 'Blocked page reference'],
      rows: a.selfReports.map((s) => [
        fmt(src, s.timeMs),
        s.address,
        s.note ?? '',
        s.reason.startsWith('self-report:') ? s.reason.slice('self-report:'.length) : '',
      ]),
      empty: 'None.',
    },
  };
}

export function continuesSection(src: ReportSource, a: Aggregate): Section {
  return {
    heading: 'Warnings continued',
    paragraphs: ['Each time a warning page was shown and the person chose to continue.'],
    table: {
      columns: ['Time', 'Address', 'Categories'],
      rows: a.continues.map((s) => [
        fmt(src, s.timeMs),
        s.address,
        s.categories.map((c) => categoryTitle(src, c)).join(', '),
      ]),
      empty: 'None.',
    },
  };
}

export function timelineSection(src: ReportSource, a: Aggregate, fromMs: number, toMs: number): Section {
  const labels: string[] = [];
  const values: number[] = [];
  const overlay: number[] = [];
  // Local days by their noons (never within an hour of a day's edge, so 24 h steps land on consecutive
  // local days across DST changes); LocalClock caches the zone lookups.
  let last = '';
  const first = startOfDay(fromMs, src.timeZone) + 12 * 3_600_000;
  for (let noon = first; noon < toMs + 12 * 3_600_000 && labels.length < 800; noon += 86_400_000) {
    const key = src.clock.of(noon).day;
    if (key === last) continue;
    last = key;
    const v = a.days.get(key);
    labels.push(key);
    values.push(v?.requests ?? 0);
    overlay.push(v?.flagged ?? 0);
  }
  const busiest = [...a.days.entries()].sort((x, y) => y[1].requests - x[1].requests).slice(0, 10);
  return {
    heading: 'Timeline',
    pageBreak: true,
    charts: [
      {
        kind: 'bars',
        title: 'Requests per day (flagged attempts in red)',
        labels,
        values,
        overlay,
        overlayLabel: 'flagged',
        valueLabel: 'requests',
        labelEvery: Math.max(1, Math.ceil(labels.length / 12)),
      },
      {
        kind: 'bars',
        title: `Requests by hour of day (${src.timeZone}; flagged attempts in red)`,
        labels: a.hours.map((_, h) => String(h).padStart(2, '0')),
        values: a.hours.map((h) => h.requests),
        overlay: a.hours.map((h) => h.flagged),
        overlayLabel: 'flagged',
        valueLabel: 'requests',
        labelEvery: 2,
      },
    ],
    table: {
      columns: ['Day', 'Requests', 'Flagged attempts'],
      rows: [...a.days.entries()]
        .sort((x, y) => x[0].localeCompare(y[0]))
        .map(([day, v]) => [day, v.requests, v.flagged]),
      marked: [...a.days.entries()]
        .sort((x, y) => x[0].localeCompare(y[0]))
        .flatMap(([, v], i) => (v.flagged > 0 ? [i] : [])),
      numeric: [1, 2],
      empty: 'No activity.',
    },
    paragraphs:
      busiest.length > 0
        ? [`Busiest days: ${busiest.map(([d, v]) => `${d} (${v.requests})`).join(', ')}.`]
        : [],
  };
}
