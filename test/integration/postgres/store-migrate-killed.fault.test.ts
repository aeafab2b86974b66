/**
 * Fault injection on `store migrate`: its connection is killed (pg_terminate_backend) while a COPY is in
 * flight, the class of fault that once left migrate waiting for ever (copy-in.ts). The command must end by
 * itself with an SG code and no stack trace, leave nothing of the node behind (one transaction), and a
 * second run must copy everything and verify.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPostgres } from '../../../src/audit/postgres/verify.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

/** Enough rows for several COPYs of 50 000 (the default batch), few enough to generate in seconds. */
const ROWS = 200_000;
/** A migrate that has not ended by then hung: killed, and the test fails on its null exit code. */
const HANG_MS = 120_000;

describe.skipIf(!bin)('store migrate with its connection killed mid-COPY', { timeout: 300_000 }, () => {
  let cluster: PgCluster;
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-migrate-killed-'));

  beforeAll(async () => {
    cluster = await startPgCluster();
    await promisify(execFile)(
      process.execPath,
      ['dist/scripts/gen-audit-db.js', '--rows', String(ROWS), '--out', path.join(dir, 'audit.sqlite')],
      { timeout: 120_000, maxBuffer: 1 << 24 },
    );
  });

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const migrate = (url: string) =>
    runCli(
      [
        'store',
        'migrate',
        '--from',
        'sqlite',
        '--to',
        'postgres',
        '--url',
        url,
        '--node',
        'school',
        '--data',
        dir,
      ],
      {
        cwd: dir,
        timeoutMs: HANG_MS,
      },
    ).then((r) => ({ ...r, out: r.stdout + r.stderr }));

  /** The first run, its COPY's backend killed: what it printed, for the tests below. */
  let killedRun: { code: number | null; out: string } | null = null;

  it('ends by itself, leaves nothing behind, and a second run copies everything', async () => {
    const url = await cluster.createDatabase('killed_copy');
    const admin = new pg.Client(url);
    await admin.connect();
    try {
      let done = false;
      const running = migrate(url).finally(() => (done = true));
      // Wait for the COPY to be in flight (an event seen in pg_stat_activity), then kill its backend.
      let killed = false;
      while (!killed && !done) {
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity
            WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY %'`,
        );
        killed = rows.some((r: { gone: boolean }) => r.gone);
        if (!killed) await new Promise((resolve) => setImmediate(resolve));
      }
      const r = (killedRun = await running);
      expect(killed, `migrate ended before a COPY was seen: ${r.out}`).toBe(true);
      expect(r.code, `killed after ${HANG_MS} ms, it hung: ${r.out}`).not.toBeNull();
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);

      // One transaction: nothing of the node is left to block the second run.
      const left = await admin.query(
        `SELECT (SELECT count(*) FROM audit_events WHERE node = 'school')::int AS rows,
                (SELECT count(*) FROM chain_heads WHERE node = 'school')::int AS heads`,
      );
      expect(left.rows[0]).toEqual({ rows: 0, heads: 0 });

      const again = await migrate(url);
      expect(again.code, again.out).toBe(0);
      const v = await verifyPostgres(admin);
      expect(v.ok).toBe(true);
      expect(v.nodes).toMatchObject([{ node: 'school', rows: ROWS }]);
    } finally {
      await admin.end();
    }
  });

  // Was a bug: the killed run printed the raw driver error ("error: write ECONNRESET", or the server's
  // "terminating connection due to administrator command") with no SG code. Now SG_AUDIT_UNAVAILABLE,
  // saying nothing was kept.
  it('says so with an SG code', () => {
    expect(killedRun?.out).toMatch(
      /^error SG_AUDIT_UNAVAILABLE: store migrate of node school stopped and nothing was kept/m,
    );
  });
});
