/** The audit box's public API. Other boxes import from here, never from the files behind it. */
export type { AuditAction, AuditEvent, AuditOutcome, AuditStore } from './types.js';
export {
  openSqliteAuditStore,
  SqliteAuditStore,
  DEFAULT_BATCH_MAX_ROWS,
  DEFAULT_BUSY_TIMEOUT_MS,
  type AuditLogger,
  type AuditStoreStats,
  type SqliteAuditStoreOptions,
} from './sqlite-store.js';
export { WorkerAuditStore } from './worker-store.js';
export type { BatchReport } from './batch-queue.js';
export { openAuditReader, type AuditReader } from './reader.js';
export type { StoredAuditRow } from './row-mapping.js';
export { SCHEMA_VERSION } from './migrations.js';
export {
  ackAlert,
  getAlert,
  queryAlerts,
  ALERT_AUDIT_IDS_KEPT,
  type AlertQuery,
  type AlertWrite,
  type StoredAlert,
  type StoredAlertStatus,
} from './alerts-table.js';
export type { AuditOpenReport } from './open-checked.js';
export type { SetAsideRecord } from './set-aside.js';
export { headFilePath } from './head-file.js';
