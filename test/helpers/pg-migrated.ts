/** A database of a private cluster (pg-cluster.ts) brought to the current schema, as a node's open does. */
import { pgPool } from '../../src/audit/postgres/connect.js';
import { migratePg } from '../../src/audit/postgres/schema.js';

/** A pool on `url` (`max` connections) whose database has been migrated; the caller ends it. */
export async function migratedPool(url: string, max = 1): Promise<ReturnType<typeof pgPool>> {
  const pool = pgPool({ connectionString: url, max });
  const client = await pool.connect();
  try {
    await migratePg(client);
  } finally {
    client.release();
  }
  return pool;
}
