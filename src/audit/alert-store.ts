/**
 * Alerts wherever the record is: the node's SQLite file (alerts-table.ts, unchanged) or the shared
 * PostgreSQL database (postgres/alerts.ts), where every node's engine writes. The CLI and the console pick
 * one by config.store (reports/alert-backend.ts) and do not know which; the rules are the same on both.
 */
import type Database from 'better-sqlite3';
import { ackAlert, getAlert, queryAlerts, type AlertQuery, type StoredAlert } from './alerts-table.js';

/** Who acknowledged an alert, when, and what was done. */
export interface AlertAck {
  at: number;
  by: string;
  osUser: string;
  note: string | null;
}

export interface AlertStore {
  /** Newest first (last_ms, then id), as alerts-table.ts queryAlerts. */
  list(q: AlertQuery): Promise<StoredAlert[]>;
  get(id: string): Promise<StoredAlert | null>;
  /**
   * Acknowledges the alert only while it is open, in one step (compare-and-set): of two DSLs acking at
   * once the first wins. False when it was not open (already acknowledged) or is not there.
   */
  ackIfOpen(id: string, ack: AlertAck): Promise<boolean>;
}

export function sqliteAlertStore(db: Database.Database): AlertStore {
  return {
    list: async (q) => queryAlerts(db, q),
    get: async (id) => getAlert(db, id),
    // IMMEDIATE: the write lock is taken before the status is read, so no other ack slips in between.
    ackIfOpen: async (id, ack) =>
      db.transaction(() => getAlert(db, id)?.status === 'open' && ackAlert(db, id, ack)).immediate(),
  };
}
