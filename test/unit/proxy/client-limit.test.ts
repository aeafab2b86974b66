/**
 * The per-client connection limit on real loopback sockets: over the limit is closed, and both maps it keeps
 * by client address shrink again (waiting on the server side's close events, never on time).
 */
import { once } from 'node:events';
import net from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientConnectionLimit } from '../../../src/proxy/client-limit.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A server with the limit attached; `accepted` resolves once it has seen `n` connections (kept or not). */
async function serve(limit: ClientConnectionLimit) {
  const server = net.createServer();
  servers.push(server);
  limit.attach(server);
  const sockets: net.Socket[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  server.on('connection', (socket) => {
    sockets.push(socket);
    for (const w of waiters.filter((w) => sockets.length >= w.n)) w.resolve();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    connect: (from: string) =>
      net.connect({ port, host: '127.0.0.1', localAddress: from }).on('error', () => {}),
    accepted: (n: number) =>
      new Promise<void>((resolve) => (sockets.length >= n ? resolve() : waiters.push({ n, resolve }))),
    /** Every server-side socket has closed (and the limit's own close handler, registered first, ran). */
    allClosed: () => Promise.all(sockets.map((s) => (s.closed ? undefined : once(s, 'close')))),
  };
}

describe('ClientConnectionLimit', () => {
  it('closes connections over the limit and forgets an address with its last connection', async () => {
    const limit = new ClientConnectionLimit(2, pino({ level: 'silent' }));
    const server = await serve(limit);
    const clients = ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.2'].map((a) => server.connect(a));
    await server.accepted(4);
    // Whichever of the three from 127.0.0.1 came last is the one over the limit.
    await Promise.race(clients.slice(0, 3).map((c) => (c.closed ? undefined : once(c, 'close'))));
    expect(limit.sizes.open).toBe(2);
    for (const c of clients) c.destroy();
    await server.allClosed();
    expect(limit.sizes.open).toBe(0);
  });

  it('forgets warned addresses after the minute', async () => {
    let now = 0;
    const limit = new ClientConnectionLimit(1, pino({ level: 'silent' }), () => now);
    const server = await serve(limit);
    const a = [server.connect('127.0.0.3'), server.connect('127.0.0.3')];
    await server.accepted(2);
    expect(limit.sizes.warned).toBe(1);
    now = 61_000;
    const b = [server.connect('127.0.0.4'), server.connect('127.0.0.4')];
    await server.accepted(4);
    expect(limit.sizes.warned).toBe(1); // the first address was forgotten when the second was warned
    for (const c of [...a, ...b]) c.destroy();
    await server.allClosed();
    expect(limit.sizes).toEqual({ open: 0, warned: 1 });
  });
});
