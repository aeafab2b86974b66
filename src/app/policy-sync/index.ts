/**
 * Policy replicated through PostgreSQL (replica.ts): on with store: { postgres }, off on SQLite.
 */
import type { Logger } from 'pino';
import { connectOptions, nodeName, type PostgresConfig } from '../../audit/postgres/config.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { currentOsUser } from '../../reports/people.js';
import { PolicyReplica } from './replica.js';

export { PolicyReplica, type PolicySyncStatus } from './replica.js';

/**
 * The node's replica, synced before the policy is loaded (null on SQLite): a node starts on the newest
 * version, or on the files it has when the database does not answer (status says so).
 */
export async function openPolicyReplica(
  config: ReadonlyConfig,
  node: string | undefined,
  logger: Logger,
): Promise<PolicyReplica | null> {
  if (typeof config.store !== 'object') return null;
  const pg = (config.store as { postgres: PostgresConfig }).postgres;
  const replica = await PolicyReplica.open({
    connect: connectOptions(pg),
    node: node ?? nodeName(pg),
    osUser: currentOsUser(),
    dataDir: config.dataDir,
    logger: logger.child({ component: 'policy-sync' }),
    keepVersions: pg.policyVersionsKept,
  });
  await replica.syncAtStart();
  return replica;
}
