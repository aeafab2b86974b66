/**
 * `audit verify` in parallel ranges (verify-parallel.ts) finds exactly what the one-thread walk finds: for
 * each way of damaging the chain, including at the rows where the ranges are cut, both report the same
 * first break and the same counts. Real worker threads (from dist/: `npm run build` first), a real file.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH, verifyChain } from '../../../src/audit/chain.js';
import { verifyAudit } from '../../../src/audit/verify-all.js';
import { joinRanges, parallelWalker, splitRanges } from '../../../src/audit/verify-parallel.js';
import { fillAuditDatabase, sha256Of } from './damage.js';
import { editedCopy, tempDir } from './helpers.js';

const ROWS = 120;
const THREADS = 3;
let dir: string;
let cleanup: () => void;
let clean: string;
/** The seqs where three ranges are cut (rows 40 and 80 when nothing is missing). */
let cuts: number[];

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  clean = path.join(dir, 'clean.sqlite');
  await fillAuditDatabase(clean, ROWS);
  const db = new Database(clean, { readonly: true });
  cuts = splitRanges(db, ROWS, THREADS)
    .slice(1)
    .map((r) => r.lo);
  db.close();
});
afterAll(() => cleanup());

/** A plain sqlite3 connection (none of schoolgate's functions), as a determined editor has. */
const damaged = (name: string, sql: (cut: number[]) => string): string => editedCopy(clean, name, sql(cuts));

function bothWays(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    const walker = parallelWalker(file, db, { threads: THREADS, minRowsPerThread: 1 });
    expect(walker, 'worker script not built: run `npm run build` first').toBeDefined();
    return { one: verifyChain(db), parallel: verifyChain(db, undefined, walker) };
  } finally {
    db.close();
  }
}

describe('parallel ranges', () => {
  it('cut the chain at rows that exist, into the ranges asked for', () => {
    expect(cuts).toEqual([40, 80]);
  });

  it.each<[string, (cut: number[]) => string, number | null]>([
    ['nothing changed', () => 'SELECT 1', null],
    [
      'a decision-time column edited in the first range',
      () => `UPDATE audit_events SET host = 'x.example' WHERE seq = 7`,
      7,
    ],
    [
      'an outcome column edited in the last range',
      () => `UPDATE audit_events SET status = 200 WHERE seq = 101`,
      101,
    ],
    [
      'the row where a range starts edited',
      (c) => `UPDATE audit_events SET username = 'nobody' WHERE seq = ${c[0]}`,
      40,
    ],
    [
      'the hash of the row where a range starts rewritten',
      (c) => `UPDATE audit_events SET chain_hash = '${'1'.repeat(64)}' WHERE seq = ${c[1]}`,
      80,
    ],
    ['the row where a range starts deleted', (c) => `DELETE FROM audit_events WHERE seq = ${c[0]}`, 41],
    ['the row after a cut deleted', (c) => `DELETE FROM audit_events WHERE seq = ${c[1]! + 1}`, 82],
    [
      'rows across a cut deleted',
      (c) => `DELETE FROM audit_events WHERE seq BETWEEN ${c[0]! - 2} AND ${c[0]! + 2}`,
      43,
    ],
    ['the newest rows deleted', () => `DELETE FROM audit_events WHERE seq > ${ROWS - 3}`, ROWS - 2],
    ['a row unchained', () => `UPDATE audit_events SET seq = NULL WHERE seq = ${ROWS}`, ROWS],
    // Rows the fast read (SQLite's JSON) cannot decide: the exact check does, with the same verdict.
    ['a later chained column set', () => `UPDATE audit_events SET claimed_user = 'x' WHERE seq = 60`, 60],
    ['a value made a BLOB', () => `UPDATE audit_events SET host = CAST(host AS BLOB) WHERE seq = 50`, 50],
  ])('%s: the same verdict both ways', (name, sql, breakSeq) => {
    const { one, parallel } = bothWays(damaged(name.replaceAll(' ', '-'), sql));
    expect(parallel).toEqual(one);
    expect(one.ok).toBe(breakSeq === null);
    if (breakSeq !== null) expect(one.firstBreak?.seq ?? ROWS).toBe(breakSeq);
  });

  it('leave the file unchanged, through verifyAudit with workers', () => {
    const file = damaged('bytes', () => 'SELECT 1');
    const before = sha256Of(file);
    const r = verifyAudit(file, { threads: THREADS, minRowsPerThread: 1 });
    expect(r.ok).toBe(true);
    expect(r.rows).toBe(ROWS);
    expect(sha256Of(file)).toBe(before);
  });
});

describe('joinRanges', () => {
  const range = (lo: number, hash: string, hi: number) => ({ lo, hash, hi });
  const walked = (rows: number, seq: number, hash: string) => ({
    rows,
    gaps: 0,
    last: { seq, hash },
    firstBreak: null,
  });
  it('adds up ranges that join', () => {
    const r = joinRanges(
      [range(0, GENESIS_HASH, 10), range(10, 'a', 20)],
      [walked(10, 10, 'a'), walked(10, 20, 'b')],
    );
    expect(r).toEqual({ rows: 20, gaps: 0, last: { seq: 20, hash: 'b' }, firstBreak: null });
  });
  it.each([
    ['a different hash', 10, 'z'],
    ['an earlier row', 9, 'a'],
  ])('breaks where a range ends at %s than the next one starts from', (_name, seq, hash) => {
    const r = joinRanges(
      [range(0, GENESIS_HASH, 10), range(10, 'a', 20)],
      [walked(10, seq, hash), walked(10, 20, 'b')],
    );
    expect(r.firstBreak?.seq).toBe(10);
    expect(r.firstBreak?.reason).toContain('does not join up');
    expect(r.rows).toBe(10);
  });
});
