/**
 * The WAL checkpointer's thread (checkpointer.ts): its own connection to the audit database, running a
 * PASSIVE checkpoint each time it is asked. PASSIVE never waits for the writer or readers and the writer
 * never waits for it, so copying the WAL into the database and its fsync happen beside the commits
 * instead of inside the commit that crossed the autocheckpoint threshold.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const port = parentPort!;
const { path } = workerData as { path: string };

let db: Database.Database;
try {
  db = new Database(path, { fileMustExist: true });
  // The checkpoint syncs the WAL before copying it and the database after, as the writer's own would.
  db.pragma('synchronous = FULL');
  port.postMessage({ type: 'ready' });
} catch (err) {
  port.postMessage({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
  process.exit(0);
}

port.on('message', (message: 'checkpoint' | 'close') => {
  if (message === 'close') {
    db.close();
    port.close();
    return;
  }
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as {
      busy: number;
      log: number;
      checkpointed: number;
    }[];
    port.postMessage({ type: 'done', ...result });
  } catch (err) {
    port.postMessage({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
  }
});
