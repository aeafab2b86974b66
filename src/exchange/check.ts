/**
 * The one check every request goes through, whatever its transport: client network → identity → port
 * policy → decide() → pilot mode (pilot.ts) → Continue grants → upstream address check. It returns a Verdict value and never
 * throws: an identity or policy failure becomes a 'block' verdict whose decision says why (rule kind
 * 'policy-error', with an SG code and a short cause), so the exchange records it as an `error` row.
 */
import type { Logger } from 'pino';
import type { Identifier } from '../identity/identify.js';
import type { Identity } from '../identity/identify-types.js';
import { decideSafely } from '../policy/decide.js';
import type { Decision, Target } from '../policy/types.js';
import type { GrantStore } from '../proxy/grants.js';
import type { Resolver } from '../proxy/resolve.js';
import { pilotWould } from './pilot.js';
import type { PolicySnapshot } from './snapshot.js';
import type { Verdict } from './types.js';

export interface CheckDeps {
  identifier: Identifier;
  resolver: Resolver;
  grants: GrantStore;
  logger: Logger;
  isClientAllowed(clientIp: string): boolean;
}

export interface CheckRequest {
  id: string;
  clientIp: string;
  method: string;
  proxyAuthorization: string | undefined;
  /** The client connection, for identity's per-connection reuse (identify.ts). */
  connection?: object | undefined;
  /** The client network check, when the caller already made it. */
  clientAllowed?: boolean;
}

/** Identity only (for the Continue and self-report actions): null when the client cannot be identified. */
export async function identify(deps: CheckDeps, request: CheckRequest): Promise<Identity | null> {
  try {
    const result = await deps.identifier.identify(request);
    return result.ok ? result.identity : null;
  } catch (err) {
    deps.logger.error({ err, id: request.id }, 'identity failed');
    return null;
  }
}

export async function check(
  deps: CheckDeps,
  snapshot: PolicySnapshot,
  request: CheckRequest,
  target: Target,
  ports: readonly number[],
  now: Date,
): Promise<Verdict> {
  if (!(request.clientAllowed ?? deps.isClientAllowed(request.clientIp))) return { kind: 'refused' };
  let identity: Identity;
  try {
    const result = await deps.identifier.identify(request);
    // A failed login identifies nobody: the name it claimed goes to its own column, never the user's.
    if (!result.ok)
      return {
        kind: 'auth',
        reason: result.reason,
        claimedUser: result.claimedUser,
        ...(result.throttle ? { throttle: result.throttle } : {}),
      };
    identity = result.identity;
  } catch (err) {
    deps.logger.error({ err, id: request.id }, 'identity failed; blocking (fail closed)');
    const guest = snapshot.config.identity.guestProfile;
    const anonymous: Identity = { user: null, profile: guest, device: null, via: 'guest' };
    return {
      kind: 'block',
      identity: anonymous,
      decision: failClosed(guest, target, 'SG_IDENTITY_ERROR', causeOf(err)),
    };
  }
  if (!ports.includes(target.port)) return { kind: 'port', identity };

  const profile = snapshot.profiles.get(identity.profile);
  const decision = profile
    ? decideSafely({ target, method: request.method, user: identity.user }, profile, snapshot.lists, now)
    : failClosed(identity.profile, target, 'SG_PROFILE_UNKNOWN', `no profile named ${identity.profile}`);
  if (decision.rule.kind === 'policy-error') {
    decision.errorCode ??= 'SG_POLICY_ERROR';
    deps.logger.error(
      { id: request.id, host: target.host, code: decision.errorCode, cause: decision.error },
      'policy failed; blocking (fail closed)',
    );
  }
  const would = pilotWould(profile, decision);
  if (would === undefined && decision.action === 'block') return { kind: 'block', identity, decision };

  let continued = false;
  if (would === undefined && decision.action === 'warn') {
    const grantSite = decision.rule.entry || target.host;
    if (!deps.grants.has(grantSubject(identity, request.clientIp), grantSite, now))
      return { kind: 'warn', identity, decision, grantSite };
    continued = true;
  }
  const resolution = await deps.resolver.resolve(target);
  if (!resolution.ok) return { kind: 'unreachable', identity, decision, resolution };
  return { kind: 'allow', identity, decision, continued, resolution, ...(would ? { would } : {}) };
}

/** Who a Continue grant belongs to: the user, or for unauthenticated clients their address. */
export function grantSubject(identity: Identity, clientIp: string): string {
  return identity.user ? `user:${identity.user}` : `ip:${clientIp}`;
}

/**
 * The host a grant's site covers. A warn from a URL-prefix entry grants that entry (`host/path`); the
 * Continue is posted to the host, so the host part is what the request must be on.
 */
export function grantHost(site: string): string {
  const slash = site.indexOf('/');
  return slash < 0 ? site : site.slice(0, slash);
}

function failClosed(profile: string, target: Target, code: string, cause: string): Decision {
  return {
    action: 'block',
    profile,
    categories: [],
    rule: { kind: 'policy-error', list: 'policy', entry: '' },
    matches: [],
    flagged: false,
    alert: false,
    explanation: `Blocked: the filter could not check ${target.host} safely, so it refused the request.`,
    error: cause,
    errorCode: code,
  };
}

function causeOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}
