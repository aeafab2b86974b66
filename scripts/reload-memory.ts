/**
 * Reload frees the old snapshot: a proxy (in this process, real server, real audit database) over a temp
 * categories folder with one large list (--entries, default 200,000 domains), reloaded --reloads times (each
 * reload reads a freshly rewritten list, so nothing can be shared with the previous load); heap used after
 * a full GC is measured after start and after each reload. It must come back to the start's figure: a
 * reload that keeps the old snapshot alive adds a list's worth each time.
 *
 * With --hold-tunnels a CONNECT tunnel is opened before each reload and kept open to the end, as browsers
 * keep theirs: a tunnel must not keep the snapshot it was decided with alive either.
 *
 *   npm run build && node --expose-gc dist/scripts/reload-memory.js [--entries 200000] [--reloads 5]
 *     [--hold-tunnels]
 * Exits 1 when the heap after the last reload exceeds the start's by more than --slack-mb (default 10).
 */
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import tls from 'node:tls';
import path from 'node:path';
import { pino } from 'pino';
import { flag, numberOption } from './args.js';
import { startSchoolgate } from '../src/app/start.js';
import { validateConfig } from '../src/config/load.js';

const ENTRIES = numberOption('entries', 200_000);
const RELOADS = numberOption('reloads', 5);
const SLACK_MB = numberOption('slack-mb', 10);
const HOLD_TUNNELS = flag('hold-tunnels');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** Heap used after full collections (twice: weak references and finalizers need a second pass). */
async function settledHeapMb(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed / 1e6;
}

function writeList(categories: string, generation: number): void {
  const lines: string[] = [];
  for (let i = 0; i < ENTRIES; i++) lines.push(`site-${generation}-${i}.example`);
  writeFileSync(path.join(categories, 'big', 'domains'), `${lines.join('\n')}\n`);
}

/**
 * A raw tunnel through the proxy to `port`, left open: CONNECT, then a TLS ClientHello as a browser sends
 * at once (the tunnel is decided on its SNI too, then relayed); resolves once the far end received it.
 */
async function openTunnel(proxyPort: number, port: number, farEnd: net.Server): Promise<net.Socket> {
  const socket = net.connect(proxyPort, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`CONNECT tunnel.test:${port} HTTP/1.1\r\nHost: tunnel.test:${port}\r\n\r\n`);
  const [reply] = (await once(socket, 'data')) as [Buffer];
  if (!reply.toString('latin1').startsWith('HTTP/1.1 200'))
    throw new Error(`CONNECT: ${reply.toString('latin1')}`);
  const relayed = once(farEnd, 'relayed');
  // The far end never answers: the handshake stays pending and the tunnel open.
  tls.connect({ socket, servername: 'tunnel.test' }).on('error', () => socket.destroy());
  await relayed;
  return socket;
}

async function main(): Promise<void> {
  // The tunnels' far end: accepts and holds; 'relayed' once a tunnel's first bytes arrive.
  const upstream = net.createServer((s) => s.once('data', () => upstream.emit('relayed')));
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const upstreamPort = (upstream.address() as net.AddressInfo).port;
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-reload-memory-'));
  const categories = path.join(dir, 'categories');
  mkdirSync(path.join(categories, 'big'), { recursive: true });
  writeFileSync(
    path.join(categories, 'categories.yaml'),
    'big:\n  title: Big\n  description: generated\n  flagged: false\n  alert: false\n',
  );
  writeList(categories, 0);
  const config = validateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: path.join(dir, 'data'),
    categoriesDir: categories,
    profiles: { pupil: { categories: { big: 'block' } } },
    identity: { guestProfile: 'pupil' },
    tls: { inspect: false, certsDir: path.join(dir, 'certs') },
    tunnelPorts: [upstreamPort],
    hosts: { 'tunnel.test': '127.0.0.1' },
    log: { level: 'error' },
  });
  const sg = await startSchoolgate(config, pino({ level: 'error' }));
  const rssMb = () => process.memoryUsage().rss / 1e6;
  const rows: [string, number, number][] = [['after start', await settledHeapMb(), rssMb()]];
  const tunnels: net.Socket[] = [];
  for (let i = 1; i <= RELOADS; i++) {
    if (HOLD_TUNNELS) tunnels.push(await openTunnel(sg.address.port, upstreamPort, upstream));
    writeList(categories, i);
    const r = await sg.reload();
    if (r.entries < ENTRIES) throw new Error(`reload ${i} loaded ${r.entries} entries, not ${ENTRIES}`);
    rows.push([`after reload ${i}`, await settledHeapMb(), rssMb()]);
  }
  for (const t of tunnels) t.destroy();
  await sg.stop();
  upstream.close();
  rmSync(dir, { recursive: true, force: true });

  const base = rows[0]![1];
  console.log(
    `${ENTRIES} entries, ${RELOADS} reloads${HOLD_TUNNELS ? ', a tunnel opened before each and held' : ''}, Node ${process.version}`,
  );
  console.log('| when | heap used after GC, MB | vs start | RSS MB |\n|---|---:|---:|---:|');
  for (const [when, mb, rss] of rows)
    console.log(
      `| ${when} | ${mb.toFixed(1)} | ${(mb - base >= 0 ? '+' : '') + (mb - base).toFixed(1)} | ${rss.toFixed(0)} |`,
    );
  const last = rows[rows.length - 1]![1];
  const ok = last - base <= SLACK_MB;
  console.log(
    ok ? 'reload frees the old snapshot' : `heap grew ${(last - base).toFixed(1)} MB over ${RELOADS} reloads`,
  );
  if (!ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
