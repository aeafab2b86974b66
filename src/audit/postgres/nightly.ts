/**
 * The nightly purge of a node serving on PostgreSQL (nightly-purge.ts schedules it): its own connection for
 * the run, no statement time limit short of the run's (a month's DELETE may take a while on a big trust),
 * and the node's head signed after it with the node's key. On SQLite the purge runs on a worker thread
 * because better-sqlite3 blocks; here the server does the work and the event loop only waits.
 */
import { readSigningKey } from '../checkpoints.js';
import type { PurgeOptions, PurgeResult } from '../purge.js';
import { pgPool, type PgConnectOptions } from './connect.js';
import { purgePostgres } from './purge.js';

/** How long one statement of the purge may take before the run fails (and the next night tries again). */
const PURGE_TIMEOUT_MS = 30 * 60_000;

export function pgPurgeRunner(
  connect: PgConnectOptions,
  node: string,
  signingKeyFile: string | null,
): (opts: PurgeOptions) => Promise<PurgeResult | null> {
  return async (opts) => runPgPurge(connect, { ...opts, node, signingKeyFile });
}

/** One purge on its own pool (the CLI's `audit purge` and the nightly run). */
export async function runPgPurge(
  connect: PgConnectOptions,
  opts: PurgeOptions & { node: string; signingKeyFile: string | null },
): Promise<Awaited<ReturnType<typeof purgePostgres>>> {
  const { node, signingKeyFile, ...purge } = opts;
  const key = signingKeyFile ? readSigningKey(signingKeyFile) : null;
  const pool = pgPool({ ...connect, max: 1, timeoutMs: PURGE_TIMEOUT_MS });
  try {
    const client = await pool.connect();
    try {
      return await purgePostgres(client, { ...purge, ...(key ? { signAs: { node, key } } : {}) });
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}
