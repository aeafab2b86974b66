/**
 * Audit schema 12 (the request's site) over a log written before it: the old rows keep their hashes and
 * verify, rows written after it carry their site inside the chain, and the whole chain verifies across
 * the upgrade; setting a site on an old row afterwards is named as an edit.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../../src/audit/chain.js';
import { SCHEMA_VERSION } from '../../../src/audit/migrations.js';
import { openSqliteAuditStore } from '../../../src/audit/sqlite-store.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { tempDir } from './helpers.js';

/** The file as schema 11 left it: no site columns or their indexes (schema 13's access-record site too). */
function windBackToSchema11(file: string): void {
  const db = new Database(file);
  try {
    // The ledger's triggers name every report_access column; migration 13 builds them again.
    for (const t of db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger_report_access_%'`)
      .pluck()
      .all() as string[])
      db.exec(`DROP TRIGGER ${t}`);
    db.exec(`DROP INDEX audit_events_site_flagged_time; DROP INDEX alerts_site_first;
      ALTER TABLE audit_events DROP COLUMN site; ALTER TABLE alerts DROP COLUMN site;
      ALTER TABLE report_access DROP COLUMN site;`);
    db.pragma('user_version = 11');
  } finally {
    db.close();
  }
}

function verify(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return verifyChain(db);
  } finally {
    db.close();
  }
}

describe('audit schema 12: the site column over an older log', () => {
  it('verifies old rows unchanged and new sited rows after the upgrade', async () => {
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(12);
    const tmp = tempDir();
    const file = path.join(tmp.dir, 'audit.sqlite');
    let store = openSqliteAuditStore({ path: file });
    for (let i = 0; i < 5; i++)
      await store.record(auditEvent({ id: `old-${i}`, time: 1_764_672_000_000 + i }));
    await store.close();
    windBackToSchema11(file);

    store = openSqliteAuditStore({ path: file });
    await store.record(auditEvent({ id: 'new-north', time: 1_764_672_001_000, site: 'north' }));
    await store.record(auditEvent({ id: 'new-none', time: 1_764_672_001_001 }));
    await store.close();
    const result = verify(file);
    expect(result.ok, JSON.stringify(result)).toBe(true);

    const db = new Database(file);
    try {
      expect(db.prepare(`SELECT site FROM audit_events WHERE id = 'new-north'`).pluck().get()).toBe('north');
      db.prepare(`UPDATE audit_events SET site = 'south' WHERE id = 'old-2'`).run();
    } finally {
      db.close();
    }
    const edited = verify(file);
    expect(edited.ok).toBe(false);
    expect(JSON.stringify(edited)).toContain('old-2');
    tmp.cleanup();
  });
});
