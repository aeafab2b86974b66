/**
 * The auditor's tamper check on a node recording to PostgreSQL: what `schoolgate audit verify` does there
 * (every node's chain, its signed checkpoints, the shared ledger), its result kept beside this node's
 * audit file as the SQLite check keeps its own (`audit.postgres.last-verify.json`), so the page shows the
 * last result after a restart. A database that does not answer is SG_AUDIT_UNAVAILABLE: no result is kept.
 */
import { readLastVerify, writeLastVerify, type LastVerify } from '../audit/last-verify.js';
import type { PgVerifyResult } from '../audit/postgres/verify.js';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';

/** Where the PostgreSQL check's result is kept: beside the node's audit file, under another name. */
const resultKey = (auditPath: string): string => auditPath.replace(/\.sqlite$/, '') + '.postgres';

export const readPgLastVerify = (auditPath: string): LastVerify | null =>
  readLastVerify(resultKey(auditPath));

/** The verdict as the page shows it: rows over every node, the first break named by its node or the ledger. */
export function pgVerdict(result: PgVerifyResult, now: number): LastVerify {
  const broken = result.nodes.find((n) => !n.ok);
  const firstBreak = broken
    ? `node ${broken.node}: ${broken.firstBreak?.reason ?? 'broken'}`
    : result.ledger && !result.ledger.ok
      ? `ledger: ${result.ledger.firstBreak?.reason ?? 'broken'}`
      : null;
  return {
    atMs: now,
    ok: result.ok && firstBreak === null,
    rows: result.nodes.reduce((sum, n) => sum + n.rows, 0),
    firstBreak,
  };
}

/** Runs the check and keeps its verdict. */
export async function runPgTamperCheck(
  config: ReadonlyConfig,
  auditPath: string,
  now: number,
): Promise<LastVerify> {
  const [{ connectOptions }, { pgPool }, { verifyPostgres }] = await Promise.all([
    import('../audit/postgres/config.js'),
    import('../audit/postgres/connect.js'),
    import('../audit/postgres/verify.js'),
  ]);
  const pg = (config.store as { postgres: Parameters<typeof connectOptions>[0] }).postgres;
  const pool = pgPool({ ...connectOptions(pg), max: 1 });
  let result: PgVerifyResult;
  try {
    result = await verifyPostgres(pool);
  } catch (err) {
    throw new SchoolgateError(
      'SG_AUDIT_UNAVAILABLE',
      `cannot read the PostgreSQL audit store: ${String(err)}`,
      {
        suggestion: 'check that PostgreSQL is running, then run the check again',
        cause: err,
      },
    );
  } finally {
    await pool.end();
  }
  const verdict = pgVerdict(result, now);
  writeLastVerify(resultKey(auditPath), verdict);
  return verdict;
}
