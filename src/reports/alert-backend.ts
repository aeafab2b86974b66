/**
 * Where `alerts list | show | ack` and the console's alerts pages read, acknowledge and record, whichever
 * store config.store names. On SQLite: the node's file (the alerts, the access record, the cases). On
 * PostgreSQL: the shared database, so a trust's DSL sees and acknowledges every node's alerts, each read
 * recorded first in PostgreSQL's report_access; a record that cannot be written there is SG_AUDIT_UNAVAILABLE
 * and nothing is read.
 */
import { sqliteAlertStore, type AlertStore } from '../audit/alert-store.js';
import { getCase, type CaseRecord } from '../audit/cases.js';
import { recordAccess } from '../audit/report-access.js';
import type { ReadonlyConfig } from '../config/load.js';
import { failingClosed } from './access-recorder.js';
import { referencedRows, type ReferencedRow } from './alert-views.js';
import type { AccessRecorder, AuditReads } from './audit-reads.js';
import { openAdmin, openSource, sourceOn } from './run.js';
import type { ReportSource } from './source.js';

export interface AlertBackend {
  readonly alerts: AlertStore;
  /** The store's report_access. */
  readonly recorder: AccessRecorder;
  /** A case a read is made under, from the store `case open` keeps it in. */
  caseOf(ref: string): Promise<CaseRecord | null>;
  /** What the text views render with (time zone, categories), over this store. */
  source(now: number): Promise<ReportSource>;
  /** The audit rows an alert references, oldest first; ids no longer in the record (purged) left out. */
  referencedRows(ids: readonly string[]): Promise<ReferencedRow[]>;
}

/** Runs `fn` on the configured store's alerts, closed after it. */
export async function withAlertBackend<T>(
  config: ReadonlyConfig,
  fn: (b: AlertBackend) => Promise<T>,
): Promise<T> {
  return config.store === 'sqlite' ? onSqlite(config, fn) : onPostgres(config, fn);
}

async function onSqlite<T>(config: ReadonlyConfig, fn: (b: AlertBackend) => Promise<T>): Promise<T> {
  const db = openAdmin(config);
  const opened: { close(): void }[] = [];
  try {
    return await fn({
      alerts: sqliteAlertStore(db),
      recorder: { store: 'sqlite', record: async (e) => recordAccess(db, e), close: async () => {} },
      caseOf: async (ref) => getCase(db, ref) ?? null,
      source: async (now) => {
        const src = await openSource(config, now);
        opened.push(src.db);
        return src;
      },
      referencedRows: async (ids) => referencedRows(db, ids),
    });
  } finally {
    for (const o of opened) o.close();
    db.close();
  }
}

async function onPostgres<T>(config: ReadonlyConfig, fn: (b: AlertBackend) => Promise<T>): Promise<T> {
  const { openPgReportStore } = await import('../audit/postgres/report-reads.js');
  const store = await openPgReportStore(config);
  try {
    return await fn({
      alerts: store.alerts,
      recorder: failingClosed(store.recorder),
      caseOf: async (ref) => (await store.cases.get(ref)) ?? null,
      source: (now) => sourceOn(config, store.reads, now),
      referencedRows: (ids) => pgReferencedRows(store.reads, ids),
    });
  } finally {
    await store.close();
  }
}

/** referencedRows on PostgreSQL: each id by the store's row lookup (at most ALERT_AUDIT_IDS_KEPT). */
async function pgReferencedRows(reads: AuditReads, ids: readonly string[]): Promise<ReferencedRow[]> {
  const found = await Promise.all([...new Set(ids)].map((id) => reads.rowById(id)));
  return found
    .filter((r) => r !== null)
    .sort((a, b) => a.time_ms - b.time_ms || order(a) - order(b))
    .map((r) => ({
      id: r.id,
      timeMs: r.time_ms,
      action: r.action,
      host: r.host,
      path: r.path,
      searchTerm: r.search_term,
    }));
}

/** Rows at the same millisecond in the order they were written (a node's seq). */
const order = (r: { seq: number | null }) => r.seq ?? 0;
