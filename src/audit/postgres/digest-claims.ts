/**
 * One send per scheduled digest across the trust's nodes (PG migration 12). Every node with alerts.digest
 * and alerts.email runs the schedule; before sending, a node claims (digest kind, scheduled time) here:
 *
 *   claim → send → record (report_access) → mark sent
 *
 * The first INSERT wins (ON CONFLICT); the others see the claim and send nothing. A claim not marked sent is
 * the claimer's while it keeps trying (each attempt renews it); one left for STALE_CLAIM_MS by a node that
 * crashed or lost the database is taken over by the next node that runs that digest (a node's catch-up at
 * start). A claimer that gives up releases its claim. A node that crashes after the relay accepted the mail
 * but before it was recorded sends it again at its next start (at least once, never silently lost).
 */
import type { Queryable } from './connect.js';

/** Longer than one attempt (SMTP connect and send time out well within it): a claim this old is abandoned. */
export const STALE_CLAIM_MS = 10 * 60_000;

export const PG_DIGEST_CLAIMS_MIGRATION = `CREATE TABLE digest_claims (
     kind       text   NOT NULL,
     due_at     bigint NOT NULL,
     node       text   NOT NULL,
     claimed_ms bigint NOT NULL,
     sent_ms    bigint,
     PRIMARY KEY (kind, due_at)
   );`;

/** true: this node sends the digest due at `dueAt` (a new claim, its own renewed, or a stale one taken over). */
export async function claimDigest(
  db: Queryable,
  node: string,
  kind: string,
  dueAt: number,
  now: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO digest_claims (kind, due_at, node, claimed_ms) VALUES ($1, $2, $3, $4)
     ON CONFLICT (kind, due_at) DO UPDATE SET node = excluded.node, claimed_ms = excluded.claimed_ms
     WHERE digest_claims.sent_ms IS NULL
       AND (digest_claims.node = excluded.node OR digest_claims.claimed_ms < excluded.claimed_ms - $5)
     RETURNING node`,
    [kind, dueAt, node, now, STALE_CLAIM_MS],
  );
  return rowCount === 1;
}

/** After the send: marked sent (no one takes it over); after giving up: released for the next node. */
export async function settleDigest(
  db: Queryable,
  node: string,
  kind: string,
  dueAt: number,
  sent: boolean,
  now: number,
): Promise<void> {
  await db.query(
    sent
      ? 'UPDATE digest_claims SET sent_ms = $4 WHERE kind = $1 AND due_at = $2 AND node = $3'
      : 'DELETE FROM digest_claims WHERE kind = $1 AND due_at = $2 AND node = $3 AND sent_ms IS NULL',
    sent ? [kind, dueAt, node, now] : [kind, dueAt, node],
  );
}
