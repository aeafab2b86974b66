/**
 * Around a CLI policy edit on a node of a PostgreSQL store (src/app/policy-sync/): before writing, the
 * running proxy applies the newest shared version, so the edit is published on top of what other nodes
 * published (never over a version this node had not applied); an edit that reloads nothing (users) is
 * published at once. With no proxy running here, or a proxy on SQLite, both do nothing: the edit is
 * published when the proxy starts (SQLite has nothing to share).
 */
import { controlRequest } from '../app/control.js';
import { isSchoolgateError } from '../errors.js';

/** Before the edit writes: refused (SG_POLICY_SYNC_FAILED) when the shared database does not answer. */
export async function beginPolicyEdit(dataDir: string): Promise<void> {
  await askReplica(dataDir, 'policy-edit-begin');
}

/** After an edit no reload follows: publishes it now; SG_POLICY_CONFLICT when another node's came first. */
export async function publishPolicyEdit(dataDir: string): Promise<void> {
  await askReplica(dataDir, 'policy-edit-publish');
}

async function askReplica(dataDir: string, cmd: string): Promise<void> {
  try {
    await controlRequest(dataDir, cmd);
  } catch (err) {
    if (isSchoolgateError(err) && err.code === 'SG_NOT_RUNNING') return;
    // A proxy without a shared policy (SQLite, or an older schoolgate) has no such command.
    if (isSchoolgateError(err) && err.message.startsWith('unknown control command')) return;
    throw err;
  }
}
