/**
 * `schoolgate console users add|list|remove` through the built CLI, and `serve` printing where the console
 * is and how to make the first account.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsoleAccounts } from '../../../src/console/accounts.js';
import { totpCode } from '../../../src/console/totp.js';
import { openStateDatabase } from '../../../src/state/database.js';
import { runCli, startServeProcess, waitForExit, waitForOutput } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, serveFiles, tempDir } from '../../helpers/schoolgate.js';

describe('schoolgate console users', () => {
  const data = path.join(tempDir('sg-console-cli-'), 'data');

  it('adds a DSL with a password from stdin and prints the authenticator secret and URI once', async () => {
    const r = await runCli(
      ['console', 'users', 'add', 'd.lead', '--role', 'dsl', '--password-stdin', '--data', data],
      {
        input: 'a long pass phrase here\n',
      },
    );
    expect(r.stderr).not.toMatch(/SG_/);
    expect(r.code).toBe(0);
    const secret = /authenticator secret \(shown once\): ([A-Z2-7]+)/.exec(r.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(r.stdout).toContain(
      `otpauth://totp/schoolgate%20console:d.lead?issuer=schoolgate%20console&secret=${secret}`,
    );
    expect(r.stdout).not.toContain('password (shown once)');
    const db = openStateDatabase(data);
    const ok = await new ConsoleAccounts(db).signIn(
      'd.lead',
      'a long pass phrase here',
      totpCode(secret!, Date.now()),
      { lockAfterFailures: 5, lockMinutes: 15 },
      Date.now(),
    );
    db.close();
    expect(ok.ok).toBe(true);
  });

  it('makes and prints a password for a technician (no second factor), lists and removes accounts', async () => {
    const r = await runCli(['console', 'users', 'add', 't.tech', '--role', 'technician', '--data', data]);
    expect(r.code).toBe(0);
    const password = /password \(shown once\): (\S+)/.exec(r.stdout)?.[1];
    expect(password?.length).toBeGreaterThanOrEqual(20);
    expect(r.stdout).not.toContain('authenticator');
    const list = await runCli(['console', 'users', 'list', '--json', '--data', data]);
    expect(JSON.parse(list.stdout).map((a: { name: string; role: string }) => `${a.name}:${a.role}`)).toEqual(
      ['d.lead:dsl', 't.tech:technician'],
    );
    expect((await runCli(['console', 'users', 'remove', 't.tech', '--data', data])).code).toBe(0);
    const again = await runCli(['console', 'users', 'remove', 't.tech', '--data', data]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('SG_CONSOLE_USER_INVALID');
  });

  it('enrols a directory person: a secret printed once, no password, listed as directory', async () => {
    const r = await runCli(['console', 'users', 'enrol', 'd.dir', '--directory', '--data', data]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/authenticator secret \(shown once\): [A-Z2-7]{32}/);
    expect(r.stdout).not.toContain('password (shown once)');
    const list = await runCli(['console', 'users', 'list', '--data', data]);
    expect(list.stdout).toMatch(/d\.dir\s+directory\s+TOTP/);
  });

  it.each([
    ['a role that does not exist', ['x.y', '--role', 'governor'], 'SG_CONSOLE_USER_INVALID'],
    ['a name with a slash', ['../x', '--role', 'dsl'], 'SG_CONSOLE_USER_INVALID'],
    ['an existing name', ['d.lead', '--role', 'auditor'], 'SG_CONSOLE_USER_INVALID'],
  ])('refuses %s', async (_what, args, code) => {
    const r = await runCli(['console', 'users', 'add', ...args, '--data', data]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(code);
  });
});

describe('serve and the console', () => {
  let stop: (() => Promise<unknown>) | undefined;
  afterAll(async () => stop?.());

  it('prints the console’s address and how to make the first account; the console answers there', async () => {
    const files = serveFiles();
    const config = path.join(files.dir, 'console.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        profiles: FIXTURE_PROFILES,
        console: { port: 0 },
      }),
    );
    const args = files.args.map((a) => (a.endsWith('config.yaml') ? config : a));
    const serve = await startServeProcess(args);
    stop = async () => {
      serve.child.kill('SIGTERM');
      await waitForExit(serve.child, 30_000);
    };
    const out = await waitForOutput(serve, /first account: schoolgate console users add NAME --role/);
    const url = /web console: (https:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
    expect(url).toBeDefined();
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(
          `${url}sign-in`,
          { ca: readFileSync(path.join(files.dir, 'certs', 'schoolgate-ca.crt'), 'utf8') },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
        .on('error', reject);
    });
    expect(status).toBe(200);
  });
});
