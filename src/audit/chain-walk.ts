/**
 * The inner loop of `audit verify` (chain.ts verifyChain): checks every row with seq in (start.seq, toSeq]
 * against the link before it, as chain.ts defines a link. Built for 10 M rows: rows come as raw arrays in
 * pages (no object per row, each page one short read so the proxy's writer carries on), and each link is
 * one hash call. A range can start anywhere: from genesis, or from a row's recorded hash when the chain is
 * checked in parallel ranges (verify-parallel.ts), whose joins the caller checks.
 */
import { hash } from 'node:crypto';
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
  const range = `FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`;
  return {
    n,
    chainHash,
    outcomeHash: chainHash + 1,
    outcome: chainHash + 2,
    seq: CHAINED_COLUMNS.indexOf('seq'),
    id: CHAINED_COLUMNS.indexOf('id'),
    /** Every column a link needs, in the order above: the exact check, one row or a page at a time. */
    columns: linkColumns().join(', '),
    range,
    /**
     * The fast read: SQLite writes each link's JSON itself (json_array quotes text exactly as JSON.stringify
     * does), so a row crosses into JS as 7 values instead of 31. Only a hint: a row whose hash does not match
     * it, or that has a later column set, is checked again the exact way before anything is decided.
     */
    fastSql: `SELECT seq, id, json_array(${CHAINED_COLUMNS.join(', ')}), chain_hash,
      json_array(${OUTCOME_COLUMNS.join(', ')}), outcome_hash,
      ${LATER_CHAINED_COLUMNS.map((c) => `${c} IS NOT NULL`).join(' OR ')} ${range}`,
  };
}

/** Every column a link needs, in the order a raw row holds them (the SQLite and PostgreSQL walks select these). */
export function linkColumns(): string[] {
  return [...CHAINED_COLUMNS, ...LATER_CHAINED_COLUMNS, 'chain_hash', 'outcome_hash', ...OUTCOME_COLUMNS];
}

/** The fast read's columns: seq, id, chained JSON, chain_hash, outcome JSON, outcome_hash, later-set flag. */
const F = { seq: 0, id: 1, json: 2, hash: 3, outJson: 4, outHash: 5, later: 6 } as const;

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

type Layout = ReturnType<typeof layout>;

/** The exact check of one raw row (all its columns) against the hash it links from: its hash, or why not. */
function checkRaw(r: unknown[], linkFrom: string, at: Layout): string | { reason: string } {
  const expected = chainLink(linkFrom, chainedValues(r, at.n));
  if (r[at.chainHash] !== expected)
    return { reason: 'the row does not match its hash (a decision-time column was edited)' };
  if (r[at.outcomeHash] !== outcomeLink(expected, r.slice(at.outcome, at.outcome + OUTCOME_COLUMNS.length)))
    return { reason: 'the outcome columns do not match their hash (status, bytes or duration were edited)' };
  return expected;
}

/** The link of one row as the fast read gave it, or null when only the exact check may decide. */
function checkFast(f: unknown[], linkFrom: string): string | null {
  if (f[F.later]) return null;
  const expected = hash('sha256', `${linkFrom}\n${f[F.json] as string}`, 'hex');
  if (f[F.hash] !== expected) return null;
  if (f[F.outHash] !== hash('sha256', `${expected}\n${f[F.outJson] as string}`, 'hex')) return null;
  return expected;
}

/**
 * The per-row check of a walk, whatever the engine: rows in seq order, each `step`ped with an optional fast
 * check (SQLite's json_array read) and its exact raw row (linkColumns() order), fetched only when the fast
 * check cannot decide; `check(r)` is the exact check alone (PostgreSQL). `gapAt(seq)` is the purge anchor
 * before seq. Returns the first break, or null and moves on.
 */
export function linkChecker(start: ChainHead, gapAt: (seq: number) => string | undefined) {
  const at = layout();
  let prevSeq = start.seq;
  let prevHash = start.hash;
  let rows = 0;
  let gaps = 0;
  const step = (
    seq: number,
    id: string,
    fast: (linkFrom: string) => string | null,
    exact: () => unknown[],
  ): ChainBreak | null => {
    let linkFrom = prevHash;
    if (seq !== prevSeq + 1) {
      const anchor = gapAt(seq);
      if (anchor === undefined)
        return {
          seq,
          id,
          reason:
            seq - prevSeq === 2
              ? `row seq ${prevSeq + 1} is missing (deleted without a purge)`
              : `rows seq ${prevSeq + 1}..${seq - 1} are missing (deleted without a purge)`,
        };
      linkFrom = anchor;
      gaps++;
    }
    const link = fast(linkFrom) ?? checkRaw(exact(), linkFrom, at);
    if (typeof link !== 'string') return { seq, id, reason: link.reason };
    prevSeq = seq;
    prevHash = link;
    rows++;
    return null;
  };
  return {
    step,
    check: (r: unknown[]): ChainBreak | null =>
      step(
        r[at.seq] as number,
        r[at.id] as string,
        () => null,
        () => r,
      ),
    get last(): ChainHead {
      return { seq: prevSeq, hash: prevHash };
    },
    result: (brk: ChainBreak | null): WalkResult => ({
      rows,
      gaps,
      last: { seq: prevSeq, hash: prevHash },
      firstBreak: brk,
    }),
  };
}

export function walkChain(
  db: Database.Database,
  start: ChainHead,
  toSeq: number,
  onPage?: (rows: number) => void,
): WalkResult {
  const at = layout();
  const exactPage = db.prepare(`SELECT ${at.columns} ${at.range}`).raw();
  const exactRow = db.prepare(`SELECT ${at.columns} FROM audit_events WHERE seq = ?`).raw();
  const fastPage = db.prepare(at.fastSql).raw();
  const gapAt = db.prepare(`SELECT prev_hash FROM chain_gaps WHERE seq = ?`).pluck();
  const checker = linkChecker(start, (seq) => gapAt.get(seq) as string | undefined);
  for (;;) {
    // iterate, not all(): a row is garbage as soon as it is checked, so it dies young (a materialised page
    // of 20k rows survived into the old generation and garbage collection was a third of the walk).
    let inPage = 0;
    try {
      for (const f of fastPage.iterate(checker.last.seq, toSeq, WALK_PAGE) as IterableIterator<unknown[]>) {
        inPage++;
        const seq = f[F.seq] as number;
        const brk = checker.step(
          seq,
          f[F.id] as string,
          (linkFrom) => checkFast(f, linkFrom),
          () => exactRow.get(seq) as unknown[],
        );
        if (brk) return checker.result(brk);
      }
    } catch (err) {
      // A value SQLite's JSON cannot hold (a BLOB put in by hand): the rest of the page the exact way, from the
      // last row checked (the row that failed to load was not).
      if (!(err instanceof Error) || err.name !== 'SqliteError') throw err;
      inPage = 0;
      for (const r of exactPage.iterate(checker.last.seq, toSeq, WALK_PAGE) as IterableIterator<unknown[]>) {
        inPage++;
        const brk = checker.check(r);
        if (brk) return checker.result(brk);
      }
    }
    onPage?.(checker.result(null).rows);
    if (inPage < WALK_PAGE) break;
  }
  return checker.result(null);
}
