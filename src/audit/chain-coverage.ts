/**
 * The rows a report covers, checked against the chain without walking it (CoverageChecker): each row's link
 * to its predecessor and its successor's link to it, neighbours found beside the row (NEIGHBOUR_SELECT) or
 * looked up. chain.ts has the links themselves and the walk of the whole chain (`audit verify`).
 */
import type Database from 'better-sqlite3';
import {
  CHAINED_COLUMNS,
  chainedValues,
  chainLink,
  GENESIS_HASH,
  LATER_CHAINED_COLUMNS,
  outcomeHash,
  parseHead,
  READ_HEAD_SQL,
  rowHash,
  type ChainBreak,
  type ChainHead,
  type VerifyRow,
} from './chain.js';

/**
 * What a report query selects beside each row (alias `e`) so that CoverageChecker finds the row's
 * neighbours in it instead of looking each one up: the row before by rowid (its seq and hash) and the row
 * after (every chained column and its hash). Two rowid lookups inside the same statement, usually on the
 * same page, instead of two statements per row. Only a hint: a neighbour whose seq does not fit is looked
 * up by seq as before.
 */
export const NEIGHBOUR_SELECT = [
  'p.seq AS p_seq',
  'p.chain_hash AS p_chain_hash',
  ...[...CHAINED_COLUMNS, ...LATER_CHAINED_COLUMNS, 'chain_hash'].map((c) => `n.${c} AS n_${c}`),
].join(', ');
export const NEIGHBOUR_JOIN =
  'LEFT JOIN audit_events p ON p.rowid = e.rowid - 1 LEFT JOIN audit_events n ON n.rowid = e.rowid + 1';

type Prefetched = Record<string, unknown>;

/** The row before, as NEIGHBOUR_SELECT fetched it (seq and hash), when it is the one with `seq`. */
function prefetchedPrev(r: Prefetched, seq: number): VerifyRow | undefined {
  return r['p_seq'] === seq ? ({ seq, chain_hash: r['p_chain_hash'] } as VerifyRow) : undefined;
}

export interface CoverageResult {
  ok: boolean;
  /** Rows of the report whose link (and their successor's link) was checked. */
  checked: number;
  /** Rows the report covers that predate the chain or were not written by the writer. */
  unchained: number;
  firstBreak: ChainBreak | null;
}

/**
 * Checks the rows a report covers: each row's own hash against its predecessor's (or its purge anchor), and
 * the successor's link to it, so that an edit is caught even if the edited row's hash was recomputed. Cheap:
 * neighbours are looked up by rowid first (rows are inserted in seq order, so seq±1 is almost always rowid±1),
 * by seq otherwise. A deletion elsewhere in the chain is `audit verify`'s job. Feed rows with `check()` (in
 * the same pass that aggregates them), then read `result()`; the first failure is kept.
 */
/**
 * Where CoverageChecker finds a row's neighbours, purge anchors and the head when they did not come with the
 * row: the SQLite file (by rowid, then seq), or maps a caller filled beforehand (PostgreSQL: one node's
 * chain, read a page at a time, report-reads.ts).
 */
export interface ChainLookups {
  head: ChainHead;
  /** The row before: its seq and chain_hash at least. */
  prev(seq: number, rid: number | undefined): VerifyRow | undefined;
  /** The row after: every chained column and its chain_hash. */
  next(seq: number, rid: number | undefined): VerifyRow | undefined;
  /** The purge anchor recorded for `seq` (the hash of the row before a purged range), if any. */
  gapAt(seq: number): string | undefined;
}

function sqliteLookups(db: Database.Database): ChainLookups {
  const chained = `${[...CHAINED_COLUMNS, ...LATER_CHAINED_COLUMNS].join(', ')}, chain_hash`;
  const prevByRowid = db.prepare(`SELECT seq, chain_hash FROM audit_events WHERE rowid = ?`);
  const prevBySeq = db.prepare(`SELECT seq, chain_hash FROM audit_events WHERE seq = ?`);
  const nextByRowid = db.prepare(`SELECT ${chained} FROM audit_events WHERE rowid = ?`);
  const nextBySeq = db.prepare(`SELECT ${chained} FROM audit_events WHERE seq = ?`);
  const gapAt = db.prepare(`SELECT prev_hash FROM chain_gaps WHERE seq = ?`).pluck();
  const lookup = (byRowid: Database.Statement, bySeq: Database.Statement, seq: number, rid?: number) => {
    if (rid !== undefined) {
      const r = byRowid.get(rid) as VerifyRow | undefined;
      if (r && r.seq === seq) return r;
    }
    return bySeq.get(seq) as VerifyRow | undefined;
  };
  return {
    head: parseHead(db.prepare(READ_HEAD_SQL).pluck().get() as string | undefined),
    prev: (seq, rid) => lookup(prevByRowid, prevBySeq, seq, rid),
    next: (seq, rid) => lookup(nextByRowid, nextBySeq, seq, rid),
    gapAt: (seq) => gapAt.get(seq) as string | undefined,
  };
}

export class CoverageChecker {
  private readonly look: ChainLookups;
  private readonly head: ChainHead;
  private checked = 0;
  private unchained = 0;
  private failure: ChainBreak | null = null;
  /** The last row checked, whose successor link is still to be checked (often by the next row itself). */
  private pending: {
    seq: number;
    id: string;
    rid: number | undefined;
    hash: string;
    /** The row as the query returned it: its successor may be in it (NEIGHBOUR_SELECT). */
    row: Prefetched;
  } | null = null;

  constructor(source: Database.Database | ChainLookups) {
    this.look = 'prepare' in source ? sqliteLookups(source) : source;
    this.head = this.look.head;
  }

  private fail(at: { seq: number | null; id: string | null }, reason: string): void {
    this.failure ??= { seq: at.seq, id: at.id, reason };
  }

  /** The successor link of the pending row, looked up (the next covered row was not its successor). */
  private settlePending(): void {
    const p = this.pending;
    this.pending = null;
    if (!p || this.failure) return;
    if (p.row['n_seq'] === p.seq + 1) {
      // The successor came with the row (NEIGHBOUR_SELECT): its link, straight from the fetched values.
      if (p.row['n_chain_hash'] !== chainLink(p.hash, chainedValues(p.row, 'n_')))
        this.fail(
          { seq: p.seq + 1, id: p.row['n_id'] as string },
          `the row after seq ${p.seq} does not link to it`,
        );
      return;
    }
    const next = this.look.next(p.seq + 1, p.rid === undefined ? undefined : p.rid + 1);
    if (next) {
      if (next.chain_hash !== rowHash(p.hash, next))
        this.fail(next, `the row after seq ${p.seq} does not link to it`);
    } else if (p.seq < this.head.seq) {
      const anchor = this.look.gapAt(p.seq + 1);
      if (anchor !== undefined && anchor !== p.hash) this.fail(p, 'the purge anchor after it does not match');
    } else if (p.seq === this.head.seq && this.head.hash !== p.hash) {
      this.fail(p, 'the row does not match the recorded chain head');
    }
  }

  check(r: VerifyRow & { rid?: number }): void {
    if (this.failure) return;
    if (r.seq === null || r.seq === undefined) {
      this.unchained++;
      return;
    }
    let prevHash: string | undefined;
    let linked = false;
    if (this.pending && this.pending.seq === r.seq - 1) {
      linked = true;
      prevHash = this.pending.hash; // this row's own check is the pending row's successor check
      this.pending = null;
    } else {
      this.settlePending();
      if (this.failure) return;
      if (r.seq === 1) prevHash = GENESIS_HASH;
      else {
        const p =
          prefetchedPrev(r as unknown as Prefetched, r.seq - 1) ??
          this.look.prev(r.seq - 1, r.rid === undefined ? undefined : r.rid - 1);
        prevHash = p ? (p.chain_hash ?? undefined) : this.look.gapAt(r.seq);
      }
    }
    if (prevHash === undefined) return this.fail(r, `the row before seq ${r.seq} is missing`);
    const own = rowHash(prevHash, r);
    if (own !== r.chain_hash)
      return this.fail(
        r,
        linked
          ? `the row does not link to seq ${r.seq - 1} (one of the two was changed)`
          : 'the row does not match its hash',
      );
    if (r.outcome_hash !== outcomeHash(own, r))
      return this.fail(r, 'the outcome columns do not match their hash');
    this.pending = { seq: r.seq, id: r.id, rid: r.rid, hash: own, row: r as unknown as Prefetched };
    this.checked++;
  }

  /**
   * A row whose own link, outcome and successor link the caller has checked itself (report-scan.ts, from the
   * JSON SQLite built): counted as `check()` would count it, after the row before it is settled.
   */
  vouch(): void {
    this.settlePending();
    if (!this.failure) this.checked++;
  }

  /** The first break found so far (null: none yet). */
  get firstBreak(): ChainBreak | null {
    return this.failure;
  }

  result(): CoverageResult {
    this.settlePending();
    return {
      ok: this.failure === null,
      checked: this.checked,
      unchained: this.unchained,
      firstBreak: this.failure,
    };
  }
}

export function verifyCoveredRows(db: Database.Database, rows: Iterable<VerifyRow>): CoverageResult {
  const checker = new CoverageChecker(db);
  for (const r of rows) checker.check(r);
  return checker.result();
}
