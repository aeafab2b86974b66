/**
 * A real `schoolgate serve` with accessLog set: lines in Squid's native format for a forwarded request and
 * a block page; rotation by rename + SIGUSR1 (the next line goes to a new file at the path) and by
 * copytruncate (the next line lands at the start of the truncated file, no hole of NUL bytes).
 */
import { mkdirSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServeProcess, waitForOutput } from '../../helpers/cli.js';
import { useServeAndOrigin } from '../../helpers/serve-and-origin.js';
import { readLines, waitForLines } from '../../helpers/file-lines.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES, ROUTED_NAMES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';
import { parseSquidLine } from '../../unit/access-log/squid-format.js';

const t = useServeAndOrigin();

async function startWithLog(format: 'squid' | 'json'): Promise<{ log: string; port: number }> {
  const dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  const log = path.join(dir, 'logs', 'access.log');
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    httpPorts: [t.origin.port],
    profiles: FIXTURE_PROFILES,
    tls: { inspect: false },
    accessLog: { path: 'logs/access.log', format },
  };
  writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify(config));
  writeFileSync(path.join(dir, 'hosts'), ROUTED_NAMES.map((n) => `127.0.0.1 ${n}`).join('\n'));
  mkdirSync(path.dirname(log));
  const args = ['--config', path.join(dir, 'config.yaml'), '--data', path.join(dir, 'data')];
  t.serve = await startServeProcess([
    ...args,
    '--categories',
    categories,
    '--hosts-file',
    path.join(dir, 'hosts'),
  ]);
  return { log, port: t.serve.port };
}

describe('access log from a running serve', () => {
  it('writes Squid-format lines, owner-only, and rotates on SIGUSR1 and under copytruncate', async () => {
    const { log, port } = await startWithLog('squid');
    const allowed = await viaProxy(port, `http://allowed.test:${t.origin.port}/page?q=1`);
    expect(allowed.status).toBe(200);
    const blocked = await viaProxy(port, `http://social.test:${t.origin.port}/`);
    expect(blocked.status).toBe(403);

    const lines = await waitForLines(log, 2);
    const fields = lines.map(parseSquidLine);
    const ok = fields.find((f) => f.url.startsWith('http://allowed.test'))!;
    expect(ok).toMatchObject({ client: '127.0.0.1', codeStatus: 'TCP_MISS/200', method: 'GET', user: '-' });
    expect(Number(ok.bytes)).toBeGreaterThanOrEqual(allowed.body.length);
    expect(ok.hierarchy).toBe('HIER_DIRECT/allowed.test');
    const denied = fields.find((f) => f.url.startsWith('http://social.test'))!;
    expect(denied).toMatchObject({ codeStatus: 'TCP_DENIED/403', hierarchy: 'HIER_NONE/-' });
    expect(statSync(log).mode & 0o777).toBe(0o600);

    // logrotate's default: rename, then signal. The next line goes to a new file at the path.
    renameSync(log, `${log}.1`);
    t.serve!.child.kill('SIGUSR1');
    await waitForOutput(t.serve!, /access log reopened/);
    await viaProxy(port, `http://allowed.test:${t.origin.port}/after-rotate`);
    const fresh = await waitForLines(log, 1);
    expect(fresh.map(parseSquidLine).map((f) => f.url)).toEqual([
      `http://allowed.test:${t.origin.port}/after-rotate`,
    ]);
    expect(readLines(`${log}.1`)).toHaveLength(2);

    // copytruncate: the file is emptied in place; O_APPEND puts the next line at its new start.
    truncateSync(log, 0);
    await viaProxy(port, `http://allowed.test:${t.origin.port}/after-truncate`);
    const truncated = await waitForLines(log, 1);
    expect(readFileSync(log, 'latin1')).not.toContain('\u0000');
    expect(parseSquidLine(truncated[0]!).url).toBe(`http://allowed.test:${t.origin.port}/after-truncate`);
  });

  it('writes JSON lines when format is json', async () => {
    const { log, port } = await startWithLog('json');
    await viaProxy(port, `http://social.test:${t.origin.port}/x`);
    const [line] = await waitForLines(log, 1);
    expect(JSON.parse(line!)).toMatchObject({
      client: '127.0.0.1',
      method: 'GET',
      url: `http://social.test:${t.origin.port}/x`,
      action: 'block',
      result: 'TCP_DENIED',
      status: 403,
      categories: ['social'],
    });
  });
});
