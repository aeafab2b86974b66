/**
 * One proxy per data directory: a second `schoolgate serve` on the same `--data` is refused with
 * SG_ALREADY_RUNNING naming the first one's PID (by its lock file, or by its control socket when the lock
 * file is gone), and a lock left by a proxy that was killed is taken over with a log line. Real processes,
 * loopback only.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startServeProcess, waitForExit } from '../../helpers/cli.js';
import { serveFiles, startTestProxy, testConfig } from '../../helpers/schoolgate.js';

const started: ChildProcess[] = [];

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await waitForExit(child);
  }
});

async function serve(args: string[]) {
  const s = await startServeProcess(args);
  started.push(s.child);
  return s;
}

describe('one proxy per data directory', { timeout: 90_000 }, () => {
  it('a second serve on the same data directory is refused, naming the first one’s PID', async () => {
    const { data, args } = serveFiles();
    const first = await serve(args);
    const pid = first.child.pid!;
    const lock = path.join(data, 'serve.lock');
    expect(readFileSync(lock, 'utf8')).toBe(`${pid}\n`);

    const second = await runCli(['serve', ...args]);
    expect(second.code).toBe(1);
    expect(second.stdout).not.toContain('filtering on');
    expect(second.stderr).toBe(
      `error SG_ALREADY_RUNNING: another schoolgate (pid ${pid}) is serving the data directory ${data} ` +
        `(${lock}); this one does not start\n` +
        `  what to do: Stop it first (kill -TERM ${pid}, or through the service manager), or give this one ` +
        `another --data directory. If no schoolgate is running as pid ${pid}, remove ${lock}.\n`,
    );
    // The first one is untouched: it still owns the lock and answers on its control socket.
    expect(readFileSync(lock, 'utf8')).toBe(`${pid}\n`);
    const status = JSON.parse((await runCli(['status', '--json', ...args])).stdout) as { pid: number };
    expect(status.pid).toBe(pid);

    first.child.kill('SIGTERM');
    expect(await waitForExit(first.child)).toBe(0);
    expect(existsSync(lock)).toBe(false); // released on stop
  });

  it('a proxy whose lock file is gone is still found by its control socket', async () => {
    const { data, args } = serveFiles();
    const first = await serve(args);
    unlinkSync(path.join(data, 'serve.lock'));
    const second = await runCli(['serve', ...args]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(
        `^error SG_ALREADY_RUNNING: another schoolgate \\(pid ${first.child.pid}\\) is serving the data directory .*\\(${path.join(data, 'control.sock')}\\)`,
      ),
    );
    // The refused one took the lock only for as long as it looked: it leaves none behind.
    expect(existsSync(path.join(data, 'serve.lock'))).toBe(false);
  });

  it('the lock of a proxy that was killed (its PID no longer runs) is taken over, with a log line', async () => {
    const { data, args } = serveFiles();
    const first = await serve(args);
    const deadPid = first.child.pid!;
    first.child.kill('SIGKILL');
    await waitForExit(first.child);
    const lock = path.join(data, 'serve.lock');
    expect(readFileSync(lock, 'utf8')).toBe(`${deadPid}\n`); // left behind

    const next = await serve(args);
    expect(next.output()).toContain(
      `took over the stale lock ${lock}: schoolgate pid ${deadPid} is no longer running`,
    );
    expect(readFileSync(lock, 'utf8')).toBe(`${next.child.pid}\n`);
    const status = JSON.parse((await runCli(['status', '--json', ...args])).stdout) as { pid: number };
    expect(status.pid).toBe(next.child.pid);
  });

  it('a second start in the same process is refused too, and a stopped proxy frees the directory', async () => {
    const config = testConfig();
    const first = await startTestProxy(config);
    const err = await startTestProxy(config).then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    expect(err?.code).toBe('SG_ALREADY_RUNNING');
    expect(err?.message).toContain(`(pid ${process.pid})`);
    await first.stop();
    const again = await startTestProxy(config);
    await again.stop();
    expect(existsSync(path.join(config.dataDir, 'serve.lock'))).toBe(false);
  });
});
