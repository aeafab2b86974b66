/** Records about reports and cases: the report-access log and a case document. */
import { caseNotes, type CaseRecord } from '../audit/cases.js';
import type { StoredAccessEntry } from '../audit/report-access.js';
import type { ReportDoc } from './model.js';
import { type ReportSource, type SqliteSource } from './source.js';
import { formatLocal } from './time.js';
import { BuiltReport, fmt, period, FOOTER } from './report-parts.js';

/** Where a report went: its format, and the file named by --out (standard output when none). */
function outputOf(e: StoredAccessEntry): string {
  if (!e.format && !e.outFile) return '';
  return `${e.format ?? ''}${e.outFile ? ` to ${e.outFile}` : ''}`;
}

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
            'Purpose',
            'Whose records / domain',
            'Case',
            'Site',
            'Period',
            'Output',
            'Outcome',
          ],
          rows: entries.map((e) => [
            fmt(src, e.timeMs),
            e.by ?? '',
            e.sudoUser ? `${e.osUser} (sudo by ${e.sudoUser})` : e.osUser,
            e.command,
            e.purpose ?? '',
            e.subject ?? e.domain ?? '',
            e.caseRef ?? '',
            e.site ?? '',
            e.fromMs != null && e.toMs != null ? period(src, e.fromMs, e.toMs) : '',
            outputOf(e),
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

export function buildCaseDoc(src: SqliteSource, c: CaseRecord, access: StoredAccessEntry[]): BuiltReport {
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
          columns: ['Time', 'By', 'Command', 'Purpose', 'Whose records / domain', 'Period', 'Outcome'],
          rows: access.map((e) => [
            fmt(src, e.timeMs),
            `${e.by ?? ''} (${e.osUser})`,
            e.command,
            e.purpose ?? '',
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
