/**
 * A node started while PostgreSQL is stopped does not exit: it listens and answers every request with the
 * 503 page naming SG_AUDIT_UNAVAILABLE (as when the database goes away later), `status` says FAILING since
 * when, and once the server is started the node migrates the new database and serves and records by itself.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { StatusReport } from '../../../src/app/status.js';
import { controlRequest } from '../../../src/app/control.js';
import { PG_SCHEMA_VERSION } from '../../../src/audit/postgres/schema.js';
import { statusLines } from '../../../src/cli/commands/control.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { rawExchange, viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

describe.skipIf(!bin)('serve started while PostgreSQL is down', () => {
  let cluster: PgCluster;
  let origin: Origin;
  let proxy: RunningSchoolgate | undefined;

  beforeAll(async () => {
    cluster = await startPgCluster();
    origin = await startOrigin();
  });

  afterAll(async () => {
    await proxy?.stop().catch(() => undefined);
    await origin?.close();
    await cluster?.stop();
  });

  it('serves 503 SG_AUDIT_UNAVAILABLE, says FAILING in status, and recovers when the server starts', async () => {
    const url = await cluster.createDatabase('late');
    await cluster.stopServer();
    const config = testConfig({
      httpPorts: [origin.port],
      store: { postgres: { url, node: 'gate-late' } },
    });
    proxy = await startTestProxy(config);
    const port = proxy.address.port;

    const refused = await viaProxy(port, `http://allowed.test:${origin.port}/while-down`);
    expect(refused.status).toBe(503);
    expect(refused.body).toContain('SG_AUDIT_UNAVAILABLE');
    const health = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(health.status).toBe(503);
    const failing = await controlRequest<StatusReport>(config.dataDir, 'status');
    expect(failing.auditStore?.failure).toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
    expect(statusLines(failing).join('\n')).toMatch(
      /audit store {4}postgres \S+ node gate-late: FAILING \(SG_AUDIT_UNAVAILABLE\) since \d{4}-/,
    );

    await cluster.startServer();
    // The first request after the start reaches the server (no wait for the heartbeat): ask until served.
    let served = { status: 0, body: '' };
    let path = '';
    for (let i = 0; served.status !== 200; i++) {
      expect(i).toBeLessThan(1000);
      path = `/after-${i}`;
      served = await viaProxy(port, `http://allowed.test:${origin.port}${path}`);
      if (served.status !== 200) expect(served.status).toBe(503);
    }
    const db = new pg.Client(url);
    await db.connect();
    try {
      const rows = (await db.query('SELECT node, path FROM audit_events')).rows;
      expect(rows).toContainEqual({ node: 'gate-late', path });
      expect(rows.map((r) => r.path)).not.toContain('/while-down');
      const version = (await db.query('SELECT version FROM schema_version')).rows[0].version;
      expect(version).toBe(PG_SCHEMA_VERSION);
      expect((await db.query('SELECT name FROM nodes')).rows).toEqual([{ name: 'gate-late' }]);
    } finally {
      await db.end();
    }
    expect((await controlRequest<StatusReport>(config.dataDir, 'status')).auditStore?.failure).toBeNull();
  });

  it('still refuses to start on a fault that is not an outage (no such database)', async () => {
    const config = testConfig({
      httpPorts: [origin.port],
      store: { postgres: { url: `postgres://postgres@127.0.0.1:${cluster.port}/missing`, node: 'x' } },
    });
    await expect(startTestProxy(config)).rejects.toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
  });
});
