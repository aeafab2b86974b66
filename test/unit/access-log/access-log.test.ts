/** The access log subscriber: which rows wait for an outcome, the bound on waiting rows, a bad path. */
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AccessLog } from '../../../src/access-log/access-log.js';
import type { AuditEvent } from '../../../src/audit/types.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { readLines } from '../../helpers/file-lines.js';
import { tempDir } from '../../helpers/schoolgate.js';

const logger = pino({ level: 'silent' });

function row(id: string, action: AuditEvent['action']): AuditEvent {
  return auditEvent({ id, host: `${id}.test`, action, status: action === 'block' ? 403 : null });
}

function open(maxPending?: number) {
  const file = path.join(tempDir(), 'access.log');
  const log = new AccessLog({
    path: file,
    format: 'squid',
    context: () => ({ parent: null }),
    logger,
    ...(maxPending ? { maxPending } : {}),
  });
  return { file, log };
}

describe('AccessLog', () => {
  it('writes a proxy-answered row at once and a forwarded row with its outcome', async () => {
    const { file, log } = open();
    log.committed(row('fwd', 'allow'));
    log.committed(row('blk', 'block'));
    log.completed('fwd', { status: 200, bytesIn: 10, bytesOut: 99, durationMs: 5 });
    log.completed('blk', { status: 403, bytesIn: 0, bytesOut: 0, durationMs: 1 }); // already written
    await log.close();
    const lines = readLines(file);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('TCP_DENIED/403 0 GET http://blk.test/');
    expect(lines[1]).toContain('TCP_MISS/200 99 GET http://fwd.test/');
  });

  it('writes the oldest waiting row without its outcome when too many wait, and the rest at close', async () => {
    const { file, log } = open(2);
    for (const id of ['a', 'b', 'c']) log.committed(row(id, 'allow'));
    await log.close();
    expect(readLines(file).map((l) => l.split(' ').at(-4))).toEqual([
      'http://a.test/',
      'http://b.test/',
      'http://c.test/',
    ]);
  });

  it('refuses a path it cannot open, with SG_ACCESS_LOG_UNWRITABLE', () => {
    expect(
      () =>
        new AccessLog({
          path: path.join(tempDir(), 'missing-folder', 'access.log'),
          format: 'squid',
          context: () => ({ parent: null }),
          logger,
        }),
    ).toThrow(expect.objectContaining({ code: 'SG_ACCESS_LOG_UNWRITABLE' }));
  });
});
