/**
 * Policy edits across two nodes (issue 18 part 3, the gaps): a CLI edit on a node that has not applied the
 * newest version takes it first and publishes on top of it; an edit that still meets a newer version at
 * publish shows SG_POLICY_CONFLICT (not SG_RELOAD_FAILED); `users add` reaches the other node, which
 * applies and reloads; `status` shows every node's version and who is behind; old versions are pruned to
 * store.postgres.policyVersionsKept, never one a node runs. Two proxies, one private PostgreSQL cluster.
 *
 * A node that "has not heard yet" is made by `policy-edit-begin` on its control socket: it holds off
 * applying other nodes' versions, as it does between a CLI edit's pull and its publish.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
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

const KEPT = 3;
const HOSTS = ['first.test', 'second.test', 'held.test', 'lost.test'];

describe.skipIf(!bin)('policy edits across nodes', { timeout: 240_000 }, () => {
  let cluster: PgCluster;
  let url: string;
  let origin: Origin;
  let a: PolicyNode;
  let b: PolicyNode;

  const startNode = (name: string) =>
    startPolicyNode(name, { url, originPort: origin.port, hosts: HOSTS, policyVersionsKept: KEPT });

  const status = (n: PolicyNode) => controlRequest<StatusReport>(n.config.dataDir, 'status');
  const policyOf = (n: PolicyNode) => status(n).then((s) => s.policy!);
  const blocks = async (n: PolicyNode, host: string) =>
    (await viaProxy(n.proxy.address.port, `http://${host}:${origin.port}/`)).status === 403;
  /** Makes `n` behave as a node that has not heard of newer versions yet (until its next publish). */
  const hold = (n: PolicyNode) => controlRequest(n.config.dataDir, 'policy-edit-begin', { holdMs: 600_000 });
  const query = async <R extends pg.QueryResultRow>(sql: string): Promise<R[]> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<R>(sql)).rows;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    cluster = await startPgCluster();
    url = await cluster.createDatabase('edits');
    origin = await startOrigin();
    a = await startNode('gate-a');
    b = await startNode('gate-b');
  });

  afterAll(async () => {
    await a?.proxy.stop().catch(() => undefined);
    await b?.proxy.stop().catch(() => undefined);
    await origin?.close();
    await cluster?.stop();
  });

  it('a CLI edit on a node behind the newest version takes it first, then publishes on top of it', async () => {
    await hold(b);
    const added = await runCli(['lists', 'add', 'social', 'first.test', ...a.cli]);
    expect(added.code, added.stderr).toBe(0);
    const newest = (await policyOf(a)).version;
    // B has not applied A's version, and every node's status says so.
    expect((await policyOf(b)).version).toBeLessThan(newest);
    const lines = statusLines(await status(a)).join('\n');
    expect(lines).toMatch(new RegExp(`^  node gate-a \\(this node\\): version ${newest}, up to date`, 'm'));
    expect(lines).toMatch(new RegExp(`^  node gate-b: version \\d+, BEHIND \\(newest ${newest}\\)`, 'm'));

    const second = await runCli(['lists', 'add', 'social', 'second.test', ...b.cli]);
    expect(second.code, second.stderr).toBe(0);
    const pb = await policyOf(b);
    expect(pb).toMatchObject({ version: newest + 1, from: 'gate-b', lastConflict: null });
    // Both edits in force on both nodes.
    const domains = readFileSync(path.join(b.config.dataDir, 'categories.local/social/domains'), 'utf8');
    expect(domains).toContain('first.test');
    expect(domains).toContain('second.test');
    expect(await blocks(b, 'first.test')).toBe(true);
    await until('node A blocks second.test', async () => (await blocks(a, 'second.test')) || false);
    await until('every node up to date', async () => {
      const nodes = (await policyOf(a)).nodes!;
      return nodes.nodes.length === 2 && nodes.nodes.every((n) => !n.behind) ? true : false;
    });
  });

  it('an edit that meets a newer version when it publishes is refused with SG_POLICY_CONFLICT', async () => {
    await hold(b);
    const added = await runCli(['lists', 'add', 'social', 'held.test', ...a.cli]);
    expect(added.code, added.stderr).toBe(0);
    const winner = (await policyOf(a)).version;
    // An edit written under the hold (as a CLI edit between its pull and its publish), then published.
    const local = path.join(b.config.dataDir, 'categories.local', 'gambling');
    mkdirSync(local, { recursive: true, mode: 0o700 });
    appendFileSync(path.join(local, 'domains'), 'lost.test\n', { mode: 0o600 });
    const reload = await runCli(['reload', ...b.cli]);
    expect(reload.code).toBe(1);
    expect(reload.stderr).toContain('error SG_POLICY_CONFLICT:');
    expect(reload.stderr).not.toContain('SG_RELOAD_FAILED');
    expect(reload.stderr).toContain(`node gate-a published version ${winner} first`);
    expect(reload.stderr).toContain(`what to do: run the same command again`);
    // B runs the winner, without its own edit.
    expect((await policyOf(b)).version).toBe(winner);
    await until('node B blocks held.test', async () => (await blocks(b, 'held.test')) || false);
    expect(await blocks(b, 'lost.test')).toBe(false);
  });

  it('`users add` on node B is published at once, and node A applies and reloads it', async () => {
    const before = (await policyOf(b)).version;
    const reloadsBefore = (await status(a)).reloads.count;
    const user = await runCli(['users', 'add', 'k.jones', '--profile', 'staff', ...b.cli]);
    expect(user.code, user.stderr).toBe(0);
    // Published by the command itself (no reload, no poll needed).
    expect((await policyOf(b)).version).toBe(before + 1);
    await until('node A runs the version with k.jones', async () =>
      (await policyOf(a)).version === before + 1 ? true : false,
    );
    const db = new Database(path.join(a.config.dataDir, 'state.sqlite'), { readonly: true });
    try {
      expect(db.prepare('SELECT name FROM users WHERE name = ?').get('k.jones')).toBeTruthy();
    } finally {
      db.close();
    }
    await until('node A reloaded after applying', async () =>
      (await status(a)).reloads.count > reloadsBefore ? true : false,
    );
  });

  it(`keeps the newest ${KEPT} versions and any a node runs, and the files they name`, async () => {
    // A stopped node still runs an old version (its row stays), then node A publishes several.
    const heldVersion = (await policyOf(a)).version;
    await query(`INSERT INTO policy_applied (node, version) VALUES ('gate-stopped', ${heldVersion})`);
    for (const host of ['p1.test', 'p2.test', 'p3.test', 'p4.test']) {
      const r = await runCli(['lists', 'add', 'streaming', host, ...a.cli]);
      expect(r.code, r.stderr).toBe(0);
    }
    // B on A's newest, then one more publish: B's and A's versions are the newest two, inside the window.
    const caughtUp = (await policyOf(a)).version;
    await until('node B on the newest version', async () =>
      (await policyOf(b)).version === caughtUp ? true : false,
    );
    const last = await runCli(['lists', 'add', 'streaming', 'p4b.test', ...a.cli]);
    expect(last.code, last.stderr).toBe(0);
    const newest = (await policyOf(a)).version;
    const versions = (
      await query<{ version: string }>('SELECT version FROM policy_versions ORDER BY version')
    ).map((r) => Number(r.version));
    const expected = [heldVersion, ...Array.from({ length: KEPT }, (_, i) => newest - KEPT + 1 + i)];
    expect(versions).toEqual([...new Set(expected)].sort((x, y) => x - y));
    // Every kept version's files are still there, and no file outside them.
    const orphans = await query(
      `SELECT name FROM policy_files f WHERE NOT EXISTS
         (SELECT 1 FROM policy_versions v WHERE v.manifest ->> f.name = f.sha256)`,
    );
    expect(orphans).toEqual([]);
    const missing = await query(
      `SELECT v.version, m.key FROM policy_versions v, jsonb_each_text(v.manifest) m
       WHERE NOT EXISTS (SELECT 1 FROM policy_files f WHERE f.name = m.key AND f.sha256 = m.value)`,
    );
    expect(missing).toEqual([]);
    // The stopped node's version can still be fetched whole (its files were kept).
    const held = await query<{ n: string }>(
      `SELECT count(*) AS n FROM policy_versions v, jsonb_each_text(v.manifest) m WHERE v.version = ${heldVersion}`,
    );
    expect(Number(held[0]!.n)).toBeGreaterThan(0);
    // Status lists it as behind.
    expect(statusLines(await status(a)).join('\n')).toMatch(
      new RegExp(`^  node gate-stopped: version ${heldVersion}, BEHIND \\(newest ${newest}\\)`, 'm'),
    );
  });
});
