/**
 * The request latency directory sign-in adds: plain HTTP requests through a real schoolgate (in this
 * process, durable audit on) to a loopback origin, one at a time on new connections, with
 *  - no sign-in (the address maps to the guest profile): the baseline;
 *  - a local user, credential cached (scrypt once);
 *  - a directory user, cold: cacheTtlSeconds 0, so every request makes the whole exchange with slapd
 *    (service bind, user search, group lookups, user bind);
 *  - a directory user, cached.
 * The directory is Debian's slapd on a loopback port loaded from test/fixtures/ldap/school.ldif
 * (scripts/slapd.ts); binds are counted from slapd's log to show which rows reached it.
 *
 *   npm run build && node dist/scripts/bench-ldap.js [--requests 300]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startSchoolgate } from '../src/app/start.js';
import { validateConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/schema.js';
import { Identifier } from '../src/identity/identify.js';
import { UserStore } from '../src/identity/user-store.js';
import { numberOption } from './args.js';
import { basicAuth, timedGet, tinyCategories } from './in-process-proxy.js';
import {
  findSlapd,
  SERVICE_DN,
  SERVICE_PASSWORD,
  SLAPD_SKIP_MESSAGE,
  startSlapd,
  SUFFIX,
  YEAR7_DN,
} from './slapd.js';

const REQUESTS = numberOption('requests', 300);
const WARMUP = 20;
const LDIF = fileURLToPath(new URL('../../test/fixtures/ldap/school.ldif', import.meta.url));
const AVA = `uid=ava.y7,ou=People,${SUFFIX}`;

interface Variant {
  name: string;
  auth: string | undefined;
  port: number;
  times: number[];
  binds: number;
  stop: () => Promise<void>;
}

async function startVariant(
  name: string,
  identity: ConfigInput['identity'],
  auth: string | undefined,
  originPort: number,
): Promise<Variant> {
  const dir = mkdtempSync(path.join(tmpdir(), 'schoolgate-bench-ldap-'));
  const categories = tinyCategories(dir);
  const config = validateConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      identity,
      profiles: Object.fromEntries(
        ['pupil', 'staff', 'guest'].map((p) => [p, { categories: { social: 'block' as const } }]),
      ),
      hosts: { 'bench.test': '127.0.0.1' },
      httpPorts: [originPort],
    },
    { overrides: { dataDir: path.join(dir, 'data'), categoriesDir: categories } },
  );
  const users = new UserStore(config.dataDir);
  await users.add({ name: 'local.user', profile: 'pupil', password: 'local-password' });
  users.close();
  const proxy = await startSchoolgate(config, pino({ level: 'silent' }));
  return { name, auth, port: proxy.address.port, times: [], binds: 0, stop: () => proxy.stop() };
}

/** Round-robin over the variants, so load from elsewhere on the machine falls on all of them alike. */
async function run(variants: Variant[], originPort: number, bindCount: () => number): Promise<void> {
  for (let i = 0; i < WARMUP; i++) for (const v of variants) await timedGet(v.port, originPort, v.auth);
  for (let i = 0; i < REQUESTS; i++)
    for (const v of variants) {
      const before = bindCount();
      v.times.push(await timedGet(v.port, originPort, v.auth));
      v.binds += bindCount() - before;
    }
}

/** identify() alone (no proxy, no audit): the sign-in's own cost, without the request around it. */
async function identifyTimes(
  ldapConfig: NonNullable<NonNullable<ConfigInput['identity']>['ldap']>,
  auth: string,
): Promise<number[]> {
  const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'schoolgate-bench-ldap-')), 'data');
  const config = validateConfig(
    { identity: { basicAuth: true, ldap: ldapConfig } },
    { overrides: { dataDir } },
  );
  const users = new UserStore(dataDir);
  try {
    const identifier = new Identifier(config, users);
    const times: number[] = [];
    for (let i = 0; i < WARMUP + REQUESTS; i++) {
      const started = performance.now();
      const r = await identifier.identify({ clientIp: '10.0.0.5', proxyAuthorization: auth });
      if (!r.ok) throw new Error('sign-in refused');
      if (i >= WARMUP) times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b);
  } finally {
    users.close();
  }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

async function main(): Promise<void> {
  if (!findSlapd()) {
    console.error(SLAPD_SKIP_MESSAGE);
    process.exit(1);
  }
  const slapd = await startSlapd(LDIF);
  const origin = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originPort = (origin.address() as AddressInfo).port;
  const passwordFile = path.join(mkdtempSync(path.join(tmpdir(), 'schoolgate-bench-ldap-')), 'bind');
  writeFileSync(passwordFile, SERVICE_PASSWORD, { mode: 0o600 });
  const ldap = (cacheTtlSeconds: number) => ({
    url: slapd.url,
    bindDn: SERVICE_DN,
    bindPasswordFile: passwordFile,
    userBase: `ou=People,${SUFFIX}`,
    userFilter: '(uid={user})',
    groups: { [YEAR7_DN]: 'pupil' },
    cacheTtlSeconds,
  });
  const binds = () => slapd.bindCount(AVA);
  const ava = basicAuth('ava.y7', 'ava-password');
  try {
    const variants = [
      await startVariant('no sign-in (address → guest)', {}, undefined, originPort),
      await startVariant(
        'local user, cached',
        { basicAuth: true },
        basicAuth('local.user', 'local-password'),
        originPort,
      ),
      await startVariant(
        'directory, cold (binds every request)',
        { basicAuth: true, ldap: ldap(0) },
        ava,
        originPort,
      ),
      await startVariant('directory, cached', { basicAuth: true, ldap: ldap(900) }, ava, originPort),
    ];
    try {
      await run(variants, originPort, binds);
    } finally {
      for (const v of variants) await v.stop();
    }
    const base = quantile(
      [...variants[0]!.times].sort((a, b) => a - b),
      0.5,
    );
    console.log(
      `${REQUESTS} requests per variant, one at a time on a new connection, variants interleaved, after ${WARMUP} warm-up each\n`,
    );
    console.log('| variant | p50 ms | p95 ms | mean ms | added p50 ms | user binds |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const v of variants) {
      const t = [...v.times].sort((a, b) => a - b);
      const mean = t.reduce((a, b) => a + b, 0) / t.length;
      console.log(
        `| ${v.name} | ${quantile(t, 0.5).toFixed(2)} | ${quantile(t, 0.95).toFixed(2)} | ${mean.toFixed(2)} | ${(quantile(t, 0.5) - base).toFixed(2)} | ${v.binds} |`,
      );
    }
    console.log(`\nidentify() alone, ${REQUESTS} sign-ins each\n`);
    console.log('| directory sign-in | p50 ms | p95 ms |');
    console.log('|---|---:|---:|');
    for (const [name, ttl] of [
      ['cold (binds every time)', 0],
      ['cached', 900],
    ] as const) {
      const t = await identifyTimes(ldap(ttl), ava);
      console.log(`| ${name} | ${quantile(t, 0.5).toFixed(3)} | ${quantile(t, 0.95).toFixed(3)} |`);
    }
  } finally {
    origin.close();
    await slapd.stop();
  }
}

await main();
