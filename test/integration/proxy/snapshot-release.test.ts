/**
 * A reload frees the lists it replaced even while connections decided with them stay open: a raw tunnel, a
 * WebSocket and a download still streaming hold their exchange (for its outcome), and the exchange lets go
 * of its policy snapshot once it only relays bytes. Before, each tunnel open across a reload kept its lists
 * alive (a 1 M-entry list: ~100 MB a reload). Checked with a WeakRef and a forced full GC.
 */
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/app/start.js';
import type { PolicySnapshot } from '../../../src/exchange/snapshot.js';
import { clientHelloMessage, inRecords, sniExtension } from '../../helpers/client-hello.js';
import { startBareProxy, type BareProxy } from '../../helpers/bare-proxy.js';
import { testConfig } from '../../helpers/schoolgate.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** An origin that never finishes: /download sends its head and one chunk, upgrades get 101; all held. */
const held: net.Socket[] = [];
const origin = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  res.write('first chunk');
  held.push(req.socket);
});
origin.on('upgrade', (_req, socket: net.Socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  held.push(socket);
});
origin.on('connection', (socket) => held.push(socket));
/** The tunnel's far end: a TCP server that holds what connects; `relayed` fires once bytes came through. */
const farEnd = net.createServer((socket) => {
  held.push(socket);
  socket.once('data', () => farEnd.emit('relayed'));
});

let bare: BareProxy;
let port: number;
let originPort: number;
let farEndPort: number;
let current: PolicySnapshot | null;
let base: PolicySnapshot;
const clients: net.Socket[] = [];

beforeAll(async () => {
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  originPort = (origin.address() as net.AddressInfo).port;
  farEnd.listen(0, '127.0.0.1');
  await once(farEnd, 'listening');
  farEndPort = (farEnd.address() as net.AddressInfo).port;
  const config = testConfig({ httpPorts: [originPort], tunnelPorts: [farEndPort], tls: { inspect: false } });
  const loaded = await loadPolicy(config);
  base = { config, profiles: loaded.profiles, lists: loaded.lists };
  current = { ...base };
  bare = await startBareProxy(config, () => current!);
  port = bare.port;
});

afterAll(async () => {
  for (const s of [...clients, ...held]) s.destroy();
  await bare?.close();
  origin.close();
  farEnd.close();
});

/** Sends `head` on a new connection to the proxy; resolves with it once the answer matches `expected`. */
async function open(head: string, expected: RegExp): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  clients.push(socket);
  await once(socket, 'connect');
  socket.write(head);
  let got = '';
  while (!expected.test(got)) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    got += chunk.toString('latin1');
  }
  return socket;
}

describe('a reload while connections decided with the old policy stay open', () => {
  it('frees the old snapshot: tunnel, WebSocket and download keep only their outcome', async () => {
    const authority = `allowed.test:${originPort}`;
    const tunnelTo = `allowed.test:${farEndPort}`;
    const tunnel = await open(
      `CONNECT ${tunnelTo} HTTP/1.1\r\nHost: ${tunnelTo}\r\n\r\n`,
      /^HTTP\/1\.1 200 /,
    );
    // A browser's first flight: the tunnel is decided on its SNI too, then relayed to the far end.
    const relayed = once(farEnd, 'relayed');
    tunnel.write(inRecords(clientHelloMessage({ extensions: [sniExtension([{ name: 'allowed.test' }])] })));
    await relayed;
    await open(
      `GET http://${authority}/ws HTTP/1.1\r\nHost: ${authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      /^HTTP\/1\.1 101 /,
    );
    await open(`GET http://${authority}/download HTTP/1.1\r\nHost: ${authority}\r\n\r\n`, /first chunk/);

    const old = new WeakRef(current!);
    current = { ...base }; // the reload's swap
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve)); // a WeakRef's target lives to the end of its job
      gc();
    }
    expect(old.deref()).toBeUndefined();
    expect(clients.every((c) => !c.destroyed)).toBe(true); // all three still open
  });
});
