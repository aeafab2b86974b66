/**
 * One node's checkpoint signing on PostgreSQL: its key (created the first time), the check at start
 * (start-check.ts's on SQLite), the head signed at open, each minute while it moves and at a clean stop.
 * A signing failure is shown (status, the log) and never stops recording: rows go on, unsigned, until it
 * works again.
 */
import type pg from 'pg';
import { SchoolgateError } from '../../errors.js';
import { loadOrCreateSigningKey, type CheckpointReason, type SigningKey } from '../checkpoints.js';
import { SIGNING_OK, signingFailed, type SigningState } from '../signing-state.js';
import type { AuditLogger } from '../sqlite-store.js';
import { latestPgCheckpoint, pgSignatureProblem, writePgCheckpoint } from './checkpoints.js';
import { verifyPostgres } from './verify.js';

export class PgNodeSigner {
  private key: SigningKey | null = null;
  private state_: SigningState = SIGNING_OK;
  private lastSignedSeq = -1;
  private lastSignedLedgerSeq = -1;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly node: string,
    private readonly keyFile: string,
    private readonly logger: AuditLogger | undefined,
    /** Whether the store's database answers: a failure while it does not is the store's, not signing's. */
    private readonly healthy: () => boolean,
  ) {}

  get state(): SigningState {
    return this.state_;
  }

  loadKey(): void {
    if (this.key) return;
    try {
      this.key = loadOrCreateSigningKey(this.keyFile);
    } catch (err) {
      this.failed(`cannot read or create the signing key ${this.keyFile}: ${String(err)}`);
    }
  }

  /**
   * The tail of this node's chain, from its last signed checkpoint to its head, walked and linked, and the
   * checkpoint signed by this node's key. A break refuses to serve (SG_AUDIT_DAMAGED): rows changed,
   * removed or appended around the writer.
   */
  async checkAtStart(client: pg.ClientBase): Promise<void> {
    const last = await latestPgCheckpoint(client, this.node);
    if (!last) return;
    const key = this.key?.publicKeyText ?? last.publicKey;
    const walked = await verifyPostgres(client, {
      node: this.node,
      from: { seq: last.seq, hash: last.hash },
      checkpoints: false,
    });
    const problem =
      pgSignatureProblem(last, key) ??
      (walked.nodes[0]?.ok === false ? (walked.nodes[0].firstBreak?.reason ?? 'the chain is broken') : null);
    if (problem)
      throw new SchoolgateError(
        'SG_AUDIT_DAMAGED',
        `The PostgreSQL audit chain of node ${this.node} does not match its last signed checkpoint: ${problem}.`,
        {
          context: { node: this.node, checkpointSeq: last.seq },
          suggestion:
            "Run `schoolgate audit verify`, keep a copy of the database and this node's keys/ as they are (evidence), and tell the headteacher; a node must never share its name with another.",
        },
      );
  }

  /**
   * Signs the head now, or (moved) only if this node's chain or the shared ledger moved since its last
   * checkpoint (a case note on a quiet node is signed within the minute too); a failure is only shown.
   */
  async sign(db: pg.ClientBase | pg.Pool, reason: CheckpointReason, moved = false): Promise<void> {
    if (!this.key) return;
    try {
      if (moved) {
        const { rows } = await db.query<{ seq: string | null; ledger_seq: string | null }>(
          `SELECT (SELECT seq FROM chain_heads WHERE node = $1) AS seq, (SELECT seq FROM ledger_head) AS ledger_seq`,
          [this.node],
        );
        const seq = Number(rows[0]?.seq ?? 0);
        const ledgerSeq = Number(rows[0]?.ledger_seq ?? 0);
        if (seq === this.lastSignedSeq && ledgerSeq === this.lastSignedLedgerSeq) return;
      }
      const c = await writePgCheckpoint(db, this.node, this.key, reason);
      this.lastSignedSeq = c.seq;
      this.lastSignedLedgerSeq = c.ledger_seq;
      if (this.state_.state === 'failing')
        this.logger?.info({ node: this.node }, 'audit: checkpoint signing works again');
      this.state_ = SIGNING_OK;
    } catch (err) {
      // The database down is the store's failure, shown already; signing failed only if the database answers.
      if (this.healthy()) this.failed(`cannot store a signed checkpoint: ${String(err)}`);
    }
  }

  /** Signs every `ms` while the head moves, when `may()` (set up, healthy, not closing). */
  start(ms: number, pool: pg.Pool, may: () => boolean): void {
    let busy = false;
    this.timer = setInterval(() => {
      if (busy || !may()) return;
      busy = true;
      void this.sign(pool, 'minute', true).finally(() => (busy = false));
    }, ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private failed(message: string): void {
    if (this.state_.state !== 'failing')
      this.logger?.error(
        { code: 'SG_AUDIT_SIGNING_FAILED', node: this.node, err: message },
        'audit: checkpoint signing failed; rows are still recorded, unsigned, until it works again',
      );
    this.state_ = signingFailed(this.state_, message, Date.now());
  }
}
