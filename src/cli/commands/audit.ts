/** `schoolgate audit verify | purge`: tamper evidence and retention for the audit log. */
import { Option, type Command } from 'commander';
import { SchoolgateError } from '../../errors.js';
import { configFrom, positiveInt, withCommonOptions, type CommonOptions } from '../common.js';
import { withAdmin } from './admin-access.js';

/** The audit/reports modules, loaded when an audit command runs (not at start-up). */
const load = () => import('../../reports/index.js');

interface VerifyFlags {
  json?: boolean;
  against?: string;
  threads?: number;
  sinceVerified?: boolean;
  full?: boolean;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit log: tamper check and retention');

  withCommonOptions(audit.command('verify'))
    .description(
      'check the audit chain, the ledger (cases, notes, report access, purges) and the signed checkpoints; ' +
        'report the first break and exit non-zero. Opens the database read-only',
    )
    .option('--against <file>', 'also check a filed checkpoint (a line from `audit checkpoint export`)')
    .option(
      '--threads <n>',
      'check the row chain in this many parallel ranges (default: the cores)',
      positiveInt,
    )
    .addOption(
      new Option(
        '--since-verified',
        'walk only the rows after the position the last passing check reached (signed); earlier rows are ' +
          'not walked again, so a plain edit or deletion of them needs the full walk',
      ).conflicts('full'),
    )
    .addOption(
      new Option('--full', 'walk the whole chain from genesis (the default)').conflicts('sinceVerified'),
    )
    .option('--json', 'JSON output')
    .action(async (opts: CommonOptions & VerifyFlags) => {
      const config = configFrom(opts);
      if (typeof config.store === 'object') {
        const { verifyPostgresCommand } = await import('./audit-verify-pg.js');
        return verifyPostgresCommand(config, opts.json === true, opts.against);
      }
      const { verifyAudit } = await import('../../audit/verify-all.js');
      const r = await load();
      const progress =
        process.stderr.isTTY && !opts.json
          ? (rows: number) => process.stderr.write(`\rverified ${rows} rows…`)
          : undefined;
      const result = verifyAudit(r.auditPathOf(config), {
        ...(opts.against ? { against: opts.against } : {}),
        ...(progress ? { onProgress: progress } : {}),
        ...(opts.threads ? { threads: opts.threads } : {}),
        ...(opts.sinceVerified ? { sinceVerified: true } : {}),
      });
      if (progress) process.stderr.write('\n');
      if (opts.json) console.log(JSON.stringify(result));
      else {
        for (const note of result.notes) console.log(`note: ${note}`);
        if (result.ok)
          console.log(
            `ok: ${result.chain.rows} rows verified` +
              (result.since ? ` after the verified position (seq ${result.since.seq})` : '') +
              `, ${result.chain.anchoredGaps} purge gaps anchored; ` +
              `chain head seq ${result.chain.head.seq} ${result.chain.head.hash}\n` +
              `ledger: ${result.ledger?.entries ?? 0} entries; ` +
              `checkpoints: ${result.checkpoints.checked} signed, latest ` +
              (result.checkpoints.latest
                ? `seq ${result.checkpoints.latest.seq} at ${new Date(result.checkpoints.latest.time_ms).toISOString()}` +
                  ` (${result.checkpoints.unsignedRows} rows written since)`
                : 'none') +
              (opts.against ? `; the filed checkpoint matches` : ''),
          );
      }
      if (!result.ok)
        throw new SchoolgateError('SG_AUDIT_TAMPERED', `the audit record is broken: ${result.message}`, {
          context: { ...result.firstBreak, rowsVerified: result.chain.rows },
          suggestion:
            'keep a copy of the database, its .checkpoints file and keys/ as they are now (evidence), restore ' +
            'the last good backup beside them, and compare; tell the headteacher',
        });
    });

  const checkpoint = audit.command('checkpoint').description('signed checkpoints of the audit record');
  withCommonOptions(checkpoint.command('export'))
    .description(
      'print the latest signed checkpoint (one line) and the public key that checks it, to file in the weekly review',
    )
    .action(async (opts: CommonOptions) => {
      const config = configFrom(opts);
      const { line, publicKey } =
        typeof config.store === 'object'
          ? await (await import('./audit-verify-pg.js')).exportPostgresCheckpoint(config)
          : (await import('../../audit/verify-all.js')).exportCheckpoint((await load()).auditPathOf(config));
      console.log(line);
      console.log(`public key (Ed25519, SPKI base64): ${publicKey}`);
    });

  withCommonOptions(audit.command('purge'))
    .description(
      'delete rows older than the retention period, except those held by open cases and legal holds ' +
        '(needs --by and --reason; recorded)',
    )
    .option(
      '--retention-days <n>',
      'override reports.retentionDays (not below reports.minimumRetentionDays)',
      positiveInt,
    )
    .option('--by <name>', 'who runs it (kept with the purge record)')
    .option('--reason <text>', 'why now (kept with the purge record)')
    .option(
      '--batch <n>',
      'rows per transaction (default 500; SQLite only: PostgreSQL goes by month)',
      positiveInt,
    )
    .option(
      '--pause-ms <n>',
      'pause between transactions, so the proxy writes in between (default 20)',
      positiveInt,
    )
    .option('--json', 'JSON output')
    .action(
      async (
        opts: CommonOptions & {
          retentionDays?: number;
          by?: string;
          reason?: string;
          batch?: number;
          pauseMs?: number;
          json?: boolean;
        },
      ) => {
        const config = configFrom(opts);
        const retentionDays = opts.retentionDays ?? config.reports.retentionDays;
        const minimum = config.reports.minimumRetentionDays;
        await withAdmin(
          opts,
          'audit purge',
          {
            needsBy: true,
            precheck: (r) =>
              r.purposeMissing(opts.reason)
                ? {
                    code: 'SG_PURGE_REFUSED',
                    reason:
                      'no --reason (a few words at least): a purge deletes records for good, so it says why',
                    suggestion: 'give --reason, e.g. --reason "termly retention run"',
                  }
                : retentionDays < minimum
                  ? {
                      code: 'SG_PURGE_REFUSED',
                      reason: `--retention-days ${retentionDays} is shorter than reports.minimumRetentionDays (${minimum})`,
                      suggestion:
                        'keep the school’s retention, or change reports.minimumRetentionDays in the config',
                    }
                  : null,
          },
          async (r, db, _c, osUser) => {
            const purge = {
              retentionDays,
              timeZone: config.timeZone,
              osUser,
              by: opts.by!,
              reason: opts.reason!.trim(),
            };
            const result =
              typeof config.store === 'object'
                ? await (await import('./audit-purge-pg.js')).purgePostgresCommand(config, r, purge)
                : await r.purgeAudit(db, {
                    ...purge,
                    ...(opts.batch ? { batchRows: opts.batch } : {}),
                    ...(opts.pauseMs ? { pauseMs: opts.pauseMs } : {}),
                  });
            if (opts.json) return console.log(JSON.stringify(result));
            console.log(
              `purge ${result.purgeId}: deleted ${result.deleted} rows older than ` +
                `${new Date(result.cutoffMs).toISOString()}; kept ${result.held} held by open cases and holds ` +
                `(${result.batches} transactions, longest ${result.maxBatchMs.toFixed(1)} ms)`,
            );
            console.log(
              `alerts: deleted ${result.alertsDeleted} whose last request is older than the cutoff; ` +
                `kept ${result.alertsHeld} of people with open cases or holds`,
            );
            const dropped = 'dropped' in result ? (result.dropped as string[]) : [];
            if (dropped.length > 0) console.log(`months dropped whole (no held row): ${dropped.join(', ')}`);
            for (const [day, n] of Object.entries(result.days).sort()) console.log(`  ${day}  ${n}`);
          },
        );
      },
    );

  withCommonOptions(audit.command('purges'))
    .description('every purge that ran: when, who, why, how far back, rows deleted and held')
    .option('--by <name>', 'your name')
    .option('--json', 'JSON output')
    .action(async (opts: CommonOptions & { by?: string; json?: boolean }) => {
      await withAdmin(opts, 'audit purges', { needsBy: true }, async (r, db, config) => {
        const purges =
          typeof config.store === 'object'
            ? await (await import('./audit-purge-pg.js')).listPurgesPostgres(config)
            : r.listPurges(db);
        if (opts.json) return console.log(JSON.stringify(purges));
        if (purges.length === 0) return console.log('no purge has run');
        for (const p of purges)
          console.log(
            `purge ${p.id}  ${r.formatLocal(p.startedMs, config.timeZone, false)}  by ${p.by ?? '(not named)'} ` +
              `(OS user ${p.osUser})  retention ${p.retentionDays} days  deleted ${p.deleted}, held ${p.held}` +
              `${p.finishedMs === null ? '  UNFINISHED' : ''}  reason: ${p.reason ?? '(none given)'}`,
          );
      });
    });
}
