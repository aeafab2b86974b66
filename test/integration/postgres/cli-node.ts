/**
 * The setup of the CLI tests on PostgreSQL: a private cluster, one node's files whose config records
 * there, and that node's writer signing with the key its CLI uses.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { signingKeyPath } from '../../../src/audit/checkpoints.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { serveFiles } from '../../helpers/schoolgate.js';

export type NodeFiles = ReturnType<typeof serveFiles>;

/** A private cluster and the files of node `node`, its config.yaml set to `store: { postgres }` on it. */
export async function clusterWithNode(node = 'gate-a'): Promise<{ cluster: PgCluster; files: NodeFiles }> {
  const cluster = await startPgCluster();
  const files = serveFiles();
  writeFileSync(
    path.join(files.dir, 'config.yaml'),
    JSON.stringify({ store: { postgres: { url: cluster.url, node } } }),
  );
  return { cluster, files };
}

/** `node`'s audit writer on the cluster, signing with `keyFile` (default: the key the CLI of `files` uses). */
export function nodeWriter(
  cluster: PgCluster,
  files: NodeFiles,
  node = 'gate-a',
  keyFile = signingKeyPath(path.join(files.data, 'audit.sqlite')),
): Promise<PostgresAuditStore> {
  return PostgresAuditStore.open({ connectionString: cluster.url, node, signingKeyFile: keyFile });
}
