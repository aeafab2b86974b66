/**
 * `audit purge` and `audit purges` when the record is on PostgreSQL: retention over every node's rows by
 * month (postgres/purge.ts), this node's head signed after it with its key, as the SQLite purge does.
 */
import { signingKeyPath } from '../../audit/checkpoints.js';
import type { PurgeOptions, PurgeRecord } from '../../audit/purge.js';
import type { PgPurgeResult } from '../../audit/postgres/purge.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import type { Reports } from './admin-access.js';
import { pgConnectOf, pgStoreOf, withPgPool } from './pg-admin.js';

export async function purgePostgresCommand(
  config: ReadonlyConfig,
  r: Reports,
  opts: PurgeOptions,
): Promise<PgPurgeResult> {
  const pgConfig = pgStoreOf(config)!;
  const [{ nodeName }, { runPgPurge }] = await Promise.all([
    import('../../audit/postgres/config.js'),
    import('../../audit/postgres/nightly.js'),
  ]);
  // Migrated first (holds and the purge record are PG migration 7), then the purge's own long-lived pool.
  await withPgPool(pgConfig, async () => undefined);
  const result = await runPgPurge(await pgConnectOf(pgConfig), {
    ...opts,
    node: nodeName(pgConfig),
    signingKeyFile: signingKeyPath(r.auditPathOf(config)),
  }).catch((err: unknown) => {
    // Each month is its own transaction: those done stay done, and the purge record says how far it got.
    throw new SchoolgateError('SG_AUDIT_UNAVAILABLE', `the purge stopped: ${String(err)}`, {
      suggestion: 'see schoolgate audit purges for what it did; run it again once PostgreSQL answers',
    });
  });
  if (result === null)
    throw new SchoolgateError('SG_PURGE_REFUSED', 'another purge of the shared record is running', {
      suggestion: 'wait for it to finish (see schoolgate audit purges), then run this again if still needed',
    });
  return result;
}

export async function listPurgesPostgres(config: ReadonlyConfig): Promise<PurgeRecord[]> {
  const { listPgPurges } = await import('../../audit/postgres/purge.js');
  return withPgPool(pgStoreOf(config)!, (pool) => listPgPurges(pool));
}
