/**
 * "Never lose an audit record": SIGKILL a writer at random moments under load. Every id it acknowledged
 * (printed after record() resolved) must be in the database afterwards, the file must pass
 * integrity_check, and a restarted writer must keep writing into the same file.
 *
 * The child imports the compiled store from dist/; `npm test` builds first. Run
 * `npx tsc -p tsconfig.build.json` before running this file on its own.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openAuditReader } from '../../../src/audit/index.js';
import { tempDir } from './helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = join(root, 'test/fixtures/audit-writer.mjs');
const compiled = join(root, 'dist/src/audit/index.js');
const ROUNDS = 10;

const { dir, cleanup } = tempDir('sg-audit-kill-');
afterAll(cleanup);

interface Round {
  acked: string[];
  signal: NodeJS.Signals | null;
}

/** Starts the writer, waits until it has acknowledged some rows, then SIGKILLs it after a random delay. */
function killRound(dbPath: string, checkpointRows?: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const args = [fixture, dbPath, '64', ...(checkpointRows ? [String(checkpointRows)] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: string[] = [];
    let buffered = '';
    let stderr = '';
    let armed = false;
    const watchdog = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer never acknowledged a row; stderr: ${stderr}`));
    }, 15_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line !== 'ready') acked.push(line);
      if (!armed && acked.length > 0) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), 5 + Math.random() * 150);
      }
    });
    // 'close' fires after stdout has been drained, so every id written before the kill is in `acked`.
    child.on('close', (_code, signal) => {
      clearTimeout(watchdog);
      if (buffered.length > 0) acked.push(buffered); // a torn last line is not a full id: checked below
      resolve({ acked, signal });
    });
    child.on('error', reject);
  });
}

describe('audit store under SIGKILL', () => {
  it(`keeps every acknowledged row and a sound file across ${ROUNDS} random kills`, async () => {
    expect(existsSync(compiled), `${compiled} is missing: run npx tsc -p tsconfig.build.json first`).toBe(
      true,
    );
    const dbPath = join(dir, 'audit.db');
    let total = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Every other round checkpoints the WAL on a thread of its own, often, as the serving writer does.
      const { acked, signal } = await killRound(dbPath, round % 2 === 1 ? 50 : undefined);
      expect(signal).toBe('SIGKILL');
      const ids = acked.filter((id) => id.length === 36);
      expect(ids.length).toBeGreaterThan(0);
      const reader = openAuditReader(dbPath);
      try {
        const missing = ids.filter((id) => reader.getRow(id) === undefined);
        expect(missing, `round ${round}: acknowledged ids missing after SIGKILL`).toEqual([]);
        expect(reader.integrityCheck()).toBe('ok');
        const count = reader.countRows();
        expect(count).toBeGreaterThanOrEqual(total + ids.length); // restart appended to the same file
        total = count;
        if (process.env['SG_AUDIT_VERBOSE'])
          console.log(`round ${round}: ${ids.length} acked, ${count} rows`);
      } finally {
        reader.close();
      }
    }
  }, 120_000);
});
