/**
 * Which library should forward absolute-form HTTP requests? The same minimal forward proxy built four ways,
 * measured in one run, ratios against http-proxy (what src/proxy/handle-http.ts uses today):
 *  - http-proxy: proxy.web with a keep-alive http.Agent and today's hooks (raw path, Connection header);
 *  - node:http: http.request on a keep-alive http.Agent, req piped up, the response piped back;
 *  - undici request: Agent.request (keep-alive pool), the body Readable piped back;
 *  - undici dispatch: Agent.dispatch with a handler writing straight to the response (pause on backpressure).
 * Each does the same work: new URL(absolute-form), strip hop-by-hop headers, forward to a loopback origin,
 * stream the response back, count response bytes. Every contender, the origin (1 KB and 100 KB bodies) and
 * the load generator (wrk, else a Node keep-alive client) run in separate processes; CPU ms per request is
 * the contender's utime+stime from /proc/<pid>/stat over the run divided by completed requests; bytes/req
 * is response bytes the contender counted per request it forwarded (a little under the body size: the load
 * generator cuts off the responses in flight when a run ends).
 * Contenders alternate over rounds (order rotated each round); the table shows medians. Loopback only.
 *
 *   npm run build && node dist/scripts/bench-forward.js [--seconds 8] [--connections 50] [--rounds 3]
 * Needs undici (a devDependency) and preferably wrk (Debian package `wrk`); Linux (/proc).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import HttpProxy from 'http-proxy';
import { Agent as UndiciAgent, type Dispatcher } from 'undici';
import { stripHopByHop } from '../src/proxy/hop-by-hop.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = Math.min(option('seconds', 8), 10);
const WARMUP = Math.min(option('warmup', 2), 10);
const CONNECTIONS = option('connections', 50);
const ROUNDS = Math.max(option('rounds', 3), 3);
const self = new URL(import.meta.url).pathname;

const CONTENDERS = ['http-proxy', 'node:http', 'undici request', 'undici dispatch'] as const;
type Contender = (typeof CONTENDERS)[number];
const BODIES = { '/1k': 1024, '/100k': 100 * 1024 } as const;
type BodyPath = keyof typeof BODIES;

// ---------------------------------------------------------------- child roles

/** The origin: fixed bodies; reports what it received in x-* headers for the correctness check. */
function runOrigin(): void {
  const bodies = new Map(Object.entries(BODIES).map(([p, n]) => [p, Buffer.alloc(n, 'x')]));
  const server = http.createServer((req, res) => {
    let received = 0;
    req.on('data', (c: Buffer) => (received += c.length));
    req.on('end', () => {
      const route = (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '/');
      const body = bodies.get(route) ?? bodies.get('/1k')!;
      const headers: Record<string, string | number> = {
        'content-type': 'text/plain',
        'content-length': body.length,
      };
      if (req.headers['x-check']) {
        const leaked = ['x-secret', 'proxy-authorization', 'proxy-connection', 'keep-alive'].filter(
          (h) => h in req.headers,
        );
        Object.assign(headers, {
          'x-path': req.url ?? '',
          'x-host': req.headers.host ?? '',
          'x-leaked': leaked.join(',') || 'none',
          'x-received': received,
          connection: 'keep-alive, x-origin-hop',
          'x-origin-hop': '1',
          'proxy-authenticate': 'Basic',
        });
      }
      res.writeHead(200, headers);
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(`ready ${(server.address() as AddressInfo).port}`));
  process.on('SIGTERM', () => process.exit(0));
}

interface Stats {
  requests: number;
  bytes: number;
}
type Forward = (req: IncomingMessage, res: ServerResponse, url: URL, rawPath: string, stats: Stats) => void;

function fail(res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else res.writeHead(502).end();
}

const requestHasBody = (req: IncomingMessage) =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

/** The work common to every contender: parse, rebuild Host, strip hop-by-hop, then forward. */
function runProxy(forward: Forward): void {
  const stats: Stats = { requests: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (url.protocol !== 'http:') {
      res.writeHead(400).end();
      return;
    }
    stats.requests++;
    req.headers.host = url.host;
    stripHopByHop(req.headers);
    forward(req, res, url, `${url.pathname}${url.search}`, stats);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(`ready ${(server.address() as AddressInfo).port}`));
  process.on('message', () => process.send!({ ...stats }));
  process.on('SIGTERM', () => process.exit(0));
}

const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

/** As src/proxy/handle-http.ts does it today: one proxy, a WeakMap of exchanges, two hooks. */
function httpProxyForward(): Forward {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = HttpProxy.createProxyServer({});
  const exchanges = new WeakMap<IncomingMessage, { rawPath: string; keepAlive: boolean; stats: Stats }>();
  proxy.on('proxyReq', (proxyReq, req) => {
    const exchange = exchanges.get(req);
    if (exchange) proxyReq.path = exchange.rawPath;
  });
  proxy.on('proxyRes', (proxyRes, req) => {
    const exchange = exchanges.get(req);
    if (!exchange) return;
    stripHopByHop(proxyRes.headers, ['connection', 'keep-alive']);
    proxyRes.headers.connection = exchange.keepAlive ? 'keep-alive' : 'close';
    proxyRes.on('data', (chunk: Buffer) => (exchange.stats.bytes += chunk.length));
  });
  return (req, res, url, rawPath, stats) => {
    const keepAlive = (res as { shouldKeepAlive?: boolean }).shouldKeepAlive !== false;
    exchanges.set(req, { rawPath, keepAlive, stats });
    req.url = rawPath;
    proxy.web(
      req,
      res,
      {
        target: { protocol: 'http:', host: hostOf(url), port: Number(url.port) || 80 },
        agent,
        xfwd: false,
        changeOrigin: false,
      },
      () => fail(res),
    );
  };
}

function nodeHttpForward(): Forward {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  return (req, res, url, rawPath, stats) => {
    const upstream = http.request(
      {
        host: hostOf(url),
        port: Number(url.port) || 80,
        method: req.method,
        path: rawPath,
        headers: req.headers,
        agent,
      },
      (upRes) => {
        stripHopByHop(upRes.headers);
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.on('data', (chunk: Buffer) => (stats.bytes += chunk.length));
        upRes.pipe(res);
      },
    );
    upstream.on('error', () => fail(res));
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };
}

function undiciOptions(req: IncomingMessage, url: URL, rawPath: string): Dispatcher.DispatchOptions {
  const body = requestHasBody(req);
  // undici frames the body itself and refuses a transfer-encoding header.
  if (body) delete req.headers['transfer-encoding'];
  return {
    origin: url.origin,
    path: rawPath,
    method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: req.headers,
    body: body ? req : null,
  };
}

const undiciAgent = () => new UndiciAgent({ connections: 256, keepAliveTimeout: 60_000 });

function undiciRequestForward(): Forward {
  const agent = undiciAgent();
  return (req, res, url, rawPath, stats) => {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    agent.request({ ...undiciOptions(req, url, rawPath), signal: controller.signal }).then(
      ({ statusCode, headers, body }) => {
        stripHopByHop(headers as IncomingHttpHeaders);
        res.writeHead(statusCode, headers as IncomingHttpHeaders);
        body.on('data', (chunk: Buffer) => (stats.bytes += chunk.length));
        body.on('error', () => fail(res));
        body.pipe(res);
      },
      () => fail(res),
    );
  };
}

function undiciDispatchForward(): Forward {
  const agent = undiciAgent();
  return (req, res, url, rawPath, stats) => {
    agent.dispatch(undiciOptions(req, url, rawPath), {
      onRequestStart(controller) {
        res.on('close', () => {
          if (!res.writableFinished && !controller.aborted) controller.abort(new Error('client gone'));
        });
      },
      onResponseStart(controller, statusCode, headers) {
        if (statusCode < 200) return;
        stripHopByHop(headers);
        res.writeHead(statusCode, headers);
        res.on('drain', () => controller.resume());
      },
      onResponseData(controller, chunk) {
        stats.bytes += chunk.length;
        if (!res.write(chunk)) controller.pause();
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError() {
        fail(res);
      },
    });
  };
}

const FORWARDS: Record<Contender, () => Forward> = {
  'http-proxy': httpProxyForward,
  'node:http': nodeHttpForward,
  'undici request': undiciRequestForward,
  'undici dispatch': undiciDispatchForward,
};

/** Fallback load generator when wrk is absent: keep-alive connections in this (separate) process. */
async function runLoad(port: number, url: string, seconds: number, connections: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const host = new URL(url).host;
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const r = http.request({ host: '127.0.0.1', port, path: url, agent, headers: { host } }, (res) => {
        if ((res.statusCode ?? 0) > 399) non2xx++;
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - t0);
          resolve();
        });
      });
      r.on('error', () => {
        errors++;
        resolve();
      });
      r.end();
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const durationUs = (performance.now() - start) * 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 1000;
  console.log(
    `RESULT ${latencies.length} ${durationUs.toFixed(0)} ${pct(0.5).toFixed(0)} ${pct(0.99).toFixed(0)} ${errors} ${non2xx}`,
  );
  agent.destroy();
}

// ---------------------------------------------------------------- orchestrator

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
});

function start(role: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [self, '--role', role], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    children.push(child);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${role} did not start: ${out}`)), 10_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${role} exited ${code}: ${out}`)));
  });
}

const statsOf = (child: ChildProcess) =>
  new Promise<Stats>((resolve) => {
    child.once('message', (m) => resolve(m as Stats));
    child.send('stats');
  });

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** One absolute-form request with hop-by-hop headers and a body; what the origin saw and what came back. */
function check(proxyPort: number, originPort: number): Promise<string> {
  return new Promise((resolve) => {
    const body = 'hello';
    const req = http.request(
      {
        host: '127.0.0.1',
        port: proxyPort,
        method: 'POST',
        path: `http://127.0.0.1:${originPort}//100k?q=1`,
        headers: {
          host: `127.0.0.1:${originPort}`,
          connection: 'keep-alive, x-secret',
          'x-secret': '1',
          'proxy-authorization': 'Basic eDp4',
          'x-check': '1',
          'content-length': body.length,
        },
        agent: false,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => {
          const h = res.headers;
          const problems = [
            res.statusCode !== 200 && `status ${res.statusCode}`,
            bytes !== BODIES['/100k'] && `${bytes} bytes`,
            h['x-path'] !== '//100k?q=1' && `path ${h['x-path']}`,
            h['x-host'] !== `127.0.0.1:${originPort}` && `host ${h['x-host']}`,
            h['x-leaked'] !== 'none' && `leaked up ${h['x-leaked']}`,
            h['x-received'] !== String(body.length) && `request body ${h['x-received']}`,
            ('x-origin-hop' in h || 'proxy-authenticate' in h) && 'leaked down',
          ].filter(Boolean);
          resolve(problems.length ? problems.join('; ') : 'ok');
        });
      },
    );
    req.on('error', (err) => resolve(`error ${err.message}`));
    req.end(body);
  });
}

interface Run {
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
  cpuMsPerReq: number;
  cores: number;
  bytesPerReq: number;
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT'; // wrk --version exits 1
  }
}

async function main(): Promise<void> {
  const WRK = hasWrk();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-bench-forward-'));
  const origin = await start('origin');
  const proxies = new Map<Contender, { child: ChildProcess; port: number }>();
  for (const name of CONTENDERS) proxies.set(name, await start(name));

  const checks = new Map<Contender, string>();
  for (const name of CONTENDERS) checks.set(name, await check(proxies.get(name)!.port, origin.port));

  const scripts = new Map<BodyPath, string>();
  for (const route of Object.keys(BODIES) as BodyPath[]) {
    const file = path.join(dir, `${route.slice(1)}.lua`);
    writeFileSync(
      file,
      `wrk.path = "http://127.0.0.1:${origin.port}${route}"
wrk.headers["Host"] = "127.0.0.1:${origin.port}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end\n`,
    );
    scripts.set(route, file);
  }

  const load = (port: number, route: BodyPath, seconds: number): string => {
    const opts = { encoding: 'utf8' as const, timeout: (seconds + 20) * 1000 };
    if (WRK)
      return execFileSync(
        'wrk',
        [
          '-t',
          '1',
          '-c',
          String(CONNECTIONS),
          '-d',
          `${seconds}s`,
          '-s',
          scripts.get(route)!,
          `http://127.0.0.1:${port}`,
        ],
        opts,
      );
    const url = `http://127.0.0.1:${origin.port}${route}`;
    return execFileSync(
      process.execPath,
      [self, '--role', 'load', String(port), url, String(seconds), String(CONNECTIONS)],
      opts,
    );
  };

  const measure = async (name: Contender, route: BodyPath, seconds: number): Promise<Run> => {
    const { child, port } = proxies.get(name)!;
    const before = await statsOf(child);
    const cpu0 = cpuMs(child.pid!);
    const out = load(port, route, seconds);
    const cpu = cpuMs(child.pid!) - cpu0;
    const after = await statsOf(child);
    const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
    if (!m) throw new Error(`unexpected load generator output: ${out}`);
    const [requests, durationUs, p50, p99, errors, non2xx] = m.slice(1).map(Number) as number[];
    const forwarded = after.requests - before.requests;
    return {
      rps: requests! / (durationUs! / 1e6),
      p50ms: p50! / 1000,
      p99ms: p99! / 1000,
      errors: errors!,
      non2xx: non2xx!,
      cpuMsPerReq: cpu / requests!,
      cores: cpu / (durationUs! / 1000),
      bytesPerReq: forwarded ? (after.bytes - before.bytes) / forwarded : 0,
    };
  };

  const loadBefore = os.loadavg();
  const routes = Object.keys(BODIES) as BodyPath[];
  for (const route of routes) for (const name of CONTENDERS) await measure(name, route, WARMUP);
  const runs = new Map<string, Run[]>();
  for (let round = 0; round < ROUNDS; round++)
    for (const route of routes)
      for (let i = 0; i < CONTENDERS.length; i++) {
        const name = CONTENDERS[(i + round) % CONTENDERS.length]!;
        const key = `${route} ${name}`;
        runs.set(key, [...(runs.get(key) ?? []), await measure(name, route, SECONDS)]);
      }
  const loadAfter = os.loadavg();

  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  };
  const require = createRequire(import.meta.url);
  const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(
    `\nForwarding absolute-form GETs to a loopback origin; ${WRK ? 'wrk -t1' : 'Node load generator'}, ${CONNECTIONS} keep-alive connections;` +
      ` ${ROUNDS} alternating rounds of ${SECONDS}s (after ${WARMUP}s warm-up), medians.` +
      `\nNode ${process.version}, http-proxy ${version('http-proxy')}, undici ${version('undici')}; ${os.cpus().length} CPUs;` +
      ` load average ${la(loadBefore)} before, ${la(loadAfter)} after.\n`,
  );
  console.log(
    '| body | contender | req/s | × | p50 ms | p99 ms | CPU ms/req | × | CPU cores | bytes/req | err | non-2xx | req/s each round |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const route of routes) {
    const med = (name: Contender, f: (r: Run) => number) => median(runs.get(`${route} ${name}`)!.map(f));
    const baseRps = med('http-proxy', (r) => r.rps);
    const baseCpu = med('http-proxy', (r) => r.cpuMsPerReq);
    for (const name of CONTENDERS) {
      const rs = runs.get(`${route} ${name}`)!;
      const rps = med(name, (r) => r.rps);
      const cpu = med(name, (r) => r.cpuMsPerReq);
      const sum = (f: (r: Run) => number) => rs.reduce((a, r) => a + f(r), 0);
      console.log(
        `| ${route.slice(1).toUpperCase()}B | ${name} | ${rps.toFixed(0)} | ${(rps / baseRps).toFixed(2)} |` +
          ` ${med(name, (r) => r.p50ms).toFixed(2)} | ${med(name, (r) => r.p99ms).toFixed(2)} |` +
          ` ${cpu.toFixed(3)} | ${(cpu / baseCpu).toFixed(2)} | ${med(name, (r) => r.cores).toFixed(2)} |` +
          ` ${med(name, (r) => r.bytesPerReq).toFixed(0)} | ${sum((r) => r.errors)} | ${sum((r) => r.non2xx)} |` +
          ` ${rs.map((r) => r.rps.toFixed(0)).join(', ')} |`,
      );
    }
  }
  console.log(
    `\ncorrectness (POST //100k?q=1 with hop-by-hop headers and a body): ` +
      CONTENDERS.map((n) => `${n} ${checks.get(n)}`).join('; '),
  );
  rmSync(dir, { recursive: true, force: true });
  for (const c of children) c.kill('SIGTERM');
}

const roleIndex = args.indexOf('--role');
const role = roleIndex >= 0 ? args[roleIndex + 1] : undefined;
if (role === 'origin') runOrigin();
else if (role === 'load')
  void runLoad(
    Number(args[roleIndex + 2]),
    args[roleIndex + 3]!,
    Number(args[roleIndex + 4]),
    Number(args[roleIndex + 5]),
  );
else if (role && role in FORWARDS) runProxy(FORWARDS[role as Contender]());
else
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
