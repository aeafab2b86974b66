/**
 * `serve` with store: { postgres } against a private cluster (test/helpers/pg-cluster.ts): allowed and
 * blocked requests through the proxy become rows under this node's name; the cluster stopped under
 * requests gives the 503 page with SG_AUDIT_UNAVAILABLE and `status` FAILING; started again, the node
 * serves and records by itself; no row is missing for a 2xx or 403 the client saw.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { StatusReport } from '../../../src/app/status.js';
import { controlRequest } from '../../../src/app/control.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { statusLines } from '../../../src/cli/commands/control.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { ownPage, rawExchange, viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const NODE = 'gate-1';

interface Seen {
  host: string;
  path: string;
  status: number;
  body: string;
}

describe.skipIf(!bin)('serve on PostgreSQL', () => {
  let cluster: PgCluster;
  let url: string;
  let origin: Origin;
  let proxy: RunningSchoolgate;
  let dataDir: string;
  const seen: Seen[] = [];
  let n = 0;

  /** One request with a path of its own, so its row can be found. */
  const request = async (host: 'allowed.test' | 'www.facebook.com'): Promise<Seen> => {
    const path = `/r${++n}`;
    const res = await viaProxy(proxy.address.port, `http://${host}:${origin.port}${path}`).catch(
      (err: Error) => ({ status: 0, body: err.message }),
    );
    const s = { host, path, status: res.status, body: res.body };
    seen.push(s);
    return s;
  };

  const status = () => controlRequest<StatusReport>(dataDir, 'status');

  const rowsIn = async (): Promise<{ node: string; host: string; path: string; action: string }[]> => {
    const db = new pg.Client(url);
    await db.connect();
    try {
      return (await db.query('SELECT node, host, path, action FROM audit_events ORDER BY seq')).rows;
    } finally {
      await db.end();
    }
  };

  beforeAll(async () => {
    cluster = await startPgCluster();
    url = await cluster.createDatabase('serving');
    origin = await startOrigin();
    const config = testConfig({
      httpPorts: [origin.port],
      store: { postgres: { url, node: NODE } },
    });
    dataDir = config.dataDir;
    proxy = await startTestProxy(config);
  });

  afterAll(async () => {
    await proxy?.stop().catch(() => undefined);
    await origin?.close();
    await cluster?.stop();
  });

  it('records allowed and blocked requests in PostgreSQL under the node name; status names the store', async () => {
    const allowed = await request('allowed.test');
    const blocked = await request('www.facebook.com');
    expect(allowed.status).toBe(200);
    expect(blocked.status).toBe(403);
    const rows = await rowsIn();
    expect(rows).toEqual([
      { node: NODE, host: 'allowed.test', path: allowed.path, action: 'allow' },
      { node: NODE, host: 'www.facebook.com', path: blocked.path, action: 'block' },
    ]);
    const s = await status();
    expect(s.auditStore).toMatchObject({ kind: 'postgres', node: NODE, failure: null });
    expect(s.auditDatabase).toBeNull();
    const server = `127.0.0.1:${cluster.port}/serving`;
    expect(statusLines(s)).toContain(`audit store    postgres ${server} node ${NODE}: ok`);
    expect(s.auditStore?.nodes).toMatchObject([{ name: NODE }]);
  });

  it('lists every node sharing the database with its last heartbeat', async () => {
    const other = await PostgresAuditStore.open({ connectionString: url, node: 'gate-2', heartbeatMs: 20 });
    try {
      const seenAt = async () =>
        (await other.nodes()).find((n) => n.name === 'gate-2')?.lastSeenMs ?? Number.NaN;
      const registered = await seenAt();
      // Its heartbeat moves last_seen on: wait for that, not for a time.
      while ((await seenAt()) <= registered) await new Promise((resolve) => setImmediate(resolve));
      const s = await status();
      const nodes = s.auditStore?.nodes;
      expect(Array.isArray(nodes) && nodes.map((n) => n.name)).toEqual([NODE, 'gate-2']);
      const lines = statusLines(s);
      expect(
        lines.some((l) => /^ {2}node gate-1 \(this node\): last seen \d+ s ago, started \d{4}-/.test(l)),
      ).toBe(true);
      expect(lines.some((l) => /^ {2}node gate-2: last seen \d+ s ago/.test(l))).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('fails closed while the database is stopped under requests, then recovers by itself', async () => {
    // Four clients requesting in a loop until told to stop.
    let running = true;
    const answered: Seen[] = [];
    let firstRefusal: (() => void) | null = null;
    const refused = new Promise<void>((resolve) => (firstRefusal = resolve));
    let twentyAnswered: (() => void) | null = null;
    const warmed = new Promise<void>((resolve) => (twentyAnswered = resolve));
    const client = async (i: number) => {
      while (running) {
        const s = await request(i % 2 ? 'allowed.test' : 'www.facebook.com');
        answered.push(s);
        if (answered.length >= 20) twentyAnswered?.();
        if (s.status === 503) firstRefusal?.();
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    await warmed;
    await cluster.stopServer();
    await refused;
    // Stopped: every new request is refused with the page naming the code.
    const during = await request('allowed.test');
    expect(during.status).toBe(503);
    expect(during.body).toContain('SG_AUDIT_UNAVAILABLE');
    running = false;
    await Promise.all(clients);

    const failing = await status();
    expect(failing.auditStore?.failure).toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
    expect(failing.auditStore?.failure?.sinceMs).toBeLessThanOrEqual(Date.now());
    // The other nodes cannot be read either: said so, not left out.
    expect(failing.auditStore?.nodes).toMatchObject({ error: expect.any(String) });
    expect(statusLines(failing).join('\n')).toMatch(
      /audit store {4}postgres \S+ node gate-1: FAILING \(SG_AUDIT_UNAVAILABLE\) since \d{4}-/,
    );
    const health = await rawExchange(
      proxy.address.port,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(health.status).toBe(503);

    await cluster.startServer();
    // Back: the next requests are served and recorded, without a restart.
    const after = await request('allowed.test');
    expect(after.status).toBe(200);
    const afterBlock = await request('www.facebook.com');
    expect(afterBlock.status).toBe(403);
    expect((await status()).auditStore?.failure).toBeNull();
    expect(JSON.parse(await ownPage(proxy.address.port, '/healthz'))).toMatchObject({ status: 'ok' });

    // No row missing for any answer a client saw as served or blocked.
    const rows = await rowsIn();
    const recorded = new Set(rows.map((r) => `${r.host}${r.path}`));
    const shown = seen.filter((s) => s.status === 200 || s.status === 403);
    expect(shown.length).toBeGreaterThan(20);
    expect(shown.filter((s) => !recorded.has(`${s.host}${s.path}`))).toEqual([]);
    expect(new Set(rows.map((r) => r.node))).toEqual(new Set([NODE]));
    expect(seen.some((s) => s.status === 503)).toBe(true);
  });

  it("keeps the alerts engine's alerts in PostgreSQL", async () => {
    const alertsUrl = await cluster.createDatabase('alerting');
    const config = testConfig({
      httpPorts: [origin.port],
      hosts: { 'www.google.com': '127.0.0.1' },
      identity: { networks: [{ cidr: '127.0.0.0/8', profile: 'pupil' }] },
      store: { postgres: { url: alertsUrl, node: NODE } },
    });
    const alerting = await startTestProxy(config);
    try {
      const res = await viaProxy(
        alerting.address.port,
        `http://www.google.com:${origin.port}/search?q=how+to+k1ll+myself`,
      );
      expect(res.status).toBe(200);
    } finally {
      await alerting.stop(); // the engine's writes are done when it stops
    }
    const db = new pg.Client(alertsUrl);
    await db.connect();
    try {
      const { rows } = await db.query('SELECT severity, rule, search_term, audit_ids FROM alerts');
      expect(rows).toMatchObject([
        { severity: 'danger', rule: 'keyword:selfharm', search_term: 'how to k1ll myself' },
      ]);
      const [row] = (await db.query(`SELECT id FROM audit_events WHERE host = 'www.google.com'`)).rows;
      expect(JSON.parse(rows[0].audit_ids)).toEqual([row.id]);
    } finally {
      await db.end();
    }
  });
});
