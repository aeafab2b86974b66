/**
 * "Ask IT to unblock it" (`<blocked origin>/.schoolgate/unblock`, POST from the block page). The form's
 * token (answers.ts unblockOffer) is signed for this purpose and bound to the person and the blocked host,
 * so a page on another site cannot send one in a pupil's name. The reason is one bounded piece of text;
 * the request is stored in the state database (limits in unblock-requests.ts) and recorded as an
 * `unblock-request` row whose note is the reason; the page says it was sent.
 */
import type { Target } from '../policy/types.js';
import { formatTime, html, renderPage } from '../proxy/pages/html.js';
import { UNBLOCK_REASON_MAX } from '../proxy/pages/block-page.js';
import { verifyGrant } from '../proxy/warn-token.js';
import { errorBody } from './answers.js';
import { grantSubject } from './check.js';
import type { Exchange } from './exchange.js';
import type { PageAnswer } from './types.js';

const REFERENCE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_URL = 2000;

export async function unblockAction(
  ex: Exchange,
  target: Target,
  form: URLSearchParams | null,
): Promise<PageAnswer> {
  const page = { host: target.host, ...ex.pageTime(), reference: ex.id };
  const fail = async (reason: string, status: 400 | 409 | 429 | 503, detail: string): Promise<PageAnswer> => {
    await ex.commit(ex.row(target, null, { action: 'reject', reason, status }));
    return { status, close: true, body: errorBody(400, page, detail) };
  };
  const store = ex.env.requests;
  if (!store) return fail('unblock:unavailable', 400, 'This filter does not take unblock requests.');
  if (ex.method !== 'POST' || !form)
    return fail('unblock:form', 400, 'The request could not be read. Go back and try again.');
  const site = form.get('site') ?? '';
  if (site !== target.host) return fail('unblock:wrong-site', 400, 'The request was for another site.');
  const identity = await ex.identify();
  if (!identity) return fail('unblock:identity', 400, 'The filter could not tell who you are.');
  const subject = grantSubject(identity, ex.clientIp);
  const now = ex.env.now();
  const check = verifyGrant(ex.env.tokenKey, form.get('token') ?? '', { subject, site, now }, 'unblock');
  if (!check.ok)
    return fail(
      `unblock:${check.reason}`,
      400,
      'The form was not valid. Go back, reload the page and try again.',
    );
  // One line of text: control characters become spaces, so the note cannot forge lines in a report.
  const reason = (form.get('reason') ?? '').replace(/\p{Cc}+/gu, ' ').trim();
  if (reason === '' || reason.length > UNBLOCK_REASON_MAX)
    return fail(
      'unblock:reason',
      400,
      `Say in at most ${UNBLOCK_REASON_MAX} characters why you need this site.`,
    );
  const ref = form.get('ref') ?? '';
  let outcome: ReturnType<typeof store.submit>;
  try {
    outcome = store.submit(
      {
        subject,
        user: identity.user,
        clientIp: ex.clientIp,
        profile: identity.profile,
        site,
        url: pageUrl(form.get('url'), target),
        reason,
        blockRef: REFERENCE.test(ref) ? ref : '',
      },
      now.getTime(),
    );
  } catch (err) {
    ex.env.logger.error({ err, id: ex.id }, 'unblock request not stored');
    return fail('unblock:store', 503, 'The request could not be stored. Try again in a few minutes.');
  }
  if (!outcome.ok && outcome.reason === 'too-many')
    return fail(
      'unblock:too-many',
      429,
      'You have asked for several sites already. Wait for IT to answer them.',
    );
  if (!outcome.ok)
    return fail(
      'unblock:already-waiting',
      409,
      'You have already asked for this site. IT have not answered yet.',
    );
  const row = ex.row(
    target,
    { identity },
    {
      action: 'unblock-request',
      reason: `unblock-request:${outcome.request.id}`,
      status: 200,
    },
  );
  row.note = reason;
  if (!(await ex.commit(row)))
    return { status: 503, close: true, body: errorBody(503, page, undefined, 'audit-unavailable') };
  return {
    status: 200,
    body: renderPage({
      title: 'Request sent',
      tone: 'warn',
      heading: 'Your request has been sent to IT',
      lead: 'IT will look at it. Visit the page again later: it opens if they allow it, or says why not.',
      body: html`<dl class="details">
        <dt>Site</dt>
        <dd><code>${site}</code></dd>
        <dt>Your reason</dt>
        <dd>${reason}</dd>
        <dt>Date and time</dt>
        <dd>${formatTime(page.time, page.timeZone)}</dd>
        <dt>Request number</dt>
        <dd><span class="ref">${String(outcome.request.id)}</span></dd>
      </dl>`,
    }),
  };
}

/** The blocked address as the page had it, only when it is on this host (else the site's root). */
function pageUrl(url: string | null, target: Target): string {
  try {
    if (url) {
      const parsed = new URL(url);
      if (parsed.hostname.toLowerCase() === target.host && /^https?:$/.test(parsed.protocol))
        return parsed.href.slice(0, MAX_URL);
    }
  } catch {
    // fall through
  }
  return `${target.scheme}://${target.host}/`;
}
