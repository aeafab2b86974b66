/**
 * `serve --workers 2` on PostgreSQL: both proxy workers relay their rows to the primary's one store, so the
 * node keeps one chain; every answered request has its row under the node's name and the chain verifies.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPostgres } from '../../../src/audit/postgres/verify.js';
import { startServeProcess } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { useServeAndOrigin } from '../../helpers/serve-and-origin.js';
import { setUpWorkers, START_BOUND_MS, status, untilEveryWorkerServed } from '../../helpers/serve-workers.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const t = useServeAndOrigin();

describe.skipIf(!bin)('serve --workers 2 on PostgreSQL', { timeout: 600_000 }, () => {
  let cluster: PgCluster;

  beforeAll(async () => {
    cluster = await startPgCluster();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('records the rows of both workers in one chain of the node, which verifies', async () => {
    const url = await cluster.createDatabase('workers');
    const { args, serveArgs } = setUpWorkers(t.origin.port, { store: { postgres: { url, node: 'gate-w' } } });
    t.serve = await startServeProcess(serveArgs, undefined, START_BOUND_MS);
    const answered = await untilEveryWorkerServed(
      t.serve.port,
      args,
      (n) => `http://allowed.test:${t.origin.port}/w/${n}`,
    );
    const s = await status(args);
    expect(s.workers).toHaveLength(2);
    for (const w of s.workers!) expect(w).toMatchObject({ healthy: true, error: null });

    const db = new pg.Client(url);
    await db.connect();
    try {
      const rows = (await db.query<{ node: string; path: string }>('SELECT node, path FROM audit_events'))
        .rows;
      const paths = new Set(rows.map((r) => r.path));
      expect(answered.filter((u) => !paths.has(new URL(u).pathname))).toEqual([]);
      expect(new Set(rows.map((r) => r.node))).toEqual(new Set(['gate-w']));
      const verified = await verifyPostgres(db);
      expect(verified.ok).toBe(true);
      expect(verified.nodes).toMatchObject([{ node: 'gate-w', ok: true }]);
      expect(verified.nodes[0]!.rows).toBe(rows.length);
    } finally {
      await db.end();
    }
  });
});
