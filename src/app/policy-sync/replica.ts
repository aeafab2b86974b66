/**
 * One policy across the nodes of a PostgreSQL store. Each node keeps its policy files in its own data dir
 * (local-files.ts) and, through the database (src/audit/postgres/policy.ts):
 *
 * - publishes: at a reload (every CLI and console edit triggers one), at start and at each poll, files that
 *   differ from the ones it last applied become the next version, on top of that version only (CAS). A
 *   version published meanwhile by another node wins: this node's edit is refused (SG_POLICY_CONFLICT, in
 *   the log and `status`) and the winner is applied over it;
 * - applies: on NOTIFY schoolgate_policy, and every 10 s in case a notification was lost, a newer version is
 *   fetched, written into the data dir (apply.ts) and loaded by a reload. At start, before serving.
 *
 * A CLI edit first pulls (beginEdit: the newest version is applied, and no other is applied under its write
 * until it publishes), so it is published on top of everything other nodes published before it started;
 * `users` edits, which reload nothing, publish at once (publishEdit).
 *
 * A fetch or publish that fails leaves the files in force untouched (the last good policy keeps filtering)
 * and `status` shows SG_POLICY_SYNC_FAILED until a sync succeeds again. All syncs run one at a time.
 */
import type { Logger } from 'pino';
import type pg from 'pg';
import { pgPool, type PgConnectOptions } from '../../audit/postgres/connect.js';
import {
  fetchPolicyFiles,
  latestPolicyVersion,
  publishPolicyVersion,
  recordApplied,
  type PolicyVersion,
} from '../../audit/postgres/policy.js';
import { migratePg } from '../../audit/postgres/schema.js';
import { SchoolgateError } from '../../errors.js';
import { applyPolicyFiles } from './apply.js';
import { readAppliedRecord, sameManifest, writeAppliedRecord, type AppliedRecord } from './applied-record.js';
import { listenForPolicy, type PolicyListener } from './listener.js';
import { readLocalPolicy, STATE_FILE, type LocalPolicy } from './local-files.js';
import { nodesPolicy, type NodesPolicy } from './nodes-policy.js';

export const POLICY_POLL_MS = 10_000;
/** The longest a CLI edit holds off other nodes' versions between its pull and its publish. */
export const EDIT_HOLD_MS = 30_000;
/** A longer hold may be asked for (an edit that takes long; a test's node that has not heard yet). */
const MAX_EDIT_HOLD_MS = 600_000;

export interface PolicySyncStatus {
  node: string;
  /** The version this node runs (0: none yet) and when it applied or published it. */
  version: number;
  appliedAt: string | null;
  /** The node that published the version in force. */
  from: string | null;
  /** Whether the LISTEN connection is up (the 10 s poll runs either way). */
  listening: boolean;
  /** Null while syncs succeed; else the files in force keep serving since sinceMs. */
  failure: { code: 'SG_POLICY_SYNC_FAILED'; message: string; since: string } | null;
  /** The last edit of this node refused because another node's came first. */
  lastConflict: { code: 'SG_POLICY_CONFLICT'; message: string; at: string } | null;
  /** Every node's version against the newest (absent when the database does not answer). */
  nodes?: NodesPolicy;
}

export interface PolicyReplicaOptions {
  connect: PgConnectOptions;
  node: string;
  osUser: string;
  dataDir: string;
  logger: Logger;
  pollMs?: number;
  /** store.postgres.policyVersionsKept. */
  keepVersions?: number;
}

interface SyncOutcome {
  /** Files on disk changed: the running policy needs a reload to load them. */
  wrote: boolean;
  conflict: SchoolgateError | null;
  /** The database fault that stopped this sync (already logged and in `status`). */
  failed?: unknown;
}

export class PolicyReplica {
  private record: AppliedRecord | null = null;
  private failure: PolicySyncStatus['failure'] = null;
  private lastConflict: PolicySyncStatus['lastConflict'] = null;
  private chain: Promise<unknown> = Promise.resolve();
  private listener: PolicyListener | null = null;
  private poll: NodeJS.Timeout | undefined;
  private reload: (() => Promise<unknown>) | null = null;
  private closed = false;
  /** Until then, notifications and polls apply nothing: a CLI edit is writing on top of the version in force. */
  private editHoldUntil = 0;
  /** The version this process last told policy_applied. */
  private reported = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PolicyReplicaOptions,
  ) {}

  /** Connects and brings the schema up; the caller then calls syncAtStart() before loading the policy. */
  static async open(opts: PolicyReplicaOptions): Promise<PolicyReplica> {
    const pool = pgPool({ ...opts.connect, max: 2 });
    const replica = new PolicyReplica(pool, opts);
    replica.record = await readAppliedRecord(opts.dataDir);
    return replica;
  }

  /**
   * Before the node serves: publishes edits made while it was stopped, or applies the newest version. A
   * failure is logged and shown, and the node starts on the files it has (the last good policy).
   */
  async syncAtStart(): Promise<void> {
    try {
      const client = await this.pool.connect();
      try {
        await migratePg(client);
      } finally {
        client.release();
      }
    } catch (err) {
      this.failed(err);
      return;
    }
    const outcome = await this.sync('start');
    if (outcome.conflict) this.opts.logger.error({ code: 'SG_POLICY_CONFLICT' }, outcome.conflict.message);
  }

  /** Once the proxy is live: LISTEN, poll, and reload through `reload` whenever a sync wrote files. */
  startFollowing(reload: () => Promise<unknown>): void {
    this.reload = reload;
    this.listener = listenForPolicy(this.opts.connect, {
      notified: (version) => {
        if (version > (this.record?.version ?? 0)) this.follow('notified');
      },
      connected: () => this.follow('listening'),
      lost: (err) =>
        this.opts.logger.warn(
          { err: err.message },
          'policy sync: the LISTEN connection was lost; reconnecting',
        ),
    });
    this.poll = setInterval(() => this.follow('poll'), this.opts.pollMs ?? POLICY_POLL_MS);
    this.poll.unref();
  }

  /**
   * Run by every reload before it reads the files: publishes this node's edit, or applies a newer version.
   * Throws SG_POLICY_CONFLICT when the edit was refused (the winner is on disk; a reload that loads it is
   * queued); a database fault is only logged: the reload goes on with the files here.
   */
  async beforeReload(): Promise<void> {
    this.editHoldUntil = 0; // the edit's reload: it publishes now
    const outcome = await this.sync('reload');
    if (!outcome.conflict) return;
    // Queued behind the reload now running (the Reloader coalesces): loads the winner.
    void this.reload?.().catch(() => undefined);
    throw outcome.conflict;
  }

  /**
   * `policy-edit-begin`, before a CLI edit writes: applies the newest version (and reloads it), then holds
   * off others until the edit publishes. Refused while the database does not answer: an edit made on an
   * unknown base could not be shared, and another node's could overwrite it.
   */
  async beginEdit(holdMs = EDIT_HOLD_MS): Promise<{ version: number }> {
    const outcome = await this.sync('edit');
    if (outcome.failed !== undefined)
      throw new SchoolgateError(
        'SG_POLICY_SYNC_FAILED',
        `this node cannot take the newest shared policy before the edit (the database does not answer or the version cannot be applied): ${errorText(outcome.failed)}`,
        { suggestion: 'make the edit again when `schoolgate status` shows the policy sync working' },
      );
    if (outcome.wrote || outcome.conflict) await this.reloadNow();
    this.editHoldUntil = Date.now() + Math.min(Math.max(holdMs, 0), MAX_EDIT_HOLD_MS);
    return { version: this.record?.version ?? 0 };
  }

  /** `policy-edit-publish`, after an edit that reloads nothing (users): publishes it now, or says why not. */
  async publishEdit(): Promise<{ version: number }> {
    this.editHoldUntil = 0;
    const outcome = await this.sync('edit');
    if (outcome.conflict) {
      await this.reloadNow();
      throw outcome.conflict;
    }
    if (outcome.failed !== undefined)
      throw new SchoolgateError(
        'SG_POLICY_SYNC_FAILED',
        `the edit is in force on this node but not shared: ${errorText(outcome.failed)}`,
        { suggestion: 'it is published when the database answers again; check `schoolgate status`' },
      );
    return { version: this.record?.version ?? 0 };
  }

  async status(): Promise<PolicySyncStatus> {
    const nodes = await nodesPolicy(this.pool).catch(() => undefined);
    return {
      ...(nodes ? { nodes } : {}),
      node: this.opts.node,
      version: this.record?.version ?? 0,
      appliedAt: this.record?.appliedAt ?? null,
      from: this.record?.from ?? null,
      listening: this.listener?.listening ?? false,
      failure: this.failure,
      lastConflict: this.lastConflict,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    await this.listener?.close();
    await this.chain.catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  /** A sync from a notification or the poll; a reload loads what it wrote. */
  private follow(why: string): void {
    if (this.closed || Date.now() < this.editHoldUntil) return;
    void this.sync(why).then((outcome) => {
      if ((outcome.wrote || outcome.conflict) && !this.closed)
        void this.reload?.().catch((err: unknown) =>
          this.opts.logger.error(
            { err: String(err) },
            'policy sync: the reload after applying a version failed',
          ),
        );
    });
  }

  private sync(why: string): Promise<SyncOutcome> {
    const run = this.chain.then(() => this.syncNow(why));
    this.chain = run.catch(() => undefined);
    return run.catch((err: unknown) => {
      this.failed(err);
      return { wrote: false, conflict: null, failed: err };
    });
  }

  private async syncNow(why: string): Promise<SyncOutcome> {
    const latest = await latestPolicyVersion(this.pool);
    const newest = latest?.version ?? 0;
    // Read every time, polls included: what the proxy writes itself (unblock requests, console sign-ins)
    // is published within a poll, before another node's edit could make it a conflict.
    const local = await readLocalPolicy(this.opts.dataDir);
    // A database without the version this node applied (a new or restored one) gets this node's files.
    const dbBehind = this.record !== null && newest < this.record.version;
    if (dbBehind)
      this.opts.logger.warn(
        { applied: this.record!.version, newest },
        'policy sync: the database lacks the version this node applied; publishing this node’s files',
      );
    const applied = dbBehind ? newest : (this.record?.version ?? 0);
    const edited =
      dbBehind || (this.record ? !sameManifest(local.manifest, this.record.baseline) : latest === null);
    let outcome: SyncOutcome = { wrote: false, conflict: null };
    if (edited) outcome = await this.publish(local, applied, why, dbBehind);
    else if (latest && latest.version > applied) {
      await this.apply(latest, local);
      outcome = { wrote: true, conflict: null };
    }
    if (this.record && this.reported !== this.record.version) {
      await recordApplied(this.pool, this.opts.node, this.record.version);
      this.reported = this.record.version;
    }
    if (this.failure) this.opts.logger.info('policy sync: the database answers again; syncing resumed');
    this.failure = null;
    return outcome;
  }

  private async publish(
    local: LocalPolicy,
    base: number,
    why: string,
    uploadAll: boolean,
  ): Promise<SyncOutcome> {
    const client = await this.pool.connect();
    let result;
    try {
      // Files the version in force holds with the same bytes are in the database already.
      const held = uploadAll ? null : this.record?.manifest;
      const upload = new Map([...local.files].filter(([name]) => held?.[name] !== local.manifest[name]));
      result = await publishPolicyVersion(
        client,
        base,
        local.manifest,
        upload,
        { node: this.opts.node, osUser: this.opts.osUser },
        this.opts.keepVersions,
      );
    } finally {
      client.release();
    }
    if ('published' in result) {
      const v = result.published;
      await this.remember(v, local);
      this.reported = v.version; // recorded in the publishing transaction
      this.opts.logger.info(
        { version: v.version, why, files: Object.keys(v.manifest).length, pruned: result.pruned ?? 0 },
        'policy published',
      );
      return { wrote: false, conflict: null };
    }
    const winner = result.conflict;
    const conflict = new SchoolgateError(
      'SG_POLICY_CONFLICT',
      `this node's policy edit was refused: node ${winner.node} published version ${winner.version} first (this edit was based on version ${base}); node ${this.opts.node} now runs version ${winner.version}, without this edit`,
      {
        context: { node: this.opts.node, base, winner: winner.version, winnerNode: winner.node },
        suggestion: `run the same command again: it applies on top of version ${winner.version} (\`schoolgate status\` shows each node's version)`,
      },
    );
    this.lastConflict = {
      code: 'SG_POLICY_CONFLICT',
      message: conflict.message,
      at: new Date().toISOString(),
    };
    this.opts.logger.error({ code: conflict.code, ...conflict.context }, conflict.message);
    await this.apply(winner, local);
    return { wrote: true, conflict };
  }

  private async apply(version: PolicyVersion, local: LocalPolicy): Promise<void> {
    const wanted = Object.entries(version.manifest)
      .filter(([name, hash]) => local.manifest[name] !== hash)
      .map(([name, sha256]) => ({ name, sha256 }));
    const fetched = await fetchPolicyFiles(this.pool, wanted);
    await applyPolicyFiles(this.opts.dataDir, version.manifest, fetched);
    // The baseline is what the version holds, not a re-read of the files: one edited while the apply ran
    // still differs from it and is published at the next sync, never taken for part of the version. Only
    // the state database is re-read (its bytes differ by node).
    const after = await readLocalPolicy(this.opts.dataDir);
    const state = after.manifest[STATE_FILE];
    await this.remember(version, {
      ...after,
      manifest: { ...version.manifest, ...(state ? { [STATE_FILE]: state } : {}) },
    });
    this.opts.logger.info(
      { version: version.version, from: version.node, files: wanted.length },
      'policy version applied',
    );
  }

  private async remember(version: PolicyVersion, local: LocalPolicy): Promise<void> {
    this.record = {
      version: version.version,
      appliedAt: new Date().toISOString(),
      from: version.node,
      baseline: local.manifest,
      manifest: version.manifest,
    };
    await writeAppliedRecord(this.opts.dataDir, this.record);
  }

  /** Loads what a sync wrote before the caller goes on (a failed reload is in the log and `status`). */
  private async reloadNow(): Promise<void> {
    await this.reload?.().catch((err: unknown) =>
      this.opts.logger.error({ err: String(err) }, 'policy sync: the reload after applying a version failed'),
    );
  }

  private failed(err: unknown): void {
    const message = errorText(err);
    if (!this.failure) {
      this.failure = { code: 'SG_POLICY_SYNC_FAILED', message, since: new Date().toISOString() };
      this.opts.logger.error(
        { code: 'SG_POLICY_SYNC_FAILED', err: message },
        'policy sync failed: the policy in force keeps filtering until the database answers',
      );
    } else this.failure.message = message;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
