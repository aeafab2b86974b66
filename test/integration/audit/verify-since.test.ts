/**
 * `audit verify --since-verified` (verified-position.ts): after a full check it walks only the new rows, from
 * a position signed with the checkpoint key. What it still catches before that position (a rewrite of old
 * rows that kept the chain valid, through the row at the position) and what it does not (a plain edit of an
 * old row: the full walk's job) are both pinned here; damage after the position is caught like a full walk.
 * Real store, real files, plain sqlite3 for the damage.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatHead,
  outcomeHash,
  rowHash,
  type ChainedFields,
  type OutcomeFields,
} from '../../../src/audit/chain.js';
import { checkpointFilePath } from '../../../src/audit/checkpoints.js';
import { lastVerifyPath, readLastVerify } from '../../../src/audit/last-verify.js';
import { verifyAudit } from '../../../src/audit/verify-all.js';
import { fillAuditDatabase } from './damage.js';
import { tempDir } from './helpers.js';

const OLD = 40;
const NEW = 12;
/** A database of OLD rows checked in full (which signs the position), then NEW rows written after it. */
let file: string;
let cleanup: () => void;
beforeEach(async () => {
  const made = tempDir();
  cleanup = made.cleanup;
  file = path.join(made.dir, 'audit.sqlite');
  await fillAuditDatabase(file, OLD);
  expect(verifyAudit(file, { threads: 1 }).ok).toBe(true); // the full walk that records the position
  await fillAuditDatabase(file, NEW);
});
afterEach(() => cleanup());

function edit(sql: string): void {
  const db = new Database(file);
  db.exec(sql);
  db.close();
}

const since = (threads = 1) => verifyAudit(file, { sinceVerified: true, threads, minRowsPerThread: 1 });

/** Rewrites every row from `fromSeq` on with its hash recomputed (username changed there), and the head. */
function rewriteChainFrom(fromSeq: number): void {
  const db = new Database(file);
  const rows = db.prepare(`SELECT * FROM audit_events ORDER BY seq`).all() as (ChainedFields &
    OutcomeFields & { chain_hash: string })[];
  let prev = rows[fromSeq - 2]!.chain_hash;
  const set = db.prepare(
    `UPDATE audit_events SET username = ?, chain_hash = ?, outcome_hash = ? WHERE seq = ?`,
  );
  for (const row of rows.slice(fromSeq - 1)) {
    const edited = row.seq === fromSeq ? { ...row, username: 'someone-else' } : row;
    prev = rowHash(prev, edited);
    set.run(edited.username, prev, outcomeHash(prev, edited), row.seq);
  }
  db.prepare(`UPDATE meta SET value = ? WHERE key = 'chain_head'`).run(
    formatHead({ seq: rows.length, hash: prev }),
  );
  db.close();
}

describe('audit verify --since-verified', () => {
  it('walks only the rows after the position the full check signed', () => {
    const recorded = readLastVerify(file)?.verified;
    expect(recorded?.seq).toBe(OLD);
    const r = since();
    expect(r.ok).toBe(true);
    expect(r.rows).toBe(NEW);
    expect(r.since?.seq).toBe(OLD);
    expect(r.notes.join('\n')).toContain('walked only the rows after the verified position (seq 40)');
    // The position moves on; the last full check's result is what reports keep quoting.
    const after = readLastVerify(file);
    expect(after?.verified?.seq).toBe(OLD + NEW);
    expect(after?.rows).toBe(OLD);
    expect(after?.sinceVerified).toMatchObject({ rows: NEW, fromSeq: OLD });
    expect(since().rows).toBe(0);
  });

  it('walks the new rows in parallel ranges from the position, with the same verdict', () => {
    edit(`UPDATE audit_events SET host = 'x.example' WHERE seq = ${OLD + 7}`);
    const recorded = readFileSync(lastVerifyPath(file), 'utf8');
    const one = since(1);
    writeFileSync(lastVerifyPath(file), recorded); // the break dropped the position: put it back
    const parallel = since(3);
    expect(parallel.chain).toEqual(one.chain);
    expect(one.firstBreak).toMatchObject({ where: 'audit rows', seq: OLD + 7 });
    expect(one.rows).toBe(6); // from the position, not from genesis
  });

  it.each<[string, string]>([
    ['a decision-time column edited', `UPDATE audit_events SET path = '/else' WHERE seq = ${OLD + 3}`],
    ['an outcome column edited', `UPDATE audit_events SET status = 200 WHERE seq = ${OLD + 5}`],
    ['a row deleted', `DELETE FROM audit_events WHERE seq = ${OLD + 2}`],
  ])('catches %s after the position, as the full walk does', (_name, sql) => {
    edit(sql);
    const inc = since();
    const full = verifyAudit(file, { threads: 1 });
    expect(inc.ok).toBe(false);
    expect(inc.firstBreak).toEqual(full.firstBreak);
    // A break drops the position: the next incremental check walks from genesis.
    expect(readLastVerify(file)?.verified).toBeUndefined();
    expect(since().notes.join('\n')).toContain('walked the whole chain: no verified position');
  });

  it('names the row at the position when earlier history was rewritten through it', () => {
    const before = readFileSync(lastVerifyPath(file), 'utf8');
    rewriteChainFrom(5);
    const withCheckpoints = since();
    expect(withCheckpoints.ok).toBe(false);
    expect(withCheckpoints.message).toContain(`audit rows (seq ${OLD}`);
    expect(withCheckpoints.message).toContain('differs from what was verified (history was rewritten)');
    // The checkpoint signatures say the same on their own (the full walk finds the chain consistent).
    writeFileSync(lastVerifyPath(file), before);
    const full = verifyAudit(file, { threads: 1 });
    expect(full.firstBreak).toMatchObject({ where: 'checkpoints' });
    expect(full.message).toContain('history was rewritten');
    // With the checkpoint file emptied as well, the signed position alone still catches it.
    writeFileSync(lastVerifyPath(file), before);
    writeFileSync(checkpointFilePath(file), '');
    expect(since().message).toContain('differs from what was verified');
  });

  it('does not re-walk old rows: a plain edit before the position is left to the full walk', () => {
    edit(`UPDATE audit_events SET host = 'x.example' WHERE seq = 3`);
    const inc = since();
    expect(inc.ok).toBe(true); // the documented limit
    const full = verifyAudit(file, { threads: 1 });
    expect(full.ok).toBe(false);
    expect(full.firstBreak).toMatchObject({ where: 'audit rows', seq: 3 });
  });

  it('does not trust a position edited in the file (moved past rows, or unsigned)', () => {
    edit(`UPDATE audit_events SET host = 'x.example' WHERE seq = ${OLD + 4}`);
    const record = JSON.parse(readFileSync(lastVerifyPath(file), 'utf8'));
    const db = new Database(file, { readonly: true });
    const head = db.prepare(`SELECT seq, chain_hash FROM audit_events ORDER BY seq DESC LIMIT 1`).get() as {
      seq: number;
      chain_hash: string;
    };
    db.close();
    record.verified = { ...record.verified, seq: head.seq, hash: head.chain_hash };
    writeFileSync(lastVerifyPath(file), JSON.stringify(record));
    const r = since();
    expect(r.notes.join('\n')).toContain('not signed by this key');
    expect(r.firstBreak).toMatchObject({ where: 'audit rows', seq: OLD + 4 });
  });
});
