/** `schoolgate users`: the users Basic proxy authentication checks against. Every change is recorded. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { controlRequest } from '../../app/control.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import { basicAuthOffNotice } from '../../identity/modes.js';
import { hashPassword } from '../../identity/password.js';
import { checkUserName, publicUser } from '../../identity/user-store.js';
import { withState } from '../../state/store.js';
import {
  configFrom,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';

type Opts = CommonOptions & ChangeOptions & { json?: boolean };

interface AddOptions extends Opts {
  profile: string;
  displayName?: string;
  passwordStdin?: boolean;
}

const MIN_PASSWORD = 8;
const NOTE =
  'A running proxy takes changes at once, no reload needed: a disabled or removed user, or one with a new\n' +
  'password, is refused on their next request, and their open tunnels and connections are closed.';

function needProfile(config: ReadonlyConfig, profile: string, where = '--profile'): void {
  if (!(profile in config.profiles))
    throw new SchoolgateError('SG_PROFILE_UNKNOWN', `${where}: no profile named "${profile}"`, {
      suggestion: `use one of: ${Object.keys(config.profiles).join(', ')}`,
    });
}

function checkPassword(password: string, where = 'the password'): void {
  if (password.length < MIN_PASSWORD)
    throw new SchoolgateError(
      'SG_ARGUMENT_INVALID',
      `${where} must have at least ${MIN_PASSWORD} characters`,
      {
        suggestion: 'pipe a longer password to --password-stdin',
      },
    );
}

export function registerUsers(program: Command): void {
  const users = program
    .command('users')
    .description('manage users (Basic proxy authentication)')
    .addHelpText(
      'after',
      `\nExamples:\n  schoolgate users list\n  schoolgate users import mis-export.csv --dry-run\n\n${NOTE}`,
    );

  withChangeOptions(withCommonOptions(users.command('add')))
    .description('add a user with a profile, and a password read from standard input')
    .argument('<name>', 'user name (as typed at the browser prompt)')
    .requiredOption('--profile <name>', 'the user’s profile, e.g. pupil or staff')
    .option('--display-name <text>', 'the person’s name, for reports')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .addHelpText(
      'after',
      '\nExample:\n  echo "s3cret-Passw0rd" | schoolgate users add j.smith --profile staff --password-stdin',
    )
    .action(async (name: string, opts: AddOptions) => {
      const config = configFrom(opts);
      needProfile(config, opts.profile);
      const password = opts.passwordStdin ? await readFirstLine() : undefined;
      if (password !== undefined) checkPassword(password);
      await withState(config.dataDir, async (state) => {
        checkUserName(name);
        const hash = password === undefined ? null : await hashPassword(password);
        state.transaction(() => {
          if (state.users.get(name))
            throw new SchoolgateError('SG_USER_EXISTS', `user "${name}" already exists`, {
              suggestion: 'choose another name, or change this user with `schoolgate users passwd`',
            });
          state.users.insert({
            name,
            profile: opts.profile,
            displayName: opts.displayName ?? '',
            passwordHash: hash,
          });
          state.changes.record({
            action: 'users.add',
            target: `user ${name}`,
            after: publicUser(state.users.get(name)!),
            reason: opts.reason,
            by: opts.by,
          });
        });
      });
      console.log(
        `added user ${name} (profile ${opts.profile}${password ? ', password set' : ', no password'})`,
      );
      const off = basicAuthOffNotice(config, opts.config);
      if (off) console.error(`warning: ${off}`);
    });

  withCommonOptions(users.command('list'))
    .description('list users')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  schoolgate users list --json')
    .action(async (opts: Opts) => {
      const list = await withState(configFrom(opts).dataDir, (s) => s.users.list().map(publicUser));
      if (opts.json) console.log(JSON.stringify(list));
      else
        for (const u of list)
          console.log(
            `${u.name.padEnd(24)} ${u.profile.padEnd(12)} ${(u.disabled ? 'disabled' : 'enabled').padEnd(9)} ${u.displayName}`,
          );
    });

  withChangeOptions(withCommonOptions(users.command('remove')))
    .description('remove a user (their audit records stay)')
    .argument('<name>')
    .addHelpText('after', '\nExample:\n  schoolgate users remove j.smith --reason "left the school"')
    .action(async (name: string, opts: Opts) => {
      await withState(configFrom(opts).dataDir, (state) =>
        state.transaction(() => {
          const before = state.users.remove(name);
          state.changes.record({
            action: 'users.remove',
            target: `user ${name}`,
            before: publicUser(before),
            reason: opts.reason,
            by: opts.by,
          });
        }),
      );
      console.log(`removed user ${name}`);
      await tellRunningProxy(configFrom(opts).dataDir);
    });

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    withChangeOptions(withCommonOptions(users.command(verb)))
      .description(
        `${verb} a user: ${disabled ? 'their credentials stop working and their open connections close' : 'their credentials work again'}`,
      )
      .argument('<name>')
      .addHelpText(
        'after',
        `\nExample:\n  schoolgate users ${verb} j.smith --reason "suspected account sharing"`,
      )
      .action(async (name: string, opts: Opts) => {
        await withState(configFrom(opts).dataDir, (state) =>
          state.transaction(() => {
            const { before, after } = state.users.update(name, { disabled });
            state.changes.record({
              action: `users.${verb}`,
              target: `user ${name}`,
              before: publicUser(before),
              after: publicUser(after),
              reason: opts.reason,
              by: opts.by,
            });
          }),
        );
        console.log(`${verb}d user ${name}`);
        if (disabled) await tellRunningProxy(configFrom(opts).dataDir);
      });
  }

  withChangeOptions(withCommonOptions(users.command('passwd')))
    .description('set a user’s password from the first line of standard input')
    .argument('<name>')
    .addHelpText('after', '\nExample:\n  echo "new-Passw0rd" | schoolgate users passwd j.smith')
    .action(async (name: string, opts: Opts) => {
      const password = await readFirstLine();
      checkPassword(password);
      await withState(configFrom(opts).dataDir, async (state) => {
        state.users.require(name);
        const hash = await hashPassword(password);
        state.transaction(() => {
          const { before, after } = state.users.update(name, { passwordHash: hash });
          // Never the hash itself: only whether one was set.
          state.changes.record({
            action: 'users.passwd',
            target: `user ${name}`,
            before: { hasPassword: before.passwordHash !== null },
            after: { hasPassword: after.passwordHash !== null },
            reason: opts.reason,
            by: opts.by,
          });
        });
      });
      console.log(`password set for ${name}`);
      await tellRunningProxy(configFrom(opts).dataDir);
    });

  withChangeOptions(withCommonOptions(users.command('import')))
    .description('add or update users from a CSV: username, display name, profile[, password]')
    .argument('<csv>', 'a CSV file (a header row naming username is skipped)')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      '\nThe usual source is a management-information-system export. Every row is checked first: one bad\nrow changes nothing. Rows without a password keep the user’s current one.\n\nExample:\n  schoolgate users import year7.csv --dry-run\n  schoolgate users import year7.csv --reason "September intake"',
    )
    .action(async (file: string, opts: Opts & { dryRun?: boolean }) => {
      const config = configFrom(opts);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new SchoolgateError(
          'SG_FILE_UNREADABLE',
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
          {
            context: { file },
            suggestion: 'check the path and the permissions',
          },
        );
      }
      const rows = parseUsersCsv(text, file, config);
      const plan = await withState(config.dataDir, async (state) => {
        const changes: {
          name: string;
          change: 'add' | 'update' | 'unchanged';
          row: CsvUser;
          hash?: string;
        }[] = [];
        for (const row of rows) {
          const existing = state.users.get(row.name);
          const change = !existing
            ? 'add'
            : existing.profile !== row.profile ||
                existing.displayName !== row.displayName ||
                row.password !== undefined
              ? 'update'
              : 'unchanged';
          changes.push({ name: row.name, change, row });
        }
        if (opts.dryRun) return changes;
        for (const c of changes)
          if (c.row.password !== undefined) c.hash = await hashPassword(c.row.password);
        state.transaction(() => {
          for (const c of changes) {
            if (c.change === 'unchanged') continue;
            const fields = {
              profile: c.row.profile,
              displayName: c.row.displayName,
              ...(c.hash ? { passwordHash: c.hash } : {}),
            };
            if (c.change === 'add') {
              state.users.insert({ name: c.name, ...fields, passwordHash: c.hash ?? null });
              state.changes.record({
                action: 'users.import',
                target: `user ${c.name}`,
                after: publicUser(state.users.get(c.name)!),
                reason: opts.reason,
                by: opts.by,
              });
            } else {
              const { before, after } = state.users.update(c.name, fields);
              state.changes.record({
                action: 'users.import',
                target: `user ${c.name}`,
                before: publicUser(before),
                after: publicUser(after),
                reason: opts.reason,
                by: opts.by,
              });
            }
          }
        });
        return changes;
      });
      if (!opts.dryRun && plan.some((p) => p.change === 'update' && p.row.password !== undefined))
        await tellRunningProxy(config.dataDir);
      const count = (k: string) => plan.filter((p) => p.change === k).length;
      const summary = {
        dryRun: opts.dryRun ?? false,
        add: count('add'),
        update: count('update'),
        unchanged: count('unchanged'),
      };
      const off = summary.add > 0 ? basicAuthOffNotice(config, opts.config) : null;
      if (opts.json)
        return void console.log(
          JSON.stringify({
            ...summary,
            ...(off ? { basicAuthOff: off } : {}),
            users: plan.map((p) => ({ name: p.name, change: p.change, profile: p.row.profile })),
          }),
        );
      for (const p of plan)
        if (p.change !== 'unchanged')
          console.log(`${opts.dryRun ? 'would ' : ''}${p.change} ${p.name} (${p.row.profile})`);
      console.log(
        `${opts.dryRun ? 'dry run: ' : ''}${summary.add} to add, ${summary.update} to update, ${summary.unchanged} unchanged`,
      );
      if (off) console.error(`warning: ${off}`);
    });
}

interface CsvUser {
  name: string;
  displayName: string;
  profile: string;
  password?: string;
}

/** RFC 4180 fields (quotes, doubled quotes, commas inside quotes); every row checked, errors name the line. */
export function parseUsersCsv(text: string, file: string, config: ReadonlyConfig): CsvUser[] {
  const out: CsvUser[] = [];
  const seen = new Set<string>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    if (line.trim() === '' || line.startsWith('#')) return;
    const fields = splitCsvLine(line);
    const bad = (why: string): never => {
      throw new SchoolgateError('SG_CSV_INVALID', `${file}:${lineNo}: ${why}; nothing was changed`, {
        context: { file, line: lineNo },
        suggestion: 'columns are: username, display name, profile, optional password',
      });
    };
    if (fields === undefined) bad('unbalanced quotes');
    const f = fields!.map((x) => x.trim());
    if (out.length === 0 && seen.size === 0 && /^user(name)?$/i.test(f[0] ?? '')) return; // header
    if (f.length < 3 || f.length > 4) bad(`expected 3 or 4 columns, found ${f.length}`);
    const [name = '', displayName = '', profile = '', password] = f;
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name))
      bad(`user name "${name}" is not allowed (letters, digits, . _ @ -)`);
    if (seen.has(name)) bad(`user "${name}" appears twice`);
    if (!(profile in config.profiles))
      bad(`no profile named "${profile}" (profiles: ${Object.keys(config.profiles).join(', ')})`);
    if (password !== undefined && password !== '' && password.length < MIN_PASSWORD)
      bad(`the password of "${name}" has fewer than ${MIN_PASSWORD} characters`);
    seen.add(name);
    out.push({ name, displayName, profile, ...(password ? { password } : {}) });
  });
  return out;
}

function splitCsvLine(line: string): string[] | undefined {
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur.trim() === '') {
      quoted = true;
      cur = '';
    } else if (ch === ',') {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) return undefined;
  fields.push(cur);
  return fields;
}

/**
 * Asks the proxy running on this data directory to re-read its users now, so a revoked user's open
 * tunnels and keep-alive connections close before this command returns. Best effort: with no proxy running
 * there is nothing to close, and a proxy that cannot be reached notices by itself within seconds.
 */
async function tellRunningProxy(dataDir: string): Promise<void> {
  try {
    const { revoked } = await controlRequest<{ revoked: number }>(dataDir, 'users-changed', {}, 10_000);
    if (revoked > 0) console.log('the running proxy closed their open connections');
  } catch {
    // Not running, or an older proxy without `users-changed`: its own poll closes them.
  }
}

async function readFirstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}
