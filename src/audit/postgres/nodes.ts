/**
 * The `nodes` table (PG migration 3): each node serving on the shared database says when it started and,
 * every few seconds, that it is still there, so `status` on any node lists them all with how long ago
 * each was last seen. Times are the database's clock: nodes' own clocks may disagree.
 */
import type { Queryable } from './connect.js';

export const PG_NODES_MIGRATION = `CREATE TABLE nodes (
     name         text   PRIMARY KEY,
     started_ms   bigint NOT NULL,
     last_seen_ms bigint NOT NULL
   );`;

/** How often a serving node updates its last_seen by default. */
export const NODE_HEARTBEAT_MS = 5_000;

export interface NodeSeen {
  name: string;
  startedMs: number;
  lastSeenMs: number;
  /** Milliseconds since last seen, by the database's clock. */
  ageMs: number;
}

const DB_NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** This node starts (again): started and last seen now. */
export async function registerNode(db: Queryable, name: string): Promise<void> {
  await db.query(
    `INSERT INTO nodes (name, started_ms, last_seen_ms) VALUES ($1, ${DB_NOW_MS}, ${DB_NOW_MS})
     ON CONFLICT (name) DO UPDATE SET started_ms = excluded.started_ms, last_seen_ms = excluded.last_seen_ms`,
    [name],
  );
}

export async function touchNode(db: Queryable, name: string): Promise<void> {
  await db.query(`UPDATE nodes SET last_seen_ms = ${DB_NOW_MS} WHERE name = $1`, [name]);
}

export async function listNodes(db: Queryable): Promise<NodeSeen[]> {
  const { rows } = await db.query<{ name: string; started_ms: number; last_seen_ms: number; age_ms: number }>(
    `SELECT name, started_ms, last_seen_ms, ${DB_NOW_MS} - last_seen_ms AS age_ms FROM nodes ORDER BY name`,
  );
  return rows.map((r) => ({
    name: r.name,
    startedMs: Number(r.started_ms),
    lastSeenMs: Number(r.last_seen_ms),
    ageMs: Math.max(0, Number(r.age_ms)),
  }));
}
