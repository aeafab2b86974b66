/**
 * The inspected-HTTPS load generator, in its own process on the load core: CONNECT through the proxy, TLS
 * inside the tunnel (trusting the proxy's CA only, so an uninspected tunnel fails), GET /1k.
 *  - keepalive: `connections` tunnels, each sending requests one after another;
 *  - newconn:   each iteration a new CONNECT + handshake + one request to the same host (leaf cached);
 *  - newhost:   the same, each iteration a host name never asked before (the proxy mints a leaf).
 * Prints the same RESULT line as the wrk script (requests, µs duration, µs p50/p99, errors).
 *   node dist/scripts/bench/tls-load.js '<json TlsLoadOptions>'
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import tls from 'node:tls';
import { newHostName } from './names.js';

export interface TlsLoadOptions {
  mode: 'keepalive' | 'newconn' | 'newhost';
  proxyPort: number;
  originPort: number;
  /** The host of keepalive and newconn requests. */
  host: string;
  /** Names for newhost: newHostName(hostPrefix, i) for i below maxHosts. */
  hostPrefix: string;
  maxHosts: number;
  connections: number;
  seconds: number;
  /** PEM file of the CA the proxy signs inspected leaves with. */
  trustFile: string;
  proxyAuthorization?: string;
}

const STALL_MS = 10_000;

function open(o: TlsLoadOptions, host: string, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: `${host}:${o.originPort}` };
    if (o.proxyAuthorization) headers['proxy-authorization'] = o.proxyAuthorization;
    const req = http.request({
      host: '127.0.0.1',
      port: o.proxyPort,
      method: 'CONNECT',
      path: `${host}:${o.originPort}`,
      headers,
      agent: false,
    });
    // Nothing waits forever: a stalled CONNECT, handshake or response counts as an error.
    req.setTimeout(STALL_MS, () => req.destroy(new Error('CONNECT stalled')));
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return reject(new Error(`CONNECT ${res.statusCode}`));
      }
      const s = tls.connect({ socket, servername: host, ca, ALPNProtocols: ['http/1.1'] });
      s.setTimeout(STALL_MS, () => s.destroy(new Error('stalled')));
      s.once('secureConnect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** One GET; resolves with the status once the whole Content-Length body has arrived. */
function get(s: tls.TLSSocket, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    let need = -1;
    let status = 0;
    const fail = (err: Error) => {
      s.off('data', onData);
      s.off('close', closed);
      reject(err);
    };
    const closed = () => fail(new Error('closed before the whole answer'));
    const onData = (c: Buffer) => {
      chunks.push(c);
      have += c.length;
      if (need < 0) {
        const buf = Buffer.concat(chunks);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        status = Number(head.slice(9, 12));
        need = end + 4 + Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      }
      if (have >= need) {
        s.off('data', onData);
        s.off('error', fail);
        s.off('close', closed);
        resolve(status);
      }
    };
    s.on('data', onData);
    s.once('error', fail);
    s.once('close', closed);
    s.write(`GET /1k HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  });
}

async function main(o: TlsLoadOptions): Promise<void> {
  const ca = readFileSync(o.trustFile, 'utf8');
  const latencies: number[] = [];
  let errors = 0;
  let nextHost = 0;
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + o.seconds * 1000;
  const timed = async (work: () => Promise<void>) => {
    const t = process.hrtime.bigint();
    try {
      await work();
      latencies.push(Number(process.hrtime.bigint() - t) / 1000);
    } catch {
      errors++;
    }
  };
  const once = async (host: string) => {
    const s = await open(o, host, ca);
    try {
      const status = await get(s, host, o.originPort);
      if (status !== 200) throw new Error(`status ${status}`);
    } finally {
      s.destroy();
    }
  };
  await Promise.all(
    Array.from({ length: o.connections }, async () => {
      if (o.mode === 'keepalive') {
        let s: tls.TLSSocket | undefined;
        while (Date.now() < deadline) {
          try {
            s ??= await open(o, o.host, ca);
          } catch {
            errors++;
            continue;
          }
          const socket = s;
          await timed(async () => {
            const status = await get(socket, o.host, o.originPort);
            if (status !== 200) throw new Error(`status ${status}`);
          });
          if (socket.destroyed) s = undefined;
        }
        s?.destroy();
      } else {
        while (Date.now() < deadline) {
          if (o.mode === 'newhost' && nextHost >= o.maxHosts) break;
          const host = o.mode === 'newhost' ? newHostName(o.hostPrefix, nextHost++) : o.host;
          await timed(() => once(host));
        }
      }
    }),
  );
  const durationUs = Number(process.hrtime.bigint() - t0) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : 0;
  console.log(
    `RESULT ${sorted.length} ${Math.round(durationUs)} ${Math.round(pct(0.5))} ${Math.round(pct(0.99))} ${errors}`,
  );
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1])
  main(JSON.parse(process.argv[2]!) as TlsLoadOptions).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
