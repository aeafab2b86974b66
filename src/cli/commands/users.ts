/** `schoolgate users`: the users Basic proxy authentication checks against. */
import type { Command } from 'commander';
import { SchoolgateError } from '../../errors.js';
import { UserStore } from '../../identity/user-store.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';

interface AddOptions extends CommonOptions {
  profile: string;
  displayName?: string;
  passwordStdin?: boolean;
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('manage users (Basic proxy authentication)');
  withCommonOptions(users.command('add'))
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
      if (!(opts.profile in config.profiles))
        throw new SchoolgateError('SG_PROFILE_UNKNOWN', `--profile: no profile named "${opts.profile}"`, {
          suggestion: `use one of: ${Object.keys(config.profiles).join(', ')}`,
        });
      const password = opts.passwordStdin ? await readFirstLine() : undefined;
      if (password !== undefined && password.length < 8)
        throw new SchoolgateError('SG_ARGUMENT_INVALID', 'the password must have at least 8 characters', {
          suggestion: 'pipe a longer password to --password-stdin',
        });
      const store = new UserStore(config.dataDir);
      try {
        const user = await store.add({
          name,
          profile: opts.profile,
          ...(opts.displayName ? { displayName: opts.displayName } : {}),
          ...(password !== undefined ? { password } : {}),
        });
        console.log(
          `added user ${user.name} (profile ${user.profile}${password ? ', password set' : ', no password'})`,
        );
      } finally {
        store.close();
      }
    });
  withCommonOptions(users.command('list'))
    .description('list users')
    .option('--json', 'JSON output')
    .action((opts: CommonOptions & { json?: boolean }) => {
      const store = new UserStore(configFrom(opts).dataDir);
      try {
        const list = store.list().map((u) => ({
          name: u.name,
          displayName: u.displayName,
          profile: u.profile,
          disabled: u.disabled,
          hasPassword: u.passwordHash !== null,
        }));
        if (opts.json) console.log(JSON.stringify(list));
        else
          for (const u of list) console.log(`${u.name.padEnd(24)} ${u.profile.padEnd(12)} ${u.displayName}`);
      } finally {
        store.close();
      }
    });
}

async function readFirstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}
