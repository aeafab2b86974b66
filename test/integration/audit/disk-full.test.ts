/**
 * A real full disk: a 3 MiB tmpfs. Needs permission to mount (root in a container that allows it); the test
 * is skipped, with the reason printed, where mounting is not permitted. store.test.ts covers the same
 * behaviour everywhere by forcing SQLITE_FULL with PRAGMA max_page_count.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSchoolgateError } from '../../../src/errors.js';
import { openAuditReader, openSqliteAuditStore } from '../../../src/audit/index.js';
import { makeEvent, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('sg-audit-full-');
const mountPoint = join(dir, 'tmpfs');
mkdirSync(mountPoint);
const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mountPoint], { encoding: 'utf8' });
const mounted = mount.status === 0;
if (!mounted) {
  console.warn(
    `disk-full test skipped: cannot mount a tmpfs here (${(mount.stderr || String(mount.error ?? '')).trim()})`,
  );
}

afterAll(() => {
  if (mounted) spawnSync('umount', [mountPoint]);
  cleanup();
});

describe.skipIf(!mounted)('audit store on a full disk (3 MiB tmpfs)', () => {
  it('fails closed with SG_AUDIT_UNAVAILABLE and resumes once space is freed', async () => {
    const path = join(mountPoint, 'audit.db');
    const filler = join(mountPoint, 'filler');
    writeFileSync(filler, Buffer.alloc(768 * 1024));
    const store = openSqliteAuditStore({ path });
    try {
      const acked: string[] = [];
      let failure: unknown;
      for (let i = 0; i < 200 && failure === undefined; i++) {
        const events = Array.from({ length: 20 }, () => makeEvent({ path: `/${'q'.repeat(4000)}` }));
        const results = await Promise.allSettled(events.map((e) => store.record(e)));
        const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (rejected) {
          failure = rejected.reason;
          // A batch is all or nothing.
          expect(results.every((r) => r.status === 'rejected')).toBe(true);
        } else acked.push(...events.map((e) => e.id));
      }
      expect(isSchoolgateError(failure) && failure.code).toBe('SG_AUDIT_UNAVAILABLE');
      expect(isSchoolgateError(failure) && failure.context['sqliteCode']).toBe('SQLITE_FULL');
      expect(store.healthy).toBe(false);
      expect(acked.length).toBeGreaterThan(0);

      unlinkSync(filler);
      await store.record(makeEvent());
      expect(store.healthy).toBe(true);
      expect(store.integrityCheck()).toBe('ok');

      const reader = openAuditReader(path);
      try {
        expect(acked.filter((id) => reader.getRow(id) === undefined)).toEqual([]);
        expect(reader.countRows()).toBe(acked.length + 1);
      } finally {
        reader.close();
      }
    } finally {
      await store.close().catch(() => {});
      rmSync(path, { force: true });
    }
  });
});
