/**
 * Several commands opening a new data dir at once (two technicians' `lists add` on a fresh install) must all
 * get the same, fully migrated state database: none may fail on "table already exists" because it read the
 * schema version before another had migrated it (seen in CI).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { assertBuilt } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/schoolgate.js';

const MODULE = path.resolve('dist/src/state/database.js');
const OPEN = `import(${JSON.stringify(MODULE)}).then((m) => m.openStateDatabase(process.argv[1]).close())`;

function openInChild(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', OPEN, dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('the state database opened by several processes at once', () => {
  it('is migrated once, and every opener succeeds', async () => {
    assertBuilt();
    const versions = new Set<number>();
    for (let round = 0; round < 4; round++) {
      const data = path.join(tempDir(), 'data');
      const runs = await Promise.all(Array.from({ length: 6 }, () => openInChild(data)));
      expect(runs.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
      const db = new Database(path.join(data, 'state.sqlite'), { readonly: true });
      versions.add(db.pragma('user_version', { simple: true }) as number);
      db.close();
    }
    expect(versions.size).toBe(1);
    expect([...versions][0]).toBeGreaterThan(0);
  });
});
