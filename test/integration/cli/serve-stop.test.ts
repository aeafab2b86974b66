/**
 * Stopping the real `schoolgate serve` process with a tunnel open: the first SIGTERM waits out the grace
 * (here: ten minutes), a second one cuts the tunnel at once; the process exits 0 with the tunnel's outcome
 * committed (issue 12, bounded shutdown).
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServeProcess, waitForExit, waitForOutput } from '../../helpers/cli.js';
import { startPongUpstream, type PongUpstream } from '../../helpers/pong-upstream.js';
import { tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

let upstream: PongUpstream;
beforeAll(async () => {
  upstream = await startPongUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

/** A CONNECT tunnel through the proxy that has carried one ping and its pong; resolves when it closes. */
async function openTunnel(port: number): Promise<{ closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const established = 'HTTP/1.1 200 Connection Established\r\n\r\n';
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    socket.on('data', (c: Buffer) => {
      seen += c.toString('latin1');
      if (seen === established) socket.write('ping');
      if (seen === `${established}pong`) resolve();
    });
    closed.then(() => reject(new Error(`tunnel closed early: ${JSON.stringify(seen)}`)), reject);
    socket.write(`CONNECT allowed.test:${upstream.port} HTTP/1.1\r\nHost: allowed.test\r\n\r\n`);
  });
  return { closed };
}

describe('schoolgate serve: a second SIGTERM', () => {
  it('cuts an open tunnel at once instead of waiting out the grace, and commits its outcome', async () => {
    const dir = tempDir();
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      tunnelPorts: [upstream.port],
      hosts: { 'allowed.test': '127.0.0.1' },
      // Only a stop may end this tunnel, and the first SIGTERM would wait ten minutes for it.
      limits: { shutdownGraceMs: 600_000, tunnelIdleTimeoutMs: 600_000 },
      identity: { networks: [{ cidr: '127.0.0.0/8', profile: 'tech' }] },
      profiles: {
        guest: { categories: { adult: 'block' } },
        tech: { categories: { adult: 'block' }, inspect: false, tunnelNonTls: true },
      },
    };
    writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify(config));
    const categories = writeFixtureCategories(path.join(dir, 'categories'));
    const data = path.join(dir, 'data');
    const serve = await startServeProcess([
      '--config',
      path.join(dir, 'config.yaml'),
      '--data',
      data,
      '--categories',
      categories,
    ]);
    const tunnel = await openTunnel(serve.port);

    serve.child.kill('SIGTERM');
    await waitForOutput(serve, /stopping: committing queued audit records/);
    expect(serve.child.exitCode).toBeNull(); // still waiting for the tunnel
    serve.child.kill('SIGTERM');
    await waitForOutput(serve, /stopping now: cutting open connections/);
    await tunnel.closed;
    expect(await waitForExit(serve.child)).toBe(0);

    const db = new Database(path.join(data, 'audit.sqlite'), { readonly: true });
    const row = db
      .prepare("SELECT action, status, bytes_in, completed_ms FROM audit_events WHERE kind = 'tunnel'")
      .get() as { action: string; status: number; bytes_in: number; completed_ms: number | null };
    db.close();
    expect(row).toMatchObject({ action: 'allow', status: 200, bytes_in: 4 });
    expect(row.completed_ms).not.toBeNull();
  });
});
