/**
 * Requests/s, p50/p99 and CPU ms per request for a 1 KB page through schoolgate (filtering, Basic
 * authentication and the durable audit on) next to a bare http-proxy forwarder measured in the same run,
 * plus audit rows committed per second. With --baseline-cli, a second schoolgate build (e.g. the commit
 * before a refactor) is measured as a third contender in the same rounds, for a before/after in one run.
 * Every process (origin, proxies, wrk) is separate; loopback only. CPU ms per request is the proxy
 * process's utime+stime from /proc/<pid>/stat over a wrk run (all its threads, so the audit writer too)
 * divided by the requests completed in that run.
 *
 *   npm run build && node dist/scripts/bench-proxy.js [--seconds 10] [--connections 50] [--rounds 3]
 *     [--no-auth] [--baseline-cli ../other-checkout/dist/src/cli/main.js] [--workers 1,2] [--wrk-threads 1]
 * --workers 1,2 measures `serve --workers 1` and `serve --workers 2` as two contenders in the same rounds
 * (CPU then counts the proxy's whole process tree: primary, workers and their threads).
 * Needs wrk (Debian package `wrk`) and Linux (/proc).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { treeUsage } from './bench/proc.js';
import { start, stopAll } from './processes.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const stringOption = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const SECONDS = option('seconds', 10);
const CONNECTIONS = option('connections', 50);
const ROUNDS = option('rounds', 3);
/** --no-auth: measure without Basic authentication (clients identified by address), to see its share. */
const AUTH = !args.includes('--no-auth');
/** --baseline-cli: another build's dist/src/cli/main.js, measured as a third contender. */
const baselineOption = stringOption('baseline-cli');
const BASELINE_CLI = baselineOption === undefined ? undefined : path.resolve(baselineOption);
/** --workers 1,2: one schoolgate contender per worker count (serve --workers N). */
const WORKERS = (stringOption('workers') ?? '1').split(',').map(Number);
const WRK_THREADS = option('wrk-threads', 1);
const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname));
const cli = path.join(dist, '..', 'src', 'cli', 'main.js');

interface WrkResult {
  requests: number;
  seconds: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
  /** The proxy process's CPU time over the run divided by requests completed. */
  cpuMsPerReq: number;
}

function wrk(
  proxy: ChildProcess,
  proxyPort: number,
  url: string,
  headers: Record<string, string>,
): WrkResult {
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
  const cpu0 = treeUsage(proxy.pid!).cpuMs;
  const out = execFileSync(
    'wrk',
    [
      '-t',
      String(WRK_THREADS),
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
  const cpu = treeUsage(proxy.pid!).cpuMs - cpu0;
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
    cpuMsPerReq: cpu / requests!,
  };
}

async function main(): Promise<void> {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('wrk is not installed: apt-get install wrk');
  }
  if (BASELINE_CLI !== undefined && !existsSync(BASELINE_CLI))
    throw new Error(`--baseline-cli ${BASELINE_CLI} does not exist (build that checkout first)`);
  const loadBefore = os.loadavg();
  const origin = await start([path.join(dist, 'bench-origin.js')], /origin on (\d+)/);
  const bare = await start([path.join(dist, 'bare-forwarder.js'), '0'], /bare forwarder on (\d+)/);

  const auth = `Basic ${Buffer.from('bench:bench-password').toString('base64')}`;
  /** One schoolgate build, started from its compiled CLI with its own config and data directory. */
  async function schoolgate(cliPath: string, workers = 1) {
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
      [cliPath, 'users', 'add', 'bench', '--profile', 'staff', '--password-stdin', ...common],
      { input: 'bench-password\n' },
    );
    const sg = await start(
      [cliPath, 'serve', ...common, '--workers', String(workers)],
      /filtering on [^\s]+:(\d+)/,
    );
    return { ...sg, auditDb: path.join(dir, 'data', 'audit.sqlite') };
  }

  interface Contender {
    name: string;
    run: () => WrkResult;
    auditDb?: string;
    rounds: WrkResult[];
    auditRows: number;
  }
  const sgContender = (name: string, sg: Awaited<ReturnType<typeof schoolgate>>): Contender => ({
    name,
    run: () =>
      wrk(
        sg.child,
        sg.port,
        `http://origin.test:${origin.port}/`,
        AUTH ? { 'Proxy-Authorization': auth } : {},
      ),
    auditDb: sg.auditDb,
    rounds: [],
    auditRows: 0,
  });
  const bareC: Contender = {
    name: 'bare http-proxy forwarder',
    run: () => wrk(bare.child, bare.port, `http://127.0.0.1:${origin.port}/`, {}),
    rounds: [],
    auditRows: 0,
  };
  const what = AUTH ? 'auth + filter + audit' : 'filter + audit, no auth';
  const sgCs: Contender[] = [];
  for (const n of WORKERS)
    sgCs.push(sgContender(`schoolgate --workers ${n} (${what})`, await schoolgate(cli, n)));
  const baseC =
    BASELINE_CLI === undefined
      ? undefined
      : sgContender('schoolgate (baseline build)', await schoolgate(BASELINE_CLI));
  const contenders = [bareC, ...sgCs, ...(baseC ? [baseC] : [])];

  // Warm all up (JIT, keep-alive pools), then alternate, rotating the order each round so background
  // load hits every contender alike.
  for (const c of contenders) c.run();
  const dbs = new Map(
    contenders
      .filter((c) => c.auditDb !== undefined)
      .map((c) => [c, new Database(c.auditDb!, { readonly: true })] as const),
  );
  const countRows = (c: Contender) => {
    const db = dbs.get(c);
    return db ? (db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n : 0;
  };
  for (let round = 0; round < ROUNDS; round++)
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length]!;
      const before = countRows(c);
      c.rounds.push(c.run());
      c.auditRows += countRows(c) - before;
    }
  for (const db of dbs.values()) db.close();
  const loadAfter = os.loadavg();

  const rps = (r: WrkResult) => r.requests / r.seconds;
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  };
  const medianRps = (c: Contender) => median(c.rounds.map(rps));
  const medianCpu = (c: Contender) => median(c.rounds.map((r) => r.cpuMsPerReq));
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(
    `\n1 KB page, ${CONNECTIONS} keep-alive connections, wrk -t${WRK_THREADS}, loopback; ${ROUNDS} rotating rounds of ${SECONDS}s, medians; ` +
      `${os.cpus().length} CPUs, Node ${process.version}`,
  );
  console.log(`load average (1/5/15 min) before: ${load(loadBefore)}, after: ${load(loadAfter)}`);
  if (baseC) console.log(`baseline build: ${BASELINE_CLI}`);
  console.log(
    '\nratio = req/s ÷ bare forwarder; CPU ms/req = proxy process utime+stime ÷ requests; × = ÷ that of bare / baseline\n',
  );
  const baselineCols = baseC ? ' ratio vs baseline |' : '';
  const cpuBaselineCols = baseC ? ' CPU × baseline |' : '';
  console.log(
    `| proxy | req/s | p50 ms | p99 ms | errors | non-2xx | ratio |${baselineCols} CPU ms/req | CPU × bare |${cpuBaselineCols} req/s each round |`,
  );
  console.log(
    `|---|---:|---:|---:|---:|---:|---:|${baseC ? '---:|' : ''}---:|---:|${baseC ? '---:|' : ''}---|`,
  );
  for (const c of contenders) {
    const value = medianRps(c);
    const cpu = medianCpu(c);
    const sum = (f: (r: WrkResult) => number) => c.rounds.reduce((a, r) => a + f(r), 0);
    const cells = [
      c.name,
      value.toFixed(0),
      median(c.rounds.map((r) => r.p50ms)).toFixed(2),
      median(c.rounds.map((r) => r.p99ms)).toFixed(2),
      String(sum((r) => r.errors)),
      String(sum((r) => r.non2xx)),
      (value / medianRps(bareC)).toFixed(2),
      ...(baseC ? [(value / medianRps(baseC)).toFixed(2)] : []),
      cpu.toFixed(4),
      (cpu / medianCpu(bareC)).toFixed(2),
      ...(baseC ? [(cpu / medianCpu(baseC)).toFixed(2)] : []),
      c.rounds.map((r) => rps(r).toFixed(0)).join(', '),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  console.log('');
  for (const c of contenders.filter((c) => c.auditDb !== undefined)) {
    const seconds = c.rounds.reduce((a, r) => a + r.seconds, 0);
    console.log(
      `audit rows committed during the ${c.name} rounds: ${c.auditRows} (${(c.auditRows / seconds).toFixed(0)} rows/s)`,
    );
  }
  stopAll();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
