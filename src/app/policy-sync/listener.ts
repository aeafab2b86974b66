/**
 * A dedicated PostgreSQL connection that LISTENs on schoolgate_policy (a pooled connection cannot: LISTEN
 * belongs to one session). A lost connection is opened again after a pause that grows to 10 s; each
 * (re)connect is reported too, because notifications sent while it was down are lost.
 */
import pg from 'pg';
import { serverConfig, type PgConnectOptions } from '../../audit/postgres/connect.js';
import { POLICY_CHANNEL } from '../../audit/postgres/policy.js';

const MAX_PAUSE_MS = 10_000;

export interface PolicyListener {
  /** Whether the LISTEN connection is up now (for `status`). */
  readonly listening: boolean;
  close(): Promise<void>;
}

export function listenForPolicy(
  opts: PgConnectOptions,
  on: { notified: (version: number) => void; connected: () => void; lost: (err: Error) => void },
): PolicyListener {
  let client: pg.Client | null = null;
  let listening = false;
  let closed = false;
  let pause = 500;
  let timer: NodeJS.Timeout | undefined;

  const retry = (err: Error) => {
    listening = false;
    const c = client;
    client = null;
    c?.removeAllListeners();
    c?.on('error', () => undefined);
    void c?.end().catch(() => undefined);
    if (closed) return;
    on.lost(err);
    timer = setTimeout(connect, pause);
    timer.unref();
    pause = Math.min(pause * 2, MAX_PAUSE_MS);
  };

  const connect = () => {
    if (closed) return;
    const c = new pg.Client({
      ...serverConfig(opts),
      connectionTimeoutMillis: opts.timeoutMs ?? 10_000,
      // Keepalive notices a server that vanished without closing the connection.
      keepAlive: true,
    });
    client = c;
    c.on('error', (err) => retry(err));
    c.on('end', () => retry(new Error('the LISTEN connection was closed')));
    c.on('notification', (msg) => {
      const version = Number(msg.payload);
      if (msg.channel === POLICY_CHANNEL && Number.isSafeInteger(version)) on.notified(version);
    });
    c.connect()
      .then(() => c.query(`LISTEN ${POLICY_CHANNEL}`))
      .then(() => {
        if (client !== c) return;
        listening = true;
        pause = 500;
        on.connected();
      })
      .catch((err: Error) => {
        if (client === c) retry(err);
      });
  };

  connect();
  return {
    get listening() {
      return listening;
    },
    close: async () => {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = null;
      listening = false;
      c?.removeAllListeners();
      c?.on('error', () => undefined);
      await c?.end().catch(() => undefined);
    },
  };
}
