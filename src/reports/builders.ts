/**
 * The investigation reports: each builds its data (JSON), its document (text/HTML) and, where it has one, a
 * row list for CSV/JSON export. All SQL lives in source.ts or here, with bound parameters only.
 */
import { caseNotes, type CaseRecord } from '../audit/cases.js';
import {
  CoverageChecker,
  parseHead,
  READ_HEAD_SQL,
  type CoverageResult,
  type VerifyRow,
} from '../audit/chain.js';
import type { StoredAccessEntry } from '../audit/report-access.js';
import { SchoolgateError } from '../errors.js';
import { Aggregate, BUCKETS, type Counts, type RowSummary, summarise } from './aggregate.js';
import type { Cell, Chart, ReportDoc, Section } from './model.js';
import {
  ATTENTION_ROWS_SQL,
  FLAGGED_ROWS_SQL,
  categoryTitle,
  hostRows,
  hostsUnder,
  pagedRows,
  parseCategories,
  userRows,
  type AuditRowRaw,
  type ReportSource,
} from './source.js';
import { formatLocal, startOfDay } from './time.js';

export interface Puller {
  by: string;
  osUser: string;
  caseRef: string | null;
}

export interface BuiltReport {
  doc: ReportDoc;
  data: Record<string, unknown>;
  /** The full row list (CSV, JSON), streamed. */
  rows?: () => Iterable<AuditRowRaw>;
}

const fmt = (src: ReportSource, ms: number | null): string =>
  ms === null ? '' : formatLocal(ms, src.timeZone);

/** "2026-11-02 to 2026-11-06" for whole days (the end is exclusive inside, inclusive on paper), else times. */
function period(src: ReportSource, fromMs: number, toMs: number): string {
  const tz = src.timeZone;
  if (startOfDay(fromMs, tz) === fromMs && startOfDay(toMs, tz) === toMs) {
    const lastDay = formatLocal(toMs - 1, tz).slice(0, 10);
    return `${formatLocal(fromMs, tz).slice(0, 10)} to ${lastDay} inclusive (${tz})`;
  }
  return `${formatLocal(fromMs, tz, false)} to ${formatLocal(toMs, tz, false)} (${tz})`;
}

function pulledHeader(src: ReportSource, p: Puller): [string, string][] {
  const h: [string, string][] = [
    ['Pulled by', `${p.by} (OS user ${p.osUser})`],
    ['Pulled at', `${formatLocal(src.now, src.timeZone)} ${src.timeZone}`],
  ];
  if (p.caseRef !== null) h.push(['Case', p.caseRef]);
  return h;
}

const FOOTER =
  'Monitoring information: confidential. Seen by as few people as necessary; kept no longer than the retention schedule.';

// ---- tamper evidence -------------------------------------------------------------------------------------

interface LastVerify {
  atMs: number;
  ok: boolean;
  rows: number;
  firstBreak: string | null;
}

export function lastFullVerify(src: ReportSource): LastVerify | null {
  const v = src.db.prepare(`SELECT value FROM meta WHERE key = 'last_verify'`).pluck().get() as
    string | undefined;
  if (!v) return null;
  try {
    return JSON.parse(v) as LastVerify;
  } catch {
    return null;
  }
}

function tamperSection(src: ReportSource, cover: CoverageResult): Section {
  const last = lastFullVerify(src);
  const head = parseHead(src.db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined);
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
    ['Chain head', `seq ${head.seq} ${head.hash}`],
  ];
  return { heading: 'Tamper evidence', facts };
}

export function tamperLine(data: { verification: CoverageResult }): string {
  const v = data.verification;
  return v.ok
    ? `verified (${v.checked} rows)`
    : `FAILED at seq ${v.firstBreak?.seq}: ${v.firstBreak?.reason}`;
}

/** One pass over the rows: aggregate them and check their place in the hash chain. */
function scan(
  src: ReportSource,
  rows: Iterable<AuditRowRaw>,
  a: Aggregate,
  each?: (r: AuditRowRaw) => void,
): CoverageResult {
  const checker = new CoverageChecker(src.db);
  for (const r of rows) {
    a.add(r);
    checker.check(r as unknown as VerifyRow & { rid: number });
    each?.(r);
  }
  return checker.result();
}

// ---- shared sections -------------------------------------------------------------------------------------

const countCells = (c: Counts): Cell[] => [c.requests, c.allowed, c.warned, c.continued, c.blocked, c.other];
const COUNT_COLUMNS = ['Requests', 'Allowed', 'Warned', 'Continued', 'Blocked', 'Other'];

function summarySection(src: ReportSource, a: Aggregate): Section {
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

function flaggedDomainsSection(src: ReportSource, a: Aggregate): Section {
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

function searchSection(src: ReportSource, a: Aggregate): Section {
  return {
    heading: 'Search terms',
    table: {
      columns: ['Time', 'Engine', 'Search term', 'Outcome'],
      rows: a.searches.map((s) => [fmt(src, s.timeMs), s.searchEngine ?? '', s.searchTerm ?? '', s.action]),
      marked: a.searches.flatMap((s, i) => (s.flagged ? [i] : [])),
      empty: 'No search terms recorded (search terms are only seen on inspected or plain-HTTP traffic).',
    },
  };
}

function selfReportSection(src: ReportSource, a: Aggregate): Section {
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

function continuesSection(src: ReportSource, a: Aggregate): Section {
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

function timelineSection(src: ReportSource, a: Aggregate, fromMs: number, toMs: number): Section {
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

function rowTable(src: ReportSource, rows: RowSummary[], withUser: boolean): Section['table'] {
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
      ...(withUser ? [r.user ?? ''] : []),
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

function countsData(c: Counts) {
  return { ...c };
}

// ---- report user -----------------------------------------------------------------------------------------

export function buildUserReport(
  src: ReportSource,
  user: string,
  fromMs: number,
  toMs: number,
  puller: Puller,
): BuiltReport {
  const a = new Aggregate(src);
  const rows = () => userRows(src, user, fromMs, toMs);
  const verification = scan(src, rows(), a);
  const others = a.total.requests - a.flaggedRows.length;
  const doc: ReportDoc = {
    title: `Web activity report: ${user}`,
    subtitle: period(src, fromMs, toMs),
    header: [
      ['Whose records', user],
      ['Period', period(src, fromMs, toMs)],
      ...pulledHeader(src, puller),
      ['Tamper check', tamperLine({ verification })],
    ],
    sections: [
      summarySection(src, a),
      flaggedDomainsSection(src, a),
      searchSection(src, a),
      selfReportSection(src, a),
      continuesSection(src, a),
      timelineSection(src, a, fromMs, toMs),
      {
        heading: 'Flagged attempts in full',
        pageBreak: true,
        paragraphs: [
          `${a.flaggedRows.length} flagged rows are listed; ${others} other rows are not listed here ` +
            '(the CSV and JSON exports list every row).' +
            (a.truncated ? ` Lists are cut at ${5000} entries.` : ''),
        ],
        table: rowTable(src, a.flaggedRows, false),
      },
      tamperSection(src, verification),
    ],
    footer: `${user} · ${period(src, fromMs, toMs)} · case ${puller.caseRef ?? '-'} · ${FOOTER}`,
  };
  return {
    doc,
    rows,
    data: {
      report: 'user',
      user,
      fromMs,
      toMs,
      timeZone: src.timeZone,
      pulledBy: puller.by,
      osUser: puller.osUser,
      pulledAtMs: src.now,
      caseRef: puller.caseRef,
      summary: { ...countsData(a.total), flagged: a.flagged, byAction: Object.fromEntries(a.byAction) },
      categories: Object.fromEntries([...a.byCategory].map(([c, n]) => [c, countsData(n)])),
      flaggedDomains: [...a.flaggedDomains.values()].sort((x, y) => y.requests - x.requests),
      searches: a.searches,
      selfReports: a.selfReports,
      continues: a.continues,
      timeline: {
        days: Object.fromEntries([...a.days].sort((x, y) => x[0].localeCompare(y[0]))),
        hours: a.hours,
      },
      verification,
    },
  };
}

// ---- report domain ---------------------------------------------------------------------------------------

export function buildDomainReport(
  src: ReportSource,
  domain: string,
  fromMs: number,
  toMs: number,
  puller: Puller,
): BuiltReport {
  const hosts = hostsUnder(src, domain);
  const rows = function* () {
    for (const h of hosts) yield* hostRows(src, h, fromMs, toMs);
  };
  const a = new Aggregate(src);
  const verification = scan(src, rows(), a);
  const people = [...a.people.values()].sort((x, y) => y.requests - x.requests);
  const doc: ReportDoc = {
    title: `Domain report: ${domain}`,
    subtitle: `${domain} and its subdomains · ${period(src, fromMs, toMs)}`,
    header: [
      ['Domain', `${domain} and subdomains (${hosts.length} host names seen)`],
      ['Period', period(src, fromMs, toMs)],
      ...pulledHeader(src, puller),
      ['Tamper check', tamperLine({ verification })],
    ],
    sections: [
      {
        heading: 'Who reached or tried to reach it',
        figures: [
          { label: 'People', value: people.length },
          { label: 'Requests', value: a.total.requests },
          { label: 'Blocked', value: a.total.blocked, tone: 'block' },
          { label: 'Allowed', value: a.total.allowed, tone: 'allow' },
        ],
        table: {
          columns: ['Person', ...COUNT_COLUMNS, 'First', 'Last'],
          rows: people.map((p) => [p.user, ...countCells(p), fmt(src, p.firstMs), fmt(src, p.lastMs)]),
          numeric: [1, 2, 3, 4, 5, 6],
          empty: 'Nobody in this period.',
        },
      },
      {
        heading: 'Host names',
        table: {
          columns: ['Host', ...COUNT_COLUMNS, 'First', 'Last'],
          rows: [...a.hosts.values()]
            .sort((x, y) => y.requests - x.requests)
            .map((h) => [h.host, ...countCells(h), fmt(src, h.firstMs), fmt(src, h.lastMs)]),
          numeric: [1, 2, 3, 4, 5, 6],
          empty: 'None.',
        },
      },
      timelineSection(src, a, fromMs, toMs),
      tamperSection(src, verification),
    ],
    footer: `${domain} · ${period(src, fromMs, toMs)} · case ${puller.caseRef ?? '-'} · ${FOOTER}`,
  };
  return {
    doc,
    rows,
    data: {
      report: 'domain',
      domain,
      hosts,
      fromMs,
      toMs,
      timeZone: src.timeZone,
      pulledBy: puller.by,
      osUser: puller.osUser,
      caseRef: puller.caseRef,
      summary: countsData(a.total),
      people: people.map((p) => ({
        ...p,
        hosts: [...p.hosts],
        categories: Object.fromEntries(p.categories),
      })),
      verification,
    },
  };
}

// ---- report around ---------------------------------------------------------------------------------------

export function findEvent(src: ReportSource, ref: string): AuditRowRaw {
  const row = src.db.prepare(`SELECT rowid AS rid, * FROM audit_events WHERE id = ?`).get(ref) as
    AuditRowRaw | undefined;
  if (!row)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `no audit row with reference ${ref}`, {
      context: { ref },
      suggestion: 'quote the reference exactly as the block page or a report shows it',
    });
  return row;
}

export function buildAroundReport(
  src: ReportSource,
  event: AuditRowRaw,
  minutes: number,
  puller: Puller,
): BuiltReport {
  if (event.username === null)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `audit row ${event.id} has no user`, {
      context: { ref: event.id },
      suggestion: 'context is shown for a known person; use report domain for unidentified traffic',
    });
  const user = event.username;
  const fromMs = event.time_ms - minutes * 60_000;
  const toMs = event.time_ms + minutes * 60_000 + 1;
  const rows = () => userRows(src, user, fromMs, toMs);
  const list: RowSummary[] = [];
  const a = new Aggregate(src);
  const verification = scan(src, rows(), a, (r) => {
    if (list.length < 5000) list.push(summarise(r));
  });
  const at = list.findIndex((r) => r.id === event.id);
  const table = rowTable(src, list, false)!;
  table.marked = [...(table.marked ?? []), ...(at >= 0 ? [at] : [])];
  const doc: ReportDoc = {
    title: `Context around ${event.id}`,
    subtitle: `${user} · ${minutes} minutes either side of ${fmt(src, event.time_ms)}`,
    header: [
      ['Whose records', user],
      ['Event', `${event.id}: ${event.action} ${event.host} at ${fmt(src, event.time_ms)}`],
      ['Window', `${minutes} minutes either side (${period(src, fromMs, toMs)})`],
      ...pulledHeader(src, puller),
      ['Tamper check', tamperLine({ verification })],
    ],
    sections: [
      {
        heading: 'Everything the same person did',
        paragraphs: [
          `${list.length} rows; the event itself is row ${at + 1}. Flagged rows are marked. Searches just ` +
            'before a flagged attempt suggest it was sought; a single attempt among ordinary browsing, ' +
            'or a self-report after it, suggests an accident.',
        ],
        figures: [
          { label: 'Requests', value: a.total.requests },
          { label: 'Flagged', value: a.flagged, tone: 'block' },
          { label: 'Searches', value: a.searches.length },
          { label: 'Self-reports', value: a.selfReports.length },
        ],
        table,
      },
      tamperSection(src, verification),
    ],
    footer: `${user} · around ${event.id} · case ${puller.caseRef ?? '-'} · ${FOOTER}`,
  };
  return {
    doc,
    rows,
    data: {
      report: 'around',
      ref: event.id,
      user,
      minutes,
      fromMs,
      toMs,
      pulledBy: puller.by,
      osUser: puller.osUser,
      caseRef: puller.caseRef,
      rows: list,
      verification,
    },
  };
}

// ---- report flagged / weekly -----------------------------------------------------------------------------

function flaggedPeople(src: ReportSource, fromMs: number, toMs: number) {
  const a = new Aggregate(src);
  for (const r of pagedRows(src.db, FLAGGED_ROWS_SQL, [fromMs, toMs])) a.add(r);
  const people = [...a.people.values()].sort(
    (x, y) => y.requests - x.requests || x.user.localeCompare(y.user),
  );
  return { a, people };
}

export function buildFlaggedReport(
  src: ReportSource,
  fromMs: number,
  toMs: number,
  puller: Puller,
): BuiltReport {
  const { a, people } = flaggedPeople(src, fromMs, toMs);
  const doc: ReportDoc = {
    title: 'People with flagged attempts',
    subtitle: period(src, fromMs, toMs),
    header: [['Period', period(src, fromMs, toMs)], ...pulledHeader(src, puller)],
    sections: [
      {
        heading: 'Ranked by flagged attempts',
        figures: [
          { label: 'People', value: people.length },
          { label: 'Flagged attempts', value: a.total.requests, tone: 'block' },
        ],
        table: {
          columns: [
            '#',
            'Person',
            'Flagged attempts',
            'Blocked',
            'Allowed',
            'Continued',
            'Categories',
            'Domains',
            'Last',
          ],
          rows: people.map((p, i) => [
            i + 1,
            p.user,
            p.requests,
            p.blocked,
            p.allowed,
            p.continued,
            [...p.categories.entries()]
              .sort((x, y) => y[1] - x[1])
              .map(([c, n]) => `${categoryTitle(src, c)} ${n}`)
              .join(', '),
            p.hosts.size,
            fmt(src, p.lastMs),
          ]),
          numeric: [0, 2, 3, 4, 5, 7],
          empty: 'Nobody had a flagged attempt in this period.',
        },
      },
    ],
    footer: `flagged review · ${period(src, fromMs, toMs)} · ${FOOTER}`,
  };
  return {
    doc,
    data: {
      report: 'flagged',
      fromMs,
      toMs,
      pulledBy: puller.by,
      osUser: puller.osUser,
      people: people.map((p) => ({
        user: p.user,
        flagged: p.requests,
        blocked: p.blocked,
        allowed: p.allowed,
        continued: p.continued,
        categories: Object.fromEntries(p.categories),
        domains: p.hosts.size,
        lastMs: p.lastMs,
      })),
    },
  };
}

export function buildWeeklyReport(
  src: ReportSource,
  fromMs: number,
  toMs: number,
  puller: Puller,
): BuiltReport {
  const { a, people } = flaggedPeople(src, fromMs, toMs);
  const attention = new Aggregate(src);
  for (const r of pagedRows(src.db, ATTENTION_ROWS_SQL, [fromMs, toMs])) attention.add(r);
  const categories = [...a.byCategory.keys()].sort();
  const alertCats = new Set([...src.categories.entries()].filter(([, c]) => c.alert).map(([n]) => n));
  const alerts = a.flaggedRows.filter((r) => r.categories.some((c) => alertCats.has(c)));
  const head = parseHead(src.db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined);
  const last = lastFullVerify(src);
  const doc: ReportDoc = {
    title: 'Weekly safeguarding review',
    subtitle: period(src, fromMs, toMs),
    header: [['Period', period(src, fromMs, toMs)], ...pulledHeader(src, puller)],
    sections: [
      {
        heading: 'Flagged attempts by person and category',
        figures: [
          { label: 'People', value: people.length },
          { label: 'Flagged attempts', value: a.total.requests, tone: 'block' },
          { label: 'Safeguarding alerts', value: alerts.length, tone: 'block' },
          { label: 'Self-reports', value: attention.selfReports.length, tone: 'continue' },
          { label: 'Warnings continued', value: attention.continues.length, tone: 'warn' },
        ],
        table: {
          columns: ['Person', 'Total', ...categories.map((c) => categoryTitle(src, c))],
          rows: people.map((p) => [p.user, p.requests, ...categories.map((c) => p.categories.get(c) ?? 0)]),
          numeric: [1, ...categories.map((_, i) => i + 2)],
          empty: 'No flagged attempts this period.',
        },
      },
      {
        heading: 'Safeguarding alerts',
        paragraphs: [
          alertCats.size > 0
            ? `Flagged attempts in alert categories (${[...alertCats].map((c) => categoryTitle(src, c)).join(', ')}).`
            : 'No category is marked alert: true in categories.yaml.',
        ],
        table: rowTable(src, alerts, true),
      },
      {
        heading: 'Self-reports ("I reached this by accident")',
        table: rowTable(src, attention.selfReports, true),
      },
      {
        heading: 'Warnings continued',
        table: rowTable(src, attention.continues, true),
      },
      {
        heading: 'Unblock requests',
        paragraphs: ['This version of schoolgate does not take unblock requests; none to review.'],
      },
      {
        heading: 'For the file',
        facts: [
          ['Audit chain head at time of review', `seq ${head.seq} ${head.hash}`],
          [
            'Last full tamper check',
            last
              ? `${fmt(src, last.atMs)}: ${last.ok ? 'ok' : `FAILED: ${last.firstBreak ?? ''}`}`
              : 'never run',
          ],
          ['Reviewed by', puller.by],
        ],
        paragraphs: [
          'Keep this head hash with the filed review: a later change to any earlier audit row changes it.',
        ],
      },
    ],
    footer: `weekly review · ${period(src, fromMs, toMs)} · ${FOOTER}`,
  };
  return {
    doc,
    data: {
      report: 'weekly',
      fromMs,
      toMs,
      pulledBy: puller.by,
      osUser: puller.osUser,
      flaggedByPerson: people.map((p) => ({
        user: p.user,
        total: p.requests,
        categories: Object.fromEntries(p.categories),
      })),
      alerts,
      selfReports: attention.selfReports,
      continues: attention.continues,
      chainHead: head,
    },
  };
}

// ---- access log, case ------------------------------------------------------------------------------------

export function buildAccessLog(src: ReportSource, entries: StoredAccessEntry[], title: string): BuiltReport {
  const doc: ReportDoc = {
    title,
    subtitle: `${entries.length} entries`,
    header: [['Pulled at', `${formatLocal(src.now, src.timeZone)} ${src.timeZone}`]],
    sections: [
      {
        heading: 'Reports pulled and refused',
        table: {
          columns: [
            'Time',
            'By',
            'OS user',
            'Command',
            'Whose records / domain',
            'Case',
            'Period',
            'Outcome',
          ],
          rows: entries.map((e) => [
            fmt(src, e.timeMs),
            e.by ?? '',
            e.osUser,
            e.command,
            e.subject ?? e.domain ?? '',
            e.caseRef ?? '',
            e.fromMs != null && e.toMs != null ? period(src, e.fromMs, e.toMs) : '',
            e.outcome === 'refused' ? `refused: ${e.reason ?? ''}` : 'granted',
          ]),
          marked: entries.flatMap((e, i) => (e.outcome === 'refused' ? [i] : [])),
          empty: 'No reports have been pulled.',
        },
      },
    ],
    footer: FOOTER,
  };
  return { doc, data: { report: 'access-log', entries } };
}

export function buildCaseDoc(src: ReportSource, c: CaseRecord, access: StoredAccessEntry[]): BuiltReport {
  const notes = caseNotes(src.db, c.ref);
  const doc: ReportDoc = {
    title: `Case ${c.ref}`,
    subtitle: `subject ${c.subject} · ${c.status}`,
    header: [
      ['Subject', c.subject],
      ['Status', c.status === 'open' ? 'open (the subject’s records are held from purging)' : 'closed'],
      ['Opened', `${fmt(src, c.openedMs)} by ${c.openedBy} (OS user ${c.osUser})`],
      ...(c.closedMs !== null
        ? ([['Closed', `${fmt(src, c.closedMs)} by ${c.closedBy ?? ''}`]] as [string, string][])
        : []),
      ...(c.outcome ? ([['Outcome', c.outcome]] as [string, string][]) : []),
    ],
    sections: [
      {
        heading: 'Notes',
        table: {
          columns: ['Time', 'Author', 'Note'],
          rows: notes.map((n) => [fmt(src, n.timeMs), `${n.author} (${n.osUser})`, n.text]),
          empty: 'No notes.',
        },
      },
      {
        heading: 'Reports pulled under this case',
        table: {
          columns: ['Time', 'By', 'Command', 'Whose records / domain', 'Period', 'Outcome'],
          rows: access.map((e) => [
            fmt(src, e.timeMs),
            `${e.by ?? ''} (${e.osUser})`,
            e.command,
            e.subject ?? e.domain ?? '',
            e.fromMs != null && e.toMs != null ? period(src, e.fromMs, e.toMs) : '',
            e.outcome === 'refused' ? `refused: ${e.reason ?? ''}` : 'granted',
          ]),
          empty: 'None yet.',
        },
      },
    ],
    footer: `case ${c.ref} · ${FOOTER}`,
  };
  return { doc, data: { report: 'case', case: c, notes, reports: access } };
}

export { BUCKETS, parseCategories };
