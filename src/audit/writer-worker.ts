/**
 * The audit writer's thread. It owns the SQLite connection (SqliteAuditStore, group commit, WAL,
 * synchronous=FULL), so a commit's fsync never blocks the proxy's event loop. It acknowledges a row only
 * once its transaction committed; the proxy answers a client only after that acknowledgement.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SchoolgateError } from '../errors.js';
import { CHECKPOINT_EVERY_ROWS } from './checkpointer.js';
import { logOpenReport } from './open-checked.js';
import { openSqliteAuditStore, type AuditLogger, type SqliteAuditStore } from './sqlite-store.js';
import { decodeBatch } from './wire-batch.js';
import type { FromWorker, Relayed, ToWorker, WireError, WorkerOptions } from './worker-protocol.js';
import { errorToWire } from './worker-protocol.js';

const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
const options = workerData as WorkerOptions;

const logger: AuditLogger = {
  info: (obj, msg) => post({ type: 'log', level: 'info', obj, msg }),
  warn: (obj, msg) => post({ type: 'log', level: 'warn', obj, msg }),
  error: (obj, msg) => post({ type: 'log', level: 'error', obj, msg }),
};

let store: SqliteAuditStore;
try {
  store = openSqliteAuditStore({
    path: options.path,
    batchMaxRows: options.batchMaxRows,
    ...(options.busyTimeoutMs ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    integrity: options.integrity ?? 'quick',
    newDatabase: options.newDatabase ?? false,
    backgroundCheckpointRows: CHECKPOINT_EVERY_ROWS,
    logger,
  });
  logOpenReport(logger, store.opened);
  post({ type: 'ready', opened: store.opened, signing: store.signing });
} catch (err) {
  post({ type: 'open-error', error: errorToWire(err) });
  process.exit(0);
}

// A long report holds the WAL back from resetting; a scheduled TRUNCATE checkpoint brings it back to zero
// once readers let go (hostile-inputs F04), instead of waiting for the next automatic one.
const CHECKPOINT_EVERY_MS = 5 * 60_000;
setInterval(() => {
  try {
    const result = store.checkpoint();
    if (result.busy)
      post({ type: 'log', level: 'info', obj: result, msg: 'audit: WAL checkpoint postponed by a reader' });
  } catch (err) {
    post({ type: 'log', level: 'warn', obj: { err: String(err) }, msg: 'audit: WAL checkpoint failed' });
  }
}, CHECKPOINT_EVERY_MS).unref();

// The head recorded outside the database (head-file.ts): after a crash, the next start compares an older
// row that still exists; rows newer than this are pinned only by the database's own head.
const HEAD_EVERY_MS = 60_000;
// Each minute also signs a checkpoint; the proxy thread hears when signing starts or stops failing.
let signing = store.signing;
setInterval(() => {
  store.recordHeadIfMoved();
  if (store.signing.state !== signing.state) {
    signing = store.signing;
    post({ type: 'signing', signing });
  }
}, HEAD_EVERY_MS).unref();

function acks(
  batch: number,
  failed: { index: number; error: WireError }[],
): Extract<FromWorker, { type: 'acks' }> {
  return { type: 'acks', batch, failed, healthy: store.healthy, queueDepth: store.queueDepth };
}

// A cluster's primary relays its proxy workers' messages wrapped with the worker's id (`via`); the answer
// goes back wrapped the same way, so the primary knows whose it is.
port.on('message', (raw: ToWorker | Relayed<ToWorker>) => {
  if ('via' in raw) {
    const via = raw.via;
    handle(raw.m, (m) => port.postMessage({ via, m } satisfies Relayed<FromWorker>));
  } else handle(raw, post);
});

function handle(message: ToWorker, reply: (m: FromWorker) => void): void {
  if (message.type === 'batch') {
    let batch: ReturnType<typeof decodeBatch>;
    try {
      batch = decodeBatch(message.packed);
    } catch (err) {
      return reply({ ...acks(message.batch, []), error: errorToWire(err) });
    }
    for (const u of batch.updates) store.complete(u.id, u.outcome);
    // Outcomes alone are acknowledged by nobody: only rows have callers waiting.
    if (batch.records.length === 0) return;
    const settled = batch.records.map((event, index) =>
      store.record(event).then(
        () => null,
        (err: unknown) => ({ index, error: errorToWire(err) }),
      ),
    );
    void Promise.all(settled).then((results) =>
      reply(
        acks(
          message.batch,
          results.filter((r) => r !== null),
        ),
      ),
    );
  } else if (message.type === 'alert' || message.type === 'recent-alerts') {
    try {
      if (message.type === 'alert') {
        store.writeAlert(message.alert);
        reply({ type: 'alert-done', seq: message.seq });
      } else {
        reply({ type: 'alert-done', seq: message.seq, alerts: store.recentAlerts(message.since) });
      }
    } catch (err) {
      reply({ type: 'alert-done', seq: message.seq, error: errorToWire(err) });
    }
  } else if (message.type === 'access') {
    try {
      reply({ type: 'access-done', seq: message.seq, id: store.recordAccess(message.entry) });
    } catch (err) {
      reply({ type: 'access-done', seq: message.seq, error: errorToWire(err) });
    }
  } else if (message.type === 'close') {
    store.close().then(
      () => reply({ type: 'closed' }),
      (err: unknown) =>
        reply({ type: 'closed', error: errorToWire(err instanceof SchoolgateError ? err : err) }),
    );
  }
}
