/**
 * One policy across two nodes (issue 18 part 3): two proxies, each with its own data dir, record on one
 * private PostgreSQL cluster. `schoolgate lists add` on node A's data dir makes node B block the domain; an
 * exception and a user added on B reach A; two edits made at once give SG_POLICY_CONFLICT on the node that
 * published second, which then runs the winner. Every wait is on a condition, bounded by a count.
 */
import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/app/control.js';
import type { StatusReport } from '../../../src/app/status.js';
import { statusLines } from '../../../src/cli/commands/control.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { startPolicyNode, until, type PolicyNode } from '../../helpers/policy-nodes.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

type Node = PolicyNode;

describe.skipIf(!bin)('policy replicated through PostgreSQL', { timeout: 240_000 }, () => {
  let cluster: PgCluster;
  let origin: Origin;
  let a: Node;
  let b: Node;

  const startNode = (name: string, url: string) =>
    startPolicyNode(name, {
      url,
      originPort: origin.port,
      hosts: ['pgpolicy.test', 'winner.test', 'loser.test'],
    });

  const status = (n: Node) => controlRequest<StatusReport>(n.config.dataDir, 'status');
  const statusOf = (n: Node) => status(n).then((s) => s.policy!);
  const fetchStatus = (n: Node, host: string, p = '/') =>
    viaProxy(n.proxy.address.port, `http://${host}:${origin.port}${p}`).then((r) => r.status);

  beforeAll(async () => {
    cluster = await startPgCluster();
    const url = await cluster.createDatabase('policy');
    origin = await startOrigin();
    a = await startNode('gate-a', url);
    b = await startNode('gate-b', url);
  });

  afterAll(async () => {
    await a?.proxy.stop().catch(() => undefined);
    await b?.proxy.stop().catch(() => undefined);
    await origin?.close();
    await cluster?.stop();
  });

  it('starts both nodes on one version: the first publishes its files, the second adopts them', async () => {
    const [pa, pb] = [await statusOf(a), await statusOf(b)];
    expect(pa).toMatchObject({
      node: 'gate-a',
      version: 1,
      from: 'gate-a',
      failure: null,
      lastConflict: null,
    });
    expect(pb).toMatchObject({
      node: 'gate-b',
      version: 1,
      from: 'gate-a',
      failure: null,
      lastConflict: null,
    });
    const lines = statusLines(await status(b)).join('\n');
    expect(lines).toMatch(/^policy {9}version 1 from node gate-a, applied \d{4}-/m);
  });

  it('`lists add` on node A: node B blocks the domain', async () => {
    expect(await fetchStatus(b, 'pgpolicy.test', '/before')).toBe(200);
    const added = await runCli(['lists', 'add', 'social', 'pgpolicy.test', '--by', 'IT', ...a.cli]);
    expect(added.code, added.stderr).toBe(0);
    expect(await fetchStatus(a, 'pgpolicy.test', '/on-a')).toBe(403);
    const tries = await until('node B blocks pgpolicy.test', async () => {
      const got = await fetchStatus(b, 'pgpolicy.test', '/on-b');
      return got === 403 ? true : false;
    });
    expect(tries).toBe(true);
    const [pa, pb] = [await statusOf(a), await statusOf(b)];
    expect(pb.version).toBe(pa.version);
    expect(pb.from).toBe('gate-a');
    // Written owner-only, as every file of the data dir.
    const file = path.join(b.config.dataDir, 'categories.local', 'social', 'domains');
    expect(readFileSync(file, 'utf8')).toContain('pgpolicy.test');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('an exception and a user added on node B reach node A', async () => {
    expect(await fetchStatus(a, 'www.facebook.com', '/before')).toBe(403);
    const exception = await runCli([
      'exceptions',
      'add',
      'facebook.com',
      '--allow',
      '--everyone',
      '--reason',
      'trust-wide project',
      '--by',
      'IT',
      ...b.cli,
    ]);
    expect(exception.code, exception.stderr).toBe(0);
    const user = await runCli(['users', 'add', 'j.smith', '--profile', 'staff', ...b.cli]);
    expect(user.code, user.stderr).toBe(0);
    await until('node A allows www.facebook.com', async () =>
      (await fetchStatus(a, 'www.facebook.com', '/on-a')) === 200 ? true : false,
    );
    // The user is in A's state database, which A's running proxy reads (the rows came with the exception's
    // version or the next one).
    await until('node A has user j.smith', async () => {
      const db = new Database(path.join(a.config.dataDir, 'state.sqlite'), { readonly: true });
      try {
        return db.prepare('SELECT name FROM users WHERE name = ?').get('j.smith') ? true : false;
      } finally {
        db.close();
      }
    });
    // `users add` reloads nothing: the command publishes its rows itself (policy-edits.test.ts checks that).
    // Both nodes on one version again before the next test edits both.
    const pa = await until('node A runs the version node B published last', async () => {
      const [sa, sb] = [await statusOf(a), await statusOf(b)];
      return sa.version === sb.version && sa.from === 'gate-b' ? sa : false;
    });
    expect(pa.failure).toBeNull();
  });

  it('two edits at once: the later one is refused with SG_POLICY_CONFLICT and its node runs the winner', async () => {
    // Both edits are on disk before either node publishes (these writes hold the event loop both nodes share).
    // B is held as a CLI edit holds its node (policy-edit-begin): otherwise B's 10 s poll, firing between
    // these writes and A's reload, could publish B's edit first and make A the loser.
    await controlRequest(b.config.dataDir, 'policy-edit-begin', { holdMs: 600_000 });
    const local = (n: Node) => path.join(n.config.dataDir, 'categories.local', 'gambling');
    for (const [n, host] of [
      [a, 'winner.test'],
      [b, 'loser.test'],
    ] as const) {
      mkdirSync(local(n), { recursive: true, mode: 0o700 });
      appendFileSync(path.join(local(n), 'domains'), `${host}\n`, { mode: 0o600 });
    }
    const before = (await statusOf(a)).version;
    await controlRequest(a.config.dataDir, 'reload');
    expect((await statusOf(a)).version).toBe(before + 1);
    // B, held, has not applied A's version: its reload publishes on the old one and meets the newer.
    const reload = await runCli(['reload', ...b.cli]);
    const conflict = await until(
      'node B reports the conflict',
      async () => (await statusOf(b)).lastConflict ?? false,
    );
    expect(conflict.code).toBe('SG_POLICY_CONFLICT');
    expect(conflict.message).toContain(`node gate-a published version ${before + 1} first`);
    // B's own reload met it: the command says so and fails.
    expect(reload.code).toBe(1);
    expect(reload.stderr).toContain('SG_POLICY_CONFLICT');
    // B runs the winner: A's edit is in force there, B's own is gone from its files and its lists.
    await until('node B blocks winner.test', async () =>
      (await fetchStatus(b, 'winner.test')) === 403 ? true : false,
    );
    expect(readFileSync(path.join(local(b), 'domains'), 'utf8')).not.toContain('loser.test');
    const pb = await statusOf(b);
    expect(pb.version).toBe(before + 1);
    expect(statusLines(await status(b)).join('\n')).toContain('last conflict');
  });
});
