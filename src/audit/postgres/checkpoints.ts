/**
 * Signed checkpoints on PostgreSQL (checkpoints.ts is SQLite's): each node signs its own chain's head with
 * its own Ed25519 key (keys/audit-signing.key in its data directory, as on SQLite) and keeps the signed
 * line in the shared `checkpoints` table (PG migration 4), so `audit verify` on any node checks every
 * node's. The body is SQLite's checkpoint body, with database_id `postgres:<node>` and the shared ledger's
 * head (ledger.ts; zero in checkpoints signed before PG migration 11), so a ledger rewritten from an edited
 * row on no longer ends where a node signed it.
 *
 * A node's key is the one its first checkpoint carries: a later checkpoint signed by another key is a
 * break. Someone who can rewrite the whole table could replace a node's key too; the node's own start check
 * compares with the key file it holds, and a filed checkpoint (`audit checkpoint export`) settles it.
 */
import { GENESIS_HASH, type ChainHead } from '../chain.js';
import {
  checkSignature,
  publicKeyFromText,
  signCheckpoint,
  type Checkpoint,
  type CheckpointReason,
  type SigningKey,
} from '../checkpoints.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';
import { readPgLedgerHead } from './ledger.js';

export const PG_CHECKPOINTS_MIGRATION = `CREATE TABLE checkpoints (
     id         bigserial PRIMARY KEY,
     node       text   NOT NULL,
     seq        bigint NOT NULL,
     hash       text   NOT NULL,
     time_ms    bigint NOT NULL,
     reason     text   NOT NULL,
     sig        text   NOT NULL,
     public_key text   NOT NULL
   );
   CREATE INDEX checkpoints_node_id ON checkpoints (node, id);`;

/** How often a serving node signs its head while it moves (as SQLite's writer, each minute). */
export const PG_CHECKPOINT_EVERY_MS = 60_000;

export interface PgCheckpoint extends Checkpoint {
  publicKey: string;
}

export function pgDatabaseId(node: string): string {
  return `postgres:${node}`;
}

function toCheckpoint(node: string, r: CheckpointRow): PgCheckpoint {
  return {
    v: 1,
    database_id: pgDatabaseId(node),
    seq: r.seq,
    hash: r.hash,
    ledger_seq: r.ledger_seq,
    ledger_hash: r.ledger_hash,
    time_ms: r.time_ms,
    reason: r.reason as CheckpointReason,
    sig: r.sig,
    publicKey: r.public_key,
  };
}

interface CheckpointRow {
  seq: number;
  hash: string;
  ledger_seq: number;
  ledger_hash: string;
  time_ms: number;
  reason: string;
  sig: string;
  public_key: string;
}

async function readHead(db: Queryable, node: string): Promise<ChainHead> {
  const { rows } = await db.query<{ seq: number; hash: string }>({
    text: 'SELECT seq, hash FROM chain_heads WHERE node = $1',
    values: [node],
    types: BIGINT_AS_NUMBER,
  });
  return rows[0] ?? { seq: 0, hash: GENESIS_HASH };
}

/** Signs this node's head as the database holds it now and stores the checkpoint; returns it. */
export async function writePgCheckpoint(
  db: Queryable,
  node: string,
  key: SigningKey,
  reason: CheckpointReason,
  nowMs = Date.now(),
): Promise<PgCheckpoint> {
  const head = await readHead(db, node);
  const ledger = await readPgLedgerHead(db);
  const c = signCheckpoint(
    {
      v: 1,
      database_id: pgDatabaseId(node),
      seq: head.seq,
      hash: head.hash,
      ledger_seq: ledger.seq,
      ledger_hash: ledger.hash,
      time_ms: nowMs,
      reason,
    },
    key,
  );
  await db.query(
    `INSERT INTO checkpoints (node, seq, hash, time_ms, reason, sig, public_key, ledger_seq, ledger_hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [node, c.seq, c.hash, c.time_ms, c.reason, c.sig, key.publicKeyText, c.ledger_seq, c.ledger_hash],
  );
  return { ...c, publicKey: key.publicKeyText };
}

/** Every checkpoint of `node`, oldest first. */
export async function readPgCheckpoints(db: Queryable, node: string): Promise<PgCheckpoint[]> {
  const { rows } = await db.query<CheckpointRow>({
    text: 'SELECT seq, hash, ledger_seq, ledger_hash, time_ms, reason, sig, public_key FROM checkpoints WHERE node = $1 ORDER BY id',
    values: [node],
    types: BIGINT_AS_NUMBER,
  });
  return rows.map((r) => toCheckpoint(node, r));
}

export async function latestPgCheckpoint(db: Queryable, node: string): Promise<PgCheckpoint | null> {
  const { rows } = await db.query<CheckpointRow>({
    text: 'SELECT seq, hash, ledger_seq, ledger_hash, time_ms, reason, sig, public_key FROM checkpoints WHERE node = $1 ORDER BY id DESC LIMIT 1',
    values: [node],
    types: BIGINT_AS_NUMBER,
  });
  return rows[0] ? toCheckpoint(node, rows[0]) : null;
}

/** Why this checkpoint is not a good signature by `publicKey` (the node's key), or null. */
export function pgSignatureProblem(c: PgCheckpoint, publicKey: string): string | null {
  if (c.publicKey !== publicKey) return `checkpoint at seq ${c.seq} is signed by another key than the node's`;
  try {
    if (checkSignature(c, publicKeyFromText(publicKey))) return null;
  } catch {
    // an unreadable key or signature is a bad signature
  }
  return `checkpoint at seq ${c.seq} has a bad signature`;
}

/** Why the stored chain no longer holds what `c` signed (its row changed or gone), or null. */
export async function pgCheckpointMismatch(
  db: Queryable,
  node: string,
  c: Checkpoint,
  head: ChainHead,
): Promise<string | null> {
  if (head.seq < c.seq)
    return `the chain head (seq ${head.seq}) is behind the signed checkpoint (seq ${c.seq}): rows were removed`;
  if (c.seq === 0) return c.hash === GENESIS_HASH ? null : 'the checkpoint at seq 0 is not the genesis';
  const { rows } = await db.query<{ chain_hash: string }>({
    text: 'SELECT chain_hash FROM audit_events WHERE node = $1 AND seq = $2',
    values: [node, c.seq],
    types: BIGINT_AS_NUMBER,
  });
  if (rows.length === 0) {
    // Purged since (as SQLite's verify-checkpoints.ts): the anchor after it must hold what was signed; a row
    // removed any other way is a missing seq the walk has reported already, or the head check's.
    const { rows: anchor } = await db.query<{ prev_hash: string }>({
      text: 'SELECT prev_hash FROM chain_gaps WHERE node = $1 AND seq = $2',
      values: [node, c.seq + 1],
      types: BIGINT_AS_NUMBER,
    });
    if (anchor[0] && anchor[0].prev_hash !== c.hash)
      return `the purge anchor at the signed checkpoint (seq ${c.seq}) differs from what was signed`;
    return null;
  }
  if (rows[0]!.chain_hash !== c.hash) return `the row at the signed checkpoint (seq ${c.seq}) was changed`;
  return null;
}
