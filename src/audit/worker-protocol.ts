/** Messages between the proxy thread and the audit writer thread. */
import { SchoolgateError, type ErrorCode } from '../errors.js';
import type { AlertWrite, StoredAlert } from './alerts-table.js';
import type { AuditStoreWhere } from './serving-store.js';
import type { AuditOpenReport } from './open-checked.js';
import type { IntegrityMode } from './start-check.js';
import type { AccessEntry } from './report-access.js';
import type { SigningState } from './signing-state.js';

export interface WorkerOptions {
  path: string;
  batchMaxRows: number;
  busyTimeoutMs?: number;
  /** The check before the database is trusted: 'quick' (default) or 'full' (serve --integrity-check). */
  integrity?: IntegrityMode;
  /** serve --new-audit-database: set a refused database aside and start a new one. */
  newDatabase?: boolean;
}

export interface WireError {
  code: ErrorCode;
  message: string;
  context: Record<string, unknown>;
  suggestion?: string | undefined;
}

export type ToWorker =
  /** `packed`: the batch's rows and outcomes (wire-batch.ts). Answered by one 'acks' when it holds rows. */
  | { type: 'batch'; batch: number; packed: string }
  | { type: 'alert'; seq: number; alert: AlertWrite }
  | { type: 'recent-alerts'; seq: number; since: number }
  | { type: 'access'; seq: number; entry: AccessEntry }
  | { type: 'close' };

export type FromWorker =
  /**
   * The writer is open. A cluster primary's PostgreSQL store (no SQLite file, no signing yet) sends
   * opened and signing null and says where it records.
   */
  | { type: 'ready'; opened: AuditOpenReport | null; signing: SigningState | null; where?: AuditStoreWhere }
  /** Checkpoint signing started or stopped failing (signing-state.ts). */
  | { type: 'signing'; signing: SigningState }
  | { type: 'open-error'; error: WireError }
  | {
      type: 'acks';
      batch: number;
      /** The rows that were not committed, by their place in the batch; the others were. */
      failed: { index: number; error: WireError }[];
      /** The whole batch was refused (it could not be read): none of its rows were committed. */
      error?: WireError;
      healthy: boolean;
      queueDepth: number;
    }
  | { type: 'alert-done'; seq: number; error?: WireError; alerts?: StoredAlert[] }
  | { type: 'access-done'; seq: number; error?: WireError; id?: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string }
  | { type: 'closed'; error?: WireError };

export function errorToWire(err: unknown): WireError {
  if (err instanceof SchoolgateError)
    return { code: err.code, message: err.message, context: err.context, suggestion: err.suggestion };
  return {
    code: 'SG_AUDIT_UNAVAILABLE',
    message: `audit writer failed: ${err instanceof Error ? err.message : String(err)}`,
    context: {},
  };
}

export function errorFromWire(wire: WireError): SchoolgateError {
  return new SchoolgateError(wire.code, wire.message, {
    context: wire.context,
    ...(wire.suggestion ? { suggestion: wire.suggestion } : {}),
  });
}

/** A message relayed for one of a cluster's proxy workers (src/app/cluster/audit-relay.ts): its id and the message as-is. */
export interface Relayed<T> {
  via: number;
  m: T;
}
