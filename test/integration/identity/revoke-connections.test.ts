/**
 * A revoked user loses what they already have open (issue 11 item 4): after `users disable` (the real CLI,
 * which tells the running proxy through its control socket) or a new password, that user's raw tunnel,
 * inspected tunnel and keep-alive connection are closed with the tunnel's outcome written, their next
 * request is refused, and another user's tunnel carries on. Idle timeouts are set far beyond the test, so
 * only the revocation can close these connections; the test waits on each socket's 'close' event.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { hashPassword } from '../../../src/identity/password.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { runCli } from '../../helpers/cli.js';
import { ORIGIN_BODY, startOrigin, type Origin } from '../../helpers/origin.js';
import { startPongUpstream, type PongUpstream } from '../../helpers/pong-upstream.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES, startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import { makeTestCa, startHttpsOrigin, type HttpsOrigin } from '../tls/fixtures.js';

const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';
const PUPIL1 = basic('pupil1', 'pupil1-password');
const PUPIL2 = basic('pupil2', 'pupil2-password');

let echo: PongUpstream;
let echoPort: number;
let origin: Origin;
let httpsOrigin: HttpsOrigin;
let publicCaFile: string;
let sg: RunningSchoolgate | undefined;

beforeAll(async () => {
  echo = await startPongUpstream();
  echoPort = echo.port;
  origin = await startOrigin();
  const publicCa = makeTestCa(tempDir('sg-revoke-ca-'));
  publicCaFile = publicCa.file;
  httpsOrigin = await startHttpsOrigin((name) => publicCa.issue([name]), 'allowed.test');
});
afterEach(async () => {
  await sg?.stop();
  sg = undefined;
});
afterAll(async () => {
  await echo?.close();
  await origin?.close();
  await httpsOrigin?.close();
});

/** Users pupil1 and pupil2 with `profile`, and a proxy whose idle timeouts never fire during the test. */
async function start(profile: 'raw' | 'pupil'): Promise<{ config: ReadonlyConfig; configFile: string }> {
  const dir = tempDir('sg-revoke-');
  const config = testConfig(
    {
      httpPorts: [origin.port],
      tunnelPorts: [echoPort, httpsOrigin.port],
      identity: { basicAuth: true, requireAuth: true },
      limits: { keepAliveTimeoutMs: 600_000, tunnelIdleTimeoutMs: 600_000 },
      profiles: { ...FIXTURE_PROFILES, raw: { inspect: false, tunnelNonTls: true, categories: {} } },
      tls: { certsDir: path.join(dir, 'certs'), extraCaFiles: [publicCaFile] },
    },
    dir,
  );
  const users = new UserStore(config.dataDir);
  for (const name of ['pupil1', 'pupil2']) await users.add({ name, profile, password: `${name}-password` });
  users.close();
  const configFile = path.join(dir, 'cli.yaml');
  writeFileSync(configFile, `dataDir: ${config.dataDir}\ncategoriesDir: ${config.categoriesDir}\n`);
  sg = await startTestProxy(config);
  return { config, configFile };
}

interface Held {
  socket: net.Socket;
  closed: Promise<void>;
}

function connectToProxy(): Held {
  const socket = net.connect({ host: '127.0.0.1', port: sg!.address.port });
  socket.on('error', () => undefined);
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve())) };
}

/** Resolves once what `socket` received satisfies `done`. */
function received(socket: net.Socket, done: (seen: string) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (c: Buffer) => {
      seen += c.toString('latin1');
      if (!done(seen)) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(seen.slice(0, 80))}`)));
  });
}

/** A raw tunnel to the echo upstream, shown to be open by one ping answered. */
async function rawTunnel(auth: string): Promise<Held> {
  const held = connectToProxy();
  const established = received(held.socket, (s) => s === ESTABLISHED);
  held.socket.write(
    `CONNECT allowed.test:${echoPort} HTTP/1.1\r\nHost: allowed.test:${echoPort}\r\nProxy-Authorization: ${auth}\r\n\r\n`,
  );
  await established;
  await ping(held);
  return held;
}

async function ping(held: Held): Promise<void> {
  const pong = received(held.socket, (s) => s === 'pong');
  held.socket.write('ping');
  await pong;
}

/** A keep-alive connection on the proxy port after one complete request. */
async function keepAlive(auth: string): Promise<Held> {
  const held = connectToProxy();
  const answered = received(
    held.socket,
    (s) => s.includes(ORIGIN_BODY.slice(-40)) && s.endsWith('0\r\n\r\n'),
  );
  held.socket.write(
    `GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\n` +
      `Proxy-Authorization: ${auth}\r\nConnection: keep-alive\r\n\r\n`,
  );
  await answered;
  return held;
}

interface TunnelRow {
  username: string;
  action: string;
  status: number;
  bytes_in: number | null;
  completed_ms: number | null;
}

function tunnelRows(auditPath: string): TunnelRow[] {
  const db = new Database(auditPath, { readonly: true });
  try {
    return db
      .prepare(
        "SELECT username, action, status, bytes_in, completed_ms FROM audit_events WHERE kind = 'tunnel' ORDER BY rowid",
      )
      .all() as TunnelRow[];
  } finally {
    db.close();
  }
}

describe('a revoked user', () => {
  it('loses an open raw tunnel and a keep-alive connection on `users disable`; another user keeps theirs', async () => {
    const { configFile } = await start('raw');
    const tunnel1 = await rawTunnel(PUPIL1);
    const tunnel2 = await rawTunnel(PUPIL2);
    const idle1 = await keepAlive(PUPIL1);

    const cli = await runCli(['users', 'disable', 'pupil1', '--reason', 'test', '--config', configFile]);
    expect(cli.code, cli.stderr).toBe(0);
    await Promise.all([tunnel1.closed, idle1.closed]);

    await ping(tunnel2); // still open, still relaying
    const refused = await viaProxy(sg!.address.port, `http://allowed.test:${origin.port}/`, {
      headers: { 'proxy-authorization': PUPIL1 },
    });
    expect(refused.status).toBe(407);

    const { auditPath } = sg!;
    tunnel2.socket.destroy();
    await tunnel2.closed;
    await sg!.stop();
    // Both tunnels' outcomes are written: pupil1's cut by the revocation after its one ping.
    expect(tunnelRows(auditPath)).toEqual([
      { username: 'pupil1', action: 'allow', status: 200, bytes_in: 4, completed_ms: expect.any(Number) },
      { username: 'pupil2', action: 'allow', status: 200, bytes_in: 8, completed_ms: expect.any(Number) },
    ]);
  });

  it('loses an inspected tunnel when their password changes (the users table written directly)', async () => {
    const { config } = await start('pupil');
    const schoolCa = sg!.proxy.tls!.ca.certPem;
    const inspected = async (auth: string) => {
      const held = connectToProxy();
      const established = received(held.socket, (s) => s === ESTABLISHED);
      held.socket.write(
        `CONNECT allowed.test:${httpsOrigin.port} HTTP/1.1\r\nHost: allowed.test\r\nProxy-Authorization: ${auth}\r\n\r\n`,
      );
      await established;
      const secure = tls.connect({ socket: held.socket, ca: schoolCa, servername: 'allowed.test' });
      secure.on('error', () => undefined);
      await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
      return { ...held, secure, secureClosed: new Promise<void>((r) => secure.once('close', () => r())) };
    };
    const tunnel1 = await inspected(PUPIL1);
    const tunnel2 = await inspected(PUPIL2);

    const users = new UserStore(config.dataDir);
    users.update('pupil1', { passwordHash: await hashPassword('a-new-password') });
    users.close();
    expect(sg!.proxy.pollUsers()).toBe(1);
    await Promise.all([tunnel1.closed, tunnel1.secureClosed]);

    expect(tunnel2.secure.destroyed).toBe(false);
    const { auditPath } = sg!;
    tunnel2.secure.destroy();
    await tunnel2.closed;
    await sg!.stop();
    const rows = tunnelRows(auditPath);
    expect(rows.map((r) => [r.username, r.action, r.completed_ms !== null])).toEqual([
      ['pupil1', 'allow', true],
      ['pupil2', 'allow', true],
    ]);
  });
});
