/** Resource limits on a real server: one client cannot hold more than its share of connections (E03). */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

let origin: Origin;
let sg: RunningSchoolgate;

beforeAll(async () => {
  origin = await startOrigin();
  sg = await startTestProxy(testConfig({ httpPorts: [origin.port], limits: { maxConnectionsPerClient: 3 } }));
});
afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

function open(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: sg.address.port }, () => resolve(socket));
    socket.on('error', reject);
  });
}

function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('connections per client address', () => {
  it('closes connections over the limit and keeps serving the ones within it', async () => {
    const held = [await open(), await open(), await open()];
    const extra = await open();
    expect(await closedWithin(extra, 20_000)).toBe(true);
    for (const s of held) expect(s.destroyed).toBe(false);

    // Within the limit, a held connection still works.
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      held[0]!.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('\r\n\r\n')) resolve(text);
      });
      held[0]!.write(`GET http://allowed.test:${origin.port}/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n`);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);

    // Freeing one makes room again.
    held[1]!.destroy();
    await closedWithin(held[1]!, 1_000);
    await new Promise((r) => setTimeout(r, 50));
    const res = await viaProxy(sg.address.port, `http://allowed.test:${origin.port}/after`);
    expect(res.status).toBe(200);
    for (const s of held) s.destroy();
  });
});
