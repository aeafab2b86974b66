/**
 * `schoolgate selftest` leaves no false record (issue 14, item 4): its probes reach the audit log marked
 * with their run, so `report flagged`, the weekly review and the alerts engine leave them out, and
 * `selftest --history` lists them. A request that copies the probe header without the run's token is an
 * ordinary attempt. A must-reach site the proxy cannot reach (502) fails the check.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { runCli, startServeProcess, waitForExit } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, ROUTED_NAMES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

let origin: Origin;
let closedPort: number;

beforeAll(async () => {
  origin = await startOrigin();
  // A port nothing listens on: the must-reach site that is down.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});
afterAll(async () => {
  await origin?.close();
});

/** The CLI's arguments, and serve's (the same plus the hosts file that routes the test names). */
function setUp(): { args: string[]; serveArgs: string[] } {
  const dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  // The adult category raises alerts, as the shipped self-harm and extremism categories do.
  const meta = path.join(categories, 'categories.yaml');
  writeFileSync(meta, readFileSync(meta, 'utf8').replace(/(adult:[\s\S]*?alert: )false/, '$1true'));
  writeFileSync(
    path.join(dir, 'config.yaml'),
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      httpPorts: [80, origin.port, closedPort], // 80: the category probes are decided, not port-refused
      profiles: FIXTURE_PROFILES,
      selftest: {
        mustReach: [`http://www.childline.org.uk:${origin.port}/`, `http://down.test:${closedPort}/`],
      },
    }),
  );
  writeFileSync(
    path.join(dir, 'hosts'),
    [...ROUTED_NAMES, 'www.childline.org.uk', 'down.test'].map((n) => `127.0.0.1 ${n}`).join('\n'),
  );
  const args = ['--config', path.join(dir, 'config.yaml'), '--data', path.join(dir, 'data')];
  args.push('--categories', categories);
  return { args, serveArgs: [...args, '--hosts-file', path.join(dir, 'hosts')] };
}

/** One GET through the proxy, with the selftest header set to a value of our own. */
function getWithHeader(port: number, url: string, header: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: url,
        headers: { host: new URL(url).host, 'x-schoolgate-selftest': header },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface SelftestJson {
  failed: number;
  probeRun: string;
  recorded: number;
  rows: { profile: string; url: string; kind: string; proxy: string | null; pass: boolean; note: string }[];
}

describe('selftest probes in the record', () => {
  it('are marked, left out of report flagged and alerts, listed by --history; a 502 fails', async () => {
    const { args, serveArgs } = setUp();
    const serve = await startServeProcess(serveArgs);
    const stopped = waitForExit(serve.child, 120_000);
    onTestFinished(() => void serve.child.kill('SIGTERM'));
    const run = await runCli(['selftest', '--json', '--record', '--by', 'IT', ...args]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as SelftestJson;
    const down = out.rows.find((r) => r.profile === 'guest' && r.url.includes('down.test'));
    expect(down).toMatchObject({ kind: 'must-reach', proxy: 'passed 502', pass: false });
    expect(down!.note).toContain('could not reach the site (502)');
    expect(out.rows.find((r) => r.profile === 'guest' && r.url.includes('childline'))).toMatchObject({
      proxy: 'passed 200',
      pass: true,
    });
    // Only the down site fails (it is probed through the proxy for this machine's profile only).
    expect(out.failed).toBe(1);
    const adultProbe = out.rows.find((r) => r.profile === 'guest' && r.url === 'http://blocked.example/');
    expect(adultProbe).toMatchObject({ proxy: 'refused 403', pass: true });

    // A pupil who copies the header without the run's token is recorded like anyone else.
    expect(await getWithHeader(serve.port, 'http://blocked.example/', 'guessed-token')).toBe(403);
    serve.child.kill('SIGTERM');
    await stopped; // the alerts engine flushes on stop
    const dsl = ['--by', 'DSL', ...args];
    const flagged = await runCli([
      'report',
      'flagged',
      '--since',
      '1d',
      '--format',
      'json',
      '--reason',
      'weekly review',
      ...dsl,
    ]);
    expect(flagged.code, flagged.stderr).toBe(0);
    const report = JSON.parse(flagged.stdout) as { people: { user: string; flagged: number }[] };
    // One flagged attempt (the copied header), none of the selftest's probes of the adult category.
    expect(report.people.map((p) => [p.user, p.flagged])).toEqual([['(no user)', 1]]);

    const alerts = await runCli(['alerts', 'list', '--json', '--since', '1d', ...dsl]);
    expect(alerts.code, alerts.stderr).toBe(0);
    const lines = alerts.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { rule: string; count: number });
    expect(lines.map((l) => [l.rule, l.count])).toEqual([['category:adult', 1]]);

    const history = await runCli(['selftest', '--history', '--json', ...args]);
    expect(history.code, history.stderr).toBe(0);
    const h = JSON.parse(history.stdout) as {
      runs: { id: number; probeRun: string | null }[];
      probes: { run: string; rows: { host: string; action: string }[] }[];
    };
    expect(h.runs).toMatchObject([{ id: out.recorded, probeRun: out.probeRun }]);
    expect(h.probes.map((p) => p.run)).toEqual([out.probeRun]);
    const hosts = h.probes[0]!.rows.map((r) => `${r.action} ${r.host}`);
    expect(hosts).toContain('block blocked.example');
    expect(hosts).toContain('allow www.childline.org.uk');
    const text = await runCli(['selftest', '--history', ...args]);
    expect(text.stdout).toMatch(/Selftest probes in the audit log \(left out of every report/);
    expect(text.stdout).toMatch(/block +403 +blocked\.example\/ +\[adult\]/);
  });
});
