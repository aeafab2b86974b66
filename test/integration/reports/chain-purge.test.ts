/**
 * Tamper evidence and retention through the real CLI: editing or deleting one row makes `audit verify` fail
 * at that row; purge leaves rows held by an open case, records counts per day and re-anchors the chain.
 */
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  registerChainFunctions,
  rowHash,
  verifyChain,
  type ChainedFields,
} from '../../../src/audit/chain.js';
import { openSqliteAuditStore } from '../../../src/audit/index.js';
import { MIGRATIONS } from '../../../src/audit/migrations.js';
import { purgeAudit } from '../../../src/audit/purge.js';
import { eventToRow, INSERT_SQL } from '../../../src/audit/row-mapping.js';
import { tempDir } from '../../helpers/schoolgate.js';
import { runCli } from '../../helpers/cli.js';
import { buildFixture, ev, type Fixture } from './fixture.js';

let f: Fixture;
let c: string[];

beforeEach(async () => {
  f = await buildFixture();
  c = ['--config', f.config];
});
afterEach(() => rmSync(f.dir, { recursive: true, force: true }));

function tamper(sql: string, ...params: unknown[]): void {
  const db = new Database(f.dbPath);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

function count(sql: string, ...params: unknown[]): number {
  const db = new Database(f.dbPath, { readonly: true });
  try {
    return db
      .prepare(sql)
      .pluck()
      .get(...params) as number;
  } finally {
    db.close();
  }
}

async function verify(): Promise<{
  code: number | null;
  result: {
    ok: boolean;
    rows: number;
    firstBreak: { seq: number | null; id: string | null; reason: string } | null;
  };
}> {
  const r = await runCli(['audit', 'verify', '--json', ...c]);
  return { code: r.code, result: JSON.parse(r.stdout) as never };
}

describe('audit verify', () => {
  it('passes on an untouched log and prints the chain head', async () => {
    const r = await runCli(['audit', 'verify', ...c]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok: 28 rows verified, 0 purge gaps anchored; chain head seq 28 [0-9a-f]{64}/);
  });

  it('fails at the edited row when a decision-time column is changed', async () => {
    tamper(`UPDATE audit_events SET action = 'allow' WHERE id = ?`, f.ids['adult']);
    const seq = count(`SELECT seq FROM audit_events WHERE id = ?`, f.ids['adult']);
    const { code, result } = await verify();
    expect(code).toBe(1);
    expect(result.ok).toBe(false);
    expect(result.firstBreak).toMatchObject({ seq, id: f.ids['adult'] });
    expect(result.firstBreak!.reason).toContain('edited');
    const text = await runCli(['audit', 'verify', ...c]);
    expect(text.stderr).toContain('SG_AUDIT_TAMPERED');
    expect(text.stderr).toContain(`seq ${seq}`);
  });

  it('fails at the edited row when an outcome column is changed', async () => {
    tamper(`UPDATE audit_events SET bytes_out = 1 WHERE id = ?`, f.ids['bet1']);
    const { code, result } = await verify();
    expect(code).toBe(1);
    expect(result.firstBreak).toMatchObject({ id: f.ids['bet1'] });
    expect(result.firstBreak!.reason).toContain('outcome');
  });

  it('fails just after a deleted row', async () => {
    const seq = count(`SELECT seq FROM audit_events WHERE id = ?`, f.ids['search']);
    tamper(`DELETE FROM audit_events WHERE id = ?`, f.ids['search']);
    const { code, result } = await verify();
    expect(code).toBe(1);
    expect(result.firstBreak).toMatchObject({ seq: seq + 1 });
    expect(result.firstBreak!.reason).toContain(`row seq ${seq} is missing`);
  });

  it('fails when the newest row is deleted', async () => {
    tamper(`DELETE FROM audit_events WHERE seq = 28`);
    const tail = await verify();
    expect(tail.code).toBe(1);
    expect(tail.result.firstBreak!.reason).toContain('newest rows');
  });

  it('fails when a row is inserted around the writer', async () => {
    tamper(INSERT_SQL, eventToRow(ev({ user: 'forged', time: Date.UTC(2026, 10, 2, 9, 0) })));
    const { code, result } = await verify();
    expect(code).toBe(1);
    expect(result.firstBreak!.reason).toContain('inserted without the audit writer');
  });

  it('a report shows the failed check for the rows it covers', async () => {
    await runCli(['case', 'open', 'C-9', '--subject', 'pupil1', '--by', 'A. Head', ...c]);
    tamper(`UPDATE audit_events SET host = 'innocent.test' WHERE id = ?`, f.ids['adult']);
    const r = await runCli([
      'report',
      'user',
      'pupil1',
      '--from',
      '2026-11-02',
      '--to',
      '2026-11-06',
      '--case',
      'C-9',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Tamper check\s+FAILED at seq \d+/);
  });
});

describe('the check a report prints', () => {
  it('catches an edit whose own hash was recomputed, by the next row’s link', async () => {
    await runCli(['case', 'open', 'C-8', '--subject', 'pupil1', '--by', 'A. Head', ...c]);
    const db = new Database(f.dbPath);
    registerChainFunctions(db);
    const row = db.prepare('SELECT * FROM audit_events WHERE id = ?').get(f.ids['adult']) as ChainedFields & {
      seq: number;
    };
    const prev = db
      .prepare('SELECT chain_hash FROM audit_events WHERE seq = ?')
      .pluck()
      .get(row.seq - 1) as string;
    const forged = { ...row, host: 'innocent.test' };
    const hash = rowHash(prev, forged);
    db.prepare(
      `UPDATE audit_events SET host = 'innocent.test', chain_hash = ?,
         outcome_hash = sg_outcome_hash(?, status, bytes_in, bytes_out, duration_ms, completed_ms) WHERE seq = ?`,
    ).run(hash, hash, row.seq);
    db.close();
    const r = await runCli([
      'report',
      'user',
      'pupil1',
      '--from',
      '2026-11-02',
      '--to',
      '2026-11-06',
      '--case',
      'C-8',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      '--format',
      'json',
      ...c,
    ]);
    const v = (
      JSON.parse(r.stdout) as { verification: { ok: boolean; firstBreak: { seq: number; reason: string } } }
    ).verification;
    expect(v.ok).toBe(false);
    expect(v.firstBreak.seq).toBe(row.seq + 1);
    expect(v.firstBreak.reason).toContain('does not link');
  });
});

describe('audit purge', () => {
  it('deletes rows past retention, keeps rows held by an open case, records counts per day, re-anchors', async () => {
    expect((await runCli(['case', 'open', 'C-1', '--subject', 'pupil1', '--by', 'A. Head', ...c])).code).toBe(
      0,
    );
    const r = await runCli([
      'audit',
      'purge',
      '--by',
      'IT',
      '--reason',
      'termly retention run',
      '--json',
      ...c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { deleted: number; held: number; days: Record<string, number> };
    expect(result.deleted).toBe(5);
    expect(result.held).toBe(3);
    expect(Object.values(result.days).reduce((a, b) => a + b, 0)).toBe(5);
    for (const id of f.old['pupil3']!)
      expect(count(`SELECT count(*) FROM audit_events WHERE id = ?`, id)).toBe(0);
    for (const id of f.old['pupil1']!)
      expect(count(`SELECT count(*) FROM audit_events WHERE id = ?`, id)).toBe(1);
    // Counts per day are kept, never the rows.
    expect(count(`SELECT sum(deleted) FROM purge_days`)).toBe(5);
    expect(count(`SELECT deleted FROM purges`)).toBe(5);
    const after = await verify();
    expect(after.code).toBe(0);
    expect(after.result).toMatchObject({ ok: true, rows: 23 });

    // Closing the case ends the hold; the next purge takes the rest, and the chain still verifies.
    expect(
      (await runCli(['case', 'close', 'C-1', '--by', 'A. Head', '--outcome', 'no further action', ...c]))
        .code,
    ).toBe(0);
    const second = JSON.parse(
      (await runCli(['audit', 'purge', '--json', '--by', 'IT', '--reason', 'again', ...c])).stdout,
    ) as {
      deleted: number;
    };
    expect(second.deleted).toBe(3);
    expect((await verify()).result).toMatchObject({ ok: true, rows: 20 });

    // The writer carries on after a purge, and a deletion after the purge is still caught.
    const store = openSqliteAuditStore({ path: f.dbPath });
    await store.record(ev({ user: 'pupil4', time: Date.now() }));
    await store.close();
    expect((await verify()).result).toMatchObject({ ok: true, rows: 21 });
    tamper(`DELETE FROM audit_events WHERE seq = (SELECT min(seq) FROM audit_events)`);
    expect((await verify()).code).toBe(1);
  });

  it('refuses to report under a closed case', async () => {
    await runCli(['case', 'open', 'C-2', '--subject', 'pupil2', '--by', 'A. Head', ...c]);
    await runCli(['case', 'close', 'C-2', '--by', 'A. Head', ...c]);
    const r = await runCli([
      'report',
      'user',
      'pupil2',
      '--case',
      'C-2',
      '--by',
      'A. Head',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('case C-2 is closed');
  });
});

describe('the chain and other writers', () => {
  it('stays whole when purge runs while the proxy writer keeps committing', async () => {
    const dir = tempDir('sg-chain-purge-');
    const file = `${dir}/audit.sqlite`;
    const store = openSqliteAuditStore({ path: file, batchMaxRows: 10 });
    const longAgo = Date.now() - 500 * 86_400_000;
    for (let i = 0; i < 300; i += 30)
      await Promise.all(
        Array.from({ length: 30 }, (_, j) => store.record(ev({ user: 'pupil5', time: longAgo + i + j }))),
      );
    const db = new Database(file);
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        await Promise.all([1, 2, 3].map(() => store.record(ev({ user: 'pupil6', time: Date.now() }))));
        n += 3;
      }
      return n;
    })();
    const result = await purgeAudit(db, {
      retentionDays: 365,
      timeZone: 'Europe/London',
      osUser: 'test',
      batchRows: 25,
      pauseMs: 1,
    });
    writing = false;
    const written = await writer;
    await store.close();
    expect(result.deleted).toBe(300);
    expect(result.batches).toBeGreaterThan(10);
    expect(written).toBeGreaterThan(0);
    const v = verifyChain(db);
    db.close();
    rmSync(dir, { recursive: true, force: true });
    expect(v.firstBreak).toBeNull();
    expect(v.rows).toBe(written);
  });

  it('chains the rows of a database written before schema 3 when the writer first opens it', async () => {
    const dir = tempDir('sg-chain-migrate-');
    const file = `${dir}/audit.sqlite`;
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    for (const [i, step] of MIGRATIONS.slice(0, 2).entries()) {
      step(old);
      old.pragma(`user_version = ${i + 1}`);
    }
    const insert = old.prepare(INSERT_SQL);
    for (let i = 0; i < 50; i++) insert.run(eventToRow(ev({ time: Date.UTC(2026, 0, 5, 9, i) })));
    old.close();
    const store = openSqliteAuditStore({ path: file });
    await store.record(ev({ time: Date.now() }));
    await store.close();
    const db = new Database(file, { readonly: true });
    const v = verifyChain(db);
    expect(v).toMatchObject({ ok: true, rows: 51 });
    expect(db.prepare('SELECT count(*) FROM audit_hosts').pluck().get()).toBe(1);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
