/**
 * `audit verify` on PostgreSQL: every node's chain walked in seq order with the same per-row check as the
 * SQLite walk (chain-walk.ts linkChecker) and the same head check (chain.ts headBreak). Pages of WALK_PAGE
 * rows, each one short query, so the writers carry on. Walks up to each node's head as read at the start.
 */
import { GENESIS_HASH, headBreak, type ChainBreak, type ChainHead, type VerifyResult } from '../chain.js';
import { linkChecker, linkColumns, WALK_PAGE } from '../chain-walk.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';

export interface PgVerifyResult {
  ok: boolean;
  /** One result per node with rows or a head, by node name. */
  nodes: (VerifyResult & { node: string })[];
}

/** Walks every node's chain (or only `node`'s) and reports each node's first break. */
export async function verifyPostgres(
  db: Queryable,
  opts: { node?: string; onProgress?: (node: string, rows: number) => void } = {},
): Promise<PgVerifyResult> {
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
    nodes.push({ node, ...(await verifyNode(db, node, head, opts.onProgress)) });
  }
  return { ok: nodes.every((n) => n.ok), nodes };
}

async function verifyNode(
  db: Queryable,
  node: string,
  head: ChainHead | null,
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
  const checker = linkChecker({ seq: 0, hash: GENESIS_HASH }, (seq) => gaps.get(seq));
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
