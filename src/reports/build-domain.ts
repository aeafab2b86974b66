/** Who reached or tried to reach a domain and its subdomains (report domain). */
import type { RowIdentity } from '../audit/case-subjects.js';
import { Aggregate } from './aggregate.js';
import type { ReportDoc } from './model.js';
import type { ReportSource } from './source.js';
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
  countCells,
  COUNT_COLUMNS,
  countsData,
} from './report-parts.js';
import { countFigures } from './sections.js';
import { timelineSection } from './timeline.js';

export async function buildDomainReport(
  src: ReportSource,
  domain: string,
  fromMs: number,
  toMs: number,
  puller: Puller,
  /** Under a case: only the rows of its subjects. */
  only?: { label: string; covers: (row: RowIdentity) => boolean },
): Promise<BuiltReport> {
  const hosts = await src.reads.hostsUnder(domain);
  const rows = async function* () {
    for (const h of hosts)
      for await (const row of src.reads.hostRows(h, fromMs, toMs, src.site))
        if (!only || only.covers(row)) yield row;
  };
  const a = new Aggregate(src);
  const verification = await scan(src, rows(), a);
  const people = [...a.people.values()].sort((x, y) => y.requests - x.requests);
  const doc: ReportDoc = {
    title: `Domain report: ${domain}`,
    subtitle: `${domain} and its subdomains · ${period(src, fromMs, toMs)}`,
    header: [
      ['Domain', `${domain} and subdomains (${hosts.length} host names seen)`],
      ['Period', period(src, fromMs, toMs)],
      ...(only ? [['Whose records', only.label] as [string, string]] : []),
      ...pulledHeader(src, puller),
      ['Tamper check', tamperLine({ verification })],
    ],
    sections: [
      {
        heading: 'Who reached or tried to reach it',
        figures: [...countFigures(a.total), { label: 'People', value: people.length }],
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
      await tamperSection(src, verification),
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
