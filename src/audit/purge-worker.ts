/** The nightly purge's worker thread: one `purgeAudit` (purge.ts) on its own connection, then one reply. */
import { parentPort, workerData } from 'node:worker_threads';
import { openWritableDatabase } from './open-database.js';
import { purgeAudit, type PurgeOptions, type PurgeResult } from './purge.js';

export interface PurgeJob extends PurgeOptions {
  auditPath: string;
}
export type PurgeReply = { ok: true; result: PurgeResult } | { ok: false; error: string };

async function run(job: PurgeJob): Promise<PurgeReply> {
  const db = openWritableDatabase(job.auditPath, { busyTimeoutMs: 5000 });
  try {
    const { auditPath: _path, ...opts } = job;
    return { ok: true, result: await purgeAudit(db, opts) };
  } finally {
    db.close();
  }
}

run(workerData as PurgeJob).then(
  (reply) => parentPort!.postMessage(reply),
  (err: unknown) =>
    parentPort!.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
);
