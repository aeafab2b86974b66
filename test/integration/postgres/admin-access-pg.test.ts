/**
 * The CLI's investigation commands on PostgreSQL (store: { postgres }): `case` and `hold` record their access,
 * granted or refused, in PostgreSQL's report_access (chained by its ledger) and none in the node's SQLite
 * file; refused with SG_AUDIT_UNAVAILABLE when it cannot be recorded; `audit verify` checks the ledger
 * and names a note edited with SQL.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvent } from '../../helpers/audit-event.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, type PgCluster } from '../../helpers/pg-cluster.js';
import type { serveFiles } from '../../helpers/schoolgate.js';
import { clusterWithNode, nodeWriter } from './cli-node.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

describe.skipIf(!bin)('case and hold access recorded on PostgreSQL', { timeout: 300_000 }, () => {
  let cluster: PgCluster;
  let files: ReturnType<typeof serveFiles>;

  const query = async <T extends pg.QueryResultRow>(sql: string): Promise<T[]> => {
    const db = new pg.Client(cluster.url);
    await db.connect();
    try {
      return (await db.query<T>(sql)).rows;
    } finally {
      await db.end();
    }
  };
  const cli = async (...args: string[]) => {
    const r = await runCli([...args, ...files.args]);
    return { ...r, out: r.stdout + r.stderr };
  };
  const sqliteAccessRows = () => {
    const db = new Database(path.join(files.data, 'audit.sqlite'), { readonly: true });
    try {
      return db.prepare('SELECT count(*) FROM report_access').pluck().get() as number;
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    ({ cluster, files } = await clusterWithNode());
    const a = await nodeWriter(cluster, files, 'gate-a', path.join(files.dir, 'gate-a.key'));
    await a.record(auditEvent({ time: Date.now() - 60_000, user: 'pupil1' }));
    await a.close();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('records case and hold commands in PostgreSQL, none in SQLite', async () => {
    for (const args of [
      ['case', 'open', '2026-014', '--subject', 'pupil1', '--by', 'DSL', '--note', 'raised by form tutor'],
      ['case', 'note', '2026-014', 'spoke', 'to', 'parents', '--by', 'DSL'],
      ['hold', 'add', '--subject', 'pupil1', '--reason', 'police referral', '--by', 'DSL'],
      ['hold', 'release', '1', '--reason', 'referral closed', '--by', 'DSL'],
    ]) {
      const r = await cli(...args);
      expect(r.code, r.out).toBe(0);
    }
    const refused = await cli('hold', 'add', '--subject', 'pupil1', '--reason', 'no name given');
    expect(refused.code).not.toBe(0);
    expect(await query(`SELECT command, outcome, by_name, case_ref FROM report_access ORDER BY id`)).toEqual([
      { command: 'case open', outcome: 'granted', by_name: 'DSL', case_ref: '2026-014' },
      { command: 'case note', outcome: 'granted', by_name: 'DSL', case_ref: '2026-014' },
      { command: 'hold add', outcome: 'granted', by_name: 'DSL', case_ref: null },
      { command: 'hold release', outcome: 'granted', by_name: 'DSL', case_ref: null },
      { command: 'hold add', outcome: 'refused', by_name: null, case_ref: null },
    ]);
    expect(sqliteAccessRows()).toBe(0);
    // case show lists the case's access from PostgreSQL (and records its own read there first).
    const shown = await cli('case', 'show', '2026-014', '--by', 'Head', '--reason', 'governors review');
    expect(shown.code, shown.out).toBe(0);
    expect(shown.stdout).toContain('case note');
    expect(shown.stdout).toContain('governors review');
    expect(sqliteAccessRows()).toBe(0);
  });

  it('audit verify checks the ledger, and names a case note edited with SQL', async () => {
    const ok = await cli('audit', 'verify');
    expect(ok.code, ok.out).toBe(0);
    expect(ok.stdout).toMatch(/ok: ledger: \d+ entries verified/);
    await query(`UPDATE case_notes SET text = 'nothing to see' WHERE id = 2`);
    const broken = await cli('audit', 'verify');
    expect(broken.code).not.toBe(0);
    expect(broken.out).toContain('SG_AUDIT_TAMPERED');
    expect(broken.out).toContain('case_notes 2 was changed outside schoolgate');
  });

  it('refuses a hold with SG_AUDIT_UNAVAILABLE when PostgreSQL cannot record the access', async () => {
    await cluster.stopServer();
    try {
      const r = await cli('hold', 'add', '--subject', 'pupil1', '--reason', 'x', '--by', 'DSL');
      expect(r.code).not.toBe(0);
      expect(r.out).toContain('SG_AUDIT_UNAVAILABLE');
    } finally {
      await cluster.startServer();
    }
    expect(sqliteAccessRows()).toBe(0);
  });
});
