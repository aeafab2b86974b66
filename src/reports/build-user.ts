/** The per-person report (report user). */
import { Aggregate, LIST_CAP } from './aggregate.js';
import { alertData, alertsIn, alertsSection, phrasesByRow } from './alerts.js';
import { claimedLogins, claimedLoginsSection } from './claimed-logins.js';
import type { ReportDoc } from './model.js';
import type { ReportSource } from './source.js';
import {
  Puller,
  BuiltReport,
  period,
  pulledHeader,
  FOOTER,
  tamperSection,
  tamperLine,
  rowTable,
  countsData,
} from './report-parts.js';
import { glanceSection } from './glance.js';
import {
  categoriesSection,
  flaggedDomainsSection,
  searchSection,
  searchAppendix,
  selfReportSection,
  continuesSection,
  continuesAppendix,
} from './sections.js';
import { perDayAppendix, timelineSection } from './timeline.js';

export async function buildUserReport(
  src: ReportSource,
  user: string,
  fromMs: number,
  toMs: number,
  puller: Puller,
): Promise<BuiltReport> {
  const a = new Aggregate(src);
  const rows = () => src.reads.userRows(user, fromMs, toMs, src.site);
  const verification = await src.reads.checkedUserRows(
    { user, fromMs, toMs, ...(src.site !== undefined ? { site: src.site } : {}) },
    (r) => a.add(r),
  );
  const others = a.total.requests - a.flaggedRows.length;
  const alerts = await alertsIn(src, { user, fromMs, toMs });
  const alertPhrases = phrasesByRow(alerts);
  const claimed = await claimedLogins(src, user, fromMs, toMs);
  const doc: ReportDoc = {
    title: `Web activity report: ${user}`,
    subtitle: period(src, fromMs, toMs),
    header: [
      ['Whose records', user],
      ['Period', period(src, fromMs, toMs)],
      ...pulledHeader(src, puller),
      ['Tamper check', tamperLine({ verification })],
    ],
    // Page one is the summary; the sections after it hold the detail; the appendix every row (HTML, text),
    // as the CSV and JSON exports do.
    sections: [
      glanceSection(src, a, { alerts, alertPhrases, claimed, fromMs, toMs }),
      { ...alertsSection(src, alerts, false), pageBreak: true },
      categoriesSection(src, a),
      flaggedDomainsSection(src, a),
      searchSection(src, a, alertPhrases),
      selfReportSection(src, a),
      continuesSection(src, a),
      timelineSection(src, a, fromMs, toMs),
      claimedLoginsSection(src, user, claimed),
      await tamperSection(src, verification),
      searchAppendix(src, a, 'Appendix A: Every search', alertPhrases),
      continuesAppendix(src, a, 'Appendix B: Every warning continued'),
      {
        heading: 'Appendix C: Flagged attempts in full',
        id: 'appendix-flagged',
        pageBreak: true,
        paragraphs: [
          `${a.flaggedRows.length} flagged rows are listed; ${others} other rows are not listed here ` +
            '(the CSV and JSON exports list every row).' +
            (a.truncated ? ` Lists are cut at ${LIST_CAP} entries.` : ''),
        ],
        table: rowTable(src, a.flaggedRows, false),
      },
      perDayAppendix(a, 'Appendix D: Requests per day'),
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
      alerts: alerts.map(alertData),
      flaggedDomains: [...a.flaggedDomains.values()].sort((x, y) => y.requests - x.requests),
      searches: a.searches,
      selfReports: a.selfReports,
      continues: a.continues,
      timeline: {
        days: Object.fromEntries([...a.days].sort((x, y) => x[0].localeCompare(y[0]))),
        hours: a.hours,
      },
      claimedLogins: claimed,
      verification,
    },
  };
}

// ---- report domain ---------------------------------------------------------------------------------------
