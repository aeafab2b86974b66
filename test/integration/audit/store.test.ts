import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isSchoolgateError } from '../../../src/errors.js';
import {
  openAuditReader,
  openSqliteAuditStore,
  SCHEMA_VERSION,
  type AuditReader,
  type BatchReport,
  type SqliteAuditStore,
} from '../../../src/audit/index.js';
import { makeEvent, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
const toClose: { close(): unknown }[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});

afterEach(async () => {
  for (const c of toClose.splice(0).reverse()) {
    try {
      await c.close();
    } catch {
      // already closed or failed on purpose
    }
  }
  cleanup();
});

function open(
  opts: { batchMaxRows?: number; busyTimeoutMs?: number; onBatch?: (r: BatchReport) => void } = {},
) {
  const store = openSqliteAuditStore({ path: join(dir, 'audit', 'audit.db'), ...opts });
  toClose.push(store);
  return store;
}

function reader(store: SqliteAuditStore): AuditReader {
  const r = openAuditReader(store.path);
  toClose.push(r);
  return r;
}

async function expectUnavailable(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(isSchoolgateError(err) && err.code).toBe('SG_AUDIT_UNAVAILABLE');
  return err as Error;
}

describe('audit store: durability contract', () => {
  it('resolves a record only once another connection can see the committed row', async () => {
    const store = open();
    const r = reader(store);
    const event = makeEvent();
    const pending = store.record(event);
    expect(store.queueDepth).toBe(1);
    expect(r.getRow(event.id)).toBeUndefined(); // queued, not yet committed
    await pending;
    expect(r.getRow(event.id)?.id).toBe(event.id);
    expect(store.queueDepth).toBe(0);
  });

  it('opens in WAL mode with synchronous=FULL', () => {
    const store = open();
    expect(store.pragma('journal_mode')).toBe('wal');
    expect(store.pragma('synchronous')).toBe(2);
    expect(store.integrityCheck()).toBe('ok');
  });

  it('commits many concurrent records in few transactions', async () => {
    const batches: BatchReport[] = [];
    const store = open({ batchMaxRows: 1000, onBatch: (b) => batches.push(b) });
    await Promise.all(Array.from({ length: 2500 }, () => store.record(makeEvent())));
    expect(store.stats.rowsCommitted).toBe(2500);
    expect(store.stats.batches).toBe(3); // 1000 + 1000 + 500
    expect(batches.map((b) => b.records)).toEqual([1000, 1000, 500]);
    expect(reader(store).countRows()).toBe(2500);
  });

  it('commits records issued across one event-loop turn in one transaction', async () => {
    const store = open();
    await Promise.all(Array.from({ length: 300 }, () => store.record(makeEvent())));
    expect(store.stats.batches).toBe(1);
  });

  it('never writes the same id twice', async () => {
    const store = open();
    const event = makeEvent();
    await Promise.all([store.record(event), store.record({ ...event, action: 'allow' })]);
    await store.record(event); // and again in a later batch
    const r = reader(store);
    expect(r.countRows()).toBe(1);
    expect(r.getRow(event.id)?.action).toBe('block'); // the first write wins
  });

  it('round-trips every field, with categories sorted and deduplicated', async () => {
    const store = open();
    const event = makeEvent({
      categories: ['social', 'chat', 'social'],
      device: 'ipad-7',
      port: 443,
      scheme: 'https',
      method: 'CONNECT',
      path: null,
      user: null,
      flagged: false,
      status: null,
      action: 'allow',
      kind: 'tunnel',
      searchTerm: 'how to knit',
      searchEngine: 'google',
      rewrites: ['safe=active'],
      note: 'clicked by accident',
      claimedUser: 'staff1',
      selftestRun: '0b7c3e1e-5a44-4d3a-9f37-2f2f7d0f7c11',
    });
    await store.record(event);
    expect(reader(store).getRow(event.id)).toEqual({
      ...event,
      categories: ['chat', 'social'],
      bytesIn: null,
      bytesOut: null,
      durationMs: null,
      completedMs: null,
    });
    // A report can find rows by category with json_each.
    const db = new Database(store.path, { readonly: true });
    const ids = db
      .prepare(
        `SELECT id FROM audit_events WHERE EXISTS (SELECT 1 FROM json_each(categories) WHERE value = ?)`,
      )
      .pluck()
      .all('chat');
    db.close();
    expect(ids).toEqual([event.id]);
  });

  it('finds a user’s rows in a time range', async () => {
    const store = open();
    const t0 = Date.UTC(2025, 0, 6, 9);
    await Promise.all([
      store.record(makeEvent({ user: 'a', time: t0 })),
      store.record(makeEvent({ user: 'a', time: t0 + 1000 })),
      store.record(makeEvent({ user: 'a', time: t0 + 5000 })),
      store.record(makeEvent({ user: 'b', time: t0 + 1000 })),
    ]);
    const rows = reader(store).rowsForUser('a', t0, t0 + 5000);
    expect(rows.map((r) => r.time)).toEqual([t0, t0 + 1000]);
  });

  it('applies complete() in a later batch without the caller waiting', async () => {
    const store = open();
    const event = makeEvent({ status: null, action: 'allow' });
    await store.record(event);
    store.complete(event.id, { status: 200, bytesIn: 512, bytesOut: 40960, durationMs: 37 });
    expect(store.queueDepth).toBe(1);
    await vi.waitFor(() => expect(store.queueDepth).toBe(0));
    const row = reader(store).getRow(event.id);
    expect(row).toMatchObject({ status: 200, bytesIn: 512, bytesOut: 40960, durationMs: 37 });
    expect(row?.completedMs).toBeTypeOf('number');
    expect(store.stats.updatesCommitted).toBe(1);
  });

  it('keeps the decision-time status when the outcome has none', async () => {
    const store = open();
    const event = makeEvent({ status: 403 });
    await store.record(event);
    store.complete(event.id, { status: null, bytesIn: 1, bytesOut: 2, durationMs: 3 });
    await store.close();
    const r = openAuditReader(store.path);
    expect(r.getRow(event.id)).toMatchObject({ status: 403, bytesIn: 1, bytesOut: 2 });
    r.close();
  });

  it('close() commits everything queued, then refuses new records', async () => {
    const store = open();
    const events = Array.from({ length: 50 }, () => makeEvent());
    const pending = events.map((e) => store.record(e));
    store.complete(events[0]!.id, { status: 200, bytesIn: 1, bytesOut: 1, durationMs: 1 });
    await store.close();
    await Promise.all(pending);
    const r = openAuditReader(store.path);
    expect(r.countRows()).toBe(50);
    expect(r.getRow(events[0]!.id)?.durationMs).toBe(1);
    r.close();
    await expectUnavailable(store.record(makeEvent()));
    await store.close(); // idempotent
  });

  it('rejects a malformed event on its own without failing the batch', async () => {
    const store = open();
    const good = makeEvent();
    const results = await Promise.allSettled([
      store.record(good),
      store.record(makeEvent({ action: 'nonsense' as never })),
    ]);
    expect(results[0]?.status).toBe('fulfilled');
    expect(results[1]?.status).toBe('rejected');
    expect(reader(store).getRow(good.id)).toBeDefined();
  });
});

describe('audit store: failing closed and recovering', () => {
  it('rejects with SG_AUDIT_UNAVAILABLE on SQLITE_FULL, then recovers when space returns', async () => {
    const logs: string[] = [];
    const logger = {
      info: (_: object, m: string) => logs.push(m),
      warn: () => {},
      error: (_: object, m: string) => logs.push(m),
    };
    const store = openSqliteAuditStore({ path: join(dir, 'audit.db'), logger });
    toClose.push(store);
    const before = makeEvent();
    await store.record(before);
    const pages = store.pragma('page_count') as number;
    store.pragma(`max_page_count = ${pages}`);

    const big = (n: number) =>
      Array.from({ length: n }, () => store.record(makeEvent({ path: '/x'.repeat(4000) })));
    const results = await Promise.allSettled(big(20));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const err = (results[0] as PromiseRejectedResult).reason as Error;
    expect(isSchoolgateError(err) && err.code).toBe('SG_AUDIT_UNAVAILABLE');
    expect(isSchoolgateError(err) && err.context['sqliteCode']).toBe('SQLITE_FULL');
    expect(isSchoolgateError(err) && err.suggestion).toMatch(/disk space/);
    expect(store.healthy).toBe(false);
    expect(store.lastError?.code).toBe('SG_AUDIT_UNAVAILABLE');
    expect(store.stats.failedBatches).toBe(1);

    store.pragma('max_page_count = 1073741823');
    await Promise.all(big(20));
    expect(store.healthy).toBe(true);
    expect(store.integrityCheck()).toBe('ok');
    expect(reader(store).countRows()).toBe(21);
    expect(reader(store).getRow(before.id)).toBeDefined();
    expect(logs).toEqual([
      'audit: commit failed; refusing requests until the database is writable',
      'audit: database writable again; accepting requests',
    ]);
  });

  it('rejects when another connection holds the write lock past busy_timeout, then recovers', async () => {
    const store = open({ busyTimeoutMs: 50 });
    const other = new Database(store.path);
    other.exec('BEGIN IMMEDIATE');
    const err = await expectUnavailable(store.record(makeEvent()));
    expect(isSchoolgateError(err) && err.context['sqliteCode']).toBe('SQLITE_BUSY');
    expect(store.healthy).toBe(false);
    other.exec('ROLLBACK');
    other.close();
    await store.record(makeEvent());
    expect(store.healthy).toBe(true);
  });

  it('keeps outcome updates from a failed batch and commits them on recovery', async () => {
    const store = open({ busyTimeoutMs: 20 });
    const event = makeEvent();
    await store.record(event);
    const other = new Database(store.path);
    other.exec('BEGIN IMMEDIATE');
    store.complete(event.id, { status: 200, bytesIn: 5, bytesOut: 6, durationMs: 7 });
    await vi.waitFor(() => expect(store.stats.failedBatches).toBeGreaterThan(0));
    other.exec('ROLLBACK');
    other.close();
    await store.record(makeEvent()); // the next batch carries the retained update
    expect(reader(store).getRow(event.id)).toMatchObject({ bytesIn: 5, bytesOut: 6, durationMs: 7 });
  });
});

describe('audit store: opening', () => {
  it('creates missing parent folders and a versioned schema', () => {
    const store = open();
    expect(store.pragma('user_version')).toBe(SCHEMA_VERSION);
  });

  it('refuses a read-only database file with SG_AUDIT_UNAVAILABLE naming the path', async () => {
    const path = join(dir, 'ro.db');
    await openSqliteAuditStore({ path }).close();
    chmodSync(path, 0o444);
    let thrown: unknown;
    try {
      openSqliteAuditStore({ path });
    } catch (err) {
      thrown = err;
    }
    expect(isSchoolgateError(thrown) && thrown.code).toBe('SG_AUDIT_UNAVAILABLE');
    expect((thrown as Error).message).toContain(path);
    expect((thrown as Error).message).toMatch(/read-only|not writable/);
    expect(isSchoolgateError(thrown) && thrown.suggestion).toMatch(/writable/);
  });

  it('refuses a database in a read-only folder', async () => {
    const sub = join(dir, 'ro');
    const path = join(sub, 'audit.db');
    await openSqliteAuditStore({ path }).close();
    chmodSync(sub, 0o555);
    try {
      expect(() => openSqliteAuditStore({ path })).toThrow(/read-only/);
    } finally {
      chmodSync(sub, 0o755);
    }
  });

  it('refuses a database written by a newer schoolgate', async () => {
    const path = join(dir, 'new.db');
    await openSqliteAuditStore({ path }).close();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => openSqliteAuditStore({ path })).toThrow(/newer/);
  });

  it('reopens an existing database and keeps its rows', async () => {
    const path = join(dir, 'again.db');
    const first = openSqliteAuditStore({ path });
    const event = makeEvent();
    await first.record(event);
    await first.close();
    const second = openSqliteAuditStore({ path });
    toClose.push(second);
    await second.record(makeEvent());
    const r = reader(second);
    expect(r.countRows()).toBe(2);
    expect(r.getRow(event.id)).toBeDefined();
  });
});
