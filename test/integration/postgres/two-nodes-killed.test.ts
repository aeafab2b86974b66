/**
 * Two `serve` nodes against one PostgreSQL under load (a Node load loop over loopback, a bounded count of
 * requests): each node in turn is SIGKILLed mid-load and started again. No row may be missing for any 200
 * or 403 a client saw, and `audit verify` passes across both nodes (chains, checkpoints, the check at start
 * of the restarted node). Then the database is stopped under load: both nodes refuse (503,
 * SG_AUDIT_UNAVAILABLE) and serve again by themselves once it is back, with no answered row missing.
 */
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServeProcess, waitForExit } from '../../helpers/cli.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { get, setUpWorkers, START_BOUND_MS } from '../../helpers/serve-workers.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

/** Requests per node per phase, on new connections, four clients per node. */
const PER_PHASE = 120;

interface Node {
  name: string;
  args: string[];
  serveArgs: string[];
  child?: ChildProcess;
  port?: number;
}

describe.skipIf(!bin)(
  'two nodes on one PostgreSQL: each SIGKILLed, and the database stopped, under load',
  { timeout: 900_000 },
  () => {
    let cluster: PgCluster;
    let origin: Origin;
    let url: string;
    const nodes: Node[] = [];
    const seen: string[] = [];
    let n = 0;

    const start = async (node: Node) => {
      const s = await startServeProcess(node.serveArgs, undefined, START_BOUND_MS);
      node.child = s.child;
      node.port = s.port;
    };

    /** Four clients on `node` until PER_PHASE requests were sent; `onAnswered(k)` after each answer seen. */
    const load = (node: Node, onAnswered: (k: number) => void = () => {}) => {
      let sent = 0;
      let answered = 0;
      const client = async () => {
        while (sent < PER_PHASE) {
          sent++;
          const u = `http://${n % 2 ? 'allowed.test' : 'www.facebook.com'}:${origin.port}/${node.name}/${n++}`;
          try {
            const code = await get(node.port!, u);
            if (code === 200 || code === 403) seen.push(u);
            onAnswered(++answered);
          } catch {
            // cut by the kill: no answer seen, no row owed
          }
        }
      };
      return Promise.all([0, 1, 2, 3].map(client));
    };

    beforeAll(async () => {
      cluster = await startPgCluster();
      url = await cluster.createDatabase('trust');
      origin = await startOrigin();
      for (const name of ['gate-1', 'gate-2']) {
        const files = setUpWorkers(origin.port, { store: { postgres: { url } } });
        const serveArgs = files.serveArgs.filter((a) => a !== '--workers' && a !== '2');
        nodes.push({ name, args: files.args, serveArgs: [...serveArgs, '--node', name] });
      }
      await Promise.all(nodes.map(start));
    });

    afterAll(async () => {
      for (const node of nodes) {
        node.child?.kill('SIGTERM');
        if (node.child) await waitForExit(node.child).catch(() => undefined);
      }
      await origin?.close();
      await cluster?.stop();
    });

    it('loses no answered row and verifies across both nodes', async () => {
      for (const victim of nodes) {
        const other = nodes.find((x) => x !== victim)!;
        let killAt!: () => void;
        const twenty = new Promise<void>((resolve) => (killAt = resolve));
        const loads = Promise.all([load(victim, (k) => k === 20 && killAt()), load(other)]);
        await twenty;
        const child = victim.child!;
        const exited = waitForExit(child);
        child.kill('SIGKILL');
        await exited;
        await loads;
        await start(victim); // its check at start walks its chain from its last checkpoint
        await Promise.all([load(victim), load(other)]);
      }
      expect(seen.length).toBeGreaterThan(PER_PHASE);

      await expectEveryAnswerRecordedAndVerified();
    });

    it('refuses on both nodes while the database is stopped under load, and both recover by themselves', async () => {
      let running = true;
      const refusedOn = new Set<string>();
      let bothRefused!: () => void;
      const refused = new Promise<void>((resolve) => (bothRefused = resolve));
      let warm = 0;
      let warmed!: () => void;
      const twenty = new Promise<void>((resolve) => (warmed = resolve));
      const client = async (node: Node) => {
        while (running) {
          const u = `http://${n % 2 ? 'allowed.test' : 'www.facebook.com'}:${origin.port}/${node.name}/${n++}`;
          const code = await get(node.port!, u).catch(() => 0);
          if (code === 200 || code === 403) seen.push(u);
          if (++warm === 20) warmed();
          if (code === 503) {
            refusedOn.add(node.name);
            if (refusedOn.size === nodes.length) bothRefused();
          }
        }
      };
      const clients = nodes.flatMap((node) => [client(node), client(node)]);
      await twenty;
      await cluster.stopServer();
      await refused;
      // Stopped: a new request on either node is refused with the page naming the code.
      for (const node of nodes) {
        const during = await viaProxy(node.port!, `http://allowed.test:${origin.port}/${node.name}/down`);
        expect(during.status, node.name).toBe(503);
        expect(during.body).toContain('SG_AUDIT_UNAVAILABLE');
      }
      running = false;
      await Promise.all(clients);

      await cluster.startServer();
      // Back without a restart: each node serves again (a bounded number of tries, each waiting on its answer).
      for (const node of nodes) {
        let code = 0;
        for (let i = 0; i < 200 && code !== 200; i++) {
          const u = `http://allowed.test:${origin.port}/${node.name}/after-${i}`;
          code = await get(node.port!, u);
          if (code === 200) seen.push(u);
        }
        expect(code, node.name).toBe(200);
      }
      await expectEveryAnswerRecordedAndVerified();
    });

    /** Every 200/403 a client saw has its row, both nodes wrote, and `audit verify` is ok on both chains. */
    async function expectEveryAnswerRecordedAndVerified() {
      const db = new pg.Client(url);
      await db.connect();
      let rows: { node: string; path: string }[];
      try {
        rows = (await db.query<{ node: string; path: string }>('SELECT node, path FROM audit_events')).rows;
      } finally {
        await db.end();
      }
      const paths = new Set(rows.map((r) => r.path));
      expect(seen.filter((u) => !paths.has(new URL(u).pathname))).toEqual([]);
      expect(new Set(rows.map((r) => r.node))).toEqual(new Set(['gate-1', 'gate-2']));

      const verify = await runCli(['audit', 'verify', ...nodes[0]!.args]);
      expect(verify.stderr).toBe('');
      expect(verify.stdout).toMatch(/^ok: node gate-1: /m);
      expect(verify.stdout).toMatch(/^ok: node gate-2: /m);
      expect(verify.code).toBe(0);
    }
  },
);
