/**
 * `store:` in the config: where the audit record lives. 'sqlite' (the default) is one school's file beside
 * the data; `{ postgres: … }` is a shared PostgreSQL for several nodes (issue 18). The connection is a URL
 * or its parts; the password is read from a file (0600), never written in the config.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { z } from 'zod';
import type { PgConnectOptions } from './connect.js';
import { POLICY_VERSIONS_KEPT } from './policy.js';

/** A node's name: its chain in the shared record (config store.postgres.node, serve --node). */
export const NODE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

const postgresSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
      .optional()
      .describe('postgres://user@host:port/database. Put the password in passwordFile, not here.'),
    host: z.string().min(1).optional().describe('The server, when url is not given.'),
    port: z.number().int().min(1).max(65535).default(5432).describe('Its port, when url is not given.'),
    database: z.string().min(1).optional().describe('The database, when url is not given.'),
    user: z.string().min(1).optional().describe('The account, when url is not given.'),
    passwordFile: z
      .string()
      .min(1)
      .optional()
      .describe('A file (mode 0600) holding the account’s password on its first line.'),
    tls: z
      .union([
        z.boolean(),
        z.strictObject({
          caFile: z.string().min(1).describe('The CA that signed the server’s certificate (PEM).'),
        }),
      ])
      .default(false)
      .describe(
        'Connect with TLS: true (the system’s CAs), { caFile } (a private CA), or false (a local socket or a trusted network).',
      ),
    node: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/)
      .optional()
      .describe(
        'This node’s name, its own hash chain in the shared record (default: the host name; `serve --node NAME` overrides it).',
      ),
    policyVersionsKept: z
      .number()
      .int()
      .min(2)
      .max(100_000)
      .default(POLICY_VERSIONS_KEPT)
      .describe(
        'How many of the newest shared policy versions the database keeps (older ones and their files are pruned at each publish); a version a node still runs is always kept.',
      ),
  })
  .refine((p) => p.url !== undefined || (p.host !== undefined && p.database !== undefined), {
    message: 'give url, or host and database',
  });

export const storeSchema = z
  .union([z.literal('sqlite'), z.strictObject({ postgres: postgresSchema })])
  .default('sqlite')
  .describe(
    'Where the audit record is kept: sqlite (default; one school, a file beside the data) or ' +
      '{ postgres: { url | host/port/database/user, passwordFile, tls, node, policyVersionsKept } } for several nodes sharing one database ' +
      '(policyVersionsKept: how many shared policy versions the database keeps, default 50; a version a node still runs is always kept).',
  );

export type StoreConfig = z.output<typeof storeSchema>;
export type PostgresConfig = z.output<typeof postgresSchema>;

/** The node name: the configured one, else the host name. */
export function nodeName(pg: Pick<PostgresConfig, 'node'>): string {
  return pg.node ?? os.hostname();
}

/** The pool options for the configured server; reads the password file. */
export function connectOptions(pg: PostgresConfig): PgConnectOptions {
  const password = pg.passwordFile ? readFileSync(pg.passwordFile, 'utf8').split(/\r?\n/)[0] : undefined;
  const ssl =
    pg.tls === false
      ? undefined
      : pg.tls === true
        ? { rejectUnauthorized: true }
        : { ca: readFileSync(pg.tls.caFile, 'utf8') };
  return {
    ...(pg.url ? { connectionString: pg.url } : { host: pg.host!, port: pg.port, database: pg.database! }),
    ...(pg.user ? { user: pg.user } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(ssl ? { ssl } : {}),
  };
}
