/**
 * Policy replicated through PostgreSQL (PG migration 4): every node's policy files (the state database, the
 * local list layer, the local keywords) as content-addressed rows, and a numbered version per edit whose
 * manifest names the file (name → sha256) each holds. A node publishes only on top of the version it last
 * applied (compare-and-swap under a transaction-scoped advisory lock), so two edits at once never both win:
 * the later one is refused with SG_POLICY_CONFLICT. Each version is announced by NOTIFY schoolgate_policy.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Queryable } from './connect.js';

export const PG_POLICY_MIGRATION = `CREATE TABLE policy_files (
     name    text  NOT NULL,
     sha256  text  NOT NULL,
     content bytea NOT NULL,
     PRIMARY KEY (name, sha256)
   );
   CREATE TABLE policy_versions (
     version  bigserial PRIMARY KEY,
     manifest jsonb       NOT NULL,
     at       timestamptz NOT NULL DEFAULT clock_timestamp(),
     node     text        NOT NULL,
     os_user  text        NOT NULL
   );`;

export const POLICY_CHANNEL = 'schoolgate_policy';

/** Any number: serialises publishers (held to the end of the publishing transaction). */
const PUBLISH_LOCK = 0x5c6a7e02;

/** File name (relative to the data dir, with /) → sha256 of its bytes, hex. */
export type PolicyManifest = Record<string, string>;

export interface PolicyVersion {
  version: number;
  manifest: PolicyManifest;
  at: string;
  node: string;
  osUser: string;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The newest version, or null before any node published. */
export async function latestPolicyVersion(db: Queryable): Promise<PolicyVersion | null> {
  const { rows } = await db.query<{
    version: string | number;
    manifest: PolicyManifest;
    at: Date;
    node: string;
    os_user: string;
  }>('SELECT version, manifest, at, node, os_user FROM policy_versions ORDER BY version DESC LIMIT 1');
  const r = rows[0];
  return r
    ? {
        version: Number(r.version),
        manifest: r.manifest,
        at: r.at.toISOString(),
        node: r.node,
        osUser: r.os_user,
      }
    : null;
}

/** The bytes of the named files at the given hashes; each checked against its hash. */
export async function fetchPolicyFiles(
  db: Queryable,
  wanted: readonly { name: string; sha256: string }[],
): Promise<Map<string, Buffer>> {
  if (wanted.length === 0) return new Map();
  const { rows } = await db.query<{ name: string; sha256: string; content: Buffer }>(
    'SELECT name, sha256, content FROM policy_files WHERE (name, sha256) IN (SELECT * FROM unnest($1::text[], $2::text[]))',
    [wanted.map((w) => w.name), wanted.map((w) => w.sha256)],
  );
  const out = new Map<string, Buffer>();
  for (const r of rows) if (sha256(r.content) === r.sha256) out.set(r.name, r.content);
  const missing = wanted.filter((w) => !out.has(w.name)).map((w) => w.name);
  if (missing.length > 0)
    throw new Error(`policy files missing or damaged in the database: ${missing.join(', ')}`);
  return out;
}

export type PublishOutcome = { published: PolicyVersion } | { conflict: PolicyVersion };

/**
 * Publishes `manifest` as the version after `base` (0: none yet), uploading the files the database lacks.
 * When another version came after `base`, nothing is written and that version is returned as the winner.
 */
export async function publishPolicyVersion(
  client: pg.ClientBase,
  base: number,
  manifest: PolicyManifest,
  files: ReadonlyMap<string, Buffer>,
  by: { node: string; osUser: string },
): Promise<PublishOutcome> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [PUBLISH_LOCK]);
    const latest = await latestPolicyVersion(client);
    if ((latest?.version ?? 0) !== base) {
      await client.query('ROLLBACK');
      if (!latest) throw new Error(`policy version ${base} is gone from the database`);
      return { conflict: latest };
    }
    for (const [name, hash] of Object.entries(manifest)) {
      const content = files.get(name);
      if (!content) continue; // already in the database (unchanged since base)
      await client.query(
        'INSERT INTO policy_files (name, sha256, content) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [name, hash, content],
      );
    }
    const { rows } = await client.query<{ version: string | number; at: Date }>(
      'INSERT INTO policy_versions (manifest, node, os_user) VALUES ($1, $2, $3) RETURNING version, at',
      [JSON.stringify(manifest), by.node, by.osUser],
    );
    const version = Number(rows[0]!.version);
    // Delivered to every listener when this transaction commits, never before.
    await client.query('SELECT pg_notify($1, $2)', [POLICY_CHANNEL, String(version)]);
    await client.query('COMMIT');
    return { published: { version, manifest, at: rows[0]!.at.toISOString(), ...by } };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
