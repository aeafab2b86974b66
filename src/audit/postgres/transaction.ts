/** One transaction on a pool's client (or on a client already checked out): BEGIN, run, COMMIT or ROLLBACK. */
import type pg from 'pg';

/** A pool (a client is checked out for the transaction) or a client the caller holds. */
export type PgTransactional = pg.Pool | pg.ClientBase;

export async function inPgTransaction<T>(
  db: PgTransactional,
  run: (client: pg.ClientBase) => Promise<T>,
): Promise<T> {
  const pooled = 'totalCount' in db;
  const client = pooled ? await (db as pg.Pool).connect() : (db as pg.ClientBase);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      const result = await run(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: unknown) => (broken = e as Error));
      throw err;
    }
  } finally {
    if (pooled) (client as pg.PoolClient).release(broken);
  }
}
