/**
 * The tamper check of report rows on PostgreSQL (report-reads.ts checkRows): each row against its own
 * node's chain, as the SQLite side's checked scan (checked-scan.ts) does against the file's one chain.
 */
import {
  CHAINED_COLUMNS,
  GENESIS_HASH,
  LATER_CHAINED_COLUMNS,
  outcomeHash,
  rowHash,
  type ChainedFields,
  type ChainBreak,
  type ChainHead,
  type VerifyRow,
} from '../chain.js';
import { CoverageChecker, type CoverageResult } from '../chain-coverage.js';
import type { AuditRowRaw } from '../../reports/source.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';

const CHAINED = [...CHAINED_COLUMNS, ...LATER_CHAINED_COLUMNS, 'chain_hash'].join(', ');

/** checked-scan.ts linksHold on a PostgreSQL row, its neighbours from `near` (by seq). */
function linksHold(r: AuditRowRaw, near: ReadonlyMap<number, VerifyRow>): boolean {
  const seq = r.seq;
  if (seq === null || typeof r.chain_hash !== 'string') return false;
  const prev = seq === 1 ? GENESIS_HASH : near.get(seq - 1)?.chain_hash;
  if (typeof prev !== 'string' || rowHash(prev, r as unknown as ChainedFields) !== r.chain_hash) return false;
  if (outcomeHash(r.chain_hash, r) !== r.outcome_hash) return false;
  const next = near.get(seq + 1);
  return next !== undefined && rowHash(r.chain_hash, next as unknown as ChainedFields) === next.chain_hash;
}

/** How far (ms) from a page's rows their neighbours are first looked for: a day, so most pages need one month. */
const NEIGHBOUR_SLACK_MS = 86_400_000;

/** One CoverageChecker per node, fed a page of rows at a time with that page's neighbours read first. */
export class NodeChains {
  private readonly nodes = new Map<string, { checker: CoverageChecker; near: Map<number, VerifyRow> }>();
  private heads: Map<string, ChainHead> | null = null;
  private gaps: Map<string, Map<number, string>> | null = null;
  /** The first break in the order the rows came (each row is settled as it is checked). */
  private firstBreak: ChainBreak | null = null;

  constructor(private readonly db: Queryable) {}

  private async load(): Promise<void> {
    const { rows: h } = await this.db.query<{ node: string; seq: number; hash: string }>({
      text: 'SELECT node, seq, hash FROM chain_heads',
      types: BIGINT_AS_NUMBER,
    });
    this.heads = new Map(h.map((r) => [r.node, { seq: r.seq, hash: r.hash }]));
    const { rows: g } = await this.db.query<{ node: string; seq: number; prev_hash: string }>({
      text: 'SELECT node, seq, prev_hash FROM chain_gaps',
      types: BIGINT_AS_NUMBER,
    });
    this.gaps = new Map();
    for (const r of g) {
      let m = this.gaps.get(r.node);
      if (!m) this.gaps.set(r.node, (m = new Map()));
      m.set(r.seq, r.prev_hash);
    }
  }

  private chainOf(node: string) {
    let c = this.nodes.get(node);
    if (!c) {
      const near = new Map<number, VerifyRow>();
      const gaps = this.gaps!.get(node);
      const checker = new CoverageChecker({
        head: this.heads!.get(node) ?? { seq: 0, hash: '' },
        prev: (seq) => near.get(seq),
        next: (seq) => near.get(seq),
        gapAt: (seq) => gaps?.get(seq),
      });
      this.nodes.set(node, (c = { checker, near }));
    }
    return c;
  }

  async check(
    page: readonly (AuditRowRaw & { node: string })[],
    each: (r: AuditRowRaw) => void | Promise<void>,
  ): Promise<void> {
    if (page.length === 0) return;
    if (!this.heads) await this.load();
    const wanted = new Map<string, { seqs: Set<number>; lo: number; hi: number }>();
    for (const r of page) {
      if (r.seq === null) continue;
      let w = wanted.get(r.node);
      if (!w) wanted.set(r.node, (w = { seqs: new Set(), lo: r.time_ms, hi: r.time_ms }));
      w.seqs.add(r.seq - 1).add(r.seq + 1);
      w.lo = Math.min(w.lo, r.time_ms);
      w.hi = Math.max(w.hi, r.time_ms);
    }
    for (const [node, { seqs, lo, hi }] of wanted) {
      const { near } = this.chainOf(node);
      near.clear();
      // A row's chain neighbours were written about when it was: looked for first in the page's months only
      // (seq alone cannot prune partitions: every month's index was probed with every seq, most of a heavy
      // user's report on 10 M rows). Any not found there (a holiday's gap, the head) is looked for everywhere.
      const read = async (want: number[], within: boolean) => {
        const { rows } = await this.db.query<VerifyRow>({
          text: `SELECT ${CHAINED} FROM audit_events WHERE node = $1 AND seq = ANY($2::bigint[])${within ? ' AND time_ms >= $3 AND time_ms <= $4' : ''}`,
          values: within ? [node, want, lo - NEIGHBOUR_SLACK_MS, hi + NEIGHBOUR_SLACK_MS] : [node, want],
          types: BIGINT_AS_NUMBER,
        });
        for (const r of rows) near.set(r.seq!, r);
      };
      await read([...seqs], true);
      const missing = [...seqs].filter((q) => q > 0 && !near.has(q));
      if (missing.length > 0) await read(missing, false);
    }
    for (const r of page) {
      const { checker, near } = this.chainOf(r.node);
      // As the SQLite side's checked scan (checked-scan.ts): a row whose own link, outcome and successor
      // link hold is vouched for; any other goes through the full check, which words the verdict.
      if (linksHold(r, near)) checker.vouch();
      else checker.check(r as unknown as VerifyRow);
      this.firstBreak ??= checker.firstBreak;
      const done = each(r);
      if (done) await done;
    }
  }

  result(): CoverageResult {
    let checked = 0;
    let unchained = 0;
    for (const { checker } of this.nodes.values()) {
      const r = checker.result();
      checked += r.checked;
      unchained += r.unchained;
    }
    return { ok: this.firstBreak === null, checked, unchained, firstBreak: this.firstBreak };
  }
}
