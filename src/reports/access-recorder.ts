/**
 * The report-access record of the configured store, for a look that reads nothing else of it (the unblock
 * request lists, a refusal): the node's SQLite file, or PostgreSQL's report_access on store: { postgres }.
 * On PostgreSQL a record that cannot be written is SG_AUDIT_UNAVAILABLE: nothing is shown unrecorded.
 */
import { recordAccess } from '../audit/report-access.js';
import type { ReadonlyConfig } from '../config/load.js';
import { isSchoolgateError, SchoolgateError } from '../errors.js';
import type { AccessRecorder } from './audit-reads.js';
import { openAdmin } from './run.js';

/** Runs `fn` with the store's recorder, closed after it. */
export async function withAccessRecorder<T>(
  config: ReadonlyConfig,
  fn: (recorder: AccessRecorder) => Promise<T>,
): Promise<T> {
  if (config.store === 'sqlite') {
    const db = openAdmin(config);
    try {
      return await fn({ store: 'sqlite', record: async (e) => recordAccess(db, e), close: async () => {} });
    } finally {
      db.close();
    }
  }
  const { openPgReportStore } = await import('../audit/postgres/report-reads.js');
  const store = await openPgReportStore(config);
  try {
    return await fn(failingClosed(store.recorder));
  } finally {
    await store.close();
  }
}

/** The recorder, its failures as SG_AUDIT_UNAVAILABLE (a refusal it words itself passes through). */
export function failingClosed(recorder: AccessRecorder): AccessRecorder {
  return {
    store: recorder.store,
    record: (e) => recorder.record(e).catch(unrecorded),
    close: () => recorder.close(),
  };
}

function unrecorded(err: unknown): never {
  if (isSchoolgateError(err)) throw err;
  throw new SchoolgateError(
    'SG_AUDIT_UNAVAILABLE',
    `This cannot be recorded in the audit store's report_access, so it is refused: ${err instanceof Error ? err.message : String(err)}`,
    {
      suggestion: 'Check that PostgreSQL is running and store.postgres in the config; nothing was read.',
      cause: err,
    },
  );
}
