/**
 * Safeguarding alerts under load: (1) req/s and CPU ms per request of schoolgate with alerts on and off,
 * in the same run, for a search page whose term matches a danger phrase on every request (the worst case:
 * every committed row is read against the rules and counted on an alert) and for a plain page; (2) the
 * alert latency, from sending a search that raises a fresh alert to the webhook receiving it, measured
 * while wrk keeps the proxy busy. Fresh alerts come from distinct guests: each probe uses its own loopback
 * source address (127.0.1.N), and guests are de-duplicated by address.
 *
 *   npm run build && node dist/scripts/bench-alerts.js [--seconds 10] [--connections 50] [--rounds 3] [--probes 20]
 * Needs wrk (Debian package `wrk`) and Linux (/proc). Loopback only.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cpuMs, start } from './processes.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = option('seconds', 10);
const CONNECTIONS = option('connections', 50);
const ROUNDS = option('rounds', 3);
const PROBES = option('probes', 20);
const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname));
const cli = path.join(dist, '..', 'src', 'cli', 'main.js');
const run = promisify(execFile);

interface WrkResult {
  rps: number;
  p99ms: number;
  errors: number;
  cpuMsPerReq: number;
}

async function wrk(proxy: ChildProcess, port: number, url: string): Promise<WrkResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-wrk-'));
  const script = path.join(dir, 'proxy.lua');
  writeFileSync(
    script,
    `wrk.path = ${JSON.stringify(url)}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(99), e.connect + e.read + e.write + e.timeout + e.status))
end\n`,
  );
  const cpu0 = cpuMs(proxy.pid!);
  const { stdout } = await run('wrk', [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${SECONDS}s`,
    '-s',
    script,
    `http://127.0.0.1:${port}`,
  ]);
  const cpu = cpuMs(proxy.pid!) - cpu0;
  const m = /RESULT (\d+) (\d+) (\d+) (\d+)/.exec(stdout);
  if (!m) throw new Error(`unexpected wrk output: ${stdout}`);
  const [requests, us, p99, errors] = m.slice(1).map(Number) as [number, number, number, number];
  return { rps: requests / (us / 1e6), p99ms: p99 / 1000, errors, cpuMsPerReq: cpu / requests };
}

/** Webhook receiver in this process: when each alert (by client address) arrived. */
function startReceiver(): Promise<{ url: string; arrivals: Map<string, number>; received: () => number }> {
  const arrivals = new Map<string, number>();
  let received = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      received++;
      try {
        const { alert } = JSON.parse(Buffer.concat(chunks).toString()) as { alert: { clientIp: string } };
        if (!arrivals.has(alert.clientIp)) arrivals.set(alert.clientIp, at);
      } catch {
        // not ours
      }
      res.end('ok');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        arrivals,
        received: () => received,
      });
    }),
  );
}

function probe(port: number, url: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: url,
        localAddress,
        headers: { host: new URL(url).host },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const origin = await start([path.join(dist, 'bench-origin.js')], /origin on (\d+)/);
  const receiver = await startReceiver();
  const secretDir = mkdtempSync(path.join(tmpdir(), 'sg-bench-alerts-'));
  writeFileSync(path.join(secretDir, 'secret'), 'bench-webhook-secret-0123456789', { mode: 0o600 });

  async function schoolgate(alerts: boolean) {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-'));
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      httpPorts: [origin.port],
      identity: { networks: [{ cidr: '127.0.0.0/8', profile: 'pupil' }] },
      hosts: { 'www.google.com': '127.0.0.1', 'origin.test': '127.0.0.1' },
      log: { level: 'error' },
      alerts: alerts
        ? { webhook: { url: receiver.url, secretFile: path.join(secretDir, 'secret') } }
        : { enabled: false },
    };
    writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify(config));
    const common = ['--config', path.join(dir, 'config.yaml'), '--data', path.join(dir, 'data')];
    return start([cli, 'serve', ...common], /filtering on [^\s]+:(\d+)/);
  }
  const on = await schoolgate(true);
  const off = await schoolgate(false);
  const searchUrl = `http://www.google.com:${origin.port}/search?q=how+to+kill+myself`;
  const plainUrl = `http://origin.test:${origin.port}/`;

  const table: { name: string; url: string; proxy: typeof on; results: WrkResult[] }[] = [
    { name: 'alerts on, matching search', url: searchUrl, proxy: on, results: [] },
    { name: 'alerts off, matching search', url: searchUrl, proxy: off, results: [] },
    { name: 'alerts on, plain page', url: plainUrl, proxy: on, results: [] },
    { name: 'alerts off, plain page', url: plainUrl, proxy: off, results: [] },
  ];
  for (const t of table) await wrk(t.proxy.child, t.proxy.port, t.url); // warm-up
  for (let round = 0; round < ROUNDS; round++)
    for (let i = 0; i < table.length; i++) {
      const t = table[(i + round) % table.length]!;
      t.results.push(await wrk(t.proxy.child, t.proxy.port, t.url));
    }

  // Latency under load: probes from fresh guest addresses while wrk keeps the alerts-on proxy busy.
  const latencies: number[] = [];
  const load = wrk(on.child, on.port, plainUrl);
  for (let i = 1; i <= PROBES; i++) {
    const address = `127.0.1.${i}`;
    const sent = performance.now();
    await probe(on.port, searchUrl, address);
    while (!receiver.arrivals.has(address) && performance.now() - sent < 15_000)
      await new Promise((r) => setTimeout(r, 2));
    const at = receiver.arrivals.get(address);
    latencies.push(at === undefined ? Infinity : at - sent);
    await new Promise((r) => setTimeout(r, (SECONDS * 1000) / (PROBES + 2)));
  }
  const busy = await load;
  const loadAfter = os.loadavg();

  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  };
  const base = (name: string) => table.find((t) => t.name === name)!;
  console.log(
    `\n${CONNECTIONS} keep-alive connections, wrk -t1, loopback; ${ROUNDS} rotating rounds of ${SECONDS}s, medians; ` +
      `${os.cpus().length} CPUs, Node ${process.version}`,
  );
  console.log(
    `load average before: ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after: ${loadAfter.map((x) => x.toFixed(2)).join(' ')}\n`,
  );
  console.log('| proxy | req/s | p99 ms | errors | CPU ms/req | req/s ÷ alerts off | CPU × alerts off |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const t of table) {
    const offName = t.name.replace('alerts on', 'alerts off');
    const o = base(offName);
    const rps = median(t.results.map((r) => r.rps));
    const cpu = median(t.results.map((r) => r.cpuMsPerReq));
    console.log(
      `| ${t.name} | ${rps.toFixed(0)} | ${median(t.results.map((r) => r.p99ms)).toFixed(1)} | ${t.results.reduce((a, r) => a + r.errors, 0)} | ${cpu.toFixed(3)} | ${(rps / median(o.results.map((r) => r.rps))).toFixed(2)} | ${(cpu / median(o.results.map((r) => r.cpuMsPerReq))).toFixed(2)} |`,
    );
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  console.log(
    `\nalert latency (request sent → webhook received), ${PROBES} fresh alerts while wrk ran ${busy.rps.toFixed(0)} req/s: ` +
      `median ${median(latencies).toFixed(1)} ms, p90 ${p(0.9).toFixed(1)} ms, max ${p(1).toFixed(1)} ms; ` +
      `missing ${latencies.filter((l) => l === Infinity).length}; webhook POSTs received ${receiver.received()}`,
  );
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
