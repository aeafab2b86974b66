/**
 * The reports fixture's SQLite file and the same rows in a private PostgreSQL cluster, copied by
 * `store migrate` under one node's name: what the two-store tests compare.
 */
import { migrateSqliteToPostgres } from '../../../src/audit/postgres/migrate-from-sqlite.js';
import { startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { buildFixture, type Fixture } from '../reports/fixture.js';

export async function fixtureInBothStores(node: string): Promise<{ cluster: PgCluster; fx: Fixture }> {
  const [cluster, fx] = await Promise.all([startPgCluster(), buildFixture()]);
  await migrateSqliteToPostgres({ sqlitePath: fx.dbPath, target: { connectionString: cluster.url }, node });
  return { cluster, fx };
}
