/** The writer-thread audit store the proxy uses: acknowledgements mean committed, failures fail closed. */
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { WorkerAuditStore } from '../../../src/audit/index.js';
import { lastGrantedAccess, listAccess } from '../../../src/audit/report-access.js';
import type { AuditEvent } from '../../../src/audit/types.js';
import { isSchoolgateError } from '../../../src/errors.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { tempDir } from '../../helpers/schoolgate.js';

let n = 0;
function event(overrides: Partial<AuditEvent> = {}): AuditEvent {
  n++;
  return auditEvent({
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    time: Date.now(),
    user: 'pupil1',
    profile: 'pupil',
    categories: ['social'],
    action: 'block',
    rule: 'category:social:example.test',
    reason: 'category',
    status: 403,
    ...overrides,
  });
}

describe('WorkerAuditStore', () => {
  it('resolves record() only once another connection can read the row; close() commits outcomes', async () => {
    const file = path.join(tempDir(), 'audit.sqlite');
    const store = await WorkerAuditStore.open({ path: file, batchMaxRows: 1000 });
    const events = Array.from({ length: 500 }, () => event());
    await Promise.all(events.map((e) => store.record(e)));
    const reader = new Database(file, { readonly: true });
    const count = reader.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number };
    expect(count.n).toBe(500);
    store.complete(events[0]!.id, { status: 200, bytesIn: 10, bytesOut: 2048, durationMs: 5 });
    await store.close();
    const row = reader.prepare('SELECT status, bytes_out FROM audit_events WHERE id = ?').get(events[0]!.id);
    expect(row).toEqual({ status: 200, bytes_out: 2048 });
    reader.close();
    await expect(store.record(event())).rejects.toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
  });

  it('answers each row of one batch for itself: a refused row fails closed, the rows beside it commit', async () => {
    const file = path.join(tempDir(), 'audit.sqlite');
    const store = await WorkerAuditStore.open({ path: file, batchMaxRows: 1000 });
    const good = [event(), event()];
    const bad = { ...event(), action: 'no-such-action' } as unknown as AuditEvent;
    const results = await Promise.allSettled([
      store.record(good[0]!),
      store.record(bad),
      store.record(good[1]!),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
    await store.close();
    const reader = new Database(file, { readonly: true });
    const ids = reader.prepare('SELECT id FROM audit_events ORDER BY seq').pluck().all();
    reader.close();
    expect(ids).toEqual(good.map((e) => e.id));
  });

  it('records a report_access entry on the writer thread; the latest granted one of a command is found', async () => {
    const file = path.join(tempDir(), 'audit.sqlite');
    const store = await WorkerAuditStore.open({ path: file, batchMaxRows: 10 });
    const entry = { by: 'schoolgate', osUser: 'sg', command: 'digest weekly', format: 'email' } as const;
    const first = await store.recordAccess({
      ...entry,
      timeMs: 1_000,
      fromMs: 0,
      toMs: 900,
      outcome: 'granted',
    });
    await store.recordAccess({ ...entry, timeMs: 2_000, fromMs: 900, toMs: 1_900, outcome: 'granted' });
    await store.recordAccess({ ...entry, timeMs: 3_000, outcome: 'refused', reason: 'test' });
    await store.recordAccess({ ...entry, command: 'digest daily', timeMs: 4_000, outcome: 'granted' });
    const reader = new Database(file, { readonly: true });
    expect(listAccess(reader).map((e) => [e.id, e.command, e.timeMs])).toEqual([
      [first, 'digest weekly', 1_000],
      [first + 1, 'digest weekly', 2_000],
      [first + 2, 'digest weekly', 3_000],
      [first + 3, 'digest daily', 4_000],
    ]);
    expect(lastGrantedAccess(reader, 'digest weekly')).toEqual({ timeMs: 2_000, toMs: 1_900 });
    expect(lastGrantedAccess(reader, 'report weekly')).toBeNull();
    reader.close();
    await store.close();
    await expect(store.recordAccess({ ...entry, timeMs: 5_000, outcome: 'granted' })).rejects.toMatchObject({
      code: 'SG_AUDIT_UNAVAILABLE',
    });
  });

  it('refuses to open a database in a read-only folder, naming the path', async () => {
    const dir = path.join(tempDir(), 'ro');
    mkdirSync(dir);
    chmodSync(dir, 0o555);
    const err = await WorkerAuditStore.open({ path: path.join(dir, 'audit.sqlite'), batchMaxRows: 10 }).catch(
      (e: unknown) => e,
    );
    expect(isSchoolgateError(err) && err.code).toBe('SG_AUDIT_UNAVAILABLE');
    expect(String((err as Error).message)).toContain(dir);
  });

  it('fails every waiting and later record closed when the writer thread dies', async () => {
    const store = await WorkerAuditStore.open({
      path: path.join(tempDir(), 'audit.sqlite'),
      batchMaxRows: 10,
    });
    await store.record(event());
    await (store.transport as unknown as { thread: { terminate(): Promise<number> } }).thread.terminate();
    await expect(store.record(event())).rejects.toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
    expect(store.healthy).toBe(false);
    await store.close();
  });
});
