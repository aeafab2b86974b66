/**
 * `status` names the audit store on SQLite (the default) as it does on PostgreSQL
 * (test/integration/postgres/serve-on-postgres.test.ts), and `--node` is refused without a PostgreSQL store.
 */
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/app/control.js';
import { startSchoolgate } from '../../../src/app/start.js';
import type { StatusReport } from '../../../src/app/status.js';
import { statusLines } from '../../../src/cli/commands/control.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

describe('the audit store in status', () => {
  it('shows sqlite <path>: ok by default, with the start check', async () => {
    const config = testConfig();
    const proxy = await startTestProxy(config);
    try {
      const s = await controlRequest<StatusReport>(config.dataDir, 'status');
      expect(s.auditStore).toEqual({ kind: 'sqlite', path: proxy.auditPath, failure: null, off: [] });
      expect(s.auditDatabase).not.toBeNull();
      expect(statusLines(s)).toContain(`audit store    sqlite ${proxy.auditPath}: ok`);
      expect(proxy.audit.where).toEqual({ kind: 'sqlite', path: proxy.auditPath });
    } finally {
      await proxy.stop();
    }
  });

  it('shows FAILING with the code and since when once the SQLite writer is gone', async () => {
    const config = testConfig();
    const proxy = await startTestProxy(config);
    try {
      const writer = (proxy.audit as unknown as { transport: { thread: Worker } }).transport.thread;
      const gone = new Promise((resolve) => writer.once('exit', resolve));
      await writer.terminate();
      await gone;
      const s = await controlRequest<StatusReport>(config.dataDir, 'status');
      expect(s.auditStore?.failure).toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
      expect(statusLines(s).join('\n')).toMatch(
        /audit store {4}sqlite \S+: FAILING \(SG_AUDIT_UNAVAILABLE\) since \d{4}-\d\d-\d\dT/,
      );
    } finally {
      await proxy.stop();
    }
  });

  it('refuses serve --node on the SQLite store', async () => {
    const config = testConfig();
    await expect(
      startSchoolgate(config, pino({ level: 'silent' }), { node: 'gate-1' }),
    ).rejects.toMatchObject({
      code: 'SG_ARGUMENT_INVALID',
    });
  });
});
