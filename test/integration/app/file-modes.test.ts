/**
 * Owner-only data (src/app/file-modes.ts): the real proxy, started under a permissive umask, leaves every
 * file of the data directory and the certs folder 0600 and every folder 0700, SQLite's -wal and -shm
 * included once traffic has been written; a database an older version left 0644 is tightened at start with
 * a warning naming it, and `status` reports both. As root, another account (nobody) is shown unable to read
 * any of it, next to a control file it can read (so the refusal is the modes, not the test's setup).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/app/control.js';
import { startSchoolgate, type RunningSchoolgate } from '../../../src/app/start.js';
import type { StatusReport } from '../../../src/app/status.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { capturedLogger } from '../../helpers/alert-receivers.js';
import { runCli } from '../../helpers/cli.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { tempDir, testConfig } from '../../helpers/schoolgate.js';

let oldUmask: number;
let sg: RunningSchoolgate | undefined;

beforeEach(() => {
  oldUmask = process.umask(0o000); // the most permissive: nothing may depend on the umask
});

afterEach(async () => {
  await sg?.stop();
  sg = undefined;
  process.umask(oldUmask);
});

/** Every entry under `root` (symbolic links not followed) with its permission bits. */
function modesUnder(root: string): Map<string, { mode: number; dir: boolean }> {
  const out = new Map<string, { mode: number; dir: boolean }>();
  const walk = (p: string): void => {
    const st = lstatSync(p);
    out.set(p, { mode: st.mode & 0o7777, dir: st.isDirectory() });
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(path.join(p, name));
  };
  walk(root);
  return out;
}

function expectOwnerOnly(root: string): Map<string, { mode: number; dir: boolean }> {
  const modes = modesUnder(root);
  const wrong = [...modes]
    .filter(([, m]) => m.mode !== (m.dir ? 0o700 : 0o600))
    .map(([p, m]) => `${p} ${m.mode.toString(8)}`);
  expect(wrong).toEqual([]);
  return modes;
}

/** A request the proxy blocks: answered only after its row is committed, so the WAL holds it. */
async function someTraffic(port: number): Promise<void> {
  for (const url of ['http://blocked.example/a', 'http://social.test/b']) {
    const res = await viaProxy(port, url);
    expect(res.status).toBe(403);
  }
}

function certsDir(config: ReadonlyConfig): string {
  return path.resolve(config.tls.certsDir);
}

describe('file modes', () => {
  it('creates the data directory, databases with -wal and -shm, keys, lock and socket owner-only', async () => {
    const config = testConfig();
    const users = new UserStore(config.dataDir); // the CLI's first `users add` creates state.sqlite
    await users.add({ name: 'j.smith', profile: 'pupil', password: 'pw-j.smith' });
    users.close();
    const log = capturedLogger();
    sg = await startSchoolgate(config, log.logger);
    await someTraffic(sg.address.port);

    const data = expectOwnerOnly(config.dataDir);
    for (const name of [
      'audit.sqlite',
      'audit.sqlite-wal',
      'audit.sqlite-shm',
      'state.sqlite',
      'warn-token.key',
      'serve.lock',
      'control.sock',
    ])
      expect(data.has(path.join(config.dataDir, name)), name).toBe(true);
    const certs = expectOwnerOnly(certsDir(config));
    expect(certs.has(path.join(certsDir(config), 'schoolgate-ca.key'))).toBe(true);
    expect(log.lines().filter((l) => l.msg?.toString().includes('tightened'))).toEqual([]);

    const status = await controlRequest<StatusReport>(config.dataDir, 'status');
    expect(status.fileModes.now.loose).toEqual([]);
    expect(status.fileModes.now.checked).toBeGreaterThanOrEqual(data.size);
  });

  it('tightens a data directory and databases an older version left readable, warning for each', async () => {
    const config = testConfig();
    mkdirSync(config.dataDir, { mode: 0o755 });
    chmodSync(config.dataDir, 0o755);
    const auditPath = path.join(config.dataDir, 'audit.sqlite');
    const old = new Database(auditPath); // SQLite's own default: 0644
    old.pragma('journal_mode = WAL');
    old.close();
    writeFileSync(path.join(config.dataDir, 'warn-token.key'), Buffer.alloc(32, 7), { mode: 0o644 });
    expect(lstatSync(auditPath).mode & 0o777).toBe(0o644);

    const log = capturedLogger();
    sg = await startSchoolgate(config, log.logger);
    await someTraffic(sg.address.port);

    expectOwnerOnly(config.dataDir);
    expectOwnerOnly(certsDir(config));
    const warnings = log.lines().filter((l) => l.level === 40 && typeof l.file === 'string');
    expect(warnings).toContainEqual(expect.objectContaining({ file: auditPath, mode: '0644', to: '0600' }));
    expect(warnings).toContainEqual(
      expect.objectContaining({ file: config.dataDir, mode: '0755', to: '0700' }),
    );
    expect(String(warnings.find((w) => w.file === auditPath)?.msg)).toContain(auditPath);

    const status = await controlRequest<StatusReport>(config.dataDir, 'status');
    expect(status.fileModes.atStart?.loose.map((f) => [f.path, f.action])).toEqual(
      expect.arrayContaining([
        [config.dataDir, 'tightened'],
        [auditPath, 'tightened'],
        [path.join(config.dataDir, 'warn-token.key'), 'tightened'],
      ]),
    );
    expect(status.fileModes.now.loose).toEqual([]);
  });

  it('a CLI command tightens what it finds too, naming each file on stderr', async () => {
    const dataDir = path.join(tempDir('sg-modes-cli-'), 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const statePath = path.join(dataDir, 'state.sqlite');
    new Database(statePath).close(); // 0644, as SQLite makes it
    const r = await runCli(['users', 'list', '--data', dataDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${statePath} from 0644 to 0600`);
    expect(r.stderr).toContain(`${dataDir} from 0755 to 0700`);
    expect(JSON.parse(r.stdout)).toEqual([]);
    expectOwnerOnly(dataDir);
  });

  it('leaves nothing another account on the server can read (as root: runuser -u nobody)', async (ctx) => {
    const missing = [
      process.getuid?.() === 0 ? null : 'root (the test must run as root to switch to nobody)',
      spawnSync('runuser', ['--help']).error ? 'runuser' : null,
      spawnSync('id', ['nobody']).status === 0 ? null : 'the user nobody',
    ].filter((m): m is string => m !== null);
    if (missing.length > 0) {
      ctx.skip(`needs ${missing.join(', ')}`);
      return;
    }
    const dir = tempDir('sg-modes-');
    chmodSync(dir, 0o755); // the temp folder itself must not be what keeps nobody out
    const config = testConfig({}, dir);
    sg = await startSchoolgate(config, capturedLogger().logger);
    await someTraffic(sg.address.port);
    const control = path.join(dir, 'readable-control');
    writeFileSync(control, 'anyone may read this\n', { mode: 0o644 });

    const targets = [
      control,
      ...[...modesUnder(config.dataDir), ...modesUnder(certsDir(config))]
        .filter(([, m]) => !m.dir)
        .map(([p]) => p),
    ];
    expect(targets.some((t) => t.endsWith('audit.sqlite-wal'))).toBe(true);
    // One node process as nobody tries to read each file; it prints what it could read.
    const script =
      "const fs=require('fs');const out={};for(const f of JSON.parse(process.argv[1])){" +
      "try{fs.readFileSync(f);out[f]='read'}catch(e){out[f]=e.code}}console.log(JSON.stringify(out))";
    const r = spawnSync(
      'runuser',
      ['-u', 'nobody', '--', process.execPath, '-e', script, JSON.stringify(targets)],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout) as Record<string, string>;
    expect(seen[control]).toBe('read');
    const readable = Object.entries(seen).filter(([f, how]) => f !== control && how === 'read');
    expect(readable).toEqual([]);
    expect(existsSync(path.join(config.dataDir, 'audit.sqlite'))).toBe(true);
  });
});
