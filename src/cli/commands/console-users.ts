/**
 * `schoolgate console users add|enrol|list|remove`: the people who sign in to the web console, each with a
 * role (`enrol --directory`: a directory person's second factor, console.directory).
 * `add` prints the TOTP secret and otpauth URI once (headteacher, DSL, auditor); without --password-stdin it
 * makes a random password and prints it once. Every change is in the admin-changes record.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { ConsoleAccounts, ROLES } from '../../console/accounts.js';
import { checkSiteName } from '../../identity/site.js';
import { totpUri } from '../../console/totp.js';
import { withState } from '../../state/store.js';
import {
  configFrom,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';
import { readFirstLine } from './users.js';
import { beginPolicyEdit, publishPolicyEdit } from '../policy-edit.js';

type Opts = CommonOptions & ChangeOptions & { json?: boolean };

export function registerConsole(program: Command): void {
  const users = program
    .command('console')
    .description('the web console (HTTPS, started by serve)')
    .command('users')
    .description('console accounts: people with a role (headteacher, dsl, technician, auditor)');

  withChangeOptions(withCommonOptions(users.command('add')))
    .description('add a console account; prints its authenticator secret once (all roles but technician)')
    .argument('<name>', 'the person’s sign-in name, e.g. a.head')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--site <name>', 'limit the account to one school of the trust (its alerts, reviews, people)')
    .option(
      '--password-stdin',
      'read the password from the first line of standard input (else one is made and printed once)',
    )
    .addHelpText(
      'after',
      '\nExample:\n  echo "long pass phrase here" | schoolgate console users add a.head --role headteacher --password-stdin',
    )
    .action(async (name: string, opts: Opts & { role: string; passwordStdin?: boolean; site?: string }) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const site = opts.site === undefined ? null : checkSiteName(opts.site);
      const password = opts.passwordStdin ? await readFirstLine() : randomBytes(15).toString('base64url');
      const secret = await withState(config.dataDir, async (s) => {
        const made = await new ConsoleAccounts(s.db).add(name, opts.role, password, Date.now(), site);
        s.changes.record({
          action: 'console.users.add',
          target: `console user ${name}`,
          after: { role: opts.role, ...(site ? { site } : {}) },
          reason: opts.reason,
          by: opts.by,
        });
        return made;
      });
      console.log(`added console account ${name} (${opts.role}${site ? `, site ${site}` : ''})`);
      if (!opts.passwordStdin) console.log(`password (shown once): ${password}`);
      if (secret) printSecret(secret, name);
      await publishPolicyEdit(config.dataDir);
    });

  withChangeOptions(withCommonOptions(users.command('enrol')))
    .description(
      'enrol a directory person (console.directory) for the second factor: prints their authenticator secret once; their password stays in the directory and their role comes from their groups at each sign-in',
    )
    .argument('<name>', 'their directory sign-in name')
    .requiredOption('--directory', 'the person signs in with directory credentials (the only kind enrolled)')
    .action(async (name: string, opts: Opts) => {
      const { dataDir } = configFrom(opts);
      await beginPolicyEdit(dataDir);
      const secret = await withState(dataDir, (s) =>
        s.transaction(() => {
          const made = new ConsoleAccounts(s.db).enrolDirectory(name);
          s.changes.record({
            action: 'console.users.enrol',
            target: `console user ${name}`,
            after: { directory: true },
            reason: opts.reason,
            by: opts.by,
          });
          return made;
        }),
      );
      console.log(`enrolled directory person ${name}: role from their directory groups at each sign-in`);
      printSecret(secret, name);
      await publishPolicyEdit(dataDir);
    });

  withCommonOptions(users.command('list'))
    .description('list console accounts')
    .option('--json', 'JSON output')
    .action(async (opts: Opts) => {
      const list = await withState(configFrom(opts).dataDir, (s) => new ConsoleAccounts(s.db).list());
      if (opts.json) return void console.log(JSON.stringify(list));
      for (const a of list)
        console.log(
          `${a.name.padEnd(24)} ${(a.directory ? 'directory' : a.role).padEnd(12)} ${a.hasTotp ? 'TOTP' : '    '} ${(a.lockedUntil && a.lockedUntil > Date.now() ? 'LOCKED' : '').padEnd(6)} ${a.site ? `site ${a.site}` : 'all sites'}`,
        );
      if (list.length === 0)
        console.log('no console accounts: add one with schoolgate console users add NAME --role ROLE');
    });

  withChangeOptions(withCommonOptions(users.command('remove')))
    .description('remove a console account (their open sessions end at the next restart or expiry)')
    .argument('<name>')
    .action(async (name: string, opts: Opts) => {
      const { dataDir } = configFrom(opts);
      await beginPolicyEdit(dataDir);
      await withState(dataDir, (s) =>
        s.transaction(() => {
          new ConsoleAccounts(s.db).remove(name);
          s.changes.record({
            action: 'console.users.remove',
            target: `console user ${name}`,
            reason: opts.reason,
            by: opts.by,
          });
        }),
      );
      console.log(`removed console account ${name}`);
      await publishPolicyEdit(dataDir);
    });
}

function printSecret(secret: string, name: string): void {
  console.log(`authenticator secret (shown once): ${secret}`);
  console.log(`or scan/paste this URI into the authenticator app: ${totpUri(secret, name)}`);
}
