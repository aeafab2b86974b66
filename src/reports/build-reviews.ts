/** The DSL's reviews: people with flagged attempts (report flagged) and the weekly summary (report weekly). */
import { Aggregate } from './aggregate.js';
import { alertData, alertsIn, alertsSection, compareByAlerts, noAlerts, tallyByPerson } from './alerts.js';
import { uncategorisedHosts, uncategorisedSection, type UncategorisedQuery } from './build-uncategorised.js';
import type { ReportDoc } from './model.js';
import { categoryTitle, type ReportSource } from './source.js';
import {
  Puller,
  BuiltReport,
  fmt,
  period,
  pulledHeader,
  FOOTER,
  headsLine,
  lastFullVerify,
  rowTable,
} from './report-parts.js';
import { personLabel, selfReportTable } from './sections.js';
import type { PersonStat } from './aggregate.js';

/** 'pupil 3, staff 1' (people without a profile as '(none)'). */
function byProfile(people: readonly PersonStat[]): string {
  const n = new Map<string, number>();
  for (const p of people) {
    const key = p.profiles.size > 0 ? [...p.profiles].sort().join('+') : '(none)';
    n.set(key, (n.get(key) ?? 0) + 1);
  }
  return n.size === 0
    ? 'none'
    : [...n]
        .sort((x, y) => x[0].localeCompare(y[0]))
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
}

async function flaggedPeople(src: ReportSource, fromMs: number, toMs: number) {
  const a = new Aggregate(src);
  await a.addAll(src.reads.flaggedRows(fromMs, toMs, src.site));
  const people = [...a.people.values()].sort(
    (x, y) => y.requests - x.requests || x.user.localeCompare(y.user),
  );
  return { a, people };
}

/**
 * Everyone with a flagged attempt or a safeguarding alert in the period, ranked by their alerts (danger
 * first, then warning, then requests counted) and then by flagged attempts.
 */
async function rankedPeople(src: ReportSource, fromMs: number, toMs: number) {
  const { a, people } = await flaggedPeople(src, fromMs, toMs);
  const alerts = await alertsIn(src, { fromMs, toMs });
  const tallies = tallyByPerson(alerts);
  const flagged = new Map(people.map((p) => [p.user, p]));
  const ranked = [...new Set([...flagged.keys(), ...tallies.keys()])]
    .map((user) => ({ user, flagged: flagged.get(user), alerts: tallies.get(user) ?? noAlerts() }))
    .sort(
      (x, y) =>
        compareByAlerts(x.alerts, y.alerts) ||
        (y.flagged?.requests ?? 0) - (x.flagged?.requests ?? 0) ||
        x.user.localeCompare(y.user),
    );
  return { a, alerts, ranked };
}

export async function buildFlaggedReport(
  src: ReportSource,
  fromMs: number,
  toMs: number,
  puller: Puller,
): Promise<BuiltReport> {
  const { a, alerts, ranked } = await rankedPeople(src, fromMs, toMs);
  const doc: ReportDoc = {
    title: 'People with safeguarding alerts or flagged attempts',
    subtitle: period(src, fromMs, toMs),
    header: [['Period', period(src, fromMs, toMs)], ...pulledHeader(src, puller)],
    sections: [
      {
        heading: 'Ranked by safeguarding alerts, then by flagged attempts',
        paragraphs: [
          'Danger alerts first, then warning alerts, then the requests the alerts counted; then flagged attempts.',
        ],
        figures: [
          { label: 'People', value: ranked.length },
          { label: 'Safeguarding alerts', value: alerts.length, tone: 'block' },
          { label: 'Flagged attempts', value: a.total.requests, tone: 'block' },
        ],
        table: {
          columns: [
            '#',
            'Person',
            'Danger alerts',
            'Warning alerts',
            'Alerted requests',
            'Flagged attempts',
            'Blocked',
            'Allowed',
            'Continued',
            'Categories',
            'Domains',
            'Last flagged',
          ],
          rows: ranked.map(({ user, flagged: p, alerts: t }, i) => [
            i + 1,
            personLabel(user, p?.profiles ?? []),
            t.danger,
            t.warning,
            t.count,
            p?.requests ?? 0,
            p?.blocked ?? 0,
            p?.allowed ?? 0,
            p?.continued ?? 0,
            [...(p?.categories.entries() ?? [])]
              .sort((x, y) => y[1] - x[1])
              .map(([c, n]) => `${categoryTitle(src, c)} ${n}`)
              .join(', '),
            p?.hosts.size ?? 0,
            p ? fmt(src, p.lastMs) : '',
          ]),
          numeric: [0, 2, 3, 4, 5, 6, 7, 8, 10],
          marked: ranked.flatMap((r, i) => (r.alerts.danger > 0 ? [i] : [])),
          empty: 'Nobody had a safeguarding alert or a flagged attempt in this period.',
        },
      },
      alertsSection(src, alerts, true),
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
      people: ranked.map(({ user, flagged: p, alerts: t }) => ({
        user,
        alerts: t,
        flagged: p?.requests ?? 0,
        blocked: p?.blocked ?? 0,
        allowed: p?.allowed ?? 0,
        continued: p?.continued ?? 0,
        categories: Object.fromEntries(p?.categories ?? []),
        domains: p?.hosts.size ?? 0,
        lastMs: p?.lastMs ?? null,
      })),
      alerts: alerts.map(alertData),
    },
  };
}

/** Self-reports and continued warnings of a period (each self-report checked against the block it names). */
async function attentionIn(src: ReportSource, fromMs: number, toMs: number): Promise<Aggregate> {
  const attention = new Aggregate(src);
  await attention.addAll(src.reads.attentionRows(fromMs, toMs, src.site));
  return attention;
}

/** The DSL's self-reports: every "I reached this by accident" of a period, matched or not to its block. */
export async function buildSelfReports(
  src: ReportSource,
  fromMs: number,
  toMs: number,
  puller: Puller,
): Promise<BuiltReport> {
  const { selfReports } = await attentionIn(src, fromMs, toMs);
  const unmatched = selfReports.filter((s) => s.check && !s.check.matched).length;
  const doc: ReportDoc = {
    title: 'Self-reports ("I reached this by accident")',
    subtitle: period(src, fromMs, toMs),
    header: [['Period', period(src, fromMs, toMs)], ...pulledHeader(src, puller)],
    sections: [
      {
        heading: 'Self-reports, oldest first',
        id: 'self-reports',
        figures: [
          { label: 'Self-reports', value: selfReports.length, tone: 'continue' },
          { label: 'Not matching their block', value: unmatched, tone: 'block' },
        ],
        paragraphs: [
          'Each is checked against the block page it names: the same person, the same site, after the block. ' +
            'Unmatched ones are marked: the reference was invented or copied, or names a site that was not ' +
            'blocked for this person.',
        ],
        table: selfReportTable(src, selfReports, true),
      },
    ],
    footer: `self-reports · ${period(src, fromMs, toMs)} · ${FOOTER}`,
  };
  return {
    doc,
    data: {
      report: 'self-reports',
      fromMs,
      toMs,
      pulledBy: puller.by,
      osUser: puller.osUser,
      selfReports,
    },
  };
}

/** The weekly review's uncategorised sites: every profile, the top 20 (`lists uncategorised` shows more). */
function weeklyUncategorised(fromMs: number, toMs: number): UncategorisedQuery {
  return { fromMs, toMs, profile: null, top: 20 };
}

export async function buildWeeklyReport(
  src: ReportSource,
  fromMs: number,
  toMs: number,
  puller: Puller,
): Promise<BuiltReport> {
  const { a, people } = await flaggedPeople(src, fromMs, toMs);
  const attention = await attentionIn(src, fromMs, toMs);
  const categories = [...a.byCategory.keys()]
    .map((name) => ({
      name,
      attempts: a.byCategory.get(name)!.requests,
      people: people
        .map((p) => [p, p.categories.get(name) ?? 0] as const)
        .filter(([, n]) => n > 0)
        .sort((x, y) => y[1] - x[1] || x[0].user.localeCompare(y[0].user)),
    }))
    .sort((x, y) => y.attempts - x.attempts || x.name.localeCompare(y.name));
  const alertCats = new Set([...src.categories.entries()].filter(([, c]) => c.alert).map(([n]) => n));
  const alerts = a.flaggedRows.filter((r) => r.categories.some((c) => alertCats.has(c)));
  const raised = await alertsIn(src, { fromMs, toMs });
  const heads = await src.reads.chainHeads();
  const last = lastFullVerify(src);
  const requests = src.unblockRequests?.(fromMs, toMs) ?? [];
  const uncategorised = await uncategorisedHosts(src, weeklyUncategorised(fromMs, toMs));
  const doc: ReportDoc = {
    title: 'Weekly safeguarding review',
    subtitle: period(src, fromMs, toMs),
    header: [['Period', period(src, fromMs, toMs)], ...pulledHeader(src, puller)],
    sections: [
      {
        heading: 'Flagged attempts by category',
        id: 'weekly-categories',
        figures: [
          { label: 'People', value: people.length },
          { label: 'Flagged attempts', value: a.total.requests, tone: 'block' },
          { label: 'Safeguarding alerts', value: raised.length, tone: 'block' },
          { label: 'Self-reports', value: attention.selfReports.length, tone: 'continue' },
          { label: 'Warnings continued', value: attention.continues.length, tone: 'warn' },
        ],
        paragraphs: [`People by profile: ${byProfile(people)}.`],
        // Categories as rows (not columns): any number of them fits the width of an A4 page.
        table: {
          columns: ['Category', 'Attempts', 'People', 'Who (attempts)'],
          rows: categories.map((c) => [
            categoryTitle(src, c.name),
            c.attempts,
            c.people.length,
            c.people.map(([p, n]) => `${personLabel(p.user, p.profiles)} ${n}`).join(', '),
          ]),
          numeric: [1, 2],
          marked: categories.flatMap((c, i) => (alertCats.has(c.name) ? [i] : [])),
          empty: 'No flagged attempts this period.',
        },
      },
      {
        heading: 'Flagged attempts by person',
        id: 'weekly-people',
        paragraphs: [
          'Each person with the profile their requests were decided under: staff and pupils apart.',
        ],
        table: {
          columns: ['Person', 'Profile', 'Attempts', 'Categories (attempts)'],
          rows: people.map((p) => [
            p.user,
            [...p.profiles].sort().join(', '),
            p.requests,
            [...p.categories.entries()]
              .sort((x, y) => y[1] - x[1])
              .map(([c, n]) => `${categoryTitle(src, c)} ${n}`)
              .join(', '),
          ]),
          numeric: [2],
          empty: 'No flagged attempts this period.',
        },
      },
      alertsSection(src, raised, true),
      {
        heading: 'Flagged attempts in alert categories',
        paragraphs: [
          alertCats.size > 0
            ? `Flagged attempts in alert categories (${[...alertCats].map((c) => categoryTitle(src, c)).join(', ')}).`
            : 'No category is marked alert: true in categories.yaml.',
        ],
        table: rowTable(src, alerts, true),
      },
      {
        heading: 'Self-reports ("I reached this by accident")',
        id: 'weekly-self-reports',
        paragraphs: ['Each checked against the block page it names; unmatched ones are marked.'],
        table: selfReportTable(src, attention.selfReports, true),
      },
      {
        heading: 'Warnings continued',
        table: rowTable(src, attention.continues, true),
      },
      {
        heading: 'Unblock requests',
        paragraphs: ['Sites people asked to have unblocked from a block page, and what IT decided.'],
        table: {
          columns: ['Sent', 'Person', 'Site', 'Reason', 'Outcome'],
          rows: requests.map((r) => [
            fmt(src, Date.parse(r.createdAt)),
            r.user ?? `(${r.clientIp})`,
            r.site,
            r.reason,
            r.status === 'pending'
              ? 'waiting'
              : `${r.status} by ${r.decidedBy ?? '?'}${r.note ? `: ${r.note}` : ''}`,
          ]),
          empty: 'No unblock requests this period.',
        },
      },
      ...uncategorisedSection(src, uncategorised, weeklyUncategorised(fromMs, toMs)),
      {
        heading: 'For the file',
        facts: [
          [`Audit chain ${heads.length > 1 ? 'heads' : 'head'} at time of review`, headsLine(heads)],
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
        profiles: [...p.profiles].sort(),
        total: p.requests,
        categories: Object.fromEntries(p.categories),
      })),
      alerts,
      safeguardingAlerts: raised.map(alertData),
      selfReports: attention.selfReports,
      continues: attention.continues,
      unblockRequests: requests,
      uncategorised,
      chainHead: heads[0] ? { seq: heads[0].seq, hash: heads[0].hash } : null,
      ...(heads.some((h) => h.node !== null) ? { chainHeads: heads } : {}),
    },
  };
}

// ---- access log, case ------------------------------------------------------------------------------------
