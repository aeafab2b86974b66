/**
 * Fault injection on the PostgreSQL audit store: a trigger makes every insert into audit_events fail with
 * disk_full (53100), as a full disk or a broken partition would, while the rest of the database answers.
 * Fail closed: each record() is refused with SG_AUDIT_UNAVAILABLE, and the store keeps saying it is failing
 * (status, /healthz) for as long as rows cannot be written; the trigger dropped, it records again by itself.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { SchoolgateError } from '../../../src/errors.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const NODE = 'gate-1';

const REFUSE_INSERTS = `
  CREATE OR REPLACE FUNCTION sg_fault_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'could not extend file (injected)' USING ERRCODE = 'disk_full'; END $$;
  CREATE TRIGGER sg_fault_disk_full BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION sg_fault_disk_full()`;
const ACCEPT_INSERTS = 'DROP TRIGGER sg_fault_disk_full ON audit_events';

describe.skipIf(!bin)('the PostgreSQL store when inserts into audit_events fail', { timeout: 60_000 }, () => {
  let cluster: PgCluster;
  let store: PostgresAuditStore | null = null;

  beforeAll(async () => {
    cluster = await startPgCluster();
  });

  afterEach(async () => {
    await store?.close().catch(() => undefined);
    store = null;
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const sql = async (url: string, text: string): Promise<pg.QueryResult> => {
    const c = new pg.Client(url);
    await c.connect();
    try {
      return await c.query(text);
    } finally {
      await c.end();
    }
  };

  const recordOne = async (s: PostgresAuditStore): Promise<{ id: string; code: string | null }> => {
    const id = randomUUID();
    try {
      await s.record(auditEvent({ id, time: Date.now() }));
      return { id, code: null };
    } catch (err) {
      return { id, code: err instanceof SchoolgateError ? err.code : `raw: ${String(err)}` };
    }
  };

  /** Resolves once this node's heartbeat has moved last_seen on `beats` times: its probe ran meanwhile. */
  const heartbeats = async (s: PostgresAuditStore, beats: number): Promise<void> => {
    const seen = async () => (await s.nodes()).find((n) => n.name === NODE)?.lastSeenMs ?? Number.NaN;
    let last = await seen();
    for (let i = 0; i < beats;) {
      await new Promise((resolve) => setImmediate(resolve));
      const now = await seen();
      if (now > last) [last, i] = [now, i + 1];
    }
  };

  const open = async (name: string) => {
    const url = await cluster.createDatabase(name);
    store = await PostgresAuditStore.open({ connectionString: url, node: NODE, heartbeatMs: 20 });
    expect((await recordOne(store)).code).toBeNull();
    await sql(url, REFUSE_INSERTS);
    return { url, store };
  };

  it('refuses every record by code, then records again by itself once inserts work', async () => {
    const { url, store: s } = await open('refused_a');
    const during = await Promise.all([0, 1, 2].map(() => recordOne(s)));
    expect(during.map((d) => d.code)).toEqual(Array(3).fill('SG_AUDIT_UNAVAILABLE'));
    expect(s.lastError?.context['pgCode']).toBe('53100');

    await sql(url, ACCEPT_INSERTS);
    const after = await recordOne(s);
    expect(after.code).toBeNull();
    expect(s.healthy).toBe(true);
    const { rows } = await sql(url, 'SELECT id FROM audit_events');
    const stored = new Set(rows.map((r: { id: string }) => r.id));
    expect(stored.has(after.id)).toBe(true);
    expect(during.filter((d) => stored.has(d.id))).toEqual([]);
  });

  // Was a bug: the probe that brings a failing node back committed an empty transaction, which succeeds
  // while inserts still fail, so within one heartbeat the store said healthy (status ok, /healthz 200) though
  // every request was still refused. The probe now inserts a row and rolls it back (trialRow).
  it('keeps saying it is failing across heartbeats while inserts still fail', async () => {
    const { store: s } = await open('refused_b');
    expect((await recordOne(s)).code).toBe('SG_AUDIT_UNAVAILABLE');
    expect(s.healthy).toBe(false);
    await heartbeats(s, 3);
    expect(s.healthy).toBe(false);
    expect(s.failure).toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
    expect((await recordOne(s)).code).toBe('SG_AUDIT_UNAVAILABLE');
  });
});
