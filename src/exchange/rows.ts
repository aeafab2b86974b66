/**
 * The audit row of an exchange, built in one place from what the exchange knows: the request, the target
 * as far as it parsed, and who and what decided.
 */
import type { AuditAction, AuditEvent } from '../audit/types.js';
import type { Identity } from '../identity/identify-types.js';
import type { Decision, Target } from '../policy/types.js';

/** Who and what decided, as far as known: a Verdict fits, so does a bare identity. */
export type Decided = {
  kind?: string;
  identity?: Identity;
  decision?: Decision;
  /** A failed login's claimed name: recorded as claimed_user, never as the user. */
  claimedUser?: string | null;
} | null;

export interface RowRequest {
  id: string;
  startedAt: number;
  clientIp: string;
  method: string;
}

export function rowFor(
  request: RowRequest,
  target: Partial<Target> & { host: string },
  decided: Decided,
  fields: { action: AuditAction; reason: string; status: number | null; kind: AuditEvent['kind'] },
): AuditEvent {
  const identity = decided?.identity ?? null;
  const decision = decided?.decision ?? null;
  return {
    id: request.id,
    time: request.startedAt,
    user: identity?.user ?? null,
    profile: identity?.profile ?? null,
    clientIp: request.clientIp,
    device: identity?.device ?? null,
    method: request.method,
    scheme: target.scheme ?? 'http',
    host: target.host,
    port: target.port ?? null,
    path: target.path ?? null,
    categories: decision?.categories ?? [],
    action: fields.action,
    rule: decision ? ruleText(decision) : null,
    reason: fields.reason,
    flagged: decision?.flagged ?? false,
    status: fields.status,
    kind: fields.kind,
    ...(!identity && decided?.claimedUser ? { claimedUser: decided.claimedUser } : {}),
    ...(identity?.site ? { site: identity.site } : {}),
  };
}

export function ruleText(decision: Decision): string {
  const { kind, list, entry } = decision.rule;
  return [kind, list, entry].filter(Boolean).join(':');
}

/** For rows of requests that did not parse: the raw authority, bounded, for investigators to read. */
export function safeHostOf(rawUrl: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(rawUrl);
  return truncate(m ? m[1]! : '', 255);
}

export function truncate(s: string, max = 2048): string {
  return s.length > max ? s.slice(0, max) : s;
}
