/** `schoolgate hold add | release | list`: legal holds, kept from purging independent of any case. */
import type { Command } from 'commander';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { sqliteHoldStore, type HoldStore } from '../../audit/hold-store.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';
import {
  parseSubjects,
  withAdmin,
  withSubjectOptions,
  type Reports,
  type SubjectOptions,
} from './admin-access.js';
import { withAdminBackend, type AdminBackend } from './pg-admin.js';

interface HoldOptions extends CommonOptions, SubjectOptions {
  by?: string;
  reason?: string;
  all?: boolean;
  json?: boolean;
}

async function pgHolds(pool: pg.Pool): Promise<HoldStore> {
  return (await import('../../audit/postgres/holds.js')).pgHoldStore(pool);
}

const withHolds = <T>(opts: HoldOptions, run: (backend: AdminBackend<HoldStore>) => Promise<T>) =>
  withAdminBackend(
    configFrom(opts),
    (_r: Reports, db: Database.Database) => sqliteHoldStore(db),
    pgHolds,
    run,
  );

export function registerHold(program: Command): void {
  const hold = program
    .command('hold')
    .description('legal holds: records kept from purging until released, whether or not a case is open');

  withSubjectOptions(withCommonOptions(hold.command('add')), 'whose records are held')
    .description('hold the records of users, devices or addresses (a police referral, a tribunal)')
    .option('--reason <text>', 'why (kept with the hold)')
    .option('--by <name>', 'your name')
    .action(async (opts: HoldOptions) => {
      const { subjects, label } = await parseSubjects(opts);
      await withHolds(opts, async (holds) => {
        const precheck = await holds.precheck(subjects);
        await withAdmin(
          opts,
          'hold add',
          { subject: label, needsBy: true, precheck: (r, db) => precheck(r, db) },
          async (r, db, _c, osUser, now) => {
            for (const h of await holds
              .at(r, db)
              .add({ subjects, reason: opts.reason, by: opts.by!, osUser, now }))
              console.log(`hold ${h.id} placed on ${h.kind === 'user' ? h.value : `${h.kind} ${h.value}`}`);
          },
        );
      });
    });

  withCommonOptions(hold.command('release'))
    .description('release a hold (it stays on record with who released it and why)')
    .argument('<id>', 'the hold (hold list)')
    .option('--reason <text>', 'why it is released')
    .option('--by <name>', 'your name')
    .action(async (id: string, opts: HoldOptions) => {
      await withHolds(opts, (holds) =>
        withAdmin(opts, 'hold release', { needsBy: true }, async (r, db, _c, osUser, now) => {
          const h = await holds
            .at(r, db)
            .release({ id: Number(id), reason: opts.reason, by: opts.by!, osUser, now });
          console.log(`hold ${h.id} on ${h.value} released`);
        }),
      );
    });

  withCommonOptions(hold.command('list'))
    .description('standing holds (--all: released ones too; needs --by, --reason)')
    .option('--all', 'include released holds')
    .option('--by <name>', 'your name (required)')
    .option('--reason <purpose>', 'why you are reading the holds, kept in the access record (required)')
    .option('--json', 'JSON output')
    .action(async (opts: HoldOptions) => {
      const fields = { needsBy: true, needsPurpose: true, format: opts.json ? 'json' : 'text' };
      await withHolds(opts, (backend) =>
        withAdmin(opts, 'hold list', fields, async (r, db, config) => {
          const holds = await backend.at(r, db).list({ all: opts.all ?? false });
          if (opts.json) return console.log(JSON.stringify(holds));
          if (holds.length === 0) return console.log(opts.all ? 'no holds' : 'no standing holds');
          for (const h of holds)
            console.log(
              `${h.id}\t${h.kind === 'user' ? h.value : `${h.kind} ${h.value}`}\t` +
                `placed ${r.formatLocal(h.createdMs, config.timeZone, false)} by ${h.by}: ${h.reason}` +
                (h.releasedMs !== null
                  ? `\treleased ${r.formatLocal(h.releasedMs, config.timeZone, false)} by ${h.releasedBy}: ${h.releaseReason}`
                  : ''),
            );
        }),
      );
    });
}
