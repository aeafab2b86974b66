/**
 * `serve --workers 2` behaves as one process: SIGUSR1 to the primary reopens the access log in every worker
 * (logrotate renamed it; each worker's next lines go to the new file), and a `selftest` run begun on the
 * control socket marks the probes' rows whichever worker serves them, until it ends. Workers that crash
 * loop (SCHOOLGATE_TEST_WORKER_CRASH=1: each exits once it listens) make the service exit 1 with
 * SG_WORKER_FAILED instead of restarting them for ever.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/app/control.js';
import { CLI, runCli, startServeProcess, waitForExit, waitForOutput } from '../../helpers/cli.js';
import { useServeAndOrigin } from '../../helpers/serve-and-origin.js';
import {
  auditedPaths,
  setUpWorkers,
  START_BOUND_MS,
  status,
  untilEveryWorkerServed,
} from '../../helpers/serve-workers.js';

const t = useServeAndOrigin();

/** The URLs of an access log's JSON lines (none when the file is absent). */
function loggedUrls(file: string): Set<string> {
  if (!existsSync(file)) return new Set();
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return new Set(lines.map((l) => (JSON.parse(l) as { url: string }).url));
}

describe('serve --workers 2 as one process', { timeout: 600_000 }, () => {
  it('passes SIGUSR1 and selftest runs on to every worker', async () => {
    const { dir, data, args, serveArgs } = setUpWorkers(t.origin.port, {
      accessLog: { path: 'access.log', format: 'json' },
    });
    const log = path.join(dir, 'access.log');
    t.serve = await startServeProcess(serveArgs, undefined, START_BOUND_MS);
    const port = t.serve.port;
    const origin = `http://allowed.test:${t.origin.port}`;
    // Both workers have the file open and wrote to it.
    await untilEveryWorkerServed(port, args, (n) => `${origin}/before/${n}`);

    // logrotate's default: rename, then signal the service's main pid (the primary).
    renameSync(log, `${log}.1`);
    t.serve.child.kill('SIGUSR1');
    await waitForOutput(t.serve, /SIGUSR1 passed on to 2 proxy workers/, START_BOUND_MS);
    const rotated = await untilEveryWorkerServed(port, args, (n) => `${origin}/rotated/${n}`, {
      before: await status(args),
    });

    const { run, token } = await controlRequest<{ run: string; token: string }>(data, 'selftest-begin');
    const headers = { 'x-schoolgate-selftest': token };
    const probes = await untilEveryWorkerServed(port, args, (n) => `${origin}/probe/${n}`, {
      before: await status(args),
      headers,
    });
    expect(await controlRequest(data, 'selftest-end', { token })).toEqual({ ended: true });
    const afterEnd = await untilEveryWorkerServed(port, args, (n) => `${origin}/after-end/${n}`, {
      before: await status(args),
      headers,
    });

    // Stopped: every worker's lines are flushed and every row committed.
    t.serve.child.kill('SIGTERM');
    expect(await waitForExit(t.serve.child, START_BOUND_MS)).toBe(0);
    t.serve = undefined;

    const fresh = loggedUrls(log);
    const old = loggedUrls(`${log}.1`);
    expect(rotated.filter((u) => !fresh.has(u))).toEqual([]);
    expect(rotated.filter((u) => old.has(u))).toEqual([]);

    const rows = auditedPaths(data);
    const runOf = (url: string) => rows.get(new URL(url).pathname);
    expect(probes.filter((u) => runOf(u) !== run)).toEqual([]);
    expect(afterEnd.filter((u) => runOf(u) !== null)).toEqual([]);
    expect(rotated.filter((u) => runOf(u) !== null)).toEqual([]);
  });

  it('exits 1 with SG_WORKER_FAILED when workers die more than 5 times within 60 s', async () => {
    const { args, serveArgs } = setUpWorkers(t.origin.port);
    const child = spawn(process.execPath, [CLI, 'serve', ...serveArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SCHOOLGATE_TEST_WORKER_CRASH: '1' },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // The exit is the event: six deaths take as long as six worker starts.
    expect(await waitForExit(child, START_BOUND_MS)).toBe(1);
    expect(output).toMatch(/SG_WORKER_FAILED/);
    expect(output).toMatch(/proxy workers died more than 5 times within 60 s/);
    expect(output.match(/proxy worker died; starting another/g)).toHaveLength(5);
    // Nothing is left serving: the control socket is gone with the primary.
    expect((await runCli(['status', ...args])).code).not.toBe(0);
  });
});
