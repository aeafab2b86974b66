/**
 * `schoolgate exceptions`: a site allowed or blocked for one user, one profile or everyone, until an
 * optional end. Exceptions come before profile entries, time windows and categories; between themselves
 * the most specific scope wins (user > profile > everyone), then block over allow (src/policy/exceptions.ts).
 * Each add and remove is in the admin-changes record with who asked and why: the DfE standards ask schools
 * to document why a site is blocked or allowed.
 */
import { type Command, Option } from 'commander';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import { parseCliEntry } from '../../lists/entry.js';
import { migrateLegacyExceptions } from '../../lists/exceptions.js';
import { describeScope, type ExceptionScope } from '../../policy/exceptions.js';
import { addException, removeException, type StoredException } from '../../state/exceptions.js';
import { withState, type StateStore } from '../../state/store.js';
import { EXPIRES_HELP, parseExpiry } from '../expiry.js';
import {
  configFrom,
  positiveInt,
  reloadAfterChange,
  withCommonOptions,
  type CommonOptions,
} from '../common.js';
import { beginPolicyEdit } from '../policy-edit.js';

interface AddOptions extends CommonOptions {
  allow?: boolean;
  block?: boolean;
  user?: string;
  profile?: string;
  everyone?: boolean;
  expires?: string;
  reason?: string;
  by?: string;
  json?: boolean;
}

export function needProfile(config: ReadonlyConfig, profile: string): void {
  if (!Object.hasOwn(config.profiles, profile))
    throw new SchoolgateError('SG_PROFILE_UNKNOWN', `no profile named "${profile}"`, {
      suggestion: `use one of: ${Object.keys(config.profiles).join(', ')}`,
    });
}

export function needText(value: string | undefined, option: string, example: string): string {
  const text = value?.trim() ?? '';
  if (text === '')
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `${option} is required`, {
      suggestion: `e.g. ${option} ${example}`,
    });
  if (text.length > 500 || /\p{Cc}/u.test(text))
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `${option} must be one line of at most 500 characters`, {
      suggestion: `e.g. ${option} ${example}`,
    });
  return text;
}

function scopeOf(
  config: ReadonlyConfig,
  opts: Pick<AddOptions, 'user' | 'profile' | 'everyone'>,
): ExceptionScope {
  const given = [opts.user !== undefined, opts.profile !== undefined, opts.everyone === true].filter(Boolean);
  if (given.length !== 1)
    throw new SchoolgateError(
      'SG_ARGUMENT_INVALID',
      'say whom it covers: one of --user, --profile, --everyone',
      {
        suggestion: 'e.g. --user j.smith, --profile pupil, or --everyone',
      },
    );
  if (opts.profile !== undefined) {
    needProfile(config, opts.profile);
    return { kind: 'profile', name: opts.profile };
  }
  if (opts.user !== undefined) return { kind: 'user', name: needText(opts.user, '--user', 'j.smith') };
  return { kind: 'everyone' };
}

/** A user exception for a name this proxy does not know applies to nobody until that name signs in. */
function unknownUserWarning(state: StateStore, config: ReadonlyConfig, scope: ExceptionScope): string | null {
  if (scope.kind !== 'user') return null;
  const devices = [...state.addresses.devices(), ...config.identity.devices];
  if (state.users.get(scope.name) || devices.some((d) => d.user === scope.name)) return null;
  return `no user or device user named "${scope.name}" is known here: the exception applies once that name signs in`;
}

export function exceptionLine(e: StoredException): string {
  const until = e.expiresAt ?? 'no end';
  const state = e.removedAt ? ` removed ${e.removedAt} by ${e.removedBy ?? '?'}` : '';
  return `${String(e.id).padStart(4)} ${e.action.padEnd(5)} ${e.site} for ${describeScope(e.scope)}, until ${until}; by ${e.createdBy} ${e.createdAt}: ${e.reason}${state}`;
}

/** What `exceptions add` does (the console's too): checked, stored, in the admin-changes record. No reload. */
export async function addExceptionFor(
  config: ReadonlyConfig,
  site: string,
  opts: Omit<AddOptions, keyof CommonOptions | 'json'>,
  now = Date.now(),
): Promise<{ stored: StoredException; warning: string | null }> {
  if (opts.allow === opts.block)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', 'say what it does: --allow or --block', {
      suggestion: 'e.g. schoolgate exceptions add example.com --allow --profile pupil ...',
    });
  const scope = scopeOf(config, opts);
  const entry = parseCliEntry(site);
  const reason = needText(opts.reason, '--reason', '"GCSE revision"');
  const by = needText(opts.by, '--by', '"Mr Jones"');
  const expiresAt = opts.expires ? parseExpiry(opts.expires, now, config.timeZone) : null;
  return withState(config.dataDir, async (state) => {
    await migrateLegacyExceptions(config.dataDir, state);
    const action = opts.allow ? ('allow' as const) : ('block' as const);
    const stored = addException(state, { site: entry.text, action, scope, reason, by, expiresAt }, now);
    return { stored, warning: unknownUserWarning(state, config, scope) };
  });
}

/** What `exceptions remove` does: the exception ends (kept in the record, with who and why). No reload. */
export async function removeExceptionFor(
  config: ReadonlyConfig,
  id: number,
  byText: string | undefined,
  reason: string | undefined,
): Promise<StoredException> {
  const by = needText(byText, '--by', '"Mr Jones"');
  return withState(config.dataDir, async (state) => {
    await migrateLegacyExceptions(config.dataDir, state);
    return removeException(state, id, by, reason?.trim() || undefined);
  });
}

/** What `exceptions list` shows: those in force now, or with `all` also the expired and removed ones. */
export async function listExceptions(config: ReadonlyConfig, all: boolean): Promise<StoredException[]> {
  return withState(config.dataDir, async (state) => {
    await migrateLegacyExceptions(config.dataDir, state);
    return all ? state.exceptions.list({ all: true }) : state.exceptions.list({ now: new Date() });
  });
}

export function registerExceptions(program: Command): void {
  const ex = program
    .command('exceptions')
    .description('sites allowed or blocked for one user, a profile or everyone, until an optional end')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate exceptions add youtube.com --allow --user j.smith --expires 2w --reason "supervised project" --by "Mr Jones"\n  schoolgate exceptions add revise.example --allow --profile year11 --expires 2026-06-30 --reason "exam season" --by IT\n  schoolgate exceptions list --json\n  schoolgate exceptions remove 12 --by IT',
    );

  withCommonOptions(ex.command('add'))
    .description('add an exception; reloads a running proxy')
    .argument('<site>', 'domain (example.com) or URL prefix without scheme (example.com/path)')
    .addOption(new Option('--allow', 'allow the site').conflicts('block'))
    .addOption(new Option('--block', 'block the site'))
    .addOption(new Option('--user <name>', 'for this user').conflicts(['profile', 'everyone']))
    .addOption(new Option('--profile <name>', 'for everyone with this profile').conflicts('everyone'))
    .option('--everyone', 'for everyone')
    .option('--expires <when>', EXPIRES_HELP)
    .option('--reason <text>', 'why (required; kept with the exception and in the admin-changes record)')
    .option('--by <name>', 'who asked for it (required)')
    .option('--json', 'JSON output')
    .action(async (site: string, opts: AddOptions) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const { stored, warning } = await addExceptionFor(config, site, opts);
      if (warning) console.error(`warning: ${warning}`);
      if (!opts.json) console.log(`added ${exceptionLine(stored)}`);
      const reload = await reloadAfterChange(config.dataDir, opts.json);
      if (opts.json) console.log(JSON.stringify({ exception: stored, ...reload }));
    });

  withCommonOptions(ex.command('remove'))
    .description('remove an exception by its id (it stays in the record); reloads a running proxy')
    .argument('<id>', 'the id `exceptions list` shows', positiveInt)
    .option('--by <name>', 'who asked for it (required)')
    .option('--reason <text>', 'why')
    .option('--json', 'JSON output')
    .action(async (id: number, opts: CommonOptions & { by?: string; reason?: string; json?: boolean }) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const removed = await removeExceptionFor(config, id, opts.by, opts.reason);
      if (!opts.json) console.log(`removed ${exceptionLine(removed)}`);
      const reload = await reloadAfterChange(config.dataDir, opts.json);
      if (opts.json) console.log(JSON.stringify({ exception: removed, ...reload }));
    });

  withCommonOptions(ex.command('list'))
    .description('exceptions in force: id, site, whom it covers, until when, who added it, when and why')
    .option('--all', 'also the expired and removed ones')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  schoolgate exceptions list --json')
    .action(async (opts: CommonOptions & { all?: boolean; json?: boolean }) => {
      const config = configFrom(opts);
      const rows = await listExceptions(config, opts.all === true);
      if (opts.json) return void console.log(JSON.stringify(rows));
      if (rows.length === 0) console.log('no exceptions');
      for (const r of rows) console.log(exceptionLine(r));
    });
}
