/**
 * Policy replicated through PostgreSQL (PG migrations 6 and 7): every node's policy files (the state database, the
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

/** PG migration 7: the version each node last applied or published, so pruning never drops it. */
export const PG_POLICY_APPLIED_MIGRATION = `CREATE TABLE policy_applied (
     node       text        PRIMARY KEY,
     version    bigint      NOT NULL,
     applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
   );`;

/** How many of the newest versions publishing keeps by default (store.postgres.policyVersionsKept). */
export const POLICY_VERSIONS_KEPT = 50;

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
  keep = POLICY_VERSIONS_KEPT,
): Promise<PublishOutcome & { pruned?: number }> {
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
    await requireFiles(client, manifest);
    const { rows } = await client.query<{ version: string | number; at: Date }>(
      'INSERT INTO policy_versions (manifest, node, os_user) VALUES ($1, $2, $3) RETURNING version, at',
      [JSON.stringify(manifest), by.node, by.osUser],
    );
    const version = Number(rows[0]!.version);
    await recordApplied(client, by.node, version);
    const pruned = await prunePolicyVersions(client, keep);
    // Delivered to every listener when this transaction commits, never before.
    await client.query('SELECT pg_notify($1, $2)', [POLICY_CHANNEL, String(version)]);
    await client.query('COMMIT');
    return { published: { version, manifest, at: rows[0]!.at.toISOString(), ...by }, pruned };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A version may name only files the database holds: one left out of the upload (pruned meanwhile) refuses it. */
async function requireFiles(client: pg.ClientBase, manifest: PolicyManifest): Promise<void> {
  const names = Object.keys(manifest);
  const { rows } = await client.query<{ name: string }>(
    `SELECT m.name FROM unnest($1::text[], $2::text[]) AS m(name, sha256)
     WHERE NOT EXISTS (SELECT 1 FROM policy_files f WHERE f.name = m.name AND f.sha256 = m.sha256)`,
    [names, names.map((n) => manifest[n]!)],
  );
  if (rows.length > 0)
    throw new Error(`policy files missing from the database: ${rows.map((r) => r.name).join(', ')}`);
}

/** This node runs `version` now (upsert): `status` compares it with the newest, pruning keeps it. */
export async function recordApplied(db: Queryable, node: string, version: number): Promise<void> {
  await db.query(
    `INSERT INTO policy_applied (node, version) VALUES ($1, $2)
     ON CONFLICT (node) DO UPDATE SET version = excluded.version, applied_at = excluded.applied_at`,
    [node, version],
  );
}

export interface NodePolicy {
  node: string;
  version: number;
  appliedAt: string;
}

/** The version every node last reported, by node name. */
export async function listAppliedVersions(db: Queryable): Promise<NodePolicy[]> {
  const { rows } = await db.query<{ node: string; version: string | number; applied_at: Date }>(
    'SELECT node, version, applied_at FROM policy_applied ORDER BY node',
  );
  return rows.map((r) => ({
    node: r.node,
    version: Number(r.version),
    appliedAt: r.applied_at.toISOString(),
  }));
}

/**
 * Drops versions older than the newest `keep`, except one a node reports it runs (it publishes on top of
 * it and fetches no file it already holds), then the files no remaining version names. Run inside the
 * publishing transaction, under its lock: no publisher sees a file vanish between its check and its commit.
 */
export async function prunePolicyVersions(client: pg.ClientBase, keep: number): Promise<number> {
  const { rowCount } = await client.query(
    `DELETE FROM policy_versions
     WHERE version <= (SELECT max(version) FROM policy_versions) - $1
       AND version NOT IN (SELECT version FROM policy_applied)`,
    [keep],
  );
  if (!rowCount) return 0;
  await client.query(
    `DELETE FROM policy_files f WHERE NOT EXISTS
       (SELECT 1 FROM policy_versions v WHERE v.manifest ->> f.name = f.sha256)`,
  );
  return rowCount;
}
