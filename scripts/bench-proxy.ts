/**
 * Requests/s and p99 for a 1 KB page through schoolgate (filtering, Basic authentication and the durable
 * audit on) next to a bare http-proxy forwarder measured in the same run, plus audit rows committed per
 * second. Every process (origin, proxy, wrk) is separate; loopback only.
 *
 *   npm run build && node dist/scripts/bench-proxy.js [--seconds 10] [--connections 50]
 * Needs wrk (Debian package `wrk`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = option('seconds', 10);
const CONNECTIONS = option('connections', 50);
const ROUNDS = option('rounds', 3);
/** --no-auth: measure without Basic authentication (clients identified by address), to see its share. */
const AUTH = !args.includes('--no-auth');
const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname));
const cli = path.join(dist, '..', 'src', 'cli', 'main.js');

function start(command: string[], ready: RegExp): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, command, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${command.join(' ')} exited ${code}: ${out}`)));
  });
}

interface WrkResult {
  requests: number;
  seconds: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
}

function wrk(proxyPort: number, url: string, headers: Record<string, string>): WrkResult {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-wrk-'));
  const script = path.join(dir, 'proxy.lua');
  const headerLines = Object.entries(headers)
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join('\n');
  writeFileSync(
    script,
    `wrk.path = ${JSON.stringify(url)}\n${headerLines}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end\n`,
  );
  const out = execFileSync(
    'wrk',
    [
      '-t',
      '1',
      '-c',
      String(CONNECTIONS),
      '-d',
      `${SECONDS}s`,
      '-s',
      script,
      `http://127.0.0.1:${proxyPort}`,
    ],
    { encoding: 'utf8' },
  );
  const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
  if (!m) throw new Error(`unexpected wrk output: ${out}`);
  const [requests, durationUs, p50, p99, errors, non2xx] = m.slice(1).map(Number) as number[];
  return {
    requests: requests!,
    seconds: durationUs! / 1e6,
    p50ms: p50! / 1000,
    p99ms: p99! / 1000,
    errors: errors!,
    non2xx: non2xx!,
  };
}

async function main(): Promise<void> {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('wrk is not installed: apt-get install wrk');
  }
  const origin = await start([path.join(dist, 'bench-origin.js')], /origin on (\d+)/);
  const bare = await start([path.join(dist, 'bare-forwarder.js'), '0'], /bare forwarder on (\d+)/);

  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-'));
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    httpPorts: [origin.port],
    identity: { basicAuth: AUTH, requireAuth: AUTH },
    hosts: { 'origin.test': '127.0.0.1' },
    log: { level: 'warn' },
  };
  writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify(config));
  const common = ['--config', path.join(dir, 'config.yaml'), '--data', path.join(dir, 'data')];
  execFileSync(
    process.execPath,
    [cli, 'users', 'add', 'bench', '--profile', 'staff', '--password-stdin', ...common],
    {
      input: 'bench-password\n',
    },
  );
  const sg = await start([cli, 'serve', ...common], /filtering on [^\s]+:(\d+)/);
  const auth = `Basic ${Buffer.from('bench:bench-password').toString('base64')}`;

  // Warm both up (JIT, keep-alive pools), then alternate rounds so background load hits both alike.
  const bareRun = () => wrk(bare.port, `http://127.0.0.1:${origin.port}/`, {});
  const sgRun = () =>
    wrk(sg.port, `http://origin.test:${origin.port}/`, AUTH ? { 'Proxy-Authorization': auth } : {});
  bareRun();
  sgRun();
  const db = new Database(path.join(dir, 'data', 'audit.sqlite'), { readonly: true });
  const countRows = () => (db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
  const bareRounds: WrkResult[] = [];
  const sgRounds: WrkResult[] = [];
  let rows = 0;
  let sgSeconds = 0;
  for (let i = 0; i < ROUNDS; i++) {
    bareRounds.push(bareRun());
    const before = countRows();
    const r = sgRun();
    rows += countRows() - before;
    sgSeconds += r.seconds;
    sgRounds.push(r);
  }
  db.close();

  const rps = (r: WrkResult) => r.requests / r.seconds;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(bareRounds.map(rps));
  console.log(
    `\n1 KB page, ${CONNECTIONS} keep-alive connections, wrk -t1, loopback; ${ROUNDS} alternating rounds of ${SECONDS}s, medians\n`,
  );
  console.log('| proxy | req/s | p50 ms | p99 ms | errors | non-2xx | ratio | req/s each round |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const [name, rounds] of [
    ['bare http-proxy forwarder', bareRounds],
    ['schoolgate (auth + filter + audit)', sgRounds],
  ] as const) {
    const value = median(rounds.map(rps));
    const sum = (f: (r: WrkResult) => number) => rounds.reduce((a, r) => a + f(r), 0);
    console.log(
      `| ${name} | ${value.toFixed(0)} | ${median(rounds.map((r) => r.p50ms)).toFixed(2)} | ${median(rounds.map((r) => r.p99ms)).toFixed(2)} | ${sum((r) => r.errors)} | ${sum((r) => r.non2xx)} | ${(value / base).toFixed(2)} | ${rounds.map((r) => rps(r).toFixed(0)).join(', ')} |`,
    );
  }
  console.log(
    `\naudit rows committed during the schoolgate rounds: ${rows} (${(rows / sgSeconds).toFixed(0)} rows/s)`,
  );
  for (const p of [sg, bare, origin]) p.child.kill('SIGTERM');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
