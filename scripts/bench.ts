/**
 * schoolgate side by side with Squid (plain and ssl-bump), e2guardian, mitmproxy and a bare Node
 * forwarder, in one run on this machine. Each contender runs pinned to core 0; the origins and the load
 * generators run on core 1. Plain HTTP is driven by wrk (absolute-form requests through a Lua script) at
 * 1 KB and 100 KB, 16 and 128 connections; inspected HTTPS by a Node CONNECT+TLS load (keep-alive, new
 * connections to one host, new hosts) against an origin that presents a different certificate per host.
 * Contenders alternate over rounds (order rotated each round); the table gives medians, each figure with its
 * ratio to Squid's and to the bare forwarder's. CPU ms per request is the contender's whole process tree's
 * utime+stime (/proc/<pid>/stat) over a run divided by the requests completed in it: the figure that stays
 * meaningful on a busy machine, where req/s does not. Installs nothing: a contender not installed is skipped
 * with a line saying which Debian package brings it.
 *
 *   npm run bench -- [--rounds 3] [--seconds 4] [--only sg,sq,sqb,e2g,mitm,bare] [--ut1 dir] [--max-hosts 2000]
 *     [--baseline-cli ../other-checkout/dist/src/cli/main.js]   (adds that build as contender sg-base)
 *     [--kinds http,tls,keepalive,newconn,newhost]   (only those workloads)   [--cpu-prof DIR]   (schoolgate serve writes .cpuprofile there)
 *     [--workloads 'HTTP 1 KB']   (only the workloads whose title holds one of these comma-separated strings)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { numberOption, stringOption } from './args.js';
import { checkForwards } from './bench/check.js';
import type { Contender, Running } from './bench/contender.js';
import { allHostNames, CACHED_HOST, KEEPALIVE_HOST } from './bench/names.js';
import { startHttpOrigin, startTlsOrigin } from './bench/origins.js';
import { bareForwarder, e2guardian, mitmproxy } from './bench/others.js';
import { treeUsage } from './bench/proc.js';
import { schoolgate } from './bench/schoolgate.js';
import { installed, pinTo, stop } from './bench/spawn.js';
import { squid } from './bench/squid.js';
import { formatTable, summarise, type Sample, type WorkloadRows } from './bench/table.js';
import type { TlsLoadOptions } from './bench/tls-load.js';
import { parseWrkResult, runWrk, type LoadResult } from './bench/wrk.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const ROUNDS = Math.max(1, numberOption('rounds', 3));
const SECONDS = Math.min(Math.max(1, numberOption('seconds', 4)), 15);
const MAX_HOSTS = numberOption('max-hosts', 2000);
const ONLY = stringOption('only')?.split(',');
const BASELINE_CLI = stringOption('baseline-cli');
const KINDS = stringOption('kinds')?.split(',');
const CPU_PROF = stringOption('cpu-prof');
const UT1 = path.resolve(stringOption('ut1') ?? path.join(here, '..', '..', '..', 'shared', 'data', 'ut1'));

interface Workload {
  title: string;
  kind: 'http' | 'tls';
  route: string;
  connections: number;
  mode?: TlsLoadOptions['mode'];
}
const ALL_WORKLOADS: Workload[] = [
  { title: 'HTTP 1 KB c16', kind: 'http', route: '/1k', connections: 16 },
  { title: 'HTTP 1 KB c128', kind: 'http', route: '/1k', connections: 128 },
  { title: 'HTTP 100 KB c16', kind: 'http', route: '/100k', connections: 16 },
  { title: 'HTTP 100 KB c128', kind: 'http', route: '/100k', connections: 128 },
  {
    title: 'inspected HTTPS 1 KB keep-alive c16',
    kind: 'tls',
    route: '/1k',
    connections: 16,
    mode: 'keepalive',
  },
  {
    title: 'new inspected connection, leaf cached c8',
    kind: 'tls',
    route: '/1k',
    connections: 8,
    mode: 'newconn',
  },
  {
    title: 'new inspected connection, new host c8',
    kind: 'tls',
    route: '/1k',
    connections: 8,
    mode: 'newhost',
  },
];

const WANTED = stringOption('workloads')?.split(',');
const WORKLOADS = ALL_WORKLOADS.filter(
  (w) =>
    (KINDS === undefined || KINDS.includes(w.kind) || (w.mode !== undefined && KINDS.includes(w.mode))) &&
    (WANTED === undefined || WANTED.some((t) => w.title.includes(t))),
);

const SQUID = { http: 'Squid', tls: 'Squid ssl-bump' };
const BARE = 'bare forwarder';

/** One run of one workload through one contender, with the contender's process tree measured over it. */
function runOnce(
  c: Contender,
  r: Running,
  w: Workload,
  ctx: { top: string; tlsPort: number; seconds: number; round: number },
): Sample {
  const before = treeUsage(r.process.pid);
  let result: LoadResult;
  if (w.kind === 'http') {
    result = runWrk({
      dir: ctx.top,
      pin: pinTo(1),
      proxyPort: r.port,
      url: r.httpUrl(w.route),
      headers: r.headers,
      connections: w.connections,
      seconds: ctx.seconds,
    });
  } else {
    const options: TlsLoadOptions = {
      mode: w.mode!,
      proxyPort: r.port,
      originPort: ctx.tlsPort,
      host: w.mode === 'keepalive' ? KEEPALIVE_HOST : CACHED_HOST,
      hostPrefix: `${c.key}-r${ctx.round}`,
      maxHosts: MAX_HOSTS,
      connections: w.connections,
      seconds: ctx.seconds,
      trustFile: r.inspectCaFile!,
      ...(r.headers['Proxy-Authorization'] ? { proxyAuthorization: r.headers['Proxy-Authorization'] } : {}),
    };
    const [cmd, ...pin] = [...pinTo(1), process.execPath];
    const out = execFileSync(
      cmd!,
      [...pin, path.join(here, 'bench', 'tls-load.js'), JSON.stringify(options)],
      { encoding: 'utf8', timeout: (ctx.seconds + 30) * 1000 },
    );
    result = parseWrkResult(out);
  }
  const after = treeUsage(r.process.pid);
  return { ...result, cpuMs: after.cpuMs - before.cpuMs, rssMb: after.rssMb };
}

const supports = (c: Contender, w: Workload) => (w.kind === 'http' ? c.http : c.tls);
const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  if (!installed('wrk')) throw new Error('wrk is not installed (Debian: apt-get install wrk)');
  const top = mkdtempSync(path.join(os.tmpdir(), 'sg-bench-'));
  const loadBefore = os.loadavg();
  const all = [
    schoolgate(
      existsSync(UT1) ? UT1 : undefined,
      undefined,
      CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(CPU_PROF)] : [],
    ),
    ...(BASELINE_CLI ? [schoolgate(existsSync(UT1) ? UT1 : undefined, path.resolve(BASELINE_CLI))] : []),
    squid(false),
    squid(true),
    e2guardian(),
    mitmproxy(),
    bareForwarder(),
  ];
  const notes: string[] = [];
  if (!existsSync(UT1)) notes.push(`UT1 not found at ${UT1}: schoolgate has the shipped categories only`);
  if (pinTo(0).length === 0) notes.push('not pinned: taskset is missing or there is one CPU');
  const contenders = all
    .filter((c) => ONLY === undefined || ONLY.includes(c.key) || c.key === 'sg-base')
    .filter((c) => {
      const why = c.missing();
      if (why) notes.push(`skipped ${c.name}: ${why}`);
      return why === undefined;
    });

  console.error(`bench folder ${top}; starting the origins`);
  const httpOrigin = await startHttpOrigin(top);
  const tlsOrigin = await startTlsOrigin(top);
  const hostsFile = path.join(top, 'hosts');
  const prefixes = contenders.flatMap((c) => Array.from({ length: ROUNDS }, (_, r) => `${c.key}-r${r}`));
  writeFileSync(
    hostsFile,
    allHostNames(prefixes, MAX_HOSTS)
      .map((n) => `127.0.0.1 ${n}\n`)
      .join(''),
  );

  const running = new Map<Contender, Running>();
  for (const c of contenders) {
    const dir = path.join(top, c.key);
    mkdirSync(dir, { recursive: true });
    console.error(`starting ${c.name}`);
    try {
      running.set(c, await c.start({ top, dir, httpOrigin, tlsOrigin, hostsFile }));
    } catch (err) {
      notes.push(`skipped ${c.name}: it did not start (${(err as Error).message.split('\n')[0]})`);
    }
  }
  for (const [c, r] of running) {
    if (!c.http) continue;
    const wrong = (await checkForwards(r, '/1k', 1024)) ?? (await checkForwards(r, '/100k', 100 * 1024));
    if (wrong === undefined) continue;
    notes.push(`skipped ${c.name}: it does not forward (${wrong})`);
    await stop(r.process);
    running.delete(c);
  }
  const live = contenders.filter((c) => running.has(c));
  const ctx = (round: number, seconds: number) => ({ top, tlsPort: tlsOrigin.port, seconds, round });
  const attempt = (c: Contender, w: Workload, round: number, seconds: number): Sample | undefined => {
    try {
      return runOnce(c, running.get(c)!, w, ctx(round, seconds));
    } catch (err) {
      notes.push(`${c.name}, ${w.title}, round ${round + 1}: ${(err as Error).message.split('\n')[0]}`);
      return undefined;
    }
  };

  // Warm every contender up (JIT, pools, leaf caches) on a short run of the first HTTP and HTTPS loads.
  for (const c of live)
    for (const w of [WORKLOADS.find((w) => w.kind === 'http'), WORKLOADS.find((w) => w.kind === 'tls')])
      if (w && supports(c, w)) {
        console.error(`warming up ${c.name}: ${w.title}`);
        attempt(c, w, -1, 1);
      }

  const samples = new Map<string, Sample[]>();
  const key = (c: Contender, w: Workload) => `${c.key} ${w.title}`;
  const loads: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    console.error(`round ${round + 1} of ${ROUNDS}`);
    for (const w of WORKLOADS) {
      const able = live.filter((c) => supports(c, w));
      for (let i = 0; i < able.length; i++) {
        const c = able[(i + round) % able.length]!;
        console.error(`  ${w.title}: ${c.name}`);
        const s = attempt(c, w, round, SECONDS);
        if (s) samples.set(key(c, w), [...(samples.get(key(c, w)) ?? []), s]);
        loads.push(os.loadavg()[0]!);
      }
    }
  }
  const loadAfter = os.loadavg();
  for (const r of running.values()) await stop(r.process, CPU_PROF !== undefined);
  await stop(httpOrigin.process);
  await stop(tlsOrigin.process);
  rmSync(top, { recursive: true, force: true });

  const rows: WorkloadRows[] = WORKLOADS.map((w) => ({
    workload: w.title,
    squid: w.kind === 'http' ? SQUID.http : SQUID.tls,
    bare: BARE,
    rows: all
      .filter((c) => supports(c, w) && samples.has(key(c, w)))
      .map((c) => ({ contender: c.name, measure: summarise(samples.get(key(c, w))!) })),
  }));
  console.log(
    `\nschoolgate bench: ${ROUNDS} rotating rounds of ${SECONDS} s, medians; ${os.cpus().length} CPUs ` +
      `(${os.cpus()[0]?.model ?? '?'}), Node ${process.version}; origins: ${httpOrigin.name}, ${tlsOrigin.name}`,
  );
  console.log(
    `load average (1/5/15 min) before: ${load(loadBefore)}, after: ${load(loadAfter)}; ` +
      `1-min load at each run's end: median ${summariseLoad(loads)}`,
  );
  console.log(
    'each cell: value (÷ Squid / ÷ bare forwarder, same workload; HTTPS rows divide by Squid ssl-bump); ' +
      'CPU ms/req = the process tree’s utime+stime over the run ÷ requests completed; RSS at the run’s end\n',
  );
  console.log(formatTable(rows));
  console.log(
    '\nschoolgate: Basic auth required (pupil profile), shipped categories + UT1, inspection on, each audit row ' +
      'committed before the answer. The others: no authentication, their packaged filtering (e2guardian) or ' +
      'none; Squid and e2guardian write an access log. e2guardian and the bare forwarder are asked by address ' +
      '(they read no hosts file), the rest by name. A row with 0 req/s completed nothing within the run.',
  );
  if (notes.length > 0) console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);
}

function summariseLoad(xs: number[]): string {
  if (xs.length === 0) return '–';
  const s = [...xs].sort((a, b) => a - b);
  return `${s[Math.floor(s.length / 2)]!.toFixed(2)} (range ${s[0]!.toFixed(2)}–${s[s.length - 1]!.toFixed(2)})`;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
