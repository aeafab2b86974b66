/**
 * The inner loop of `audit verify` (chain.ts verifyChain): checks every row with seq in (start.seq, toSeq]
 * against the link before it, as chain.ts defines a link. Built for 10 M rows: rows come as raw arrays in
 * pages (no object per row, each page one short read so the proxy's writer carries on), and each link is
 * one hash call. A range can start anywhere: from genesis, or from a row's recorded hash when the chain is
 * checked in parallel ranges (verify-parallel.ts), whose joins the caller checks.
 */
import type Database from 'better-sqlite3';
import {
  CHAINED_COLUMNS,
  chainLink,
  LATER_CHAINED_COLUMNS,
  outcomeLink,
  type ChainBreak,
  type ChainHead,
} from './chain.js';

/** Rows per read. Big enough that the per-statement cost vanishes, small enough to be a short read. */
export const WALK_PAGE = 20_000;

const OUTCOME_COLUMNS = ['status', 'bytes_in', 'bytes_out', 'duration_ms', 'completed_ms'];

/**
 * Where each value sits in a raw row. Worked out per walk, not at load: chain.ts imports this module and
 * this one its columns, so nothing here may read them before both have loaded.
 */
function layout() {
  const n = CHAINED_COLUMNS.length;
  const chainHash = n + LATER_CHAINED_COLUMNS.length;
  return {
    n,
    chainHash,
    outcomeHash: chainHash + 1,
    outcome: chainHash + 2,
    seq: CHAINED_COLUMNS.indexOf('seq'),
    id: CHAINED_COLUMNS.indexOf('id'),
  };
}

/** Every column a link needs, in the order a raw row holds them (the SQLite and PostgreSQL walks select these). */
export function linkColumns(): string[] {
  return [...CHAINED_COLUMNS, ...LATER_CHAINED_COLUMNS, 'chain_hash', 'outcome_hash', ...OUTCOME_COLUMNS];
}

export interface WalkResult {
  /** Rows whose hashes were checked, and purge gaps crossed on an anchor. */
  rows: number;
  gaps: number;
  /** The last row checked (its computed hash), or the start when none was. */
  last: ChainHead;
  firstBreak: ChainBreak | null;
}

/** The chained values of a raw row, as rowHash (chain.ts) lists them: later columns only when one is set. */
function chainedValues(r: unknown[], n: number): unknown[] {
  const values = r.slice(0, n);
  let later: Record<string, unknown> | null = null;
  for (let i = 0; i < LATER_CHAINED_COLUMNS.length; i++) {
    const v = r[n + i];
    if (v !== null && v !== undefined) (later ??= {})[LATER_CHAINED_COLUMNS[i]!] = v;
  }
  if (later) values.push(later);
  return values;
}

/**
 * The per-row check of a walk, whatever the engine: feed raw rows (linkColumns() order) in seq order with
 * `check`; it returns the first break, or null and moves on. `gapAt(seq)` is the purge anchor before seq.
 */
export function linkChecker(start: ChainHead, gapAt: (seq: number) => string | undefined) {
  const at = layout();
  let prevSeq = start.seq;
  let prevHash = start.hash;
  let rows = 0;
  let gaps = 0;
  const broken = (r: unknown[], reason: string): ChainBreak => ({
    seq: r[at.seq] as number,
    id: r[at.id] as string,
    reason,
  });
  return {
    check(r: unknown[]): ChainBreak | null {
      const seq = r[at.seq] as number;
      let linkFrom = prevHash;
      if (seq !== prevSeq + 1) {
        const anchor = gapAt(seq);
        if (anchor === undefined)
          return broken(
            r,
            seq - prevSeq === 2
              ? `row seq ${prevSeq + 1} is missing (deleted without a purge)`
              : `rows seq ${prevSeq + 1}..${seq - 1} are missing (deleted without a purge)`,
          );
        linkFrom = anchor;
        gaps++;
      }
      const expected = chainLink(linkFrom, chainedValues(r, at.n));
      if (r[at.chainHash] !== expected)
        return broken(r, 'the row does not match its hash (a decision-time column was edited)');
      if (
        r[at.outcomeHash] !== outcomeLink(expected, r.slice(at.outcome, at.outcome + OUTCOME_COLUMNS.length))
      )
        return broken(
          r,
          'the outcome columns do not match their hash (status, bytes or duration were edited)',
        );
      prevSeq = seq;
      prevHash = expected;
      rows++;
      return null;
    },
    result(brk: ChainBreak | null): WalkResult {
      return { rows, gaps, last: { seq: prevSeq, hash: prevHash }, firstBreak: brk };
    },
  };
}

export function walkChain(
  db: Database.Database,
  start: ChainHead,
  toSeq: number,
  onPage?: (rows: number) => void,
): WalkResult {
  const page = db
    .prepare(
      `SELECT ${linkColumns().join(', ')} FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
    )
    .raw();
  const gapAt = db.prepare(`SELECT prev_hash FROM chain_gaps WHERE seq = ?`).pluck();
  const checker = linkChecker(start, (seq) => gapAt.get(seq) as string | undefined);
  let from = start.seq;
  for (;;) {
    // iterate, not all(): a row is garbage as soon as it is checked, so it dies young (a materialised page
    // of 20k rows survived into the old generation and garbage collection was a third of the walk).
    let inPage = 0;
    for (const r of page.iterate(from, toSeq, WALK_PAGE) as IterableIterator<unknown[]>) {
      inPage++;
      const brk = checker.check(r);
      if (brk) return checker.result(brk);
    }
    from = checker.result(null).last.seq;
    onPage?.(checker.result(null).rows);
    if (inPage < WALK_PAGE) break;
  }
  return checker.result(null);
}
