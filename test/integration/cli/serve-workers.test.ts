/**
 * `serve --workers 2`: two proxy processes share the port, one audit writer in the primary. Requests are
 * served by both workers (status counts each), every answered request has its committed row and the chain
 * verifies, `lists add` (a reload) reaches both, a worker killed under load is replaced with no answered
 * request missing its row, and a killed primary takes its workers with it (nothing answers).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli, startServeProcess, waitForOutput } from '../../helpers/cli.js';
import { useServeAndOrigin } from '../../helpers/serve-and-origin.js';
import {
  auditedPaths,
  get,
  setUpWorkers,
  START_BOUND_MS,
  status,
  untilEveryWorkerServed,
} from '../../helpers/serve-workers.js';

const t = useServeAndOrigin();
const setUp = () => setUpWorkers(t.origin.port);

/** Resolves when process `pid` (not our child) has exited: `tail --pid` waits on it for us. */
function exited(pid: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const tail = spawn('tail', [`--pid=${pid}`, '-f', '/dev/null'], { stdio: 'ignore' });
    tail.on('error', reject);
    tail.on('exit', () => resolve());
  });
}

describe('serve --workers 2', { timeout: 600_000 }, () => {
  it('serves from both workers, one audit row per answered request, chain verified, status per worker', async () => {
    const { data, args, serveArgs } = setUp();
    t.serve = await startServeProcess(serveArgs, undefined, START_BOUND_MS);
    const answered = await untilEveryWorkerServed(
      t.serve.port,
      args,
      (n) => `http://allowed.test:${t.origin.port}/n/${n}`,
    );
    const s = await status(args);
    expect(s.pid).toBe(t.serve.child.pid);
    expect(s.workers).toHaveLength(2);
    expect(new Set(s.workers!.map((w) => w.pid)).size).toBe(2);
    for (const w of s.workers!) {
      expect(w).toMatchObject({ healthy: true, error: null });
      expect(w.requests).toBeGreaterThan(0); // both workers served
    }
    expect(s.requests).toBe(answered.length);
    expect(s.workers!.reduce((n, w) => n + w.requests, 0)).toBe(answered.length);

    const rows = auditedPaths(data);
    for (const url of answered) expect(rows.has(new URL(url).pathname)).toBe(true);
    const verify = await runCli(['audit', 'verify', '--data', data]);
    expect(verify.code).toBe(0);
  });

  it('a reload reaches both workers: the newly blocked site is blocked whichever worker answers', async () => {
    const { args, serveArgs } = setUp();
    t.serve = await startServeProcess(serveArgs, undefined, START_BOUND_MS);
    const url = `http://notblocked.example:${t.origin.port}/page`;
    expect(await get(t.serve.port, url)).toBe(200);
    const before = await status(args);

    const add = await runCli(['lists', 'add', 'social', 'notblocked.example', '--json', ...args]);
    expect(add.stderr).toBe('');
    const out = JSON.parse(add.stdout) as { reloaded: boolean; reload: { workers?: { ok: boolean }[] } };
    expect(out.reloaded).toBe(true);

    // Blocked on every new connection, eight at a time, until both workers have answered some.
    await untilEveryWorkerServed(t.serve.port, args, () => url, { before, expected: 403 });
  });

  it('a worker killed under load is replaced, and every response seen has its row', async () => {
    const { data, args, serveArgs } = setUp();
    t.serve = await startServeProcess(serveArgs, undefined, START_BOUND_MS);
    const port = t.serve.port;
    const victim = (await status(args)).workers![0]!.pid;
    const seen: string[] = [];
    let n = 0;
    let killed = false;
    // Kill once twenty requests were answered: that count is the event, not a clock.
    let twenty!: () => void;
    const twentySeen = new Promise<void>((resolve) => (twenty = resolve));
    // Eight clients, each on new connections, until 80 requests after the kill (400 at most).
    const client = async () => {
      while ((!killed || n < 80) && n < 400) {
        const url = `http://allowed.test:${t.origin.port}/k/${n++}`;
        try {
          if ((await get(port, url)) === 200 && seen.push(url) === 20) twenty();
        } catch {
          // a connection cut by the kill: no response seen, so no row is owed
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, client));
    await twentySeen;
    process.kill(victim, 'SIGKILL');
    killed = true;
    await load;
    expect(seen.length).toBeGreaterThan(20);

    // The primary logs the replacement once it listens: the event to wait on.
    await waitForOutput(t.serve, /proxy worker restarted/, START_BOUND_MS);
    const s = await status(args);
    expect(s.workers).toHaveLength(2);
    expect(s.workers!.map((w) => w.pid)).not.toContain(victim);
    expect(s.workerRestarts).toBe(1);
    const rows = auditedPaths(data);
    const missing = seen.filter((url) => !rows.has(new URL(url).pathname));
    expect(missing).toEqual([]);
    expect(await get(port, `http://allowed.test:${t.origin.port}/after`)).toBe(200);
  });

  it('a killed primary takes its workers with it: nothing answers', async () => {
    const { args, serveArgs } = setUp();
    t.serve = await startServeProcess(serveArgs, undefined, START_BOUND_MS);
    const port = t.serve.port;
    const workers = (await status(args)).workers!.map((w) => w.pid);
    const gone = workers.map(exited);
    t.serve.child.kill('SIGKILL');
    await Promise.all(gone);
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
