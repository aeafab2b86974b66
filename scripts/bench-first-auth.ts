/**
 * The first requests after a start (issue 13's goal: ≤ 50 ms each): 16 clients open 16 connections at once,
 * all with one Basic credential the proxy has not verified yet, so the answer waits on one scrypt (shared by
 * all 16: identify.ts's single flight) instead of 16 in a row on libuv's pool. A real schoolgate in this
 * process (durable audit on) and a loopback origin; each round starts a fresh proxy (cold credential cache),
 * then sends the same 16 again once the credential is cached: that second burst is the baseline.
 *
 *   npm run build && node dist/scripts/bench-first-auth.js [--rounds 5] [--clients 16]
 */
import { scrypt } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { startSchoolgate } from '../src/app/start.js';
import { validateConfig } from '../src/config/load.js';
import { UserStore } from '../src/identity/user-store.js';
import { numberOption } from './args.js';
import { basicAuth, timedGet, tinyCategories } from './in-process-proxy.js';

const ROUNDS = numberOption('rounds', 5);
const CLIENTS = numberOption('clients', 16);
const AUTH = basicAuth('ava.y7', 'first-light-password');

const burst = (proxyPort: number, originPort: number) =>
  Promise.all(Array.from({ length: CLIENTS }, (_, n) => timedGet(proxyPort, originPort, AUTH, `/${n}`)));

async function startProxy(originPort: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'schoolgate-bench-first-auth-'));
  const categories = tinyCategories(dir);
  const config = validateConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      identity: { basicAuth: true },
      hosts: { 'bench.test': '127.0.0.1' },
      httpPorts: [originPort],
    },
    { overrides: { dataDir: path.join(dir, 'data'), categoriesDir: categories } },
  );
  const users = new UserStore(config.dataDir);
  await users.add({ name: 'ava.y7', profile: 'pupil', password: 'first-light-password' });
  users.close();
  return startSchoolgate(config, pino({ level: 'silent' }));
}

/** One scrypt at the stored hashes' cost (N 16384, r 8, p 1): the floor a first request cannot go below. */
async function scryptTimes(n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) =>
      scrypt('first-light-password', Buffer.alloc(16, i), 32, { N: 16384, r: 8, p: 1 }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;

async function main(): Promise<void> {
  const origin = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originPort = (origin.address() as AddressInfo).port;
  const cold: number[] = [];
  const cached: number[] = [];
  const loadBefore = loadavg();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const proxy = await startProxy(originPort);
      try {
        cold.push(...(await burst(proxy.address.port, originPort)));
        cached.push(...(await burst(proxy.address.port, originPort)));
      } finally {
        await proxy.stop();
      }
    }
  } finally {
    origin.close();
  }
  const oneScrypt = await scryptTimes(ROUNDS * 4);
  cold.sort((a, b) => a - b);
  cached.sort((a, b) => a - b);
  const row = (name: string, t: number[]) =>
    `| ${name} | ${quantile(t, 0.5).toFixed(1)} | ${t[t.length - 1]!.toFixed(1)} | ` +
    `${(quantile(t, 0.5) / quantile(cached, 0.5)).toFixed(2)}× |`;
  console.log(
    `\n${ROUNDS} rounds × ${CLIENTS} connections at once, one Basic credential; load average before ` +
      `${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
  );
  console.log('| burst | p50 ms | max ms | p50 ÷ cached |');
  console.log('|---|---:|---:|---:|');
  console.log(row('first after start (credential not yet verified)', cold));
  console.log(row('again (credential cached): baseline', cached));
  console.log(row('one scrypt alone, no request (the floor)', oneScrypt));
  console.log(`\ngoal: each first request ≤ 50 ms; slowest here ${cold[cold.length - 1]!.toFixed(1)} ms`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
