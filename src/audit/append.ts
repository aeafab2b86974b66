/**
 * Appends rows from outside the proxy (a CLI command recording a step of its own, such as an unblock
 * request approved): same validation, same chain (chained-batch.ts), committed before the command says it
 * is done. The proxy's writer may be running: the write lock and the head read inside it keep one chain.
 */
import { SchoolgateError } from '../errors.js';
import { registerChainFunctions } from './chain.js';
import { chainedBatch } from './chained-batch.js';
import { writeCheckpoint } from './checkpoints.js';
import { openWritableDatabase } from './open-database.js';
import { eventToRow, invalidEventReason } from './row-mapping.js';
import type { AuditEvent } from './types.js';

export function appendAuditEvents(path: string, events: readonly AuditEvent[]): void {
  for (const e of events) {
    const invalid = invalidEventReason(e);
    if (invalid)
      throw new SchoolgateError('SG_AUDIT_UNAVAILABLE', `Audit event not recorded: ${invalid}.`, {
        context: { path, id: e.id },
        suggestion: 'This is a bug in the caller; please report it.',
      });
  }
  const db = openWritableDatabase(path, { busyTimeoutMs: 5000 });
  try {
    registerChainFunctions(db);
    chainedBatch(db).immediate(events.map(eventToRow), []);
    // Signed at once: with the proxy stopped, rows after its last clean-stop checkpoint would otherwise
    // read as appended by someone else (verify-checkpoints.ts).
    writeCheckpoint(db, path, 'append', Date.now());
  } finally {
    db.close();
  }
}
