/**
 * The one pipeline every request goes through, whatever its transport (absolute-form HTTP, CONNECT,
 * WebSocket upgrade): client network → identity → policy → Continue grants → upstream address check.
 * It returns a Verdict value; the transport handlers only render it. Identity or policy failures block
 * (fail closed) and never escape as exceptions.
 */
import type { Logger } from 'pino';
import { newEventId } from '../audit/event-id.js';
import type { AuditAction, AuditEvent } from '../audit/types.js';
import type { Identifier, Identity } from '../identity/identify.js';
import { decideSafely } from '../policy/decide.js';
import type { CategoryLists, Decision, Profile, Target } from '../policy/types.js';
import type { ReadonlyConfig } from '../config/load.js';
import { inAnyCidr, parseCidrs } from '../identity/address-map.js';
import type { GrantStore } from './grants.js';
import type { Resolution, Resolver } from './resolve.js';

/** An immutable policy snapshot; a reload swaps the whole object, each request keeps the one it started with. */
export interface PolicySnapshot {
  lists: CategoryLists;
  profiles: ReadonlyMap<string, Profile>;
}

export interface GatekeeperDeps {
  config: ReadonlyConfig;
  policy: () => PolicySnapshot;
  identifier: Identifier;
  resolver: Resolver;
  grants: GrantStore;
  logger: Logger;
  now?: () => Date;
}

/** What the edge knows about a request before deciding. */
export interface Attempt {
  id: string;
  startedAt: number;
  clientIp: string;
  method: string;
  proxyAuthorization: string | undefined;
}

export type Verdict =
  | { kind: 'refused' }
  | {
      kind: 'auth';
      reason: 'auth-required' | 'bad-credentials' | 'malformed-credentials';
      user: string | null;
    }
  | { kind: 'port'; identity: Identity }
  | { kind: 'block'; identity: Identity; decision: Decision }
  | { kind: 'warn'; identity: Identity; decision: Decision; grantSite: string }
  | { kind: 'unreachable'; identity: Identity; decision: Decision; resolution: Resolution & { ok: false } }
  | {
      kind: 'allow';
      identity: Identity;
      decision: Decision;
      continued: boolean;
      resolution: Resolution & { ok: true };
    };

export class Gatekeeper {
  private readonly clientNetworks;
  private readonly now: () => Date;

  constructor(private readonly deps: GatekeeperDeps) {
    this.clientNetworks = parseCidrs(deps.config.clientNetworks);
    this.now = deps.now ?? (() => new Date());
  }

  newAttempt(clientIp: string, method: string, proxyAuthorization: string | undefined): Attempt {
    const startedAt = Date.now();
    return { id: newEventId(startedAt), startedAt, clientIp, method, proxyAuthorization };
  }

  isClientAllowed(clientIp: string): boolean {
    return inAnyCidr(clientIp, this.clientNetworks);
  }

  /**
   * Runs the pipeline for a parsed target. `ports` is the allowed port list for this transport.
   * Never throws: an unexpected failure becomes a 'block' verdict with a policy-error decision.
   */
  /** Identity only (for the Continue action): null when the client cannot be identified. */
  async identify(attempt: Attempt): Promise<Identity | null> {
    try {
      const result = await this.deps.identifier.identify({
        clientIp: attempt.clientIp,
        proxyAuthorization: attempt.proxyAuthorization,
      });
      return result.ok ? result.identity : null;
    } catch (err) {
      this.deps.logger.error({ err, id: attempt.id }, 'identity failed');
      return null;
    }
  }

  async check(attempt: Attempt, target: Target, ports: readonly number[]): Promise<Verdict> {
    if (!this.isClientAllowed(attempt.clientIp)) return { kind: 'refused' };
    let identity: Identity;
    try {
      const result = await this.deps.identifier.identify({
        clientIp: attempt.clientIp,
        proxyAuthorization: attempt.proxyAuthorization,
      });
      if (!result.ok) return { kind: 'auth', reason: result.reason, user: result.user };
      identity = result.identity;
    } catch (err) {
      this.deps.logger.error({ err, id: attempt.id }, 'identity failed; blocking (fail closed)');
      const guest = this.deps.config.identity.guestProfile;
      const anonymous: Identity = { user: null, profile: guest, device: null, via: 'guest' };
      return { kind: 'block', identity: anonymous, decision: failClosed(anonymous.profile, target) };
    }
    if (!ports.includes(target.port)) return { kind: 'port', identity };

    const snapshot = this.deps.policy();
    const profile = snapshot.profiles.get(identity.profile);
    const decision = profile
      ? decideSafely({ target, method: attempt.method }, profile, snapshot.lists, this.now())
      : failClosed(identity.profile, target);
    if (decision.action === 'block') return { kind: 'block', identity, decision };

    let continued = false;
    if (decision.action === 'warn') {
      const grantSite = decision.rule.entry || target.host;
      if (!this.deps.grants.has(grantSubject(identity, attempt.clientIp), grantSite, this.now()))
        return { kind: 'warn', identity, decision, grantSite };
      continued = true;
    }
    const resolution = await this.deps.resolver.resolve(target);
    if (!resolution.ok) return { kind: 'unreachable', identity, decision, resolution };
    return { kind: 'allow', identity, decision, continued, resolution };
  }
}

/** Who a Continue grant belongs to: the user, or for unauthenticated clients their address. */
export function grantSubject(identity: Identity, clientIp: string): string {
  return identity.user ? `user:${identity.user}` : `ip:${clientIp}`;
}

function failClosed(profile: string, target: Target): Decision {
  return {
    action: 'block',
    profile,
    categories: [],
    rule: { kind: 'policy-error', list: 'policy', entry: '' },
    matches: [],
    flagged: false,
    alert: false,
    explanation: `Blocked: the filter could not check ${target.host} safely, so it refused the request.`,
  };
}

/** Builds the audit row for a verdict. `status` is what the client is about to see. */
/** Who and what decided, as far as known: a Verdict fits, so does a bare identity. */
export type Decided = {
  kind?: string;
  identity?: Identity;
  decision?: Decision;
  user?: string | null;
} | null;

export function auditEventFor(
  attempt: Attempt,
  target: Partial<Target> & { host: string },
  decided: Decided,
  fields: { action: AuditAction; reason: string; status: number | null },
): AuditEvent {
  const identity = decided?.identity ?? null;
  const decision = decided?.decision ?? null;
  const rule = decision ? ruleText(decision) : null;
  return {
    id: attempt.id,
    time: attempt.startedAt,
    user: identity?.user ?? decided?.user ?? null,
    profile: identity?.profile ?? null,
    clientIp: attempt.clientIp,
    device: identity?.device ?? null,
    method: attempt.method,
    scheme: target.scheme ?? 'http',
    host: target.host,
    port: target.port ?? null,
    path: target.path ?? null,
    categories: decision?.categories ?? [],
    action: fields.action,
    rule,
    reason: fields.reason,
    flagged: decision?.flagged ?? false,
    status: fields.status,
  };
}

export function ruleText(decision: Decision): string {
  const { kind, list, entry } = decision.rule;
  return [kind, list, entry].filter(Boolean).join(':');
}
