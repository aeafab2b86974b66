/**
 * `schoolgate lists uncategorised`: the most-requested hosts no category matched (src/reports/
 * build-uncategorised.ts), each with the command that categorises it. Aggregates only, no names; still
 * monitoring information about the school's traffic, so it runs only for an OS user allowed to pull
 * reports (reports.allowedOsUsers, default the owner of the data directory) and is recorded in the report
 * access log like every report, but needs no --case or --by.
 */
import { type Command } from 'commander';
import type { ReportFormat } from '../../reports/run.js';
import { configFrom, positiveInt, withCommonOptions, type CommonOptions } from '../common.js';
import { examples } from './lists.js';

const FORMATS: readonly ReportFormat[] = ['text', 'html', 'csv', 'json'];

interface Options extends CommonOptions {
  since: string;
  to?: string;
  profile?: string;
  top: number;
  by?: string;
  format: ReportFormat;
  out?: string;
}

export function registerListsUncategorised(lists: Command): void {
  withCommonOptions(lists.command('uncategorised'))
    .description(
      'the most-requested sites no category matched, with request and user counts (no names) and the command to categorise each',
    )
    .option('--since <date>', 'start: a date or a span before now (7d, 24h)', '7d')
    .option('--to <date>', 'end (default now)')
    .option('--profile <name>', 'only requests decided under this profile')
    .option('--top <n>', 'how many hosts', positiveInt, 50)
    .option('--by <name>', 'your name, for the report access record')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option('--out <file>', 'write to this new file (owner-only) instead of standard output')
    .addHelpText(
      'after',
      examples(
        'schoolgate lists uncategorised',
        'schoolgate lists uncategorised --since 30d --profile pupil --top 100',
      ) +
        '\n\nHosts requested only once are left out. Runs for the OS users allowed to pull reports' +
        '\n(reports.allowedOsUsers); recorded in `schoolgate report access-log`.',
    )
    .action(async (opts: Options) => {
      const r = await import('../../reports/index.js');
      if (!(FORMATS as readonly string[]).includes(opts.format))
        throw new (await import('../../errors.js')).SchoolgateError(
          'SG_ARGUMENT_INVALID',
          `--format ${opts.format}: expected one of ${FORMATS.join(', ')}`,
        );
      const config = configFrom(opts);
      const now = Date.now();
      const { fromMs, toMs } = r.parsePeriod(opts.since, opts.to, config.timeZone, now, '7d');
      const query = { fromMs, toMs, profile: opts.profile ?? null, top: opts.top };
      await r.runReport(
        config,
        {
          access: {
            command: 'lists uncategorised',
            by: opts.by ?? null,
            fromMs,
            toMs,
            needsCase: false,
            needsBy: false,
            // Counts per host, no names, hosts seen once left out: not a person's records, so no purpose
            // is asked; the run is still recorded.
            needsPurpose: false,
          },
          format: opts.format,
          out: opts.out,
          build: (src) =>
            r.buildUncategorisedReport(src, query, {
              by: opts.by ?? null,
              osUser: r.currentOsUser(),
              caseRef: null,
            }),
        },
        now,
      );
    });
}
