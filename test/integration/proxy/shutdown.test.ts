/**
 * Stopping with a tunnel open: the proxy stops within its grace period (it used to wait for the tunnel's
 * idle timeout, 300 s by default, or without bound for an active one) and the tunnel's outcome is written.
 */
import net from 'node:net';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPongUpstream, type PongUpstream } from '../../helpers/pong-upstream.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

/** An upstream that answers 'pong' to 'ping' and never closes a connection by itself. */
let upstream: PongUpstream;
let upstreamPort: number;
beforeAll(async () => {
  upstream = await startPongUpstream();
  upstreamPort = upstream.port;
});
afterAll(async () => {
  await upstream?.close();
});

describe('stop with a tunnel open', () => {
  it('cuts the tunnel after the grace period and writes its outcome', async () => {
    const config = testConfig({
      tunnelPorts: [upstreamPort],
      // A long idle timeout: only the stop may end this tunnel.
      limits: { shutdownGraceMs: 50, tunnelIdleTimeoutMs: 600_000 },
      identity: { networks: [{ cidr: '127.0.0.0/8', profile: 'tech' }] },
      profiles: {
        replace: true,
        guest: { categories: { adult: 'block' } },
        tech: { categories: { adult: 'block' }, inspect: false, tunnelNonTls: true },
      },
    });
    const sg = await startTestProxy(config);
    const socket = net.connect({ host: '127.0.0.1', port: sg.address.port });
    const established = 'HTTP/1.1 200 Connection Established\r\n\r\n';
    const pong = new Promise<string>((resolve) => {
      let seen = '';
      socket.on('data', (c: Buffer) => {
        seen += c.toString('latin1');
        if (seen === established) socket.write('ping');
        if (seen === `${established}pong`) resolve(seen);
      });
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(`CONNECT allowed.test:${upstreamPort} HTTP/1.1\r\nHost: allowed.test\r\n\r\n`);
    await pong;

    await sg.stop(); // waited for the tunnel's idle timeout before
    await closed;
    const db = new Database(sg.auditPath, { readonly: true });
    const row = db
      .prepare("SELECT action, kind, status, bytes_in, completed_ms FROM audit_events WHERE kind = 'tunnel'")
      .get() as { action: string; status: number; bytes_in: number; completed_ms: number | null };
    db.close();
    expect(row).toMatchObject({ action: 'allow', status: 200, bytes_in: 4 });
    expect(row.completed_ms).not.toBeNull();
  });
});
