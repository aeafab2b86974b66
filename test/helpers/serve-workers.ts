/**
 * For tests of `serve --workers 2` (a primary and two proxy worker processes): the files to start it with,
 * requests on new connections (the kernel gives each to one of the workers), `status --json`, and the
 * audit rows the primary's writer committed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { runCli } from './cli.js';
import { FIXTURE_PROFILES, ROUTED_NAMES, serveFiles } from './schoolgate.js';

/** Three processes start (the primary and two workers): bounded, generously for a busy machine. */
export const START_BOUND_MS = 240_000;

/** serveFiles()'s config (plus `extra`), with the origin's port allowed and the routed names in a hosts file. */
export function setUpWorkers(
  originPort: number,
  extra: Record<string, unknown> = {},
): { dir: string; data: string; args: string[]; serveArgs: string[] } {
  const { dir, data, args } = serveFiles();
  writeFileSync(
    path.join(dir, 'config.yaml'),
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      httpPorts: [originPort],
      profiles: FIXTURE_PROFILES,
      console: { enabled: false },
      ...extra,
    }),
  );
  writeFileSync(path.join(dir, 'hosts'), ROUTED_NAMES.map((n) => `127.0.0.1 ${n}`).join('\n'));
  return { dir, data, args, serveArgs: [...args, '--hosts-file', path.join(dir, 'hosts'), '--workers', '2'] };
}

/** One request on a new connection (the kernel gives each new connection to one of the workers). */
export function get(port: number, url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: url, agent: false, headers: { host: new URL(url).host, ...headers } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export interface WorkersStatus {
  pid: number;
  requests: number;
  workers?: { pid: number; healthy: boolean; requests: number; error: string | null }[];
  workerRestarts?: number;
}

export async function status(args: string[]): Promise<WorkersStatus> {
  const r = await runCli(['status', '--json', ...args]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as WorkersStatus;
}

/** Resolves once /proc says `pid` is stopped (`T`) or running again: SIGSTOP and SIGCONT take effect asynchronously. */
async function untilState(pid: number, stopped: boolean): Promise<void> {
  for (;;) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name, which is in parentheses and may itself hold spaces or ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if ((state === 'T') === stopped) return;
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * Eight requests on new connections to each worker in turn, to `url(n)` for n = 0, 1, …: the kernel gives a
 * connection on the shared socket to whichever worker wakes first (SCHED_NONE), and on a busy machine one idle
 * worker can win thousands in a row, so the others are stopped (SIGSTOP, seen in /proc) while one is served and
 * continued after. Each answer must be `expected`; status must then show that every worker served some since
 * `before`. Returns the URLs answered.
 */
export async function untilEveryWorkerServed(
  port: number,
  args: string[],
  url: (n: number) => string,
  opts: { before?: WorkersStatus; headers?: Record<string, string>; expected?: number } = {},
): Promise<string[]> {
  const servedBefore = (pid: number) => opts.before?.workers!.find((w) => w.pid === pid)?.requests ?? 0;
  const pids = (await status(args)).workers!.map((w) => w.pid);
  expect(pids.length).toBeGreaterThan(1);
  const answered: string[] = [];
  for (const serving of pids) {
    const others = pids.filter((p) => p !== serving);
    try {
      for (const p of others) process.kill(p, 'SIGSTOP');
      for (const p of others) await untilState(p, true);
      const urls = Array.from({ length: 8 }, (_, k) => url(answered.length + k));
      const codes = await Promise.all(urls.map((u) => get(port, u, opts.headers)));
      expect(codes).toEqual(urls.map(() => opts.expected ?? 200));
      answered.push(...urls);
    } finally {
      for (const p of others) process.kill(p, 'SIGCONT');
      for (const p of others) await untilState(p, false);
    }
  }
  const s = await status(args);
  expect(s.workers!.map((w) => w.pid).sort()).toEqual([...pids].sort());
  expect(s.workers!.every((w) => w.requests >= servedBefore(w.pid) + 8)).toBe(true);
  return answered;
}

/** Each audit row's path → its selftest run (read-only; the writer may be running); test paths are unique. */
export function auditedPaths(data: string): Map<string, string | null> {
  const db = new Database(path.join(data, 'audit.sqlite'), { readonly: true });
  try {
    const rows = db.prepare('SELECT path, selftest_run AS run FROM audit_events').all() as {
      path: string | null;
      run: string | null;
    }[];
    return new Map(rows.map((r) => [r.path ?? '', r.run]));
  } finally {
    db.close();
  }
}
