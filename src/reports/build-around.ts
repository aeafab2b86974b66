/** Everything one person did around one audit row (report around). */
import { SchoolgateError } from '../errors.js';
import { Aggregate, type RowSummary, summarise } from './aggregate.js';
import type { ReportDoc } from './model.js';
import type { AuditRowRaw, ReportSource } from './source.js';
import {
  Puller,
  BuiltReport,
  fmt,
  period,
  pulledHeader,
  FOOTER,
  tamperSection,
  tamperLine,
  scan,
  rowTable,
} from './report-parts.js';

/** The row of a reference; with a site (src.site), only that site's row: another site's is not found. */
export async function findEvent(src: ReportSource, ref: string): Promise<AuditRowRaw> {
  const row = await src.reads.rowById(ref, src.site);
  if (!row)
    throw new SchoolgateError(
      'SG_ARGUMENT_INVALID',
      `no audit row with reference ${ref}${src.site !== undefined ? ` in site ${src.site}` : ''}`,
      {
        context: { ref, ...(src.site !== undefined ? { site: src.site } : {}) },
        suggestion: 'quote the reference exactly as the block page or a report shows it',
      },
    );
  return row;
}

export async function buildAroundReport(
  src: ReportSource,
  event: AuditRowRaw,
  minutes: number,
  puller: Puller,
): Promise<BuiltReport> {
  if (event.username === null)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `audit row ${event.id} has no user`, {
      context: { ref: event.id },
      suggestion: 'context is shown for a known person; use report domain for unidentified traffic',
    });
  const user = event.username;
  const fromMs = event.time_ms - minutes * 60_000;
  const toMs = event.time_ms + minutes * 60_000 + 1;
  const rows = () => src.reads.userRows(user, fromMs, toMs, src.site);
  const list: RowSummary[] = [];
  const a = new Aggregate(src);
  const verification = await scan(src, rows(), a, (r) => {
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
      await tamperSection(src, verification),
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
