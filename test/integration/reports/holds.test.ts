/**
 * Retention that an investigation can rely on (issue 10, item 4), through the real CLI: a purge is gated
 * (a named person, a reason, a retention no shorter than the configured minimum) and listed; a legal hold
 * keeps a person's records after their case closes; a closed case can be reopened with a reason.
 */
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { buildFixture, type Fixture } from './fixture.js';

let f: Fixture;
let c: string[];

beforeEach(async () => {
  f = await buildFixture();
  c = ['--config', f.config];
});
afterEach(() => rmSync(f.dir, { recursive: true, force: true }));

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

const cli = async (...args: string[]) => {
  const r = await runCli([...args, ...c]);
  return { ...r, out: r.stdout + r.stderr };
};

describe('audit purge is gated and on record', () => {
  it('refuses without a reason or under the minimum retention, records the refusal, deletes nothing', async () => {
    const rows = count(`SELECT count(*) FROM audit_events`);
    const noReason = await cli('audit', 'purge', '--by', 'IT');
    expect(noReason.code).not.toBe(0);
    expect(noReason.out).toContain('SG_PURGE_REFUSED');
    const noBy = await cli('audit', 'purge', '--reason', 'tidy up');
    expect(noBy.code).not.toBe(0);
    expect(noBy.out).toContain('--by');
    const tooShort = await cli(
      'audit',
      'purge',
      '--by',
      'IT',
      '--reason',
      'tidy up',
      '--retention-days',
      '7',
    );
    expect(tooShort.code).not.toBe(0);
    expect(tooShort.out).toContain('shorter than reports.minimumRetentionDays (30)');
    expect(count(`SELECT count(*) FROM audit_events`)).toBe(rows);
    expect(count(`SELECT count(*) FROM purges`)).toBe(0);
    expect(
      count(`SELECT count(*) FROM report_access WHERE command = 'audit purge' AND outcome = 'refused'`),
    ).toBe(3);
  });

  it('lists every purge with who ran it and why', async () => {
    expect((await cli('audit', 'purge', '--by', 'IT Tech', '--reason', 'termly retention run')).code).toBe(0);
    const list = await cli('audit', 'purges', '--by', 'A. Head');
    expect(list.code, list.out).toBe(0);
    expect(list.stdout).toMatch(
      /purge 1 .* by IT Tech .*retention 365 days\s+deleted 8, held 0\s+reason: termly retention run/,
    );
  });
});

describe('legal holds', () => {
  it('keep a person’s records after their case closes, until released; the chain verifies throughout', async () => {
    expect((await cli('case', 'open', 'C-1', '--subject', 'pupil1', '--by', 'A. Head')).code).toBe(0);
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
    expect((await cli('case', 'close', 'C-1', '--by', 'A. Head', '--outcome', 'referred')).code).toBe(0);

    const first = JSON.parse(
      (await cli('audit', 'purge', '--by', 'IT', '--reason', 'retention', '--json')).stdout,
    ) as {
      deleted: number;
      held: number;
    };
    expect(first).toMatchObject({ deleted: 5, held: 3 });
    for (const id of f.old['pupil1']!)
      expect(count(`SELECT count(*) FROM audit_events WHERE id = ?`, id)).toBe(1);

    expect((await cli('hold', 'release', '1', '--by', 'DSL')).out).toContain('reason');
    const released = await cli(
      'hold',
      'release',
      '1',
      '--reason',
      'police closed the referral',
      '--by',
      'DSL',
    );
    expect(released.code, released.out).toBe(0);
    const list = await cli('hold', 'list', '--all', '--by', 'DSL', '--reason', 'pastoral concern');
    expect(list.stdout).toMatch(
      /placed .* by DSL: police referral 14\/11\treleased .* by DSL: police closed the referral/,
    );

    const second = JSON.parse(
      (await cli('audit', 'purge', '--by', 'IT', '--reason', 'retention', '--json')).stdout,
    ) as {
      deleted: number;
    };
    expect(second.deleted).toBe(3);
    const verify = await cli('audit', 'verify', '--json');
    expect(verify.code, verify.out).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, ledger: { ok: true } });
  });

  it('refuse a subject nobody knows, and a hold without a reason', async () => {
    const unknown = await cli('hold', 'add', '--subject', 'no.such.pupil', '--reason', 'x', '--by', 'DSL');
    expect(unknown.code).not.toBe(0);
    expect(unknown.out).toContain('no.such.pupil');
    const noReason = await cli('hold', 'add', '--subject', 'pupil1', '--by', 'DSL');
    expect(noReason.code).not.toBe(0);
    expect(count(`SELECT count(*) FROM holds`)).toBe(0);
  });
});

describe('case reopen', () => {
  it('reopens a closed case with a reason, keeping the earlier outcome in a note, and holds again', async () => {
    expect((await cli('case', 'open', 'C-2', '--subject', 'pupil1', '--by', 'A. Head')).code).toBe(0);
    expect(
      (await cli('case', 'close', 'C-2', '--by', 'A. Head', '--outcome', 'no further action')).code,
    ).toBe(0);
    expect((await cli('case', 'reopen', 'C-2', '--by', 'A. Head')).code).not.toBe(0);
    const reopened = await cli('case', 'reopen', 'C-2', '--by', 'A. Head', '--reason', 'new evidence');
    expect(reopened.code, reopened.out).toBe(0);
    const show = await cli('case', 'show', 'C-2', '--by', 'A. Head', '--reason', 'pastoral concern');
    expect(show.stdout).toContain('Reopened: new evidence');
    expect(
      count(
        `SELECT count(*) FROM case_notes WHERE ref = 'C-2' AND text LIKE 'Reopened: new evidence.%outcome: no further action%'`,
      ),
    ).toBe(1);
    const purge = JSON.parse(
      (await cli('audit', 'purge', '--by', 'IT', '--reason', 'retention', '--json')).stdout,
    ) as {
      held: number;
    };
    expect(purge.held).toBe(3);
  });
});
