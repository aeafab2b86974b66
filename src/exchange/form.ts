/**
 * POST forms of known endpoints (the endpoint table's `forms: true`: html.duckduckgo.com/html, a
 * translator's form): the body the exchange already holds (up to 64 KB, read before anything goes
 * upstream) is read like the query, so the term is captured, SafeSearch forced in it and a translator's
 * target decided. A body that cannot be read as a urlencoded form (too large to hold, another content
 * type or charset) is ambiguous: what the engine does with it is unknown, so the request is blocked.
 */
import { decideSafely } from '../policy/decide.js';
import type { Decision, Target } from '../policy/types.js';
import { grantSubject } from './check.js';
import type { Exchange } from './exchange.js';
import { pilotWould } from './pilot.js';
import type { Verdict } from './types.js';

export type FormReading =
  { kind: 'form'; form: URLSearchParams; text: string } | { kind: 'unreadable'; why: string };

const URLENCODED = 'application/x-www-form-urlencoded';

/** The form in a fully read body (`content`), or why there is none to read. */
export function readFormBody(contentType: string | undefined, content: Buffer | undefined): FormReading {
  if (content === undefined) return { kind: 'unreadable', why: 'the form is too large to check' };
  const [type = '', ...params] = (contentType ?? '').split(';').map((p) => p.trim().toLowerCase());
  if (type !== URLENCODED) return { kind: 'unreadable', why: `a ${type || 'untyped'} body` };
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'us-ascii')
    return { kind: 'unreadable', why: `a form in ${charset}` };
  const text = content.toString('latin1');
  return { kind: 'form', form: new URLSearchParams(content.toString('utf8')), text };
}

type Allowed = Extract<Verdict, { kind: 'allow' }>;

/**
 * The verdict on the request with its form: null when the form changes nothing (still allowed, or the
 * same warn the user already continued past), an allow carrying `would` in pilot mode, else the block or
 * warn to answer with.
 */
export function formVerdict(
  ex: Exchange,
  allowed: Allowed,
  target: Target,
  reading: FormReading,
): Verdict | null {
  const identity = allowed.identity;
  if (reading.kind === 'unreadable')
    return { kind: 'block', identity, decision: unreadableForm(identity.profile, target, reading.why) };
  const profile = ex.snapshot.profiles.get(identity.profile);
  if (!profile) return null; // an allow verdict was decided on this very profile
  const now = ex.env.now();
  const decision = decideSafely(
    { target, method: ex.method, user: identity.user, form: reading.form },
    profile,
    ex.snapshot.lists,
    now,
  );
  if (decision.action === 'allow') return null;
  // Pilot mode: let through, the row says what enforce would have done.
  const would = pilotWould(profile, decision);
  if (would !== undefined) return { ...allowed, decision, would };
  if (decision.action === 'block') return { kind: 'block', identity, decision };
  const grantSite = decision.rule.entry || (decision.via?.target.host ?? target.host);
  if (ex.env.grants.has(grantSubject(identity, ex.clientIp), grantSite, now)) return null;
  return { kind: 'warn', identity, decision, grantSite };
}

function unreadableForm(profile: string, target: Target, why: string): Decision {
  return {
    action: 'block',
    profile,
    categories: [],
    rule: { kind: 'ambiguous-url', list: 'form-body', entry: why },
    matches: [],
    flagged: false,
    alert: false,
    explanation: `Blocked for profile ${profile}: a form sent to ${target.host} could not be checked (${why}), so it is blocked to be safe.`,
  };
}
