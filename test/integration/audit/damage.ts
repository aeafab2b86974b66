/** Real audit databases, and real damage done to them, for the start-check tests. */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { openSqliteAuditStore } from '../../../src/audit/index.js';
import { makeEvent } from './helpers.js';

/** Writes `rows` audit rows through the real store and closes it cleanly. */
export async function fillAuditDatabase(file: string, rows: number, time = Date.now()): Promise<void> {
  const store = openSqliteAuditStore({ path: file, batchMaxRows: 500 });
  for (let i = 0; i < rows; i += 500)
    await Promise.all(
      Array.from({ length: Math.min(500, rows - i) }, (_, j) =>
        store.record(makeEvent({ time: time + i + j, path: `/page/${i + j}/${'x'.repeat(80)}` })),
      ),
    );
  await store.close();
}

/** 8 KiB of garbage (a fixed pattern, not zeros) over two pages in the middle of the file. */
export function overwriteMiddle(file: string, length = 8192): void {
  const offset = Math.floor(statSync(file).size / 2 / 4096) * 4096;
  const garbage = Buffer.alloc(length, 0);
  for (let i = 0; i < length; i++) garbage[i] = (i * 37 + 11) & 0xff;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, garbage, 0, length, offset);
  } finally {
    closeSync(fd);
  }
}

export function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
