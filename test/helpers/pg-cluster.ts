/**
 * A private PostgreSQL cluster for the PostgreSQL store tests (scripts/pg-cluster.ts): initdb into a temp
 * dir, a free loopback port, stopped and removed at the end. Tests skip with PG_SKIP_MESSAGE when missing.
 *
 *   const pg = await startPgCluster();    // pg.url, await pg.stopServer(), await pg.stop()
 */
export { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../scripts/pg-cluster.js';
