/**
 * A node's checkpoint filed outside the database (`audit checkpoint export` on PostgreSQL, kept in the
 * weekly review) and checked against it later (`audit verify --against FILE`): signed by the node's key,
 * and the node's chain still holding what it signed. Someone able to rewrite the whole database, the
 * checkpoints table and the keys it lists included, still cannot match a line filed on paper.
 */
import { SchoolgateError } from '../../errors.js';
import { checkSignature, publicKeyFromText, type Checkpoint, type SigningKey } from '../checkpoints.js';
import { GENESIS_HASH } from '../chain.js';
import { latestPgCheckpoint, pgCheckpointMismatch, readPgCheckpoints } from './checkpoints.js';
import { BIGINT_AS_NUMBER, type Queryable } from './connect.js';

/** The node's latest signed checkpoint as one line, and its public key. */
export async function exportPgCheckpoint(
  db: Queryable,
  node: string,
  key: SigningKey | null,
): Promise<{ line: string; publicKey: string }> {
  const latest = await latestPgCheckpoint(db, node);
  if (!latest || !key)
    throw new SchoolgateError('SG_AUDIT_UNAVAILABLE', `There is no signed checkpoint of node ${node} yet.`, {
      context: { node },
      suggestion: 'start the proxy on this node once (it signs a checkpoint when it opens the store)',
    });
  const { publicKey: _stored, ...checkpoint } = latest;
  return { line: JSON.stringify(checkpoint), publicKey: key.publicKeyText };
}

/**
 * Why the filed checkpoint fails, or null. The key: this node's own key file for its own checkpoint,
 * else the key the node's first checkpoint in the database carries.
 */
export async function checkFiledPgCheckpoint(
  db: Queryable,
  filed: Checkpoint,
  own: { node: string; key: SigningKey | null },
): Promise<string | null> {
  const m = /^postgres:(.+)$/.exec(filed.database_id);
  if (!m)
    return 'the filed checkpoint is not one of a PostgreSQL node (its database_id is not postgres:NODE)';
  const node = m[1]!;
  const keyText =
    node === own.node && own.key ? own.key.publicKeyText : (await readPgCheckpoints(db, node))[0]?.publicKey;
  if (!keyText) return `node ${node} has no key on record to check the filed checkpoint with`;
  let signed = false;
  try {
    signed = checkSignature(filed, publicKeyFromText(keyText));
  } catch {
    signed = false;
  }
  if (!signed) return `the filed checkpoint is not signed by node ${node}'s key`;
  const { rows } = await db.query<{ seq: number; hash: string }>({
    text: 'SELECT seq, hash FROM chain_heads WHERE node = $1',
    values: [node],
    types: BIGINT_AS_NUMBER,
  });
  return pgCheckpointMismatch(db, node, filed, rows[0] ?? { seq: 0, hash: GENESIS_HASH });
}
