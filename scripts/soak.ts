/**
 * Memory soak: the real proxy (the built CLI's `serve`, its own temp config, data and certs) under a mixed
 * load for a long time, sampled every 30 s from its own `/metrics` (RSS, heap used, open fds, event-loop
 * lag p99) and its audit database (rows committed, read-only), to show memory stays flat and no row is lost.
 *
 * The load, at --rate operations a second: plain HTTP allowed (keep-alive and new connections) and
 * blocked; warn, Continue and the continued request (staff); HTTPS CONNECT tunnels inspected (pupil: the
 * client trusts the school CA read from the proxy's certs folder) and not (technician); WebSockets; idle
 * connections left to time out (headersTimeout, and keep-alive sockets the proxy closes); a reload (SIGHUP)
 * every --reload-every minutes. Every request, tunnel, upgrade and idle connection is one audit row.
 *
 *   npm run build && node dist/scripts/soak.js [--minutes 30] [--rate 30] [--every 30] [--warmup 5]
 *     [--reload-every 3] [--heap-snapshots 2,8] [--node-options "--expose-gc"] [--keep]
 * --heap-snapshots: minutes at which the proxy writes a heap snapshot (SIGUSR2) into its temp folder, for
 * scripts/heap-diff.ts. Linux only (/proc). Loopback only.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import Database from 'better-sqlite3';
import { flag, listOption, numberOption, stringOption } from './args.js';
import { basic, metrics, sleep, startSoakProxy, stopAll, type SoakProxy } from './soak-setup.js';

const MINUTES = numberOption('minutes', 30);
const RATE = numberOption('rate', 30);
const EVERY_S = numberOption('every', 30);
const WARMUP_MIN = Math.min(numberOption('warmup', 5), MINUTES / 2);
const RELOAD_EVERY_MIN = numberOption('reload-every', 3);
const SNAPSHOT_AT = (stringOption('heap-snapshots') ?? '')
  .split(',')
  .filter((s) => s !== '')
  .map(Number);
const NODE_OPTIONS = [
  ...listOption('node-options'),
  // Without it SIGUSR2 would end the proxy.
  ...(SNAPSHOT_AT.length > 0 ? ['--heapsnapshot-signal=SIGUSR2'] : []),
];
const KEEP = flag('keep');

interface Counters {
  sent: number;
  errors: number;
  byOp: Record<string, number>;
  lastError: string;
  /**
   * Requests reset on a reused keep-alive socket before the proxy read them: the proxy had closed the idle
   * socket (its keep-alive timeout) as the client wrote to it, so no request reached it and no row is due.
   * Node's documentation names this race (`request.reusedSocket`); the rows are checked against the rest.
   */
  staleReuse: number;
}
const counters: Counters = { sent: 0, errors: 0, byOp: {}, lastError: '', staleReuse: 0 };

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One request through the proxy; resolves with status and body (counted as one row). */
function proxied(
  s: SoakProxy,
  url: string,
  user: string,
  opts: { method?: string; body?: string; agent?: http.Agent | false } = {},
): Promise<{ status: number; body: string }> {
  counters.sent++;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: s.proxyPort,
      method: opts.method ?? 'GET',
      path: url,
      agent: opts.agent ?? keepAlive,
      headers: {
        host: new URL(url).host,
        'proxy-authorization': basic(user),
        ...(opts.body !== undefined
          ? {
              'content-type': 'application/x-www-form-urlencoded',
              'content-length': Buffer.byteLength(opts.body),
            }
          : {}),
        ...(opts.agent === false ? { connection: 'close' } : {}),
      },
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`timeout ${url}`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (req.reusedSocket && err.code === 'ECONNRESET') counters.staleReuse++;
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.end(opts.body);
  });
}

/**
 * CONNECT, then TLS (trusting `ca`) and `inner` GETs on one keep-alive connection: one row for the tunnel,
 * and one per GET when the proxy inspects it (a raw tunnel's requests are not seen).
 */
function tunnel(s: SoakProxy, user: string, ca: string, inner: number, inspected: boolean): Promise<void> {
  counters.sent++;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: s.proxyPort,
      method: 'CONNECT',
      path: `secure.test:${s.httpsPort}`,
      agent: false,
      headers: { host: `secure.test:${s.httpsPort}`, 'proxy-authorization': basic(user) },
    });
    req.setTimeout(30_000, () => req.destroy(new Error('CONNECT timeout')));
    req.on('error', reject);
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return reject(new Error(`CONNECT answered ${res.statusCode}`));
      }
      const secure = tls.connect({ socket, servername: 'secure.test', ca });
      secure.on('error', reject);
      secure.once('secureConnect', async () => {
        try {
          for (let i = 0; i < inner; i++) {
            if (inspected) counters.sent++;
            const status = await rawGet(secure, `/page/${i}`, 'secure.test');
            if (status !== 200) throw new Error(`inner GET answered ${status}`);
          }
          secure.end();
          secure.once('close', () => resolve());
        } catch (err) {
          secure.destroy();
          reject(err as Error);
        }
      });
    });
    req.end();
  });
}

/** One keep-alive GET written by hand on an open socket; resolves with the status once the body is read. */
function rawGet(socket: tls.TLSSocket, target: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
      if (Number.isNaN(length)) return done(new Error(`no content-length: ${head.slice(0, 80)}`));
      if (buf.length - end - 4 < length) return;
      done(null, Number(head.slice(9, 12)));
    };
    const onClose = () => done(new Error('closed before the answer'));
    const done = (err: Error | null, status = 0) => {
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(status);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  });
}

/** A WebSocket through the proxy: the handshake, one echoed message, close (one row). */
function websocket(s: SoakProxy, user: string): Promise<void> {
  counters.sent++;
  return new Promise((resolve, reject) => {
    const url = `http://allowed.test:${s.httpPort}/ws`;
    const req = http.request({
      host: '127.0.0.1',
      port: s.proxyPort,
      path: url,
      agent: false,
      headers: {
        host: `allowed.test:${s.httpPort}`,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-version': '13',
        'proxy-authorization': basic(user),
      },
    });
    req.setTimeout(30_000, () => req.destroy(new Error('upgrade timeout')));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      reject(new Error(`upgrade answered ${res.statusCode}`));
    });
    req.on('upgrade', (_res, socket) => {
      socket.on('error', reject);
      socket.once('data', () => socket.end());
      socket.once('close', () => resolve());
      socket.write('soak ping');
    });
    req.end();
  });
}

/** A connection that never sends a byte: the proxy's headersTimeout answers 408 and closes (one row). */
function idle(s: SoakProxy): Promise<void> {
  counters.sent++;
  return new Promise((resolve, reject) => {
    const socket = net.connect(s.proxyPort, '127.0.0.1');
    socket.on('error', reject);
    socket.resume();
    socket.once('close', () => resolve());
  });
}

async function warnAndContinue(s: SoakProxy): Promise<void> {
  const host = s.warnHosts[Math.floor(Math.random() * s.warnHosts.length)]!;
  const url = `http://${host}:${s.httpPort}/`;
  const first = await proxied(s, url, 'staff');
  const fields = [...first.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)];
  if (fields.length === 0) {
    if (first.status !== 200) throw new Error(`warned host answered ${first.status}`);
    return; // already granted: that was the continued request
  }
  const unescape = (v: string) =>
    v
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  const form = new URLSearchParams(fields.map((m): [string, string] => [m[1]!, unescape(m[2]!)])).toString();
  const posted = await proxied(s, `http://${host}:${s.httpPort}/.schoolgate/continue`, 'staff', {
    method: 'POST',
    body: form,
  });
  if (posted.status !== 303 && posted.status !== 302) throw new Error(`continue answered ${posted.status}`);
  const after = await proxied(s, url, 'staff');
  if (after.status !== 200) throw new Error(`continued request answered ${after.status}`);
}

/** Operations and their weights (per 100). */
function operations(s: SoakProxy): [number, string, () => Promise<unknown>][] {
  const allowed = `http://allowed.test:${s.httpPort}/`;
  const expect = (status: number) => (r: { status: number }) => {
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}`);
  };
  return [
    [24, 'http-keepalive', () => proxied(s, allowed, 'pupil').then(expect(200))],
    [10, 'http-new-conn', () => proxied(s, allowed, 'pupil', { agent: false }).then(expect(200))],
    [16, 'http-blocked', () => proxied(s, `http://discord.com:${s.httpPort}/`, 'pupil').then(expect(403))],
    [6, 'warn-continue', () => warnAndContinue(s)],
    [18, 'https-inspected', () => tunnel(s, 'pupil', s.schoolCa, 1 + Math.floor(Math.random() * 3), true)],
    [12, 'https-raw', () => tunnel(s, 'technician', s.publicCa, 1, false)],
    [8, 'websocket', () => websocket(s, 'pupil')],
    [6, 'idle-conn', () => idle(s)],
  ];
}

function pick<T>(ops: [number, string, T][]): [string, T] {
  const total = ops.reduce((a, [w]) => a + w, 0);
  let r = Math.random() * total;
  for (const [w, name, run] of ops) {
    if ((r -= w) < 0) return [name, run];
  }
  const last = ops[ops.length - 1]!;
  return [last[1], last[2]];
}

interface Sample {
  elapsedS: number;
  rssMb: number;
  heapMb: number;
  heapTotalMb: number;
  externalMb: number;
  fds: number;
  lagP99Ms: number;
  lagMaxMs: number;
  sent: number;
  rows: number;
  errors: number;
}

function printRow(x: Sample): void {
  const min = (x.elapsedS / 60).toFixed(1);
  console.log(
    `| ${min} | ${x.rssMb.toFixed(1)} | ${x.heapMb.toFixed(1)} | ${x.heapTotalMb.toFixed(1)} | ${x.externalMb.toFixed(1)} | ${x.fds} | ${x.lagP99Ms.toFixed(1)} | ${x.lagMaxMs.toFixed(1)} | ${x.sent} | ${x.rows} | ${x.errors} |`,
  );
}

/** Least-squares slope of y over minutes. */
function slopePerMin(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

async function main(): Promise<void> {
  const s = await startSoakProxy({ nodeOptions: NODE_OPTIONS });
  const { dir, proxy } = s;
  const db = new Database(s.auditDb, { readonly: true });
  const rows = () => (db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;

  console.log(
    `soak: ${MINUTES} min at ${RATE} ops/s, proxy pid ${proxy.child.pid} on ${s.proxyPort}, temp ${dir}, Node ${process.version}`,
  );
  console.log(
    '\n| min | RSS MB | heap used MB | heap total MB | external MB | fds | lag p99 ms | lag max ms | requests sent | rows | errors |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const samples: Sample[] = [];
  const started = Date.now();
  const sample = async () => {
    let m: Record<string, number>;
    try {
      m = await metrics(s.proxyPort);
    } catch (err) {
      // A scrape can fail (a heap snapshot being written holds the proxy): the next one is due in EVERY_S.
      console.log(`| ${((Date.now() - started) / 60_000).toFixed(1)} | /metrics failed: ${String(err)} |`);
      return;
    }
    const x: Sample = {
      elapsedS: (Date.now() - started) / 1000,
      rssMb: (m.process_resident_memory_bytes ?? 0) / 1e6,
      heapMb: (m.nodejs_heap_size_used_bytes ?? 0) / 1e6,
      heapTotalMb: (m.nodejs_heap_size_total_bytes ?? 0) / 1e6,
      externalMb: (m.nodejs_external_memory_bytes ?? 0) / 1e6,
      fds: m.process_open_fds ?? 0,
      lagP99Ms: (m.nodejs_eventloop_lag_p99_seconds ?? 0) * 1000,
      lagMaxMs: (m.nodejs_eventloop_lag_max_seconds ?? 0) * 1000,
      sent: counters.sent,
      rows: rows(),
      errors: counters.errors,
    };
    samples.push(x);
    printRow(x);
  };
  await sample();

  const ops = operations(s);
  const pending = new Set<Promise<unknown>>();
  let launched = 0;
  let reloads = 0;
  const snapshotsDue = [...SNAPSHOT_AT].sort((a, b) => a - b);
  let nextSample = EVERY_S;
  let nextReload = RELOAD_EVERY_MIN * 60;
  const endS = MINUTES * 60;
  for (;;) {
    const elapsed = (Date.now() - started) / 1000;
    if (elapsed >= endS) break;
    for (const due = Math.floor(elapsed * RATE); launched < due; launched++) {
      const [name, run] = pick(ops);
      counters.byOp[name] = (counters.byOp[name] ?? 0) + 1;
      const p = run()
        .catch((err: unknown) => {
          counters.errors++;
          counters.lastError = `${name}: ${err instanceof Error ? err.message : String(err)}`;
        })
        .finally(() => pending.delete(p));
      pending.add(p);
    }
    if (RELOAD_EVERY_MIN > 0 && elapsed >= nextReload) {
      nextReload += RELOAD_EVERY_MIN * 60;
      proxy.child.kill('SIGHUP');
      reloads++;
    }
    if (snapshotsDue.length > 0 && elapsed >= snapshotsDue[0]! * 60) {
      snapshotsDue.shift();
      proxy.child.kill('SIGUSR2');
    }
    if (elapsed >= nextSample) {
      nextSample += EVERY_S;
      await sample();
    }
    await sleep(50);
  }
  console.log(`\nload stopped; waiting for ${pending.size} operations (idle connections time out)...`);
  await Promise.all(pending);
  // Rows are committed before their answers, so they are all in; wait for two equal counts anyway.
  let last = -1;
  for (let n = rows(); n !== last; n = rows()) {
    last = n;
    await sleep(1_000);
  }
  await sample();

  const first = samples[0]!;
  const end = samples[samples.length - 1]!;
  const after = samples.filter((x) => x.elapsedS >= WARMUP_MIN * 60);
  const warm = after[0] ?? end;
  const slope = (f: (x: Sample) => number) => slopePerMin(after.map((x) => [x.elapsedS / 60, f(x)]));
  console.log(`\nsummary (${reloads} reloads; operations: ${JSON.stringify(counters.byOp)})`);
  console.log(`| metric | start | after ${WARMUP_MIN} min warm-up | end | growth per min after warm-up |`);
  console.log('|---|---:|---:|---:|---:|');
  const line = (name: string, f: (x: Sample) => number, digits: number) =>
    console.log(
      `| ${name} | ${f(first).toFixed(digits)} | ${f(warm).toFixed(digits)} | ${f(end).toFixed(digits)} | ${slope(f).toFixed(3)} |`,
    );
  line('RSS MB', (x) => x.rssMb, 1);
  line('heap used MB', (x) => x.heapMb, 1);
  line('heap total MB', (x) => x.heapTotalMb, 1);
  line('external MB', (x) => x.externalMb, 1);
  line('open fds', (x) => x.fds, 0);
  line('lag p99 ms', (x) => x.lagP99Ms, 1);
  const due = counters.sent - counters.staleReuse;
  const ok = end.rows === due;
  console.log(
    `\nrequests sent ${counters.sent}, of which ${counters.staleReuse} reset on a reused keep-alive socket before the proxy read them; audit rows ${end.rows}: ${ok ? 'rows == requests received' : 'MISMATCH'}; client errors ${counters.errors}${counters.lastError ? ` (last: ${counters.lastError})` : ''}`,
  );
  const snapshots = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
  if (snapshots.length > 0)
    console.log(`heap snapshots: ${snapshots.map((f) => path.join(dir, f)).join(' ')}`);
  db.close();
  keepAlive.destroy();
  stopAll();
  if (!KEEP && snapshots.length === 0) rmSync(dir, { recursive: true, force: true });
  if (!ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
