/**
 * Signed checkpoints on PostgreSQL, per node: the store signs its head at open, while it moves and at close;
 * `audit verify` checks every node's chain and checkpoints; the check at start refuses a chain whose tail
 * no longer matches the node's last checkpoint (newest rows removed), and so does `audit verify`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgCaseStore } from '../../../src/audit/postgres/cases.js';
import { pgPool } from '../../../src/audit/postgres/connect.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { verifyPostgres } from '../../../src/audit/postgres/verify.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { serveFiles } from '../../helpers/schoolgate.js';

const makeEvent = () => auditEvent({ id: randomUUID(), time: Date.now() });

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

describe.skipIf(!bin)('signed checkpoints on PostgreSQL', { timeout: 300_000 }, () => {
  let cluster: PgCluster;
  let url: string;
  const keyDir = mkdtempSync(path.join(tmpdir(), 'sg-pg-keys-'));
  const keyOf = (node: string) => path.join(keyDir, node, 'audit-signing.key');

  const open = (node: string, checkpointEveryMs = 60_000) =>
    PostgresAuditStore.open({ connectionString: url, node, signingKeyFile: keyOf(node), checkpointEveryMs });

  const query = async <T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> => {
    const db = new pg.Client(url);
    await db.connect();
    try {
      return (await db.query<T>(sql, values)).rows;
    } finally {
      await db.end();
    }
  };

  const cliVerify = () => {
    const { dir, args } = serveFiles();
    writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify({ store: { postgres: { url } } }));
    return runCli(['audit', 'verify', ...args]);
  };

  beforeAll(async () => {
    cluster = await startPgCluster();
    url = cluster.url;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('signs each node at open, while its head moves and at close; verify checks both nodes', async () => {
    const a = await open('gate-a', 10);
    const b = await open('gate-b');
    expect(a.signing).toEqual({ state: 'ok' });
    await Promise.all(Array.from({ length: 5 }, () => a.record(makeEvent())));
    await Promise.all(Array.from({ length: 3 }, () => b.record(makeEvent())));
    // The timer signs once it sees the head at 5: wait for that row, not for a time.
    while ((await query(`SELECT 1 FROM checkpoints WHERE node = 'gate-a' AND seq = 5`)).length === 0)
      await new Promise((resolve) => setImmediate(resolve));
    await a.close();
    await b.close();
    const reasons = await query<{ node: string; seq: number; reason: string }>(
      'SELECT node, seq::int, reason FROM checkpoints ORDER BY id',
    );
    expect(reasons.filter((r) => r.node === 'gate-b')).toEqual([
      { node: 'gate-b', seq: 0, reason: 'open' },
      { node: 'gate-b', seq: 3, reason: 'close' },
    ]);
    expect(reasons.filter((r) => r.node === 'gate-a').map((r) => r.reason)).toContain('minute');

    const db = new pg.Client(url);
    await db.connect();
    try {
      const v = await verifyPostgres(db);
      expect(v.ok).toBe(true);
      expect(v.nodes.map((n) => [n.node, n.rows, n.checkpoints.latest?.seq])).toEqual([
        ['gate-a', 5, 5],
        ['gate-b', 3, 3],
      ]);
    } finally {
      await db.end();
    }
    const cli = await cliVerify();
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toMatch(/^ok: node gate-a: 5 rows verified.*checkpoints: \d+ signed, latest seq 5/m);
    expect(cli.stdout).toMatch(/^ok: node gate-b: 3 rows verified.*checkpoints: 2 signed, latest seq 3/m);
    expect(cli.code).toBe(0);
  });

  it('refuses to start, and verify fails, when the newest signed rows of a node were removed', async () => {
    await query(`DELETE FROM audit_events WHERE node = 'gate-b' AND seq = 3`);
    const [row2] = await query<{ chain_hash: string }>(
      `SELECT chain_hash FROM audit_events WHERE node = 'gate-b' AND seq = 2`,
    );
    await query(`UPDATE chain_heads SET seq = 2, hash = $1 WHERE node = 'gate-b'`, [row2!.chain_hash]);

    await expect(open('gate-b')).rejects.toMatchObject({
      code: 'SG_AUDIT_DAMAGED',
      message: expect.stringContaining('node gate-b does not match its last signed checkpoint'),
    });
    // The other node is not this one's business: it starts.
    const a = await open('gate-a');
    await a.close();

    const cli = await cliVerify();
    expect(cli.code).not.toBe(0);
    expect(cli.stdout).toMatch(/^BROKEN: node gate-b: .*behind the signed checkpoint/m);
    expect(cli.stderr).toContain('SG_AUDIT_TAMPERED');
  });

  it('refuses to start with another key than the one the node signed with', async () => {
    rmSync(keyOf('gate-a'));
    await expect(open('gate-a')).rejects.toMatchObject({
      code: 'SG_AUDIT_DAMAGED',
      message: expect.stringContaining('signed by another key'),
    });
  });

  it('signs again within the minute when only the shared ledger moved (a case opened on a quiet node)', async () => {
    const c = await open('gate-c', 10);
    const ledgerSeq = async () =>
      Number((await query<{ seq: string }>('SELECT seq FROM ledger_head'))[0]!.seq);
    const signedLedger = async () =>
      (
        await query<{ ledger_seq: string }>(
          `SELECT ledger_seq FROM checkpoints WHERE node = 'gate-c' ORDER BY id DESC LIMIT 1`,
        )
      ).map((r) => Number(r.ledger_seq))[0];
    const pool = pgPool({ connectionString: url, max: 1 });
    try {
      // gate-c writes no row: its chain stays where it was; the ledger moves with a case from elsewhere.
      await pgCaseStore(pool).open({
        ref: 'LEDGER-1',
        subjects: [{ kind: 'address', value: '10.0.0.99' }],
        by: 'DSL',
        osUser: 'dsl',
        now: Date.now(),
      });
      const moved = await ledgerSeq();
      // The timer signs once it sees the ledger's new head: wait for that checkpoint, not for a time.
      while ((await signedLedger()) !== moved) await new Promise((resolve) => setImmediate(resolve));
      expect(
        (
          await query<{ reason: string }>(
            `SELECT reason FROM checkpoints WHERE node = 'gate-c' ORDER BY id DESC LIMIT 1`,
          )
        )[0],
      ).toEqual({ reason: 'minute' });
    } finally {
      await pool.end();
      await c.close();
    }
  });
});
