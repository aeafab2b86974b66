/** `schoolgate audit verify | purge`: tamper evidence and retention for the audit log. */
import type { Command } from 'commander';
import { SchoolgateError } from '../../errors.js';
import { configFrom, positiveInt, withCommonOptions, type CommonOptions } from '../common.js';

/** The audit/reports modules, loaded when an audit command runs (not at start-up). */
const load = () => import('../../reports/index.js');

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit log: tamper check and retention');

  withCommonOptions(audit.command('verify'))
    .description('walk the hash chain over every audit row; report the first break and exit non-zero')
    .option('--json', 'JSON output')
    .action(async (opts: CommonOptions & { json?: boolean }) => {
      const r = await load();
      const config = configFrom(opts);
      const admin = r.openAdmin(config); // migrates an older schema, records the result
      try {
        const db = r.openReadOnly(r.auditPathOf(config));
        let result;
        try {
          result = r.verifyChain(db);
        } finally {
          db.close();
        }
        const firstBreak = result.firstBreak
          ? `seq ${result.firstBreak.seq ?? '?'} (ref ${result.firstBreak.id ?? '?'}): ${result.firstBreak.reason}`
          : null;
        admin
          .prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('last_verify', ?)`)
          .run(JSON.stringify({ atMs: Date.now(), ok: result.ok, rows: result.rows, firstBreak }));
        if (opts.json) console.log(JSON.stringify(result));
        else if (result.ok)
          console.log(
            `ok: ${result.rows} rows verified, ${result.anchoredGaps} purge gaps anchored; ` +
              `chain head seq ${result.head.seq} ${result.head.hash}`,
          );
        if (!result.ok)
          throw new SchoolgateError('SG_AUDIT_TAMPERED', `the audit chain is broken at ${firstBreak}`, {
            context: { ...result.firstBreak, rowsVerified: result.rows },
            suggestion:
              'keep a copy of the database as it is now (evidence), restore the last good backup beside it, ' +
              'and compare; tell the headteacher',
          });
      } finally {
        admin.close();
      }
    });

  withCommonOptions(audit.command('purge'))
    .description('delete rows older than the retention period, except those held by open cases')
    .option('--retention-days <n>', 'override reports.retentionDays', positiveInt)
    .option('--by <name>', 'who runs it (kept with the purge record)')
    .option('--batch <n>', 'rows per transaction (default 500)', positiveInt)
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
          batch?: number;
          pauseMs?: number;
          json?: boolean;
        },
      ) => {
        const r = await load();
        const config = configFrom(opts);
        const db = r.openAdmin(config);
        try {
          const result = await r.purgeAudit(db, {
            retentionDays: opts.retentionDays ?? config.reports.retentionDays,
            timeZone: config.timeZone,
            osUser: r.currentOsUser(),
            by: opts.by ?? null,
            ...(opts.batch ? { batchRows: opts.batch } : {}),
            ...(opts.pauseMs ? { pauseMs: opts.pauseMs } : {}),
          });
          if (opts.json) return console.log(JSON.stringify(result));
          console.log(
            `purge ${result.purgeId}: deleted ${result.deleted} rows older than ` +
              `${new Date(result.cutoffMs).toISOString()}; kept ${result.held} held by open cases ` +
              `(${result.batches} transactions, longest ${result.maxBatchMs.toFixed(1)} ms)`,
          );
          console.log(
            `alerts: deleted ${result.alertsDeleted} whose last request is older than the cutoff; ` +
              `kept ${result.alertsHeld} of people with open cases`,
          );
          for (const [day, n] of Object.entries(result.days).sort()) console.log(`  ${day}  ${n}`);
        } finally {
          db.close();
        }
      },
    );
}
