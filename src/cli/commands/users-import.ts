/**
 * `schoolgate users import <csv>`: users from the exports schools have (SIMS, Arbor, Bromcom, Google
 * Workspace, Microsoft 365) or the plain `username, display name, profile[, password]` file. An export's
 * year / group / OU / department column picks the profile through --map and identity.importMap; people who
 * cannot be imported are skipped and counted by reason. Everything is planned first, then written in one
 * transaction, each change in the admin-changes record.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { SchoolgateError } from '../../errors.js';
import { basicAuthOffNotice } from '../../identity/modes.js';
import { IMPORT_FORMATS, type ImportFormat } from '../../identity/import/formats.js';
import { skippedSummary } from '../../identity/import/plan.js';
import { importUsers, type PlannedUser } from '../../identity/import/run.js';
import {
  configFrom,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';
import { beginPolicyEdit, publishPolicyEdit } from '../policy-edit.js';

type ImportOptions = CommonOptions &
  ChangeOptions & { json?: boolean; dryRun?: boolean; format: ImportFormat | 'auto'; map: string[] };
type Change = PlannedUser['change'];

export function registerUsersImport(
  users: Command,
  tellRunningProxy: (dataDir: string) => Promise<void>,
): void {
  withChangeOptions(withCommonOptions(users.command('import')))
    .description('add or update users from a school export or a plain CSV (username, display name, profile)')
    .argument('<csv>', 'a CSV file: an MIS / Google Workspace / Microsoft 365 export, or the plain format')
    .addOption(
      new Option('--format <format>', 'the kind of export (auto: from its header row)')
        .choices(IMPORT_FORMATS)
        .default('auto'),
    )
    .option(
      '--map <group=profile>',
      'the profile for a year / group / OU / department value (repeat; adds to identity.importMap)',
      (value: string, prev: string[]) => [...prev, value],
      [] as string[],
    )
    .option('--dry-run', 'show what would change, change nothing')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      '\nFormats: sims, arbor, bromcom (MIS exports with a Username or Email column and a Year / Reg / Tutor\n' +
        'Group column), google (Admin console → Users → Download: Email Address, Org Unit Path), m365 (Admin\n' +
        'center → Active users → Export: User principal name, Department), plain (username, display name,\n' +
        'profile[, password]; one bad row changes nothing). Rows of an export that cannot be imported (no\n' +
        'user name, a group with no profile, suspended or blocked accounts, duplicates) are skipped and\n' +
        'counted by reason. An OU path falls back to its nearest mapped parent (/Pupils covers /Pupils/Year 7).\n\n' +
        'Examples:\n  schoolgate users import year7.csv --dry-run\n' +
        '  schoolgate users import sims.csv --map "Year 7=pupil" --map "Year 8=pupil" --dry-run\n' +
        '  schoolgate users import google-users.csv --map /Pupils=pupil --map /Staff=staff --reason "September intake"',
    )
    .action(async (file: string, opts: ImportOptions) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const { format, plan, skipped } = await importUsers(config, readSource(file), opts);
      if (!opts.dryRun && plan.some((p) => p.change === 'update' && p.row.password !== undefined))
        await tellRunningProxy(config.dataDir);
      if (!opts.dryRun && plan.some((p) => p.change !== 'unchanged')) await publishPolicyEdit(config.dataDir);
      const count = (k: Change) => plan.filter((p) => p.change === k).length;
      const summary = {
        dryRun: opts.dryRun ?? false,
        format,
        add: count('add'),
        update: count('update'),
        unchanged: count('unchanged'),
        skipped: skipped.length,
        skippedBy: skippedSummary(skipped),
      };
      const off = summary.add > 0 ? basicAuthOffNotice(config, opts.config) : null;
      if (opts.json)
        return void console.log(
          JSON.stringify({
            ...summary,
            ...(off ? { basicAuthOff: off } : {}),
            users: plan.map((p) => ({ name: p.row.name, change: p.change, profile: p.row.profile })),
            skippedRows: skipped,
          }),
        );
      for (const p of plan)
        if (p.change !== 'unchanged')
          console.log(`${opts.dryRun ? 'would ' : ''}${p.change} ${p.row.name} (${p.row.profile})`);
      for (const s of skipped)
        console.log(`skip line ${s.line} ${s.name || '(no name)'}: ${s.reason} (${s.detail})`);
      console.log(
        `${opts.dryRun ? 'dry run: ' : ''}${format}: ${summary.add} to add, ${summary.update} to update, ${summary.unchanged} unchanged, ${summary.skipped} skipped`,
      );
      for (const [reason, s] of Object.entries(summary.skippedBy))
        console.log(`  skipped ${reason}: ${s.count}${s.groups ? ` (${s.groups.join(', ')})` : ''}`);
      if (off) console.error(`warning: ${off}`);
    });
}

/** The file's text, or SG_FILE_UNREADABLE naming it. */
function readSource(file: string): { text: string; name: string } {
  try {
    return { text: readFileSync(file, 'utf8'), name: file };
  } catch (err) {
    throw new SchoolgateError(
      'SG_FILE_UNREADABLE',
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { context: { file }, suggestion: 'check the path and the permissions' },
    );
  }
}
