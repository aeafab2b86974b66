/** `schoolgate users`: the users Basic proxy authentication checks against. Every change is recorded. */
import type { Command } from 'commander';
import { basicAuthOffNotice } from '../../identity/modes.js';
import { hashPassword } from '../../identity/password.js';
import {
  addUser,
  checkPassword,
  listUsers,
  needProfile,
  removeUser,
  tellRunningProxy as tellProxyUsersChanged,
} from '../../identity/user-admin.js';
import { publicUser } from '../../identity/user-store.js';
import { withState } from '../../state/store.js';
import { registerSiteCommand } from './site-command.js';
import { registerUsersImport } from './users-import.js';
import {
  configFrom,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';
import { beginPolicyEdit, publishPolicyEdit } from '../policy-edit.js';

type Opts = CommonOptions & ChangeOptions & { json?: boolean };

interface AddOptions extends Opts {
  profile: string;
  displayName?: string;
  passwordStdin?: boolean;
  site?: string;
}

const NOTE =
  'A running proxy takes changes at once, no reload needed: a disabled or removed user, or one with a new\n' +
  'password, is refused on their next request, and their open tunnels and connections are closed.';

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
    .option('--site <name>', 'the school of the trust the user belongs to, e.g. north')
    .addHelpText(
      'after',
      '\nExample:\n  echo "s3cret-Passw0rd" | schoolgate users add j.smith --profile staff --password-stdin',
    )
    .action(async (name: string, opts: AddOptions) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      needProfile(config, opts.profile);
      const password = opts.passwordStdin ? await readFirstLine() : undefined;
      await addUser(
        config,
        { name, profile: opts.profile, displayName: opts.displayName, password, site: opts.site },
        opts,
      );
      console.log(
        `added user ${name} (profile ${opts.profile}${password ? ', password set' : ', no password'})`,
      );
      await publishPolicyEdit(config.dataDir);
      const off = basicAuthOffNotice(config, opts.config);
      if (off) console.error(`warning: ${off}`);
    });

  withCommonOptions(users.command('list'))
    .description('list users')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  schoolgate users list --json')
    .action(async (opts: Opts) => {
      const list = await listUsers(configFrom(opts));
      if (opts.json) console.log(JSON.stringify(list));
      else
        for (const u of list)
          console.log(
            `${u.name.padEnd(24)} ${u.profile.padEnd(12)} ${(u.disabled ? 'disabled' : 'enabled').padEnd(9)} ${(u.site ?? '-').padEnd(10)} ${u.displayName}`,
          );
    });

  withChangeOptions(withCommonOptions(users.command('remove')))
    .description('remove a user (their audit records stay)')
    .argument('<name>')
    .addHelpText('after', '\nExample:\n  schoolgate users remove j.smith --reason "left the school"')
    .action(async (name: string, opts: Opts) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const { revoked } = await removeUser(config, name, opts);
      console.log(`removed user ${name}`);
      if (revoked > 0) console.log('the running proxy closed their open connections');
      await publishPolicyEdit(config.dataDir);
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
        const { dataDir } = configFrom(opts);
        await beginPolicyEdit(dataDir);
        await withState(dataDir, (state) =>
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
        if (disabled) await tellRunningProxy(dataDir);
        await publishPolicyEdit(dataDir);
      });
  }

  withChangeOptions(withCommonOptions(users.command('passwd')))
    .description('set a user’s password from the first line of standard input')
    .argument('<name>')
    .addHelpText('after', '\nExample:\n  echo "new-Passw0rd" | schoolgate users passwd j.smith')
    .action(async (name: string, opts: Opts) => {
      const password = await readFirstLine();
      checkPassword(password);
      const { dataDir } = configFrom(opts);
      await beginPolicyEdit(dataDir);
      await withState(dataDir, async (state) => {
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
      await tellRunningProxy(dataDir);
      await publishPolicyEdit(dataDir);
    });

  registerSiteCommand(users, 'user', 'name', 'j.smith');
  registerUsersImport(users, tellRunningProxy);
}

/** Tells the running proxy its users changed, and says when it closed someone's connections. */
async function tellRunningProxy(dataDir: string): Promise<void> {
  if ((await tellProxyUsersChanged(dataDir)) > 0)
    console.log('the running proxy closed their open connections');
}

export async function readFirstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}
