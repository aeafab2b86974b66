/** `schoolgate report ...`: investigation reports over the audit log (src/reports/). */
import { type Command, InvalidArgumentError } from 'commander';
import type { ReportFormat } from '../../reports/run.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';

interface ReportOptions extends CommonOptions {
  from?: string;
  to?: string;
  since?: string;
  case?: string;
  by?: string;
  reason?: string;
  format: ReportFormat;
  out?: string;
  minutes?: number;
  site?: string;
}

export const SITE_HELP =
  'only this school of the trust (the site of networks, devices and users), e.g. north';

/** --site: a site name, checked before anything is opened. */
export function parseSite(value: string): string {
  if (!/^[a-z0-9-]{1,32}$/.test(value))
    throw new InvalidArgumentError('expected a site name: 1–32 lower-case letters, digits or hyphens');
  return value;
}

/** Kept in step with reports/run.ts FORMATS (which is not imported here: the reports box loads lazily). */
const FORMATS: readonly ReportFormat[] = ['text', 'html', 'csv', 'json'];
const load = () => import('../../reports/index.js');
type Reports = Awaited<ReturnType<typeof load>>;

type Config = ReturnType<typeof configFrom>;

/**
 * Who pulls a report and why: the person (as reports.people spells them), the OS user, the case and the
 * purpose (runReport has already refused it without them where needed).
 */
function pullerOf(r: Reports, config: Config, opts: ReportOptions) {
  return {
    by: r.resolveBy(config.reports.people, opts.by!),
    osUser: r.currentOsUser(),
    caseRef: opts.case ?? null,
    purpose: opts.reason?.trim() ?? null,
  };
}

function parseFormat(value: string): ReportFormat {
  if (!(FORMATS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of ${FORMATS.join(', ')}`);
  return value as ReportFormat;
}

function parseMinutes(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1440) throw new InvalidArgumentError('expected 1–1440 minutes');
  return n;
}

const DATES =
  'Dates are in the configured time zone: 2026-11-01 (a whole day), 2026-11-01T09:30, today, yesterday, ' +
  'now, or a span before now such as 7d, 12h, 30m.';

function reportCommand(parent: Command, name: string, description: string): Command {
  return withCommonOptions(parent.command(name))
    .description(description)
    .option('--by <name>', 'your name, for the access record (required)')
    .option('--reason <purpose>', 'why you are reading these records, kept in the access record (required)')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, parseFormat, 'text')
    .option('--out <file>', 'write to this new file (owner-only) instead of standard output')
    .addHelpText('after', `\n${DATES}`);
}

export function registerReport(program: Command): void {
  const report = program
    .command('report')
    .description('investigation reports (every report pulled is recorded; see report access-log)');

  reportCommand(report, 'user', 'one person’s activity over a period (needs --case, --by and --reason)')
    .argument('<user>', 'the username')
    .option('--from <date>', 'start (default 30d)')
    .option('--to <date>', 'end (default now)')
    .option('--case <ref>', 'the case this report is pulled under')
    .option('--site <name>', SITE_HELP, parseSite)
    .addHelpText(
      'after',
      '\nExample:\n  schoolgate report user j.smith --from 2026-09-01 --to 2026-11-01 --case 2026-014 --by "A. Head" --reason "concern raised by form tutor" --format html --out j.smith.html',
    )
    .action(async (user: string, opts: ReportOptions) => {
      const r = await load();
      const config = configFrom(opts);
      const now = Date.now();
      const { fromMs, toMs } = r.parsePeriod(opts.from, opts.to, config.timeZone, now);
      await r.runReport(
        config,
        {
          access: {
            command: 'report user',
            by: opts.by ?? null,
            purpose: opts.reason?.trim() || null,
            subject: user,
            caseRef: opts.case ?? null,
            fromMs,
            toMs,
            needsCase: true,
            needsBy: true,
            scope: { user },
            refusal: r.userRefusal(config, () => r.openReadOnly(r.auditPathOf(config)), user),
            site: opts.site ?? null,
          },
          format: opts.format,
          out: opts.out,
          build: (src) =>
            r.buildUserReport(
              r.withinSite(src, opts.site, config.dataDir),
              user,
              fromMs,
              toMs,
              pullerOf(r, config, opts),
            ),
        },
        now,
      );
    });

  reportCommand(
    report,
    'around',
    'everything the same person did either side of one audit row (needs --case, --by, --reason)',
  )
    .argument('<ref>', 'the audit reference (as on the block page or in a report)')
    .option('--minutes <n>', 'minutes either side', parseMinutes, 60)
    .option('--case <ref>', 'the case this report is pulled under')
    .option('--site <name>', SITE_HELP, parseSite)
    .action(async (ref: string, opts: ReportOptions) => {
      const r = await load();
      const config = configFrom(opts);
      const now = Date.now();
      const row = await r.identityOfEvent(config, ref);
      await r.runReport(
        config,
        {
          access: {
            command: 'report around',
            by: opts.by ?? null,
            purpose: opts.reason?.trim() || null,
            subject: r.eventSubject(row, ref),
            caseRef: opts.case ?? null,
            needsCase: true,
            needsBy: true,
            scope: { row, ref },
            site: opts.site ?? null,
            refusal: r.otherSiteRowRefusal(row, ref, opts.site),
          },
          format: opts.format,
          out: opts.out,
          // With --site: the row must be the site's (findEvent) and so must every row around it.
          build: async (all) => {
            const src = r.withinSite(all, opts.site, config.dataDir);
            return r.buildAroundReport(
              src,
              await r.findEvent(src, ref),
              opts.minutes ?? 60,
              pullerOf(r, config, opts),
            );
          },
        },
        now,
      );
    });

  reportCommand(
    report,
    'domain',
    'who reached or tried to reach a domain and its subdomains (needs --case, --by, --reason)',
  )
    .argument('<domain>', 'e.g. bet.example')
    .option('--from <date>', 'start (default 30d)')
    .option('--to <date>', 'end (default now)')
    .option('--case <ref>', 'the case this report is pulled under')
    .option('--site <name>', SITE_HELP, parseSite)
    .action(async (domainArg: string, opts: ReportOptions) => {
      const r = await load();
      const config = configFrom(opts);
      const now = Date.now();
      const domain = domainArg.trim().toLowerCase().replace(/\.$/, '');
      const { fromMs, toMs } = r.parsePeriod(opts.from, opts.to, config.timeZone, now);
      await r.runReport(
        config,
        {
          access: {
            command: 'report domain',
            by: opts.by ?? null,
            purpose: opts.reason?.trim() || null,
            domain,
            caseRef: opts.case ?? null,
            fromMs,
            toMs,
            needsCase: true,
            needsBy: true,
            scope: { subjectsOnly: true },
            site: opts.site ?? null,
          },
          format: opts.format,
          out: opts.out,
          // Under a case: only the case's subjects' rows (runReport refused it without an open case).
          build: async (all) => {
            const src = r.withinSite(all, opts.site, config.dataDir);
            const subjects = await r.caseSubjectsOf(config, opts.case!);
            return r.buildDomainReport(src, domain, fromMs, toMs, pullerOf(r, config, opts), {
              label: `the subjects of case ${opts.case!}: ${r.subjectsLabel(subjects)}`,
              covers: (row) => r.rowCovered(subjects, row),
            });
          },
        },
        now,
      );
    });

  // The DSL's two reviews and pilot mode's over a period: the same options, the same access rule (--by, no case).
  type Review = (r: Reports) => Reports['buildFlaggedReport'];
  const reviews: [string, string, Review][] = [
    [
      'flagged',
      'people with safeguarding alerts or flagged attempts in a period, ranked (needs --by, --reason)',
      (r) => r.buildFlaggedReport,
    ],
    ['weekly', 'the DSL’s weekly review, ready to file (needs --by, --reason)', (r) => r.buildWeeklyReport],
    [
      'pilot',
      'pilot mode (mode: monitor): what enforcing would have blocked or warned, by site (needs --by, --reason)',
      (r) => r.buildPilotReport,
    ],
  ];
  for (const [name, description, builder] of reviews) {
    reportCommand(report, name, description)
      .option('--since <date>', 'start (default 7d)')
      .option('--to <date>', 'end (default now)')
      .option('--site <name>', SITE_HELP, parseSite)
      .action(async (opts: ReportOptions) => {
        const r = await load();
        const config = configFrom(opts);
        const now = Date.now();
        const { fromMs, toMs } = r.parsePeriod(opts.since, opts.to, config.timeZone, now, '7d');
        const build = builder(r);
        // Resolved when the report is built, after the access check has recorded the request.
        const puller = () => pullerOf(r, config, { ...opts, case: undefined });
        await r.runReport(
          config,
          {
            access: {
              command: `report ${name}`,
              by: opts.by ?? null,
              purpose: opts.reason?.trim() || null,
              fromMs,
              toMs,
              needsCase: false,
              needsBy: true,
              roleNeed: 'reviewer',
              site: opts.site ?? null,
            },
            format: opts.format,
            out: opts.out,
            build: (src) => build(r.withinSite(src, opts.site, config.dataDir), fromMs, toMs, puller()),
          },
          now,
        );
      });
  }

  reportCommand(
    report,
    'access-log',
    'every report pulled or refused: who, when, why, whose records, which case (needs --by, --reason)',
  )
    .option('--since <date>', 'start (default: everything)')
    .option('--to <date>', 'end (default now)')
    .option('--case <ref>', 'only the reports pulled under this case')
    .action(async (opts: ReportOptions) => {
      const r = await load();
      const config = configFrom(opts);
      const now = Date.now();
      const { fromMs, toMs } = r.parsePeriod(opts.since, opts.to, config.timeZone, now, '1970-01-01');
      await r.runReport(
        config,
        {
          access: {
            command: 'report access-log',
            by: opts.by ?? null,
            purpose: opts.reason?.trim() || null,
            caseRef: opts.case ?? null,
            fromMs,
            toMs,
            needsCase: false,
            needsBy: true,
            roleNeed: 'access-log',
          },
          format: opts.format,
          out: opts.out,
          // This store's record of looks (PostgreSQL's report_access: every node's), this one recorded first.
          build: async (src) =>
            r.buildAccessLog(
              src,
              await src.reads.accessLog(opts.case ? { caseRef: opts.case } : { fromMs, toMs }),
              opts.case ? `Report access log: case ${opts.case}` : 'Report access log',
            ),
        },
        now,
      );
    });
}
