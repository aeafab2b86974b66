/**
 * `schoolgate exceptions`: a profile's explicit allow and deny entries, kept in the local layer and added to
 * the config file's own. They come before every category (deny beats allow). Each change is recorded with
 * its reason — the DfE standards ask schools to document why a site is blocked or allowed.
 */
import { Argument, type Command } from 'commander';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import { parseCliEntry } from '../../lists/entry.js';
import {
  EXCEPTION_KINDS,
  editExceptions,
  readExceptions,
  type ExceptionKind,
} from '../../lists/exceptions.js';
import { withState } from '../../state/store.js';
import {
  configFrom,
  reloadAfterChange,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';

type Opts = CommonOptions & ChangeOptions & { json?: boolean };

function needProfile(config: ReadonlyConfig, profile: string): void {
  if (!(profile in config.profiles))
    throw new SchoolgateError('SG_PROFILE_UNKNOWN', `no profile named "${profile}"`, {
      suggestion: `use one of: ${Object.keys(config.profiles).join(', ')}`,
    });
}

export function registerExceptions(program: Command): void {
  const ex = program
    .command('exceptions')
    .description('a profile’s explicit allow/deny entries, which come before every category')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate exceptions add pupil allow www.bbc.co.uk/bitesize --reason "GCSE revision"\n  schoolgate exceptions add staff deny game.example --reason "head\'s instruction"\n  schoolgate exceptions list --json',
    );
  for (const op of ['add', 'remove'] as const) {
    withChangeOptions(withCommonOptions(ex.command(op)))
      .description(
        `${op} explicit ${op === 'add' ? 'entries to' : 'entries from'} a profile; reloads a running proxy`,
      )
      .argument('<profile>')
      .addArgument(new Argument('<kind>', 'allow or deny').choices(EXCEPTION_KINDS))
      .argument('<entry...>', 'domain (example.com) or URL prefix without scheme (example.com/path)')
      .option('--json', 'JSON output')
      .addHelpText(
        'after',
        `\nExample:\n  schoolgate exceptions ${op} pupil allow www.bbc.co.uk/bitesize --reason "GCSE revision"`,
      )
      .action(async (profile: string, kind: ExceptionKind, raw: string[], opts: Opts) => {
        const config = configFrom(opts);
        needProfile(config, profile);
        const entries = raw.map((r) => parseCliEntry(r));
        const results = await editExceptions(config.dataDir, profile, kind, op, entries);
        const changed = results.filter((r) => r.outcome === 'added' || r.outcome === 'removed');
        if (changed.length > 0)
          await withState(config.dataDir, (s) =>
            s.transaction(() => {
              for (const r of changed)
                s.changes.record({
                  action: `exceptions.${op}`,
                  target: `profile ${profile} ${kind}: ${r.entry}`,
                  before: op === 'add' ? null : { [kind]: r.entry },
                  after: op === 'add' ? { [kind]: r.entry } : null,
                  reason: opts.reason,
                  by: opts.by,
                });
            }),
          );
        if (!opts.json)
          for (const r of results)
            console.log(`${r.outcome.padEnd(10)} ${kind} ${r.entry} (profile ${profile})`);
        const reload =
          changed.length > 0 ? await reloadAfterChange(config.dataDir, opts.json) : { reloaded: false };
        if (opts.json) console.log(JSON.stringify({ profile, kind, results, ...reload }));
        if (op === 'remove' && changed.length === 0) process.exitCode = 1;
      });
  }
  withCommonOptions(ex.command('list'))
    .description('every profile’s exceptions: from the config file and from `exceptions add`')
    .option('--profile <name>', 'only this profile')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  schoolgate exceptions list --profile pupil')
    .action(async (opts: Opts & { profile?: string }) => {
      const config = configFrom(opts);
      if (opts.profile) needProfile(config, opts.profile);
      const local = await readExceptions(config.dataDir);
      const rows: { profile: string; kind: ExceptionKind; entry: string; source: 'config' | 'cli' }[] = [];
      for (const [name, p] of Object.entries(config.profiles)) {
        if (opts.profile && name !== opts.profile) continue;
        for (const kind of EXCEPTION_KINDS) {
          for (const entry of p[kind]) rows.push({ profile: name, kind, entry, source: 'config' });
          for (const entry of local.get(name)?.[kind] ?? [])
            rows.push({ profile: name, kind, entry, source: 'cli' });
        }
      }
      if (opts.json) return void console.log(JSON.stringify(rows));
      for (const r of rows)
        console.log(`${r.profile.padEnd(12)} ${r.kind.padEnd(6)} ${r.source.padEnd(7)} ${r.entry}`);
    });
}
