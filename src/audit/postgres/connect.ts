/**
 * A pg pool for the audit store, verify and `store migrate`: every commit is durable before it returns
 * (synchronous_commit = on, whatever the server's default), a query that hangs fails instead of holding a
 * request forever, and bigint columns come back as numbers, as SQLite gives them, so the chain hashes
 * (JSON of the values) are the same on both engines. Epoch ms and seq stay far below 2^53.
 */
import pg from 'pg';

const INT8_OID = 20;

export interface PgConnectOptions {
  /** postgres://user@host:port/database, or the parts below. */
  connectionString?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  ssl?: pg.ClientConfig['ssl'];
  /** Most connections. Default 4. */
  max?: number;
  /** How long a connect or a query may take before it fails. Default 10000 ms. */
  timeoutMs?: number;
}

/** Type parsers with bigint as a number; also passed per query by readers given someone else's client. */
export const BIGINT_AS_NUMBER: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Where and as whom to connect: shared by the pool and single clients (the policy LISTEN connection). */
export function serverConfig(opts: PgConnectOptions): pg.ClientConfig {
  return {
    ...(opts.connectionString ? { connectionString: opts.connectionString } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.port ? { port: opts.port } : {}),
    ...(opts.database ? { database: opts.database } : {}),
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    ...(opts.ssl !== undefined ? { ssl: opts.ssl } : {}),
  };
}

export function pgPool(opts: PgConnectOptions): pg.Pool {
  const timeout = opts.timeoutMs ?? 10_000;
  const pool = new pg.Pool({
    ...serverConfig(opts),
    max: opts.max ?? 4,
    connectionTimeoutMillis: timeout,
    query_timeout: timeout,
    // schoolgate.writer: the ledger's triggers (ledger.ts) mark a change from any other session "by hand".
    options: '-c synchronous_commit=on -c schoolgate.writer=on',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection dropped by the server (a restart) must not crash the process: the next query reconnects.
  pool.on('error', () => undefined);
  // Nor one dropped while checked out between two queries (the server stopped mid-batch): its next query
  // fails, the batch is refused, and the client is discarded on release.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** A pool or one client: what the read-only helpers need. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.ClientBase;

/** host:port/database for `status` and the log: never the user or the password. */
export function describeServer(opts: PgConnectOptions): string {
  if (opts.connectionString) {
    try {
      const url = new URL(opts.connectionString);
      const host = url.hostname || url.searchParams.get('host') || 'localhost';
      return `${host}:${url.port || 5432}${url.pathname}`;
    } catch {
      return '(unparsable url)';
    }
  }
  return `${opts.host ?? 'localhost'}:${opts.port ?? 5432}/${opts.database ?? ''}`;
}
