/**
 * The proxy's own actions, posted to the origin of the page they stand in for:
 * - Continue (`<warned origin>/.schoolgate/continue`): a valid signed token for this subject and site grants
 *   the site until its expiry; the Continue is its own row, and the browser goes back where it was going.
 * - "I reached this by accident" (`<blocked origin>/.schoolgate/report`): the report is its own row (action
 *   'self-report'), linked to the block by reference, so the record safeguards the pupil.
 */
import type { Target } from '../policy/types.js';
import { formatTime, html, renderPage } from '../proxy/pages/html.js';
import { verifyGrant } from '../proxy/warn-token.js';
import { errorBody } from './answers.js';
import { grantHost, grantSubject } from './check.js';
import type { Exchange } from './exchange.js';
import type { PageAnswer } from './types.js';

const REFERENCE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function continueAction(
  ex: Exchange,
  target: Target,
  form: URLSearchParams | null,
): Promise<PageAnswer> {
  const fail = async (reason: string): Promise<PageAnswer> => {
    await ex.commit(ex.row(target, null, { action: 'reject', reason, status: 400 }));
    const page = { host: target.host, ...ex.pageTime(), reference: ex.id };
    const body = errorBody(400, page, 'The permission to continue was not valid. Go back and try again.');
    return { status: 400, close: true, body };
  };
  if (ex.method !== 'POST') return fail('continue:method');
  if (!form) return fail('continue:form');
  const site = form.get('site') ?? '';
  // The grant may only cover the host the request went to (or a parent domain of it).
  const host = grantHost(site);
  if (!(target.host === host || target.host.endsWith(`.${host}`))) return fail('continue:wrong-site');

  const identity = await ex.identify();
  if (!identity) return fail('continue:identity');
  const subject = grantSubject(identity, ex.clientIp);
  const now = ex.env.now();
  const check = verifyGrant(ex.env.tokenKey, form.get('token') ?? '', { subject, site, now });
  if (!check.ok) return fail(`continue:${check.reason}`);

  const row = ex.row(target, { identity }, { action: 'continue', reason: continueReason(form), status: 303 });
  if (!(await ex.commit(row))) return { ...ex.unavailable(), close: true };
  ex.env.grants.grant(subject, site, check.expiresAt);
  return {
    status: 303,
    body: '',
    headers: { location: backTo(form.get('url'), target, host), 'cache-control': 'no-store' },
  };
}

/** The warn page's reference, kept only if it is one (free text never reaches the row). */
function continueReason(form: URLSearchParams): string {
  const ref = form.get('ref') ?? '';
  return REFERENCE.test(ref) ? `continue:${ref}` : 'continue:';
}

/** Back to the address the user asked for, only if it is on the granted host (no open redirect). */
function backTo(url: string | null, target: Target, host: string): string {
  try {
    if (url) {
      const parsed = new URL(url);
      const name = parsed.hostname.toLowerCase();
      if (
        (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
        (name === host || name.endsWith(`.${host}`))
      )
        return parsed.href;
    }
  } catch {
    // fall through to the site's root
  }
  return `${target.scheme}://${target.host}/`;
}

export async function selfReportAction(
  ex: Exchange,
  target: Target,
  form: URLSearchParams | null,
): Promise<PageAnswer> {
  const page = { host: target.host, ...ex.pageTime(), reference: ex.id };
  const reference = form?.get('reference') ?? '';
  if (!REFERENCE.test(reference)) {
    await ex.commit(ex.row(target, null, { action: 'reject', reason: 'self-report:form', status: 400 }));
    return { status: 400, close: true, body: errorBody(400, page, 'The report could not be read.') };
  }
  const identity = await ex.identify();
  const row = ex.row(target, identity ? { identity } : null, {
    action: 'self-report',
    reason: `self-report:${reference}`,
    status: 200,
  });
  row.note = (form?.get('comment') ?? '').slice(0, 1000) || null;
  if (!(await ex.commit(row)))
    return { status: 503, close: true, body: errorBody(503, page, undefined, 'audit-unavailable') };
  return {
    status: 200,
    body: renderPage({
      title: 'Report recorded',
      tone: 'warn',
      heading: 'Thank you — your report is recorded',
      lead: 'You did the right thing. Close this page now and tell a teacher.',
      body: html`<dl class="details">
        <dt>Address</dt>
        <dd><code>${target.host}</code></dd>
        <dt>Date and time</dt>
        <dd>${formatTime(page.time, page.timeZone)}</dd>
        <dt>Blocked page reference</dt>
        <dd><span class="ref">${reference}</span></dd>
        <dt>Report reference</dt>
        <dd><span class="ref">${ex.id}</span></dd>
      </dl>`,
    }),
  };
}
