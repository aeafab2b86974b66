/**
 * A silent origin (it accepts the connection and never answers) gets the client a 504 page after
 * limits.upstreamTimeoutMs, with the outcome recorded; a refused connection is a 502. Waits on the
 * responses, never on a clock.
 */
import net from 'node:net';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

let silent: net.Server;
let silentPort: number;
let closedPort: number;
let sg: RunningSchoolgate;
const held = new Set<net.Socket>();

beforeAll(async () => {
  silent = net.createServer((s) => {
    held.add(s);
    s.on('error', () => undefined); // reads, never writes
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as net.AddressInfo).port;
  // A port nobody listens on: bind, note it, close.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  sg = await startTestProxy(
    testConfig({ httpPorts: [silentPort, closedPort], limits: { upstreamTimeoutMs: 200 } }),
  );
});
afterAll(async () => {
  await sg?.stop();
  for (const s of held) s.destroy();
  await new Promise((resolve) => silent?.close(resolve));
});

function outcome(path: string): { status: number | null } {
  const db = new Database(sg.auditPath, { readonly: true });
  try {
    return db.prepare('SELECT status FROM audit_events WHERE path = ?').get(path) as {
      status: number | null;
    };
  } finally {
    db.close();
  }
}

describe('an origin that does not answer', () => {
  it('gets the client a 504 page, and the row says 504', async () => {
    const res = await viaProxy(sg.address.port, `http://allowed.test:${silentPort}/silent`);
    expect(res.status).toBe(504);
    expect(res.body).toContain('took too long');
    await sg.stop(); // commits every outcome
    expect(outcome('/silent')).toEqual({ status: 504 });
  });
});

describe('an origin that refuses the connection', () => {
  it('gets the client a 502 page', async () => {
    const other = await startTestProxy(testConfig({ httpPorts: [closedPort] }));
    try {
      const res = await viaProxy(other.address.port, `http://allowed.test:${closedPort}/refused`);
      expect(res.status).toBe(502);
    } finally {
      await other.stop();
    }
  });
});
