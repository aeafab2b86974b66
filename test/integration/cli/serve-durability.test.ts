/**
 * The real `schoolgate serve` process: every request a client saw an answer to is a row in the audit
 * database after SIGTERM (clean stop) and after SIGKILL (crash).
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { basic, rawExchange, viaProxy } from '../../helpers/raw-http.js';
import { runCli, startServeProcess, waitForExit } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, ROUTED_NAMES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

let origin: Origin;

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.close();
});

function setUp(): { dir: string; args: string[] } {
  const dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    httpPorts: [origin.port],
    tunnelPorts: [origin.port],
    identity: { basicAuth: true },
    profiles: FIXTURE_PROFILES,
  };
  writeFileSync(path.join(dir, 'schoolgate.json.yaml'), JSON.stringify(config));
  writeFileSync(path.join(dir, 'hosts'), ROUTED_NAMES.map((n) => `127.0.0.1 ${n}`).join('\n'));
  const args = [
    '--config',
    path.join(dir, 'schoolgate.json.yaml'),
    '--data',
    path.join(dir, 'data'),
    '--categories',
    categories,
    '--hosts-file',
    path.join(dir, 'hosts'),
  ];
  return { dir, args };
}

function auditRows(dir: string): {
  id: string;
  action: string;
  host: string;
  status: number | null;
  bytes_out: number | null;
  username: string | null;
}[] {
  const db = new Database(path.join(dir, 'data', 'audit.sqlite'), { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    return db.prepare('SELECT * FROM audit_events').all() as never;
  } finally {
    db.close();
  }
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

describe('schoolgate serve (child process)', () => {
  it('commits every row and the outcomes on SIGTERM', async () => {
    const { dir, args } = setUp();
    const added = await runCli(
      ['users', 'add', 'pupil1', '--profile', 'pupil', '--password-stdin', ...args.slice(0, 6)],
      {
        input: 'pupil-password\n',
      },
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const { child, port } = await startServeProcess(args);
    const auth = { 'proxy-authorization': basic('pupil1', 'pupil-password') };

    const allowed = await viaProxy(port, `http://allowed.test:${origin.port}/sigterm`, { headers: auth });
    const blocked = await viaProxy(port, `http://www.facebook.com:${origin.port}/`, { headers: auth });
    const badPassword = await viaProxy(port, `http://allowed.test:${origin.port}/`, {
      headers: { 'proxy-authorization': basic('pupil1', 'nope') },
    });
    // An inspected pupil's blocked CONNECT is opened for the block page over HTTPS (200); bytes that are
    // not TLS then close it, so its outcome is written too.
    const connectBlocked = await rawExchange(
      port,
      `CONNECT blocked.example:${origin.port} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${auth['proxy-authorization']}\r\n\r\nnot TLS\r\n`,
    );
    const malformed = await rawExchange(
      port,
      `GET http://user@allowed.test:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect([
      allowed.status,
      blocked.status,
      badPassword.status,
      connectBlocked.status,
      malformed.status,
    ]).toEqual([200, 403, 407, 200, 400]);

    child.kill('SIGTERM');
    expect(await waitForExit(child)).toBe(0);

    const rows = auditRows(dir);
    expect(rows.find((r) => r.action === 'allow' && r.host === 'allowed.test')).toMatchObject({
      status: 200,
    });
    expect(rows.find((r) => r.action === 'allow')!.bytes_out).toBeGreaterThan(1000);
    expect(rows.find((r) => r.id === UUID.exec(blocked.body)![0])).toMatchObject({
      action: 'block',
      username: 'pupil1',
    });
    expect(rows.some((r) => r.action === 'auth-failed')).toBe(true);
    expect(rows.some((r) => r.action === 'block' && r.host === 'blocked.example')).toBe(true);
    expect(rows.some((r) => r.action === 'reject')).toBe(true);
    expect(rows).toHaveLength(5);
  });

  it('keeps the row of every answer a client saw when killed with SIGKILL', async () => {
    const { dir, args } = setUp();
    const { child, port } = await startServeProcess(args);
    const seen: string[] = [];
    let stop = false;
    // Killed once a random number of answers (6 to 20) has been seen: counted, never timed, so a slow
    // machine kills it at the same point of the work as a fast one.
    const killAt = 6 + Math.floor(Math.random() * 15);
    let enough!: () => void;
    const seenEnough = new Promise<void>((resolve) => (enough = resolve));
    // Two clients keep asking for blocked pages; each block page names its audit row.
    const client = async () => {
      while (!stop) {
        try {
          const res = await viaProxy(port, `http://www.facebook.com:${origin.port}/${seen.length}`);
          const ref = UUID.exec(res.body)?.[0];
          if (res.status === 403 && ref) seen.push(ref);
          if (seen.length >= killAt) enough();
        } catch {
          return;
        }
      }
    };
    const clients = [client(), client()];
    await seenEnough;
    child.kill('SIGKILL');
    stop = true;
    await Promise.all(clients);
    await waitForExit(child);
    expect(seen.length).toBeGreaterThan(5);
    const ids = new Set(auditRows(dir).map((r) => r.id));
    const missing = seen.filter((id) => !ids.has(id));
    expect(missing).toEqual([]);

    // A restart on the same files is clean.
    const again = await startServeProcess(args);
    const res = await viaProxy(again.port, `http://www.facebook.com:${origin.port}/after-restart`);
    expect(res.status).toBe(403);
    again.child.kill('SIGTERM');
    expect(await waitForExit(again.child)).toBe(0);
    expect(auditRows(dir).length).toBeGreaterThan(ids.size);
  });

  it('refuses to start with a clear message when the port is taken', async () => {
    const { args } = setUp();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const result = await runCli(['serve', ...args, '--port', String(taken)]);
    blocker.close();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/SG_LISTEN_FAILED.*EADDRINUSE/);
  });
});
