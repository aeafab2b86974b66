/**
 * One exchange per request, tunnel or inner request. It owns, in order: one snapshot of policy and config
 * (taken once, here), the canonical target (read once), identity and the decision (check.ts), the audit row
 * and its commit, the answer, and the outcome. Transports (src/proxy/) are adapters that read and write
 * bytes and call the exchange: none of them builds a row or calls the store.
 *
 * The transport-specific steps live beside this file (http.ts, upgrade.ts, connect.ts); this class holds
 * what they share.
 */
import type { Logger } from 'pino';
import { newEventId } from '../audit/event-id.js';
import type { AuditEvent, AuditOutcome, AuditStore } from '../audit/types.js';
import { isSchoolgateError } from '../errors.js';
import type { Identity } from '../identity/identify-types.js';
import type { Target } from '../policy/types.js';
import type { GrantStore } from '../proxy/grants.js';
import type { UnblockRequestStore } from '../state/unblock-requests.js';
import { auditUnavailableAnswer, errorBody, refusalFor, type AnswerContext } from './answers.js';
import { check, identify, type CheckDeps } from './check.js';
import type { ExchangeEvents } from './events.js';
import type { OwnName } from './read-head.js';
import { rowFor, type Decided } from './rows.js';
import type { SelftestProbes } from './selftest-probes.js';
import type { PolicySnapshot } from './snapshot.js';
import { ROW_KIND, type ExchangeStart, type PageAnswer, type Verdict } from './types.js';

/** What every exchange needs, built once when the proxy starts. */
export interface ExchangeEnv {
  /** The current snapshot; an exchange reads it once. */
  policy: () => PolicySnapshot;
  checks: CheckDeps;
  audit: AuditStore;
  events: ExchangeEvents;
  grants: GrantStore;
  tokenKey: Buffer;
  logger: Logger;
  now: () => Date;
  own: OwnName;
  /** The open `schoolgate selftest` runs: their probes' rows are marked (selftest-probes.ts). */
  probes: SelftestProbes;
  /** Unblock requests (the state database), when the proxy takes them. */
  requests?: UnblockRequestStore;
  /** Ports each transport may reach (Squid's Safe_ports and SSL_ports); set at start. */
  ports: { http: readonly number[]; tunnel: readonly number[] };
  /** HTTPS inspection can terminate TLS now (a school CA that has not expired, tls.inspect on). */
  readonly inspectionReady: boolean;
}

export class Exchange {
  readonly id: string;
  readonly startedAt: number;
  /** Who the last check() identified (null before it, and when nobody was): the adapters hold the client
   * connection for that user, to close it if the user is revoked (src/proxy/user-connections.ts). */
  identity: Identity | null = null;
  /** Null once released (releasePolicy): a tunnel or WebSocket open for hours must not pin old lists. */
  private policy: PolicySnapshot | null;
  /** Kept past the release: an error page after it (a download cut) still needs the time zone. */
  private readonly timeZone: string;
  private completed = false;
  private lastCommitted: AuditEvent | undefined;

  constructor(
    readonly env: ExchangeEnv,
    readonly start: ExchangeStart,
    /** Only for a sibling: the snapshot its first exchange took. */
    snapshot?: PolicySnapshot,
  ) {
    this.startedAt = Date.now();
    this.id = newEventId(this.startedAt);
    this.policy = snapshot ?? env.policy();
    this.timeZone = this.policy.config.timeZone;
  }

  /** The snapshot this exchange decides with; asking for it after releasePolicy() is a defect (throws). */
  get snapshot(): PolicySnapshot {
    if (this.policy === null)
      throw new Error(`exchange ${this.id}: its policy snapshot was asked for after its release`);
    return this.policy;
  }

  /**
   * Called by an adapter once the exchange only relays bytes (a tunnel, a WebSocket, a response streaming):
   * the decision is made and recorded, what is left is the outcome. Without it every tunnel open across a
   * reload kept the lists it was decided with alive (a 1 M-entry list: ~100 MB per reload).
   */
  releasePolicy(): void {
    this.policy = null;
  }

  get kind(): AuditEvent['kind'] {
    return ROW_KIND[this.start.transport];
  }

  get clientAllowed(): boolean {
    return (this.allowed ??= this.env.checks.isClientAllowed(this.start.clientIp));
  }
  private allowed: boolean | undefined;

  /** The page context, from this exchange's snapshot: time zone, realm and warn settings are live. */
  answerContext(): AnswerContext {
    const { config, lists, branding } = this.snapshot;
    return {
      ...(branding ? { branding } : {}),
      timeZone: config.timeZone,
      realm: config.identity.realm,
      lists,
      tokenKey: this.env.tokenKey,
      warn: config.warn,
      now: this.env.now(),
      ...(this.env.requests ? { requests: this.env.requests } : {}),
    };
  }

  /** Time and zone for the proxy's error pages. */
  pageTime(url?: string): { time: Date; timeZone: string; url?: string } {
    return { time: this.env.now(), timeZone: this.timeZone, ...(url ? { url } : {}) };
  }

  async check(target: Target, ports: readonly number[]): Promise<Verdict> {
    const verdict = await check(this.env.checks, this.snapshot, this.request, target, ports, this.env.now());
    this.identity = 'identity' in verdict ? verdict.identity : null;
    if (this.env.events.wants('decided'))
      this.env.events.emit('decided', this.id, {
        id: this.id,
        transport: this.start.transport,
        target: { ...target },
        verdict: verdict.kind,
        identity: 'identity' in verdict ? { ...verdict.identity } : null,
        decision:
          'decision' in verdict
            ? { ...verdict.decision, categories: [...verdict.decision.categories], matches: [] }
            : null,
      });
    return verdict;
  }

  identify() {
    return identify(this.env.checks, this.request);
  }

  row(
    target: Partial<Target> & { host: string },
    decided: Decided,
    fields: { action: AuditEvent['action']; reason: string; status: number | null },
  ): AuditEvent {
    const row = rowFor(this, target, decided, { ...fields, kind: this.kind });
    const run = this.env.probes.runOf(this.start.selftestToken);
    return run ? { ...row, selftestRun: run } : row;
  }

  /**
   * Commits the row before the caller reveals the decision. False when the audit store cannot take it: the
   * caller must then answer 503 (fail closed), never serve unlogged traffic.
   */
  async commit(row: AuditEvent): Promise<boolean> {
    const started = performance.now();
    try {
      await this.env.audit.record(row);
    } catch (err) {
      if (!isSchoolgateError(err)) this.env.logger.error({ err, id: row.id }, 'audit write failed');
      else this.env.logger.warn({ code: err.code, id: row.id }, 'audit unavailable; refusing request');
      return false;
    }
    this.lastCommitted = row;
    this.env.events.emit('committed', row.id, { row, commitMs: performance.now() - started });
    return true;
  }

  /** The row this exchange committed: a later refusal of its origin (upstream-refusal.ts) repeats who and what. */
  get committedRow(): AuditEvent | undefined {
    return this.lastCommitted;
  }

  /** Commits the row, then answers with `answer`; 503 instead when the row could not be committed. */
  async answerWith(row: AuditEvent, answer: PageAnswer, url?: string): Promise<PageAnswer> {
    return (await this.commit(row)) ? answer : this.unavailable(url);
  }

  /** The 503 of a row that could not be committed. */
  unavailable(url?: string): PageAnswer {
    return auditUnavailableAnswer(this.pageTime(url));
  }

  /** Any verdict but allow: its page, and the row that records it. */
  async refuse(
    verdict: Exclude<Verdict, { kind: 'allow' }>,
    target: Target,
    pageUrl: string,
    extra: Partial<AuditEvent> = {},
    actionFor: (action: AuditEvent['action']) => AuditEvent['action'] = (a) => a,
  ): Promise<PageAnswer> {
    const refusal = refusalFor(verdict, this, target, pageUrl, this.answerContext());
    const row = {
      ...this.row(target, verdict, {
        action: actionFor(refusal.action),
        reason: refusal.reason,
        status: refusal.answer.status,
      }),
      ...extra,
    };
    if (refusal.note !== undefined) {
      row.note = refusal.note;
      this.env.logger.error(
        { id: this.id, host: target.host, code: refusal.reason, cause: refusal.note },
        'check failed; blocked (fail closed)',
      );
    }
    return this.answerWith(row, refusal.answer, pageUrl);
  }

  /** A client outside clientNetworks: 403 and a refused row (never an open proxy). */
  async refuseClient(seen: Partial<Target> & { host: string }, pageUrl: string): Promise<PageAnswer> {
    const target: Target = { scheme: 'http', hostKind: 'domain', port: 80, path: '/', ...seen };
    const refusal = refusalFor({ kind: 'refused' }, this, target, pageUrl, this.answerContext());
    const row = this.row(seen, null, { action: 'refused', reason: 'client-network', status: 403 });
    return this.answerWith(row, refusal.answer, pageUrl);
  }

  /** A malformed request: its status, a row saying why, and the connection closed. */
  async reject(
    status: number,
    reason: string,
    seen: Partial<Target> & { host: string },
    url?: string,
  ): Promise<PageAnswer> {
    const row = this.row(seen, null, { action: 'reject', reason, status });
    if (!(await this.commit(row))) return { ...this.unavailable(url), close: true };
    const page = { ...this.pageTime(url), reference: this.id };
    return { status, close: true, body: errorBody(400, page, undefined, 'bad-request') };
  }

  /** The outcome, once the exchange ended; later calls are ignored. */
  complete(outcome: Omit<AuditOutcome, 'durationMs'>): void {
    if (this.completed) return;
    this.completed = true;
    const full = { ...outcome, durationMs: Date.now() - this.startedAt };
    this.env.audit.complete(this.id, full);
    this.env.events.emit('completed', this.id, { id: this.id, outcome: full });
  }

  /**
   * A second exchange for the same client and the same snapshot (an SNI that names another host than its
   * CONNECT is decided against the policy the CONNECT was).
   */
  sibling(method: string): Exchange {
    return new Exchange(this.env, { ...this.start, method }, this.snapshot);
  }

  private get request() {
    return {
      id: this.id,
      clientIp: this.start.clientIp,
      method: this.start.method,
      proxyAuthorization: this.start.proxyAuthorization,
      connection: this.start.connection,
      clientAllowed: this.clientAllowed,
    };
  }

  get clientIp(): string {
    return this.start.clientIp;
  }

  get method(): string {
    return this.start.method;
  }
}
