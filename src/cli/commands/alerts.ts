/**
 * `schoolgate alerts list | show | ack | test`: the DSL's view of safeguarding alerts (src/alerts/). Reading
 * and acknowledging are checked and recorded like reports (src/reports/alert-commands.ts); `test` sends a
 * marked test alert through every configured sink.
 */
import { type Command, Option } from 'commander';
// Not keywords/index.js: that loads the confusables table, which no command here needs at start-up.
import { ALERT_SEVERITIES as SEVERITIES, type AlertSeverity as Severity } from '../../alerts/sinks/types.js';
import { SchoolgateError } from '../../errors.js';
import { configFrom, positiveInt, withCommonOptions, type CommonOptions } from '../common.js';
import { parseSite, SITE_HELP } from './report.js';

interface AlertOptions extends CommonOptions {
  by?: string;
  case?: string;
  json?: boolean;
}

/** The reports box, loaded when an alerts command runs (not at start-up). */
const load = () => import('../../reports/index.js');
type Reports = Awaited<ReturnType<typeof load>>;

function readerCommand(parent: Command, name: string, description: string): Command {
  return withCommonOptions(parent.command(name))
    .description(description)
    .option('--by <name>', 'your name, for the access record (required)')
    .option('--case <ref>', 'the open case this is read under, if any (recorded)');
}

function readerOf(r: Reports, opts: AlertOptions, now: number) {
  return { by: opts.by ?? null, caseRef: opts.case ?? null, osUser: r.currentOsUser(), now };
}

export function registerAlerts(program: Command): void {
  const alerts = program
    .command('alerts')
    .description('safeguarding alerts: list, show, acknowledge, test the sinks (reads are recorded)');

  readerCommand(alerts, 'list', 'alerts, newest first (needs --by; recorded in the report access log)')
    .option('--open', 'only alerts not yet acknowledged')
    .option('--since <date>', 'alerts whose last request is at or after this (e.g. 7d, 2026-11-01)')
    .addOption(new Option('--severity <s>', 'this severity or worse').choices(SEVERITIES))
    .option('--user <name>', 'only this person’s alerts')
    .option('--site <name>', SITE_HELP, parseSite)
    .option('--limit <n>', 'at most this many (default 1000)', positiveInt, 1000)
    .option('--json', 'one JSON object a line')
    .addHelpText(
      'after',
      '\nExample:\n  schoolgate alerts list --open --severity warning --by "J. Smith (DSL)"',
    )
    .action(
      async (
        opts: AlertOptions & {
          open?: boolean;
          since?: string;
          severity?: Severity;
          user?: string;
          site?: string;
          limit: number;
        },
      ) => {
        const r = await load();
        const config = configFrom(opts);
        const now = Date.now();
        const out = new r.Output(undefined);
        try {
          await r.listAlerts(
            config,
            readerOf(r, opts, now),
            {
              json: opts.json === true,
              limit: opts.limit,
              ...(opts.open ? { open: true } : {}),
              ...(opts.since ? { since: r.parseWhen(opts.since, config.timeZone, now, false) } : {}),
              ...(opts.severity ? { minSeverity: opts.severity } : {}),
              ...(opts.user !== undefined ? { user: opts.user } : {}),
              ...(opts.site !== undefined ? { site: opts.site } : {}),
            },
            out,
          );
        } finally {
          out.close();
        }
      },
    );

  readerCommand(alerts, 'show', 'one alert in full, with the audit rows it references (needs --by)')
    .argument('<id>', 'the alert id (from alerts list)')
    .option('--json', 'JSON output')
    .action(async (id: string, opts: AlertOptions) => {
      const r = await load();
      const config = configFrom(opts);
      const out = new r.Output(undefined);
      try {
        await r.showAlert(config, readerOf(r, opts, Date.now()), id, opts.json === true, out);
      } finally {
        out.close();
      }
    });

  readerCommand(alerts, 'ack', 'acknowledge an alert: who, when, what was done (needs --by and --note)')
    .argument('<id>', 'the alert id')
    .requiredOption('--note <text>', 'what was done, e.g. "spoke to pupil with head of year"')
    .action(async (id: string, opts: AlertOptions & { note: string }) => {
      const r = await load();
      const config = configFrom(opts);
      const a = await r.acknowledgeAlert(config, readerOf(r, opts, Date.now()), id, opts.note);
      console.log(
        `alert ${a.id} acknowledged by ${a.ackedBy ?? ''} (OS user ${a.ackedOsUser ?? ''}) at ` +
          `${r.formatLocal(a.ackedAt ?? Date.now(), config.timeZone)} ${config.timeZone}`,
      );
    });

  withCommonOptions(alerts.command('test'))
    .description(
      'send one test alert through every configured sink (log, webhook, e-mail) and say which worked',
    )
    .action(async (opts: CommonOptions) => {
      const config = configFrom(opts);
      const [{ createAlertSinks, testSinks }, { createLogger }] = await Promise.all([
        import('../../alerts/sinks/index.js'),
        import('../../log.js'),
      ]);
      // The log sink writes to stderr here, so standard output is only the results.
      const sinks = createAlertSinks(config.alerts, {
        logger: createLogger(config.log.level, process.stderr),
        timeZone: config.timeZone,
      });
      try {
        const results = await testSinks(sinks);
        for (const t of results) console.log(`${t.sink}: ${t.ok ? 'ok' : `FAILED: ${t.error ?? 'unknown'}`}`);
        const failed = results.filter((t) => !t.ok).map((t) => t.sink);
        if (failed.length > 0)
          throw new SchoolgateError(
            'SG_ALERT_SINK_FAILED',
            `the test alert was not delivered by ${failed.join(', ')}`,
            {
              context: { failed },
              suggestion: 'check alerts.webhook / alerts.email in the config and the secret files they name',
            },
          );
      } finally {
        await sinks.close();
      }
    });
}
