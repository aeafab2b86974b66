/**
 * `audit verify` when the config records on PostgreSQL (store: { postgres }): every node's chain walked
 * and every node's signed checkpoints checked (postgres/verify.ts); one line per node, the first break;
 * then one line for the shared ledger (postgres/ledger.ts).
 */
import { readFileSync } from 'node:fs';
import type { Queryable } from '../../audit/postgres/connect.js';
import { pgUnavailable } from '../../audit/postgres/unavailable.js';
import { SchoolgateError } from '../../errors.js';
import type { ReadonlyConfig } from '../../config/load.js';

export async function verifyPostgresCommand(
  config: ReadonlyConfig,
  json: boolean,
  against?: string,
): Promise<void> {
  const [{ connectOptions }, { pgPool }, { verifyPostgres }] = await Promise.all([
    import('../../audit/postgres/config.js'),
    import('../../audit/postgres/connect.js'),
    import('../../audit/postgres/verify.js'),
  ]);
  const pg = (config.store as { postgres: Parameters<typeof connectOptions>[0] }).postgres;
  const pool = pgPool({ ...connectOptions(pg), max: 1 });
  let result: Awaited<ReturnType<typeof verifyPostgres>>;
  let filed: string | null = null;
  try {
    result = await verifyPostgres(pool);
    if (result.ok && against) filed = await checkAgainst(config, pool, against);
  } catch (err) {
    throw pgUnavailable(err, 'cannot read the PostgreSQL audit store');
  } finally {
    await pool.end();
  }
  if (json) console.log(JSON.stringify(result));
  else
    for (const n of result.nodes)
      console.log(
        n.ok
          ? `ok: node ${n.node}: ${n.rows} rows verified, chain head seq ${n.head.seq} ${n.head.hash}; ` +
              `checkpoints: ${n.checkpoints.checked} signed, latest ` +
              (n.checkpoints.latest
                ? `seq ${n.checkpoints.latest.seq} at ${new Date(n.checkpoints.latest.time_ms).toISOString()}`
                : 'none')
          : `BROKEN: node ${n.node}: ${n.firstBreak?.reason ?? 'broken'}` +
              (n.firstBreak?.seq != null ? ` (seq ${n.firstBreak.seq})` : ''),
      );
  const ledger = result.ledger;
  if (ledger && !json)
    console.log(
      ledger.ok
        ? `ok: ledger: ${ledger.entries} entries verified (cases, notes, holds, purges, report access), ` +
            `head seq ${ledger.head.seq} ${ledger.head.hash}; ${ledger.anchored} rows from before the ledger ` +
            'anchored at its creation'
        : `BROKEN: ledger: ${ledger.firstBreak?.reason ?? 'broken'}` +
            (ledger.firstBreak?.seq != null ? ` (ledger seq ${ledger.firstBreak.seq})` : ''),
    );
  if (filed)
    throw new SchoolgateError('SG_AUDIT_TAMPERED', `the filed checkpoint does not hold: ${filed}`, {
      context: { against: against ?? null },
      suggestion:
        "keep a copy of the database and every node's keys/ as they are now (evidence), and tell the headteacher",
    });
  if (against && !json) console.log(`ok: the filed checkpoint in ${against} holds`);
  if (ledger && !ledger.ok)
    throw new SchoolgateError(
      'SG_AUDIT_TAMPERED',
      `the ledger (cases, holds, purges, report access) is broken: ${ledger.firstBreak?.reason ?? 'broken'}`,
      {
        context: { record: ledger.firstBreak?.id ?? null, ledgerSeq: ledger.firstBreak?.seq ?? null },
        suggestion:
          'keep a copy of the database as it is now (evidence), compare the named row with the last good ' +
          'backup, and tell the headteacher',
      },
    );
  const broken = result.nodes.find((n) => !n.ok);
  if (broken)
    throw new SchoolgateError(
      'SG_AUDIT_TAMPERED',
      `the audit record of node ${broken.node} is broken: ${broken.firstBreak?.reason ?? 'broken'}`,
      {
        context: { node: broken.node, seq: broken.firstBreak?.seq ?? null, rowsVerified: broken.rows },
        suggestion:
          "keep a copy of the database and every node's keys/ as they are now (evidence), restore the last good " +
          'backup beside them, and compare; tell the headteacher',
      },
    );
}

/** `--against FILE`: the first line of FILE, a checkpoint filed by `audit checkpoint export`; null: it holds. */
async function checkAgainst(config: ReadonlyConfig, db: Queryable, file: string): Promise<string | null> {
  const [
    { parseCheckpoint, readSigningKey, signingKeyPath },
    { checkFiledPgCheckpoint },
    { nodeName },
    { auditPathOf },
  ] = await Promise.all([
    import('../../audit/checkpoints.js'),
    import('../../audit/postgres/filed-checkpoint.js'),
    import('../../audit/postgres/config.js'),
    import('../../reports/run.js'),
  ]);
  const filed = parseCheckpoint(readFileSync(file, 'utf8').split('\n')[0] ?? '');
  if (typeof filed === 'string') return `${file} is ${filed}`;
  const pg = (config.store as { postgres: Parameters<typeof nodeName>[0] }).postgres;
  return checkFiledPgCheckpoint(db, filed, {
    node: nodeName(pg),
    key: readSigningKey(signingKeyPath(auditPathOf(config))),
  });
}

/** `audit checkpoint export` on PostgreSQL: this node's latest signed checkpoint and its public key. */
export async function exportPostgresCheckpoint(
  config: ReadonlyConfig,
): Promise<{ line: string; publicKey: string }> {
  const [
    { connectOptions, nodeName },
    { pgPool },
    { exportPgCheckpoint },
    { readSigningKey, signingKeyPath },
    { auditPathOf },
  ] = await Promise.all([
    import('../../audit/postgres/config.js'),
    import('../../audit/postgres/connect.js'),
    import('../../audit/postgres/filed-checkpoint.js'),
    import('../../audit/checkpoints.js'),
    import('../../reports/run.js'),
  ]);
  const pg = (config.store as { postgres: Parameters<typeof connectOptions>[0] }).postgres;
  const pool = pgPool({ ...connectOptions(pg), max: 1 });
  try {
    return await exportPgCheckpoint(pool, nodeName(pg), readSigningKey(signingKeyPath(auditPathOf(config))));
  } finally {
    await pool.end();
  }
}
