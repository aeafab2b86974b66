/**
 * Idle connections that time out together (Node checks every connection's headersTimeout in one pass) are
 * answered a few per turn (src/proxy/turn-gate.ts): every one still gets its 408 and its audit row, and
 * a client whose request comes alongside the herd is served (the stall itself is measured by
 * scripts/idle-storm.ts: tests assert no durations).
 */
import net from 'node:net';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

const IDLE = 300;
let origin: Origin;
let sg: RunningSchoolgate;

beforeAll(async () => {
  origin = await startOrigin();
  sg = await startTestProxy(
    testConfig({
      httpPorts: [origin.port],
      limits: { headersTimeoutMs: 1_000, maxConnectionsPerClient: IDLE + 10 },
    }),
  );
});
afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

/** A connection that never sends a byte; resolves with what the proxy sent once it closed. */
function silent(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: sg.address.port });
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('error', reject);
    socket.once('close', () => resolve(got));
  });
}

/** One request on a connection of its own, sent once every silent connection is open. */
function request(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: sg.address.port }, () =>
      socket.write(
        `GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test:${origin.port}\r\nConnection: close\r\n\r\n`,
      ),
    );
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('error', reject);
    socket.once('close', () => resolve(got));
  });
}

describe('a herd of idle connections timing out', () => {
  it('gets a 408 and a row each, and a request sent meanwhile is served', async () => {
    const herd = Array.from({ length: IDLE }, () => silent());
    const [answers, served] = await Promise.all([Promise.all(herd), request()]);
    expect(served).toMatch(/^HTTP\/1\.1 200 /);
    for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 408 /);
    const db = new Database(sg.auditPath, { readonly: true });
    const timedOut = db
      .prepare(`SELECT count(*) AS n FROM audit_events WHERE reason = 'bad-request:err_http_request_timeout'`)
      .get() as { n: number };
    db.close();
    expect(timedOut.n).toBe(IDLE);
  });
});
