/**
 * What the school's own traffic reveals: the most-requested hosts no category matched in a period, with
 * request and user counts, so a technician can categorise each with one command. Aggregates only: no
 * user name, address or path leaves the query, and a host requested only once is left out (it says more
 * about one person than about the lists, and it is mostly noise).
 *
 * Read from a partial covering index (migration 11: decided rows with no category, selftest probes left
 * out), so the query touches the period's uncategorised rows in the index and never the table itself.
 */
import type { Section } from './model.js';
import { BuiltReport, FOOTER, fmt, period, pulledHeader, type Puller } from './report-parts.js';
import type { ReportSource } from './source.js';

/** The actions a decision records; refusals, rejects and failed logins decide nothing about a site. */
const DECIDED = `('allow', 'warn', 'block', 'continue', 'continued', 'would-block', 'would-warn')`;

/** Must repeat the partial index’s WHERE (migration 11) word for word, or SQLite cannot use it. */
export const UNCATEGORISED_SQL = `SELECT host, COUNT(*) AS requests,
    COUNT(DISTINCT COALESCE(username, '@' || client_ip)) AS users, MAX(time_ms) AS last_ms
  FROM audit_events
  WHERE categories = '[]' AND selftest_run IS NULL AND action IN ${DECIDED}
    AND time_ms >= ? AND time_ms < ? AND (? IS NULL OR profile = ?)
  GROUP BY host HAVING COUNT(*) >= 2
  ORDER BY requests DESC, host LIMIT ?`;

export interface UncategorisedHost {
  host: string;
  requests: number;
  /** Distinct signed-in users, and distinct addresses for requests nobody signed in for. */
  users: number;
  lastMs: number;
}

export interface UncategorisedQuery {
  fromMs: number;
  toMs: number;
  profile: string | null;
  top: number;
}

/** One site's (src.site): the index's WHERE kept word for word, the site checked on the table's rows. */
export const SITED_UNCATEGORISED_SQL = UNCATEGORISED_SQL.replace(
  'AND (? IS NULL OR profile = ?)',
  'AND (? IS NULL OR profile = ?) AND site = ?',
);

export function uncategorisedHosts(src: ReportSource, q: UncategorisedQuery): Promise<UncategorisedHost[]> {
  return src.reads.uncategorised({ ...q, ...(src.site !== undefined ? { site: src.site } : {}) });
}

/** The one-line command that puts a host into a category (the technician picks the category). */
export function categoriseCommand(host: string): string {
  const shown = /^[a-z0-9.:[\]-]+$/.test(host) ? host : JSON.stringify(host);
  return `schoolgate lists add <category> ${shown} --reason "uncategorised traffic review"`;
}

/** The table as a report section (the command and the weekly review share it). */
export function uncategorisedSection(
  src: ReportSource,
  hosts: readonly UncategorisedHost[],
  q: UncategorisedQuery,
): Section[] {
  const scope = q.profile === null ? 'every profile' : `profile ${q.profile}`;
  return [
    {
      heading: 'Most-requested sites no category matched',
      paragraphs: [
        `The ${q.top} hosts requested most often (${scope}) that matched no category; hosts requested only ` +
          'once are left out. Users: distinct people signed in, or addresses for requests nobody signed in for.',
      ],
      table: {
        columns: ['#', 'Host', 'Requests', 'Users', 'Last requested'],
        rows: hosts.map((h, i) => [i + 1, h.host, h.requests, h.users, fmt(src, h.lastMs)]),
        numeric: [0, 2, 3],
        empty: 'No uncategorised host was requested more than once in this period.',
      },
    },
    {
      heading: 'To categorise one',
      paragraphs:
        hosts.length === 0
          ? ['Nothing to categorise.']
          : [
              'Pick the category (`schoolgate lists categories`); an entry covers the host and its subdomains:',
              ...hosts.map((h) => categoriseCommand(h.host)),
            ],
    },
  ];
}

export async function buildUncategorisedReport(
  src: ReportSource,
  q: UncategorisedQuery,
  puller: Omit<Puller, 'by'> & { by: string | null },
): Promise<BuiltReport> {
  const hosts = await uncategorisedHosts(src, q);
  return {
    doc: {
      title: 'Uncategorised sites',
      subtitle: period(src, q.fromMs, q.toMs),
      header: [
        ['Period', period(src, q.fromMs, q.toMs)],
        ...pulledHeader(src, { ...puller, by: puller.by ?? '(not given)' }),
      ],
      sections: uncategorisedSection(src, hosts, q),
      footer: `uncategorised sites · ${period(src, q.fromMs, q.toMs)} · ${FOOTER}`,
    },
    data: {
      report: 'uncategorised',
      fromMs: q.fromMs,
      toMs: q.toMs,
      profile: q.profile,
      top: q.top,
      hosts: hosts.map((h) => ({ ...h, command: categoriseCommand(h.host) })),
    },
  };
}
