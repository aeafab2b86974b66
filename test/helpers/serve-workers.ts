/**
 * For tests of `serve --workers 2` (a primary and two proxy worker processes): the files to start it with,
 * requests on new connections (the kernel gives each to one of the workers), `status --json`, and the
 * audit rows the primary's writer committed.
 */
import { writeFileSync } from 'node:fs';
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

/**
 * Eight requests at a time on new connections, to `url(n)` for n = 0, 1, …, until status shows that every
 * worker served some since `before` (idle workers may not alternate; `max` requests at most: 2,000 by default,
 * since the kernel's accept, SCHED_NONE, can hand one busy worker hundreds in a row on a loaded machine). Each answer
 * must be `expected`; returns the URLs answered.
 */
export async function untilEveryWorkerServed(
  port: number,
  args: string[],
  url: (n: number) => string,
  opts: { before?: WorkersStatus; headers?: Record<string, string>; expected?: number; max?: number } = {},
): Promise<string[]> {
  const servedBefore = (pid: number) => opts.before?.workers!.find((w) => w.pid === pid)?.requests ?? 0;
  const answered: string[] = [];
  let s = await status(args);
  for (
    let i = 0;
    i < (opts.max ?? 2000) && !s.workers!.every((w) => w.requests > servedBefore(w.pid));
    i += 8
  ) {
    const urls = Array.from({ length: 8 }, (_, k) => url(i + k));
    const codes = await Promise.all(urls.map((u) => get(port, u, opts.headers)));
    expect(codes).toEqual(urls.map(() => opts.expected ?? 200));
    answered.push(...urls);
    s = await status(args);
  }
  expect(s.workers!.every((w) => w.requests > servedBefore(w.pid))).toBe(true);
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
