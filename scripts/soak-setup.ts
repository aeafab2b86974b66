/**
 * What scripts/soak.ts and scripts/idle-storm.ts share: the origins (scripts/soak-origin.ts) and the real
 * proxy, started from the built CLI with its own temp config, data and certs folders and three users
 * (pupil: inspected, staff: warned on chat, technician: not inspected), and a reader of its /metrics.
 * `--cli <path>` runs another build's CLI instead (the origins stay this build's).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { caPaths } from '../src/tls/ca.js';
import { stringOption } from './args.js';

const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname));
/** --cli: another build's dist/src/cli/main.js (e.g. the commit before a fix), for a before/after. */
const cli = path.resolve(stringOption('cli') ?? path.join(dist, '..', 'src', 'cli', 'main.js'));
const repo = path.join(dist, '..', '..');

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const children: ChildProcess[] = [];
process.on('exit', stopAll);

export function stopAll(): void {
  for (const c of children.splice(0).reverse()) c.kill('SIGTERM');
}

function start(
  command: string[],
  ready: RegExp,
  cwd?: string,
): Promise<{ child: ChildProcess; m: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, command, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(cwd ? { cwd } : {}),
    });
    children.push(child);
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) resolve({ child, m });
      if (out.length > 100_000) out = out.slice(-10_000);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code, signal) =>
      reject(new Error(`${command.join(' ')} exited ${code ?? signal}: ${out.slice(-2000)}`)),
    );
  });
}

/** Hosts of the shipped chat list: staff are warned on each, once (a Continue grants it for the day). */
function chatHosts(): string[] {
  const text = readFileSync(path.join(repo, 'categories', 'chat', 'domains'), 'utf8');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(l))
    .slice(0, 400);
}

export interface SoakProxy {
  dir: string;
  proxy: { child: ChildProcess };
  proxyPort: number;
  httpPort: number;
  httpsPort: number;
  /** The school CA (the proxy made it in its certs folder): what an inspected tunnel's client trusts. */
  schoolCa: string;
  /** The origin's CA: what a raw tunnel's client trusts. */
  publicCa: string;
  warnHosts: string[];
  auditDb: string;
}

export const basic = (user: string) =>
  `Basic ${Buffer.from(`${user}:${user}-soak-password`).toString('base64')}`;

export async function startSoakProxy(opts: {
  nodeOptions?: string[];
  limits?: Record<string, number>;
}): Promise<SoakProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-soak-'));
  const warnHosts = chatHosts();
  const origin = await start(
    [path.join(dist, 'soak-origin.js'), dir, 'secure.test'],
    /origin http=(\d+) https=(\d+)/,
  );
  const httpPort = Number(origin.m[1]);
  const httpsPort = Number(origin.m[2]);
  const hosts: Record<string, string> = { 'allowed.test': '127.0.0.1', 'secure.test': '127.0.0.1' };
  for (const h of warnHosts) hosts[h] = '127.0.0.1';
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    httpPorts: [httpPort],
    tunnelPorts: [httpsPort],
    identity: { basicAuth: true, requireAuth: true },
    hosts,
    log: { level: 'warn' },
    // Every client is on loopback here: the per-client cap would refuse the idle connections.
    limits: { maxConnectionsPerClient: 5_000, ...opts.limits },
    tls: { certsDir: path.join(dir, 'certs'), extraCaFiles: [path.join(dir, 'public-ca.pem')] },
  };
  writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify(config));
  const common = ['--config', path.join(dir, 'config.yaml'), '--data', path.join(dir, 'data')];
  for (const [user, profile] of [
    ['pupil', 'pupil'],
    ['staff', 'staff'],
    ['technician', 'technician'],
  ] as const)
    execFileSync(
      process.execPath,
      [cli, 'users', 'add', user, '--profile', profile, '--password-stdin', ...common],
      { input: `${user}-soak-password\n` },
    );
  const proxy = await start(
    [...(opts.nodeOptions ?? []), cli, 'serve', ...common],
    /filtering on [^\s]+:(\d+)/,
    dir,
  );
  return {
    dir,
    proxy,
    proxyPort: Number(proxy.m[1]),
    httpPort,
    httpsPort,
    schoolCa: readFileSync(caPaths(path.join(dir, 'certs')).cert, 'utf8'),
    publicCa: readFileSync(path.join(dir, 'public-ca.pem'), 'utf8'),
    warnHosts,
    auditDb: path.join(dir, 'data', 'audit.sqlite'),
  };
}

/** The proxy's /metrics (prom-client default process metrics included), unlabelled series only. */
export async function metrics(port: number): Promise<Record<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z0-9_:]+) ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
