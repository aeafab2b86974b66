/**
 * A request Node's parser refuses while another connection holds the audit database's write lock (a CLI
 * purge batch, say) still gets its 400 and its row (issue 11 item 6): the row waits for the lock (the
 * writer's busy timeout), and the 400 waits for the row, never the other way round.
 */
import net from 'node:net';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import type { AuditEvent } from '../../../src/audit/types.js';
import { parseRaw } from '../../helpers/raw-http.js';
import { tempDir, testConfig } from '../../helpers/schoolgate.js';
import { proxyWithOrigin } from './harness.js';

const t = proxyWithOrigin((P) => testConfig({ httpPorts: [P] }, tempDir('schoolgate-locked-')));

describe('a malformed request while the audit database is locked', () => {
  it.each([
    ['a bad method token', 'G@T http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n'],
    ['a header name with a space', 'GET http://allowed.test/ HTTP/1.1\r\nHost : allowed.test\r\n\r\n'],
  ])(
    '%s: the 400 comes only after the row, which is committed once the lock is released',
    async (_what, bytes) => {
      const { sg, audit } = t;
      const mark = audit.mark();
      const lock = new Database(sg.auditPath);
      lock.exec('BEGIN IMMEDIATE');
      // The proxy hands the reject row to the store: from then on it waits for the commit.
      let handed!: (row: AuditEvent) => void;
      const rowHanded = new Promise<AuditEvent>((resolve) => (handed = resolve));
      const record = sg.audit.record.bind(sg.audit);
      const spy = vi.spyOn(sg.audit, 'record').mockImplementation((row) => {
        handed(row);
        return record(row);
      });
      const socket = net.connect({ host: '127.0.0.1', port: sg.address.port });
      const chunks: Buffer[] = [];
      // Read when the answer arrives: an answer sent before its row (while the lock is held) finds none.
      let rowsWhenAnswered: number | undefined;
      socket.on('data', (c: Buffer) => {
        rowsWhenAnswered ??= audit.since(mark).length;
        chunks.push(c);
      });
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      try {
        socket.write(bytes);
        const row = await rowHanded;
        expect(row).toMatchObject({ action: 'reject', status: 400 });
        expect(Buffer.concat(chunks).length, 'nothing answered before the row is committed').toBe(0);
      } finally {
        lock.exec('ROLLBACK');
        lock.close();
        spy.mockRestore();
      }
      await closed;
      const answer = parseRaw(Buffer.concat(chunks).toString('latin1'), true);
      expect(answer.status).toBe(400);
      expect(rowsWhenAnswered, 'the row was committed before the 400 was sent').toBe(1);
      expect(audit.since(mark)).toMatchObject([
        { action: 'reject', status: 400, reason: expect.stringMatching(/^bad-request:hpe_/) },
      ]);
    },
  );
});
