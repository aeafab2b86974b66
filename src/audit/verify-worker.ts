/**
 * One range of a parallel `audit verify` (verify-parallel.ts): walks it on its own read-only connection,
 * posts one reply, then counts itself finished in the shared counter the main thread waits on. Everything
 * that can fail, loading the modules included, ends in a reply and the count, so the waiter never hangs.
 */
import { workerData } from 'node:worker_threads';
import type { VerifyJob, VerifyReply } from './verify-parallel.js';

const job = workerData as VerifyJob;
const counters = new Int32Array(job.sync);

async function walk(): Promise<VerifyReply> {
  const [{ default: Database }, { walkChain }] = await Promise.all([
    import('better-sqlite3'),
    import('./chain-walk.js'),
  ]);
  const db = new Database(job.dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('query_only = ON');
    db.pragma('busy_timeout = 5000');
    const result = walkChain(db, { seq: job.lo, hash: job.hash }, job.hi, (rows) =>
      Atomics.store(counters, 1 + job.index, rows),
    );
    return { ok: true, result };
  } finally {
    db.close();
  }
}

function reply(r: VerifyReply): void {
  try {
    job.port.postMessage(r);
  } finally {
    Atomics.add(counters, 0, 1);
    Atomics.notify(counters, 0);
  }
}

walk().then(reply, (err: unknown) =>
  reply({
    ok: false,
    error: err instanceof Error ? err.message : String(err),
    code: (err as { code?: string } | null)?.code,
  }),
);
