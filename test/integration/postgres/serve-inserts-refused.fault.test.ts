/**
 * Fault injection on `serve` over PostgreSQL: a trigger makes inserts into audit_events fail with disk_full
 * (53100) while four clients request through the proxy. Fail closed: every answer is 503 naming
 * SG_AUDIT_UNAVAILABLE, or 200/403 with its row committed; the trigger dropped, the node serves and records
 * again without a restart, and the chain verifies.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { StatusReport } from '../../../src/app/status.js';
import { controlRequest } from '../../../src/app/control.js';
import { pgPool } from '../../../src/audit/postgres/connect.js';
import { verifyPostgres } from '../../../src/audit/postgres/verify.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { rawExchange, viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const NODE = 'gate-1';

const REFUSE_INSERTS = `
  CREATE OR REPLACE FUNCTION sg_fault_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'could not extend file (injected)' USING ERRCODE = 'disk_full'; END $$;
  CREATE TRIGGER sg_fault_disk_full BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION sg_fault_disk_full()`;
const ACCEPT_INSERTS = 'DROP TRIGGER sg_fault_disk_full ON audit_events';

interface Seen {
  host: string;
  path: string;
  status: number;
  body: string;
}

describe.skipIf(!bin)(
  'serve on PostgreSQL while inserts into audit_events fail',
  { timeout: 120_000 },
  () => {
    let cluster: PgCluster;
    let url: string;
    let origin: Origin;
    let proxy: RunningSchoolgate;
    let dataDir: string;
    const seen: Seen[] = [];
    let n = 0;

    const request = async (host: 'allowed.test' | 'www.facebook.com'): Promise<Seen> => {
      const path = `/f${++n}`;
      const res = await viaProxy(proxy.address.port, `http://${host}:${origin.port}${path}`).catch(
        (err: Error) => ({ status: 0, body: err.message }),
      );
      const s = { host, path, status: res.status, body: res.body };
      seen.push(s);
      return s;
    };
    const status = () => controlRequest<StatusReport>(dataDir, 'status');
    const healthz = async () =>
      (await rawExchange(proxy.address.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
        .status;
    const sql = async (text: string): Promise<pg.QueryResult> => {
      const c = new pg.Client(url);
      await c.connect();
      try {
        return await c.query(text);
      } finally {
        await c.end();
      }
    };
    /** Resolves once the node's heartbeat has moved its last_seen on `beats` times: an event, not a time. */
    const heartbeats = async (beats: number): Promise<void> => {
      const c = new pg.Client(url);
      await c.connect();
      try {
        const seenAt = async () =>
          Number(
            (await c.query('SELECT last_seen_ms FROM nodes WHERE name = $1', [NODE])).rows[0].last_seen_ms,
          );
        let last = await seenAt();
        for (let i = 0; i < beats;) {
          await new Promise((resolve) => setImmediate(resolve));
          const now = await seenAt();
          if (now > last) [last, i] = [now, i + 1];
        }
      } finally {
        await c.end();
      }
    };
    /** Every 200/403 a client saw without its row (the invariant: none). */
    const answeredWithoutRow = async (): Promise<Seen[]> => {
      const { rows } = await sql('SELECT host, path FROM audit_events');
      const recorded = new Set(rows.map((r: { host: string; path: string }) => `${r.host}${r.path}`));
      return seen.filter(
        (s) => (s.status === 200 || s.status === 403) && !recorded.has(`${s.host}${s.path}`),
      );
    };

    beforeAll(async () => {
      cluster = await startPgCluster();
      url = await cluster.createDatabase('refusing');
      origin = await startOrigin();
      const config = testConfig({ httpPorts: [origin.port], store: { postgres: { url, node: NODE } } });
      dataDir = config.dataDir;
      proxy = await startTestProxy(config);
    });

    afterAll(async () => {
      await proxy?.stop().catch(() => undefined);
      await origin?.close();
      await cluster?.stop();
    });

    it('answers 503 by code or with its row under load, then serves again once inserts work', async () => {
      expect((await request('allowed.test')).status).toBe(200);
      let running = true;
      let onRefused: (() => void) | null = null;
      const refusedTwenty = new Promise<void>((resolve) => (onRefused = resolve));
      let refusals = 0;
      const client = async (i: number) => {
        while (running) {
          const s = await request(i % 2 ? 'allowed.test' : 'www.facebook.com');
          if (s.status === 503 && ++refusals >= 20) onRefused?.();
        }
      };
      const clients = [0, 1, 2, 3].map(client);
      await sql(REFUSE_INSERTS);
      await refusedTwenty;
      running = false;
      await Promise.all(clients);

      const statuses = new Set(seen.map((s) => s.status));
      expect(
        [...statuses].every((c) => [200, 403, 503].includes(c)),
        [...statuses].join(),
      ).toBe(true);
      const refused = seen.filter((s) => s.status === 503);
      expect(refused.filter((s) => !s.body.includes('SG_AUDIT_UNAVAILABLE'))).toEqual([]);
      expect(await answeredWithoutRow()).toEqual([]);

      await sql(ACCEPT_INSERTS);
      // Back without a restart: the next requests are served and recorded.
      expect((await request('allowed.test')).status).toBe(200);
      expect((await request('www.facebook.com')).status).toBe(403);
      expect((await status()).auditStore?.failure).toBeNull();
      expect(await healthz()).toBe(200);
      expect(await answeredWithoutRow()).toEqual([]);

      const pool = pgPool({ connectionString: url });
      try {
        const v = await verifyPostgres(pool);
        expect(v.nodes.map((r) => ({ node: r.node, ok: r.ok }))).toEqual([{ node: NODE, ok: true }]);
      } finally {
        await pool.end();
      }
    });

    // Was a bug: the heartbeat's probe committed an empty transaction, which succeeds while every insert
    // fails: after one heartbeat status said ok and /healthz 200, so a load balancer sent pupils to a node
    // that could only answer 503. The probe now inserts a row and rolls it back.
    it('keeps /healthz at 503 and status FAILING across a heartbeat while inserts fail', async () => {
      await sql(REFUSE_INSERTS);
      try {
        expect((await request('allowed.test')).status).toBe(503);
        expect(await healthz()).toBe(503);
        await heartbeats(2); // its probe ran after the refusal
        expect((await status()).auditStore?.failure).toMatchObject({ code: 'SG_AUDIT_UNAVAILABLE' });
        expect(await healthz()).toBe(503);
      } finally {
        await sql(ACCEPT_INSERTS);
      }
    });
  },
);
