/**
 * Turns a verdict into the page the client sees, and the audit fields that record it. Kept apart from the
 * transports so HTTP, CONNECT and upgrade answer a given verdict the same way.
 */
import type { PageBranding } from '../proxy/pages/branding.js';
import type { AuditAction } from '../audit/types.js';
import type { Decision, Target } from '../policy/types.js';
import type { CategoryLists } from '../policy/types.js';
import { renderBlockPage } from '../proxy/pages/block-page.js';
import { renderErrorPage, type ErrorStatus } from '../proxy/pages/error-page.js';
import type { PageReason } from '../proxy/pages/types.js';
import { renderWarnPage } from '../proxy/pages/warn-page.js';
import type { UnblockOffer } from '../proxy/pages/types.js';
import { grantUntil, signGrant } from '../proxy/warn-token.js';
import type { UnblockRequest } from '../state/unblock-requests.js';
import { grantSubject } from './check.js';
import type { PageAnswer, Verdict } from './types.js';

/** The proxy's own actions, posted to the origin of the page they stand in for. */
export const CONTINUE_PATH = '/.schoolgate/continue';
export const REPORT_PATH = '/.schoolgate/report';
export const UNBLOCK_PATH = '/.schoolgate/unblock';
/** How long an unblock form's token is good for: long enough to write a reason, short enough to expire. */
const UNBLOCK_TOKEN_MS = 2 * 3_600_000;

/** The request a refusal answers. */
export interface Answered {
  id: string;
  startedAt: number;
  clientIp: string;
}

export interface AnswerContext {
  timeZone: string;
  realm: string;
  lists: CategoryLists;
  tokenKey: Buffer;
  warn: { continueMinutes: number | null; schoolDayEnd: string };
  now: Date;
  /** The school's name, logo and contact line on block and warn pages. */
  branding?: PageBranding;
  /** The person's last unblock request for a site (absent: the proxy takes no unblock requests). */
  requests?: { latestFor(subject: string, site: string): UnblockRequest | undefined };
}

/** The answer and how the audit row records it, for every verdict that is not a forward. */
export interface Refusal {
  answer: PageAnswer;
  action: AuditAction;
  reason: string;
  /** A failed-closed check: the short cause, for the row (never shown to the pupil). */
  note?: string;
}

export function refusalFor(
  verdict: Exclude<Verdict, { kind: 'allow' }>,
  attempt: Answered,
  target: Target,
  url: string,
  ctx: AnswerContext,
): Refusal {
  const base = {
    url,
    host: target.host,
    time: new Date(attempt.startedAt),
    timeZone: ctx.timeZone,
    reference: attempt.id,
    ...(ctx.branding ? { branding: ctx.branding } : {}),
  };
  switch (verdict.kind) {
    case 'refused':
      return {
        action: 'refused',
        reason: 'client-network',
        answer: {
          status: 403,
          close: true,
          body: renderBlockPage({
            ...base,
            categories: [],
            profile: '-',
            user: null,
            explanation: 'This device is not on a network allowed to use the school web filter.',
            reason: 'client-network',
          }),
        },
      };
    case 'auth':
      if (verdict.throttle) {
        // Too many wrong passwords from this address or for this name: no password was checked.
        const seconds = Math.max(1, Math.ceil(verdict.throttle.retryAfterMs / 1000));
        return {
          action: 'auth-failed',
          reason: `auth:throttled-${verdict.throttle.scope}`,
          answer: {
            status: 429,
            close: true,
            headers: { 'retry-after': String(seconds) },
            body: errorBody(
              400,
              base,
              `Too many wrong passwords. Wait ${seconds} second${seconds === 1 ? '' : 's'} and try again, or ask IT.`,
            ),
          },
        };
      }
      return {
        action: 'auth-failed',
        reason: `auth:${verdict.reason}`,
        answer: {
          status: 407,
          headers: { 'proxy-authenticate': `Basic realm="${ctx.realm}", charset="UTF-8"` },
          body: errorBody(
            400,
            base,
            verdict.reason === 'directory-unavailable'
              ? 'The school directory cannot be reached, so your sign-in could not be checked. Try again in a minute, or ask IT.'
              : 'Sign in to the school web filter with your school username and password.',
          ),
        },
      };
    case 'port':
      return blockRefusal(base, verdict.identity, null, 'port', ctx, {
        explanation: `Blocked: port ${target.port} is not allowed through the school web filter.`,
      });
    case 'block': {
      const refusal = blockRefusal(
        base,
        verdict.identity,
        verdict.decision,
        pageReason(verdict.decision),
        ctx,
        {},
        unblockOffer(verdict, attempt, target, base.url, ctx),
      );
      const { errorCode, error } = verdict.decision;
      // A check that threw: blocked all the same (fail closed), recorded as an error with its code and cause.
      if (verdict.decision.rule.kind !== 'policy-error') return refusal;
      return { ...refusal, action: 'error', reason: errorCode ?? 'SG_POLICY_ERROR', note: error ?? '' };
    }
    case 'unreachable':
      if (verdict.resolution.reason === 'forbidden-address')
        return blockRefusal(base, verdict.identity, verdict.decision, 'policy', ctx, {
          reason: 'forbidden-address',
          explanation: `Blocked: ${target.host} points at an address inside the school network or the filter itself.`,
        });
      if (verdict.resolution.reason === 'lookup-timeout')
        return {
          action: 'allow',
          reason: 'upstream:lookup-timeout',
          answer: {
            status: 504,
            close: false,
            body: errorBody(504, base, `The name server did not answer for ${target.host} in time.`),
          },
        };
      return {
        action: 'allow',
        reason: 'upstream:not-found',
        answer: {
          status: 502,
          close: false,
          body: errorBody(502, base, `The name ${target.host} could not be found.`),
        },
      };
    case 'warn':
      return warnRefusal(base, verdict, attempt, ctx);
  }
}

function pageReason(decision: Decision): PageReason {
  if (decision.rule.kind === 'illegal-tier') return 'illegal-tier';
  if (decision.rule.kind === 'policy-error') return 'policy-error';
  if (decision.rule.kind === 'ip-literal') return 'ip-literal';
  return 'policy';
}

type Base = { url: string; host: string; time: Date; timeZone: string; reference: string };

function categoriesFor(decision: Decision | null, lists: CategoryLists) {
  return (decision?.categories ?? []).map((name) => ({
    name,
    title: lists.categories.get(name)?.title ?? name,
  }));
}

function blockRefusal(
  base: Base,
  identity: { user: string | null; profile: string },
  decision: Decision | null,
  reason: PageReason,
  ctx: AnswerContext,
  override: { explanation?: string; reason?: string } = {},
  unblock?: UnblockOffer,
): Refusal {
  return {
    action: 'block',
    reason: override.reason ?? (decision ? decision.rule.kind : reason),
    answer: {
      status: 403,
      body: renderBlockPage({
        ...base,
        categories: categoriesFor(decision, ctx.lists),
        profile: identity.profile,
        user: identity.user,
        explanation: override.explanation ?? decision?.explanation ?? '',
        reason,
        reportAccidentUrl: REPORT_PATH,
        ...(unblock ? { unblock } : {}),
      }),
    },
  };
}

/**
 * The unblock form for a block a person can sensibly ask about: a list or default decision (not a check
 * that failed). Its token binds the person (user, or address for guests) and the blocked host, and is
 * signed for this purpose only, so another site cannot forge a request and a Continue token is no use here.
 */
function unblockOffer(
  verdict: Extract<Verdict, { kind: 'block' }>,
  attempt: Answered,
  target: Target,
  url: string,
  ctx: AnswerContext,
): UnblockOffer | undefined {
  if (!ctx.requests || verdict.decision.rule.kind === 'policy-error') return undefined;
  const subject = grantSubject(verdict.identity, attempt.clientIp);
  const site = target.host;
  const token = signGrant(
    ctx.tokenKey,
    { subject, site, expiresAt: new Date(ctx.now.getTime() + UNBLOCK_TOKEN_MS) },
    'unblock',
  );
  let last: UnblockRequest | undefined;
  try {
    last = ctx.requests.latestFor(subject, site);
  } catch {
    last = undefined; // the state database is busy: the form still shows, without the last answer
  }
  const offer: UnblockOffer = { action: UNBLOCK_PATH, fields: { token, site, ref: attempt.id, url } };
  if (last && last.status !== 'approved')
    offer.last = { status: last.status, at: new Date(last.decidedAt ?? last.createdAt), note: last.note };
  return offer;
}

function warnRefusal(
  base: Base,
  verdict: Extract<Verdict, { kind: 'warn' }>,
  attempt: Answered,
  ctx: AnswerContext,
): Refusal {
  const until = grantUntil(ctx.now, ctx.timeZone, {
    ...(ctx.warn.continueMinutes ? { minutes: ctx.warn.continueMinutes } : {}),
    schoolDayEnd: ctx.warn.schoolDayEnd,
  });
  const token = signGrant(ctx.tokenKey, {
    subject: grantSubject(verdict.identity, attempt.clientIp),
    site: verdict.grantSite,
    expiresAt: until,
  });
  return {
    action: 'warn',
    reason: verdict.decision.rule.kind,
    answer: {
      status: 403,
      body: renderWarnPage({
        ...base,
        categories: categoriesFor(verdict.decision, ctx.lists),
        profile: verdict.identity.profile,
        user: verdict.identity.user,
        explanation: verdict.decision.explanation,
        // Relative: the page stands in for the warned site, so the form posts back through the proxy
        // to that same origin (the CSP allows form-action 'self' only).
        continueAction: CONTINUE_PATH,
        continueFields: { token, site: verdict.grantSite, url: base.url, ref: attempt.id },
        grantUntil: until,
        site: verdict.grantSite,
      }),
    },
  };
}

export function errorBody(
  status: ErrorStatus,
  base: { url?: string; host?: string; time: Date; timeZone: string; reference?: string | null },
  detail?: string,
  reason?: PageReason,
): string {
  return renderErrorPage({ status, ...base, ...(detail ? { detail } : {}), ...(reason ? { reason } : {}) });
}

/** The row could not be committed (SQLite or PostgreSQL): the page names the stable code IT looks up. */
export function auditUnavailableAnswer(base: { time: Date; timeZone: string; url?: string }): PageAnswer {
  return {
    status: 503,
    close: true,
    body: errorBody(503, { ...base, reference: 'SG_AUDIT_UNAVAILABLE' }, undefined, 'audit-unavailable'),
  };
}
