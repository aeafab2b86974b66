/**
 * Retention on PostgreSQL through the real CLI: `hold add/list/release` in the shared database, `audit purge`
 * dropping whole months with no held row and deleting only the unheld expired rows of a month holding a held
 * one, every node's chain still verifying after (`audit verify`), and a kept row edited afterwards caught.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthOf } from '../../../src/audit/postgres/partitions.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, type PgCluster } from '../../helpers/pg-cluster.js';
import type { serveFiles } from '../../helpers/schoolgate.js';
import { clusterWithNode, nodeWriter } from './cli-node.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const DAY = 86_400_000;
const now = Date.now();
const d = new Date(now);
/** The 10th of the month `back` months ago (UTC), plus `minutes`. */
const monthsAgo = (back: number, minutes = 0) =>
  Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - back, 10) + minutes * 60_000;
const OLDEST = monthOf(monthsAgo(4)).name;
const HELD_MONTH = monthOf(monthsAgo(3)).name;

describe.skipIf(!bin)('retention, holds and purge on PostgreSQL', { timeout: 300_000 }, () => {
  let cluster: PgCluster;
  let files: ReturnType<typeof serveFiles>;
  const ids: Record<string, string[]> = {};

  const query = async <T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> => {
    const db = new pg.Client(cluster.url);
    await db.connect();
    try {
      return (await db.query<T>(sql, values)).rows;
    } finally {
      await db.end();
    }
  };
  const cli = async (...args: string[]) => {
    const r = await runCli([...args, ...files.args]);
    return { ...r, out: r.stdout + r.stderr };
  };
  const purge = () =>
    cli('audit', 'purge', '--by', 'IT', '--reason', 'termly retention', '--retention-days', '30', '--json');
  const partitions = async () =>
    (
      await query<{ relname: string }>(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1`,
      )
    ).map((r) => r.relname);
  const rowsOf = async (who: string) =>
    (
      await query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE id = ANY($1)`, [ids[who]])
    )[0]!.n;

  /** Rows of `user` (null: nobody signed in, from 10.9.9.9) at these times, through the node's writer. */
  async function record(store: PostgresAuditStore, key: string, user: string | null, times: number[]) {
    for (const time of times) {
      const id = randomUUID();
      (ids[key] ??= []).push(id);
      await store.record(auditEvent({ id, time, user, ...(user ? {} : { clientIp: '10.9.9.9' }) }));
    }
  }

  beforeAll(async () => {
    ({ cluster, files } = await clusterWithNode());
    // gate-a signs with the key the CLI on this node uses (keys/ in its data directory).
    const a = await nodeWriter(cluster, files);
    const b = await nodeWriter(cluster, files, 'gate-b', path.join(files.dir, 'gate-b', 'audit-signing.key'));
    await record(a, 'oldA', 'pupil2', [monthsAgo(4), monthsAgo(4, 1)]);
    await record(b, 'oldB', 'pupil2', [monthsAgo(4, 2)]);
    await record(a, 'held1', 'pupil1', [monthsAgo(3), monthsAgo(3, 2)]);
    await record(a, 'gone2', 'pupil2', [monthsAgo(3, 1), monthsAgo(3, 3)]);
    await record(b, 'heldAddr', null, [monthsAgo(3, 4)]);
    await record(b, 'goneB', 'pupil2', [monthsAgo(3, 5)]); // gate-b's head: purged, its checkpoint's row with it
    await record(a, 'recent', 'pupil2', [now - DAY, now - DAY + 1]);
    await a.close();
    await b.close();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('places and lists holds in the shared database, refusing a subject nobody knows', async () => {
    const unknown = await cli('hold', 'add', '--subject', 'no.such.pupil', '--reason', 'x', '--by', 'DSL');
    expect(unknown.code).not.toBe(0);
    expect(unknown.out).toContain('SG_SUBJECT_UNKNOWN');
    const placed = await cli(
      'hold',
      'add',
      '--subject',
      'pupil1',
      '--reason',
      'police referral 14/11',
      '--by',
      'DSL',
    );
    expect(placed.code, placed.out).toBe(0);
    expect(placed.stdout).toContain('hold 1 placed on pupil1');
    const addr = await cli(
      'hold',
      'add',
      '--subject-address',
      '10.9.9.9',
      '--reason',
      'tribunal',
      '--by',
      'DSL',
    );
    expect(addr.code, addr.out).toBe(0);
    const list = await cli('hold', 'list', '--by', 'DSL', '--reason', 'checking before the purge', '--json');
    expect(list.code, list.out).toBe(0);
    expect((JSON.parse(list.stdout) as { value: string }[]).map((h) => h.value)).toEqual([
      'pupil1',
      '10.9.9.9',
    ]);
    expect(await query(`SELECT kind, value FROM holds ORDER BY id`)).toEqual([
      { kind: 'user', value: 'pupil1' },
      { kind: 'address', value: '10.9.9.9' },
    ]);
  });

  it('drops a month with no held row, deletes only unheld rows of a month with one; verify stays ok', async () => {
    expect(await partitions()).toEqual(expect.arrayContaining([OLDEST, HELD_MONTH]));
    const run = await purge();
    expect(run.code, run.out).toBe(0);
    const result = JSON.parse(run.stdout) as { deleted: number; held: number; dropped: string[] };
    expect(result).toMatchObject({ deleted: 6, held: 3, dropped: [OLDEST] });
    const left = await partitions();
    expect(left).not.toContain(OLDEST);
    expect(left).toContain(HELD_MONTH);
    expect(await rowsOf('held1')).toBe(2);
    expect(await rowsOf('heldAddr')).toBe(1);
    expect(await rowsOf('gone2')).toBe(0);
    expect(await rowsOf('goneB')).toBe(0);
    expect(await rowsOf('recent')).toBe(2);

    const verify = await cli('audit', 'verify', '--json');
    expect(verify.code, verify.out).toBe(0);
    const v = JSON.parse(verify.stdout) as {
      ok: boolean;
      nodes: { node: string; rows: number; anchoredGaps: number }[];
    };
    expect(v.ok).toBe(true);
    expect(v.nodes.map((n) => [n.node, n.rows])).toEqual([
      ['gate-a', 4],
      ['gate-b', 1],
    ]);
    const purges = await cli('audit', 'purges', '--by', 'A. Head');
    expect(purges.stdout).toMatch(
      /purge 1 .* by IT .*retention 30 days\s+deleted 6, held 3\s+reason: termly retention/,
    );
  });

  it('fails verify when a kept row is edited after the purge', async () => {
    const [id] = ids['held1']!;
    await query(`UPDATE audit_events SET host = 'elsewhere.test' WHERE id = $1`, [id]);
    const verify = await cli('audit', 'verify');
    expect(verify.code).not.toBe(0);
    expect(verify.stdout).toMatch(/^BROKEN: node gate-a: the row does not match its hash/m);
    await query(`UPDATE audit_events SET host = 'example.test' WHERE id = $1`, [id]);
    expect((await cli('audit', 'verify')).code).toBe(0);
  });

  it('drops the held month once its holds are released, and the chains still verify', async () => {
    for (const id of ['1', '2']) {
      const r = await cli('hold', 'release', id, '--reason', 'referral closed', '--by', 'DSL');
      expect(r.code, r.out).toBe(0);
    }
    expect((await cli('hold', 'release', '1', '--reason', 'again', '--by', 'DSL')).out).toContain(
      'released already',
    );
    const run = await purge();
    expect(run.code, run.out).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ deleted: 3, held: 0, dropped: [HELD_MONTH] });
    expect(await partitions()).not.toContain(HELD_MONTH);
    const verify = await cli('audit', 'verify', '--json');
    expect(verify.code, verify.out).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
  });
});
