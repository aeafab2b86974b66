/**
 * Tamper evidence an investigation can stand on (issue 10, item 3): the four ways a determined editor with
 * plain sqlite3 got past `audit verify` before — a forged purge gap, an appended row, a rewritten head, an
 * edited case note or access row — and a forged checkpoint, each caught with the record named; verify
 * leaves the file's bytes unchanged; a filed checkpoint is checked against the database.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatHead,
  outcomeHash,
  parseHead,
  READ_HEAD_SQL,
  rowHash,
  type ChainedFields,
  type OutcomeFields,
} from '../../../src/audit/chain.js';
import { addCaseNote, openCase } from '../../../src/audit/cases.js';
import { checkpointFilePath, readCheckpoints } from '../../../src/audit/checkpoints.js';
import { openWritableDatabase } from '../../../src/audit/open-database.js';
import { purgeAudit } from '../../../src/audit/purge.js';
import { recordAccess } from '../../../src/audit/report-access.js';
import { exportCheckpoint, verifyAudit } from '../../../src/audit/verify-all.js';
import { fillAuditDatabase, sha256Of } from './damage.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
let file: string;

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  file = path.join(dir, 'audit.sqlite');
  await fillAuditDatabase(file, 20, Date.now() - 400 * 86_400_000);
  await fillAuditDatabase(file, 10); // a second start and clean stop: checkpoints 'open' … 'close' twice
  const db = openWritableDatabase(file, { busyTimeoutMs: 1000 });
  const actor = { by: 'DSL Jones', osUser: 'dsl', now: Date.now() };
  openCase(db, { ...actor, ref: '2026-014', subjects: [{ kind: 'user', value: 'pupil9' }] });
  addCaseNote(db, { ...actor, ref: '2026-014', text: 'Spoke to pupil1 with parent present.' });
  recordAccess(db, {
    timeMs: Date.now(),
    by: 'DSL Jones',
    osUser: 'dsl',
    command: 'report user',
    outcome: 'granted',
  });
  db.close();
  // What a running proxy does within a minute: sign the ledger's new entries.
  await fillAuditDatabase(file, 1);
});
afterEach(() => cleanup());

/** A plain sqlite3 connection: none of schoolgate's functions registered. */
function plain(): Database.Database {
  return new Database(file);
}

function dropLedgerTriggers(db: Database.Database): void {
  const names = db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger_%'`)
    .pluck()
    .all() as string[];
  for (const n of names) db.exec(`DROP TRIGGER ${n}`);
}

describe('audit verify: the record as written', () => {
  it('passes, with every checkpoint signature checked and nothing unsigned after the clean stop', () => {
    const r = verifyAudit(file);
    expect(r.message).toBeNull();
    expect(r).toMatchObject({ ok: true, rows: 31 });
    expect(r.ledger!.entries).toBeGreaterThanOrEqual(4); // case, subject, note, access
    expect(r.checkpoints.checked).toBeGreaterThanOrEqual(6);
    expect(r.checkpoints.latest).toMatchObject({ reason: 'close', seq: 31 });
    expect(r.checkpoints.unsignedRows).toBe(0);
  });

  it('leaves the database bytes unchanged', () => {
    const files = [file, checkpointFilePath(file)];
    const before = files.map(sha256Of);
    verifyAudit(file);
    verifyAudit(file);
    expect(files.map(sha256Of)).toEqual(before);
  });

  it('passes after a real purge: the purge, its gaps and its checkpoint are on the record', async () => {
    const db = openWritableDatabase(file, { busyTimeoutMs: 1000 });
    const purged = await purgeAudit(db, {
      retentionDays: 365,
      timeZone: 'UTC',
      osUser: 'tech',
      by: 'IT',
      pauseMs: 0,
    });
    db.close();
    expect(purged.deleted).toBe(20);
    const r = verifyAudit(file);
    expect(r.message).toBeNull();
    expect(r.checkpoints.latest).toMatchObject({ reason: 'purge' });
  });
});

describe('audit verify: a determined editor with sqlite3', () => {
  it('cannot edit a case note without the ledger function, and is named when the triggers are dropped', () => {
    const db = plain();
    expect(() => db.prepare(`UPDATE case_notes SET text = 'nothing happened'`).run()).toThrow(
      /sg_ledger_hash/,
    );
    dropLedgerTriggers(db);
    db.prepare(`UPDATE case_notes SET text = 'nothing happened'`).run();
    db.close();
    const r = verifyAudit(file);
    expect(r.ok).toBe(false);
    expect(r.firstBreak).toMatchObject({ where: 'ledger', id: expect.stringMatching(/^case_notes /) });
    expect(r.message).toContain('edited by hand');
  });

  it('names a deleted access record', () => {
    const db = plain();
    dropLedgerTriggers(db);
    db.prepare(`DELETE FROM report_access`).run();
    db.close();
    const r = verifyAudit(file);
    expect(r.firstBreak).toMatchObject({ where: 'ledger', id: expect.stringMatching(/^report_access /) });
    expect(r.message).toContain('deleted by hand');
  });

  it('(a) names a purge gap forged to cover a deleted row', () => {
    const db = plain();
    dropLedgerTriggers(db);
    // The anchor a real purge would leave: the deleted row's own hash, so the chain walks on across the gap.
    const victim = db.prepare(`SELECT chain_hash FROM audit_events WHERE seq = 4`).pluck().get() as string;
    db.prepare(`DELETE FROM audit_events WHERE seq = 4`).run();
    db.prepare(`INSERT INTO chain_gaps (seq, prev_hash, deleted, purge_id) VALUES (5, ?, 1, 999)`).run(
      victim,
    );
    db.close();
    const r = verifyAudit(file);
    expect(r.ok).toBe(false);
    expect(r.firstBreak).toMatchObject({ where: 'ledger', id: expect.stringMatching(/^chain_gaps /) });
  });

  it('(b) names a row appended after the last clean stop, with its hash and the head made to match', () => {
    const db = plain();
    const head = parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string);
    const last = db.prepare(`SELECT * FROM audit_events WHERE seq = ?`).get(head.seq) as ChainedFields &
      OutcomeFields;
    const forged = {
      ...last,
      seq: head.seq + 1,
      id: '01900000-0000-7000-8000-000000000001',
      username: 'k.jones',
    };
    const hash = rowHash(head.hash, forged);
    const cols = Object.keys(last).filter((c) => c !== 'chain_hash' && c !== 'outcome_hash');
    db.prepare(
      `INSERT INTO audit_events (${cols.join(', ')}, chain_hash, outcome_hash)
       VALUES (${cols.map(() => '?').join(', ')}, ?, ?)`,
    ).run(
      ...cols.map((c) => (forged as Record<string, unknown>)[c] ?? null),
      hash,
      outcomeHash(hash, forged),
    );
    db.prepare(`UPDATE meta SET value = ? WHERE key = 'chain_head'`).run(
      formatHead({ seq: head.seq + 1, hash }),
    );
    db.close();
    const r = verifyAudit(file);
    expect(r.ok).toBe(false);
    expect(r.firstBreak).toMatchObject({ where: 'checkpoints', seq: 32 });
    expect(r.message).toContain("after the proxy's last clean stop");
  });

  it('(c) names the newest rows deleted with the head rewritten to the row before them', () => {
    const db = plain();
    const prev = db.prepare(`SELECT seq, chain_hash FROM audit_events WHERE seq = 29`).get() as {
      seq: number;
      chain_hash: string;
    };
    db.prepare(`DELETE FROM audit_events WHERE seq > 29`).run();
    db.prepare(`UPDATE meta SET value = ? WHERE key = 'chain_head'`).run(
      formatHead({ seq: 29, hash: prev.chain_hash }),
    );
    db.close();
    const r = verifyAudit(file);
    expect(r.ok).toBe(false);
    expect(r.firstBreak).toMatchObject({ where: 'checkpoints' });
    expect(r.message).toContain('newest rows were deleted');
  });

  it('names a checkpoint line that was forged or edited', () => {
    const cpFile = checkpointFilePath(file);
    const lines = readFileSync(cpFile, 'utf8').trimEnd().split('\n');
    const last = JSON.parse(lines.at(-1)!) as { seq: number };
    lines[lines.length - 1] = JSON.stringify({ ...last, seq: last.seq - 1 });
    writeFileSync(cpFile, `${lines.join('\n')}\n`);
    const r = verifyAudit(file);
    expect(r.firstBreak).toMatchObject({ where: 'checkpoints' });
    expect(r.message).toContain('signature that does not verify');
  });

  it('ignores a last checkpoint line cut short by a crash, but not one in the middle', () => {
    const cpFile = checkpointFilePath(file);
    appendFileSync(cpFile, '{"v":1,"database_');
    expect(verifyAudit(file).ok).toBe(true);
    appendFileSync(cpFile, '\n');
    expect(readCheckpoints(cpFile).at(-1)).toMatchObject({ invalid: 'not JSON' });
    expect(verifyAudit(file).message).toContain('not JSON');
  });
});

describe('a filed checkpoint (audit checkpoint export, then verify --against)', () => {
  it('matches the record it was exported from, and fails once history before it is rewritten', () => {
    const filed = path.join(dir, 'filed.txt');
    writeFileSync(filed, `${exportCheckpoint(file).line}\n`);
    expect(verifyAudit(file, { against: filed }).message).toBeNull();

    // Rewrite the whole chain from row 2 on (each hash recomputed), the head, and the checkpoint file: only
    // the filed checkpoint remembers the old history.
    const db = plain();
    const rows = db.prepare(`SELECT * FROM audit_events ORDER BY seq`).all() as (ChainedFields &
      OutcomeFields & { chain_hash: string })[];
    let prev = rows[0]!.chain_hash;
    for (const row of rows.slice(1)) {
      const edited = row.seq === 2 ? { ...row, username: 'someone-else' } : row;
      prev = rowHash(prev, edited);
      db.prepare(`UPDATE audit_events SET username = ?, chain_hash = ?, outcome_hash = ? WHERE seq = ?`).run(
        edited.username,
        prev,
        outcomeHash(prev, edited),
        row.seq,
      );
    }
    db.prepare(`UPDATE meta SET value = ? WHERE key = 'chain_head'`).run(
      formatHead({ seq: rows.length, hash: prev }),
    );
    db.close();
    writeFileSync(checkpointFilePath(file), '');
    expect(verifyAudit(file).ok).toBe(true); // consistent in itself: only paper can tell
    const r = verifyAudit(file, { against: filed });
    expect(r.ok).toBe(false);
    expect(r.firstBreak).toMatchObject({ where: 'filed checkpoint' });
    expect(r.message).toContain('differs from the filed checkpoint');
  });
});
