/**
 * The serving writer checkpoints the WAL on a thread of its own (checkpointer.ts): the commits go on while
 * committed pages are copied into the database file, the writer's own checkpoint only bounds the WAL, and a
 * clean close still leaves every row in the database and no WAL behind.
 * Runs the compiled checkpoint thread from dist/ (`npm test` builds first).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openAuditReader, openSqliteAuditStore } from '../../../src/audit/index.js';
import { WRITER_AUTOCHECKPOINT_PAGES } from '../../../src/audit/checkpointer.js';
import { makeEvent, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir('sg-checkpointer-')));
afterEach(() => cleanup());

describe('background WAL checkpoints', () => {
  it('copies committed rows into the database file beside the writer, and closes without a WAL left', async () => {
    const path = join(dir, 'audit.db');
    const store = openSqliteAuditStore({ path, backgroundCheckpointRows: 100 });
    expect(store.pragma('wal_autocheckpoint')).toBe(WRITER_AUTOCHECKPOINT_PAGES);
    const sizeAtOpen = statSync(path).size;
    const ids: string[] = [];
    for (let round = 0; round < 10; round++) {
      const events = Array.from({ length: 50 }, () => makeEvent());
      ids.push(...events.map((e) => e.id));
      await Promise.all(events.map((e) => store.record(e)));
    }
    // The writer's own checkpoint (10,000 pages) cannot have run: only the thread grows the file.
    await vi.waitFor(() => expect(store.backgroundCheckpoints).toBeGreaterThan(0), { timeout: 20_000 });
    expect(statSync(path).size).toBeGreaterThan(sizeAtOpen);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reader = openAuditReader(path);
    try {
      expect(ids.filter((id) => reader.getRow(id) === undefined)).toEqual([]);
      expect(reader.integrityCheck()).toBe('ok');
    } finally {
      reader.close();
    }
  });

  it('leaves SQLite its own checkpoint when not asked for a thread', () => {
    const store = openSqliteAuditStore({ path: join(dir, 'plain.db') });
    expect(store.pragma('wal_autocheckpoint')).toBe(1000);
    expect(store.backgroundCheckpoints).toBe(0);
    return store.close();
  });
});
