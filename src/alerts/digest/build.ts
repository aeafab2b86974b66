/**
 * The digest as a report document: the period's safeguarding alerts (by severity, with counts, people and
 * search terms) and the people with flagged attempts (the flagged review's ranking, built by the same code
 * as `schoolgate report flagged`). Search terms and addresses are pupils' input: they are defanged here,
 * before any renderer sees them, so neither the text nor the HTML part holds anything a mail client links.
 */
import type { StoredAlert } from '../../audit/alerts-table.js';
import type { ReportDoc, Section } from '../../reports/model.js';
import { buildFlaggedReport } from '../../reports/build-reviews.js';
import { FOOTER, fmt, period, type Puller } from '../../reports/report-parts.js';
import type { ReportSource } from '../../reports/source.js';
import { formatLocal } from '../../reports/time.js';
import { defang } from '../sinks/render.js';
import type { DigestJob } from './scheduler.js';

/** Rows shown per table; the rest are counted and pointed to. */
export const DIGEST_ROWS_SHOWN = 200;

const RANK: Record<StoredAlert['severity'], number> = { danger: 3, warning: 2, advisory: 1 };

const TITLE: Record<DigestJob['kind'], string> = {
  weekly: 'Weekly safeguarding digest',
  daily: 'Daily safeguarding digest',
};

export interface Digest {
  subject: string;
  doc: ReportDoc;
  alerts: number;
  people: number;
}

const who = (a: StoredAlert): string => a.user ?? `guest at ${a.clientIp}`;

function alertSection(src: ReportSource, alerts: StoredAlert[], job: DigestJob): Section {
  const sorted = [...alerts].sort(
    (x, y) => RANK[y.severity] - RANK[x.severity] || y.lastTime - x.lastTime || x.id.localeCompare(y.id),
  );
  const count = (s: StoredAlert['severity']) => alerts.filter((a) => a.severity === s).length;
  const shown = sorted.slice(0, DIGEST_ROWS_SHOWN);
  const more = sorted.length - shown.length;
  const since = formatLocal(job.fromMs, src.timeZone, false).replace(' ', 'T');
  return {
    heading: 'Safeguarding alerts',
    figures: [
      { label: 'Danger', value: count('danger'), tone: 'block' },
      { label: 'Warning', value: count('warning'), tone: 'warn' },
      { label: 'Advisory', value: count('advisory'), tone: 'other' },
      { label: 'People', value: new Set(alerts.map(who)).size },
      { label: 'Requests counted', value: alerts.reduce((n, a) => n + a.count, 0) },
    ],
    paragraphs: more > 0 ? [`${more} more not shown: schoolgate alerts list --since ${since}`] : [],
    table: {
      columns: [
        'Severity',
        'Person',
        'Rule',
        'Times',
        'First',
        'Last',
        'Search term or address',
        'Status',
        'Id',
      ],
      rows: shown.map((a) => [
        a.severity,
        who(a),
        a.rule,
        a.count,
        fmt(src, a.firstTime),
        fmt(src, a.lastTime),
        defang(a.searchTerm ?? a.url ?? ''),
        a.status === 'acked' ? `acknowledged by ${a.ackedBy ?? '?'}` : 'open',
        a.id,
      ]),
      numeric: [3],
      marked: shown.flatMap((a, i) => (a.severity === 'danger' ? [i] : [])),
      empty: 'No safeguarding alert in this period.',
    },
  };
}

/** The flagged review's ranking of people, as `schoolgate report flagged` builds it. */
async function flaggedSection(
  src: ReportSource,
  job: DigestJob,
  puller: Puller,
): Promise<{ section: Section; people: number }> {
  const built = await buildFlaggedReport(src, job.fromMs, job.toMs, puller);
  const ranked = built.doc.sections[0]!;
  const table = ranked.table!;
  const more = table.rows.length - DIGEST_ROWS_SHOWN;
  return {
    people: table.rows.length,
    section: {
      ...ranked,
      heading: 'People with flagged attempts',
      paragraphs: more > 0 ? [`${more} more not shown: schoolgate report flagged`] : [],
      table: { ...table, rows: table.rows.slice(0, DIGEST_ROWS_SHOWN) },
    },
  };
}

export async function buildDigest(
  src: ReportSource,
  job: DigestJob,
  alerts: StoredAlert[],
  puller: Puller,
): Promise<Digest> {
  const range = period(src, job.fromMs, job.toMs);
  const flagged = await flaggedSection(src, job, puller);
  const header: [string, string][] = [
    ['Period', range],
    ['Sent', `${formatLocal(src.now, src.timeZone)} ${src.timeZone}`],
  ];
  if (job.late)
    header.push([
      'LATE',
      `this digest was due at ${formatLocal(job.dueAt, src.timeZone, false)} but was not sent then ` +
        '(schoolgate was not running, or the server was asleep); it is sent now',
    ]);
  const danger = alerts.filter((a) => a.severity === 'danger').length;
  const days = (d: number) => formatLocal(d, src.timeZone).slice(0, 10);
  const command = job.kind === 'weekly' ? 'weekly' : 'flagged';
  const doc: ReportDoc = {
    title: TITLE[job.kind],
    subtitle: range,
    header,
    sections: [
      alertSection(src, alerts, job),
      flagged.section,
      {
        heading: 'More',
        paragraphs: [
          'Search terms and addresses are defanged so that nothing here is a link: [.] stands for a dot, ' +
            'hxxp for http. Do not visit a site to check it.',
          `The full record: schoolgate alerts show ID; schoolgate report ${command} --since ${days(job.fromMs)} ` +
            `--to ${days(job.toMs - 1)} --by NAME`,
        ],
      },
    ],
    footer: `${TITLE[job.kind].toLowerCase()} · ${range} · ${FOOTER}`,
  };
  const subject =
    `[schoolgate] ${job.late ? 'LATE ' : ''}${TITLE[job.kind]} ${days(job.fromMs)} to ${days(job.toMs - 1)}: ` +
    `${alerts.length} alert${alerts.length === 1 ? '' : 's'} (${danger} danger), ` +
    `${flagged.people} ${flagged.people === 1 ? 'person' : 'people'} to review`;
  return { subject, doc, alerts: alerts.length, people: flagged.people };
}
