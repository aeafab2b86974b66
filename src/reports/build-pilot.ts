/**
 * What pilot mode would have stopped (report pilot): the rows a profile in `mode: monitor` let through that
 * enforce would have blocked or warned (actions would-block, would-warn), by site and by the rule that
 * would have decided. A trial of the filter's policy, not an investigation: sites and counts only, no
 * person is named (how many people is shown), so it needs --by but no case.
 */
import type { ReportDoc } from './model.js';
import { categoryTitle, parseCategories, type ReportSource } from './source.js';
import { BuiltReport, fmt, FOOTER, period, pulledHeader, type Puller } from './report-parts.js';

interface SiteTally {
  host: string;
  categories: Set<string>;
  wouldBlock: number;
  wouldWarn: number;
  people: Set<string>;
  profiles: Set<string>;
  firstMs: number;
  lastMs: number;
}

interface RuleTally {
  rule: string;
  wouldBlock: number;
  wouldWarn: number;
}

export async function buildPilotReport(
  src: ReportSource,
  fromMs: number,
  toMs: number,
  puller: Puller,
): Promise<BuiltReport> {
  const sites = new Map<string, SiteTally>();
  const rules = new Map<string, RuleTally>();
  const people = new Set<string>();
  let wouldBlock = 0;
  let wouldWarn = 0;
  for await (const r of src.reads.pilotRows(fromMs, toMs, src.site)) {
    const blocked = r.action === 'would-block';
    if (blocked) wouldBlock++;
    else wouldWarn++;
    const who = r.username ?? `address ${r.client_ip}`;
    people.add(who);
    let site = sites.get(r.host);
    if (!site) {
      site = {
        host: r.host,
        categories: new Set(),
        wouldBlock: 0,
        wouldWarn: 0,
        people: new Set(),
        profiles: new Set(),
        firstMs: r.time_ms,
        lastMs: r.time_ms,
      };
      sites.set(r.host, site);
    }
    for (const c of parseCategories(r)) site.categories.add(c);
    if (blocked) site.wouldBlock++;
    else site.wouldWarn++;
    site.people.add(who);
    if (r.profile) site.profiles.add(r.profile);
    site.lastMs = Math.max(site.lastMs, r.time_ms);
    const ruleName = ruleLabel(src, r.reason, parseCategories(r));
    const rule = rules.get(ruleName) ?? { rule: ruleName, wouldBlock: 0, wouldWarn: 0 };
    if (blocked) rule.wouldBlock++;
    else rule.wouldWarn++;
    rules.set(ruleName, rule);
  }
  const bySite = [...sites.values()].sort(
    (a, b) => b.wouldBlock - a.wouldBlock || b.wouldWarn - a.wouldWarn || a.host.localeCompare(b.host),
  );
  const byRule = [...rules.values()].sort(
    (a, b) => b.wouldBlock + b.wouldWarn - (a.wouldBlock + a.wouldWarn),
  );
  const doc: ReportDoc = {
    title: 'Pilot mode: what the filter would have stopped',
    subtitle: period(src, fromMs, toMs),
    header: [['Period', period(src, fromMs, toMs)], ...pulledHeader(src, puller)],
    sections: [
      {
        heading: 'Summary',
        figures: [
          { label: 'Would have been blocked', value: wouldBlock, tone: 'block' },
          { label: 'Would have been warned', value: wouldWarn, tone: 'warn' },
          { label: 'Sites', value: sites.size },
          { label: 'People', value: people.size },
        ],
        paragraphs: [
          'Requests a profile in pilot mode (mode: monitor) let through that enforcing the same policy would ' +
            'have blocked or warned. The illegal-content tier is never in pilot mode: its hits are blocks.',
        ],
      },
      {
        heading: 'By site',
        table: {
          columns: ['Site', 'Categories', 'Would block', 'Would warn', 'People', 'Profiles', 'First', 'Last'],
          rows: bySite.map((s) => [
            s.host,
            [...s.categories].map((c) => categoryTitle(src, c)).join(', '),
            s.wouldBlock,
            s.wouldWarn,
            s.people.size,
            [...s.profiles].sort().join(', '),
            fmt(src, s.firstMs),
            fmt(src, s.lastMs),
          ]),
          numeric: [2, 3, 4],
          empty: 'Nothing: pilot mode let nothing through that enforce would have stopped.',
        },
      },
      {
        heading: 'By the rule that would have decided',
        table: {
          columns: ['Rule', 'Would block', 'Would warn'],
          rows: byRule.map((r) => [r.rule, r.wouldBlock, r.wouldWarn]),
          numeric: [1, 2],
          empty: 'None.',
        },
      },
    ],
    footer: `pilot mode · ${period(src, fromMs, toMs)} · ${FOOTER}`,
  };
  return {
    doc,
    data: {
      report: 'pilot',
      fromMs,
      toMs,
      pulledBy: puller.by,
      osUser: puller.osUser,
      wouldBlock,
      wouldWarn,
      people: people.size,
      sites: bySite.map((s) => ({
        host: s.host,
        categories: [...s.categories].sort(),
        wouldBlock: s.wouldBlock,
        wouldWarn: s.wouldWarn,
        people: s.people.size,
        profiles: [...s.profiles].sort(),
      })),
      rules: byRule,
    },
  };
}

/** The row's reason in words: a category by its title, the profile's default for uncategorised sites. */
function ruleLabel(src: ReportSource, reason: string, categories: string[]): string {
  if (reason === 'default') return 'uncategorised (the profile’s default)';
  if ((reason === 'category' || reason === 'time-window') && categories.length > 0)
    return `${reason === 'time-window' ? 'time window: ' : 'category: '}${categories.map((c) => categoryTitle(src, c)).join(', ')}`;
  return reason;
}
