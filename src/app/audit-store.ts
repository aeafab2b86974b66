/**
 * serve's audit store, picked by `store:` in the config: SQLite's writer thread (the default, unchanged;
 * in a cluster worker the link to the primary's writer) or PostgreSQL (store: { postgres }), where several
 * nodes write one database, each its own chain under its node name.
 *
 * What only the SQLite store does is named here once: with PostgreSQL these stay off on this node, and
 * the log and `status` say so (SQLITE_ONLY).
 */
import type { Logger } from 'pino';
import { WorkerAuditStore, type AuditOpenReport } from '../audit/index.js';
import { signingKeyPath } from '../audit/checkpoints.js';
import { connectOptions, nodeName } from '../audit/postgres/config.js';
import type { PgConnectOptions } from '../audit/postgres/connect.js';
import { NODE_HEARTBEAT_MS } from '../audit/postgres/nodes.js';
import { pgPurgeRunner } from '../audit/postgres/nightly.js';
import type { NightlyPurgeDeps } from '../audit/nightly-purge.js';
import { PostgresAuditStore } from '../audit/postgres/store.js';
import type { ServingAuditStore } from '../audit/serving-store.js';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import type { ClusterRole } from './cluster/role.js';

/**
 * Off on a node serving on PostgreSQL: what reads or writes only the SQLite audit file. None left: every
 * report, console page, case, hold, alert, purge, checkpoint and digest has a PostgreSQL side. Kept so
 * that a feature added for SQLite alone is named here, in the log and in `status`, not silently absent.
 */
export const SQLITE_ONLY: readonly string[] = [];

export interface OpenedAudit {
  store: ServingAuditStore;
  /** The SQLite writer (the same store) when the record is on SQLite; null on PostgreSQL. */
  sqlite: WorkerAuditStore | null;
  /** What the SQLite check at start found; null on PostgreSQL. */
  opened: AuditOpenReport | null;
  /** The nightly purge's run on PostgreSQL (postgres/nightly.ts); null: SQLite's worker (or none, a worker). */
  purge: NightlyPurgeDeps['run'] | null;
  /** Where PostgreSQL is (the digests read and record there: alerts/digest/store.ts); null on SQLite. */
  pg: PgConnectOptions | null;
}

export interface OpenAuditOptions {
  path: string;
  integrity: 'quick' | 'full';
  newDatabase: boolean;
  cluster?: ClusterRole;
  /** serve --node NAME: overrides store.postgres.node. */
  node?: string;
}

export async function openServingAudit(
  config: ReadonlyConfig,
  logger: Logger,
  opts: OpenAuditOptions,
): Promise<OpenedAudit> {
  if (typeof config.store === 'object') return openPostgres(config, logger, opts);
  if (opts.node !== undefined)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', '--node names a node of a PostgreSQL store', {
      suggestion: 'set store: { postgres: … } in the config, or leave --node out',
    });
  const store = await (opts.cluster?.role === 'worker'
    ? opts.cluster.audit(logger)
    : WorkerAuditStore.open({
        path: opts.path,
        batchMaxRows: config.audit.batchMaxRows,
        integrity: opts.integrity,
        newDatabase: opts.newDatabase,
        logger,
      }));
  return { store, sqlite: store, opened: store.opened, purge: null, pg: null };
}

async function openPostgres(
  config: ReadonlyConfig,
  logger: Logger,
  opts: OpenAuditOptions,
): Promise<OpenedAudit> {
  const pg = (config.store as { postgres: Parameters<typeof connectOptions>[0] }).postgres;
  // serve --workers N: a proxy worker's rows go to the primary's one store (one chain per node), as on SQLite.
  if (opts.cluster?.role === 'worker')
    return { store: await opts.cluster.audit(logger), sqlite: null, opened: null, purge: null, pg: null };
  const node = opts.node ?? nodeName(pg);
  const connect = connectOptions(pg);
  const store = await PostgresAuditStore.open({
    ...connect,
    node,
    batchMaxRows: config.audit.batchMaxRows,
    logger,
    heartbeatMs: NODE_HEARTBEAT_MS,
    // Started before the database (a reboot, an outage): serve the 503 page until it answers.
    openWhileDown: true,
    // This node's own key, where SQLite keeps it: keys/audit-signing.key in the data directory.
    signingKeyFile: signingKeyPath(opts.path),
  });
  const where = store.where;
  logger.info(
    { server: where.kind === 'postgres' ? where.server : null, node },
    'audit: recording on PostgreSQL',
  );
  if (SQLITE_ONLY.length > 0)
    logger.warn(
      { off: SQLITE_ONLY },
      `audit: on PostgreSQL these SQLite features are off on this node: ${SQLITE_ONLY.join(', ')}`,
    );
  const purge = pgPurgeRunner(connect, node, signingKeyPath(opts.path));
  return { store, sqlite: null, opened: null, purge, pg: connect };
}
