/**
 * For `status`: the version each node reports it runs (policy_applied) against the newest one, so a node
 * that missed versions (stopped, cut off from the database, failing to apply) shows as behind.
 */
import type { Queryable } from '../../audit/postgres/connect.js';
import { latestPolicyVersion, listAppliedVersions } from '../../audit/postgres/policy.js';

export interface NodesPolicy {
  /** The newest published version (0: none yet). */
  newest: number;
  nodes: { node: string; version: number; appliedAt: string; behind: boolean }[];
}

export async function nodesPolicy(db: Queryable): Promise<NodesPolicy> {
  const newest = (await latestPolicyVersion(db))?.version ?? 0;
  const applied = await listAppliedVersions(db);
  return { newest, nodes: applied.map((n) => ({ ...n, behind: n.version < newest })) };
}
