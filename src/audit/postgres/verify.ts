/**
 * `audit verify` on PostgreSQL: every node's chain walked in seq order with the same per-row check as the
 * SQLite walk (chain-walk.ts linkChecker) and the same head check (chain.ts headBreak). Pages of WALK_PAGE
 * rows, each one short query, so the writers carry on. Walks up to each node's head as read at the start.
 * Then the ledger every node shares (ledger.ts): cases, notes, holds, purges and report_access.
 */
import { GENESIS_HASH, headBreak, type ChainBreak, type ChainHead, type VerifyResult } from '../chain.js';
import { linkChecker, linkColumns, WALK_PAGE } from '../chain-walk.js';
import {
  pgCheckpointMismatch,
  pgSignatureProblem,
  readPgCheckpoints,
  type PgCheckpoint,
} from './checkpoints.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';
import { pgLedgerMismatch, verifyPgLedger, type PgLedgerResult } from './ledger.js';

export interface PgNodeCheckpoints {
  /** Signatures checked. */
  checked: number;
  latest: PgCheckpoint | null;
}

export interface PgVerifyResult {
  ok: boolean;
  /** One result per node with rows or a head, by node name. */
  nodes: (VerifyResult & { node: string; checkpoints: PgNodeCheckpoints })[];
  /** The shared ledger (cases, holds, purges, report_access); null when not asked (one node, or a start check). */
  ledger: PgLedgerResult | null;
}

export interface PgVerifyOptions {
  node?: string;
  /** Walk from this verified position (the start check: the node's last checkpoint) instead of genesis. */
  from?: ChainHead;
  /** Check the node's signed checkpoints too (default true). */
  checkpoints?: boolean;
  onProgress?: (node: string, rows: number) => void;
  /** Walk the shared ledger too (default: when every node is verified from genesis). */
  ledger?: boolean;
}

/**
 * Walks every node's chain (or only `node`'s) and checks its signed checkpoints (every signature by the
 * node's key; the latest still held by the chain); reports each node's first break.
 */
export async function verifyPostgres(db: Queryable, opts: PgVerifyOptions = {}): Promise<PgVerifyResult> {
  const heads = new Map<string, ChainHead | null>();
  const { rows: headRows } = await db.query<{ node: string; seq: number; hash: string }>({
    text: 'SELECT node, seq, hash FROM chain_heads',
    types: BIGINT_AS_NUMBER,
  });
  for (const h of headRows) heads.set(h.node, { seq: h.seq, hash: h.hash });
  // A node with rows but no head: its rows were written around the writer.
  const { rows: nodeRows } = await db.query<{ node: string }>(
    'SELECT DISTINCT node FROM audit_events WHERE NOT EXISTS (SELECT 1 FROM chain_heads h WHERE h.node = audit_events.node)',
  );
  for (const n of nodeRows) heads.set(n.node, null);
  const nodes: PgVerifyResult['nodes'] = [];
  for (const [node, head] of [...heads].sort(([a], [b]) => a.localeCompare(b))) {
    if (opts.node !== undefined && node !== opts.node) continue;
    const walked = await verifyNode(db, node, head, opts.from, opts.onProgress);
    const checkpoints: PgNodeCheckpoints = { checked: 0, latest: null };
    if (walked.ok && opts.checkpoints !== false) {
      const problem = await checkCheckpoints(db, node, walked.head, checkpoints);
      if (problem) {
        walked.ok = false;
        walked.firstBreak = { seq: checkpoints.latest?.seq ?? null, id: null, reason: problem };
      }
    }
    nodes.push({ node, ...walked, checkpoints });
  }
  const withLedger = opts.ledger ?? (opts.node === undefined && opts.from === undefined);
  const ledger = withLedger ? await verifyPgLedger(db) : null;
  // Each node's latest checkpoint signs the ledger's head too: a ledger rewritten past it is a break.
  for (const n of ledger?.ok ? nodes : []) {
    const problem = n.checkpoints.latest && (await pgLedgerMismatch(db, n.checkpoints.latest, ledger!.head));
    if (problem) {
      ledger!.ok = false;
      ledger!.firstBreak = {
        seq: n.checkpoints.latest!.ledger_seq,
        id: null,
        reason: `${problem} (node ${n.node})`,
      };
      break;
    }
  }
  return { ok: nodes.every((n) => n.ok) && (ledger?.ok ?? true), nodes, ledger };
}

/** Every signature by the node's key (its first checkpoint's), and the latest still in the chain. */
async function checkCheckpoints(
  db: Queryable,
  node: string,
  head: ChainHead,
  out: PgNodeCheckpoints,
): Promise<string | null> {
  const all = await readPgCheckpoints(db, node);
  const key = all[0]?.publicKey;
  for (const c of all) {
    const problem = pgSignatureProblem(c, key!);
    if (problem) return problem;
    out.checked++;
  }
  out.latest = all.at(-1) ?? null;
  return out.latest ? pgCheckpointMismatch(db, node, out.latest, head) : null;
}

async function verifyNode(
  db: Queryable,
  node: string,
  head: ChainHead | null,
  start: ChainHead = { seq: 0, hash: GENESIS_HASH },
  onProgress?: (node: string, rows: number) => void,
): Promise<VerifyResult> {
  const result = (rows: number, gaps: number, brk: ChainBreak | null): VerifyResult => ({
    ok: brk === null,
    rows,
    anchoredGaps: gaps,
    head: head ?? { seq: 0, hash: GENESIS_HASH },
    firstBreak: brk,
  });
  if (!head)
    return result(0, 0, {
      seq: null,
      id: null,
      reason: `rows of node ${node} have no chain head (written around the writer)`,
    });
  const { rows: gapRows } = await db.query<{ seq: number; prev_hash: string }>({
    text: 'SELECT seq, prev_hash FROM chain_gaps WHERE node = $1',
    values: [node],
    types: BIGINT_AS_NUMBER,
  });
  const gaps = new Map(gapRows.map((g) => [g.seq, g.prev_hash]));
  const checker = linkChecker(start, (seq) => gaps.get(seq));
  const sql = `SELECT ${linkColumns().join(', ')} FROM audit_events
    WHERE node = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT ${WALK_PAGE}`;
  for (;;) {
    const from = checker.result(null).last.seq;
    const page = await db.query<unknown[]>({
      text: sql,
      values: [node, from, head.seq],
      rowMode: 'array',
      types: BIGINT_AS_NUMBER,
    });
    for (const r of page.rows) {
      const brk = checker.check(r);
      if (brk) {
        const walked = checker.result(brk);
        return result(walked.rows, walked.gaps, brk);
      }
    }
    onProgress?.(node, checker.result(null).rows);
    if (page.rows.length < WALK_PAGE) break;
  }
  const walked = checker.result(null);
  return result(
    walked.rows,
    walked.gaps,
    headBreak(head, walked.last, (seq) => gaps.get(seq)),
  );
}
