/**
 * What a new inspected host costs the proxy (issue 13, Build item 3), as CPU ms of the serving process per
 * host (user + system from /proc, so a busy machine inflates it less than wall time), in one run:
 *
 * - before: sign a leaf, build a full context (the leaf key parsed again, plus the chain), handshake;
 * - after: sign a leaf, write it to the disk store, build a cert-only context, handshake over the shared
 *   key's context (SNI callback);
 * - after a restart: the leaf read back from disk and checked, cert-only context, handshake;
 * - cached leaf (reference): handshake only.
 *
 * The server is a child process (this script with --serve); the client (this process) opens one TLS
 * connection per host with SNI and closes it after the handshake. Modes alternate over --rounds rounds;
 * the table shows the median.
 *
 *   npm run build && node dist/scripts/bench-leaves.js [--hosts 300] [--rounds 3]
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { flag, numberOption, stringOption } from './args.js';
import { cpuMs, start, stopAll } from './processes.js';
import { createCa, readCa } from '../src/tls/ca.js';
import { LeafCertificates } from '../src/tls/leaf.js';
import { LeafStore } from '../src/tls/leaf-store.js';

const HOSTS = numberOption('hosts', 300);
const ROUNDS = numberOption('rounds', 3);
type Mode = 'before' | 'after' | 'restart' | 'cached';

async function serve(): Promise<void> {
  const mode = stringOption('mode') as Mode;
  const ca = readCa(stringOption('certs')!)!;
  const store = mode === 'before' ? null : new LeafStore(stringOption('store')!, 100_000);
  const leaves = new LeafCertificates(ca, { validityDays: 7, cacheSize: 100_000, store });
  if (mode !== 'before' && !(await leaves.checkCertOnly())) throw new Error('cert-only contexts fail here');
  // As the proxy does (intercept.ts): a TLSSocket per connection (tls.Server would ignore secureContext).
  const server = net.createServer((raw) => {
    const secure = new tls.TLSSocket(raw, {
      isServer: true,
      // Before: each host's full context (key parsed again); after: its cert-only context over the key's.
      ...(mode === 'before' ? {} : { secureContext: leaves.keyContext }),
      SNICallback: (name, cb) => {
        leaves.get(name).then(
          (leaf) => cb(null, mode === 'before' ? leaf.context() : leaf.certContext()),
          (err: Error) => cb(err),
        );
      },
    });
    secure.on('secure', () => secure.end());
    secure.on('error', () => raw.destroy());
  });
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    console.log(`listening ${port}`);
  });
}

function handshake(port: number, servername: string, ca: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca }, () => {
      s.destroy();
      resolve();
    });
    s.on('error', reject);
  });
}

async function round(mode: Mode, certs: string, store: string, caPem: string, tag: string): Promise<number> {
  const { child, port } = await start(
    [process.argv[1]!, '--serve', '--mode', mode, '--certs', certs, '--store', store],
    /listening (\d+)/,
  );
  // Warm up (JIT, the first context, the cert-only check) on hosts outside the measured set.
  for (let i = 0; i < 20; i++) await handshake(port, `warm${i}.${tag}.bench.test`, caPem);
  const names = Array.from({ length: HOSTS }, (_, i) =>
    mode === 'cached' ? `warm${i % 20}.${tag}.bench.test` : `h${i}.${tag}.bench.test`,
  );
  const before = cpuMs(child.pid!);
  for (const name of names) await handshake(port, name, caPem);
  const used = cpuMs(child.pid!) - before;
  child.kill('SIGTERM');
  return used / HOSTS;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-leaves-'));
  const certs = path.join(dir, 'certs');
  const { ca } = createCa(certs);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const results: Record<Mode, number[]> = { before: [], after: [], restart: [], cached: [] };
  const load0 = loadavg();
  for (let r = 0; r < ROUNDS; r++) {
    const store = path.join(dir, `leaves-${r}`);
    results.before.push(await round('before', certs, store, ca.certPem, `r${r}b`));
    results.after.push(await round('after', certs, store, ca.certPem, `r${r}a`));
    // The same hosts again in a new process with the same store: read back, not signed.
    results.restart.push(await round('restart', certs, store, ca.certPem, `r${r}a`));
    results.cached.push(await round('cached', certs, store, ca.certPem, `r${r}c`));
  }
  const fmt = (n: number) => n.toFixed(2);
  console.log(
    `Node ${process.version}; ${HOSTS} hosts a round, ${ROUNDS} rounds; load average ${load0.map((l) => l.toFixed(2)).join(', ')} → ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}\n`,
  );
  console.log('| new inspected host, serving process | CPU ms per host (median) | rounds | vs before |');
  console.log('| --- | ---: | --- | ---: |');
  const rows: [string, Mode][] = [
    ['before: sign + full context (key parsed per host) + handshake', 'before'],
    ['after: sign + disk write + cert-only context + handshake (SNI)', 'after'],
    ['after a restart: read back from disk + cert-only context + handshake', 'restart'],
    ['reference: leaf cached in memory, handshake only', 'cached'],
  ];
  for (const [label, mode] of rows)
    console.log(
      `| ${label} | ${fmt(median(results[mode]))} | ${results[mode].map(fmt).join(', ')} | ${(median(results[mode]) / median(results.before)).toFixed(2)} |`,
    );
  stopAll();
}

if (flag('serve')) void serve();
else
  main().catch((err: unknown) => {
    console.error(err);
    stopAll();
    process.exitCode = 1;
  });
