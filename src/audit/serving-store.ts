/**
 * What `serve` needs of its audit store, and no more: the exchange records and completes rows
 * (AuditStore), /healthz and `status` read its health, the alerts engine keeps its alerts in it. SQLite's
 * WorkerAuditStore (the default) and PostgreSQL's PostgresAuditStore (store: { postgres }) both give it;
 * start.ts picks one by config and knows no more than this.
 */
import type { AlertWrite, StoredAlert } from './alerts-table.js';
import type { NodeSeen } from './postgres/nodes.js';
import type { SigningState } from './signing-state.js';
import type { AuditStore } from './types.js';

/** Where the record is kept: what `status` shows. */
export type AuditStoreWhere =
  { kind: 'sqlite'; path: string } | { kind: 'postgres'; server: string; node: string };

/** Why rows cannot be recorded now (requests get the 503 page with `code`), and since when. */
export interface AuditStoreFailure {
  code: string;
  message: string;
  sinceMs: number;
}

export interface ServingAuditStore extends AuditStore {
  readonly where: AuditStoreWhere;
  /** False while commits fail: requests are refused (fail closed) until one succeeds again. */
  readonly healthy: boolean;
  /** The failure while not healthy; null when healthy. */
  readonly failure: AuditStoreFailure | null;
  /** Signed checkpoints' state; null where this store signs none. */
  readonly signing: SigningState | null;
  /** The alerts engine's table (src/alerts/engine.ts AlertTable). */
  writeAlert(alert: AlertWrite): Promise<void>;
  recentAlerts(since: number): Promise<StoredAlert[]>;
  /** The nodes sharing this store and when each was last seen; absent where the store has one node. */
  nodes?(): Promise<NodeSeen[]>;
}

/** When the current run of failures began: each store notes every commit's result here. */
export class FailureClock {
  private sinceMs: number | null = null;

  note(healthy: boolean, nowMs = Date.now()): void {
    if (healthy) this.sinceMs = null;
    else this.sinceMs ??= nowMs;
  }

  /** The failure to show, or null while the last commit succeeded. */
  failure(error: { code: string; message: string } | null): AuditStoreFailure | null {
    if (this.sinceMs === null) return null;
    return {
      code: error?.code ?? 'SG_AUDIT_UNAVAILABLE',
      message: error?.message ?? 'the audit store cannot be written',
      sinceMs: this.sinceMs,
    };
  }
}
