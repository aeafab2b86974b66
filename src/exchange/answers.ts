/**
 * Turns a verdict into the page the client sees, and the audit fields that record it. Kept apart from the
 * transports so HTTP, CONNECT and upgrade answer a given verdict the same way.
 */
import type { AuditAction } from '../audit/types.js';
import type { Decision, Target } from '../policy/types.js';
import type { CategoryLists } from '../policy/types.js';
import type { Attempt, Verdict } from './gatekeeper.js';
import { grantSubject } from './gatekeeper.js';
import { renderBlockPage } from './pages/block-page.js';
import { renderErrorPage, type ErrorStatus } from './pages/error-page.js';
import type { PageReason } from './pages/types.js';
import { renderWarnPage } from './pages/warn-page.js';
import type { PageAnswer } from './respond.js';
import { REPORT_PATH } from './self-report.js';
import { grantUntil, signGrant } from './warn-token.js';

export const CONTINUE_PATH = '/.schoolgate/continue';

export interface AnswerContext {
  timeZone: string;
  realm: string;
  lists: CategoryLists;
  tokenKey: Buffer;
  warn: { continueMinutes: number | null; schoolDayEnd: string };
  now: Date;
}

/** The answer and how the audit row records it, for every verdict that is not a forward. */
export interface Refusal {
  answer: PageAnswer;
  action: AuditAction;
  reason: string;
}

export function refusalFor(
  verdict: Exclude<Verdict, { kind: 'allow' }>,
  attempt: Attempt,
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
      return {
        action: 'auth-failed',
        reason: `auth:${verdict.reason}`,
        answer: {
          status: 407,
          headers: { 'proxy-authenticate': `Basic realm="${ctx.realm}", charset="UTF-8"` },
          body: errorBody(
            400,
            base,
            'Sign in to the school web filter with your school username and password.',
          ),
        },
      };
    case 'port':
      return blockRefusal(base, verdict.identity, null, 'port', ctx, {
        explanation: `Blocked: port ${target.port} is not allowed through the school web filter.`,
      });
    case 'block':
      return blockRefusal(base, verdict.identity, verdict.decision, pageReason(verdict.decision), ctx);
    case 'unreachable':
      if (verdict.resolution.reason === 'forbidden-address')
        return blockRefusal(base, verdict.identity, verdict.decision, 'policy', ctx, {
          reason: 'forbidden-address',
          explanation: `Blocked: ${target.host} points at an address inside the school network or the filter itself.`,
        });
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
      }),
    },
  };
}

function warnRefusal(
  base: Base,
  verdict: Extract<Verdict, { kind: 'warn' }>,
  attempt: Attempt,
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

export function auditUnavailableAnswer(base: { time: Date; timeZone: string; url?: string }): PageAnswer {
  return {
    status: 503,
    close: true,
    body: errorBody(503, { ...base, reference: null }, undefined, 'audit-unavailable'),
  };
}
